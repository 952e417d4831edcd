//! The stream's timing: what every `heartbeat` event carries (the stream sends one when it has
//! nothing else to say), and what tells the page how often it must hear from the server. The
//! type is named for what it holds, the event for what it does.

use serde::{Deserialize, Serialize};

use crate::{Start, StreamEvent};

/// The stream's timing, sent as the data of every `heartbeat` event: first on every
/// stream (right after its `retry:` line), then whenever the stream has been silent for
/// `heartbeat_ms`.
///
/// A healthy stream carries a ping every `interval_ms`; when pings stop (a replica waiting for
/// Redis), heartbeats go on, so a healthy stream is never silent for longer than `heartbeat_ms`.
/// A page that hears nothing for several times that knows its connection is dead, even when the
/// browser still believes it is open (a half-open TCP connection, a stopped server), and reopens
/// it. Browsers never show SSE comments to JavaScript, which is why this is an event.
///
/// # Examples
/// ```
/// use shared::{Start, Timing};
///
/// let heartbeat = Timing { interval_ms: 1000, heartbeat_ms: Some(2000), start: None };
/// let json = serde_json::to_string(&heartbeat).unwrap();
/// assert_eq!(json, r#"{"interval_ms":1000,"heartbeat_ms":2000}"#);
/// assert_eq!(serde_json::from_str::<Timing>(&json).unwrap(), heartbeat);
/// // The first heartbeat of a stream also says how it starts.
/// let opening = Timing { start: Some(Start::Exact), ..heartbeat };
/// assert_eq!(
///     serde_json::to_string(&opening).unwrap(),
///     r#"{"interval_ms":1000,"heartbeat_ms":2000,"start":"exact"}"#
/// );
/// // Heartbeats turned off (`--keep-alive-s 0`): only the pings can be counted on.
/// let off: Timing = serde_json::from_str(r#"{"interval_ms":1000,"heartbeat_ms":null}"#).unwrap();
/// assert_eq!(off.heartbeat_ms, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// Milliseconds between two pings.
    pub interval_ms: u64,
    /// The longest a stream goes without an event before it is sent a heartbeat, in milliseconds;
    /// `None` when heartbeats are off.
    pub heartbeat_ms: Option<u64>,
    /// Only in the first heartbeat of a stream: how it starts ([`Start`]); `None` (and absent
    /// from the JSON) in every later one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Start>,
}

/// A heartbeat is an event of the stream but not of the app's [`crate::AppEvent`] set: it has no
/// id, is never kept in history, and only tells the page how often to expect something.
impl StreamEvent for Timing {
    const NAME: &'static str = "heartbeat";
}
