//! An event of the stream as the browser delivered it: what a tab keeps and relays to the others.
//!
//! Kept raw rather than decoded, so that every tab judges it by the same id and decodes it with
//! the same decoder, whichever tab received it from the server; and so that the engine, which
//! relays it, needs to know nothing of what it carries.

use shared::{DecodeError, EventSet, EventStamp, StreamEvent as _, Timing};

use crate::stream::Moment;

/// One event of the stream, as its `EventSource` delivered it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEvent {
    /// Its SSE `event:` name: one of the set's names, unless another tab misbehaved.
    pub name: String,
    /// Its `data`: the event's JSON, unless the server misbehaved.
    pub data: String,
    /// Its `lastEventId`: an [`EventStamp`], unless the server misbehaved.
    pub id: String,
    /// When the tab holding the stream received it live; tabs that are relayed it keep that
    /// time, so every tab shows the same delivery latency. `None` for an event the server
    /// replayed from its history when the stream opened (the opening heartbeat counts them):
    /// when it arrived says nothing of how fast the stream is.
    pub arrived: Option<Moment>,
}

impl RawEvent {
    /// Where the stream started over, `arrived` at that time: its opening heartbeat said
    /// [`shared::Start::Reset`]. Kept among the events (a heartbeat's name, no data, no id) so
    /// that a tab shown them later (a new tab, a reload) marks the reset where this one did.
    pub fn reset(arrived: Moment) -> Self {
        Self {
            name: Timing::NAME.to_owned(),
            data: String::new(),
            id: String::new(),
            arrived: Some(arrived),
        }
    }

    /// Whether it is a [`RawEvent::reset`] rather than an event of the set.
    pub fn is_reset(&self) -> bool {
        self.name == Timing::NAME
    }

    /// Its stamp, if `id` is a valid [`EventStamp`]; an event without one is still shown, but
    /// cannot be judged (a repeat, a gap) or resumed after.
    pub fn stamp(&self) -> Option<EventStamp> {
        self.id.parse().ok()
    }

    /// Decodes it into an event of the set `E`.
    ///
    /// # Errors
    /// When its name is not in the set or its data is not that event's JSON.
    pub fn decode<E: EventSet>(&self) -> Result<E, DecodeError> {
        E::decode(&self.name, &self.data)
    }

    /// A valid event `name` with `data` and the stamp `<epoch>-<seq>:<topic>:<topic_seq>`
    /// (`epoch`: 16 hex digits), arrived at `seq` seconds, as the unit tests of every module that
    /// keeps or relays events build them.
    #[cfg(test)]
    pub(crate) fn on_topic(
        name: &str,
        data: &str,
        epoch: &str,
        seq: u64,
        topic: &str,
        topic_seq: u64,
    ) -> Self {
        Self {
            name: name.to_owned(),
            data: data.to_owned(),
            id: format!("{epoch}-{seq}:{topic}:{topic_seq}"),
            arrived: Some(Moment::from_ms(1_000.0 * seq as f64)),
        }
    }

    /// [`RawEvent::on_topic`] on the topic `t` as the `seq`th event there: the stamp
    /// `<epoch>-<seq>:t:<seq>`, so that every hole in `seq` is a hole in the topic too.
    #[cfg(test)]
    pub(crate) fn example(name: &str, data: &str, epoch: &str, seq: u64) -> Self {
        Self::on_topic(name, data, epoch, seq, "t", seq)
    }

    /// [`RawEvent::example`]: a ping with count `seq` and the stamp `<epoch>-<seq>:t:<seq>`.
    #[cfg(test)]
    pub(crate) fn ping(epoch: &str, seq: u64) -> Self {
        let data = format!(r#"{{"count":{seq},"time":"2026-11-25T09:00:00.000Z"}}"#);
        Self::example("ping", &data, epoch, seq)
    }
}

#[cfg(test)]
mod tests {
    use shared::{AppEvent, Epoch, EventId, Ping};
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    #[wasm_bindgen_test(unsupported = test)]
    fn decodes_into_the_set_and_keeps_only_a_valid_stamp() {
        let ping = RawEvent::ping("9f3c2a1b7d4e5f60", 42);
        assert!(matches!(
            ping.decode::<AppEvent>(),
            Ok(AppEvent::Ping(Ping { count: 42, .. }))
        ));
        assert_eq!(
            ping.stamp(),
            Some(EventStamp {
                id: EventId {
                    epoch: Epoch(0x9f3c_2a1b_7d4e_5f60),
                    seq: 42
                },
                topic: "t".parse().expect("a topic"),
                topic_seq: 42,
            })
        );
        assert!(!ping.is_reset() && RawEvent::reset(Moment::from_ms(1.0)).is_reset());
        for id in [
            "not an id",
            "9f3c2a1b7d4e5f60-42",
            "9f3c2a1b7d4e5f60-42:a//b:1",
            "",
        ] {
            let anonymous = RawEvent {
                id: id.to_owned(),
                ..ping.clone()
            };
            assert_eq!(anonymous.stamp(), None, "{id:?}");
        }
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
