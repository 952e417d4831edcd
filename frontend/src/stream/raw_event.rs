//! An event of the stream as the browser delivered it: what a tab keeps and relays to the others.
//!
//! Kept raw rather than decoded, so that every tab judges it by the same id and decodes it with
//! the same decoder, whichever tab received it from the server; and so that the engine, which
//! relays it, needs to know nothing of what it carries.

use shared::{DecodeError, EventId, EventSet};

/// One event of the stream, as its `EventSource` delivered it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEvent {
    /// Its SSE `event:` name: one of the set's names, unless another tab misbehaved.
    pub name: String,
    /// Its `data`: the event's JSON, unless the server misbehaved.
    pub data: String,
    /// Its `lastEventId`: an [`EventId`], unless the server misbehaved.
    pub id: String,
    /// When the tab holding the stream received it, in milliseconds since the Unix epoch; tabs
    /// that are relayed it keep that time, so every tab shows the same delivery latency.
    pub arrived: f64,
}

impl RawEvent {
    /// Its id, if `id` is a valid [`EventId`]; an event without one is still shown, but cannot be
    /// judged a repeat or resumed after.
    pub fn event_id(&self) -> Option<EventId> {
        self.id.parse().ok()
    }

    /// Decodes it into an event of the set `E`.
    ///
    /// # Errors
    /// When its name is not in the set or its data is not that event's JSON.
    pub fn decode<E: EventSet>(&self) -> Result<E, DecodeError> {
        E::decode(&self.name, &self.data)
    }

    /// A valid event `name` with `data` and the id `<epoch>-<seq>` (`epoch`: 16 hex digits),
    /// arrived at `seq` seconds, as the unit tests of every module that keeps or relays events
    /// build them.
    #[cfg(test)]
    pub(crate) fn example(name: &str, data: &str, epoch: &str, seq: u64) -> Self {
        Self {
            name: name.to_owned(),
            data: data.to_owned(),
            id: format!("{epoch}-{seq}"),
            arrived: 1_000.0 * seq as f64,
        }
    }

    /// [`RawEvent::example`]: a ping with count `seq` and the id `<epoch>-<seq>`.
    #[cfg(test)]
    pub(crate) fn ping(epoch: &str, seq: u64) -> Self {
        let data = format!(r#"{{"count":{seq},"time":"2026-11-25T09:00:00.000Z"}}"#);
        Self::example("ping", &data, epoch, seq)
    }
}

#[cfg(test)]
mod tests {
    use shared::{AppEvent, Epoch, Ping};
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    #[wasm_bindgen_test(unsupported = test)]
    fn decodes_into_the_set_and_keeps_only_a_valid_id() {
        let ping = RawEvent::ping("9f3c2a1b7d4e5f60", 42);
        assert!(matches!(
            ping.decode::<AppEvent>(),
            Ok(AppEvent::Ping(Ping { count: 42, .. }))
        ));
        assert_eq!(
            ping.event_id(),
            Some(EventId {
                epoch: Epoch(0x9f3c_2a1b_7d4e_5f60),
                seq: 42
            })
        );
        let anonymous = RawEvent {
            id: "not an id".to_owned(),
            ..ping.clone()
        };
        assert_eq!(anonymous.event_id(), None);
        for (name, data) in [
            ("ping", "not json"),
            (
                "ping",
                r#"{"text":"hi","level":"info","time":"2026-11-25T09:00:00Z"}"#,
            ),
            ("notice", &ping.data),
            ("chat", "{}"),
        ] {
            let bad = RawEvent::example(name, data, "9f3c2a1b7d4e5f60", 1);
            assert!(bad.decode::<AppEvent>().is_err(), "{name} {data}");
        }
    }
}
