//! A time as the person reading the page counts it.

use chrono::{DateTime, Local, SecondsFormat, Timelike, Utc};
use yew::prelude::*;

/// Properties of [`LocalTime`].
#[derive(Properties, PartialEq)]
pub struct LocalTimeProps {
    /// The time to show.
    pub time: DateTime<Utc>,
}

/// A `<time>` showing `HH:MM:SS` in the browser's time zone, with the exact UTC time in its
/// `datetime`.
#[component]
pub fn LocalTime(props: &LocalTimeProps) -> Html {
    let local = props.time.with_timezone(&Local);
    let clock = format!(
        "{:02}:{:02}:{:02}",
        local.hour(),
        local.minute(),
        local.second()
    );
    html! {
        <time datetime={props.time.to_rfc3339_opts(SecondsFormat::Millis, true)}>{ clock }</time>
    }
}
