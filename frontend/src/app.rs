//! The page: a header with the status badge, who the page is signed in as (and "your notices"),
//! the notices, the counters, the topics box and the notices on the topics it follows, the
//! latency chart and the list of recent pings.

use shared::{AppEvent, Selection};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::{
    components::{
        latency_chart, notice_list, ping_list, session_box, status_badge, stream_stats, topic_list,
    },
    session::{self, Watch},
    state::{PageAction, PageState},
    stream::{Connection, use_event_stream},
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

/// The whole page. Its stream carries every topic (every public one, and those its token grants
/// when signed in: "your notices"); while the topics box names some, a second stream carries
/// those alone, and the page lists the notices on them. Both in this one component, whose reducer
/// takes both feeds: a component that would hold the second stream costs the page about a
/// kilobyte.
///
/// Both streams wait for the server to say who the page is, and are shared between tabs under
/// that identity: signing in or out (here, or in another tab, which says so on
/// [`session::CHANNEL`]) re-opens them with the new cookie. When the page's stream stops while
/// signed in, the page asks again: a cookie that no longer verifies (the stream was answered
/// `401`, or ended at the token's expiry) signs the page out, and it goes on anonymous, saying so.
#[component]
pub fn App(props: &AppProps) -> Html {
    let page = use_reducer(PageState::default);
    let dispatch = || Callback::from(page.dispatcher());
    let on_session = dispatch().reform(PageAction::Session);
    let identity = page
        .session
        .as_ref()
        .map(|session| session.identity.clone());
    // An empty URL follows nothing: no stream until the page knows who it is.
    let url = identity
        .as_ref()
        .map(|_| props.stream_url.clone())
        .unwrap_or_default();
    let identity = identity.unwrap_or_default();
    let stream = use_event_stream::<AppEvent>(
        url.clone(),
        Selection::all(),
        identity.clone(),
        dispatch().reform(PageAction::Feed),
    );
    let followed = page.followed.clone().filter(|s| !s.selectors().is_empty());
    // An empty URL: no second stream while the box names no topic.
    let topics_url = followed.as_ref().map(|_| url).unwrap_or_default();
    let topics = use_event_stream::<AppEvent>(
        topics_url,
        followed.clone().unwrap_or_default(),
        identity,
        dispatch().reform(PageAction::TopicFeed),
    );
    // Who the page is: asked whenever a tab signs in or out (the `Watch`, kept as long as the
    // page), at start-up, when the stream of a signed-in page drops (it ends at the token's
    // expiry) and whenever the stream is closed for good (a `401`: the cookie no longer
    // verifies). Asked once each time `why` turns to another reason (the asking only starts a
    // request, so it is done here rather than in an effect, which costs the page's budget a
    // quarter kilobyte).
    let asked = use_mut_ref(|| (Watch::start(on_session.clone()), 0));
    let signed_in = page.session.as_ref().is_some_and(|s| s.sub.is_some());
    let why = match stream.connection {
        _ if page.session.is_none() => 1,
        Connection::Closed => 2,
        Connection::Reconnecting { .. } if signed_in => 3,
        _ => 0,
    };
    if asked.borrow().1 != why {
        asked.borrow_mut().1 = why;
        if why != 0 {
            session::refresh(&on_session);
        }
    }
    let on_sign_in = {
        let on_session = on_session.clone();
        Callback::from(move |event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            session::sign_in(&input.value(), &on_session);
        })
    };
    let on_sign_out = Callback::from(move |_| session::sign_out(&on_session));
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
            { session_box(page.session.as_deref(), &page.notices, &on_sign_in, &on_sign_out, &on_dismiss) }
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
