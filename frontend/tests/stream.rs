//! `use_event_stream` in headless Chromium, through the whole [`App`], against streams that need
//! no server: `data:` URLs, which the browser's `EventSource` fetches like any other URL.

mod support;

use frontend::{App, AppProps};
use shared::{Notice, Ping, StreamEvent as _, Timing};
use support::{all, attr, eventually, root, rows, text};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use yew::{AttrValue, Renderer};

wasm_bindgen_test_configure!(run_in_browser);

/// A URL whose response is `body`, served as `content_type`.
fn data_url(content_type: &str, body: &str) -> AttrValue {
    let body = String::from(js_sys::encode_uri_component(body));
    format!("data:{content_type},{body}").into()
}

fn event(id: &str, name: &str, data: &str) -> String {
    format!("id: {id}\nevent: {name}\ndata: {data}\n\n")
}

fn ping_event(id: &str, count: u64) -> String {
    let data = format!(r#"{{"count":{count},"time":"2026-11-25T09:00:00.000Z"}}"#);
    event(id, Ping::NAME, &data)
}

/// Wraps the page's `EventSource` constructor so that tests can see every source the app opens:
/// `window.openedSources` lists them in order.
fn record_event_sources() {
    let install = js_sys::Function::new_no_args(
        "if (!window.openedSources) {
            window.openedSources = [];
            const Original = window.EventSource;
            window.EventSource = class extends Original {
                constructor(...args) { super(...args); window.openedSources.push(this); }
            };
        }",
    );
    install
        .call0(&JsValue::NULL)
        .expect("install the EventSource recorder");
}

/// The `readyState` of every `EventSource` opened since the recorder was installed.
fn ready_states() -> Vec<u16> {
    let window = web_sys::window().expect("a window");
    let sources = js_sys::Reflect::get(&window, &"openedSources".into()).expect("the recorder");
    js_sys::Array::from(&sources)
        .iter()
        .map(|source| {
            let state = js_sys::Reflect::get(&source, &"readyState".into()).expect("readyState");
            state.as_f64().expect("a number") as u16
        })
        .collect()
}

/// The first heartbeat of a stream that says how it `start`s (`fresh`, `exact`, `reset`), with
/// timings long enough that the page never takes the test's stream for a stalled one.
fn opening(start: &str) -> String {
    let data = format!(r#"{{"interval_ms":600000,"heartbeat_ms":null,"start":"{start}"}}"#);
    format!("event: {}\ndata: {data}\n\n", Timing::NAME)
}

#[wasm_bindgen_test]
async fn both_events_are_decoded_with_marks_from_the_stamps_and_malformed_ones_are_counted() {
    let notice =
        r#"{"text":"Deploy at 18:00","level":"critical","time":"2026-11-25T09:00:00.000Z"}"#;
    let body = [
        // Keep the browser from reconnecting while the test looks.
        "retry: 600000\n\n".to_owned(),
        ping_event("00000000000000aa-1:ping:1", 1),
        event("00000000000000aa-2:notices:1", Notice::NAME, notice),
        // Pings 2 and 3 never came.
        ping_event("00000000000000aa-5:ping:4", 2),
        event("00000000000000aa-6:ping:5", Ping::NAME, "not json"),
        event(
            "00000000000000aa-7:notices:2",
            Notice::NAME,
            r#"{"count":3}"#,
        ),
        event("00000000000000aa-8:ping:6", Ping::NAME, "[]"),
        // Neither another event name nor an unnamed `message` event is one of the set.
        "event: other\ndata: {\"count\":99,\"time\":\"2026-11-25T09:00:00.000Z\"}\n\n".to_owned(),
        "data: {\"count\":98,\"time\":\"2026-11-25T09:00:00.000Z\"}\n\n".to_owned(),
        // A new epoch, which no opening heartbeat announced (the stream's Redis failed over).
        ping_event("00000000000000bb-1:ping:1", 1),
    ]
    .concat();
    let root = root();
    let props = AppProps {
        stream_url: data_url("text/event-stream", &body),
    };
    let app = Renderer::<App>::with_root_and_props(root.clone(), props).render();

    eventually(&root, "three malformed events", || {
        attr(&root, "#malformed", "data-malformed").filter(|count| count == "3")
    })
    .await;
    eventually(&root, "the last ping", || {
        Some(rows(&root)).filter(|rows| rows.len() == 5)
    })
    .await;
    assert_eq!(rows(&root), ["#1", "reset", "#2", "gap 2", "#1"]);
    assert_eq!(
        attr(&root, "#received", "data-received").as_deref(),
        Some("3")
    );
    let notices = all(&root, "#notices .notice");
    assert_eq!(notices.len(), 1, "the malformed notice is not shown");
    assert_eq!(
        text(&root, "#notices .notice__text").as_deref(),
        Some("Deploy at 18:00")
    );
    assert_eq!(
        attr(&root, "#notices .notice", "data-level").as_deref(),
        Some("critical")
    );
    assert_eq!(
        text(&root, "#alert").as_deref(),
        Some("Deploy at 18:00"),
        "a critical notice is announced"
    );
    // The body ended: the browser is waiting to reconnect by itself, with no countdown of ours.
    eventually(&root, "the reconnecting badge", || {
        attr(&root, "#status", "data-status").filter(|status| status == "reconnecting")
    })
    .await;
    assert_eq!(attr(&root, "[data-retry-in]", "data-retry-in"), None);
    app.destroy();
}

#[wasm_bindgen_test]
async fn gaps_come_from_each_topics_numbers_resets_from_the_opening_heartbeat_and_repeats_from_ids()
{
    let body = [
        "retry: 600000\n\n".to_owned(),
        opening("fresh"),
        ping_event("00000000000000aa-1:ping:1", 1),
        // seq 2 to 4 went to topics this stream does not carry (or to the notices, which it
        // does: its own numbers say none of them was missed).
        event(
            "00000000000000aa-3:notices:1",
            Notice::NAME,
            r#"{"text":"first","level":"info","time":"2026-11-25T09:00:00.000Z"}"#,
        ),
        ping_event("00000000000000aa-5:ping:2", 2),
        // The same id again, and an older one: repeats, whatever they carry.
        ping_event("00000000000000aa-5:ping:2", 20),
        ping_event("00000000000000aa-4:ping:9", 90),
        // Pings 3 and 4 never came.
        ping_event("00000000000000aa-9:ping:5", 5),
        // The stream starts over (a real server says so only at the start of a stream, such as
        // the browser's own reconnection): in the same run, the server no longer held what came
        // after the cursor (the ping topic's numbers jump, which is then no gap mark)...
        opening("reset"),
        ping_event("00000000000000aa-40:ping:30", 30),
        // ... and after a restart, whose new run gets no second mark.
        opening("reset"),
        ping_event("00000000000000bb-1:ping:1", 1),
        // Resumed exactly: nothing to mark, though seq jumps.
        opening("exact"),
        ping_event("00000000000000bb-7:ping:2", 2),
        // An id that does not parse: shown, not judged.
        ping_event("00000000000000bb-8", 3),
    ]
    .concat();
    let root = root();
    let props = AppProps {
        stream_url: data_url("text/event-stream", &body),
    };
    let app = Renderer::<App>::with_root_and_props(root.clone(), props).render();
    let shown = eventually(&root, "the last ping", || {
        Some(rows(&root)).filter(|rows| rows.first().is_some_and(|row| row == "#3"))
    })
    .await;
    assert_eq!(
        shown,
        [
            "#3", "#2", "#1", "reset", "#30", "reset", "#5", "gap 2", "#2", "#1"
        ]
    );
    assert_eq!(
        attr(&root, "#received", "data-received").as_deref(),
        Some("7")
    );
    assert_eq!(all(&root, "#notices .notice").len(), 1);
    app.destroy();
}

#[wasm_bindgen_test]
async fn a_stream_the_browser_gives_up_on_is_reopened_with_a_growing_countdown() {
    record_event_sources();
    let opened_before = ready_states().len();
    let root = root();
    // Not text/event-stream: the browser closes the EventSource for good.
    let props = AppProps {
        stream_url: data_url("text/plain", "not a stream"),
    };
    let app = Renderer::<App>::with_root_and_props(root.clone(), props).render();

    let first = eventually(&root, "a countdown", || {
        attr(&root, "[data-retry-in]", "data-retry-in")
    })
    .await;
    assert_eq!(first, "1", "the first retry comes within a second");
    assert_eq!(
        attr(&root, "#status", "data-status").as_deref(),
        Some("reconnecting")
    );
    // Waits double from 0.5 s and lose up to half to jitter: 0.25-0.5 s, 0.5-1 s, 1-2 s, ... so
    // only the third wait or a later one can show 2 s, after a third EventSource failed too.
    eventually(&root, "a countdown of two seconds or more", || {
        attr(&root, "[data-retry-in]", "data-retry-in")
            .and_then(|secs| secs.parse::<u32>().ok())
            .filter(|&secs| secs >= 2)
    })
    .await;
    let opened = ready_states().len() - opened_before;
    assert!(
        opened >= 3,
        "each retry opens a new EventSource, saw {opened}"
    );
    app.destroy();
}

#[wasm_bindgen_test]
async fn unmounting_closes_the_event_source() {
    const CONNECTING: u16 = 0;
    const CLOSED: u16 = 2;
    record_event_sources();
    let root = root();
    let body = format!(
        "retry: 600000\n\n{}",
        ping_event("00000000000000aa-1:ping:1", 1)
    );
    let props = AppProps {
        stream_url: data_url("text/event-stream", &body),
    };
    let app = Renderer::<App>::with_root_and_props(root.clone(), props).render();

    eventually(&root, "the ping", || {
        attr(&root, "#received", "data-received").filter(|n| n == "1")
    })
    .await;
    // The body ended; the browser keeps the source and waits to reconnect.
    let ours = ready_states().len() - 1;
    eventually(&root, "the source waiting to reconnect", || {
        ready_states()
            .get(ours)
            .copied()
            .filter(|&state| state == CONNECTING)
    })
    .await;
    app.destroy();
    eventually(&root, "the source closed", || {
        ready_states()
            .get(ours)
            .copied()
            .filter(|&state| state == CLOSED)
    })
    .await;
    assert_eq!(
        ready_states().len(),
        ours + 1,
        "nothing was opened after unmounting"
    );
}

#[wasm_bindgen_test]
async fn a_stream_the_server_refuses_for_good_is_closed_without_more_attempts() {
    record_event_sources();
    let opened_before = ready_states().len();
    let root = root();
    // The test runner's server answers 404 here: a final answer.
    let props = AppProps {
        stream_url: AttrValue::Static("/no/such/stream"),
    };
    let app = Renderer::<App>::with_root_and_props(root.clone(), props).render();
    eventually(&root, "the closed badge", || {
        attr(&root, "#status", "data-status").filter(|status| status == "closed")
    })
    .await;
    assert_eq!(attr(&root, "[data-retry-in]", "data-retry-in"), None);
    // Long enough for the first retry of a stream worth retrying (0.25-0.5 s): none comes.
    gloo_timers::future::TimeoutFuture::new(1_000).await;
    assert_eq!(ready_states().len() - opened_before, 1, "one attempt only");
    assert_eq!(
        attr(&root, "#status", "data-status").as_deref(),
        Some("closed")
    );
    app.destroy();
}
