//! The mark where event ids jumped.

use yew::prelude::*;

/// Properties of [`GapMark`].
#[derive(Properties, PartialEq)]
pub struct GapMarkProps {
    /// How many events of the stream never arrived.
    pub missed: u64,
}

/// A list row saying how many events of the stream are missing between its neighbours.
#[component]
pub fn GapMark(props: &GapMarkProps) -> Html {
    let missed = props.missed;
    html! {
        <li class="mark mark--gap" data-gap={missed.to_string()}>{ format!("missed {missed}") }</li>
    }
}
