//! The one heartbeat timer for all streams: whenever they were silent for the heartbeat period
//! it sends them the heartbeat event, so that proxies keep idle connections open and pages can
//! tell a silent stream from a dead one.

use tokio_util::sync::CancellationToken;

use super::hub::Hub;

/// Sends every open stream the hub's heartbeat whenever nothing was sent to them for its
/// heartbeat period, until `shutdown` fires; returns at once if the hub's heartbeats are off. A
/// busy stream (events more often than the period) is never sent one. Each round also frees the
/// places of stalled streams ([`Hub::free_stalled`]).
pub async fn run(hub: Hub, shutdown: CancellationToken) {
    while let Some(due) = hub.beat_if_idle() {
        hub.free_stalled();
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep_until(due) => {}
        }
    }
    tracing::debug!("heartbeat stopped");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::{FutureExt, StreamExt};
    use shared::{Epoch, Timing};

    use super::*;
    use crate::{
        metrics::Metrics,
        stream::{HubSettings, Payload, Resume, hub::wire_text, subscription::Subscription},
    };

    fn ready(subscription: &mut Subscription) -> Vec<String> {
        let mut texts = Vec::new();
        while let Some(Some(event)) = subscription.next().now_or_never() {
            texts.push(wire_text(event));
        }
        texts
    }

    #[tokio::test(start_paused = true)]
    async fn heartbeats_go_out_only_after_a_silent_period() {
        let settings = HubSettings::for_tests(100, 10);
        let hub = Hub::new(settings.clone(), Metrics::new());
        let heartbeat = wire_text(shared::sse::heartbeat_event(&settings.timing).unwrap());
        let opening = wire_text(
            shared::sse::heartbeat_event(&Timing {
                start: Some(shared::Start::Fresh),
                ..settings.timing
            })
            .unwrap(),
        );
        let shutdown = CancellationToken::new();
        let mut subscription = hub
            .subscribe(
                Resume::Latest,
                shared::Selection::all(),
                crate::stream::Reader::anonymous(),
            )
            .unwrap();
        assert_eq!(ready(&mut subscription), [opening.as_str()], "the greeting");
        let task = tokio::spawn(run(hub.clone(), shutdown.clone()));
        // The tests' heartbeat period is 2 s.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(ready(&mut subscription), [heartbeat.as_str()]);
        // An event resets the silence: no heartbeat one period after the previous one.
        hub.publish(Epoch(7), &Payload::for_tests(1)).unwrap();
        tokio::time::sleep(Duration::from_millis(1600)).await;
        let texts = ready(&mut subscription);
        assert_eq!(texts.len(), 1);
        assert!(texts[0].starts_with("id: "), "{texts:?}");
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(ready(&mut subscription), [heartbeat.as_str()]);
        shutdown.cancel();
        tokio::time::timeout(Duration::from_millis(1), task)
            .await
            .expect("the timer stops as soon as shutdown fires")
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn with_heartbeats_off_the_timer_ends_at_once_and_sends_nothing() {
        let settings = HubSettings {
            timing: Timing {
                interval_ms: 1000,
                heartbeat_ms: None,
                start: None,
                replayed: 0,
            },
            ..HubSettings::for_tests(100, 10)
        };
        let hub = Hub::new(settings, Metrics::new());
        let mut subscription = hub
            .subscribe(
                Resume::Latest,
                shared::Selection::all(),
                crate::stream::Reader::anonymous(),
            )
            .unwrap();
        assert_eq!(
            ready(&mut subscription).len(),
            1,
            "the greeting still comes"
        );
        tokio::time::timeout(
            Duration::from_secs(1),
            run(hub.clone(), CancellationToken::new()),
        )
        .await
        .expect("the timer returns at once when heartbeats are off");
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(ready(&mut subscription).is_empty());
    }
}
