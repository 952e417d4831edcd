//! Every replica's one reader of the shared stream: a blocking `XREAD` loop that relays each
//! entry into the local hub, under an id built from the entry itself.
//!
//! It relays an entry's name and JSON without decoding them, so an event this replica's build
//! does not know (published by a newer replica during a rolling upgrade) is relayed as it is:
//! skipping it would leave a hole in every client's seq, which they would show as lost events,
//! and a page that has no listener for a name ignores it anyway. Only an entry that is not an
//! event at all (a field missing, a line break in its name or JSON) is skipped, with a warning
//! and a count (`pingstream_redis_entries_skipped_total`); its seq then shows clients a gap.
//!
//! It starts from the beginning of what Redis retains, so the local history mirrors the stream
//! and a client resuming here with another replica's id is answered from it. It reads one entry
//! after another, so the hub sees the stream in order, whatever replica ticked.

use std::time::Duration;

use std::borrow::Cow;

use redis::{
    aio::ConnectionManager,
    streams::{StreamId, StreamReadReply},
};
use shared::{Epoch, EventId};
use tokio_util::sync::CancellationToken;

use super::{backoff::Backoff, keys};
use crate::{
    metrics::Metrics,
    stream::{Hub, Payload, Upstream},
};

/// How long one `XREAD` waits for a new entry. When it comes back empty the reader checks that
/// the stream was not started afresh underneath it.
pub(super) const BLOCK: Duration = Duration::from_secs(1);
/// Most entries one `XREAD` returns (a replica catching up reads the history in such batches).
const BATCH: usize = 500;

/// The last entry this replica has read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    /// Its stream entry id, where the next `XREAD` starts (`0-0`: from the beginning).
    entry: String,
    /// Its event id, `None` before the first.
    last: Option<EventId>,
}

impl Cursor {
    fn start() -> Self {
        Self {
            entry: "0-0".into(),
            last: None,
        }
    }
}

/// Reads the stream into `hub` until `shutdown` fires, reconnecting with backoff whenever Redis
/// is unreachable (the hub is degraded meanwhile, its clients stay connected).
pub(super) async fn run(
    mut conn: ConnectionManager,
    hub: Hub,
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
        let step = read(&mut conn, &mut cursor, check);
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
                feed(&hub, &metrics, &mut cursor, entries);
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
    conn: &mut ConnectionManager,
    cursor: &mut Cursor,
    check: bool,
) -> redis::RedisResult<Vec<StreamId>> {
    if check && let Some(last) = cursor.last {
        let epoch: Option<String> = redis::cmd("GET").arg(keys::EPOCH).query_async(conn).await?;
        if epoch.and_then(|epoch| epoch.parse::<Epoch>().ok()) != Some(last.epoch) {
            tracing::warn!(
                last = %last,
                "the shared stream started afresh (Redis lost its data); reading the new run from its start"
            );
            *cursor = Cursor::start();
        }
    }
    let block_ms = u64::try_from(BLOCK.as_millis()).unwrap_or(u64::MAX);
    let reply: Option<StreamReadReply> = redis::cmd("XREAD")
        .arg("COUNT")
        .arg(BATCH)
        .arg("BLOCK")
        .arg(block_ms)
        .arg("STREAMS")
        .arg(keys::STREAM)
        .arg(&cursor.entry)
        .query_async(conn)
        .await?;
    Ok(reply
        .into_iter()
        .flat_map(|reply| reply.keys)
        .flat_map(|key| key.ids)
        .collect())
}

/// Relays `entries` into the hub in order and moves the cursor past them.
fn feed(hub: &Hub, metrics: &Metrics, cursor: &mut Cursor, entries: Vec<StreamId>) {
    let mut newest_ms = None;
    for entry in entries {
        cursor.entry.clone_from(&entry.id);
        let Some((id, payload)) = parse_entry(&entry) else {
            tracing::warn!(entry = %entry.id, "skipping a stream entry that is not an event");
            metrics.count_redis_entry_skipped();
            continue;
        };
        if cursor
            .last
            .is_some_and(|last| last.epoch == id.epoch && last.seq >= id.seq)
        {
            // Already relayed (cannot happen while entry ids increase; guards the hub's rule).
            continue;
        }
        cursor.last = Some(id);
        newest_ms = entry.get::<i64>("ms").or(newest_ms);
        hub.relay(id, &payload);
    }
    if let Some(ms) = newest_ms {
        // `ms` is when the publishing replica sent the entry, by its clock; the lag is how long
        // ago that was, by this one's (replicas' clocks are assumed close, as NTP keeps them).
        let lag_ms = chrono::Utc::now().timestamp_millis().saturating_sub(ms);
        metrics.set_stream_read_lag(Duration::from_millis(u64::try_from(lag_ms).unwrap_or(0)));
    }
}

/// The id and payload of a stream entry `<seq>-0` with fields `epoch` (16 hex digits), `event`
/// (the name) and `data` (the JSON); `None` for anything else.
fn parse_entry(entry: &StreamId) -> Option<(EventId, Payload)> {
    let seq: u64 = entry.id.strip_suffix("-0")?.parse().ok()?;
    let epoch: Epoch = entry.get::<String>("epoch")?.parse().ok()?;
    let payload = Payload {
        name: Cow::Owned(entry.get("event")?),
        data: entry.get("data")?,
    };
    payload
        .is_well_formed()
        .then_some((EventId { epoch, seq }, payload))
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

    #[test]
    fn an_entry_gives_the_id_and_payload_every_replica_derives_alike() {
        let parsed = parse_entry(&entry(
            "42-0",
            &[
                ("epoch", EPOCH),
                ("event", "notice"),
                ("data", r#"{"text":"hi"}"#),
                ("ms", "1700000000123"),
            ],
        ))
        .unwrap();
        assert_eq!(parsed.0.to_string(), "9f3c2a1b7d4e5f60-42");
        assert_eq!(parsed.1.name, "notice");
        assert_eq!(parsed.1.data, r#"{"text":"hi"}"#);
    }

    #[test]
    fn an_event_this_build_does_not_know_is_relayed_as_it_is() {
        let parsed = parse_entry(&entry(
            "7-0",
            &[
                ("epoch", EPOCH),
                ("event", "from-a-newer-replica"),
                ("data", "[1]"),
            ],
        ))
        .unwrap();
        assert_eq!(parsed.1.name, "from-a-newer-replica");
    }

    #[test]
    fn entries_that_are_not_events_are_refused() {
        let good = [("epoch", EPOCH), ("event", "ping"), ("data", "{}")];
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
        ] {
            let bad = entry(id, &fields);
            assert_eq!(parse_entry(&bad), None, "{bad:?}");
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
                ],
            )
        };
        let reader_metrics = Metrics::new();
        feed(
            &hub,
            &reader_metrics,
            &mut cursor,
            vec![event("1-0"), event("2-0")],
        );
        feed(
            &hub,
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
            reader_metrics
                .render()
                .lines()
                .any(|line| line == "pingstream_redis_entries_skipped_total 1")
        );
    }
}
