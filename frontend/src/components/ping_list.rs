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

/// The list of recent rows, or a placeholder until the first ping arrives. Rows are keyed: a new
/// ping adds one row to the page and leaves the others as they are.
#[component]
pub fn PingList(props: &PingListProps) -> Html {
    if props.entries.is_empty() {
        return html! { <p id="pings" class="pings pings--empty">{ "Waiting for the first ping…" }</p> };
    }
    let row = |entry: &Entry| match entry.kind {
        EntryKind::Ping { ping, latency_ms } => {
            html! { <PingItem key={entry.key} {ping} {latency_ms} /> }
        }
        EntryKind::Gap { missed } => html! { <GapMark key={entry.key} {missed} /> },
        EntryKind::Reset => html! { <ResetMark key={entry.key} /> },
    };
    html! {
        <ol id="pings" class="pings" aria-label="Recent pings, newest first">
            { for props.entries.iter().map(row) }
        </ol>
    }
}
