//! What the engine carries: an event as its SSE name, its topic and its JSON, encoded once by
//! whoever publishes it, and never decoded again on the server.

use std::borrow::Cow;

use shared::{EventSet, Topic};

/// One event of any kind, ready for the wire but for its id: its SSE `event:` name, the topic it
/// goes on and its JSON `data:`. The engine moves payloads without knowing which event they are.
///
/// # Examples
/// ```
/// use server::stream::Payload;
/// use shared::{AppEvent, Ping};
///
/// let ping = AppEvent::from(Ping { count: 1, time: chrono::DateTime::UNIX_EPOCH });
/// let payload = Payload::encode(&ping, "ping".parse().unwrap()).unwrap();
/// assert_eq!(payload.name, "ping");
/// assert_eq!(payload.topic.as_str(), "ping");
/// assert_eq!(payload.data, r#"{"count":1,"time":"1970-01-01T00:00:00.000000Z"}"#);
/// assert!(payload.is_well_formed());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The SSE `event:` name: the app's set's names are `'static`, a name read from Redis is not.
    pub name: Cow<'static, str>,
    /// What the event is about: subscribers pick events by it.
    pub topic: Topic,
    /// The event's JSON, on one line.
    pub data: String,
}

impl Payload {
    /// Encodes `event` of the set `E`, on `topic`.
    ///
    /// # Errors
    /// Only if the event cannot be serialized, which the contract's events always can.
    pub fn encode<E: EventSet>(event: &E, topic: Topic) -> Result<Self, serde_json::Error> {
        Ok(Self {
            name: Cow::Borrowed(event.name()),
            topic,
            data: event.to_json()?,
        })
    }

    /// Whether this payload can go on the wire as one SSE event: a name that is not empty and
    /// holds no line break, JSON without line breaks. What the app encodes always is; what is
    /// read from Redis is checked.
    pub fn is_well_formed(&self) -> bool {
        let no_break = |text: &str| !text.contains(['\n', '\r']);
        !self.name.is_empty() && no_break(&self.name) && no_break(&self.data)
    }

    /// Roughly what this event costs in memory while kept in history: its name, its JSON, its
    /// topic (once in the `id:`, once beside the event) and its id and framing (`id: `,
    /// `event: `, `data: `, line ends, numbers; about 80 bytes).
    pub fn weight(&self) -> usize {
        self.name.len() + self.data.len() + 2 * self.topic.as_str().len() + 80
    }
}

#[cfg(test)]
impl Payload {
    /// The engine's test event numbered `n`: `event: test` on topic `test`, `data: {"n":<n>}`.
    pub(crate) fn for_tests(n: u64) -> Self {
        Self::for_tests_on(n, "test")
    }

    /// The engine's test event numbered `n` on `topic`.
    pub(crate) fn for_tests_on(n: u64, topic: &str) -> Self {
        Self {
            name: Cow::Borrowed("test"),
            topic: topic.parse().expect("a test topic"),
            data: format!(r#"{{"n":{n}}}"#),
        }
    }

    /// The stamp and payload of one event's wire text.
    pub(crate) fn parse_stamped_test_event(text: &str) -> (shared::EventStamp, Self) {
        let field = |prefix: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(prefix))
                .unwrap_or_else(|| panic!("no {prefix:?} in {text:?}"))
        };
        let stamp: shared::EventStamp = field("id: ").parse().expect("an event stamp");
        let payload = Self {
            name: Cow::Owned(field("event: ").to_owned()),
            topic: stamp.topic.clone(),
            data: field("data: ").to_owned(),
        };
        (stamp, payload)
    }

    /// The seq and payload of one event's wire text.
    pub(crate) fn parse_test_event(text: &str) -> (u64, Self) {
        let (stamp, payload) = Self::parse_stamped_test_event(text);
        (stamp.id.seq, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(name: &str, data: &str) -> Payload {
        Payload {
            name: Cow::Owned(name.into()),
            topic: "t".parse().unwrap(),
            data: data.into(),
        }
    }

    #[test]
    fn only_names_and_data_without_line_breaks_are_well_formed() {
        assert!(payload("notice", "{}").is_well_formed());
        assert!(payload("a-newer-event", r#"{"x":"\n"}"#).is_well_formed());
        for (name, data) in [
            ("", "{}"),
            ("no\nice", "{}"),
            ("notice", "{\r}"),
            ("n", "{\n}"),
        ] {
            assert!(!payload(name, data).is_well_formed(), "{name:?} {data:?}");
        }
    }
}
