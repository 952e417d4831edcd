//! The operator's notices, newest first, and the live region that announces critical ones.

use std::collections::VecDeque;

use yew::prelude::*;

use crate::{components::NoticeItem, state::ShownNotice};

/// Properties of [`NoticeList`].
#[derive(Properties, PartialEq)]
pub struct NoticeListProps {
    /// The notices to show, newest first.
    pub notices: VecDeque<ShownNotice>,
    /// The newest critical notice, dismissed or not: what the live region says.
    #[prop_or_default]
    pub alert: Option<ShownNotice>,
    /// The person dismissed the notice with this key.
    pub on_dismiss: Callback<u64>,
}

/// The notices, each dismissible, and an assertive live region, always in the page (a region
/// added together with its text is not announced), which says the newest critical notice. Its
/// text is keyed by the notice, so a second critical notice with the same words is announced too.
#[component]
pub fn NoticeList(props: &NoticeListProps) -> Html {
    let item = |shown: &ShownNotice| {
        let key = shown.key;
        html! {
            <NoticeItem {key} notice={shown.notice.clone()} on_dismiss={props.on_dismiss.reform(move |()| key)} />
        }
    };
    html! {
        <section class="notices" aria-label="Notices">
            <p id="alert" class="visually-hidden" role="alert" aria-live="assertive">
                if let Some(alert) = &props.alert {
                    <span key={alert.key}>{ &alert.notice.text }</span>
                }
            </p>
            if !props.notices.is_empty() {
                <ul id="notices">{ for props.notices.iter().map(item) }</ul>
            }
        </section>
    }
}
