//! A time as the person reading the page counts it.

use chrono::{DateTime, Local, SecondsFormat, Timelike, Utc};
use yew::prelude::*;

/// A `<time>` showing `time` as `HH:MM:SS` in the browser's time zone, with the exact UTC time in
/// its `datetime`. A view function, not a component: it has no state of its own to keep, and a
/// component costs the page about a kilobyte.
pub fn local_time(time: DateTime<Utc>) -> Html {
    let local = time.with_timezone(&Local);
    let clock = format!(
        "{:02}:{:02}:{:02}",
        local.hour(),
        local.minute(),
        local.second()
    );
    html! {
        <time datetime={time.to_rfc3339_opts(SecondsFormat::Millis, true)}>{ clock }</time>
    }
}
