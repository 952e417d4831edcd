//! The one way into the shared stream: an atomic script that gives an event the cluster's next
//! seq and appends it, whichever replica calls it and however many call it at once.
//!
//! Redis runs a script without interleaving any other command, so `INCR` of the seq and the
//! `XADD` of the entry `<seq>-0` happen as one step: two replicas publishing at once get two
//! consecutive seqs, never the same one and never a hole. The entry carries the event's name
//! and JSON as they are; the readers relay them without decoding.

use std::time::Duration;

use redis::aio::ConnectionManager;
use shared::{Epoch, EventId};
use tokio::time::Instant;

use super::keys;
use crate::{
    metrics::Metrics,
    stream::{Payload, epoch},
};

/// Appends one event: the next seq of the cluster's epoch, as entry `<seq>-0` with fields
/// `epoch`, `event` (the name), `data` (the JSON) and `ms` (when the publishing replica sent
/// it, in Unix milliseconds: what the readers measure their lag by), trimmed to about the history. The first
/// publish, or the first after Redis lost its data, draws the epoch (ARGV[1]) and starts the seq
/// and the stream afresh. Replies `{epoch, seq}`.
const PUBLISH: &str = r"
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
  redis.call('DEL', KEYS[2], KEYS[3])
end
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], seq .. '-0', 'epoch', epoch, 'event', ARGV[2], 'data', ARGV[3], 'ms', ARGV[5])
return {epoch, seq}";

/// Why an event did not get into the shared stream.
#[derive(Debug, thiserror::Error)]
pub enum ClusterPublishError {
    /// Redis did not answer (down, unreachable, or slower than the publish timeout).
    #[error("Redis did not take the event: {0}")]
    Unreachable(String),
}

/// Runs [`PUBLISH`] for `payload` on `conn`, keeping `history` entries.
pub(super) async fn append(
    conn: &mut ConnectionManager,
    payload: &Payload,
    history: u64,
) -> redis::RedisResult<EventId> {
    let (epoch, seq): (String, u64) = redis::cmd("EVAL")
        .arg(PUBLISH)
        .arg(3)
        .arg(keys::EPOCH)
        .arg(keys::SEQ)
        .arg(keys::STREAM)
        .arg(epoch::draw().to_string())
        .arg(payload.name.as_ref())
        .arg(&payload.data)
        .arg(history)
        .arg(chrono::Utc::now().timestamp_millis())
        .query_async(conn)
        .await?;
    let epoch: Epoch = epoch.parse().map_err(|_| {
        redis::RedisError::from((
            redis::ErrorKind::Parse,
            "the cluster's epoch is not 16 hex digits",
            epoch,
        ))
    })?;
    Ok(EventId { epoch, seq })
}

/// Publishes events from any replica into the shared stream (the publish route's way in, in a
/// cluster). Its own connection, so that a publisher waiting on Redis never holds up the
/// reader or the lease, and a bounded wait: a slow Redis fails a publish, it does not hang it.
#[derive(Clone)]
pub struct ClusterPublisher {
    pub(super) conn: ConnectionManager,
    pub(super) history: u64,
    pub(super) timeout: Duration,
    pub(super) metrics: Metrics,
}

impl ClusterPublisher {
    /// Appends `payload` to the shared stream and returns its id once Redis has it. Every
    /// replica's reader then relays it to its clients.
    pub async fn publish(&self, payload: &Payload) -> Result<EventId, ClusterPublishError> {
        let mut conn = self.conn.clone();
        let sent = Instant::now();
        let result =
            tokio::time::timeout(self.timeout, append(&mut conn, payload, self.history)).await;
        self.metrics.observe_redis_round_trip(sent.elapsed());
        match result {
            Ok(Ok(id)) => Ok(id),
            Ok(Err(err)) => Err(ClusterPublishError::Unreachable(err.to_string())),
            Err(_) => Err(ClusterPublishError::Unreachable(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }
}
