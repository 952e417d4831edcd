//! Every replica's one reader of the shared stream: a blocking `XREAD` loop that relays each
//! entry into the local hub, under an id built from the entry itself.
//!
//! Whoever can write to Redis bypasses every check of the publish API, so the reader relays only
//! what the publish API could have published ([`RelayRules`]): a name of this build's event set,
//! data no larger than a publish body, that is the event's JSON and keeps the event's own rules
//! (the app's check). Anything else is skipped, with a warning and a count by reason
//! (`pingstream_redis_entries_skipped_total{reason}`; never by name: names read from Redis are
//! unbounded). Skipping costs nothing in correctness: with topics, holes in `seq` are normal,
//! and a topic's own numbers show its subscribers the skipped event. An entry without a topic
//! (written by a build from before topics) is skipped too; so is an event a newer build added,
//! during a rolling upgrade: upgrade every replica before the new ones publish new events.
//!
//! It starts from the beginning of what Redis retains, so the local history mirrors the stream
//! and a client resuming here with another replica's id is answered from it. It reads one entry
//! after another, so the hub sees the stream in order, whatever replica ticked.

use std::time::Duration;

use std::borrow::Cow;

use redis::streams::{StreamId, StreamReadReply};
use shared::{Epoch, EventId, EventStamp};
use tokio_util::sync::CancellationToken;

use super::{backoff::Backoff, keys, link::MasterLink};
use crate::{
    metrics::Metrics,
    stream::{Hub, Payload, Upstream},
};

/// How long one `XREAD` waits for a new entry. When it comes back empty the reader checks that
/// the stream was not started afresh underneath it.
pub(super) const BLOCK: Duration = Duration::from_secs(1);
/// Most entries one `XREAD` returns (a replica catching up reads the history in such batches).
const BATCH: usize = 500;

/// What the reader may relay to browsers, given by the app (the engine names no event).
#[derive(Debug, Clone, Copy)]
pub struct RelayRules {
    /// The names of the app's event set.
    pub names: &'static [&'static str],
    /// The largest data relayed, in bytes (the publish API's body limit).
    pub max_bytes: usize,
    /// Whether `data` is the JSON of the event named `name` and keeps its rules.
    pub check: fn(&str, &str) -> bool,
}

/// Why an entry was not relayed: the `reason` label of `pingstream_redis_entries_skipped_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    /// Not an event at all: a field missing or malformed, a line break in the name or data.
    Malformed,
    /// A name outside the event set.
    UnknownEvent,
    /// Data larger than a publish body.
    TooLarge,
    /// Data that is not the event's JSON, or breaks its rules.
    InvalidEvent,
}

impl Skipped {
    /// The metric label.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownEvent => "unknown_event",
            Self::TooLarge => "too_large",
            Self::InvalidEvent => "invalid_event",
        }
    }
}

/// The last entry this replica has read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    /// Its stream entry id, where the next `XREAD` starts (`0-0`: from the beginning).
    entry: String,
    /// Its event id, `None` before the first.
    last: Option<EventId>,
    /// The run being read from the start, whose entries alone are relayed: a stream fenced by
    /// a failover holds the old run's entries, then the new run's, and the new run's first
    /// entries may have ids below where this replica had read to.
    only: Option<Epoch>,
}

impl Cursor {
    fn start() -> Self {
        Self {
            entry: "0-0".into(),
            last: None,
            only: None,
        }
    }

    /// Back to the start of the stream, to read the run `epoch` from its first entry, keeping
    /// the last id relayed (what was relayed is never relayed again).
    fn restart_for(&mut self, epoch: Epoch) {
        self.entry = "0-0".into();
        self.only = Some(epoch);
    }
}

/// Reads the stream into `hub` until `shutdown` fires, reconnecting with backoff whenever Redis
/// is unreachable (the hub is degraded meanwhile, its clients stay connected).
pub(super) async fn run(
    link: MasterLink,
    hub: Hub,
    rules: RelayRules,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    let mut cursor = Cursor::start();
    let mut backoff = Backoff::new();
    let mut failing = false;
    // Whether to check that the stream was not started afresh before reading on: after any
    // trouble (Redis may have restarted without its data) and whenever the stream is idle.
    let mut check = false;
    loop {
        let step = read(&link, &mut cursor, check);
        let result = tokio::select! {
            () = shutdown.cancelled() => break,
            result = step => result,
        };
        match result {
            Ok(entries) => {
                if failing {
                    tracing::info!(after = %cursor.entry, "Redis answers again; reading the stream on");
                    failing = false;
                }
                hub.set_degraded(Upstream::Reader, false);
                backoff.reset();
                check = entries.is_empty();
                feed(&hub, &rules, &metrics, &mut cursor, entries);
            }
            Err(err) => {
                if failing {
                    tracing::debug!(%err, "still cannot read the stream");
                } else {
                    tracing::warn!(%err, "Redis trouble: cannot read the stream; clients stay connected, retrying with backoff");
                    failing = true;
                }
                hub.set_degraded(Upstream::Reader, true);
                check = true;
                if !backoff.wait(&shutdown).await {
                    break;
                }
            }
        }
    }
    tracing::debug!("stream reader stopped");
}

/// One blocking read after `cursor`, first moving the cursor back to the start if `check` finds
/// that the stream's epoch is no longer the one read so far.
async fn read(
    link: &MasterLink,
    cursor: &mut Cursor,
    check: bool,
) -> redis::RedisResult<Vec<StreamId>> {
    if check && let Some(last) = cursor.last {
        let epoch: Option<String> = link.query(redis::cmd("GET").arg(keys::EPOCH)).await?;
        let current = epoch.and_then(|epoch| epoch.parse::<Epoch>().ok());
        if current != Some(last.epoch) {
            tracing::warn!(
                last = %last,
                "the shared stream started a new run (Redis lost its data, or a failover fenced off a master that may have lost some); reading the new run from its start"
            );
            match current {
                Some(epoch) => cursor.restart_for(epoch),
                // Not written yet: read whatever comes first.
                None => *cursor = Cursor::start(),
            }
        }
    }
    let block_ms = u64::try_from(BLOCK.as_millis()).unwrap_or(u64::MAX);
    let xread = redis::cmd("XREAD")
        .arg("COUNT")
        .arg(BATCH)
        .arg("BLOCK")
        .arg(block_ms)
        .arg("STREAMS")
        .arg(keys::STREAM)
        .arg(&cursor.entry)
        .clone();
    let reply: Option<StreamReadReply> = link.query(&xread).await?;
    Ok(reply
        .into_iter()
        .flat_map(|reply| reply.keys)
        .flat_map(|key| key.ids)
        .collect())
}

/// Relays `entries` into the hub in order and moves the cursor past them.
fn feed(
    hub: &Hub,
    rules: &RelayRules,
    metrics: &Metrics,
    cursor: &mut Cursor,
    entries: Vec<StreamId>,
) {
    let mut newest_ms = None;
    for entry in entries {
        cursor.entry.clone_from(&entry.id);
        let (stamp, payload) = match parse_entry(&entry, rules) {
            Ok(event) => event,
            Err(skipped) => {
                tracing::warn!(entry = %entry.id, reason = skipped.reason(), "skipping a stream entry that may not be relayed");
                metrics.count_redis_entry_skipped(skipped.reason());
                continue;
            }
        };
        let id = stamp.id;
        if cursor.only.is_some_and(|only| only != id.epoch) {
            // Another run than the one being read from its start.
            continue;
        }
        if cursor.last.is_some_and(|last| last.epoch != id.epoch) && cursor.only != Some(id.epoch) {
            // A new run begins here, and its first entries may lie behind the cursor (a fenced
            // failover goes on from the promoted replica's seq): read it from the start.
            tracing::warn!(from = %id, "the shared stream started a new run; reading it from its start");
            cursor.restart_for(id.epoch);
            break;
        }
        if cursor
            .last
            .is_some_and(|last| last.epoch == id.epoch && last.seq >= id.seq)
        {
            // Already relayed (cannot happen while entry ids increase; guards the hub's rule).
            continue;
        }
        cursor.last = Some(id);
        // The run read from its start has begun: later runs are read as they come.
        cursor.only = None;
        newest_ms = entry.get::<i64>("ms").or(newest_ms);
        hub.relay(stamp, &payload);
    }
    if let Some(ms) = newest_ms {
        // `ms` is when the publishing replica sent the entry, by its clock; the lag is how long
        // ago that was, by this one's (replicas' clocks are assumed close, as NTP keeps them).
        let lag_ms = chrono::Utc::now().timestamp_millis().saturating_sub(ms);
        metrics.set_stream_read_lag(Duration::from_millis(u64::try_from(lag_ms).unwrap_or(0)));
    }
}

/// The stamp and payload of a stream entry `<seq>-0` with fields `epoch` (16 hex digits),
/// `event` (the name), `data` (the JSON), `topic` and `tseq` (the topic's number), if `rules`
/// let it be relayed.
fn parse_entry(entry: &StreamId, rules: &RelayRules) -> Result<(EventStamp, Payload), Skipped> {
    let field = |name: &str| -> Option<&[u8]> {
        match entry.map.get(name)? {
            redis::Value::BulkString(bytes) => Some(bytes),
            _ => None,
        }
    };
    let text = |name: &str| std::str::from_utf8(field(name)?).ok();
    let data = field("data").ok_or(Skipped::Malformed)?;
    // Checked before anything is copied out of the entry.
    if data.len() > rules.max_bytes {
        return Err(Skipped::TooLarge);
    }
    let name = text("event").ok_or(Skipped::Malformed)?;
    let Some(name) = rules.names.iter().copied().find(|known| *known == name) else {
        return Err(Skipped::UnknownEvent);
    };
    let parse = || -> Option<(EventStamp, Payload)> {
        let seq: u64 = entry.id.strip_suffix("-0")?.parse().ok()?;
        let epoch: Epoch = text("epoch")?.parse().ok()?;
        let topic: shared::Topic = text("topic")?.parse().ok()?;
        let topic_seq: u64 = text("tseq")?.parse().ok()?;
        let payload = Payload {
            name: Cow::Borrowed(name),
            topic: topic.clone(),
            data: std::str::from_utf8(data).ok()?.to_owned(),
        };
        let stamp = EventStamp {
            id: EventId { epoch, seq },
            topic,
            topic_seq,
        };
        payload.is_well_formed().then_some((stamp, payload))
    };
    let (stamp, payload) = parse().ok_or(Skipped::Malformed)?;
    if !(rules.check)(name, &payload.data) {
        return Err(Skipped::InvalidEvent);
    }
    Ok((stamp, payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn entry(id: &str, fields: &[(&str, &str)]) -> StreamId {
        StreamId {
            id: id.into(),
            map: fields
                .iter()
                .map(|(key, value)| {
                    (
                        (*key).to_owned(),
                        redis::Value::BulkString(value.as_bytes().to_vec()),
                    )
                })
                .collect::<HashMap<_, _>>(),
            ..StreamId::default()
        }
    }

    const EPOCH: &str = "9f3c2a1b7d4e5f60";

    /// The tests' rules: four names, 64 bytes, any JSON object.
    const RULES: RelayRules = RelayRules {
        names: &["ping", "notice", "e", "test"],
        max_bytes: 64,
        check: |_, data| {
            data.starts_with('{') && serde_json::from_str::<serde_json::Value>(data).is_ok()
        },
    };

    #[test]
    fn an_entry_gives_the_id_and_payload_every_replica_derives_alike() {
        let parsed = parse_entry(
            &entry(
                "42-0",
                &[
                    ("epoch", EPOCH),
                    ("event", "notice"),
                    ("data", r#"{"text":"hi"}"#),
                    ("ms", "1700000000123"),
                    ("topic", "orders/42"),
                    ("tseq", "7"),
                ],
            ),
            &RULES,
        )
        .unwrap();
        assert_eq!(parsed.0.to_string(), "9f3c2a1b7d4e5f60-42:orders/42:7");
        assert_eq!(parsed.1.name, "notice");
        assert_eq!(parsed.1.data, r#"{"text":"hi"}"#);
    }

    #[test]
    fn only_known_names_with_small_valid_data_are_relayed_and_each_skip_has_its_reason() {
        let entry_with = |name: &str, data: &str| {
            entry(
                "7-0",
                &[
                    ("epoch", EPOCH),
                    ("event", name),
                    ("data", data),
                    ("topic", "t"),
                    ("tseq", "1"),
                ],
            )
        };
        let big = format!("{{\"x\":\"{}\"}}", "y".repeat(100));
        for (name, data, skipped) in [
            ("from-a-newer-replica", "{}", Skipped::UnknownEvent),
            ("a\"b\n", "{}", Skipped::UnknownEvent),
            ("notice", big.as_str(), Skipped::TooLarge),
            ("notice", "not json", Skipped::InvalidEvent),
            ("notice", "[1]", Skipped::InvalidEvent),
        ] {
            assert_eq!(
                parse_entry(&entry_with(name, data), &RULES).err(),
                Some(skipped),
                "{name:?} {data:?}"
            );
        }
        assert!(parse_entry(&entry_with("notice", "{}"), &RULES).is_ok());
    }

    #[test]
    fn entries_that_are_not_events_are_refused() {
        let good = [
            ("epoch", EPOCH),
            ("event", "ping"),
            ("data", "{}"),
            ("topic", "ping"),
            ("tseq", "3"),
        ];
        let with = |field: &str, value: &'static str| {
            good.iter()
                .map(|&(key, old)| (key, if key == field { value } else { old }))
                .collect::<Vec<_>>()
        };
        let without = |field: &str| {
            good.iter()
                .copied()
                .filter(|(key, _)| *key != field)
                .collect::<Vec<_>>()
        };
        for (id, fields) in [
            ("42-1", good.to_vec()),
            ("x-0", good.to_vec()),
            ("42-0", with("epoch", "9f3c")),
            ("42-0", with("epoch", "9f3c2a1b7d4e5f6z")),
            ("42-0", with("event", "")),
            ("42-0", with("event", "pi\nng")),
            ("42-0", with("data", "{\n}")),
            ("42-0", without("epoch")),
            ("42-0", without("event")),
            ("42-0", without("data")),
            ("42-0", without("topic")),
            ("42-0", without("tseq")),
            ("42-0", with("topic", "a//b")),
            ("42-0", with("tseq", "x")),
        ] {
            let bad = entry(id, &fields);
            assert!(parse_entry(&bad, &RULES).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn feeding_skips_what_was_read_already_and_counts_what_is_not_an_event() {
        let hub_metrics = Metrics::new();
        let hub = Hub::new(
            crate::stream::HubSettings::for_tests(10, 10),
            hub_metrics.clone(),
        );
        let mut cursor = Cursor::start();
        let event = |id: &str| {
            entry(
                id,
                &[
                    ("epoch", "00000000000000ab"),
                    ("event", "ping"),
                    ("data", "{}"),
                    ("topic", "ping"),
                    ("tseq", "1"),
                ],
            )
        };
        let reader_metrics = Metrics::new();
        feed(
            &hub,
            &RULES,
            &reader_metrics,
            &mut cursor,
            vec![event("1-0"), event("2-0")],
        );
        feed(
            &hub,
            &RULES,
            &reader_metrics,
            &mut cursor,
            vec![event("2-0"), entry("3-0", &[("epoch", "00000000000000ab")])],
        );
        assert_eq!(cursor.entry, "3-0");
        assert_eq!(
            hub.status().last_id,
            Some(EventId {
                epoch: Epoch(0xab),
                seq: 2
            })
        );
        // Event 2, read twice, was relayed once; entry 3 was skipped and counted.
        let published = hub_metrics.render();
        assert!(
            published
                .lines()
                .any(|line| line == "pingstream_events_published_total{event=\"ping\"} 2"),
            "{published}"
        );
        assert!(
            reader_metrics.render().lines().any(
                |line| line == "pingstream_redis_entries_skipped_total{reason=\"malformed\"} 1"
            )
        );
    }

    #[test]
    fn a_new_run_whose_first_ids_lie_behind_the_cursor_is_read_from_its_start() {
        let hub = Hub::new(
            crate::stream::HubSettings::for_tests(10, 10),
            Metrics::new(),
        );
        let metrics = Metrics::new();
        let event = |id: &str, epoch: &str| {
            entry(
                id,
                &[
                    ("epoch", epoch),
                    ("event", "e"),
                    ("data", "{}"),
                    ("topic", "t"),
                    ("tseq", "1"),
                ],
            )
        };
        let (old, new) = ("00000000000000aa", "00000000000000bb");
        let mut cursor = Cursor::start();
        // The old master: 1-5, all relayed.
        let old_run: Vec<_> = (1..=5).map(|seq| event(&format!("{seq}-0"), old)).collect();
        feed(&hub, &RULES, &metrics, &mut cursor, old_run);
        // The promoted replica had only 1-3, and fenced its next writes with a new epoch: 4, 5
        // and 6 of the new run. Reading on after 5-0 finds 6 first.
        feed(&hub, &RULES, &metrics, &mut cursor, vec![event("6-0", new)]);
        assert_eq!(cursor.entry, "0-0", "back to the start for the new run");
        let promoted: Vec<_> = (1..=3)
            .map(|seq| event(&format!("{seq}-0"), old))
            .chain((4..=6).map(|seq| event(&format!("{seq}-0"), new)))
            .collect();
        feed(&hub, &RULES, &metrics, &mut cursor, promoted);
        let mut subscription = hub
            .subscribe(
                crate::stream::Resume::After(EventId {
                    epoch: Epoch(0xcc),
                    seq: 0,
                }),
                shared::Selection::all(),
                crate::stream::Reader::anonymous(),
            )
            .unwrap();
        let mut relayed = Vec::new();
        use futures_util::{FutureExt as _, StreamExt as _};
        while let Some(Some(event)) = subscription.next().now_or_never() {
            let text = crate::stream::hub::wire_text(event);
            if let Some(id) = text.lines().find_map(|line| line.strip_prefix("id: ")) {
                let stamp: EventStamp = id.parse().unwrap();
                relayed.push(stamp.id.to_string());
            }
        }
        assert_eq!(
            relayed,
            [format!("{new}-4"), format!("{new}-5"), format!("{new}-6")]
        );
        // And a third run later is read too.
        feed(
            &hub,
            &RULES,
            &metrics,
            &mut cursor,
            vec![event("7-0", "00000000000000dd")],
        );
        assert_eq!(cursor.entry, "0-0");
    }
}
