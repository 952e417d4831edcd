//! The page: a header with the status badge, the notices, the counters, the topics box and the
//! notices on the topics it follows, the latency sparkline and the list of recent pings.

use shared::{AppEvent, Selection};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::{
    components::{latency_chart, notice_list, ping_list, status_badge, stream_stats, topic_list},
    state::{PageAction, PageState},
    stream::use_event_stream,
};

/// Properties of [`App`].
#[derive(Properties, PartialEq)]
pub struct AppProps {
    /// Where the Server-Sent Events stream lives; the page's own server by default.
    #[prop_or(AttrValue::Static(shared::STREAM_PATH))]
    pub stream_url: AttrValue,
}

impl Default for AppProps {
    fn default() -> Self {
        Self {
            stream_url: AttrValue::Static(shared::STREAM_PATH),
        }
    }
}

/// The whole page. Its stream carries every topic; while the topics box names some, a second
/// stream carries those alone, and the page lists the notices on them. Both in this one
/// component, whose reducer takes both feeds: a component that would hold the second stream
/// costs the page about a kilobyte.
#[component]
pub fn App(props: &AppProps) -> Html {
    let page = use_reducer(PageState::default);
    let dispatch = || Callback::from(page.dispatcher());
    let url = props.stream_url.clone();
    let stream = use_event_stream::<AppEvent>(
        url.clone(),
        Selection::all(),
        dispatch().reform(PageAction::Feed),
    );
    let followed = page.followed.clone().filter(|s| !s.selectors().is_empty());
    // An empty URL: no second stream while the box names no topic.
    let topics_url = followed.as_ref().map(|_| url).unwrap_or_default();
    let topics = use_event_stream::<AppEvent>(
        topics_url,
        followed.clone().unwrap_or_default(),
        dispatch().reform(PageAction::TopicFeed),
    );
    let on_dismiss = dispatch().reform(PageAction::Dismiss);
    let on_topics = dispatch().reform(|event: Event| {
        let input: HtmlInputElement = event.target_unchecked_into();
        PageAction::Follow(input.value())
    });
    html! {
        <main class="app">
            <header class="app__header">
                <h1>{ "pingstream" }</h1>
                { status_badge(&stream) }
            </header>
            { notice_list(&page.notices, page.alert.as_ref(), &on_dismiss) }
            { stream_stats(page.received, stream.malformed) }
            <input id="topics" placeholder="follow topics: orders/*" aria-label="Follow topics"
                aria-invalid={page.followed.is_none().then_some("true")} onchange={on_topics} />
            if followed.is_some() {
                { topic_list(&page.notices, topics.name(), &on_dismiss) }
            }
            { latency_chart(&page.latencies) }
            { ping_list(&page.entries) }
        </main>
    }
}
