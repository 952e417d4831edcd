//! The newest-first list of recent pings, with gap and reset marks between them.

use std::collections::VecDeque;

use yew::prelude::*;

use crate::{
    components::{GapMark, PingItem, ResetMark},
    state::{Entry, EntryKind},
};

/// Properties of [`PingList`].
#[derive(Properties, PartialEq)]
pub struct PingListProps {
    /// The rows to show, newest first.
    pub entries: VecDeque<Entry>,
}

/// The list of recent rows, or a placeholder until the first ping arrives.
#[component]
pub fn PingList(props: &PingListProps) -> Html {
    if props.entries.is_empty() {
        return html! { <p id="pings" class="pings pings--empty">{ "Waiting for the first ping…" }</p> };
    }
    let row = |entry: &Entry| match entry.kind {
        EntryKind::Ping(ping) => html! { <PingItem key={entry.key} {ping} /> },
        EntryKind::Gap { missed } => html! { <GapMark key={entry.key} {missed} /> },
        EntryKind::Reset => html! { <ResetMark key={entry.key} /> },
    };
    html! {
        <ol id="pings" class="pings" aria-label="Recent pings, newest first">
            { for props.entries.iter().map(row) }
        </ol>
    }
}
