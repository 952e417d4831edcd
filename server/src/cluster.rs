//! Scale-out over Redis Streams (`--redis-url`, or `--redis-sentinel` for a Redis that fails
//! over): one ticker for all replicas, and every replica's hub fed from one shared stream, so that
//! all replicas send the same events under the same ids.
//!
//! - `publish`: any replica publishes any event (its name and JSON) with one atomic script that
//!   increments the cluster's seq and `XADD`s the entry `<seq>-0`, so two replicas publishing
//!   at once never produce a duplicate or a hole, and the seq outlives every replica.
//! - `leader`: a lease in Redis (`SET NX PX`, renewed by its holder) picks the one replica that
//!   ticks; the lease does nothing else. Each tick is numbered under the lease, then published
//!   like any event.
//! - [`reader`]: one blocking `XREAD` loop per replica relays the entries into the local [`Hub`],
//!   which does the fan-out, the history and the gap-free resume just as it does alone. An
//!   event's id is built from its stream entry (the cluster's epoch and the seq), so it is the
//!   same everywhere.
//!
//! - `link`: each loop's connection to the master; behind sentinels it looks the master up
//!   again after an error, a `READONLY` or a `+switch-master`, and `publish` fences failovers
//!   with a new epoch so that no id ever names two events. [`tls`]: the certificates of its
//!   `rediss://` connections.
//!
//! Redis trouble never ends a client's stream: both loops retry with backoff, mark the hub
//! degraded meanwhile, and carry on from where they were when Redis is back.

mod backoff;
mod leader;
mod link;
mod publish;
pub mod reader;
pub mod tls;

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use link::{RedisAuth, RedisSource, is_refused_login};
pub use publish::{ClusterPublishError, ClusterPublisher};
pub use tls::{RedisTls, is_refused_certificate};

use crate::{
    metrics::Metrics,
    stream::{Hub, Payload, epoch},
};

/// Redis keys, hash-tagged so that a Redis Cluster keeps them in one slot (the scripts touch
/// several of them at once).
mod keys {
    /// The ticker lease: the holder's token, with an expiry.
    pub(super) const LEASE: &str = "{pingstream}:lease";
    /// The cluster's stream epoch, 16 hex digits, drawn by the first publish.
    pub(super) const EPOCH: &str = "{pingstream}:epoch";
    /// The newest seq: the number of events of every name published in this epoch.
    pub(super) const SEQ: &str = "{pingstream}:seq";
    /// The newest tick's own count (the ping's `count`), kept by whichever replica ticks.
    pub(super) const TICKS: &str = "{pingstream}:ticks";
    /// The stream of events, entry ids `<seq>-0`.
    pub(super) const STREAM: &str = "{pingstream}:stream";
    /// The replication id of the master that last wrote (behind sentinels): the failover fence.
    pub(super) const WRITER: &str = "{pingstream}:writer";
    /// Each topic's newest number in this epoch: a hash, topic → count.
    pub(super) const TOPICS: &str = "{pingstream}:topics";
}

/// Longest a publish waits for Redis before it is answered as failed (`503`): a slow Redis
/// stalls publishers this long at most, and never the streams.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest a publish waits for one reply; shorter than [`PUBLISH_TIMEOUT`], so that a master
/// that stopped answering is given up (and, behind sentinels, looked up again) by the link.
const PUBLISH_REPLY_TIMEOUT: Duration = Duration::from_millis(1500);

/// What the cluster loops need from the config.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// Where the Redis master is.
    pub source: RedisSource,
    /// The certificates of TLS connections to Redis and the sentinels, if configured.
    pub certificates: Option<RedisTls>,
    /// Period of the ticker.
    pub interval: Duration,
    /// Life of the ticker lease without renewal.
    pub lease: Duration,
    /// Entries the stream is trimmed to (approximately: Redis trims whole nodes).
    pub history: u64,
    /// What the reader may relay to browsers.
    pub relay: reader::RelayRules,
}

/// Why the cluster could not start.
#[derive(Debug, thiserror::Error)]
#[error("bad Redis address: {0}")]
pub struct ClusterError(#[from] redis::RedisError);

/// Starts this replica's leader and reader loops, and returns them as one task with the
/// publisher through which this replica puts events into the shared stream. `tick_event` is the
/// event of each tick. Does not wait for Redis: if it is down, the loops keep trying and the hub
/// reports degraded. The task ends once both loops have stopped after `shutdown` (the leader
/// first gives its lease back, if it holds it).
pub fn spawn(
    settings: &ClusterSettings,
    tick_event: fn(u64) -> Payload,
    hub: Hub,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> Result<(JoinHandle<()>, ClusterPublisher), ClusterError> {
    if let RedisSource::Url(url) = &settings.source {
        // A malformed URL is refused now, not at the first command.
        tls::client(url.expose(), settings.certificates.as_ref())?;
    }
    let watch = link::MasterWatch::new(metrics.clone());
    let link = |response_timeout| {
        link::MasterLink::new(
            settings.source.clone(),
            settings.certificates.clone(),
            response_timeout,
            watch.clone(),
        )
    };
    // Each loop has its own connection: the reader's blocking XREAD must not hold up a lease
    // renewal queued behind it on a shared one.
    let leader_link = link(settings.lease / 3);
    let reader_link = link(reader::BLOCK + Duration::from_secs(2));
    let publisher = ClusterPublisher {
        link: link(PUBLISH_REPLY_TIMEOUT),
        history: settings.history,
        timeout: PUBLISH_TIMEOUT,
        metrics: metrics.clone(),
    };
    if let RedisSource::Sentinel {
        sentinels,
        master,
        auth,
        tls,
    } = &settings.source
    {
        tokio::spawn(link::watch_switches(
            sentinels.clone(),
            master.clone(),
            (auth.clone(), *tls, settings.certificates.clone()),
            watch.clone(),
            shutdown.clone(),
        ));
    }
    let leader = leader::Leader {
        link: leader_link,
        token: format!("{}-{}", epoch::draw(), std::process::id()),
        interval: settings.interval,
        lease: settings.lease,
        history: settings.history,
        tick_event,
        hub: hub.clone(),
        metrics: metrics.clone(),
    };
    let leader = tokio::spawn(leader.run(shutdown.clone()));
    let reader = tokio::spawn(reader::run(
        reader_link,
        hub,
        settings.relay,
        metrics,
        shutdown,
    ));
    let loops = tokio::spawn(async move {
        let _ = tokio::join!(leader, reader);
    });
    Ok((loops, publisher))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_malformed_url_is_refused_at_once() {
        let settings = ClusterSettings {
            source: RedisSource::Url("not a url".parse().expect("not empty")),
            certificates: None,
            interval: Duration::from_secs(1),
            lease: Duration::from_secs(2),
            history: 10,
            relay: reader::RelayRules {
                names: &["test"],
                max_bytes: 1024,
                check: |_, _| true,
            },
        };
        let hub = Hub::new(
            crate::stream::HubSettings::for_tests(10, 10),
            Metrics::new(),
        );
        let tick = |_| Payload::for_tests(1);
        assert!(
            spawn(
                &settings,
                tick,
                hub,
                Metrics::new(),
                CancellationToken::new()
            )
            .is_err()
        );
    }
}
