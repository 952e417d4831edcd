//! The connection's state, announced politely to screen readers.

use yew::prelude::*;

use crate::stream::StreamStatus;

/// A badge saying connecting, live, stalled, reconnecting (with the countdown to the next
/// attempt, if one is waited for), closed, or offline (no network, and the stream is not open: a
/// server on localhost still answers an offline browser).
///
/// Only the status word is in the live region: a countdown announced every second would drown
/// everything else a screen reader has to say.
pub fn status_badge(status: &StreamStatus) -> Html {
    let name = status.name();
    let retry_in = status.retry_in_secs.filter(|_| name == "reconnecting");
    html! {
        <p id="status" class="badge" data-status={name}>
            <span class="badge__dot" aria-hidden="true"></span>
            <span role="status" aria-live="polite">{ name }</span>
            if let Some(secs) = retry_in {
                <span class="badge__retry" data-retry-in={secs.to_string()}>
                    { format!("next try in {secs} s") }
                </span>
            }
        </p>
    }
}
