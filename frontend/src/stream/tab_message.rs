//! What the tabs of one browser say to each other over their `BroadcastChannel`, and its text
//! form.
//!
//! The leader relays what its `EventSource` delivered as it delivered it (the raw `data` and
//! `lastEventId`), and every tab decodes that exactly as it would decode its own stream, so a
//! follower and a leader cannot disagree about a ping. Messages come from other tabs, possibly
//! running another build of the page: anything that does not decode is ignored.
//!
//! The text form is a list of netstrings (`<length>:<bytes>,`), the first naming the message:
//! unambiguous whatever the relayed data holds, and a few lines of code where a serde format
//! cost the page 6 KB (gzipped) for the same job.

use shared::{EventId, Ping};

use crate::state::{Action, MAX_ENTRIES};

/// The longest message text [`TabMessage::decode`] looks at, in bytes; the
/// [`TabChannel`](crate::tab_channel::TabChannel) does not even copy a longer string out of
/// JavaScript. A snapshot of the most recent pings is a few KiB.
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

/// A decimal `u32` in its one spelling: digits only, no leading zero.
fn number(text: &str) -> Option<u32> {
    let canonical = !text.is_empty()
        && text.bytes().all(|byte| byte.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// A ping event as the browser delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPing {
    /// The event's `data`, a JSON `Ping` unless the server misbehaved.
    pub data: String,
    /// The event's `lastEventId`: empty or an `EventId`, unless the server misbehaved.
    pub id: String,
}

impl RawPing {
    /// A valid ping event of count `count` in the stream of epoch `epoch` (16 hex digits), as the
    /// unit tests of every module that keeps or relays pings build them.
    #[cfg(test)]
    pub(crate) fn example(epoch: &str, count: u64) -> Self {
        Self {
            data: format!(r#"{{"count":{count},"time":"2026-11-25T09:00:00.000Z"}}"#),
            id: format!("{epoch}-{count}"),
        }
    }

    /// The ping and its id: `data` must be a JSON [`Ping`]; the id is kept only if it parses as
    /// an [`EventId`] (the ping itself is still good without it).
    ///
    /// # Errors
    /// When `data` is not a [`Ping`]; the caller counts it as malformed.
    pub fn decode(&self) -> Result<(Ping, Option<EventId>), serde_json::Error> {
        let ping = serde_json::from_str(&self.data)?;
        Ok((ping, self.id.parse().ok()))
    }

    /// Appends the ping's two fields, `data` then `id`, as netstrings.
    fn write(&self, text: &mut String) {
        push(text, &self.data);
        push(text, &self.id);
    }

    /// The ping whose fields [`RawPing::write`] wrote.
    fn read(data: &str, id: &str) -> Self {
        Self {
            data: data.to_owned(),
            id: id.to_owned(),
        }
    }
}

/// Where the leader's connection stands; every follower's badge shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// The first attempt is under way.
    Connecting,
    /// The stream is open.
    Open,
    /// The stream was lost; an attempt is under way.
    Reconnecting,
    /// The stream was lost; the next attempt is this many seconds away.
    RetryIn(u32),
}

impl Link {
    /// The action that shows this state on a tab's badge; `None` for a first attempt, which every
    /// tab shows from the start.
    pub fn action(self) -> Option<Action> {
        match self {
            Self::Connecting => None,
            Self::Open => Some(Action::Opened),
            Self::Reconnecting => Some(Action::Reconnecting),
            Self::RetryIn(secs) => Some(Action::RetryIn(secs)),
        }
    }

    fn encode(self) -> String {
        match self {
            Self::Connecting => "c".to_owned(),
            Self::Open => "o".to_owned(),
            Self::Reconnecting => "r".to_owned(),
            Self::RetryIn(secs) => secs.to_string(),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        match text {
            "c" => Some(Self::Connecting),
            "o" => Some(Self::Open),
            "r" => Some(Self::Reconnecting),
            secs => number(secs).map(Self::RetryIn),
        }
    }
}

/// What a tab has to show a new tab (or itself after a reload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Where the stream stands.
    pub link: Link,
    /// The raw `data` of the stream's newest heartbeat: the timing to expect.
    pub heartbeat: Option<String>,
    /// The most recent pings, oldest first.
    pub pings: Vec<RawPing>,
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
        push(text, &self.link.encode());
        push(text, self.heartbeat.as_deref().unwrap_or_default());
        for ping in &self.pings {
            ping.write(text);
        }
    }

    /// Reads `[link, heartbeat, data, id, data, id, ...]`; keeps at most the newest
    /// [`MAX_ENTRIES`] pings.
    fn read(fields: &[&str]) -> Option<Self> {
        let [link, heartbeat, pings @ ..] = fields else {
            return None;
        };
        if pings.len() % 2 != 0 {
            return None;
        }
        let skipped = (pings.len() / 2).saturating_sub(MAX_ENTRIES);
        Some(Self {
            link: Link::decode(link)?,
            heartbeat: (!heartbeat.is_empty()).then(|| (*heartbeat).to_owned()),
            pings: pings[skipped * 2..]
                .chunks_exact(2)
                .map(|pair| RawPing::read(pair[0], pair[1]))
                .collect(),
        })
    }
}

/// One message between the tabs sharing a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TabMessage {
    /// Leader: a ping arrived.
    Ping(RawPing),
    /// Leader: a heartbeat arrived; its raw `data`.
    Heartbeat(String),
    /// Leader: the stream's state changed.
    Link(Link),
    /// A new follower asks for the recent pings; the number tells its answer from others'.
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
            Self::Ping(ping) => {
                push(&mut text, "p");
                ping.write(&mut text);
            }
            Self::Heartbeat(data) => {
                push(&mut text, "h");
                push(&mut text, data);
            }
            Self::Link(link) => {
                push(&mut text, "l");
                push(&mut text, &link.encode());
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
            ["p", data, id] => Some(Self::Ping(RawPing::read(data, id))),
            ["h", data] => Some(Self::Heartbeat((*data).to_owned())),
            ["l", link] => Link::decode(link).map(Self::Link),
            ["?", nonce] => number(nonce).map(Self::Hello),
            ["s", nonce, rest @ ..] => Some(Self::Snapshot {
                nonce: number(nonce)?,
                snapshot: Snapshot::read(rest)?,
            }),
            ["!"] => Some(Self::Silent),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use shared::Epoch;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn raw(count: u64) -> RawPing {
        RawPing::example("9f3c2a1b7d4e5f60", count)
    }

    fn snapshot(pings: impl IntoIterator<Item = u64>) -> Snapshot {
        Snapshot {
            link: Link::Open,
            heartbeat: Some(r#"{"interval_ms":1000,"heartbeat_ms":2000}"#.to_owned()),
            pings: pings.into_iter().map(raw).collect(),
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn every_message_survives_encoding() {
        let messages = [
            TabMessage::Ping(raw(1)),
            TabMessage::Ping(RawPing {
                data: "not json, 3:abc, \"quoted\"\nand\u{2028}odd é".to_owned(),
                id: String::new(),
            }),
            TabMessage::Heartbeat(r#"{"interval_ms":1000,"heartbeat_ms":2000}"#.to_owned()),
            TabMessage::Heartbeat(String::new()),
            TabMessage::Link(Link::Connecting),
            TabMessage::Link(Link::Open),
            TabMessage::Link(Link::Reconnecting),
            TabMessage::Link(Link::RetryIn(0)),
            TabMessage::Link(Link::RetryIn(u32::MAX)),
            TabMessage::Hello(0),
            TabMessage::Hello(u32::MAX),
            TabMessage::Snapshot {
                nonce: 42,
                snapshot: snapshot(1..=100),
            },
            TabMessage::Snapshot {
                nonce: 7,
                snapshot: Snapshot {
                    link: Link::RetryIn(3),
                    heartbeat: None,
                    pings: Vec::new(),
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
        assert_eq!(TabMessage::Link(Link::RetryIn(12)).encode(), "1:l,2:12,");
        let ping = RawPing {
            data: "é,".to_owned(),
            id: "a-1".to_owned(),
        };
        assert_eq!(TabMessage::Ping(ping).encode(), "1:p,3:é,,3:a-1,");
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
            "1:p,1:a,",
            "1:p,1:a,1:b,1:c,",
            "1:?,2:-1,",
            "1:?,10:4294967296,",
            "1:?,2:07,",
            "1:?,1:+,",
            "01:!,",
            "1:l,1:x,",
            "2:p,",
            "9:!,",
            "99999999999999999999:!,",
            "2:é,",
            "1:s,1:1,1:o,",
            "1:s,1:1,1:o,0:,1:d,",
            &too_long,
        ] {
            assert_eq!(TabMessage::decode(text), None, "{text:.60}");
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_snapshot_keeps_at_most_the_newest_pings_a_page_shows() {
        let huge = snapshot(1..=(MAX_ENTRIES as u64 * 3));
        let decoded = Snapshot::decode(&huge.encode()).expect("a snapshot");
        assert_eq!(decoded.pings.len(), MAX_ENTRIES);
        assert_eq!(decoded.pings[0], raw(MAX_ENTRIES as u64 * 2 + 1));
        assert_eq!(
            Snapshot::decode(&snapshot(1..=3).encode()),
            Some(snapshot(1..=3))
        );
        assert_eq!(Snapshot::decode("garbage"), None);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn decode_reads_the_ping_and_keeps_only_a_valid_id() {
        let data = r#"{"count":42,"time":"2026-11-25T09:00:00.123Z"}"#;
        let event = |id: &str| RawPing {
            data: data.to_owned(),
            id: id.to_owned(),
        };
        let (ping, id) = event("9f3c2a1b7d4e5f60-42")
            .decode()
            .expect("a valid ping must decode");
        assert_eq!(ping.count, 42);
        assert_eq!(
            id,
            Some(EventId {
                epoch: Epoch(0x9f3c_2a1b_7d4e_5f60),
                count: 42
            })
        );
        let (_, id) = event("")
            .decode()
            .expect("a ping without an id is still a ping");
        assert_eq!(id, None);
        for bad in [
            "",
            "null",
            "{}",
            "[42]",
            r#"{"count":"one"}"#,
            r#"{"count":-1,"time":"2026-11-25T09:00:00Z"}"#,
        ] {
            let garbage = RawPing {
                data: bad.to_owned(),
                id: "9f3c2a1b7d4e5f60-1".to_owned(),
            };
            assert!(garbage.decode().is_err(), "{bad:?}");
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_link_shows_on_the_badge_as_the_same_action() {
        assert_eq!(Link::Connecting.action(), None);
        assert_eq!(Link::Open.action(), Some(Action::Opened));
        assert_eq!(Link::Reconnecting.action(), Some(Action::Reconnecting));
        assert_eq!(Link::RetryIn(3).action(), Some(Action::RetryIn(3)));
    }
}
