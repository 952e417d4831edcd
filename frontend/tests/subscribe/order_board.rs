use frontend::stream::{Feed, use_event_stream};
use shared::{AppEvent, Selection};
use yew::prelude::*;

/// The notices on the orders' topics so far, each with its topic: a reducer over the feed.
#[derive(Default, PartialEq)]
pub struct OrderNotices(Vec<(String, String)>);

impl Reducible for OrderNotices {
    type Action = Feed<AppEvent>;

    fn reduce(self: std::rc::Rc<Self>, item: Feed<AppEvent>) -> std::rc::Rc<Self> {
        match item {
            Feed::Event {
                event: AppEvent::Notice(notice),
                stamp: Some(stamp),
                ..
            } => {
                let mut notices = self.0.clone();
                notices.push((stamp.topic.to_string(), notice.text));
                Self(notices).into()
            }
            // Gaps and resets of the orders' stream: not shown here.
            _ => self,
        }
    }
}

/// Follows every order (`orders/1`, `orders/42`, ...) on a stream of those topics alone.
#[component]
pub fn OrderBoard() -> Html {
    let notices = use_reducer(OrderNotices::default);
    let on_feed = notices.dispatcher().into();
    // Parsed again on each render; an equal selection keeps the stream as it is.
    let orders = Selection::parse(["orders/*"]).expect("a valid selector");
    // Anonymous: a page that signs people in passes who the tab is (`Session::identity`).
    let anonymous = AttrValue::default();
    let status =
        use_event_stream::<AppEvent>(shared::STREAM_PATH.into(), orders, anonymous, on_feed);
    html! {
        <ul class="orders" data-status={status.name()}>
            { for notices.0.iter().map(|(topic, text)| html! {
                <li data-topic={topic.clone()}>{ text }</li>
            }) }
        </ul>
    }
}
