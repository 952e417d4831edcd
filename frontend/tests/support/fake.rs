//! A scripted `EventSource`: the page's own is replaced by a fake that the tests drive event by
//! event, so a stream can stay open and silent (which no `data:` URL can), and one tab's worth of
//! the app can be told from another's by its source.

use js_sys::{Array, Function, Reflect};
use shared::{EventId, EventStamp, Ping, Start, StreamEvent as _, Timing};
use wasm_bindgen::JsValue;

/// Replaces `window.EventSource` with a fake that records every instance in
/// `window.fakeSources` and does nothing until told to.
pub fn install_fake_event_source() {
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
pub fn sources() -> Vec<JsValue> {
    let window = web_sys::window().expect("a window");
    let sources = Reflect::get(&window, &"fakeSources".into()).expect("the fake is installed");
    Array::from(&sources).iter().collect()
}

/// The URL the fake was opened on.
pub fn url_of(source: &JsValue) -> String {
    Reflect::get(source, &"url".into())
        .ok()
        .and_then(|url| url.as_string())
        .expect("a url")
}

/// The fake's `readyState`: 0 connecting, 1 open, 2 closed.
pub fn ready_state(source: &JsValue) -> u16 {
    Reflect::get(source, &"readyState".into())
        .ok()
        .and_then(|state| state.as_f64())
        .expect("a readyState") as u16
}

/// Runs `body` with the fake as `source`.
pub fn script(source: &JsValue, body: &str) {
    Function::new_with_args("source", body)
        .call1(&JsValue::NULL, source)
        .expect("the script runs");
}

/// The fake opens, as the browser's does when the server answers 200.
pub fn open(source: &JsValue) {
    script(
        source,
        "source.readyState = 1; source.dispatchEvent(new Event('open'));",
    );
}

/// The fake loses its connection and retries by itself, as the browser's does.
pub fn drop_connection(source: &JsValue) {
    script(
        source,
        "source.readyState = 0; source.dispatchEvent(new Event('error'));",
    );
}

/// The fake delivers an event `name` with `data` and `lastEventId` `id`.
pub fn dispatch(source: &JsValue, name: &str, data: &str, id: &str) {
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

/// The `id:` of the event `id`, the `topic_seq`th on `topic`, as the server writes it.
pub fn stamp(id: EventId, topic: &str, topic_seq: u64) -> String {
    let topic = topic.parse().expect("a valid topic");
    EventStamp {
        id,
        topic,
        topic_seq,
    }
    .to_string()
}

/// A ping with `count`, whose id is `id`: the `count`th event on the topic `ping`.
pub fn ping_with_id(source: &JsValue, count: u64, id: EventId) {
    let data = format!(r#"{{"count":{count},"time":"2026-11-25T09:00:00.000Z"}}"#);
    dispatch(source, Ping::NAME, &data, &stamp(id, "ping", count));
}

/// A notice saying `text` at `level`, whose id is `id`: the `topic_seq`th event on `topic`.
pub fn notice_on(
    source: &JsValue,
    text: &str,
    level: &str,
    id: EventId,
    topic: &str,
    topic_seq: u64,
) {
    let data =
        format!(r#"{{"text":"{text}","level":"{level}","time":"2026-11-25T09:00:00.000Z"}}"#);
    dispatch(source, "notice", &data, &stamp(id, topic, topic_seq));
}

/// A heartbeat announcing `interval_ms` for both periods.
pub fn heartbeat(source: &JsValue, interval_ms: u64) {
    opening_heartbeat(source, interval_ms, None);
}

/// [`heartbeat`], saying how the stream starts, as the first one of every stream does.
pub fn opening_heartbeat(source: &JsValue, interval_ms: u64, start: Option<Start>) {
    let timing = Timing {
        interval_ms,
        heartbeat_ms: Some(interval_ms),
        start,
        replayed: 0,
    };
    let data = serde_json::to_string(&timing).expect("a heartbeat serializes");
    dispatch(source, Timing::NAME, &data, "");
}
