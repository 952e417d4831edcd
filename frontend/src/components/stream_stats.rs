//! The counters under the header.

use yew::prelude::*;

/// Properties of [`StreamStats`].
#[derive(Properties, PartialEq)]
pub struct StreamStatsProps {
    /// Pings received since the page loaded.
    pub received: u64,
    /// Events whose data did not decode; shown only when there are some.
    pub malformed: u64,
}

/// How many pings arrived, and how many malformed events were ignored, if any.
#[component]
pub fn StreamStats(props: &StreamStatsProps) -> Html {
    let &StreamStatsProps {
        received,
        malformed,
    } = props;
    html! {
        <p class="stats">
            <span id="received" data-received={received.to_string()}>
                <strong>{ received }</strong>
                { if received == 1 { " ping received" } else { " pings received" } }
            </span>
            if malformed > 0 {
                <span id="malformed" class="stats__malformed" data-malformed={malformed.to_string()}>
                    <strong>{ malformed }</strong>
                    { if malformed == 1 { " malformed event ignored" } else { " malformed events ignored" } }
                </span>
            }
        </p>
    }
}
