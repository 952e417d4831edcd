//! The newest-first list of recent pings, with gap and reset marks between them.

use std::collections::VecDeque;

use yew::prelude::*;

use crate::{
    components::{gap_mark, ping_item, reset_mark},
    state::{Entry, EntryKind},
};

/// The list of recent rows (`entries`, newest first), or a placeholder until the first ping
/// arrives. Rows are keyed ([`ping_item`]): a new ping adds one row to the page and leaves the
/// others as they are.
pub fn ping_list(entries: &VecDeque<Entry>) -> Html {
    if entries.is_empty() {
        return html! { <p id="pings" class="pings pings--empty">{ "Waiting for the first ping…" }</p> };
    }
    let row = |entry: &Entry| match entry.kind {
        EntryKind::Ping { ping, latency_us } => ping_item(entry.key, ping, latency_us),
        EntryKind::Gap { missed } => gap_mark(entry.key, missed),
        EntryKind::Reset => reset_mark(entry.key),
    };
    html! {
        <ol id="pings" class="pings" aria-label="Recent pings, newest first">
            { for entries.iter().map(row) }
        </ol>
    }
}
