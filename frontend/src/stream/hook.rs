//! `use_event_stream`: the engine's I/O, and the only code that touches the browser's
//! `EventSource`.
//!
//! One tab of the browser holds the stream (the one holding a [`LeaderLock`]) and relays what it
//! receives to the other tabs over a [`TabChannel`]; those follow it. What a tab does with each
//! thing that happens is decided by its [`TabRole`]; this hook only connects the role to the
//! browser: every event (from the `EventSource`, the other tabs, the lock, the network, the page,
//! the timer the role asks for) goes into one inbox, which hands them to the role one at a time,
//! in order, as they come: callbacks, no async loop (a channel and a loop cost the page a
//! kilobyte).

use std::{
    cell::RefCell,
    mem,
    rc::{Rc, Weak},
};

use gloo_events::EventListener;
use gloo_timers::callback::Timeout;
use shared::{EventSet, Selection, StreamEvent as _, Timing};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Event, EventSource, MessageEvent, PageTransitionEvent, RequestInit, Response};
use yew::prelude::*;

use crate::stream::{
    Feed, Moment, StreamStatus,
    connection::is_final,
    raw_event::RawEvent,
    session_store,
    status::StatusAction,
    tab_channel::TabChannel,
    tab_leader::LeaderLock,
    tab_message::TabMessage,
    tab_role::{Io, SourceEvent, TabRole},
};

/// The page query parameter and value that turn sharing off: each tab then holds its own stream.
const SHARE_OFF: &str = "share=off";

/// The longest the loop sleeps at once. A timer longer than 2^31 - 1 ms fires at once (browsers
/// keep the delay in 32 bits), which a heartbeat announcing a huge interval could ask for; waking
/// early is harmless, the role just says how much longer to wait.
const MAX_SLEEP_MS: f64 = 60_000.0;

/// Whether the page's query string (`location.search`) leaves sharing on.
fn sharing_requested(search: &str) -> bool {
    !search
        .trim_start_matches('?')
        .split('&')
        .any(|pair| pair == SHARE_OFF)
}

/// The name the tabs following the stream of `selection` at `url` with the event set `E` as
/// `identity` share under: the lock's, the channel's and the `sessionStorage` key. It holds the
/// set's [`EventSet::fingerprint`] (the contract's version and the set's names): tabs of two
/// builds whose sets differ (open across a deploy) share nothing, so neither misreads the other's
/// messages, and each holds a stream of its own. It holds `identity`, who the tab is as the app
/// knows it (a digest of its subscriber token's `sub` and grants; empty: anonymous): a stream
/// opened with one person's cookie carries what only they may read, so a tab of another person
/// (signed in in the same browser meanwhile) neither follows it nor hands it a stream. And it
/// holds the stream's URL with the selection's `?topic=` selectors: tabs subscribed to different
/// topics never feed each other, tabs subscribed to the same ones (in the same order) share one
/// stream.
pub fn share_name<E: EventSet>(url: &str, selection: &Selection, identity: &str) -> String {
    let stream = shared::stream_url(url, selection, None);
    format!("pingstream/{:08x}/{identity}/{stream}", E::fingerprint())
}

/// Everything that reaches the role.
enum Input {
    /// From the `EventSource` opened as attempt number `.0`; a closed one's late events are
    /// dropped.
    Stream(u32, SourceEvent),
    /// Another tab said something.
    Tab(TabMessage),
    /// This tab now holds the lock.
    Granted,
    /// The browser refused this tab the lock: it will never come.
    Refused,
    /// The browser came back online.
    Online,
    /// The page is shown again from the browser's back/forward cache.
    Shown,
    /// The page goes away; `.0`: the browser keeps it to show it again later.
    Hidden(bool),
    /// The time the role asked to be woken at has come (or it is woken early, to look).
    Tick,
}

/// Where everything that happens goes ([`Input`]): to the role, at once ([`Inbox::handle`]).
#[derive(Clone)]
struct InboxTx(Rc<dyn Fn(Input)>);

impl InboxTx {
    /// Hands `input` to the role (or, once the stream was let go, to nobody).
    fn send(&self, input: Input) {
        (self.0)(input);
    }
}

/// Queues for the lock `name`; `Granted` or `Refused` goes to `inbox_tx` when the browser decides.
/// `None` where the browser has no Web Locks.
fn request_lock(name: &str, inbox_tx: &InboxTx) -> Option<LeaderLock> {
    let granted_tx = inbox_tx.clone();
    let refused_tx = inbox_tx.clone();
    LeaderLock::request(
        name,
        move || {
            granted_tx.send(Input::Granted);
        },
        move |reason| {
            gloo_console::warn!(
                "no Web Lock for this tab, it holds a stream of its own:",
                reason
            );
            refused_tx.send(Input::Refused);
        },
    )
}

/// Joins the tabs sharing `name`: their channel and the queue for the lock. Both or neither: a
/// browser without one of them gets a stream per tab.
fn share(name: &str, inbox_tx: &InboxTx) -> Option<(TabChannel, LeaderLock)> {
    let message_tx = inbox_tx.clone();
    let channel = TabChannel::open(name, move |message| {
        // The sender holds the inbox weakly: the channel goes with the tab it feeds.
        message_tx.send(Input::Tab(message));
    })?;
    Some((channel, request_lock(name, inbox_tx)?))
}

/// The status of the server's answer to a `HEAD` of `url`: what the browser does not tell when it
/// gives up on an `EventSource` (a `503` and a `404` look the same to the page). A `HEAD` holds no
/// stream and takes no client slot (pingstream's answers `200` with the stream's headers, even
/// when it is full: worth retrying). `0` when there is no answer (the network, a cross-origin
/// server that does not allow it).
async fn answer_status(url: &str) -> u16 {
    let Some(window) = web_sys::window() else {
        return 0;
    };
    let init = RequestInit::new();
    init.set_method("HEAD");
    JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .ok()
        .and_then(|answer| answer.dyn_into::<Response>().ok())
        .map_or(0, |answer| answer.status())
}

/// The `data` and `lastEventId` of a message event.
fn message(event: &Event) -> Option<(String, String)> {
    let event = event.dyn_ref::<MessageEvent>()?;
    Some((
        event.data().as_string().unwrap_or_default(),
        event.last_event_id(),
    ))
}

/// A listener for the events `name` of `source`, which puts what `read` makes of each into
/// `inbox_tx`, marked with `attempt`.
fn listen(
    source: &EventSource,
    name: &'static str,
    attempt: u32,
    inbox_tx: &InboxTx,
    read: impl Fn(&Event) -> Option<SourceEvent> + 'static,
) -> EventListener {
    let inbox_tx = inbox_tx.clone();
    EventListener::new(source, name, move |event| {
        if let Some(event) = read(event) {
            inbox_tx.send(Input::Stream(attempt, event));
        }
    })
}

/// One browser `EventSource` and the listeners that put its events in the inbox; closed when
/// dropped.
struct Source {
    source: EventSource,
    _listeners: Vec<EventListener>,
}

impl Source {
    /// Opens `url` with a listener for each of `names` and for the heartbeat; its events go to
    /// `inbox_tx` marked with `attempt`.
    fn open(url: &str, names: &[&'static str], attempt: u32, inbox_tx: &InboxTx) -> Option<Self> {
        let source = EventSource::new(url).ok()?;
        let mut listeners: Vec<EventListener> = names
            .iter()
            .map(|&name| {
                listen(&source, name, attempt, inbox_tx, move |event| {
                    let (data, id) = message(event)?;
                    Some(SourceEvent::Event(RawEvent {
                        name: name.to_owned(),
                        data,
                        id,
                        arrived: Some(Moment::now()),
                    }))
                })
            })
            .collect();
        listeners.push(listen(&source, Timing::NAME, attempt, inbox_tx, |event| {
            Some(SourceEvent::Heartbeat(message(event)?.0))
        }));
        listeners.push(listen(&source, "open", attempt, inbox_tx, |_| {
            Some(SourceEvent::Open)
        }));
        // `readyState` tells the browser's own retry (CONNECTING) from the end (CLOSED), after
        // which the server's answer is asked for again: only its status says whether to retry.
        let target = source.clone();
        let closed_tx = inbox_tx.clone();
        listeners.push(listen(&source, "error", attempt, inbox_tx, move |_| {
            if target.ready_state() == EventSource::CLOSED {
                let (url, closed_tx) = (target.url(), closed_tx.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    let final_answer = is_final(answer_status(&url).await);
                    let gave_up = SourceEvent::GaveUp { final_answer };
                    closed_tx.send(Input::Stream(attempt, gave_up));
                });
            }
            (target.ready_state() == EventSource::CONNECTING).then_some(SourceEvent::Dropped)
        }));
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

/// What the hook reports, and how to re-render its component when that changes.
#[derive(Clone)]
struct Status {
    status: Rc<RefCell<StreamStatus>>,
    re_render: UseForceUpdateHandle,
}

impl Status {
    fn apply(&self, action: StatusAction) {
        if self.status.borrow_mut().apply(action) {
            self.re_render.force_update();
        }
    }
}

/// The browser's side of [`Io`].
struct Shell<E: EventSet> {
    /// The page's latest callback for the feed (a render may replace it).
    on_feed: Rc<RefCell<Callback<Feed<E>>>>,
    status: Status,
    inbox_tx: InboxTx,
    source: Rc<RefCell<Option<Source>>>,
    /// Counts the `EventSource`s opened, to tell their events apart.
    attempt: u32,
    /// `None` while this tab shares with nobody.
    channel: Option<TabChannel>,
    /// The name the tabs share under.
    name: String,
    /// This tab's place in the queue for the lock, or the lock; `None` while it shares with
    /// nobody, or while the page is kept for later.
    lock: Rc<RefCell<Option<LeaderLock>>>,
}

impl<E: EventSet> Io<E> for Shell<E> {
    fn feed(&mut self, item: Feed<E>) {
        let on_feed = self.on_feed.borrow().clone();
        on_feed.emit(item);
    }

    fn status(&mut self, action: StatusAction) {
        self.status.apply(action);
    }

    fn post(&mut self, message: &TabMessage) {
        if let Some(channel) = &self.channel {
            channel.post(message);
        }
    }

    fn open(&mut self, url: &str) {
        self.attempt += 1;
        let opened = Source::open(url, E::NAMES, self.attempt, &self.inbox_tx);
        if opened.is_none() {
            gloo_console::error!(format!("cannot open {url}"));
            let gave_up = SourceEvent::GaveUp {
                final_answer: false,
            };
            self.inbox_tx.send(Input::Stream(self.attempt, gave_up));
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
fn watch_network(status: &Status, inbox_tx: InboxTx) -> Option<[EventListener; 2]> {
    let window = web_sys::window()?;
    status.apply(StatusAction::Network {
        online: window.navigator().on_line(),
    });
    let on_online = {
        let status = status.clone();
        EventListener::new(&window, "online", move |_| {
            status.apply(StatusAction::Network { online: true });
            inbox_tx.send(Input::Online);
        })
    };
    let on_offline = {
        let status = status.clone();
        EventListener::new(&window, "offline", move |_| {
            status.apply(StatusAction::Network { online: false });
        })
    };
    Some([on_online, on_offline])
}

/// Whether a `pagehide` or `pageshow` event is about the browser's back/forward cache: the page
/// kept for later, or shown again from there.
fn persisted(event: &Event) -> bool {
    event
        .dyn_ref::<PageTransitionEvent>()
        .is_some_and(PageTransitionEvent::persisted)
}

/// Tells the inbox when the page goes away ([`Input::Hidden`]: what it shows is kept for a
/// reload, and a page kept by the browser's back/forward cache lets the stream go meanwhile) and
/// when it is shown again from that cache ([`Input::Shown`]). The listeners are removed when the
/// returned value is dropped.
fn watch_page(inbox_tx: &InboxTx) -> Option<[EventListener; 2]> {
    let window = web_sys::window()?;
    let hidden_tx = inbox_tx.clone();
    let on_hide = EventListener::new(&window, "pagehide", move |event| {
        hidden_tx.send(Input::Hidden(persisted(event)));
    });
    let shown_tx = inbox_tx.clone();
    let on_show = EventListener::new(&window, "pageshow", move |event| {
        if persisted(event) {
            shown_tx.send(Input::Shown);
        }
    });
    Some([on_hide, on_show])
}

/// The role and the browser's side of it, once built.
struct Tab<E: EventSet> {
    role: TabRole<E>,
    shell: Shell<E>,
    /// Wakes the role when it asked to be; replaced after every input (dropped: cancelled).
    timer: Option<Timeout>,
}

impl<E: EventSet + 'static> Tab<E> {
    /// Hands `input` to the role.
    fn handle(&mut self, input: Input) {
        let (role, shell) = (&mut self.role, &mut self.shell);
        match input {
            Input::Stream(attempt, event) => {
                if attempt == shell.attempt {
                    role.stream(event, Moment::now(), shell);
                }
            }
            Input::Tab(message) => role.tab_message(message, Moment::now(), shell),
            Input::Granted => role.granted(Moment::now(), shell),
            // Alone, as with sharing off: nobody relays to this tab, and it relays to nobody.
            Input::Refused => {
                if !role.is_holding() {
                    shell.channel = None;
                    role.granted(Moment::now(), shell);
                }
            }
            Input::Online => role.online(Moment::now(), shell),
            // Back from the cache: in the queue for the lock again, as a new tab would be.
            Input::Shown => {
                let lock = shell
                    .channel
                    .as_ref()
                    .and_then(|_| request_lock(&shell.name, &shell.inbox_tx));
                let sharing = lock.is_some();
                *shell.lock.borrow_mut() = lock;
                if sharing {
                    role.rejoin(Moment::now(), shell);
                } else {
                    role.granted(Moment::now(), shell);
                }
            }
            // What the tab shows is kept for a reload. Kept for later by the browser, the page
            // lets the stream go meanwhile (its `EventSource` closed, the lock given back to the
            // other tabs, which take the stream over) and takes it up again once it is shown: a
            // frozen page would hold a connection of the server and, worse, the lock.
            Input::Hidden(persisted) => {
                session_store::save(&shell.name, &role.snapshot());
                if persisted {
                    role.suspend(Moment::now());
                    drop(shell.source.borrow_mut().take());
                    drop(shell.lock.borrow_mut().take());
                }
            }
            Input::Tick => role.tick(Moment::now(), shell),
        }
    }

    /// Sets the timer the role asks for from now.
    fn rearm(&mut self) {
        let wait = self.role.wake_in(Moment::now()).min(MAX_SLEEP_MS);
        let tick_tx = self.shell.inbox_tx.clone();
        self.timer = Some(Timeout::new(wait.ceil() as u32, move || {
            tick_tx.send(Input::Tick);
        }));
    }
}

/// The inputs of one followed stream, and its [`Tab`] once built (`None` again once let go).
struct Inbox<E: EventSet> {
    /// Inputs not handled yet: those that came while another was (a role's action that makes the
    /// browser call back at once), or before the tab was built.
    pending: RefCell<Vec<Input>>,
    tab: RefCell<Option<Tab<E>>>,
}

impl<E: EventSet + 'static> Inbox<E> {
    /// A sender to it that holds it weakly: once the stream is let go, what comes is dropped.
    fn sender(this: &Rc<Self>) -> InboxTx {
        let inbox: Weak<Self> = Rc::downgrade(this);
        InboxTx(Rc::new(move |input| {
            if let Some(inbox) = inbox.upgrade() {
                inbox.handle(input);
            }
        }))
    }

    /// Queues `input`, then hands every queued input to the role, in order, unless that is
    /// already under way (it will reach this one), and sets the timer the role asks for.
    fn handle(&self, input: Input) {
        self.pending.borrow_mut().push(input);
        let Ok(mut tab) = self.tab.try_borrow_mut() else {
            return;
        };
        let Some(tab) = tab.as_mut() else {
            return;
        };
        loop {
            let inputs = mem::take(&mut *self.pending.borrow_mut());
            if inputs.is_empty() {
                break;
            }
            inputs.into_iter().for_each(|input| tab.handle(input));
        }
        tab.rearm();
    }
}

/// Follows the stream of `selection` at `url` from now on, as the browser's `E`-stream tabs of
/// `identity` share it, feeding `on_feed` and reporting to `status`; the stream is let go (closed, or
/// handed to the next tab) when the returned function is called.
fn follow<E: EventSet + 'static>(
    url: &str,
    selection: &Selection,
    identity: &str,
    on_feed: Rc<RefCell<Callback<Feed<E>>>>,
    status: &Status,
) -> impl FnOnce() + use<E> {
    // The open `EventSource` is owned here, so that letting go closes it at once.
    let source = Rc::new(RefCell::new(None));
    let inbox = Rc::new(Inbox {
        pending: RefCell::new(Vec::new()),
        tab: RefCell::new(None),
    });
    let inbox_tx = Inbox::sender(&inbox);
    let name = share_name::<E>(url, selection, identity);
    let location = web_sys::window().and_then(|window| window.location().search().ok());
    let sharing = location.is_none_or(|search| sharing_requested(&search));
    let (channel, lock) = sharing.then(|| share(&name, &inbox_tx)).flatten().unzip();
    let following = lock.is_some();
    let lock = Rc::new(RefCell::new(lock));
    let restored = session_store::load(&name);
    let mut shell = Shell {
        on_feed,
        status: status.clone(),
        inbox_tx: inbox_tx.clone(),
        source: Rc::clone(&source),
        attempt: 0,
        channel,
        name,
        lock: Rc::clone(&lock),
    };
    let role = if following {
        TabRole::follow(url, selection, restored, Moment::now(), &mut shell)
    } else {
        TabRole::hold(url, selection, restored, Moment::now(), &mut shell)
    };
    *inbox.tab.borrow_mut() = Some(Tab {
        role,
        shell,
        timer: None,
    });
    let network = watch_network(status, inbox_tx.clone());
    let page = watch_page(&inbox_tx);
    // Hands the role what came meanwhile, and sets its timer.
    inbox_tx.send(Input::Tick);
    move || {
        drop(network);
        drop(page);
        // Hands the stream to the next tab in the browser's queue.
        drop(lock.borrow_mut().take());
        // The role, the channel and the timer go; what comes later goes nowhere.
        drop(inbox);
        drop(source.borrow_mut().take());
    }
}

/// Follows the Server-Sent Events stream at `url` with the topics of `selection`
/// ([`Selection::all`]: every topic) for as long as the calling component is mounted: hands
/// `on_feed` every new event of the set `E` (decoded; one listener per name in
/// [`EventSet::NAMES`]) and a mark wherever events were missed or the stream started over, and
/// returns the stream's [`StreamStatus`]. An event whose data does not decode is counted there,
/// logged once per name, and never fed.
///
/// The tabs of a browser that show the same stream (the same URL and selection) as the same
/// `identity` (who the tab is, as the app knows it: [`share_name`]; empty for anonymous) share one
/// connection: one holds it, the others follow it, and when the holder goes another takes over. Whoever holds it: while the browser
/// retries a dropped connection by itself, the connection is reconnecting; when the browser gives
/// up (a `503` at the server's connection cap, the wrong content type, any other error status), a
/// new `EventSource` opens after a backoff counted down on the badge (coming back online cuts it
/// short), unless the answer was final (`204`, most `4xx`): then it is closed; a stream silent for
/// longer than its heartbeat allows is stalled and replaced at once. Every new `EventSource`
/// resumes after the newest id seen (`?lastEventId=`). Unmounting closes the connection and hands
/// the stream to another tab, as does a change of `url`, `selection` or `identity` (the new one
/// is followed then: signing in or out opens a stream with the new cookie). While `url` is empty it follows nothing: for a component that follows a stream only at
/// times (a hook cannot be called only at times).
///
/// `frontend/tests/subscribe.rs` shows a component that subscribes to one event of the set (the
/// README's example, compiled and run there).
#[hook]
pub fn use_event_stream<E: EventSet + 'static>(
    url: AttrValue,
    selection: Selection,
    identity: AttrValue,
    on_feed: Callback<Feed<E>>,
) -> StreamStatus {
    let status = Status {
        status: use_mut_ref(StreamStatus::default),
        re_render: use_force_update(),
    };
    let latest = use_mut_ref(|| on_feed.clone());
    *latest.borrow_mut() = on_feed;
    let shown = status.status.borrow().clone();
    use_effect_with(
        (url, selection, identity),
        move |(url, selection, identity)| {
            let stop = (!url.is_empty()).then(|| follow(url, selection, identity, latest, &status));
            move || stop.into_iter().for_each(|stop| stop())
        },
    );
    shown
}

#[cfg(test)]
mod tests {
    use shared::{AppEvent, Ping, event_set};
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

    #[wasm_bindgen_test(unsupported = test)]
    fn the_name_tabs_share_under_changes_with_the_event_set_the_url_and_the_topics() {
        event_set! {
            enum OnlyPings { Ping }
        }
        let all = Selection::all();
        let selection = |texts: &[&str]| Selection::parse(texts.iter().copied()).expect("valid");
        let ours = share_name::<AppEvent>("/sse", &all, "");
        assert_eq!(ours, share_name::<AppEvent>("/sse", &all, ""));
        assert_ne!(ours, share_name::<OnlyPings>("/sse", &all, ""));
        assert_ne!(ours, share_name::<AppEvent>("/other", &all, ""));
        assert!(ours.ends_with("///sse"), "every topic, anonymous: {ours}");
        let orders = share_name::<AppEvent>("/sse", &selection(&["orders/*"]), "");
        assert_eq!(
            orders,
            share_name::<AppEvent>("/sse", &selection(&["orders/*", "orders/*"]), "")
        );
        for other in [
            selection(&["orders/1"]),
            selection(&["orders/**"]),
            selection(&["orders/*", "users/7"]),
        ] {
            let theirs = share_name::<AppEvent>("/sse", &other, "");
            assert_ne!(orders, theirs, "{other:?}");
        }
        assert!(orders.ends_with("/sse?topic=orders%2F*"), "{orders}");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn tabs_of_different_identities_share_under_different_names() {
        let all = Selection::all();
        let mine = Selection::parse(["users/alice/**"]).expect("valid");
        let anonymous = share_name::<AppEvent>("/sse", &all, "");
        let alice = share_name::<AppEvent>("/sse", &all, "1a2b3c4d");
        let bob = share_name::<AppEvent>("/sse", &all, "5e6f7a8b");
        assert_ne!(alice, anonymous);
        assert_ne!(alice, bob);
        assert_eq!(alice, share_name::<AppEvent>("/sse", &all, "1a2b3c4d"));
        assert_ne!(
            share_name::<AppEvent>("/sse", &mine, "1a2b3c4d"),
            share_name::<AppEvent>("/sse", &mine, "5e6f7a8b"),
            "the same topics as two people"
        );
    }
}
