//! `use_event_stream` against a scripted `EventSource` ([`support::fake`]): stall detection, and
//! two tabs' worth of the app in one page sharing one stream (they share it exactly as two tabs
//! do: a Web Lock and a `BroadcastChannel` of the same origin), or not, when their builds' event
//! sets or their topics differ; the page's topics box; and the tabs' channel on its own. Every
//! test of the app in this binary follows its own URL, so the lock and channel names differ
//! between tests.

mod support;

use std::{cell::RefCell, rc::Rc};

use frontend::{
    App, AppProps,
    stream::{Feed, tab_channel::TabChannel, tab_message::TabMessage, use_event_stream},
};
use js_sys::{ArrayBuffer, Function, WebAssembly};
use shared::{AppEvent, Epoch, EventId, EventSet, Ping, Selection, event_set};
use support::{
    all, attr, eventually,
    fake::{
        dispatch, drop_connection, heartbeat, install_fake_event_source, notice_on, open,
        ping_with_id, ready_state, sources, stamp, url_of,
    },
    root, rows, text,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use yew::{Renderer, prelude::*};

wasm_bindgen_test_configure!(run_in_browser);

/// The id of the event with `seq`, in every test's stream.
fn id(seq: u64) -> EventId {
    EventId {
        epoch: Epoch(0xaa),
        seq,
    }
}

/// A ping with count `count` and id [`id`]`(count)`: every test's stream carries pings only,
/// unless it says otherwise.
fn ping(source: &JsValue, count: u64) {
    ping_with_id(source, count, id(count));
}

fn status(root: &web_sys::Element) -> Option<String> {
    attr(root, "#status", "data-status")
}
/// Waits until the badge under `root` says `wanted`.
async fn wait_for_status(root: &web_sys::Element, what: &str, wanted: &str) {
    eventually(root, what, || {
        status(root).filter(|status| status == wanted)
    })
    .await;
}

/// Waits until the app under `root` is live and lists exactly `count` rows.
async fn wait_live_with_rows(root: &web_sys::Element, what: &str, count: usize) {
    eventually(root, what, || {
        Some(rows(root))
            .filter(|rows| rows.len() == count && status(root).as_deref() == Some("live"))
    })
    .await;
}

async fn wait_for_sources(root: &web_sys::Element, count: usize) -> Vec<JsValue> {
    eventually(root, &format!("{count} EventSources"), || {
        Some(sources()).filter(|sources| sources.len() == count)
    })
    .await
}

#[wasm_bindgen_test]
async fn a_silent_stream_is_replaced_after_three_heartbeat_periods_resuming_after_the_last_id() {
    install_fake_event_source();
    let before = sources().len();
    let root = root();
    let props = AppProps {
        stream_url: AttrValue::Static("/fake/stall"),
    };
    let app = Renderer::<App>::with_root_and_props(root.clone(), props).render();
    let first = wait_for_sources(&root, before + 1).await[before].clone();
    assert_eq!(
        url_of(&first),
        "/fake/stall",
        "a first visit resumes nothing"
    );

    open(&first);
    // 3 x 1000 ms: the page's budget comes from this, not from a constant (which is 10 s).
    heartbeat(&first, 1_000);
    for count in 1..=3 {
        ping(&first, count);
    }
    wait_live_with_rows(&root, "live with three pings", 3).await;
    let silent_since = js_sys::Date::now();

    let second = wait_for_sources(&root, before + 2).await[before + 1].clone();
    let after = js_sys::Date::now() - silent_since;
    assert!(
        (2_900.0..4_500.0).contains(&after),
        "replaced {after} ms after the last event, expected about 3000"
    );
    assert_eq!(ready_state(&first), 2, "the silent one is closed");
    assert_eq!(
        url_of(&second),
        shared::resume_url("/fake/stall", Some(id(3)))
    );
    assert_eq!(status(&root).as_deref(), Some("stalled"));

    open(&second);
    heartbeat(&second, 1_000);
    ping(&second, 4);
    wait_live_with_rows(&root, "live again with the fourth ping", 4).await;
    assert_eq!(rows(&root), ["#4", "#3", "#2", "#1"], "no gap, no repeat");
    app.destroy();
}

#[wasm_bindgen_test]
async fn attempts_that_never_open_are_given_longer_each_time_and_the_last_one_goes_live() {
    install_fake_event_source();
    let before = sources().len();
    let root = root();
    let props = AppProps {
        stream_url: AttrValue::Static("/fake/stopped"),
    };
    let app = Renderer::<App>::with_root_and_props(root.clone(), props).render();
    let first = wait_for_sources(&root, before + 1).await[before].clone();
    open(&first);
    heartbeat(&first, 500);
    ping(&first, 1);
    wait_for_status(&root, "live", "live").await;

    // The server stops: silence. 2 s later (the floor) a fresh attempt, which hangs connecting
    // (a stopped server's kernel still accepts the connection). It is given 2 s too; the next
    // one 4 s: waiting doubles instead of piling up attempts, and each is kept open, ready for
    // the server to answer it.
    let mut appeared = vec![js_sys::Date::now()];
    for count in 2..=4 {
        wait_for_sources(&root, before + count).await;
        appeared.push(js_sys::Date::now());
        assert_ne!(status(&root).as_deref(), Some("live"));
    }
    let waits: Vec<f64> = appeared.windows(2).map(|pair| pair[1] - pair[0]).collect();
    let expected = [2_000.0, 2_000.0, 4_000.0];
    assert!(
        waits
            .iter()
            .zip(expected)
            .all(|(&waited, expected)| waited >= expected - 100.0 && waited < expected + 1_000.0),
        "waited {waits:?} ms, expected about {expected:?}"
    );
    let all = sources();
    assert!(
        all[before..before + 3]
            .iter()
            .all(|source| ready_state(source) == 2),
        "only the newest attempt is left open"
    );
    let pending = all[before + 3].clone();
    assert_eq!(
        url_of(&pending),
        shared::resume_url("/fake/stopped", Some(id(1)))
    );

    // The server runs again and answers the pending attempt.
    open(&pending);
    wait_for_status(&root, "live again", "live").await;
    app.destroy();
}

#[wasm_bindgen_test]
async fn a_second_app_follows_the_first_ones_stream_and_takes_it_over_where_it_stopped() {
    install_fake_event_source();
    let before = sources().len();
    let url = AttrValue::Static("/fake/shared");
    let leader_root = root();
    let leader = Renderer::<App>::with_root_and_props(
        leader_root.clone(),
        AppProps {
            stream_url: url.clone(),
        },
    )
    .render();
    let stream = wait_for_sources(&leader_root, before + 1).await[before].clone();
    open(&stream);
    heartbeat(&stream, 1_000);
    for count in 1..=3 {
        ping(&stream, count);
    }
    eventually(&leader_root, "three pings", || {
        Some(rows(&leader_root)).filter(|rows| rows.len() == 3)
    })
    .await;

    // A second tab: it shows the recent pings at once and opens no stream of its own.
    let follower_root = root();
    let follower = Renderer::<App>::with_root_and_props(
        follower_root.clone(),
        AppProps {
            stream_url: url.clone(),
        },
    )
    .render();
    wait_live_with_rows(&follower_root, "the leader's three pings, live", 3).await;
    ping(&stream, 4);
    eventually(&follower_root, "the relayed fourth ping", || {
        Some(rows(&follower_root)).filter(|rows| rows.len() == 4)
    })
    .await;
    assert_eq!(sources().len(), before + 1, "one stream for both");

    // Any event of the set is relayed: a notice, the stream's fifth event.
    let notice =
        r#"{"text":"Deploy at 18:00","level":"warning","time":"2026-11-25T09:00:00.000Z"}"#;
    dispatch(&stream, "notice", notice, &stamp(id(5), "notices", 1));
    for root in [&leader_root, &follower_root] {
        eventually(root, "the notice", || text(root, "#notices .notice__text")).await;
        assert_eq!(
            attr(root, "#notices .notice", "data-level").as_deref(),
            Some("warning")
        );
    }

    // The leader's stream drops: the follower's badge says so too, then live again.
    drop_connection(&stream);
    wait_for_status(&follower_root, "the follower reconnecting", "reconnecting").await;
    open(&stream);
    wait_for_status(&follower_root, "the follower live again", "live").await;

    // The leader goes away: the follower takes the stream, resuming after the newest id.
    leader.destroy();
    let taken = wait_for_sources(&follower_root, before + 2).await[before + 1].clone();
    assert_eq!(ready_state(&stream), 2, "the old leader's stream is closed");
    assert_eq!(
        url_of(&taken),
        shared::resume_url("/fake/shared", Some(id(5))),
        "after the notice: the ids count events of every name"
    );
    open(&taken);
    heartbeat(&taken, 1_000);
    ping_with_id(&taken, 5, id(6));
    eventually(&follower_root, "the fifth ping from its own stream", || {
        Some(rows(&follower_root)).filter(|rows| rows.len() == 5)
    })
    .await;
    assert_eq!(
        rows(&follower_root),
        ["#5", "#4", "#3", "#2", "#1"],
        "no gap mark: the notice took seq 5"
    );
    assert_eq!(status(&follower_root).as_deref(), Some("live"));
    assert_eq!(
        all(&follower_root, "#notices .notice").len(),
        1,
        "shown once"
    );
    follower.destroy();
}

/// Wraps `navigator.locks` so that the browser refuses, a moment later, every request for the
/// lock of a stream whose URL ends in `/refused`, as it does for a sandboxed iframe (an opaque
/// origin) or a document that is not fully active; other requests go to the real one.
fn refuse_locks_for_refused_streams() {
    let install = Function::new_no_args(
        "if (!window.refusingLocks) {
            window.refusingLocks = true;
            const real = navigator.locks;
            Object.defineProperty(navigator, 'locks', {
                configurable: true,
                value: {
                    request(name, options, callback) {
                        if (!name.endsWith('/refused')) {
                            return real.request(name, options, callback);
                        }
                        return new Promise((_, reject) => setTimeout(() => reject(
                            new DOMException('refused by the test', 'SecurityError'))));
                    },
                },
            });
        }",
    );
    install
        .call0(&JsValue::NULL)
        .expect("install the refusing navigator.locks");
}

#[wasm_bindgen_test]
async fn a_tab_refused_the_lock_holds_a_stream_of_its_own() {
    install_fake_event_source();
    refuse_locks_for_refused_streams();
    let before = sources().len();
    let root = root();
    let props = AppProps {
        stream_url: AttrValue::Static("/fake/refused"),
    };
    let app = Renderer::<App>::with_root_and_props(root.clone(), props).render();
    let stream = wait_for_sources(&root, before + 1).await[before].clone();
    assert_eq!(url_of(&stream), "/fake/refused");
    open(&stream);
    ping(&stream, 1);
    wait_live_with_rows(&root, "live with its own first ping", 1).await;
    app.destroy();
}

/// The size of the page's wasm memory, which grows for every large copy into it and never shrinks.
fn wasm_memory_bytes() -> u32 {
    let memory: WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    memory
        .buffer()
        .unchecked_into::<ArrayBuffer>()
        .byte_length()
}

#[wasm_bindgen_test]
async fn an_oversized_message_from_another_tab_is_ignored_without_being_copied() {
    let name = "pingstream-test/oversized";
    let received = Rc::new(RefCell::new(Vec::new()));
    let channel = TabChannel::open(name, {
        let received = Rc::clone(&received);
        move |message| received.borrow_mut().push(message)
    })
    .expect("a BroadcastChannel");
    let before = wasm_memory_bytes();
    // Another tab posts 32 MiB, then a message that decodes; the channel keeps their order.
    Function::new_with_args(
        "name",
        "const other = new BroadcastChannel(name);
        other.postMessage('x'.repeat(32 << 20));
        other.postMessage('1:!,');
        other.close();",
    )
    .call1(&JsValue::NULL, &name.into())
    .expect("the other tab posts");
    eventually(&root(), "the message after it", || {
        Some(()).filter(|()| !received.borrow().is_empty())
    })
    .await;
    assert_eq!(*received.borrow(), [TabMessage::Silent]);
    let grown = wasm_memory_bytes() - before;
    assert!(grown < 8 << 20, "the wasm memory grew by {grown} B");
    drop(channel);
}

/// Counts what a hook fed.
#[derive(Default, PartialEq)]
struct Fed(u64);

impl Reducible for Fed {
    type Action = ();

    fn reduce(self: Rc<Self>, (): ()) -> Rc<Self> {
        Rc::new(Self(self.0 + 1))
    }
}

/// Properties of [`Probe`].
#[derive(Properties, PartialEq)]
struct ProbeProps {
    url: AttrValue,
    /// Every topic unless given.
    #[prop_or_default]
    selection: Selection,
    /// Who the tab is: anonymous unless given.
    #[prop_or_default]
    identity: AttrValue,
}

/// A page of a build whose event set is `E`: `data-fed` counts the feed's items, `data-status` is
/// the connection.
#[component]
fn Probe<E: EventSet + 'static>(props: &ProbeProps) -> Html {
    let fed = use_reducer(Fed::default);
    let on_feed = Callback::from(fed.dispatcher()).reform(|_: Feed<E>| ());
    let (url, selection) = (props.url.clone(), props.selection.clone());
    let status = use_event_stream::<E>(url, selection, props.identity.clone(), on_feed);
    html! {
        <p data-fed={fed.0.to_string()} data-status={format!("{:?}", status.connection)} />
    }
}

event_set! {
    /// The set of an older build of the page, before notices.
    #[derive(Debug)]
    enum OlderSet { Ping }
}

#[wasm_bindgen_test]
async fn tabs_of_builds_with_different_event_sets_ignore_each_other_and_hold_a_stream_each() {
    install_fake_event_source();
    let before = sources().len();
    let url = AttrValue::Static("/fake/builds");
    let fed = |root: &web_sys::Element| attr(root, "[data-fed]", "data-fed");
    let older_root = root();
    let older = Renderer::<Probe<OlderSet>>::with_root_and_props(
        older_root.clone(),
        ProbeProps {
            url: url.clone(),
            selection: Selection::all(),
            identity: AttrValue::default(),
        },
    )
    .render();
    let older_stream = wait_for_sources(&older_root, before + 1).await[before].clone();
    open(&older_stream);
    ping(&older_stream, 1);
    eventually(&older_root, "the older build's ping", || {
        fed(&older_root).filter(|fed| fed == "1")
    })
    .await;

    // The newer build does not follow the older one's stream: it opens its own.
    let newer_root = root();
    let newer = Renderer::<Probe<AppEvent>>::with_root_and_props(
        newer_root.clone(),
        ProbeProps {
            url: url.clone(),
            selection: Selection::all(),
            identity: AttrValue::default(),
        },
    )
    .render();
    let newer_stream = wait_for_sources(&newer_root, before + 2).await[before + 1].clone();
    assert_eq!(url_of(&newer_stream), "/fake/builds");
    open(&newer_stream);
    for count in 2..=3 {
        ping(&older_stream, count);
    }
    ping(&newer_stream, 1);
    eventually(&newer_root, "the newer build's own ping", || {
        fed(&newer_root).filter(|fed| fed == "1")
    })
    .await;
    eventually(&older_root, "the older build's next pings", || {
        fed(&older_root).filter(|fed| fed == "3")
    })
    .await;
    // Neither was relayed the other's: each fed only what its own stream carried.
    gloo_timers::future::TimeoutFuture::new(100).await;
    assert_eq!(fed(&newer_root).as_deref(), Some("1"));
    assert_eq!(fed(&older_root).as_deref(), Some("3"));
    assert_eq!(sources().len(), before + 2);
    older.destroy();
    newer.destroy();
}

/// The selection of `texts`.
fn selection(texts: &[&str]) -> Selection {
    Selection::parse(texts.iter().copied()).expect("valid selectors")
}

#[wasm_bindgen_test]
async fn tabs_following_the_same_topics_share_a_stream_and_other_topics_get_their_own() {
    install_fake_event_source();
    let before = sources().len();
    let url = AttrValue::Static("/fake/topics");
    let fed = |root: &web_sys::Element| attr(root, "[data-fed]", "data-fed");
    let probe = |selection: Selection| {
        let root = root();
        let probe = Renderer::<Probe<AppEvent>>::with_root_and_props(
            root.clone(),
            ProbeProps {
                url: url.clone(),
                selection,
                identity: AttrValue::default(),
            },
        )
        .render();
        (root, probe)
    };
    let (orders_root, orders) = probe(selection(&["orders/*"]));
    let orders_stream = wait_for_sources(&orders_root, before + 1).await[before].clone();
    assert_eq!(url_of(&orders_stream), "/fake/topics?topic=orders%2F*");
    open(&orders_stream);
    notice_on(&orders_stream, "paid", "info", id(3), "orders/1", 1);
    eventually(&orders_root, "the first tab's notice", || {
        fed(&orders_root).filter(|fed| fed == "1")
    })
    .await;

    // A second tab on the same topics follows the first one's stream.
    let (same_root, same) = probe(selection(&["orders/*"]));
    eventually(&same_root, "the leader's recent notice", || {
        fed(&same_root).filter(|fed| fed == "1")
    })
    .await;
    // Tabs on other topics, and on every topic, hold a stream each.
    let (users_root, users) = probe(selection(&["users/*"]));
    let (all_root, all_topics) = probe(Selection::all());
    let streams = wait_for_sources(&all_root, before + 3).await[before + 1..].to_vec();
    // In the order their tabs were refused the lock, which the browser decides.
    let on = |url: &str| {
        streams
            .iter()
            .find(|stream| url_of(stream) == url)
            .unwrap_or_else(|| panic!("no stream at {url}"))
            .clone()
    };
    let (users_stream, all_stream) = (on("/fake/topics?topic=users%2F*"), on("/fake/topics"));
    for stream in &streams {
        open(stream);
    }
    notice_on(&users_stream, "signed up", "info", id(4), "users/7", 1);
    ping(&all_stream, 5);
    notice_on(&orders_stream, "shipped", "info", id(6), "orders/1", 2);
    eventually(&same_root, "the relayed second notice", || {
        fed(&same_root).filter(|fed| fed == "2")
    })
    .await;
    eventually(&users_root, "the users' notice", || {
        fed(&users_root).filter(|fed| fed == "1")
    })
    .await;
    eventually(&all_root, "the ping", || {
        fed(&all_root).filter(|fed| fed == "1")
    })
    .await;
    // Nobody was relayed another subscription's events.
    gloo_timers::future::TimeoutFuture::new(100).await;
    for (root, expected) in [
        (&orders_root, "2"),
        (&same_root, "2"),
        (&users_root, "1"),
        (&all_root, "1"),
    ] {
        assert_eq!(fed(root).as_deref(), Some(expected));
    }
    assert_eq!(
        sources().len(),
        before + 3,
        "three subscriptions, three streams"
    );
    for probe in [orders, same, users, all_topics] {
        probe.destroy();
    }
}

#[wasm_bindgen_test]
async fn tabs_of_two_people_hold_a_stream_each_and_never_feed_each_other() {
    install_fake_event_source();
    let before = sources().len();
    let url = AttrValue::Static("/fake/people");
    let fed = |root: &web_sys::Element| attr(root, "[data-fed]", "data-fed");
    let probe = |identity: &'static str| {
        let root = root();
        let props = ProbeProps {
            url: url.clone(),
            selection: Selection::all(),
            identity: AttrValue::Static(identity),
        };
        let probe = Renderer::<Probe<AppEvent>>::with_root_and_props(root.clone(), props).render();
        (root, probe)
    };
    let (alice_root, alice) = probe("a11ce000");
    let alice_stream = wait_for_sources(&alice_root, before + 1).await[before].clone();
    open(&alice_stream);
    notice_on(
        &alice_stream,
        "for alice",
        "info",
        id(3),
        "users/alice/inbox",
        1,
    );
    eventually(&alice_root, "alice's notice", || {
        fed(&alice_root).filter(|fed| fed == "1")
    })
    .await;

    // Bob's tab, in the same browser, on the same URL and topics: a stream of its own, opened
    // with his cookie, and nothing of Alice's, recent or live.
    let (bob_root, bob) = probe("b0b00000");
    let bob_stream = wait_for_sources(&bob_root, before + 2).await[before + 1].clone();
    open(&bob_stream);
    notice_on(
        &alice_stream,
        "alice again",
        "info",
        id(4),
        "users/alice/inbox",
        2,
    );
    eventually(&alice_root, "alice's second notice", || {
        fed(&alice_root).filter(|fed| fed == "2")
    })
    .await;
    gloo_timers::future::TimeoutFuture::new(100).await;
    assert_eq!(
        fed(&bob_root).as_deref(),
        Some("0"),
        "bob was fed alice's events"
    );
    // A second tab of Alice's follows her stream.
    let (again_root, again) = probe("a11ce000");
    eventually(&again_root, "alice's recent notices", || {
        fed(&again_root).filter(|fed| fed == "2")
    })
    .await;
    assert_eq!(sources().len(), before + 2, "two people, two streams");
    for probe in [alice, bob, again] {
        probe.destroy();
    }
}

/// Types `text` into the page's topics box under `root`, as a person does, then leaves it.
fn follow_topics(root: &web_sys::Element, text: &str) {
    Function::new_with_args(
        "root, text",
        "const input = root.querySelector('#topics');
        input.value = text;
        input.dispatchEvent(new Event('change', { bubbles: true }));",
    )
    .call2(&JsValue::NULL, root, &text.into())
    .expect("the topics box takes the text");
}

#[wasm_bindgen_test]
async fn the_topics_box_follows_the_typed_topics_on_a_stream_of_their_own() {
    install_fake_event_source();
    let before = sources().len();
    let root = root();
    let props = AppProps {
        stream_url: AttrValue::Static("/fake/box"),
    };
    let app = Renderer::<App>::with_root_and_props(root.clone(), props).render();
    let everything = wait_for_sources(&root, before + 1).await[before].clone();
    open(&everything);
    assert_eq!(all(&root, "#topic-feed").len(), 0, "nothing followed yet");

    follow_topics(&root, "orders/*");
    let orders = wait_for_sources(&root, before + 2).await[before + 1].clone();
    assert_eq!(url_of(&orders), "/fake/box?topic=orders%2F*");
    open(&orders);
    notice_on(&orders, "Order 42 paid", "warning", id(7), "orders/42", 3);
    // The page's own stream carries it too: every topic.
    notice_on(
        &everything,
        "Order 42 paid",
        "warning",
        id(7),
        "orders/42",
        3,
    );
    let row = eventually(&root, "the notice on its topic", || {
        text(&root, "#topic-feed .notice__text[data-topic='orders/42']")
    })
    .await;
    assert_eq!(
        row, "Order 42 paid",
        "the topic is written before it by the style sheet"
    );
    assert_eq!(
        attr(&root, "#topic-feed", "data-status").as_deref(),
        Some("live")
    );
    eventually(&root, "the notice in the main list", || {
        text(&root, "#notices .notice__text")
    })
    .await;

    // Something that is not a selector: marked, and nothing followed.
    follow_topics(&root, "orders//*");
    eventually(&root, "the box marked invalid", || {
        attr(&root, "#topics", "aria-invalid").filter(|invalid| invalid == "true")
    })
    .await;
    assert_eq!(all(&root, "#topic-feed").len(), 0);
    assert_eq!(ready_state(&orders), 2, "its stream is closed");

    // Two selectors, separated by a space.
    follow_topics(&root, "users/7 orders/*");
    let both = wait_for_sources(&root, before + 3).await[before + 2].clone();
    assert_eq!(url_of(&both), "/fake/box?topic=users%2F7&topic=orders%2F*");
    assert_eq!(attr(&root, "#topics", "aria-invalid"), None, "valid again");
    follow_topics(&root, "");
    eventually(&root, "nothing followed", || {
        Some(()).filter(|()| all(&root, "#topic-feed").is_empty())
    })
    .await;
    assert_eq!(ready_state(&both), 2);
    assert_eq!(ready_state(&everything), 1, "the page's own stream stays");
    app.destroy();
}

/// Starts recording, in `window.pingRowChanges`, every change under the ping list of `root`
/// that is not the addition of a row: text or attributes changed inside a row, or a row removed.
fn record_ping_row_changes(root: &web_sys::Element) {
    Function::new_with_args(
        "root",
        "const list = root.querySelector('#pings');
        const log = (window.pingRowChanges = []);
        const added = [];
        new MutationObserver((records) => {
            for (const record of records) {
                if (record.type === 'childList' && record.target === list) {
                    added.push(...record.addedNodes);
                    if (record.removedNodes.length) log.push('removed a row');
                } else if (!added.some((row) => row.contains(record.target))) {
                    log.push(record.type + ' in ' + (record.target.parentElement || record.target).outerHTML);
                }
            }
        }).observe(list, { childList: true, subtree: true, attributes: true, characterData: true });",
    )
    .call1(&JsValue::NULL, root)
    .expect("the recorder is installed");
}

fn ping_row_changes() -> Vec<String> {
    let window = web_sys::window().expect("a window");
    let log = js_sys::Reflect::get(&window, &"pingRowChanges".into()).expect("the recorder");
    js_sys::Array::from(&log)
        .iter()
        .filter_map(|change| change.as_string())
        .collect()
}

#[wasm_bindgen_test]
async fn a_new_ping_adds_a_row_and_a_chart_point_and_leaves_the_other_rows_alone() {
    install_fake_event_source();
    let before = sources().len();
    let root = root();
    let props = AppProps {
        stream_url: AttrValue::Static("/fake/rows"),
    };
    let app = Renderer::<App>::with_root_and_props(root.clone(), props).render();
    let stream = wait_for_sources(&root, before + 1).await[before].clone();
    open(&stream);
    for count in 1..=10 {
        ping(&stream, count);
    }
    wait_live_with_rows(&root, "ten pings", 10).await;
    assert_eq!(
        attr(&root, "#latency", "data-points").as_deref(),
        Some("10")
    );

    record_ping_row_changes(&root);
    ping(&stream, 11);
    eventually(&root, "the eleventh point", || {
        attr(&root, "#latency", "data-points").filter(|points| points == "11")
    })
    .await;
    assert_eq!(rows(&root).len(), 11);
    assert!(
        text(&root, "[data-count='11'] .ping__latency").is_some_and(|shown| shown.ends_with(" ms")),
        "the new row shows its latency"
    );
    assert_eq!(
        ping_row_changes(),
        [] as [String; 0],
        "only a row was added"
    );
    app.destroy();
}
