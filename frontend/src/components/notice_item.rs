//! One notice from the operator.

use shared::Level;
use yew::prelude::*;

use crate::{components::local_time, state::ShownNotice};

/// The notice's level as its JSON spells it: its `data-level`, which the style sheet styles it
/// by.
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::Info => "info",
        Level::Warning => "warning",
        Level::Critical => "critical",
    }
}

/// A notice, keyed by its key: its text (after its topic, if `with_topic`, which the style sheet
/// writes from `data-topic`), styled by its level (which the style sheet also writes before it,
/// from `data-level`), the time the server accepted it, and a button that calls `on_dismiss`.
pub fn notice_item(
    shown: &ShownNotice,
    with_topic: bool,
    on_dismiss: Callback<MouseEvent>,
) -> Html {
    let ShownNotice {
        key, notice, topic, ..
    } = shown;
    let topic = topic
        .as_ref()
        .filter(|_| with_topic)
        .map(|topic| topic.as_str().to_owned());
    html! {
        <li key={*key} class="notice" data-level={level_name(notice.level)}>
            <p class="notice__text" data-topic={topic}>{ &notice.text }</p>
            { local_time(notice.time) }
            <button class="notice__dismiss" type="button" aria-label="Dismiss" onclick={on_dismiss}>
                { "×" }
            </button>
        </li>
    }
}
