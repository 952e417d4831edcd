//! The mark where the stream started over.

use yew::prelude::*;

/// A list row, keyed by `key`, saying the stream started over (the server restarted, or
/// remembered too little to resume it exactly): events may be missing here, and counts may start
/// over after it.
pub fn reset_mark(key: u64) -> Html {
    html! {
        <li {key} class="mark mark--reset" data-reset="">{ "stream restarted: events may be missing" }</li>
    }
}
