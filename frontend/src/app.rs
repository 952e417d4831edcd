//! The page: a header with the status badge, the notices, the counters, the latency sparkline and
//! the list of recent pings.

use shared::AppEvent;
use yew::prelude::*;

use crate::{
    components::{latency_chart, notice_list, ping_list, status_badge, stream_stats},
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

/// The whole page.
#[component]
pub fn App(props: &AppProps) -> Html {
    let page = use_reducer(PageState::default);
    let on_feed = Callback::from(page.dispatcher()).reform(PageAction::Feed);
    let stream = use_event_stream::<AppEvent>(props.stream_url.clone(), on_feed);
    let on_dismiss = Callback::from(page.dispatcher()).reform(PageAction::Dismiss);
    html! {
        <main class="app">
            <header class="app__header">
                <h1>{ "pingstream" }</h1>
                { status_badge(&stream) }
            </header>
            { notice_list(&page.notices, page.alert.as_ref(), &on_dismiss) }
            { stream_stats(page.received, stream.malformed) }
            { latency_chart(&page.latencies) }
            { ping_list(&page.entries) }
        </main>
    }
}
