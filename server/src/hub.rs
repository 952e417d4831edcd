//! The hub: fans every published event out to all open streams and keeps a bounded history so
//! a reconnecting client is answered with exactly the events it missed.
//!
//! The two operations that must not interleave, "append to history and send live" and "snapshot
//! history and start receiving live", each happen under the one lock. That is what makes a resume
//! gap-free and duplicate-free even when a tick lands while a client subscribes.

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU8, Ordering},
    },
    time::Duration,
};

use actix_web_lab::sse;
use shared::{EVENT_NAME, EventId, Ping};
use tokio::{
    sync::{Notify, broadcast},
    time::Instant,
};

use crate::{metrics::Metrics, subscription::Subscription};

/// Cheap, cloneable handle to the hub; all clones share one state.
#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

/// Sizes that bound the hub's memory.
#[derive(Debug, Clone, Copy)]
pub struct HubLimits {
    /// Events kept to answer `Last-Event-ID`.
    pub history: usize,
    /// Events one client may fall behind before its stream is ended.
    pub client_buffer: usize,
    /// Streams open at once.
    pub max_clients: usize,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    limits: HubLimits,
    pub(crate) metrics: Metrics,
    /// Woken on every publish, for [`Hub::catch_up`].
    published: Notify,
    /// How long [`Hub::catch_up`] waits for an id this hub has not seen yet. Zero for the
    /// in-memory hub, whose own ticker makes every id: one it has not seen was never sent.
    catch_up: Duration,
    /// One bit per [`Upstream`] part that is in trouble; any bit set makes the hub degraded.
    degraded: AtomicU8,
}

struct State {
    /// The newest `limits.history` events, oldest first.
    history: VecDeque<Stamped>,
    /// Live fan-out of events; `None` once the hub is closed, which ends every stream.
    live_tx: Option<broadcast::Sender<sse::Event>>,
    /// Open subscriptions, kept exact by [`ClientSlot`].
    clients: usize,
    /// When the streams were last sent anything (an event or a keep-alive).
    last_sent: Instant,
}

/// An event with the id it was published under. Its JSON was serialized once; every stream
/// that is sent it shares the same buffers (cloning an `sse::Event` only counts references).
#[derive(Clone)]
struct Stamped {
    id: EventId,
    event: sse::Event,
}

/// The keep-alive comment's text (`: keep-alive` on the wire).
const KEEP_ALIVE: &str = "keep-alive";

/// Where a new subscription starts, from the client's `Last-Event-ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// A new client, or one whose id could not be read: the newest event, then live.
    Latest,
    /// Everything after this event, then live. An id this hub cannot place (another run, older
    /// than the history) starts at the oldest retained event; one from the future starts at the
    /// newest. Either way the counts show the client the discontinuity.
    After(EventId),
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

impl Hub {
    /// Creates an empty hub.
    pub fn new(limits: HubLimits, metrics: Metrics) -> Self {
        Self::following(limits, metrics, Duration::ZERO)
    }

    /// Creates an empty hub fed from outside (a cluster's shared stream), where a client may
    /// bring an id that another replica has sent but this one has not read yet:
    /// [`Hub::catch_up`] then waits up to `catch_up` for it.
    pub fn following(limits: HubLimits, metrics: Metrics, catch_up: Duration) -> Self {
        let (live_tx, _) = broadcast::channel(limits.client_buffer.max(1));
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    history: VecDeque::with_capacity(limits.history.min(4096)),
                    live_tx: Some(live_tx),
                    clients: 0,
                    last_sent: Instant::now(),
                }),
                limits,
                metrics,
                published: Notify::new(),
                catch_up,
                degraded: AtomicU8::new(0),
            }),
        }
    }

    /// Serializes `ping` once, appends it to the history and sends the same event to every open
    /// stream. Within an epoch, ids must increase from one call to the next; an id of a new
    /// epoch (a cluster's shared stream was lost and started again) drops the previous epoch's
    /// history, so that history always holds one run.
    pub fn publish(&self, id: EventId, ping: &Ping) -> Result<(), serde_json::Error> {
        let event = event(id, ping)?;
        let mut state = self.shared.lock();
        if state
            .history
            .back()
            .is_some_and(|newest| newest.id.epoch != id.epoch)
        {
            state.history.clear();
        }
        if state.history.len() >= self.shared.limits.history {
            state.history.pop_front();
        }
        state.history.push_back(Stamped {
            id,
            event: event.clone(),
        });
        if let Some(live_tx) = &state.live_tx {
            // An error only means that no stream is open right now.
            let _ = live_tx.send(event);
        }
        state.last_sent = Instant::now();
        drop(state);
        self.shared.published.notify_waiters();
        self.shared.metrics.count_published();
        Ok(())
    }

    /// Sends every open stream a keep-alive comment if nothing was sent to them for `idle`; returns
    /// when that will next be due. One timer for all streams (the keep-alive task's), instead of
    /// one per stream. The comment is not kept in the history.
    pub fn keep_alive(&self, idle: Duration) -> Instant {
        let mut state = self.shared.lock();
        let now = Instant::now();
        if now.duration_since(state.last_sent) >= idle {
            if let Some(live_tx) = &state.live_tx {
                let _ = live_tx.send(sse::Event::Comment(KEEP_ALIVE.into()));
            }
            state.last_sent = now;
        }
        state.last_sent + idle
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
        if self.shared.catch_up.is_zero() {
            return;
        }
        let deadline = tokio::time::Instant::now() + self.shared.catch_up;
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

    /// Opens a stream that yields the events `resume` asks for, then every event published from
    /// now on, with nothing lost and nothing repeated in between.
    pub fn subscribe(&self, resume: Resume) -> Result<Subscription, SubscribeError> {
        let mut state = self.shared.lock();
        let Some(live_tx) = &state.live_tx else {
            drop(state);
            self.shared.metrics.count_rejected();
            return Err(SubscribeError::Closed);
        };
        if state.clients >= self.shared.limits.max_clients {
            drop(state);
            self.shared.metrics.count_rejected();
            return Err(SubscribeError::Full(self.shared.limits.max_clients));
        }
        let live_rx = live_tx.subscribe();
        let start = replay_start(&state.history, resume);
        let replay: Vec<sse::Event> = state
            .history
            .range(start..)
            .map(|stamped| stamped.event.clone())
            .collect();
        state.clients += 1;
        self.shared.metrics.set_connected_clients(state.clients);
        drop(state);
        if resume != Resume::Latest {
            self.shared.metrics.count_replayed(replay.len() as u64);
        }
        Ok(Subscription::new(
            replay,
            live_rx,
            ClientSlot {
                shared: Arc::clone(&self.shared),
            },
        ))
    }

    /// Ends every open stream (each first drains what it was already sent) and refuses new ones.
    pub fn close(&self) {
        self.shared.lock().live_tx = None;
    }

    /// Open streams, newest id, closed or not.
    pub fn status(&self) -> HubStatus {
        let state = self.shared.lock();
        HubStatus {
            clients: state.clients,
            last_id: state.history.back().map(|stamped| stamped.id),
            closed: state.live_tx.is_none(),
            degraded: self.shared.degraded.load(Ordering::Relaxed) != 0,
        }
    }
}

impl Shared {
    /// The state lock. No code panics while holding it, but if some did, the state is still
    /// consistent (every update is a single step), so a poisoned lock is used as it is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One place among `max_clients`, given back when the subscription is dropped.
pub(crate) struct ClientSlot {
    shared: Arc<Shared>,
}

impl ClientSlot {
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.clients -= 1;
        self.shared.metrics.set_connected_clients(state.clients);
    }
}

/// One ping as an SSE event: `id:`, `event: ping` and the JSON `data:`, which actix-web-lab's
/// `Sse` responder writes out as what a browser's `EventSource` parses into one `ping` event.
fn event(id: EventId, ping: &Ping) -> Result<sse::Event, serde_json::Error> {
    Ok(sse::Data::new_json(ping)?
        .event(EVENT_NAME)
        .id(id.to_string())
        .into())
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

/// Index of the first history entry to replay for `resume`.
fn replay_start(history: &VecDeque<Stamped>, resume: Resume) -> usize {
    let newest = match history.back() {
        Some(newest) => newest.id,
        None => return 0,
    };
    let Resume::After(after) = resume else {
        return history.len() - 1;
    };
    if after.epoch != newest.epoch {
        // From another run of the stream: everything this run still has.
        return 0;
    }
    if after.count > newest.count {
        // Not an id we ever sent: treat like a new client.
        return history.len() - 1;
    }
    // Counts in history increase, so the events after `after` start where counts exceed it. An
    // id older than the history gives 0: the oldest retained event.
    history.partition_point(|stamped| stamped.id.count <= after.count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use futures_util::{FutureExt, StreamExt};
    use shared::Epoch;

    const EPOCH: Epoch = Epoch(0xabc);

    fn hub(history: usize, max_clients: usize) -> Hub {
        Hub::new(
            HubLimits {
                history,
                client_buffer: 8,
                max_clients,
            },
            Metrics::new(),
        )
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
        let mut subscription = hub.subscribe(Resume::Latest).unwrap();
        assert_eq!(ready_counts(&mut subscription), [5]);
        publish(&hub, 6);
        assert_eq!(ready_counts(&mut subscription), [6]);
    }

    #[test]
    fn a_client_that_arrives_before_any_event_waits_for_the_first() {
        let hub = hub(10, 10);
        let mut subscription = hub.subscribe(Resume::Latest).unwrap();
        assert_eq!(ready_counts(&mut subscription), Vec::<u64>::new());
        publish(&hub, 1);
        assert_eq!(ready_counts(&mut subscription), [1]);
    }

    #[test]
    fn resume_replays_exactly_the_missed_events_then_live() {
        let hub = hub(10, 10);
        (1..=7).for_each(|count| publish(&hub, count));
        let mut subscription = hub.subscribe(Resume::After(id(4))).unwrap();
        publish(&hub, 8);
        assert_eq!(ready_counts(&mut subscription), [5, 6, 7, 8]);
    }

    #[test]
    fn resume_from_the_newest_id_waits_for_the_next() {
        let hub = hub(10, 10);
        (1..=3).for_each(|count| publish(&hub, count));
        let mut subscription = hub.subscribe(Resume::After(id(3))).unwrap();
        assert_eq!(ready_counts(&mut subscription), Vec::<u64>::new());
    }

    #[test]
    fn ids_older_than_the_history_start_at_the_oldest_retained() {
        let hub = hub(3, 10);
        (1..=10).for_each(|count| publish(&hub, count));
        let mut subscription = hub.subscribe(Resume::After(id(2))).unwrap();
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
        let mut subscription = hub.subscribe(Resume::After(foreign)).unwrap();
        assert_eq!(ready_counts(&mut subscription), [1, 2]);
    }

    #[test]
    fn ids_from_the_future_start_at_the_newest() {
        let hub = hub(3, 10);
        (1..=3).for_each(|count| publish(&hub, count));
        let mut subscription = hub.subscribe(Resume::After(id(99))).unwrap();
        assert_eq!(ready_counts(&mut subscription), [3]);
    }

    #[test]
    fn history_is_bounded() {
        let hub = hub(4, 10);
        (1..=100).for_each(|count| publish(&hub, count));
        let mut subscription = hub.subscribe(Resume::After(id(0))).unwrap();
        assert_eq!(ready_counts(&mut subscription), [97, 98, 99, 100]);
    }

    #[test]
    fn the_client_limit_is_exact_and_slots_come_back() {
        let hub = hub(4, 2);
        let first = hub.subscribe(Resume::Latest).unwrap();
        let _second = hub.subscribe(Resume::Latest).unwrap();
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
        let mut slow = hub.subscribe(Resume::Latest).unwrap();
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
        let mut subscription = hub.subscribe(Resume::Latest).unwrap();
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
        let mut subscription = hub.subscribe(Resume::After(id(1))).unwrap();
        let text = text(subscription.next().now_or_never().flatten().unwrap());
        assert!(text.contains(&format!("id: {next_run}\n")), "{text}");
        assert!(subscription.next().now_or_never().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_following_hub_waits_for_an_id_it_has_not_read_yet() {
        let hub = Hub::following(
            HubLimits {
                history: 10,
                client_buffer: 8,
                max_clients: 10,
            },
            Metrics::new(),
            Duration::from_secs(2),
        );
        (1..=3).for_each(|count| publish(&hub, count));
        let waiting = tokio::spawn({
            let hub = hub.clone();
            async move {
                hub.catch_up(Resume::After(id(5))).await;
                hub.subscribe(Resume::After(id(5))).unwrap()
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        (4..=6).for_each(|count| publish(&hub, count));
        let mut subscription = waiting.await.unwrap();
        assert_eq!(ready_counts(&mut subscription), [6]);
    }

    #[tokio::test(start_paused = true)]
    async fn catch_up_gives_up_after_its_wait_and_the_in_memory_hub_never_waits() {
        let following = Hub::following(
            HubLimits {
                history: 10,
                client_buffer: 8,
                max_clients: 10,
            },
            Metrics::new(),
            Duration::from_secs(2),
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
                let mut subscription = hub.subscribe(Resume::Latest).unwrap();
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
