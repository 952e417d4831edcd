//! The app's clock: once a period it publishes the next [`Ping`]. Alone, this loop does it; in
//! a cluster, the lease holder's leader loop does, with the same [`ping`].

use std::time::Duration;

use chrono::{SubsecRound, Utc};
use shared::{AppEvent, Epoch, Ping, StreamEvent as _};
use tokio::time::{MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;

use crate::stream::{Hub, Payload};

/// The event of tick `count`: ping `count` on the pings' topic, stamped now (to the
/// millisecond, as sent).
pub fn ping(count: u64) -> Payload {
    let ping = Ping {
        count,
        time: Utc::now().trunc_subsecs(3),
    };
    let topic = Ping::DEFAULT_TOPIC
        .parse()
        .expect("the contract's tests check every default topic");
    Payload::encode(&AppEvent::from(ping), topic).expect("a Ping always serializes")
}

/// Publishes ping 1 at once, then one more every `period`, into `hub` under `epoch`, until
/// `shutdown` fires or the hub closes.
///
/// The ping's count goes up by exactly one per tick; its id's seq is the stream's, shared with
/// every other event. If the process stalls past a tick, the missed ticks are skipped rather
/// than burst out: `time` always says when a ping was really made.
pub async fn run(hub: Hub, epoch: Epoch, period: Duration, shutdown: CancellationToken) {
    let mut ticks = interval(period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    for count in 1.. {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticks.tick() => {}
        }
        if hub.publish(epoch, &ping(count)).is_err() {
            break;
        }
    }
    tracing::debug!("ticker stopped");
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::EventId;

    use crate::{
        metrics::Metrics,
        stream::{HubSettings, Resume},
    };

    /// Waits for a loop told to stop; fails (on the paused clock, at once) if it does not.
    async fn stopped(task: tokio::task::JoinHandle<()>) {
        tokio::time::timeout(Duration::from_millis(1), task)
            .await
            .expect("the loop stops as soon as shutdown fires")
            .expect("the loop does not panic");
    }

    fn hub() -> Hub {
        Hub::new(
            HubSettings {
                client_buffer: 100,
                ..HubSettings::for_tests(100, 10)
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
                seq: 1
            })
        );
        tokio::time::sleep(Duration::from_millis(998)).await;
        assert_eq!(
            hub.status().last_id,
            Some(EventId {
                epoch: Epoch(7),
                seq: 1
            })
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(
            hub.status().last_id,
            Some(EventId {
                epoch: Epoch(7),
                seq: 2
            })
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(
            hub.status().last_id,
            Some(EventId {
                epoch: Epoch(7),
                seq: 12
            })
        );
        shutdown.cancel();
        stopped(task).await;
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
        stopped(task).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(
            hub.status().last_id,
            Some(EventId {
                epoch: Epoch(7),
                seq: 2
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
            .subscribe(
                Resume::After(EventId {
                    epoch: Epoch(7),
                    seq: 0,
                }),
                shared::Selection::all(),
                crate::stream::Reader::anonymous(),
            )
            .unwrap();
        tokio::time::sleep(Duration::from_millis(95)).await;
        shutdown.cancel();
        stopped(task).await;
        hub.close();
        let received: Vec<_> = (&mut subscription).collect().await;
        // The heartbeat every stream starts with, then the ten pings.
        assert_eq!(received.len(), 1 + 10);
        assert_eq!(
            hub.status().last_id,
            Some(EventId {
                epoch: Epoch(7),
                seq: 10
            })
        );
    }
}
