//! One received ping.

use shared::Ping;
use yew::prelude::*;

use crate::components::local_time;

/// A list row, keyed by `key`: the ping's count, how late it arrived (`latency_ms`, see
/// [`crate::latency`]), and the local time it was sent.
pub fn ping_item(key: u64, ping: Ping, latency_ms: u64) -> Html {
    let Ping { count, time } = ping;
    html! {
        <li {key} class="ping" data-count={count.to_string()}>
            <span class="ping__count">{ format!("#{count}") }</span>
            <span class="ping__latency" data-latency={latency_ms.to_string()}>
                { format!("{latency_ms} ms") }
            </span>
            { local_time(time) }
        </li>
    }
}
