//! The one clock of the server: once a period it builds the next [`Ping`] and publishes it.

use std::{
    hash::{BuildHasher, Hasher, RandomState},
    time::{Duration, SystemTime},
};

use chrono::{SubsecRound, Utc};
use shared::{Epoch, EventId, Ping};
use tokio::time::{MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;

use crate::hub::Hub;

/// A fresh stream epoch: a random number that tells this run's event ids from any other run's.
pub fn new_epoch() -> Epoch {
    // `RandomState` is seeded from the operating system's randomness; mixing in the clock guards
    // against a platform where it is not.
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    Epoch(hasher.finish())
}

/// Publishes ping 1 at once, then one more every `period`, until `shutdown` fires.
///
/// Counts go up by exactly one per publish. If the process stalls past a tick, the missed ticks
/// are skipped rather than burst out: `time` always says when a ping was really made.
pub async fn run(hub: Hub, epoch: Epoch, period: Duration, shutdown: CancellationToken) {
    let mut ticks = interval(period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    for count in 1.. {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let ping = Ping {
            count,
            time: Utc::now().trunc_subsecs(3),
        };
        if let Err(err) = hub.publish(EventId { epoch, count }, &ping) {
            // A Ping always serializes; if it ever did not, skip the tick, keep the server up.
            tracing::error!(%err, count, "could not serialize a ping");
        }
    }
    tracing::debug!("ticker stopped");
}

/// Sends every open stream a keep-alive comment whenever nothing was sent to them for `period`,
/// until `shutdown` fires: one timer for all streams, so an idle connection is not closed by a
/// proxy, and a busy one is not sent comments it does not need.
pub async fn keep_alive(hub: Hub, period: Duration, shutdown: CancellationToken) {
    loop {
        let due = hub.keep_alive(period);
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep_until(due) => {}
        }
    }
    tracing::debug!("keep-alive stopped");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        hub::{HubLimits, Resume},
        metrics::Metrics,
    };

    fn hub() -> Hub {
        Hub::new(
            HubLimits {
                history: 100,
                client_buffer: 100,
                max_clients: 10,
            },
            Metrics::new(),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn publishes_count_one_at_once_then_one_per_period() {
        let hub = hub();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(
            hub.clone(),
            Epoch(7),
            Duration::from_secs(1),
            shutdown.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(
            hub.status().last_id,
            Some(EventId {
                epoch: Epoch(7),
                count: 1
            })
        );
        tokio::time::sleep(Duration::from_millis(998)).await;
        assert_eq!(
            hub.status().last_id,
            Some(EventId {
                epoch: Epoch(7),
                count: 1
            })
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(
            hub.status().last_id,
            Some(EventId {
                epoch: Epoch(7),
                count: 2
            })
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(
            hub.status().last_id,
            Some(EventId {
                epoch: Epoch(7),
                count: 12
            })
        );
        shutdown.cancel();
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn stops_when_shutdown_fires() {
        let hub = hub();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(
            hub.clone(),
            Epoch(7),
            Duration::from_secs(1),
            shutdown.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        shutdown.cancel();
        task.await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(
            hub.status().last_id,
            Some(EventId {
                epoch: Epoch(7),
                count: 2
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_subscriber_receives_every_tick() {
        use futures_util::StreamExt;
        let hub = hub();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(
            hub.clone(),
            Epoch(7),
            Duration::from_millis(10),
            shutdown.clone(),
        ));
        let mut subscription = hub
            .subscribe(Resume::After(EventId {
                epoch: Epoch(7),
                count: 0,
            }))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(95)).await;
        shutdown.cancel();
        task.await.unwrap();
        hub.close();
        let received: Vec<_> = (&mut subscription).collect().await;
        assert_eq!(received.len(), 10);
        assert_eq!(
            hub.status().last_id,
            Some(EventId {
                epoch: Epoch(7),
                count: 10
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn keep_alives_go_out_only_after_a_silent_period() {
        use futures_util::{FutureExt, StreamExt};
        let hub = hub();
        let shutdown = CancellationToken::new();
        let mut subscription = hub.subscribe(Resume::Latest).unwrap();
        let task = tokio::spawn(keep_alive(
            hub.clone(),
            Duration::from_secs(1),
            shutdown.clone(),
        ));
        let ready = |subscription: &mut crate::subscription::Subscription| {
            let mut texts = Vec::new();
            while let Some(Some(event)) = subscription.next().now_or_never() {
                texts.push(crate::hub::wire_text(event));
            }
            texts
        };
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(ready(&mut subscription), [": keep-alive\n\n"]);
        // An event resets the silence: no comment one period after the previous one.
        hub.publish(
            EventId {
                epoch: Epoch(7),
                count: 1,
            },
            &Ping {
                count: 1,
                time: Utc::now(),
            },
        )
        .unwrap();
        tokio::time::sleep(Duration::from_millis(800)).await;
        let texts = ready(&mut subscription);
        assert_eq!(texts.len(), 1);
        assert!(texts[0].starts_with("id: "), "{texts:?}");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(ready(&mut subscription), [": keep-alive\n\n"]);
        shutdown.cancel();
        task.await.unwrap();
    }

    #[test]
    fn epochs_differ_between_runs() {
        assert_ne!(new_epoch(), new_epoch());
    }
}
