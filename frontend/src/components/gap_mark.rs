//! The mark where counts jumped.

use yew::prelude::*;

/// Properties of [`GapMark`].
#[derive(Properties, PartialEq)]
pub struct GapMarkProps {
    /// How many pings never arrived.
    pub missed: u64,
}

/// A list row saying how many pings are missing between its neighbours.
#[component]
pub fn GapMark(props: &GapMarkProps) -> Html {
    let missed = props.missed;
    html! {
        <li class="mark mark--gap" data-gap={missed.to_string()}>{ format!("missed {missed}") }</li>
    }
}
