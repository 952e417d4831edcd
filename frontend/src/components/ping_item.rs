//! One received ping.

use shared::Ping;
use yew::prelude::*;

use crate::{components::local_time, latency::ms_text};

/// A list row, keyed by `key`: the ping's count, how late it arrived (`latency_us`, see
/// [`crate::latency`]; `None` for a ping replayed from history, which says so instead), and the
/// local time it was sent.
pub fn ping_item(key: u64, ping: Ping, latency_us: Option<u64>) -> Html {
    let Ping { count, time } = ping;
    let shown = latency_us.map_or_else(|| "from history".to_owned(), ms_text);
    html! {
        <li {key} class="ping" data-count={count.to_string()}>
            <span class="ping__count">{ format!("#{count}") }</span>
            <span class="ping__latency" data-latency-us={latency_us.map(|us| us.to_string())}>
                { shown }
            </span>
            { local_time(time) }
        </li>
    }
}
