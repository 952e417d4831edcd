use frontend::stream::{Connection, Feed, use_event_stream};
use shared::{AppEvent, Notice, Selection};
use yew::prelude::*;

/// The notices received so far: a reducer over the stream's feed.
#[derive(Default, PartialEq)]
pub struct Notices(Vec<Notice>);

impl Reducible for Notices {
    type Action = Feed<AppEvent>;

    fn reduce(self: std::rc::Rc<Self>, item: Feed<AppEvent>) -> std::rc::Rc<Self> {
        match item {
            Feed::Event {
                event: AppEvent::Notice(notice),
                ..
            } => {
                let mut notices = self.0.clone();
                notices.push(notice);
                Self(notices).into()
            }
            // Pings, gaps and resets: not this component's business.
            _ => self,
        }
    }
}

/// Lists the notices the stream carries, and whether it is live.
#[component]
pub fn NoticeBoard() -> Html {
    let notices = use_reducer(Notices::default);
    let on_feed = notices.dispatcher().into();
    // Every topic: the notices of the whole stream; anonymous (a page that signs people in
    // passes who the tab is, `Session::identity`, so tabs of two people never share a stream).
    let (all, anonymous) = (Selection::all(), AttrValue::default());
    let status = use_event_stream::<AppEvent>(shared::STREAM_PATH.into(), all, anonymous, on_feed);
    let live = status.connection == Connection::Live;
    html! {
        <ul class="board" data-live={live.to_string()}>
            { for notices.0.iter().map(|notice| html! { <li>{ &notice.text }</li> }) }
        </ul>
    }
}
