//! The hub: fans every published event out to all open streams and keeps a bounded history so
//! a reconnecting client is answered with exactly the events it missed.
//!
//! The two operations that must not interleave, "append to history and send live" and "snapshot
//! history and start receiving live", each happen under the one lock. That is what makes a resume
//! gap-free and duplicate-free even when a tick lands while a client subscribes.

use std::{
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU8, Ordering},
    },
    time::Duration,
};

use actix_web_lab::sse;
use shared::{EventId, Heartbeat, Ping};
use tokio::{
    sync::{Notify, broadcast},
    time::Instant,
};

pub use crate::history::Resume;
use crate::{
    client_slot::ClientSlots,
    history::History,
    metrics::Metrics,
    subscription::{Outgoing, Subscription},
};

/// Cheap, cloneable handle to the hub; all clones share one state.
#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

/// How big a hub is and what it tells its streams.
#[derive(Debug, Clone, Copy)]
pub struct HubSettings {
    /// Events kept to answer `Last-Event-ID`.
    pub history: usize,
    /// Events one client may fall behind before its stream is ended.
    pub client_buffer: usize,
    /// Streams open at once.
    pub max_clients: usize,
    /// The stream's timing: the first event of every stream, and the heartbeat sent to all
    /// streams whenever they were silent for its `heartbeat_ms`.
    pub timing: Heartbeat,
    /// How long [`Hub::catch_up`] waits for an id this hub has not seen yet. Zero for the
    /// in-memory hub, whose own ticker makes every id: one it has not seen was never sent. In a
    /// cluster, a lease: what a healthy replica can be behind another.
    pub catch_up: Duration,
}

struct Shared {
    state: Mutex<State>,
    settings: HubSettings,
    slots: ClientSlots,
    metrics: Metrics,
    /// The heartbeat, serialized once for every stream.
    heartbeat: sse::Event,
    /// Woken on every publish, for [`Hub::catch_up`].
    published: Notify,
    /// One bit per [`Upstream`] part that is in trouble; any bit set makes the hub degraded.
    degraded: AtomicU8,
}

struct State {
    history: History,
    /// Live fan-out of events; `None` once the hub is closed, which ends every stream.
    live_tx: Option<broadcast::Sender<Outgoing>>,
    /// When the streams were last sent anything (a ping or a heartbeat).
    last_sent: Instant,
}

/// Why a subscription was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubscribeError {
    /// `max_clients` streams are open already.
    #[error("the server is at its limit of {0} streams")]
    Full(usize),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    Closed,
}

/// What `/healthz` reports about the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubStatus {
    /// Open streams.
    pub clients: usize,
    /// The newest published event, if any.
    pub last_id: Option<EventId>,
    /// Whether the hub has been closed for shutdown.
    pub closed: bool,
    /// Whether what feeds the hub (Redis, in a cluster) is unreachable: open streams stay open
    /// but no new events arrive until it is back.
    pub degraded: bool,
}

/// A part of what feeds a hub from outside, which can be in trouble on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    /// The loop that reads the shared stream into this hub.
    Reader,
    /// The loop that holds the lease and publishes ticks.
    Leader,
}

impl Shared {
    /// The state lock. No code panics while holding it, but if some did, the state is still
    /// consistent (every update is a single step), so a poisoned lock is used as it is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Hub {
    /// Creates an empty hub.
    pub fn new(settings: HubSettings, metrics: Metrics) -> Self {
        let (live_tx, _) = broadcast::channel(settings.client_buffer.max(1));
        let heartbeat =
            shared::sse::heartbeat_event(&settings.timing).expect("a Heartbeat always serializes");
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    history: History::new(settings.history),
                    live_tx: Some(live_tx),
                    last_sent: Instant::now(),
                }),
                settings,
                slots: ClientSlots::new(settings.max_clients, metrics.clone()),
                metrics,
                heartbeat,
                published: Notify::new(),
                degraded: AtomicU8::new(0),
            }),
        }
    }

    /// Serializes `ping` once, appends it to the history and sends the same event to every open
    /// stream. Ids must increase within an epoch (see [`History::push`]).
    pub fn publish(&self, id: EventId, ping: &Ping) -> Result<(), serde_json::Error> {
        let event = shared::sse::ping_event(id, ping)?;
        let mut state = self.shared.lock();
        state.history.push(id, event.clone());
        if let Some(live_tx) = &state.live_tx {
            // An error only means that no stream is open right now.
            let _ = live_tx.send(Outgoing::Ping(event));
        }
        state.last_sent = Instant::now();
        drop(state);
        self.shared.published.notify_waiters();
        self.shared.metrics.count_published();
        Ok(())
    }

    /// Sends every open stream the heartbeat if nothing was sent to them for the heartbeat
    /// period; returns when the next one will be due, or `None` when heartbeats are off. One
    /// timer for all streams (the heartbeat task's), instead of one per stream. Heartbeats are
    /// not kept in the history.
    pub fn beat_if_idle(&self) -> Option<Instant> {
        let idle = Duration::from_millis(self.shared.settings.timing.heartbeat_ms?);
        let mut state = self.shared.lock();
        let now = Instant::now();
        if now.duration_since(state.last_sent) >= idle {
            if let Some(live_tx) = &state.live_tx {
                let _ = live_tx.send(Outgoing::Heartbeat(self.shared.heartbeat.clone()));
            }
            state.last_sent = now;
        }
        Some(state.last_sent + idle)
    }

    /// Waits until this hub has the event `resume` names, if it is of the newest epoch and
    /// ahead of the newest event (or the hub has none yet), for at most the `catch_up` the hub
    /// was made with. In a cluster a client may come from a replica that read the shared stream
    /// a moment earlier; once this returns, [`Hub::subscribe`] answers that client with exactly
    /// the events after its id instead of taking the id for one from the future. Returns at
    /// once for the in-memory hub and for every other `resume`.
    pub async fn catch_up(&self, resume: Resume) {
        let Resume::After(after) = resume else {
            return;
        };
        if self.shared.settings.catch_up.is_zero() {
            return;
        }
        let deadline = Instant::now() + self.shared.settings.catch_up;
        loop {
            // Register for the next publish before looking, so none slips in between.
            let published = self.shared.published.notified();
            let mut published = std::pin::pin!(published);
            published.as_mut().enable();
            match self.status().last_id {
                Some(newest) if newest.epoch != after.epoch || newest.count >= after.count => {
                    return;
                }
                _ => {}
            }
            if tokio::time::timeout_at(deadline, published).await.is_err() {
                tracing::debug!(%after, "Last-Event-ID still ahead of this replica; serving what it has");
                return;
            }
        }
    }

    /// Records whether `part` of what feeds this hub is in trouble; `/healthz` says `degraded`
    /// while any part is.
    pub fn set_degraded(&self, part: Upstream, degraded: bool) {
        let bit = match part {
            Upstream::Reader => 1,
            Upstream::Leader => 2,
        };
        if degraded {
            self.shared.degraded.fetch_or(bit, Ordering::Relaxed);
        } else {
            self.shared.degraded.fetch_and(!bit, Ordering::Relaxed);
        }
    }

    /// Opens a stream that starts with the heartbeat (the stream's timing), then yields the
    /// events `resume` asks for, then every event published from now on, with nothing lost and
    /// nothing repeated in between.
    pub fn subscribe(&self, resume: Resume) -> Result<Subscription, SubscribeError> {
        let state = self.shared.lock();
        let Some(live_tx) = &state.live_tx else {
            drop(state);
            self.shared.metrics.count_rejected();
            return Err(SubscribeError::Closed);
        };
        let Some(slot) = self.shared.slots.take() else {
            drop(state);
            self.shared.metrics.count_rejected();
            return Err(SubscribeError::Full(self.shared.slots.max()));
        };
        let live_rx = live_tx.subscribe();
        let missed = state.history.replay(resume);
        let mut replay = Vec::with_capacity(1 + missed.len());
        replay.push(Outgoing::Heartbeat(self.shared.heartbeat.clone()));
        replay.extend(missed.map(|event| Outgoing::Ping(event.clone())));
        drop(state);
        if resume != Resume::Latest {
            self.shared.metrics.count_replayed(replay.len() as u64 - 1);
        }
        Ok(Subscription::new(
            replay,
            live_rx,
            slot,
            self.shared.metrics.clone(),
        ))
    }

    /// Ends every open stream (each first drains what it was already sent) and refuses new ones.
    pub fn close(&self) {
        self.shared.lock().live_tx = None;
    }

    /// Returns once every stream has been dropped. After [`Hub::close`], that is when the last
    /// open stream has ended.
    pub async fn drained(&self) {
        self.shared.slots.drained().await;
    }

    /// Open streams, newest id, closed or not.
    pub fn status(&self) -> HubStatus {
        let state = self.shared.lock();
        HubStatus {
            clients: self.shared.slots.open(),
            last_id: state.history.newest(),
            closed: state.live_tx.is_none(),
            degraded: self.shared.degraded.load(Ordering::Relaxed) != 0,
        }
    }
}

/// The wire text of `event`, as the `Sse` responder encodes it.
#[cfg(test)]
pub(crate) fn wire_text(event: sse::Event) -> String {
    use futures_util::FutureExt as _;
    let body = sse::Sse::from_infallible_stream(futures_util::stream::iter([event]));
    let bytes = actix_web::body::to_bytes(body)
        .now_or_never()
        .expect("one ready event encodes at once")
        .expect("an event encodes");
    String::from_utf8(bytes.to_vec()).expect("SSE is UTF-8")
}

#[cfg(test)]
impl HubSettings {
    /// Settings for unit tests: `history` and `max_clients` as given, a client buffer of 8, pings
    /// every second with a heartbeat after two silent ones, no catch-up.
    pub(crate) fn for_tests(history: usize, max_clients: usize) -> Self {
        Self {
            history,
            client_buffer: 8,
            max_clients,
            timing: Heartbeat {
                interval_ms: 1000,
                heartbeat_ms: Some(2000),
            },
            catch_up: Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use futures_util::{FutureExt, StreamExt};
    use shared::{EVENT_NAME, Epoch};

    const EPOCH: Epoch = Epoch(0xabc);

    fn hub(history: usize, max_clients: usize) -> Hub {
        Hub::new(HubSettings::for_tests(history, max_clients), Metrics::new())
    }

    fn publish(hub: &Hub, count: u64) {
        let time = Utc.timestamp_opt(1_700_000_000 + count as i64, 0).unwrap();
        hub.publish(
            EventId {
                epoch: EPOCH,
                count,
            },
            &Ping { count, time },
        )
        .unwrap();
    }

    fn id(count: u64) -> EventId {
        EventId {
            epoch: EPOCH,
            count,
        }
    }

    /// The wire text of one event.
    fn text(event: sse::Event) -> String {
        wire_text(event)
    }

    /// The heartbeat every stream starts with, as the tests' hubs send it.
    fn heartbeat_text() -> String {
        let timing = HubSettings::for_tests(1, 1).timing;
        text(shared::sse::heartbeat_event(&timing).unwrap())
    }

    /// Subscribes, checking that the stream starts with the heartbeat.
    fn subscribe(hub: &Hub, resume: Resume) -> Subscription {
        let mut subscription = hub.subscribe(resume).unwrap();
        let first = subscription.next().now_or_never().flatten().unwrap();
        assert_eq!(text(first), heartbeat_text());
        subscription
    }

    /// The counts a subscription yields without waiting.
    fn ready_counts(subscription: &mut Subscription) -> Vec<u64> {
        let mut counts = Vec::new();
        while let Some(Some(event)) = subscription.next().now_or_never() {
            let text = text(event);
            let data = text
                .lines()
                .find_map(|line| line.strip_prefix("data: "))
                .unwrap();
            let ping: Ping = serde_json::from_str(data).unwrap();
            assert!(
                text.contains(&format!("id: {}\n", id(ping.count))),
                "{text}"
            );
            assert!(text.contains(&format!("event: {EVENT_NAME}\n")), "{text}");
            counts.push(ping.count);
        }
        counts
    }

    fn is_ended(subscription: &mut Subscription) -> bool {
        matches!(subscription.next().now_or_never(), Some(None))
    }

    #[test]
    fn a_new_client_starts_with_the_newest_event() {
        let hub = hub(10, 10);
        (1..=5).for_each(|count| publish(&hub, count));
        let mut subscription = subscribe(&hub, Resume::Latest);
        assert_eq!(ready_counts(&mut subscription), [5]);
        publish(&hub, 6);
        assert_eq!(ready_counts(&mut subscription), [6]);
    }

    #[test]
    fn a_client_that_arrives_before_any_event_waits_for_the_first() {
        let hub = hub(10, 10);
        let mut subscription = subscribe(&hub, Resume::Latest);
        assert_eq!(ready_counts(&mut subscription), Vec::<u64>::new());
        publish(&hub, 1);
        assert_eq!(ready_counts(&mut subscription), [1]);
    }

    #[test]
    fn resume_replays_exactly_the_missed_events_then_live() {
        let hub = hub(10, 10);
        (1..=7).for_each(|count| publish(&hub, count));
        let mut subscription = subscribe(&hub, Resume::After(id(4)));
        publish(&hub, 8);
        assert_eq!(ready_counts(&mut subscription), [5, 6, 7, 8]);
    }

    #[test]
    fn resume_from_the_newest_id_waits_for_the_next() {
        let hub = hub(10, 10);
        (1..=3).for_each(|count| publish(&hub, count));
        let mut subscription = subscribe(&hub, Resume::After(id(3)));
        assert_eq!(ready_counts(&mut subscription), Vec::<u64>::new());
    }

    #[test]
    fn ids_older_than_the_history_start_at_the_oldest_retained() {
        let hub = hub(3, 10);
        (1..=10).for_each(|count| publish(&hub, count));
        let mut subscription = subscribe(&hub, Resume::After(id(2)));
        assert_eq!(ready_counts(&mut subscription), [8, 9, 10]);
    }

    #[test]
    fn ids_of_another_run_start_at_the_oldest_retained() {
        let hub = hub(3, 10);
        (1..=2).for_each(|count| publish(&hub, count));
        let foreign = EventId {
            epoch: Epoch(EPOCH.0 + 1),
            count: 1,
        };
        let mut subscription = subscribe(&hub, Resume::After(foreign));
        assert_eq!(ready_counts(&mut subscription), [1, 2]);
    }

    #[test]
    fn ids_from_the_future_start_at_the_newest() {
        let hub = hub(3, 10);
        (1..=3).for_each(|count| publish(&hub, count));
        let mut subscription = subscribe(&hub, Resume::After(id(99)));
        assert_eq!(ready_counts(&mut subscription), [3]);
    }

    #[test]
    fn history_is_bounded() {
        let hub = hub(4, 10);
        (1..=100).for_each(|count| publish(&hub, count));
        let mut subscription = subscribe(&hub, Resume::After(id(0)));
        assert_eq!(ready_counts(&mut subscription), [97, 98, 99, 100]);
    }

    #[test]
    fn the_client_limit_is_exact_and_slots_come_back() {
        let hub = hub(4, 2);
        let first = subscribe(&hub, Resume::Latest);
        let _second = subscribe(&hub, Resume::Latest);
        assert_eq!(
            hub.subscribe(Resume::Latest).err(),
            Some(SubscribeError::Full(2))
        );
        assert_eq!(hub.status().clients, 2);
        drop(first);
        assert_eq!(hub.status().clients, 1);
        assert!(hub.subscribe(Resume::Latest).is_ok());
    }

    #[test]
    fn a_client_that_falls_behind_its_buffer_is_ended() {
        let hub = hub(100, 10);
        let mut slow = subscribe(&hub, Resume::Latest);
        (1..=20).for_each(|count| publish(&hub, count));
        // The buffer holds 8 events; the slow client missed some, so its stream ends instead of
        // skipping them silently.
        assert_eq!(ready_counts(&mut slow), Vec::<u64>::new());
        assert!(is_ended(&mut slow));
        assert!(
            hub.shared
                .metrics
                .render()
                .contains("pingstream_slow_clients_dropped_total 1")
        );
    }

    #[test]
    fn close_ends_open_streams_and_refuses_new_ones() {
        let hub = hub(4, 10);
        publish(&hub, 1);
        let mut subscription = subscribe(&hub, Resume::Latest);
        hub.close();
        assert_eq!(ready_counts(&mut subscription), [1]);
        assert!(is_ended(&mut subscription));
        assert_eq!(
            hub.subscribe(Resume::Latest).err(),
            Some(SubscribeError::Closed)
        );
        assert!(hub.status().closed);
    }

    #[test]
    fn an_event_of_a_new_epoch_drops_the_old_history() {
        let hub = hub(10, 10);
        (1..=3).for_each(|count| publish(&hub, count));
        let next_run = EventId {
            epoch: Epoch(EPOCH.0 + 1),
            count: 1,
        };
        let time = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        hub.publish(next_run, &Ping { count: 1, time }).unwrap();
        let mut subscription = subscribe(&hub, Resume::After(id(1)));
        let text = text(subscription.next().now_or_never().flatten().unwrap());
        assert!(text.contains(&format!("id: {next_run}\n")), "{text}");
        assert!(subscription.next().now_or_never().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_following_hub_waits_for_an_id_it_has_not_read_yet() {
        let hub = Hub::new(
            HubSettings {
                catch_up: Duration::from_secs(2),
                ..HubSettings::for_tests(10, 10)
            },
            Metrics::new(),
        );
        (1..=3).for_each(|count| publish(&hub, count));
        let waiting = tokio::spawn({
            let hub = hub.clone();
            async move {
                hub.catch_up(Resume::After(id(5))).await;
                subscribe(&hub, Resume::After(id(5)))
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        (4..=6).for_each(|count| publish(&hub, count));
        let mut subscription = waiting.await.unwrap();
        assert_eq!(ready_counts(&mut subscription), [6]);
    }

    #[tokio::test(start_paused = true)]
    async fn catch_up_gives_up_after_its_wait_and_the_in_memory_hub_never_waits() {
        let following = Hub::new(
            HubSettings {
                catch_up: Duration::from_secs(2),
                ..HubSettings::for_tests(10, 10)
            },
            Metrics::new(),
        );
        publish(&following, 1);
        let started = tokio::time::Instant::now();
        following.catch_up(Resume::After(id(99))).await;
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        let in_memory = hub(10, 10);
        publish(&in_memory, 1);
        let started = tokio::time::Instant::now();
        in_memory.catch_up(Resume::After(id(99))).await;
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[test]
    fn degraded_while_any_upstream_part_is_in_trouble() {
        let hub = hub(4, 4);
        hub.set_degraded(Upstream::Reader, true);
        hub.set_degraded(Upstream::Leader, true);
        hub.set_degraded(Upstream::Reader, false);
        assert!(hub.status().degraded);
        hub.set_degraded(Upstream::Leader, false);
        assert!(!hub.status().degraded);
    }

    mod properties {
        use super::*;
        use eventsource_stream::Eventsource;
        use proptest::prelude::*;

        proptest! {
            /// Ping → hub → SSE bytes → a spec-following parser gives back the same ping, id and
            /// event name, for any count and any millisecond time chrono can print.
            #[test]
            fn events_round_trip_through_a_spec_parser(
                epoch: u64,
                count: u64,
                millis in -62_000_000_000_000_i64..253_000_000_000_000_i64,
            ) {
                let hub = hub(4, 4);
                let time = Utc.timestamp_millis_opt(millis).unwrap();
                let id = EventId { epoch: Epoch(epoch), count };
                hub.publish(id, &Ping { count, time }).unwrap();
                let mut subscription = subscribe(&hub, Resume::Latest);
                let event = subscription.next().now_or_never().flatten().unwrap();
                let text = text(event);
                let chunks = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(text)]);
                let parsed: Vec<_> = chunks.eventsource().collect::<Vec<_>>().now_or_never().unwrap();
                prop_assert_eq!(parsed.len(), 1);
                let parsed = parsed.into_iter().next().unwrap().unwrap();
                prop_assert_eq!(parsed.event.as_str(), EVENT_NAME);
                prop_assert_eq!(parsed.id.parse::<EventId>(), Ok(id));
                let ping: Ping = serde_json::from_str(&parsed.data).unwrap();
                prop_assert_eq!(ping, Ping { count, time });
            }
        }
    }
}
