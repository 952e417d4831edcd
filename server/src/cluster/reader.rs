//! Every replica's one reader of the shared stream: a blocking `XREAD` loop that publishes each
//! entry into the local hub, under an id built from the entry itself.
//!
//! It starts from the beginning of what Redis retains, so the local history mirrors the stream
//! and a client resuming here with another replica's id is answered from it. It reads one entry
//! after another, so the hub sees the stream in order, whatever replica ticked.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use redis::{
    aio::ConnectionManager,
    streams::{StreamId, StreamReadReply},
};
use shared::{Epoch, EventId, Ping};
use tokio_util::sync::CancellationToken;

use super::{backoff::Backoff, keys};
use crate::{
    hub::{Hub, Upstream},
    metrics::Metrics,
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

/// Publishes `entries` into the hub in order and moves the cursor past them.
fn feed(hub: &Hub, metrics: &Metrics, cursor: &mut Cursor, entries: Vec<StreamId>) {
    let mut newest_time = None;
    for entry in entries {
        cursor.entry.clone_from(&entry.id);
        let Some((id, ping)) = parse_entry(&entry) else {
            tracing::warn!(entry = %entry.id, "skipping a stream entry that is not a ping");
            continue;
        };
        if cursor
            .last
            .is_some_and(|last| last.epoch == id.epoch && last.count >= id.count)
        {
            // Already published (cannot happen while entry ids increase; guards the hub's rule).
            continue;
        }
        cursor.last = Some(id);
        newest_time = Some(ping.time);
        if let Err(err) = hub.publish(id, &ping) {
            tracing::error!(%err, "could not serialize a ping");
        }
    }
    if let Some(time) = newest_time {
        let lag = (Utc::now() - time).to_std().unwrap_or(Duration::ZERO);
        metrics.set_stream_read_lag(lag);
    }
}

/// The id and ping of a stream entry `<count>-0` with fields `epoch` (16 hex digits) and `ms`
/// (the ping's time in Unix milliseconds); `None` for anything else.
fn parse_entry(entry: &StreamId) -> Option<(EventId, Ping)> {
    let count: u64 = entry.id.strip_suffix("-0")?.parse().ok()?;
    let epoch = entry.get::<String>("epoch")?.parse().ok()?;
    let millis: i64 = entry.get("ms")?;
    let time = Utc.timestamp_millis_opt(millis).single()?;
    Some((EventId { epoch, count }, Ping { count, time }))
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

    #[test]
    fn an_entry_gives_the_id_and_ping_every_replica_derives_alike() {
        let parsed = parse_entry(&entry(
            "42-0",
            &[("epoch", "9f3c2a1b7d4e5f60"), ("ms", "1700000000123")],
        ))
        .unwrap();
        assert_eq!(parsed.0.to_string(), "9f3c2a1b7d4e5f60-42");
        assert_eq!(parsed.1.count, 42);
        assert_eq!(parsed.1.time.timestamp_millis(), 1_700_000_000_123);
    }

    #[test]
    fn entries_that_are_not_pings_are_refused() {
        for bad in [
            entry("42-1", &[("epoch", "9f3c2a1b7d4e5f60"), ("ms", "1")]),
            entry("x-0", &[("epoch", "9f3c2a1b7d4e5f60"), ("ms", "1")]),
            entry("42-0", &[("epoch", "9f3c"), ("ms", "1")]),
            entry("42-0", &[("epoch", "9f3c2a1b7d4e5f6z"), ("ms", "1")]),
            entry("42-0", &[("epoch", "9f3c2a1b7d4e5f60")]),
            entry("42-0", &[("epoch", "9f3c2a1b7d4e5f60"), ("ms", "soon")]),
        ] {
            assert_eq!(parse_entry(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn feeding_skips_what_was_read_already_and_moves_the_cursor() {
        let hub_metrics = Metrics::new();
        let hub = Hub::new(
            crate::hub::HubSettings::for_tests(10, 10),
            hub_metrics.clone(),
        );
        let mut cursor = Cursor::start();
        let ping = |count: &str| entry(count, &[("epoch", "00000000000000ab"), ("ms", "1000")]);
        feed(
            &hub,
            &Metrics::new(),
            &mut cursor,
            vec![ping("1-0"), ping("2-0")],
        );
        feed(&hub, &Metrics::new(), &mut cursor, vec![ping("2-0")]);
        assert_eq!(cursor.entry, "2-0");
        assert_eq!(
            hub.status().last_id,
            Some(EventId {
                epoch: Epoch(0xab),
                count: 2
            })
        );
        // Ping 2, read twice, was published once.
        let metrics = hub_metrics.render();
        assert!(
            metrics
                .lines()
                .any(|line| line == "pingstream_events_published_total 2"),
            "{metrics}"
        );
    }
}
