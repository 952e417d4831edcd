//! The server's own event: one tick of its clock.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, de::MapAccess};

use crate::{
    StreamEvent,
    object::{self, Fields, Time},
};

/// One tick of the server's clock, as sent in an event's `data:` line.
///
/// JSON: `{"count":1,"time":"2026-11-25T09:00:00.123456Z"}`: `time` is RFC 3339 in UTC with
/// microsecond precision and a `Z` suffix.
///
/// # Examples
/// ```
/// use chrono::{TimeZone, Utc};
/// use shared::Ping;
///
/// let time = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap();
/// let ping = Ping { count: 1, time };
/// let json = serde_json::to_string(&ping).unwrap();
/// assert_eq!(json, r#"{"count":1,"time":"2026-11-25T09:00:00.000000Z"}"#);
/// // Any RFC 3339 offset is read, and normalised to UTC.
/// let back: Ping = serde_json::from_str(r#"{"count":1,"time":"2026-11-25T10:00:00+01:00"}"#).unwrap();
/// assert_eq!(back, ping);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ping {
    /// The ping's own counter: 1 for a run's first ping, then one more for each ping after it.
    /// Not the event's position in the stream (other events come between pings): that is the
    /// [`crate::EventId`]'s `seq`.
    pub count: u64,
    /// When the server published this ping.
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub time: DateTime<Utc>,
}

/// A ping's fields as read so far.
#[derive(Default)]
struct PingFields {
    count: Option<u64>,
    time: Option<Time>,
}

impl<'de> Fields<'de> for PingFields {
    type Value = Ping;
    const WHAT: &'static str = "a ping";

    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "count" => self.count = Some(map.next_value()?),
            "time" => self.time = Some(map.next_value()?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn finish(self) -> Option<Ping> {
        Some(Ping {
            count: self.count?,
            time: self.time?.0,
        })
    }
}

/// Read field by field (`object.rs`), as serde would derive it but for arrays.
impl<'de> Deserialize<'de> for Ping {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        object::read::<D, PingFields>(deserializer)
    }
}

impl StreamEvent for Ping {
    const NAME: &'static str = "ping";
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ping_at_nine() -> Ping {
        let time = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap()
            + chrono::Duration::milliseconds(123);
        Ping { count: 1, time }
    }

    #[test]
    fn json_shape_is_pinned() {
        let json = serde_json::to_string(&ping_at_nine()).unwrap();
        assert_eq!(json, r#"{"count":1,"time":"2026-11-25T09:00:00.123000Z"}"#);
    }

    #[test]
    fn whole_seconds_still_carry_microseconds() {
        let time = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap();
        let json = serde_json::to_string(&Ping { count: 7, time }).unwrap();
        assert_eq!(json, r#"{"count":7,"time":"2026-11-25T09:00:00.000000Z"}"#);
    }

    #[test]
    fn json_round_trips() {
        let ping = ping_at_nine();
        let back: Ping = serde_json::from_str(&serde_json::to_string(&ping).unwrap()).unwrap();
        assert_eq!(back, ping);
    }

    #[test]
    fn offsets_are_normalised_to_utc() {
        let ping: Ping =
            serde_json::from_str(r#"{"count":3,"time":"2026-11-25T10:00:00.123+01:00"}"#).unwrap();
        assert_eq!(
            ping,
            Ping {
                count: 3,
                ..ping_at_nine()
            }
        );
    }

    #[test]
    fn malformed_payloads_are_errors_not_panics() {
        for bad in [
            "",
            "{}",
            r#"{"count":-1,"time":"2026-11-25T09:00:00.123Z"}"#,
            r#"{"count":1,"time":"yesterday"}"#,
            r#"{"count":"1","time":"2026-11-25T09:00:00.123Z"}"#,
            "[1,2]",
        ] {
            assert!(
                serde_json::from_str::<Ping>(bad).is_err(),
                "{bad:?} should not parse"
            );
        }
    }
}
