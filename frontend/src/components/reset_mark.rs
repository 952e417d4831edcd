//! The mark where the server restarted.

use yew::prelude::*;

/// A list row, keyed by `key`, saying the server restarted (a new epoch), so counts start over
/// after it.
pub fn reset_mark(key: u64) -> Html {
    html! {
        <li {key} class="mark mark--reset" data-reset="">{ "server restarted: counting starts over" }</li>
    }
}
