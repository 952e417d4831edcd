//! One notice from the operator.

use shared::{Level, Notice};
use yew::prelude::*;

use crate::components::LocalTime;

/// Properties of [`NoticeItem`].
#[derive(Properties, PartialEq)]
pub struct NoticeItemProps {
    /// The notice to show.
    pub notice: Notice,
    /// The person dismissed it.
    pub on_dismiss: Callback<()>,
}

/// The notice's level as its JSON spells it, which names its style too.
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::Info => "info",
        Level::Warning => "warning",
        Level::Critical => "critical",
    }
}

/// A notice: its text, styled by its level, the time the server accepted it, and a button that
/// dismisses it.
#[component]
pub fn NoticeItem(props: &NoticeItemProps) -> Html {
    let Notice { text, level, time } = &props.notice;
    let level = level_name(*level);
    let on_dismiss = props.on_dismiss.reform(|_: MouseEvent| ());
    html! {
        <li class={classes!("notice", format!("notice--{level}"))} data-level={level}>
            <span class="notice__level">{ level }</span>
            <p class="notice__text">{ text }</p>
            <LocalTime time={*time} />
            <button class="notice__dismiss" type="button" aria-label="Dismiss" onclick={on_dismiss}>
                { "×" }
            </button>
        </li>
    }
}
