//! The mark where the server restarted.

use yew::prelude::*;

/// A list row saying the server restarted (a new epoch), so counts start over after it.
#[component]
pub fn ResetMark() -> Html {
    html! {
        <li class="mark mark--reset" data-reset="">{ "server restarted: counting starts over" }</li>
    }
}
