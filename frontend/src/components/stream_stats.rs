//! The counters under the header.

use yew::prelude::*;

/// How many pings arrived (`received`), and how many malformed events were ignored, if any.
pub fn stream_stats(received: u64, malformed: u64) -> Html {
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
