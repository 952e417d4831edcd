//! One notice from the operator.

use shared::{Level, Notice};
use yew::prelude::*;

use crate::components::local_time;

/// The notice's level as its JSON spells it: its `data-level`, which the style sheet styles it
/// by.
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::Info => "info",
        Level::Warning => "warning",
        Level::Critical => "critical",
    }
}

/// A notice, keyed by `key`: its text, styled by its level (which the style sheet also writes
/// before it, from `data-level`), the time the server accepted it, and a button that calls
/// `on_dismiss`.
pub fn notice_item(key: u64, notice: &Notice, on_dismiss: Callback<MouseEvent>) -> Html {
    let level = level_name(notice.level);
    html! {
        <li {key} class="notice" data-level={level}>
            <p class="notice__text">{ &notice.text }</p>
            { local_time(notice.time) }
            <button class="notice__dismiss" type="button" aria-label="Dismiss" onclick={on_dismiss}>
                { "×" }
            </button>
        </li>
    }
}
