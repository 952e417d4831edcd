//! The page: a header with the status badge, the counters and the list of recent pings.

use yew::prelude::*;

use crate::{
    components::{PingList, StatusBadge, StreamStats},
    hooks::use_ping_stream,
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
    let stream = use_ping_stream(props.stream_url.clone());
    html! {
        <main class="app">
            <header class="app__header">
                <h1>{ "pingstream" }</h1>
                <StatusBadge status={stream.status()} />
            </header>
            <StreamStats received={stream.received()} malformed={stream.malformed()} />
            <PingList entries={stream.entries().clone()} />
        </main>
    }
}
