//! The ticker of a cluster: whichever replica holds the lease in Redis publishes one tick event
//! per period into the shared stream (what the event is, the app decides: a ping).
//!
//! Never two tickers: the lease is one Redis key, taken with `SET NX PX` and renewed only by its
//! holder, and every publish is a script that first checks the key still holds this replica's
//! token. Besides, a holder that cannot renew stops by itself a tenth of a lease before the lease
//! could expire. Takeover: a holder that dies stops renewing, its key expires within one lease,
//! and another replica, which tries every third of a lease, takes it and ticks at once: about
//! 1.3 leases after the death at worst.

use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;

use super::{keys, link::MasterLink, publish};
use crate::{
    metrics::Metrics,
    stream::{Hub, Payload, Upstream},
};

/// Renews the lease if this replica holds it. Replies 1 if it did.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0";

/// Gives the lease back if this replica holds it, so another takes over at once.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// Numbers the next tick if this replica holds the lease: the cluster's tick counter, which
/// outlives every replica, so the count goes on where the previous holder left it. Replies the
/// count, or nil if the lease is someone else's.
const NEXT_TICK: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return false
end
return redis.call('INCR', KEYS[2])";

/// Longest wait to give the lease back at shutdown.
const RELEASE_TIMEOUT: Duration = Duration::from_millis(200);

/// One replica's candidacy for the ticker.
pub(super) struct Leader {
    pub(super) link: MasterLink,
    /// Tells this replica's lease from any other's.
    pub(super) token: String,
    pub(super) interval: Duration,
    pub(super) lease: Duration,
    pub(super) history: u64,
    /// The event of tick `count`.
    pub(super) tick_event: fn(u64) -> Payload,
    /// Only told about Redis trouble: published ticks reach the hub through the reader.
    pub(super) hub: Hub,
    pub(super) metrics: Metrics,
}

/// Where this replica stands.
struct Standing {
    /// Until when this replica may tick, if it holds the lease: a tenth of a lease before the
    /// earliest moment Redis could let it expire.
    held_until: Option<Instant>,
    /// Whether the last command to Redis failed, so trouble is logged once, not every attempt.
    failing: bool,
}

impl Leader {
    /// Tries for the lease every third of a lease and, while holding it, ticks once a period,
    /// until `shutdown` fires; then gives the lease back.
    pub(super) async fn run(mut self, shutdown: CancellationToken) {
        let mut renewals = interval(self.lease / 3);
        renewals.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut ticks = interval(self.interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut standing = Standing {
            held_until: None,
            failing: false,
        };
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                _ = renewals.tick() => {
                    let was_holder = standing.held_until.is_some();
                    self.hold(&mut standing).await;
                    if !was_holder && standing.held_until.is_some() {
                        // A new holder ticks at once: the previous one is gone.
                        ticks.reset_immediately();
                    }
                }
                _ = ticks.tick(), if standing.held_until.is_some() => {
                    self.tick(&mut standing).await;
                }
            }
        }
        if standing.held_until.is_some() {
            self.release().await;
        }
        tracing::debug!("cluster ticker stopped");
    }

    /// Renews the lease if `holding`, else takes it if it is free; whether this replica holds
    /// it now.
    async fn take_or_renew(&self, holding: bool) -> redis::RedisResult<bool> {
        let lease_ms = u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX);
        if holding {
            let renew = redis::cmd("EVAL")
                .arg(RENEW)
                .arg(1)
                .arg(keys::LEASE)
                .arg(&self.token)
                .arg(lease_ms)
                .clone();
            return self.link.query(&renew).await;
        }
        let take = redis::cmd("SET")
            .arg(keys::LEASE)
            .arg(&self.token)
            .arg("NX")
            .arg("PX")
            .arg(lease_ms)
            .clone();
        let reply: Option<String> = self.link.query(&take).await?;
        Ok(reply.is_some())
    }

    /// Takes the lease if it is free, or renews it if it is ours.
    async fn hold(&mut self, standing: &mut Standing) {
        let sent = Instant::now();
        let result = self.take_or_renew(standing.held_until.is_some()).await;
        self.metrics.observe_redis_round_trip(sent.elapsed());
        match result {
            Ok(held) => {
                self.reachable(standing);
                if held {
                    if standing.held_until.is_none() {
                        tracing::info!("took the ticker lease; this replica ticks for the cluster");
                        self.metrics.set_lease_holder(true);
                    }
                    standing.held_until = Some(sent + self.lease - self.lease / 10);
                } else if standing.held_until.is_some() {
                    tracing::warn!("the ticker lease went to another replica; stopped ticking");
                    self.step_down(standing);
                }
            }
            Err(err) => {
                self.unreachable(standing, &err, "could not take or renew the ticker lease");
                if standing
                    .held_until
                    .is_some_and(|until| Instant::now() >= until)
                {
                    tracing::warn!("could not renew the ticker lease in time; stopped ticking");
                    self.step_down(standing);
                }
            }
        }
    }

    /// Publishes one tick, if the lease is still ours: numbers it (checking the lease), then
    /// appends its event like any other publish.
    async fn tick(&mut self, standing: &mut Standing) {
        if standing
            .held_until
            .is_none_or(|until| Instant::now() >= until)
        {
            tracing::warn!("could not renew the ticker lease in time; stopped ticking");
            self.step_down(standing);
            return;
        }
        let sent = Instant::now();
        let result = self.publish_tick().await;
        self.metrics.observe_redis_round_trip(sent.elapsed());
        match result {
            Ok(Some(id)) => {
                self.reachable(standing);
                tracing::trace!(id = %id.id, "published a tick");
            }
            Ok(None) => {
                self.reachable(standing);
                tracing::warn!("the ticker lease went to another replica; stopped ticking");
                self.step_down(standing);
            }
            // The tick counter lives in Redis, so a tick that was numbered but not appended
            // leaves a hole in the ticks' own count, never in the stream's seq.
            Err(err) => self.unreachable(standing, &err, "could not publish a tick"),
        }
    }

    /// Numbers the next tick and appends its event; `None` if the lease is someone else's.
    async fn publish_tick(&mut self) -> redis::RedisResult<Option<shared::EventStamp>> {
        let next_tick = redis::cmd("EVAL")
            .arg(NEXT_TICK)
            .arg(2)
            .arg(keys::LEASE)
            .arg(keys::TICKS)
            .arg(&self.token)
            .clone();
        let count: Option<u64> = self.link.query(&next_tick).await?;
        let Some(count) = count else {
            return Ok(None);
        };
        let payload = (self.tick_event)(count);
        publish::append(&self.link, &payload, self.history)
            .await
            .map(Some)
    }

    /// Gives the lease back so that another replica need not wait for it to expire.
    async fn release(&mut self) {
        let release = redis::cmd("EVAL")
            .arg(RELEASE)
            .arg(1)
            .arg(keys::LEASE)
            .arg(&self.token)
            .clone();
        let result = tokio::time::timeout(RELEASE_TIMEOUT, self.link.query::<u64>(&release)).await;
        self.metrics.set_lease_holder(false);
        match result {
            Ok(Ok(_)) => tracing::info!("gave the ticker lease back"),
            Ok(Err(err)) => {
                tracing::warn!(%err, "could not give the ticker lease back; it expires")
            }
            Err(_) => tracing::warn!("Redis did not answer; the ticker lease expires by itself"),
        }
    }

    fn step_down(&self, standing: &mut Standing) {
        standing.held_until = None;
        self.metrics.set_lease_holder(false);
    }

    fn reachable(&self, standing: &mut Standing) {
        if standing.failing {
            tracing::info!("Redis answers again (ticker)");
            standing.failing = false;
        }
        self.hub.set_degraded(Upstream::Leader, false);
    }

    fn unreachable(&self, standing: &mut Standing, err: &redis::RedisError, what: &str) {
        if standing.failing {
            tracing::debug!(%err, "{what}; still retrying");
        } else {
            let retry_ms = (self.lease / 3).as_millis();
            tracing::warn!(%err, retry_ms, "Redis trouble: {what}; retrying");
            standing.failing = true;
        }
        self.hub.set_degraded(Upstream::Leader, true);
    }
}
