//! What the tabs of one browser say to each other over their `BroadcastChannel`, and its text
//! form.
//!
//! The leader relays every event its `EventSource` delivered as it delivered it (a [`RawEvent`]),
//! and every tab judges and decodes that exactly as it would its own stream, so a follower and a
//! leader cannot disagree about an event. Messages come from other tabs, possibly running another
//! build of the page (the hook keeps builds with different event sets apart by the names they
//! share under, and anything that still does not decode is ignored).
//!
//! The text form is a list of netstrings (`<length>:<bytes>,`), the first naming the message:
//! unambiguous whatever the relayed data holds, and a few lines of code where a serde format
//! cost the page 6 KB (gzipped) for the same job.

use crate::stream::{Connection, Moment, raw_event::RawEvent, recent::MAX_EVENTS};

/// The longest message text [`TabMessage::decode`] looks at, in bytes; the
/// [`TabChannel`](crate::stream::tab_channel::TabChannel) does not even copy a longer string out
/// of JavaScript. A snapshot of the most recent events is a few KiB.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// Appends `field` to `text` as a netstring.
fn push(text: &mut String, field: &str) {
    text.push_str(&field.len().to_string());
    text.push(':');
    text.push_str(field);
    text.push(',');
}

/// The fields of a list of netstrings; `None` unless `text` is exactly that.
fn netstrings(mut text: &str) -> Option<Vec<&str>> {
    let mut fields = Vec::new();
    while !text.is_empty() {
        let (length, rest) = text.split_once(':')?;
        let length = usize::try_from(number(length)?).ok()?;
        // `get` refuses a length that ends inside a character.
        fields.push(rest.get(..length)?);
        text = rest.get(length..)?.strip_prefix(',')?;
    }
    Some(fields)
}

/// A decimal `u64` in its one spelling: digits only, no leading zero.
fn number(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|byte| byte.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// A decimal `u32` in its one spelling.
fn small_number(text: &str) -> Option<u32> {
    number(text)?.try_into().ok()
}

/// Appends an event's four fields (name, data, id, arrival in whole microseconds since the Unix
/// epoch, empty for an event replayed from history) as netstrings.
fn write_event(text: &mut String, event: &RawEvent) {
    push(text, &event.name);
    push(text, &event.data);
    push(text, &event.id);
    let arrived = event.arrived.map(|at| at.as_micros().max(0).to_string());
    push(text, arrived.as_deref().unwrap_or_default());
}

/// The event whose fields [`write_event`] wrote.
fn read_event(fields: &[&str]) -> Option<RawEvent> {
    let [name, data, id, arrived] = fields else {
        return None;
    };
    Some(RawEvent {
        name: (*name).to_owned(),
        data: (*data).to_owned(),
        id: (*id).to_owned(),
        arrived: match *arrived {
            "" => None,
            micros => Some(Moment::from_micros(number(micros)?.try_into().ok()?)),
        },
    })
}

/// A [`Connection`] as one field: a letter, or the time of the next try in whole milliseconds.
fn write_connection(text: &mut String, connection: Connection) {
    let field = match connection {
        Connection::Connecting => "c".to_owned(),
        Connection::Live => "l".to_owned(),
        Connection::Stalled => "s".to_owned(),
        Connection::Reconnecting { next_try: None } => "r".to_owned(),
        Connection::Reconnecting { next_try: Some(at) } => {
            (at.as_micros().max(0) / 1000).to_string()
        }
        Connection::Closed => "x".to_owned(),
    };
    push(text, &field);
}

/// The connection [`write_connection`] wrote.
fn read_connection(field: &str) -> Option<Connection> {
    Some(match field {
        "c" => Connection::Connecting,
        "l" => Connection::Live,
        "s" => Connection::Stalled,
        "r" => Connection::Reconnecting { next_try: None },
        "x" => Connection::Closed,
        at => Connection::Reconnecting {
            next_try: Some(Moment::from_micros(
                i64::try_from(number(at)?).ok()?.checked_mul(1000)?,
            )),
        },
    })
}

/// What a tab has to show a new tab (or itself after a reload).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Where the stream stands.
    pub connection: Connection,
    /// The raw `data` of the stream's newest heartbeat: the timing to expect.
    pub heartbeat: Option<String>,
    /// The most recent events, oldest first.
    pub events: Vec<RawEvent>,
}

impl Snapshot {
    /// The snapshot as text: what a reload finds in `sessionStorage`.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        self.write(&mut text);
        text
    }

    /// A snapshot from its text; `None` for anything else.
    pub fn decode(text: &str) -> Option<Self> {
        Self::read(&netstrings(text)?)
    }

    fn write(&self, text: &mut String) {
        write_connection(text, self.connection);
        push(text, self.heartbeat.as_deref().unwrap_or_default());
        for event in &self.events {
            write_event(text, event);
        }
    }

    /// Reads `[connection, heartbeat, (name, data, id, arrived)...]`; keeps at most the newest
    /// [`MAX_EVENTS`] events.
    fn read(fields: &[&str]) -> Option<Self> {
        let [connection, heartbeat, events @ ..] = fields else {
            return None;
        };
        if events.len() % 4 != 0 {
            return None;
        }
        let skipped = (events.len() / 4).saturating_sub(MAX_EVENTS);
        Some(Self {
            connection: read_connection(connection)?,
            heartbeat: (!heartbeat.is_empty()).then(|| (*heartbeat).to_owned()),
            events: events[skipped * 4..]
                .chunks_exact(4)
                .map(read_event)
                .collect::<Option<_>>()?,
        })
    }
}

/// One message between the tabs sharing a stream.
///
/// # Examples
/// ```
/// use frontend::stream::{Moment, raw_event::RawEvent, tab_message::TabMessage};
///
/// let relayed = TabMessage::Event(RawEvent {
///     name: "ping".to_owned(),
///     data: r#"{"count":7,"time":"2026-11-25T09:00:00.000000Z"}"#.to_owned(),
///     id: "9f3c2a1b7d4e5f60-7:ping:7".to_owned(),
///     arrived: Some(Moment::from_micros(1_795_424_400_000_420)),
/// });
/// let text = relayed.encode();
/// assert!(text.starts_with("1:e,4:ping,"));
/// assert_eq!(TabMessage::decode(&text), Some(relayed));
/// // Whatever another tab (or any script) posts that is not a message is ignored.
/// assert_eq!(TabMessage::decode("5:hello,"), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum TabMessage {
    /// Leader: an event arrived.
    Event(RawEvent),
    /// Leader: a heartbeat arrived; its raw `data`.
    Heartbeat(String),
    /// Leader: the connection changed.
    Connection(Connection),
    /// A new follower asks for the recent events; the number tells its answer from others'.
    Hello(u32),
    /// Leader: the answer to `Hello(nonce)`.
    Snapshot {
        /// The `Hello`'s number.
        nonce: u32,
        /// What the leader shows.
        snapshot: Snapshot,
    },
    /// A follower heard nothing for too long: the leader should look at its stream now rather
    /// than when its own timer fires (a background tab's timers may be throttled to once a
    /// minute; its message events are not).
    Silent,
}

impl TabMessage {
    /// The message as text, for `postMessage`.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        match self {
            Self::Event(event) => {
                push(&mut text, "e");
                write_event(&mut text, event);
            }
            Self::Heartbeat(data) => {
                push(&mut text, "h");
                push(&mut text, data);
            }
            Self::Connection(connection) => {
                push(&mut text, "l");
                write_connection(&mut text, *connection);
            }
            Self::Hello(nonce) => {
                push(&mut text, "?");
                push(&mut text, &nonce.to_string());
            }
            Self::Snapshot { nonce, snapshot } => {
                push(&mut text, "s");
                push(&mut text, &nonce.to_string());
                snapshot.write(&mut text);
            }
            Self::Silent => push(&mut text, "!"),
        }
        text
    }

    /// A message from its text; `None` for anything else (too long, malformed, another version).
    pub fn decode(text: &str) -> Option<Self> {
        if text.len() > MAX_MESSAGE_BYTES {
            return None;
        }
        let fields = netstrings(text)?;
        match fields.as_slice() {
            ["e", event @ ..] => read_event(event).map(Self::Event),
            ["h", data] => Some(Self::Heartbeat((*data).to_owned())),
            ["l", connection] => read_connection(connection).map(Self::Connection),
            ["?", nonce] => small_number(nonce).map(Self::Hello),
            ["s", nonce, rest @ ..] => Some(Self::Snapshot {
                nonce: small_number(nonce)?,
                snapshot: Snapshot::read(rest)?,
            }),
            ["!"] => Some(Self::Silent),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    const EPOCH: &str = "9f3c2a1b7d4e5f60";

    fn raw(seq: u64) -> RawEvent {
        RawEvent::ping(EPOCH, seq)
    }

    fn snapshot(seqs: impl IntoIterator<Item = u64>) -> Snapshot {
        Snapshot {
            connection: Connection::Live,
            heartbeat: Some(r#"{"interval_ms":1000,"heartbeat_ms":2000}"#.to_owned()),
            events: seqs.into_iter().map(raw).collect(),
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn every_message_survives_encoding() {
        let messages = [
            TabMessage::Event(raw(1)),
            TabMessage::Event(RawEvent::example(
                "notice",
                r#"{"text":"Deploy at 18:00","level":"warning","time":"2026-11-25T09:00:00.000Z"}"#,
                EPOCH,
                2,
            )),
            TabMessage::Event(RawEvent {
                name: "any name, even 3:abc,".to_owned(),
                data: "not json, 3:abc, \"quoted\"\nand\u{2028}odd é".to_owned(),
                id: String::new(),
                arrived: Some(Moment::from_ms(0.0)),
            }),
            TabMessage::Event(RawEvent {
                arrived: None,
                ..raw(2)
            }),
            TabMessage::Event(RawEvent {
                arrived: Some(Moment::from_ms(1_795_424_400_123.456)),
                ..raw(3)
            }),
            TabMessage::Heartbeat(r#"{"interval_ms":1000,"heartbeat_ms":2000}"#.to_owned()),
            TabMessage::Heartbeat(String::new()),
            TabMessage::Connection(Connection::Connecting),
            TabMessage::Connection(Connection::Live),
            TabMessage::Connection(Connection::Stalled),
            TabMessage::Connection(Connection::Reconnecting { next_try: None }),
            TabMessage::Connection(Connection::Reconnecting {
                next_try: Some(Moment::from_ms(1_795_424_400_123.0)),
            }),
            TabMessage::Connection(Connection::Reconnecting {
                next_try: Some(Moment::from_ms(0.0)),
            }),
            TabMessage::Connection(Connection::Closed),
            TabMessage::Hello(0),
            TabMessage::Hello(u32::MAX),
            TabMessage::Snapshot {
                nonce: 42,
                snapshot: snapshot(1..=100),
            },
            TabMessage::Snapshot {
                nonce: 7,
                snapshot: Snapshot {
                    connection: Connection::Reconnecting {
                        next_try: Some(Moment::from_ms(3_000.0)),
                    },
                    heartbeat: None,
                    events: Vec::new(),
                },
            },
            TabMessage::Silent,
        ];
        for message in messages {
            let text = message.encode();
            assert_eq!(TabMessage::decode(&text), Some(message), "{text}");
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn the_text_form_is_netstrings() {
        assert_eq!(TabMessage::Hello(7).encode(), "1:?,1:7,");
        assert_eq!(TabMessage::Silent.encode(), "1:!,");
        assert_eq!(
            TabMessage::Connection(Connection::Reconnecting {
                next_try: Some(Moment::from_ms(12.0))
            })
            .encode(),
            "1:l,2:12,"
        );
        let event = RawEvent {
            name: "ping".to_owned(),
            data: "é,".to_owned(),
            id: "a-1".to_owned(),
            arrived: Some(Moment::from_ms(1_234.567_4)),
        };
        assert_eq!(
            TabMessage::Event(event.clone()).encode(),
            "1:e,4:ping,3:é,,3:a-1,7:1234567,",
            "the arrival in whole microseconds"
        );
        let replayed = RawEvent {
            arrived: None,
            ..event
        };
        assert_eq!(
            TabMessage::Event(replayed).encode(),
            "1:e,4:ping,3:é,,3:a-1,0:,",
            "no arrival for an event replayed from history"
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn anything_else_is_ignored() {
        let too_long = format!(
            "1:h,{}:{},",
            MAX_MESSAGE_BYTES,
            "x".repeat(MAX_MESSAGE_BYTES)
        );
        for text in [
            "",
            "null",
            r#"{"Hello":7}"#,
            "1:!",
            "1:!,x",
            "1:x,",
            "1:e,1:a,1:b,1:c,",
            "1:e,1:a,1:b,1:c,1:1,1:d,",
            "1:e,1:a,1:b,1:c,2:-1,",
            "1:e,1:a,1:b,1:c,3:1.5,",
            "1:?,2:-1,",
            "1:?,10:4294967296,",
            "1:?,2:07,",
            "1:?,1:+,",
            "01:!,",
            "1:l,1:y,",
            "1:l,2:01,",
            "2:e,",
            "9:!,",
            "99999999999999999999:!,",
            "2:é,",
            "1:s,1:1,1:l,",
            "1:s,1:1,1:l,0:,1:d,",
            "1:s,1:1,1:l,0:,1:a,1:b,1:c,1:x,",
            &too_long,
        ] {
            assert_eq!(TabMessage::decode(text), None, "{text:.60}");
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_snapshot_keeps_at_most_the_newest_events_a_tab_keeps() {
        let huge = snapshot(1..=(MAX_EVENTS as u64 * 3));
        let decoded = Snapshot::decode(&huge.encode()).expect("a snapshot");
        assert_eq!(decoded.events.len(), MAX_EVENTS);
        assert_eq!(decoded.events[0], raw(MAX_EVENTS as u64 * 2 + 1));
        assert_eq!(
            Snapshot::decode(&snapshot(1..=3).encode()),
            Some(snapshot(1..=3))
        );
        assert_eq!(Snapshot::decode("garbage"), None);
    }
}
