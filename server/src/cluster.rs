//! Scale-out over Redis Streams (`--redis-url`): one ticker for all replicas, and every replica's
//! hub fed from one shared stream, so that all replicas send the same events under the same ids.
//!
//! - [`leader`]: a lease in Redis (`SET NX PX`, renewed by its holder) picks the one replica that
//!   ticks. Its publish script checks the lease, increments the count and `XADD`s the entry
//!   `<count>-0` in one atomic step, so two replicas can never publish at once, and the count
//!   outlives every replica.
//! - [`reader`]: one blocking `XREAD` loop per replica feeds the local [`Hub`], which does the
//!   fan-out, the history and the gap-free resume just as it does alone. An event's id is built
//!   from its stream entry (the cluster's epoch and the count), so it is the same everywhere.
//!
//! Redis trouble never ends a client's stream: both loops retry with backoff, mark the hub
//! degraded meanwhile, and carry on from where they were when Redis is back.

mod backoff;
mod leader;
mod reader;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{epoch, hub::Hub, metrics::Metrics};

/// Redis keys, hash-tagged so that a Redis Cluster keeps them in one slot (the publish script
/// touches all of them).
mod keys {
    /// The ticker lease: the holder's token, with an expiry.
    pub(super) const LEASE: &str = "{pingstream}:lease";
    /// The cluster's stream epoch, 16 hex digits, drawn by the first publish.
    pub(super) const EPOCH: &str = "{pingstream}:epoch";
    /// The newest count.
    pub(super) const COUNT: &str = "{pingstream}:count";
    /// The stream of pings, entry ids `<count>-0`.
    pub(super) const STREAM: &str = "{pingstream}:stream";
}

/// Longest wait for a TCP connection to Redis.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// What the cluster loops need from the config.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// Where Redis is, e.g. `redis://127.0.0.1:6379`.
    pub url: String,
    /// Period of the ticker.
    pub interval: Duration,
    /// Life of the ticker lease without renewal.
    pub lease: Duration,
    /// Entries the stream is trimmed to (approximately: Redis trims whole nodes).
    pub history: u64,
}

/// Why the cluster could not start.
#[derive(Debug, thiserror::Error)]
#[error("bad --redis-url: {0}")]
pub struct ClusterError(#[from] redis::RedisError);

/// Starts this replica's leader and reader loops. Does not wait for Redis: if it is down, the
/// loops keep trying and the hub reports degraded. The returned task ends once both loops have
/// stopped after `shutdown` (the leader first gives its lease back, if it holds it).
pub fn spawn(
    settings: &ClusterSettings,
    hub: Hub,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, ClusterError> {
    let client = redis::Client::open(settings.url.as_str())?;
    // Each loop has its own connection: the reader's blocking XREAD must not hold up a lease
    // renewal queued behind it on a shared one.
    let leader_conn = connection(&client, settings.lease / 3)?;
    let reader_conn = connection(&client, reader::BLOCK + Duration::from_secs(2))?;
    let leader = leader::Leader {
        conn: leader_conn,
        token: format!("{}-{}", epoch::draw(), std::process::id()),
        interval: settings.interval,
        lease: settings.lease,
        history: settings.history,
        hub: hub.clone(),
        metrics: metrics.clone(),
    };
    let leader = tokio::spawn(leader.run(shutdown.clone()));
    let reader = tokio::spawn(reader::run(reader_conn, hub, metrics, shutdown));
    Ok(tokio::spawn(async move {
        let _ = tokio::join!(leader, reader);
    }))
}

/// A connection that reconnects by itself after Redis comes back. It makes one attempt per
/// command: the loops above do the backoff, so they can also log and stop in between.
fn connection(
    client: &redis::Client,
    response_timeout: Duration,
) -> Result<ConnectionManager, redis::RedisError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(response_timeout))
        .set_number_of_retries(0);
    ConnectionManager::new_lazy_with_config(client.clone(), config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_malformed_url_is_refused_at_once() {
        let settings = ClusterSettings {
            url: "not a url".into(),
            interval: Duration::from_secs(1),
            lease: Duration::from_secs(2),
            history: 10,
        };
        let hub = Hub::new(crate::hub::HubSettings::for_tests(10, 10), Metrics::new());
        assert!(spawn(&settings, hub, Metrics::new(), CancellationToken::new()).is_err());
    }
}
