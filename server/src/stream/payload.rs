//! What the engine carries: an event as its SSE name and its JSON, encoded once by whoever
//! publishes it, and never decoded again on the server.

use std::borrow::Cow;

use shared::EventSet;

/// One event of any kind, ready for the wire but for its id: its SSE `event:` name and its JSON
/// `data:`. The engine moves payloads without knowing which event they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The SSE `event:` name: the app's set's names are `'static`, a name read from Redis is not.
    pub name: Cow<'static, str>,
    /// The event's JSON, on one line.
    pub data: String,
}

impl Payload {
    /// Encodes `event` of the set `E`.
    ///
    /// # Errors
    /// Only if the event cannot be serialized, which the contract's events always can.
    pub fn encode<E: EventSet>(event: &E) -> Result<Self, serde_json::Error> {
        Ok(Self {
            name: Cow::Borrowed(event.name()),
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

    /// Roughly what this event costs in memory while kept in history: its name, its JSON, and
    /// its id and framing (`id: `, `event: `, `data: `, line ends; about 60 bytes).
    pub fn weight(&self) -> usize {
        self.name.len() + self.data.len() + 60
    }
}

#[cfg(test)]
impl Payload {
    /// The engine's test event numbered `n`: `event: test`, `data: {"n":<n>}`.
    pub(crate) fn for_tests(n: u64) -> Self {
        Self {
            name: Cow::Borrowed("test"),
            data: format!(r#"{{"n":{n}}}"#),
        }
    }

    /// The seq and payload of one event's wire text.
    pub(crate) fn parse_test_event(text: &str) -> (u64, Self) {
        let field = |prefix: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(prefix))
                .unwrap_or_else(|| panic!("no {prefix:?} in {text:?}"))
        };
        let id: shared::EventId = field("id: ").parse().expect("an event id");
        let payload = Self {
            name: Cow::Owned(field("event: ").to_owned()),
            data: field("data: ").to_owned(),
        };
        (id.seq, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(name: &str, data: &str) -> Payload {
        Payload {
            name: Cow::Owned(name.into()),
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
