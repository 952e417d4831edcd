//! The page: a header with the status badge, the notices, the counters, the latency sparkline and
//! the list of recent pings.

use shared::AppEvent;
use yew::prelude::*;

use crate::{
    components::{LatencyChart, NoticeList, PingList, StatusBadge, StreamStats},
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
                <StatusBadge
                    connection={stream.connection}
                    online={stream.online}
                    retry_in_secs={stream.retry_in_secs}
                />
            </header>
            <NoticeList notices={page.notices.clone()} alert={page.alert.clone()} {on_dismiss} />
            <StreamStats received={page.received} malformed={stream.malformed} />
            <LatencyChart latencies={page.latencies.clone()} />
            <PingList entries={page.entries.clone()} />
        </main>
    }
}
