//! The connection status, announced politely to screen readers.

use yew::prelude::*;

use crate::state::Status;

/// Properties of [`StatusBadge`].
#[derive(Properties, PartialEq)]
pub struct StatusBadgeProps {
    /// The status to show.
    pub status: Status,
}

/// A badge saying connecting, live, reconnecting (with the countdown to the next attempt, if
/// one is scheduled) or offline.
///
/// Only the status word is in the live region: a countdown announced every second would drown
/// everything else a screen reader has to say.
#[component]
pub fn StatusBadge(props: &StatusBadgeProps) -> Html {
    let (name, retry_in) = match props.status {
        Status::Connecting => ("connecting", None),
        Status::Live => ("live", None),
        Status::Reconnecting { retry_in_secs } => ("reconnecting", retry_in_secs),
        Status::Offline => ("offline", None),
    };
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
