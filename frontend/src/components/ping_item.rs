//! One received ping.

use shared::Ping;
use yew::prelude::*;

use crate::components::local_time;

/// Properties of [`PingItem`].
#[derive(Properties, PartialEq)]
pub struct PingItemProps {
    /// The ping to show.
    pub ping: Ping,
    /// How late it arrived, in milliseconds (see [`crate::latency`]).
    pub latency_ms: u64,
}

/// A list row: the ping's count, how late it arrived, and the local time it was sent.
#[component]
pub fn PingItem(props: &PingItemProps) -> Html {
    let PingItemProps {
        ping: Ping { count, time },
        latency_ms,
    } = *props;
    html! {
        <li class="ping" data-count={count.to_string()}>
            <span class="ping__count">{ format!("#{count}") }</span>
            <span class="ping__latency" data-latency={latency_ms.to_string()}>
                { format!("{latency_ms} ms") }
            </span>
            { local_time(time) }
        </li>
    }
}
