//! `use_ping_stream` against a scripted `EventSource`: stall detection, and two tabs' worth of
//! the app in one page sharing one stream (they share it exactly as two tabs do: a Web Lock and a
//! `BroadcastChannel` of the same origin); and the tabs' channel on its own.
//!
//! The page's `EventSource` is replaced by a fake that the tests drive event by event, so a
//! stream can stay open and silent, which no `data:` URL can. Every test of the app in this binary
//! uses it; each follows its own URL, so the lock and channel names differ between tests.

mod support;

use std::{cell::RefCell, rc::Rc};

use frontend::{App, AppProps, tab_channel::TabChannel, tab_message::TabMessage};
use js_sys::{Array, ArrayBuffer, Function, Reflect, WebAssembly};
use shared::{Epoch, EventId, Heartbeat};
use support::{attr, eventually, root, rows};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use yew::{AttrValue, Renderer};

wasm_bindgen_test_configure!(run_in_browser);

/// Replaces `window.EventSource` with a fake that records every instance in
/// `window.fakeSources` and does nothing until told to.
fn install_fake_event_source() {
    let install = Function::new_no_args(
        "if (!window.fakeSources) {
            window.fakeSources = [];
            window.EventSource = class FakeEventSource extends EventTarget {
                constructor(url) {
                    super();
                    this.url = String(url);
                    this.readyState = 0;
                    window.fakeSources.push(this);
                }
                close() { this.readyState = 2; }
            };
        }",
    );
    install
        .call0(&JsValue::NULL)
        .expect("install the fake EventSource");
}

/// Every fake opened so far, in order.
fn sources() -> Vec<JsValue> {
    let window = web_sys::window().expect("a window");
    let sources = Reflect::get(&window, &"fakeSources".into()).expect("the fake is installed");
    Array::from(&sources).iter().collect()
}

fn url_of(source: &JsValue) -> String {
    Reflect::get(source, &"url".into())
        .ok()
        .and_then(|url| url.as_string())
        .expect("a url")
}

fn ready_state(source: &JsValue) -> u16 {
    Reflect::get(source, &"readyState".into())
        .ok()
        .and_then(|state| state.as_f64())
        .expect("a readyState") as u16
}

/// Runs `body` with the fake as `source`.
fn script(source: &JsValue, body: &str) {
    Function::new_with_args("source", body)
        .call1(&JsValue::NULL, source)
        .expect("the script runs");
}

/// The fake opens, as the browser's does when the server answers 200.
fn open(source: &JsValue) {
    script(
        source,
        "source.readyState = 1; source.dispatchEvent(new Event('open'));",
    );
}

/// The fake loses its connection and retries by itself, as the browser's does.
fn drop_connection(source: &JsValue) {
    script(
        source,
        "source.readyState = 0; source.dispatchEvent(new Event('error'));",
    );
}

fn dispatch(source: &JsValue, name: &str, data: &str, id: &str) {
    Function::new_with_args(
        "source, name, data, id",
        "source.dispatchEvent(new MessageEvent(name, { data, lastEventId: id }));",
    )
    .call4(
        &JsValue::NULL,
        source,
        &name.into(),
        &data.into(),
        &id.into(),
    )
    .expect("the event is dispatched");
}

/// The id of the ping with `count`, in every test's stream.
fn id(count: u64) -> EventId {
    EventId {
        epoch: Epoch(0xaa),
        count,
    }
}

/// A ping event with id [`id`]`(count)`.
fn ping(source: &JsValue, count: u64) {
    let data = format!(r#"{{"count":{count},"time":"2026-11-25T09:00:00.000Z"}}"#);
    dispatch(source, shared::EVENT_NAME, &data, &id(count).to_string());
}

/// A heartbeat announcing `interval_ms` for both periods.
fn heartbeat(source: &JsValue, interval_ms: u64) {
    let timing = Heartbeat {
        interval_ms,
        heartbeat_ms: Some(interval_ms),
    };
    let data = serde_json::to_string(&timing).expect("a heartbeat serializes");
    dispatch(source, shared::HEARTBEAT_EVENT, &data, "");
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
    assert_eq!(status(&root).as_deref(), Some("reconnecting"));

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
        shared::resume_url("/fake/shared", Some(id(4)))
    );
    open(&taken);
    heartbeat(&taken, 1_000);
    ping(&taken, 5);
    eventually(&follower_root, "the fifth ping from its own stream", || {
        Some(rows(&follower_root)).filter(|rows| rows.len() == 5)
    })
    .await;
    assert_eq!(rows(&follower_root), ["#5", "#4", "#3", "#2", "#1"]);
    assert_eq!(status(&follower_root).as_deref(), Some("live"));
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
