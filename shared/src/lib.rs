//! The wire contract between the pingstream server and its browser client, and nothing else.
//!
//! One Server-Sent Events stream lives at [`STREAM_PATH`]. It starts with a `retry:` line and a
//! [`Heartbeat`], then carries pings, each like
//!
//! ```text
//! id: 9f3c2a1b7d4e5f60-42
//! event: ping
//! data: {"count":42,"time":"2026-11-25T09:00:00.123Z"}
//! ```
//!
//! where `event` is [`EVENT_NAME`], `data` is a JSON [`Ping`] and `id` is an [`EventId`]; and,
//! whenever it has been silent for a while, a heartbeat:
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

mod epoch;
mod event_id;
mod heartbeat;
mod ping;
#[cfg(feature = "sse")]
pub mod sse;

pub use epoch::{Epoch, ParseEpochError};
pub use event_id::{EventId, ParseEventIdError};
pub use heartbeat::Heartbeat;
pub use ping::Ping;

/// The SSE `event:` name of every ping; browsers deliver it only to `addEventListener("ping")`.
pub const EVENT_NAME: &str = "ping";

/// The SSE `event:` name of a [`Heartbeat`].
pub const HEARTBEAT_EVENT: &str = "heartbeat";

/// The path of the Server-Sent Events stream.
pub const STREAM_PATH: &str = "/sse";

/// The query parameter that carries the id to resume after, for a new `EventSource` (which
/// cannot send `Last-Event-ID`). The header wins when a request has both. Mercure uses the same
/// name.
pub const LAST_EVENT_ID_PARAM: &str = "lastEventId";

/// The stream's URL under `base` (a path such as [`STREAM_PATH`], or an absolute URL without a
/// query), resuming after `last` when given. An [`EventId`] is made of hex digits, a dash and
/// decimal digits, so it needs no escaping in a URL.
///
/// # Examples
/// ```
/// use shared::{Epoch, EventId, STREAM_PATH, resume_url};
///
/// assert_eq!(resume_url(STREAM_PATH, None), "/sse");
/// let last = EventId { epoch: Epoch(0x9f3c_2a1b_7d4e_5f60), count: 42 };
/// assert_eq!(resume_url(STREAM_PATH, Some(last)), "/sse?lastEventId=9f3c2a1b7d4e5f60-42");
/// ```
pub fn resume_url(base: &str, last: Option<EventId>) -> String {
    match last {
        Some(id) => format!("{base}?{LAST_EVENT_ID_PARAM}={id}"),
        None => base.to_owned(),
    }
}
