//! `use_ping_stream`: the page's I/O, and the only code that touches the browser's `EventSource`.
//!
//! One tab of the browser holds the stream (the one holding a [`LeaderLock`]) and relays what it
//! receives to the other tabs over a [`TabChannel`]; those follow it. What a tab does with each
//! thing that happens is decided by its [`TabRole`]; this hook only connects the role to the
//! browser: every event (from the `EventSource`, the other tabs, the lock, the network) goes into
//! one inbox, and one loop hands them, and the timer the role asks for, to the role.

use std::{cell::RefCell, pin::pin, rc::Rc};

use futures_channel::{mpsc, oneshot};
use futures_util::{
    StreamExt,
    future::{Either, select},
};
use gloo_events::EventListener;
use gloo_timers::future::TimeoutFuture;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventSource, MessageEvent};
use yew::prelude::*;

use crate::{
    session_store,
    state::{Action, StreamState},
    tab_channel::TabChannel,
    tab_leader::LeaderLock,
    tab_message::{RawPing, TabMessage},
    tab_role::{Io, StreamEvent, TabRole},
};

/// The version of what tabs say to each other, part of the names they share under (the lock, the
/// channel, the `sessionStorage` key): tabs running two builds of the page (open across a deploy)
/// share unless it differs between them. Nothing derives it: raise it by hand in any change that
/// a tab of the previous build would misread or miss, such as the text form of a [`TabMessage`]
/// or a `Snapshot`, or which messages a leader or a follower sends or counts on. Forgetting to
/// leaves such tabs sharing a stream they cannot read: a message that does not decode is ignored.
const TAB_PROTOCOL: u32 = 1;

/// The page query parameter and value that turn sharing off: each tab then holds its own stream.
const SHARE_OFF: &str = "share=off";

/// The longest the loop sleeps at once. A timer longer than 2^31 - 1 ms fires at once (browsers
/// keep the delay in 32 bits), which a heartbeat announcing a huge interval could ask for; waking
/// early is harmless, the role just says how much longer to wait.
const MAX_SLEEP_MS: f64 = 60_000.0;

/// Milliseconds since the Unix epoch: what the role's clock reads.
fn now() -> f64 {
    js_sys::Date::now()
}

/// Whether the page's query string (`location.search`) leaves sharing on.
fn sharing_requested(search: &str) -> bool {
    !search
        .trim_start_matches('?')
        .split('&')
        .any(|pair| pair == SHARE_OFF)
}

/// Everything that reaches the hook's loop.
enum Input {
    /// From the `EventSource` opened as attempt number `.0`; a closed one's late events are
    /// dropped.
    Stream(u32, StreamEvent),
    /// Another tab said something.
    Tab(TabMessage),
    /// This tab now holds the lock.
    Granted,
    /// The browser refused this tab the lock: it will never come.
    Refused,
    /// The browser came back online.
    Online,
}

/// Joins the tabs sharing `name`: their channel and the queue for the lock. Both or neither: a
/// browser without one of them gets a stream per tab.
fn share(name: &str, inbox_tx: &mpsc::UnboundedSender<Input>) -> Option<(TabChannel, LeaderLock)> {
    let message_tx = inbox_tx.clone();
    let channel = TabChannel::open(name, move |message| {
        // The inbox goes only with the loop, which owns this channel.
        let _ = message_tx.unbounded_send(Input::Tab(message));
    })?;
    let granted_tx = inbox_tx.clone();
    let refused_tx = inbox_tx.clone();
    let lock = LeaderLock::request(
        name,
        move || {
            let _ = granted_tx.unbounded_send(Input::Granted);
        },
        move |reason| {
            gloo_console::warn!(
                "no Web Lock for this tab, it holds a stream of its own:",
                reason
            );
            let _ = refused_tx.unbounded_send(Input::Refused);
        },
    )?;
    Some((channel, lock))
}

/// One browser `EventSource` and the listeners that put its events in the inbox; closed when
/// dropped.
struct Source {
    source: EventSource,
    _listeners: [EventListener; 4],
}

impl Source {
    /// Opens `url`; its events go to `inbox_tx` marked with `attempt`.
    fn open(url: &str, attempt: u32, inbox_tx: &mpsc::UnboundedSender<Input>) -> Option<Self> {
        let source = EventSource::new(url).ok()?;
        let listen = |name: &'static str, read: fn(&EventSource, &Event) -> Option<StreamEvent>| {
            let inbox_tx = inbox_tx.clone();
            let target = source.clone();
            EventListener::new(&source, name, move |event| {
                if let Some(event) = read(&target, event) {
                    let _ = inbox_tx.unbounded_send(Input::Stream(attempt, event));
                }
            })
        };
        let listeners = [
            listen(shared::EVENT_NAME, |_, event| {
                let event = event.dyn_ref::<MessageEvent>()?;
                Some(StreamEvent::Ping(RawPing {
                    data: event.data().as_string().unwrap_or_default(),
                    id: event.last_event_id(),
                }))
            }),
            listen(shared::HEARTBEAT_EVENT, |_, event| {
                let event = event.dyn_ref::<MessageEvent>()?;
                Some(StreamEvent::Heartbeat(
                    event.data().as_string().unwrap_or_default(),
                ))
            }),
            listen("open", |_, _| Some(StreamEvent::Open)),
            // `readyState` tells the browser's own retry (CONNECTING) from the end (CLOSED).
            listen("error", |source, _| match source.ready_state() {
                EventSource::CONNECTING => Some(StreamEvent::Reconnecting),
                EventSource::CLOSED => Some(StreamEvent::Closed),
                _ => None,
            }),
        ];
        Some(Self {
            source,
            _listeners: listeners,
        })
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        self.source.close();
    }
}

/// The browser's side of [`Io`].
struct Shell {
    dispatcher: UseReducerDispatcher<StreamState>,
    inbox_tx: mpsc::UnboundedSender<Input>,
    source: Rc<RefCell<Option<Source>>>,
    /// Counts the `EventSource`s opened, to tell their events apart.
    attempt: u32,
    /// `None` while this tab shares with nobody.
    channel: Option<TabChannel>,
}

impl Io for Shell {
    fn dispatch(&mut self, action: Action) {
        self.dispatcher.dispatch(action);
    }

    fn post(&mut self, message: &TabMessage) {
        if let Some(channel) = &self.channel {
            channel.post(message);
        }
    }

    fn open(&mut self, url: &str) {
        self.attempt += 1;
        let opened = Source::open(url, self.attempt, &self.inbox_tx);
        if opened.is_none() {
            gloo_console::error!(format!("cannot open {url}"));
            let _ = self
                .inbox_tx
                .unbounded_send(Input::Stream(self.attempt, StreamEvent::Closed));
        }
        *self.source.borrow_mut() = opened;
    }

    fn close(&mut self) {
        drop(self.source.borrow_mut().take());
    }

    fn random(&mut self) -> f64 {
        js_sys::Math::random()
    }

    fn warn(&mut self, text: &str) {
        gloo_console::warn!(text);
    }
}

/// Reports the browser's network state now and whenever it changes; each return to online also
/// goes to the inbox. The listeners are removed when the returned value is dropped.
fn watch_network(
    dispatcher: &UseReducerDispatcher<StreamState>,
    inbox_tx: mpsc::UnboundedSender<Input>,
) -> Option<[EventListener; 2]> {
    let window = web_sys::window()?;
    dispatcher.dispatch(Action::Network {
        online: window.navigator().on_line(),
    });
    let on_online = {
        let dispatcher = dispatcher.clone();
        EventListener::new(&window, "online", move |_| {
            dispatcher.dispatch(Action::Network { online: true });
            let _ = inbox_tx.unbounded_send(Input::Online);
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

/// Keeps what the tab shows in `sessionStorage` under `name` when the page goes away, for a
/// reload. The listener is removed when the returned value is dropped.
fn save_on_pagehide(name: String, role: &Rc<RefCell<TabRole>>) -> Option<EventListener> {
    let window = web_sys::window()?;
    let role = Rc::clone(role);
    Some(EventListener::new(&window, "pagehide", move |_| {
        if let Ok(role) = role.try_borrow() {
            session_store::save(&name, &role.snapshot());
        }
    }))
}

/// Hands every input, and every timer the role asks for, to the role. Never ends by itself.
async fn run(
    role: Rc<RefCell<TabRole>>,
    mut shell: Shell,
    mut inbox: mpsc::UnboundedReceiver<Input>,
) {
    loop {
        let wait = role.borrow().wake_in(now()).min(MAX_SLEEP_MS);
        let next = select(inbox.next(), TimeoutFuture::new(wait.ceil() as u32)).await;
        let mut role = role.borrow_mut();
        match next {
            Either::Left((Some(Input::Stream(attempt, event)), _)) => {
                if attempt == shell.attempt {
                    role.stream(event, now(), &mut shell);
                }
            }
            Either::Left((Some(Input::Tab(message)), _)) => {
                role.tab_message(message, now(), &mut shell);
            }
            Either::Left((Some(Input::Granted), _)) => role.granted(now(), &mut shell),
            // Alone, as with sharing off: nobody relays to this tab, and it relays to nobody.
            Either::Left((Some(Input::Refused), _)) => {
                if !role.is_holding() {
                    shell.channel = None;
                    role.granted(now(), &mut shell);
                }
            }
            Either::Left((Some(Input::Online), _)) => role.online(now(), &mut shell),
            // `shell` keeps a sender: the inbox never ends.
            Either::Left((None, _)) => return,
            Either::Right(_) => role.tick(now(), &mut shell),
        }
    }
}

/// Follows the Server-Sent Events stream at `url` for as long as the calling component is
/// mounted, and returns the resulting [`StreamState`].
///
/// The tabs of a browser that show the same stream share one connection: one holds it, the others
/// follow it, and when the holder goes another takes over. Whoever holds it: while the browser
/// retries a dropped connection by itself, the status is reconnecting; when the browser gives up
/// for good (a 503 at the server's connection cap, the wrong content type, any other error
/// status), a new `EventSource` opens after a backoff counted down on the badge (coming back
/// online cuts it short); a stream silent for longer than its heartbeat allows is replaced at
/// once. Every new `EventSource` resumes after the newest id seen (`?lastEventId=`). Unmounting
/// closes the connection and hands the stream to another tab.
#[hook]
pub fn use_ping_stream(url: AttrValue) -> UseReducerHandle<StreamState> {
    let state = use_reducer(StreamState::default);
    let dispatcher = state.dispatcher();
    use_effect_with(url, move |url| {
        // The open `EventSource` is owned here, so that teardown closes it at once.
        let source = Rc::new(RefCell::new(None));
        let (inbox_tx, inbox) = mpsc::unbounded();
        let name = format!("pingstream/{TAB_PROTOCOL}/{url}");
        let location = web_sys::window().and_then(|window| window.location().search().ok());
        let sharing = location.is_none_or(|search| sharing_requested(&search));
        let (channel, lock) = sharing.then(|| share(&name, &inbox_tx)).flatten().unzip();
        let mut shell = Shell {
            dispatcher: dispatcher.clone(),
            inbox_tx: inbox_tx.clone(),
            source: Rc::clone(&source),
            attempt: 0,
            channel,
        };
        let restored = session_store::load(&name);
        let role = if lock.is_some() {
            TabRole::follow(url, restored, now(), &mut shell)
        } else {
            TabRole::hold(url, restored, now(), &mut shell)
        };
        let role = Rc::new(RefCell::new(role));
        let network = watch_network(&dispatcher, inbox_tx);
        let saving = save_on_pagehide(name, &role);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        wasm_bindgen_futures::spawn_local(async move {
            select(stop_rx, pin!(run(role, shell, inbox))).await;
        });
        move || {
            drop(network);
            drop(saving);
            // Hands the stream to the next tab in the browser's queue.
            drop(lock);
            // Ends the loop, which leaves the channel.
            drop(stop_tx);
            drop(source.borrow_mut().take());
        }
    });
    state
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    #[wasm_bindgen_test(unsupported = test)]
    fn share_off_in_the_query_turns_sharing_off() {
        for search in [
            "",
            "?",
            "?share=on",
            "?shared=off",
            "?x=share=off",
            "?share=offline",
        ] {
            assert!(sharing_requested(search), "{search:?}");
        }
        for search in [
            "?share=off",
            "?a=1&share=off",
            "?share=off&b=2",
            "share=off",
        ] {
            assert!(!sharing_requested(search), "{search:?}");
        }
    }
}
