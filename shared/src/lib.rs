//! The wire contract between the pingstream server and its browser client, and nothing else.
//!
//! One Server-Sent Events stream lives at [`STREAM_PATH`]. It starts with a `retry:` line and a
//! `heartbeat` event whose data is the stream's [`Timing`] and how the stream starts ([`Start`]),
//! then carries the events of the [`AppEvent`] set, each like
//!
//! ```text
//! id: 9f3c2a1b7d4e5f60-42:ping:40
//! event: ping
//! data: {"count":40,"time":"2026-11-25T09:00:00.123456Z"}
//!
//! id: 9f3c2a1b7d4e5f60-43:orders/42:7
//! event: notice
//! data: {"text":"Deploy at 18:00","level":"warning","time":"2026-11-25T09:00:00.456Z"}
//! ```
//!
//! where `event` is the event's [`StreamEvent::NAME`], `data` its JSON and `id` an
//! [`EventStamp`]: the event's [`EventId`] (one sequence over events of every topic and name),
//! its [`Topic`] and that topic's own number. A stream carries the topics its `?topic=`
//! selectors ([`TOPIC_PARAM`], [`Selection`]) ask for, every topic without any. Whenever the
//! stream has been silent for a while it carries a heartbeat, which has no id:
//!
//! ```text
//! event: heartbeat
//! data: {"interval_ms":1000,"heartbeat_ms":2000}
//! ```
//!
//! A client resumes after the last id it saw with the `Last-Event-ID` header (browsers send it
//! when they reconnect by themselves) or, from a new `EventSource`, which cannot set headers, with
//! `?lastEventId=<id>` ([`LAST_EVENT_ID_PARAM`], [`stream_url`]). Both sides import these items;
//! neither writes the literals itself. With the `sse` feature, [`sse`] builds the events as the
//! server sends them (its examples pin their exact bytes).
//!
//! # Adding an event
//! Write its type (`Serialize + Deserialize`, with `impl StreamEvent` naming it) in a module of
//! this crate and list it in [`AppEvent`]. To let publishers outside the server send it through
//! `POST /events/{name}`, also implement [`Publishable`] and list it in the server's
//! `routes/publish.rs`.

mod app_event;
mod epoch;
mod event_id;
mod event_stamp;
mod notice;
mod object;
mod ping;
mod publishable;
mod selector;
#[cfg(feature = "sse")]
pub mod sse;
mod start;
mod stream_event;
mod timestamp;
mod timing;
mod topic;

pub use app_event::AppEvent;
pub use epoch::{Epoch, ParseEpochError};
#[cfg(any(test, feature = "test-util"))]
pub use event_id::MALFORMED_EVENT_IDS;
pub use event_id::{EventId, ParseEventIdError};
pub use event_stamp::EventStamp;
pub use notice::{Level, Notice, NoticeDraft};
pub use ping::Ping;
pub use publishable::{InvalidDraft, Publishable};
pub use selector::{Selection, SelectionError, SelectionKind, Selector};
pub use start::Start;
pub use stream_event::{DecodeError, EventSet, StreamEvent, same_name};
pub use timing::Timing;
pub use topic::{Topic, TopicError};

/// For [`event_set!`]: the JSON library the generated code calls, whatever the caller imports.
#[doc(hidden)]
pub use serde_json;

/// The version of this contract beyond its event names: raise it when an event's JSON or the
/// id format changes in a way old pages cannot read. Part of [`EventSet::fingerprint`].
pub const CONTRACT_VERSION: u32 = 4;

/// The path of the Server-Sent Events stream.
pub const STREAM_PATH: &str = "/sse";

/// Where a browser signs in and out: `GET` says who its subscriber-token cookie is for, `POST`
/// (with `Authorization: Bearer <jwt>`) sets the cookie, `DELETE` clears it.
pub const SESSION_PATH: &str = "/session";

/// Where a browser signs in under a name of its choosing, when the server runs with
/// `--dev-login`: `POST {"sub": "alice"}`.
pub const DEV_SESSION_PATH: &str = "/session/dev";

/// Where a person's own topics are: `users/<sub>/…`, what `--dev-login` grants a name
/// (`users/<sub>/**`) and what the page lists as "your notices".
pub const USER_TOPICS: &str = "users/";

/// The query parameter that names a topic: on the stream, one selector (repeatable: the stream
/// carries the topics any of them matches); on a publish, the event's topic. Mercure uses the
/// same name.
pub const TOPIC_PARAM: &str = "topic";

/// The path under which publishers `POST` events: `/events/{name}`, see [`publish_path`].
pub const PUBLISH_PATH_PREFIX: &str = "/events/";

/// The query parameter that carries the id to resume after, for a new `EventSource` (which
/// cannot send `Last-Event-ID`). The header wins when a request has both. Mercure uses the same
/// name.
pub const LAST_EVENT_ID_PARAM: &str = "lastEventId";

/// Where publishers `POST` an event of type `E`.
///
/// # Examples
/// ```
/// use shared::{Notice, publish_path};
///
/// assert_eq!(publish_path::<Notice>(), "/events/notice");
/// ```
pub fn publish_path<E: StreamEvent>() -> String {
    format!("{PUBLISH_PATH_PREFIX}{}", E::NAME)
}

/// The stream's URL under `base` (a path such as [`STREAM_PATH`], or an absolute URL without a
/// query) for `selection`, resuming after `last` when given. An [`EventId`] is made of hex
/// digits, a dash and decimal digits, so it needs no escaping in a URL.
///
/// # Examples
/// ```
/// use shared::{Epoch, EventId, STREAM_PATH, Selection, stream_url};
///
/// let all = Selection::all();
/// assert_eq!(stream_url(STREAM_PATH, &all, None), "/sse");
/// let last = EventId { epoch: Epoch(0x9f3c_2a1b_7d4e_5f60), seq: 42 };
/// assert_eq!(stream_url(STREAM_PATH, &all, Some(last)), "/sse?lastEventId=9f3c2a1b7d4e5f60-42");
/// let orders = Selection::parse(["orders/*"]).unwrap();
/// assert_eq!(
///     stream_url(STREAM_PATH, &orders, Some(last)),
///     "/sse?topic=orders%2F*&lastEventId=9f3c2a1b7d4e5f60-42"
/// );
/// ```
pub fn stream_url(base: &str, selection: &Selection, last: Option<EventId>) -> String {
    let mut query = selection.query();
    if let Some(id) = last {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&format!("{LAST_EVENT_ID_PARAM}={id}"));
    }
    if query.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{query}")
    }
}

/// [`stream_url`] for every topic.
pub fn resume_url(base: &str, last: Option<EventId>) -> String {
    stream_url(base, &Selection::all(), last)
}
