//! The notices on the topics the page follows.

use std::collections::VecDeque;

use yew::prelude::*;

use crate::{
    components::notice_items,
    state::{NoticeList, ShownNotice},
};

/// The notices of the followed topics' stream (those of `notices` that came on it, newest
/// first), each with its topic and dismissible as the page's other notices are (`on_dismiss` is
/// called with its key); the stream's connection is `status` (a
/// [`crate::stream::StreamStatus`] name).
pub fn topic_list(
    notices: &VecDeque<ShownNotice>,
    status: &'static str,
    on_dismiss: &Callback<u64>,
) -> Html {
    html! {
        <ul id="topic-feed" data-status={status} aria-label="Followed topics">
            { notice_items(notices, NoticeList::Followed, on_dismiss) }
        </ul>
    }
}
