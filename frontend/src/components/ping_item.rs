//! One received ping.

use chrono::{Local, SecondsFormat, Timelike};
use shared::Ping;
use yew::prelude::*;

/// Properties of [`PingItem`].
#[derive(Properties, PartialEq)]
pub struct PingItemProps {
    /// The ping to show.
    pub ping: Ping,
}

/// A list row: the ping's count and the local time it was sent, `HH:MM:SS`.
#[component]
pub fn PingItem(props: &PingItemProps) -> Html {
    let Ping { count, time } = props.ping;
    let local = time.with_timezone(&Local);
    let clock = format!(
        "{:02}:{:02}:{:02}",
        local.hour(),
        local.minute(),
        local.second()
    );
    html! {
        <li class="ping" data-count={count.to_string()}>
            <span class="ping__count">{ format!("#{count}") }</span>
            <time datetime={time.to_rfc3339_opts(SecondsFormat::Millis, true)}>{ clock }</time>
        </li>
    }
}
