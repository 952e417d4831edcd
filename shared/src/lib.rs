//! The wire contract between the pingstream server and its browser client, and nothing else.
//!
//! One Server-Sent Events stream lives at [`STREAM_PATH`]. It starts with a `retry:` line and a
//! `heartbeat` event whose data is the stream's [`Timing`], then carries the events of the
//! [`AppEvent`] set, each like
//!
//! ```text
//! id: 9f3c2a1b7d4e5f60-42
//! event: ping
//! data: {"count":42,"time":"2026-11-25T09:00:00.123Z"}
//!
//! id: 9f3c2a1b7d4e5f60-43
//! event: notice
//! data: {"text":"Deploy at 18:00","level":"warning","time":"2026-11-25T09:00:00.456Z"}
//! ```
//!
//! where `event` is the event's [`StreamEvent::NAME`], `data` its JSON and `id` an [`EventId`]:
//! one sequence over events of every name. Whenever the stream has been silent for a while it
//! carries a heartbeat, which has no id:
//!
//! ```text
//! event: heartbeat
//! data: {"interval_ms":1000,"heartbeat_ms":2000}
//! ```
//!
//! A client resumes after the last id it saw with the `Last-Event-ID` header (browsers send it
//! when they reconnect by themselves) or, from a new `EventSource`, which cannot set headers, with
//! `?lastEventId=<id>` ([`LAST_EVENT_ID_PARAM`], [`resume_url`]). Both sides import these items;
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
mod notice;
mod ping;
mod publishable;
#[cfg(feature = "sse")]
pub mod sse;
mod stream_event;
mod timestamp;
mod timing;

pub use app_event::AppEvent;
pub use epoch::{Epoch, ParseEpochError};
pub use event_id::{EventId, MALFORMED_EVENT_IDS, ParseEventIdError};
pub use notice::{InvalidDraft, Level, Notice, NoticeDraft};
pub use ping::Ping;
pub use publishable::Publishable;
pub use stream_event::{DecodeError, EventSet, StreamEvent};
pub use timing::Timing;

/// For [`event_set!`]: the JSON library the generated code calls, whatever the caller imports.
#[doc(hidden)]
pub use serde_json;

/// The version of this contract beyond its event names: raise it when an event's JSON or the
/// id format changes in a way old pages cannot read. Part of [`EventSet::fingerprint`].
pub const CONTRACT_VERSION: u32 = 2;

/// The path of the Server-Sent Events stream.
pub const STREAM_PATH: &str = "/sse";

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
/// query), resuming after `last` when given. An [`EventId`] is made of hex digits, a dash and
/// decimal digits, so it needs no escaping in a URL.
///
/// # Examples
/// ```
/// use shared::{Epoch, EventId, STREAM_PATH, resume_url};
///
/// assert_eq!(resume_url(STREAM_PATH, None), "/sse");
/// let last = EventId { epoch: Epoch(0x9f3c_2a1b_7d4e_5f60), seq: 42 };
/// assert_eq!(resume_url(STREAM_PATH, Some(last)), "/sse?lastEventId=9f3c2a1b7d4e5f60-42");
/// ```
pub fn resume_url(base: &str, last: Option<EventId>) -> String {
    match last {
        Some(id) => format!("{base}?{LAST_EVENT_ID_PARAM}={id}"),
        None => base.to_owned(),
    }
}
