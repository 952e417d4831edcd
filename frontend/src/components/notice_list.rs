//! The operator's notices, newest first, and the live region that announces critical ones.

use std::collections::VecDeque;

use yew::prelude::*;

use crate::{
    components::notice_item,
    state::{NoticeList, ShownNotice},
};

/// The notices, each dismissible (`on_dismiss` is called with its key), and an assertive live
/// region, always in the page (a region added together with its text is not announced), which
/// says `alert`: the newest critical notice, dismissed or not. Its text is keyed by the notice,
/// so a second critical notice with the same words is announced too.
///
/// A view function, not a component: it renders five rows at most, and a component costs the
/// page about a kilobyte.
pub fn notice_list(
    notices: &VecDeque<ShownNotice>,
    alert: Option<&ShownNotice>,
    on_dismiss: &Callback<u64>,
) -> Html {
    html! {
        <>
            <p id="alert" class="visually-hidden" role="alert" aria-live="assertive">
                if let Some(alert) = alert {
                    <span key={alert.key}>{ &alert.notice.text }</span>
                }
            </p>
            if notices.iter().any(|shown| shown.list == NoticeList::Page) {
                <ul id="notices" aria-label="Notices">
                    { notice_items(notices, NoticeList::Page, on_dismiss) }
                </ul>
            }
        </>
    }
}

/// The rows ([`notice_item`]) of the notices of `list` (shown with their topics, but for the
/// page's own): the one loop that lists notices.
pub fn notice_items(
    notices: &VecDeque<ShownNotice>,
    list: NoticeList,
    on_dismiss: &Callback<u64>,
) -> Html {
    let with_topic = list != NoticeList::Page;
    let item = |shown: &ShownNotice| {
        let key = shown.key;
        (shown.list == list)
            .then(|| notice_item(shown, with_topic, on_dismiss.reform(move |_| key)))
    };
    notices.iter().filter_map(item).collect()
}
