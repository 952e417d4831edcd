//! The stream's timing: what every `heartbeat` event carries (the stream sends one when it has
//! nothing else to say), and what tells the page how often it must hear from the server. The
//! type is named for what it holds, the event for what it does.

use serde::{Deserialize, Deserializer, Serialize, de::MapAccess};

use crate::{
    Start, StreamEvent,
    object::{self, Fields},
};

/// [`Timing::start`] read from its word: what serde derives for an optional enum costs the page
/// about 0.2 KB of wasm more than matching three words (the page's budget: README "Page
/// weight"). A word this build does not know (a newer server's) says nothing, like an absent
/// one, rather than making the whole heartbeat unreadable.
struct StartWord(Option<Start>);

impl<'de> Deserialize<'de> for StartWord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self(match String::deserialize(deserializer)?.as_str() {
            "fresh" => Some(Start::Fresh),
            "exact" => Some(Start::Exact),
            "reset" => Some(Start::Reset),
            _ => None,
        }))
    }
}

/// A heartbeat's fields as read so far.
#[derive(Default)]
struct TimingFields {
    interval_ms: Option<u64>,
    heartbeat_ms: Option<u64>,
    start: Option<StartWord>,
    replayed: Option<u64>,
}

impl<'de> Fields<'de> for TimingFields {
    type Value = Timing;
    const WHAT: &'static str = "a heartbeat";

    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "interval_ms" => self.interval_ms = Some(map.next_value()?),
            // `null` when heartbeats are off, as when absent.
            "heartbeat_ms" => self.heartbeat_ms = map.next_value()?,
            "start" => self.start = Some(map.next_value()?),
            "replayed" => self.replayed = Some(map.next_value()?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn finish(self) -> Option<Timing> {
        Some(Timing {
            interval_ms: self.interval_ms?,
            heartbeat_ms: self.heartbeat_ms,
            start: self.start.and_then(|start| start.0),
            replayed: self.replayed.unwrap_or_default(),
        })
    }
}

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
/// let heartbeat = Timing { interval_ms: 1000, heartbeat_ms: Some(2000), start: None, replayed: 0 };
/// let json = serde_json::to_string(&heartbeat).unwrap();
/// assert_eq!(json, r#"{"interval_ms":1000,"heartbeat_ms":2000}"#);
/// assert_eq!(serde_json::from_str::<Timing>(&json).unwrap(), heartbeat);
/// // The first heartbeat of a stream also says how it starts, and how many of the events
/// // after it come from history (sent before the stream opened) rather than live.
/// let opening = Timing { start: Some(Start::Exact), replayed: 3, ..heartbeat };
/// assert_eq!(
///     serde_json::to_string(&opening).unwrap(),
///     r#"{"interval_ms":1000,"heartbeat_ms":2000,"start":"exact","replayed":3}"#
/// );
/// assert_eq!(serde_json::from_str::<Timing>(r#"{"interval_ms":1000,"replayed":3}"#).unwrap().replayed, 3);
/// // Heartbeats turned off (`--keep-alive-s 0`): only the pings can be counted on.
/// let off: Timing = serde_json::from_str(r#"{"interval_ms":1000,"heartbeat_ms":null}"#).unwrap();
/// assert_eq!(off.heartbeat_ms, None);
/// // Each start word reads back; one this build does not know says nothing.
/// for start in [Start::Fresh, Start::Exact, Start::Reset] {
///     let json = serde_json::to_string(&Timing { start: Some(start), ..heartbeat }).unwrap();
///     assert_eq!(serde_json::from_str::<Timing>(&json).unwrap().start, Some(start));
/// }
/// let newer = r#"{"interval_ms":1000,"heartbeat_ms":2000,"start":"later"}"#;
/// assert_eq!(serde_json::from_str::<Timing>(newer).unwrap().start, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Timing {
    /// Milliseconds between two pings.
    pub interval_ms: u64,
    /// The longest a stream goes without an event before it is sent a heartbeat, in milliseconds;
    /// `None` when heartbeats are off.
    pub heartbeat_ms: Option<u64>,
    /// Only in the first heartbeat of a stream: how it starts ([`Start`]); `None` (and absent
    /// from the JSON) in every later one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<Start>,
    /// Only in the first heartbeat of a stream: how many of the events that follow it come
    /// from history (the newest event, or those missed since `Last-Event-ID`) rather than live;
    /// 0 (and absent from the JSON) in every later one. A page leaves them out of the delivery
    /// latency it shows: they were sent long before they arrived.
    #[serde(skip_serializing_if = "is_zero")]
    pub replayed: u64,
}

/// Whether `count` is 0: [`Timing::replayed`] is left out of the JSON then.
fn is_zero(count: &u64) -> bool {
    *count == 0
}

/// Read field by field (`object.rs`), as serde would derive it but for arrays.
impl<'de> Deserialize<'de> for Timing {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        object::read::<D, TimingFields>(deserializer)
    }
}

/// A heartbeat is an event of the stream but not of the app's [`crate::AppEvent`] set: it has no
/// id, is never kept in history, and only tells the page how often to expect something.
impl StreamEvent for Timing {
    const NAME: &'static str = "heartbeat";
}
