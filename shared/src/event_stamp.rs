//! The SSE `id:` of every event: its place in the run (the [`EventId`], which a client resumes
//! after) and its place on its topic (the topic and that topic's own number), in one string,
//! since an `id:` is the one field of an event besides its name and data that a browser hands to
//! the page (`MessageEvent.lastEventId`).

use std::{fmt, str::FromStr};

use crate::{EventId, ParseEventIdError, Topic};

/// What an event's `id:` says: `<epoch>-<seq>:<topic>:<topic seq>`, e.g.
/// `9f3c2a1b7d4e5f60-42:orders/42:7`: event 42 of the run, the 7th on `orders/42`.
///
/// `id` orders every event of the run (one sequence over all topics, so one cursor resumes any
/// subscription); `topic_seq` counts the events of one topic (1, 2, 3, … with no hole), so a
/// client that follows a topic by its exact name can check it for gaps itself. Both are given
/// in one atomic step by whoever numbers events (the hub alone, or Redis in a cluster).
///
/// A browser sends the whole text back as `Last-Event-ID`; the server reads only its `id` part
/// ([`EventStamp::cursor`]), which also accepts a bare [`EventId`].
///
/// # Examples
/// ```
/// use shared::{Epoch, EventId, EventStamp};
///
/// let stamp = EventStamp {
///     id: EventId { epoch: Epoch(0x9f3c_2a1b_7d4e_5f60), seq: 42 },
///     topic: "orders/42".parse().unwrap(),
///     topic_seq: 7,
/// };
/// assert_eq!(stamp.to_string(), "9f3c2a1b7d4e5f60-42:orders/42:7");
/// assert_eq!("9f3c2a1b7d4e5f60-42:orders/42:7".parse(), Ok(stamp.clone()));
/// assert_eq!(EventStamp::cursor("9f3c2a1b7d4e5f60-42:orders/42:7"), Ok(stamp.id));
/// assert_eq!(EventStamp::cursor("9f3c2a1b7d4e5f60-42"), Ok(stamp.id));
/// assert!(EventStamp::cursor("9f3c2a1b7d4e5f60-42:orders//42:7").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventStamp {
    /// The event's place in the run: what a client resumes after.
    pub id: EventId,
    /// The event's topic.
    pub topic: Topic,
    /// The event's place on its topic in this run: 1, 2, 3, …
    pub topic_seq: u64,
}

impl EventStamp {
    /// The longest text [`EventStamp::from_str`] reads.
    pub const MAX_LEN: usize = EventId::MAX_LEN + 1 + Topic::MAX_LEN + 1 + 20;

    /// The [`EventId`] a `Last-Event-ID` names: a whole stamp (what browsers send back) or a
    /// bare id (what `?lastEventId=` carries, and what older clients send).
    ///
    /// # Errors
    /// When the text is neither, spelled exactly as the server writes it.
    pub fn cursor(text: &str) -> Result<EventId, ParseEventIdError> {
        if text.len() > Self::MAX_LEN {
            return Err(ParseEventIdError::TooLong);
        }
        if text.contains(':') {
            text.parse::<Self>().map(|stamp| stamp.id)
        } else {
            text.parse()
        }
    }
}

impl fmt::Display for EventStamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.id, self.topic, self.topic_seq)
    }
}

impl FromStr for EventStamp {
    type Err = ParseEventIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() > Self::MAX_LEN {
            return Err(ParseEventIdError::TooLong);
        }
        let mut parts = text.split(':');
        let (Some(id), Some(topic), Some(topic_seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ParseEventIdError::Malformed);
        };
        // One spelling: digits only, no leading zero, no sign.
        if topic_seq.is_empty()
            || !topic_seq.bytes().all(|b| b.is_ascii_digit())
            || (topic_seq.len() > 1 && topic_seq.starts_with('0'))
        {
            return Err(ParseEventIdError::Malformed);
        }
        Ok(Self {
            id: id.parse()?,
            topic: topic.parse().map_err(|_| ParseEventIdError::Malformed)?,
            topic_seq: topic_seq
                .parse()
                .map_err(|_| ParseEventIdError::Malformed)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_are_malformed() {
        for bad in [
            "9f3c2a1b7d4e5f60-42:",
            "9f3c2a1b7d4e5f60-42:a",
            "9f3c2a1b7d4e5f60-42:a:",
            "9f3c2a1b7d4e5f60-42:a:07",
            "9f3c2a1b7d4e5f60-42:a:+7",
            "9f3c2a1b7d4e5f60-42:a:7:",
            "9f3c2a1b7d4e5f60-42::7",
            "9f3c2a1b7d4e5f60-042:a:7",
            ":a:7",
            "9f3c2a1b7d4e5f60-42:a b:7",
        ] {
            assert_eq!(
                bad.parse::<EventStamp>(),
                Err(ParseEventIdError::Malformed),
                "{bad:?}"
            );
            assert!(EventStamp::cursor(bad).is_err(), "{bad:?}");
        }
        let huge = format!("0000000000000001-1:{}:1", "a".repeat(300));
        assert_eq!(EventStamp::cursor(&huge), Err(ParseEventIdError::TooLong));
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::*;
        use crate::Epoch;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn every_stamp_round_trips(epoch: u64, seq: u64, topic in "[a-z0-9]{1,8}(/[a-z0-9._~-]{1,8}){0,7}", topic_seq: u64) {
                let stamp = EventStamp {
                    id: EventId { epoch: Epoch(epoch), seq },
                    topic: topic.parse().unwrap(),
                    topic_seq,
                };
                let text = stamp.to_string();
                prop_assert!(text.len() <= EventStamp::MAX_LEN);
                prop_assert_eq!(EventStamp::cursor(&text), Ok(stamp.id));
                prop_assert_eq!(text.parse::<EventStamp>(), Ok(stamp));
            }

            #[test]
            fn any_text_is_read_without_panic_and_only_in_its_one_spelling(text in "[0-9a-f:/-]{0,48}") {
                if let Ok(stamp) = text.parse::<EventStamp>() {
                    prop_assert_eq!(stamp.to_string(), text);
                }
            }
        }
    }
}
