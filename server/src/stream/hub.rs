//! The hub: gives every event its id (one sequence over events of every name), fans it out to
//! all open streams and keeps a bounded history so a reconnecting client is answered with
//! exactly the events it missed.
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
use shared::{Epoch, EventId, Timing};
use tokio::{
    sync::{Notify, broadcast},
    time::Instant,
};

use super::{
    client_slot::ClientSlots,
    history::{History, HistoryLimits, Resume},
    payload::Payload,
    subscription::{Outgoing, Subscription},
};
use crate::metrics::{Counter, Metrics};

/// Heartbeat periods a stream may send nothing before its place is given back
/// ([`Hub::free_stalled`]): 10 s with the default 2 s heartbeat.
pub const STALLED_AFTER_HEARTBEATS: u32 = 5;
/// The least time a stream may send nothing before its place is given back, whatever the
/// heartbeat: with a fast tick (2 ms pings, 4 ms heartbeats) a reader descheduled for a moment
/// must not count as stalled.
pub const STALLED_AT_LEAST: Duration = Duration::from_secs(5);

/// Cheap, cloneable handle to the hub; all clones share one state.
#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

/// How big a hub is and what it tells its streams.
#[derive(Debug, Clone, Copy)]
pub struct HubSettings {
    /// Events kept to answer `Last-Event-ID`, by count and by bytes.
    pub history: HistoryLimits,
    /// Events one client may fall behind before its stream is ended.
    pub client_buffer: usize,
    /// Streams open at once.
    pub max_clients: usize,
    /// The stream's timing: the first event of every stream, and the heartbeat sent to all
    /// streams whenever they were silent for its `heartbeat_ms`.
    pub timing: Timing,
    /// How long [`Hub::catch_up`] waits for an id this hub has not seen yet. Zero for the
    /// in-memory hub, which makes every id itself: one it has not seen was never sent. In a
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
    history: History<Outgoing>,
    /// The newest event's id, which the next [`Hub::publish`] follows. Kept apart from the
    /// history so that the sequence never depends on what the history still holds.
    last_id: Option<EventId>,
    /// Live fan-out of events; `None` once the hub is closed, which ends every stream.
    live_tx: Option<broadcast::Sender<Outgoing>>,
    /// When the streams were last sent anything (an event or a heartbeat).
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

/// Why [`Hub::publish`] refused an event: the hub was closed for shutdown.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the server is shutting down")]
pub struct PublishClosed;

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

impl State {
    /// Appends the event to the history and sends it to every open stream, in one step under
    /// the hub's lock. `delivered` is its name's delivery counter, looked up by the caller
    /// before taking the lock.
    fn append(&mut self, id: EventId, payload: &Payload, delivered: Counter) {
        let event = shared::sse::event(id, &payload.name, payload.data.clone());
        let outgoing = Outgoing::Event { event, delivered };
        if let Some(live_tx) = &self.live_tx {
            // An error only means that no stream is open right now.
            let _ = live_tx.send(outgoing.clone());
        }
        self.history.push(id, outgoing, payload.weight());
        self.last_id = Some(id);
        self.last_sent = Instant::now();
    }
}

impl Hub {
    /// Creates an empty hub.
    pub fn new(settings: HubSettings, metrics: Metrics) -> Self {
        let (live_tx, _) = broadcast::channel(settings.client_buffer.max(1));
        let heartbeat =
            shared::sse::heartbeat_event(&settings.timing).expect("a Timing always serializes");
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    history: History::new(settings.history),
                    last_id: None,
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

    /// Gives `payload` the next id of the run `epoch` (seq 1 for the run's first event, then
    /// one more than the newest), appends it to the history and sends it to every open stream:
    /// the in-memory stream's one way in, whoever publishes (the ticker, the publish route).
    /// Refused once the hub is closed.
    pub fn publish(&self, epoch: Epoch, payload: &Payload) -> Result<EventId, PublishClosed> {
        // A registry lookup (a lock and an allocation of its own): done before the hub's lock.
        let delivered = self.shared.metrics.delivered(&payload.name);
        let mut state = self.shared.lock();
        if state.live_tx.is_none() {
            return Err(PublishClosed);
        }
        let seq = match state.last_id {
            Some(last) if last.epoch == epoch => last.seq + 1,
            _ => 1,
        };
        let id = EventId { epoch, seq };
        state.append(id, payload, delivered);
        self.after_append(state, &payload.name);
        Ok(id)
    }

    /// Appends an event whose id was given elsewhere (the cluster's shared stream) and sends
    /// it to every open stream. Within an epoch ids must increase: an id that does not is
    /// ignored (returns false), so that no stream ever sees an id twice.
    pub fn relay(&self, id: EventId, payload: &Payload) -> bool {
        let delivered = self.shared.metrics.delivered(&payload.name);
        let mut state = self.shared.lock();
        if state
            .last_id
            .is_some_and(|last| last.epoch == id.epoch && last.seq >= id.seq)
        {
            return false;
        }
        state.append(id, payload, delivered);
        self.after_append(state, &payload.name);
        true
    }

    /// What follows every append, once the lock is released: wake [`Hub::catch_up`], count.
    fn after_append(&self, state: MutexGuard<'_, State>, name: &str) {
        let bytes = state.history.bytes();
        drop(state);
        self.shared.published.notify_waiters();
        self.shared.metrics.count_published(name);
        self.shared.metrics.set_history_bytes(bytes);
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

    /// Gives back the places of streams that sent nothing for [`STALLED_AFTER_HEARTBEATS`]
    /// heartbeat periods, and at least [`STALLED_AT_LEAST`] (a healthy stream sends at least one
    /// heartbeat each period), counts them
    /// and returns how many; the heartbeat task calls it once a period. Nothing is freed with
    /// heartbeats off: an idle healthy stream would then look stalled.
    pub fn free_stalled(&self) -> usize {
        let Some(heartbeat_ms) = self.shared.settings.timing.heartbeat_ms else {
            return 0;
        };
        let after =
            (Duration::from_millis(heartbeat_ms) * STALLED_AFTER_HEARTBEATS).max(STALLED_AT_LEAST);
        let freed = self.shared.slots.free_stalled(after);
        if freed > 0 {
            tracing::info!(
                freed,
                ?after,
                "freed the places of streams that took no data"
            );
            self.shared.metrics.count_stalled_freed(freed);
        }
        freed
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
                Some(newest) if newest.epoch != after.epoch || newest.seq >= after.seq => {
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
        replay.extend(missed.cloned());
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
            last_id: state.last_id,
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
    /// Settings for unit tests: `history` events (no byte limit) and `max_clients` as given, a
    /// client buffer of 8, an event every second with a heartbeat after two silent ones, no
    /// catch-up.
    pub(crate) fn for_tests(history: usize, max_clients: usize) -> Self {
        Self {
            history: HistoryLimits {
                events: history,
                bytes: usize::MAX,
            },
            client_buffer: 8,
            max_clients,
            timing: Timing {
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
    use futures_util::{FutureExt, StreamExt};

    const EPOCH: Epoch = Epoch(0xabc);

    fn hub(history: usize, max_clients: usize) -> Hub {
        Hub::new(HubSettings::for_tests(history, max_clients), Metrics::new())
    }

    /// Publishes the test event numbered `n`, checking that it gets seq `n`.
    fn publish(hub: &Hub, n: u64) {
        assert_eq!(hub.publish(EPOCH, &Payload::for_tests(n)), Ok(id(n)));
    }

    fn id(seq: u64) -> EventId {
        EventId { epoch: EPOCH, seq }
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

    /// The seqs a subscription yields without waiting, checking that each event is the test
    /// event of that number.
    fn ready_seqs(subscription: &mut Subscription) -> Vec<u64> {
        let mut seqs = Vec::new();
        while let Some(Some(event)) = subscription.next().now_or_never() {
            let (seq, payload) = Payload::parse_test_event(&text(event));
            assert_eq!(payload, Payload::for_tests(seq));
            seqs.push(seq);
        }
        seqs
    }

    fn is_ended(subscription: &mut Subscription) -> bool {
        matches!(subscription.next().now_or_never(), Some(None))
    }

    #[test]
    fn a_new_client_starts_with_the_newest_event() {
        let hub = hub(10, 10);
        (1..=5).for_each(|n| publish(&hub, n));
        let mut subscription = subscribe(&hub, Resume::Latest);
        assert_eq!(ready_seqs(&mut subscription), [5]);
        publish(&hub, 6);
        assert_eq!(ready_seqs(&mut subscription), [6]);
    }

    #[test]
    fn a_client_that_arrives_before_any_event_waits_for_the_first() {
        let hub = hub(10, 10);
        let mut subscription = subscribe(&hub, Resume::Latest);
        assert_eq!(ready_seqs(&mut subscription), Vec::<u64>::new());
        publish(&hub, 1);
        assert_eq!(ready_seqs(&mut subscription), [1]);
    }

    #[test]
    fn resume_replays_exactly_the_missed_events_then_live() {
        let hub = hub(10, 10);
        (1..=7).for_each(|n| publish(&hub, n));
        let mut subscription = subscribe(&hub, Resume::After(id(4)));
        publish(&hub, 8);
        assert_eq!(ready_seqs(&mut subscription), [5, 6, 7, 8]);
    }

    #[test]
    fn resume_from_the_newest_id_waits_for_the_next() {
        let hub = hub(10, 10);
        (1..=3).for_each(|n| publish(&hub, n));
        let mut subscription = subscribe(&hub, Resume::After(id(3)));
        assert_eq!(ready_seqs(&mut subscription), Vec::<u64>::new());
    }

    #[test]
    fn ids_older_than_the_history_start_at_the_oldest_retained() {
        let hub = hub(3, 10);
        (1..=10).for_each(|n| publish(&hub, n));
        let mut subscription = subscribe(&hub, Resume::After(id(2)));
        assert_eq!(ready_seqs(&mut subscription), [8, 9, 10]);
    }

    #[test]
    fn ids_of_another_run_start_at_the_oldest_retained() {
        let hub = hub(3, 10);
        (1..=2).for_each(|n| publish(&hub, n));
        let foreign = EventId {
            epoch: Epoch(EPOCH.0 + 1),
            seq: 1,
        };
        let mut subscription = subscribe(&hub, Resume::After(foreign));
        assert_eq!(ready_seqs(&mut subscription), [1, 2]);
    }

    #[test]
    fn ids_from_the_future_start_at_the_newest() {
        let hub = hub(3, 10);
        (1..=3).for_each(|n| publish(&hub, n));
        let mut subscription = subscribe(&hub, Resume::After(id(99)));
        assert_eq!(ready_seqs(&mut subscription), [3]);
    }

    #[test]
    fn history_is_bounded() {
        let hub = hub(4, 10);
        (1..=100).for_each(|n| publish(&hub, n));
        let mut subscription = subscribe(&hub, Resume::After(id(0)));
        assert_eq!(ready_seqs(&mut subscription), [97, 98, 99, 100]);
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
        (1..=20).for_each(|n| publish(&hub, n));
        // The buffer holds 8 events; the slow client missed some, so its stream ends instead of
        // skipping them silently.
        assert_eq!(ready_seqs(&mut slow), Vec::<u64>::new());
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
        assert_eq!(ready_seqs(&mut subscription), [1]);
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
        (1..=3).for_each(|n| publish(&hub, n));
        let next_run = EventId {
            epoch: Epoch(EPOCH.0 + 1),
            seq: 1,
        };
        assert!(hub.relay(next_run, &Payload::for_tests(1)));
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
        (1..=3).for_each(|n| publish(&hub, n));
        let waiting = tokio::spawn({
            let hub = hub.clone();
            async move {
                hub.catch_up(Resume::After(id(5))).await;
                subscribe(&hub, Resume::After(id(5)))
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        (4..=6).for_each(|n| publish(&hub, n));
        let mut subscription = waiting.await.unwrap();
        assert_eq!(ready_seqs(&mut subscription), [6]);
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

    #[test]
    fn every_publish_takes_the_next_seq_whatever_the_name_and_a_new_epoch_starts_at_one() {
        let hub = hub(10, 10);
        let named = |name: &'static str| Payload {
            name: name.into(),
            data: "{}".into(),
        };
        assert_eq!(hub.publish(EPOCH, &named("a")), Ok(id(1)));
        assert_eq!(hub.publish(EPOCH, &named("b")), Ok(id(2)));
        assert_eq!(hub.publish(EPOCH, &named("a")), Ok(id(3)));
        let next = Epoch(EPOCH.0 + 1);
        assert_eq!(
            hub.publish(next, &named("b")),
            Ok(EventId {
                epoch: next,
                seq: 1
            })
        );
        hub.close();
        assert_eq!(hub.publish(next, &named("a")), Err(PublishClosed));
    }

    #[test]
    fn a_relayed_id_that_does_not_advance_is_ignored() {
        let hub = hub(10, 10);
        assert!(hub.relay(id(5), &Payload::for_tests(5)));
        assert!(!hub.relay(id(5), &Payload::for_tests(5)));
        assert!(!hub.relay(id(3), &Payload::for_tests(3)));
        // A hole is relayed as it is: the clients' ids show it.
        assert!(hub.relay(id(9), &Payload::for_tests(9)));
        let mut subscription = subscribe(&hub, Resume::After(id(0)));
        assert_eq!(ready_seqs(&mut subscription), [5, 9]);
    }

    #[test]
    fn history_bytes_are_bounded_and_reported() {
        let metrics = Metrics::new();
        let hub = Hub::new(
            HubSettings {
                history: HistoryLimits {
                    events: 1000,
                    bytes: 64 * 1024,
                },
                ..HubSettings::for_tests(1000, 10)
            },
            metrics.clone(),
        );
        let big = Payload {
            name: "big".into(),
            data: format!("\"{}\"", "x".repeat(16 * 1024)),
        };
        for _ in 0..100 {
            hub.publish(EPOCH, &big).unwrap();
        }
        let replayed = hub.subscribe(Resume::After(id(0))).unwrap();
        drop(replayed);
        let bytes = crate::metrics::tests::value(&metrics.render(), "pingstream_history_bytes");
        assert!(bytes <= 64.0 * 1024.0, "{bytes}");
        assert!(bytes >= 3.0 * 16.0 * 1024.0, "{bytes}");
    }

    mod properties {
        use super::*;
        use eventsource_stream::Eventsource;
        use proptest::prelude::*;
        use shared::{AppEvent, Level, Notice, Ping};

        /// A ping (true) or a notice (false), as the app publishes them.
        fn app_event(is_ping: bool, n: u64) -> Payload {
            let time = chrono::DateTime::UNIX_EPOCH;
            let event = if is_ping {
                AppEvent::from(Ping { count: n, time })
            } else {
                AppEvent::from(Notice {
                    text: format!("notice {n}"),
                    level: Level::Info,
                    time,
                })
            };
            Payload::encode(&event).unwrap()
        }

        /// Every event a subscription yields without waiting, as (seq, name, data).
        fn ready_events(subscription: &mut Subscription) -> Vec<(u64, String, String)> {
            let mut events = Vec::new();
            while let Some(Some(event)) = subscription.next().now_or_never() {
                let text = text(event);
                let field = |name: &str| {
                    text.lines()
                        .find_map(|line| line.strip_prefix(name))
                        .unwrap()
                        .to_owned()
                };
                let id: EventId = field("id: ").parse().unwrap();
                events.push((id.seq, field("event: "), field("data: ")));
            }
            events
        }

        proptest! {
            /// Any interleaving of pings and notices is numbered 1, 2, 3, … with no hole, and a
            /// client resuming after any of them is replayed exactly the events after it, in
            /// order, then nothing more.
            #[test]
            fn any_interleaving_gets_consecutive_seqs_and_any_resume_replays_the_suffix(
                kinds in proptest::collection::vec(any::<bool>(), 1..60),
                resume_at in any::<proptest::sample::Index>(),
            ) {
                let hub = hub(100, 10);
                let mut published = Vec::new();
                for (n, is_ping) in (1..).zip(&kinds) {
                    let payload = app_event(*is_ping, n);
                    let id = hub.publish(EPOCH, &payload).unwrap();
                    published.push((id.seq, payload.name.into_owned(), payload.data));
                }
                let seqs: Vec<u64> = published.iter().map(|event| event.0).collect();
                prop_assert_eq!(seqs, (1..=kinds.len() as u64).collect::<Vec<_>>());
                let after = resume_at.index(kinds.len() + 1) as u64;
                let mut subscription = subscribe(&hub, Resume::After(id(after)));
                let replayed = ready_events(&mut subscription);
                let suffix = published[usize::try_from(after).unwrap()..].to_vec();
                prop_assert_eq!(replayed, suffix);
            }

            /// Payload → hub → SSE bytes → a spec-following parser gives back the same name, id
            /// and data, for any epoch, seq, name and JSON string.
            #[test]
            fn events_round_trip_through_a_spec_parser(
                epoch: u64,
                seq in 1..u64::MAX,
                name in "[a-z][a-z0-9_-]{0,15}",
                text in any::<String>(),
            ) {
                let hub = hub(4, 4);
                let id = EventId { epoch: Epoch(epoch), seq };
                let payload = Payload { name: name.clone().into(), data: serde_json::to_string(&text).unwrap() };
                prop_assert!(hub.relay(id, &payload));
                let mut subscription = subscribe(&hub, Resume::Latest);
                let event = subscription.next().now_or_never().flatten().unwrap();
                let text = super::text(event);
                let chunks = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(text)]);
                let parsed: Vec<_> = chunks.eventsource().collect::<Vec<_>>().now_or_never().unwrap();
                prop_assert_eq!(parsed.len(), 1);
                let parsed = parsed.into_iter().next().unwrap().unwrap();
                prop_assert_eq!(parsed.event, name);
                prop_assert_eq!(parsed.id.parse::<EventId>(), Ok(id));
                prop_assert_eq!(parsed.data, payload.data);
            }
        }
    }
}
