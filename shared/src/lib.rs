//! The wire contract between the pingstream server and its browser client, and nothing else.
//!
//! One Server-Sent Events stream lives at [`STREAM_PATH`]. Every event on it looks like
//!
//! ```text
//! id: 9f3c2a1b7d4e5f60-42
//! event: ping
//! data: {"count":42,"time":"2026-11-25T09:00:00.123Z"}
//! ```
//!
//! where `event` is [`EVENT_NAME`], `data` is a JSON [`Ping`] and `id` is an [`EventId`]. Both
//! sides import these items; neither writes the literals itself.

mod event_id;
mod ping;

pub use event_id::{EventId, ParseEventIdError};
pub use ping::Ping;

/// The SSE `event:` name of every ping; browsers deliver it only to `addEventListener("ping")`.
pub const EVENT_NAME: &str = "ping";

/// The path of the Server-Sent Events stream.
pub const STREAM_PATH: &str = "/sse";
