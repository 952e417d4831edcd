//! A time as the person reading the page counts it.

use chrono::{DateTime, Utc};
use yew::prelude::*;

/// A `<time>` showing `time` as `HH:MM:SS` in the browser's time zone, with the exact UTC time in
/// its `datetime` (`2026-11-25T09:08:07.123Z`). The browser's own `Date` does both, which saves
/// the page chrono's time zone and formatting code.
pub fn local_time(time: DateTime<Utc>) -> Html {
    let date = js_sys::Date::new(&(time.timestamp_millis() as f64).into());
    let clock = format!(
        "{:02}:{:02}:{:02}",
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    );
    html! {
        <time datetime={String::from(date.to_iso_string())}>{ clock }</time>
    }
}
