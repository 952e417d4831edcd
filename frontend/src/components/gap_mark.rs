//! The mark where event ids jumped.

use yew::prelude::*;

/// A list row, keyed by `key`, saying how many events of the stream (`missed`) are missing
/// between its neighbours.
pub fn gap_mark(key: u64, missed: u64) -> Html {
    html! {
        <li {key} class="mark mark--gap" data-gap={missed.to_string()}>{ format!("missed {missed}") }</li>
    }
}
