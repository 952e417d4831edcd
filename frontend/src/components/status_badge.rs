//! The connection's state, announced politely to screen readers.

use yew::prelude::*;

use crate::stream::Connection;

/// Properties of [`StatusBadge`].
#[derive(Properties, PartialEq)]
pub struct StatusBadgeProps {
    /// Where the connection stands.
    pub connection: Connection,
    /// Whether the browser believes it has a network.
    pub online: bool,
    /// Whole seconds until the next attempt, while one is waited for.
    #[prop_or_default]
    pub retry_in_secs: Option<u32>,
}

/// A badge saying connecting, live, stalled, reconnecting (with the countdown to the next
/// attempt, if one is waited for), closed, or offline (no network, and the stream is not open: a
/// server on localhost still answers an offline browser).
///
/// Only the status word is in the live region: a countdown announced every second would drown
/// everything else a screen reader has to say.
#[component]
pub fn StatusBadge(props: &StatusBadgeProps) -> Html {
    let name = match props.connection {
        Connection::Live => "live",
        _ if !props.online => "offline",
        Connection::Connecting => "connecting",
        Connection::Stalled => "stalled",
        Connection::Reconnecting { .. } => "reconnecting",
        Connection::Closed => "closed",
    };
    let retry_in = props.retry_in_secs.filter(|_| name == "reconnecting");
    html! {
        <p id="status" class={classes!("badge", format!("badge--{name}"))} data-status={name}>
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
