//! `use_ping_stream`: the only code that touches the browser's `EventSource`.

use std::{cell::RefCell, pin::pin, rc::Rc};

use futures_channel::{mpsc, oneshot};
use futures_util::{
    StreamExt,
    future::{Either, select},
    stream,
};
use gloo_events::EventListener;
use gloo_net::eventsource::futures::EventSource;
use gloo_timers::future::TimeoutFuture;
use wasm_bindgen::JsCast;
use web_sys::MessageEvent;
use yew::prelude::*;

use crate::{
    backoff::Backoff,
    state::{Action, StreamState},
};

/// The longest piece of a malformed event's data written to the console.
const LOGGED_DATA_CHARS: usize = 200;

/// Follows the Server-Sent Events stream at `url` for as long as the calling component is
/// mounted, and returns the resulting [`StreamState`].
///
/// The browser retries a dropped connection by itself (sending `Last-Event-ID`, so the server
/// replays what was missed); while it does, the status is reconnecting. When the browser gives up
/// for good (the server answered 503 at its connection cap, the wrong content type, any other
/// error status), the hook opens a new `EventSource` after a [`Backoff`] delay and counts it down
/// on the badge. Coming back online cuts that wait short. Unmounting closes the connection.
#[hook]
pub fn use_ping_stream(url: AttrValue) -> UseReducerHandle<StreamState> {
    let state = use_reducer(StreamState::default);
    let dispatcher = state.dispatcher();
    use_effect_with(url, move |url| {
        // The open `EventSource` is owned here, so that teardown closes it at once.
        let source = Rc::new(RefCell::new(None));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (online_tx, online_rx) = mpsc::unbounded();
        let network = watch_network(&dispatcher, online_tx);
        wasm_bindgen_futures::spawn_local(follow(
            url.clone(),
            dispatcher,
            Rc::clone(&source),
            stop_rx,
            online_rx,
        ));
        move || {
            drop(network);
            drop(stop_tx);
            // Dropping gloo's `EventSource` closes the browser's connection.
            drop(source.borrow_mut().take());
        }
    });
    state
}

/// Reports the browser's network state now and whenever it changes; each return to online is
/// also sent to `online_tx`. The listeners are removed when the returned value is dropped.
fn watch_network(
    dispatcher: &UseReducerDispatcher<StreamState>,
    online_tx: mpsc::UnboundedSender<()>,
) -> Option<[EventListener; 2]> {
    let window = web_sys::window()?;
    dispatcher.dispatch(Action::Network {
        online: window.navigator().on_line(),
    });
    let on_online = {
        let dispatcher = dispatcher.clone();
        EventListener::new(&window, "online", move |_| {
            dispatcher.dispatch(Action::Network { online: true });
            // The follow task is gone only after teardown, which drops this listener first.
            let _ = online_tx.unbounded_send(());
        })
    };
    let on_offline = {
        let dispatcher = dispatcher.clone();
        EventListener::new(&window, "offline", move |_| {
            dispatcher.dispatch(Action::Network { online: false });
        })
    };
    Some([on_online, on_offline])
}

/// Opens `url` and keeps it open: one `EventSource` after the other, with a backoff between
/// them, until `stop` fires (the sender is dropped when the component unmounts).
async fn follow(
    url: AttrValue,
    dispatcher: UseReducerDispatcher<StreamState>,
    source: Rc<RefCell<Option<EventSource>>>,
    mut stop: oneshot::Receiver<()>,
    mut online_rx: mpsc::UnboundedReceiver<()>,
) {
    let mut backoff = Backoff::default();
    loop {
        let connected = connect(&url, &dispatcher, &source, &mut backoff);
        if let Either::Left(_) = select(&mut stop, pin!(connected)).await {
            return;
        }
        // Only a return to online from now on may cut the wait short.
        while online_rx.try_recv().is_ok() {}
        let delay = backoff.next_delay(js_sys::Math::random());
        let waited = count_down(delay.as_millis() as f64, &dispatcher, &mut online_rx);
        if let Either::Left(_) = select(&mut stop, pin!(waited)).await {
            return;
        }
        dispatcher.dispatch(Action::Reconnecting);
    }
}

/// Opens one `EventSource` on `url` and follows it until the browser closes it for good.
async fn connect(
    url: &str,
    dispatcher: &UseReducerDispatcher<StreamState>,
    source: &RefCell<Option<EventSource>>,
    backoff: &mut Backoff,
) {
    let mut opened = match EventSource::new(url) {
        Ok(opened) => opened,
        Err(err) => {
            gloo_console::error!(format!("cannot open {url}: {err}"));
            return;
        }
    };
    // gloo-net's `EventSource` does not hand out the browser object, and its subscriptions are
    // silent while the browser reconnects by itself. But `subscribe` is `addEventListener`, so
    // subscribing to "open" and "error" delivers those events too; their target is the browser's
    // `EventSource`, whose `readyState` tells a reconnect (CONNECTING) from the end (CLOSED).
    let subscribed = (
        opened.subscribe(shared::EVENT_NAME),
        opened.subscribe("open"),
        opened.subscribe("error"),
    );
    let (Ok(pings), Ok(opens), Ok(errors)) = subscribed else {
        gloo_console::error!(format!("cannot listen to {url}"));
        return;
    };
    *source.borrow_mut() = Some(opened);
    // (`select` rather than `select_all`: the same thing for three streams, and much less wasm.)
    let mut events = stream::select(pings, stream::select(opens, errors));
    while let Some(Ok((name, event))) = events.next().await {
        if name == shared::EVENT_NAME {
            dispatcher.dispatch(decode(&event));
            continue;
        }
        match ready_state(&event) {
            Some(web_sys::EventSource::OPEN) => {
                backoff.reset();
                dispatcher.dispatch(Action::Opened);
            }
            Some(web_sys::EventSource::CONNECTING) => dispatcher.dispatch(Action::Reconnecting),
            _ => break,
        }
    }
    // An `Err` from gloo-net, or an event seen after CLOSED: the browser will not retry.
    drop(events);
    drop(source.borrow_mut().take());
}

/// The `readyState` of the `EventSource` that fired `event`.
fn ready_state(event: &MessageEvent) -> Option<u16> {
    let target = event.target()?.dyn_into::<web_sys::EventSource>().ok()?;
    Some(target.ready_state())
}

/// The action for one ping event; anything that is not a ping is logged and counted.
fn decode(event: &MessageEvent) -> Action {
    let data = event.data().as_string().unwrap_or_default();
    Action::decode(&data, &event.last_event_id()).unwrap_or_else(|err| {
        let shown: String = data.chars().take(LOGGED_DATA_CHARS).collect();
        gloo_console::warn!(format!(
            "ignored malformed {} event ({err}): \"{shown}\"",
            shared::EVENT_NAME
        ));
        Action::Malformed
    })
}

/// Waits `millis`, showing the whole seconds left on the badge. Ends early when the browser
/// comes back online: there is no point waiting any longer then.
async fn count_down(
    millis: f64,
    dispatcher: &UseReducerDispatcher<StreamState>,
    online_rx: &mut mpsc::UnboundedReceiver<()>,
) {
    let deadline = js_sys::Date::now() + millis;
    loop {
        let left = deadline - js_sys::Date::now();
        if left <= 0.0 {
            return;
        }
        let secs = (left / 1000.0).ceil();
        dispatcher.dispatch(Action::RetryIn(secs as u32));
        // Sleep until the number shown changes.
        let tick = TimeoutFuture::new((left - (secs - 1.0) * 1000.0).ceil() as u32);
        match select(tick, online_rx.next()).await {
            Either::Left(_) => {}
            Either::Right((Some(()), _)) => return,
            // Nobody watches the network (no `window`): just wait.
            Either::Right((None, tick)) => tick.await,
        }
    }
}
