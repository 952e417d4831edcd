//! The hub: gives every event its id (one sequence over events of every topic and name) and its
//! topic's number, fans it out to the open streams that want it and keeps a bounded history so
//! a reconnecting client is answered with exactly the events it missed.
//!
//! The two operations that must not interleave, "append to history and send live" and "snapshot
//! history and start receiving live", each happen under the one lock. That is what makes a resume
//! gap-free and duplicate-free even when an event lands while a client subscribes.
//!
//! Streams on every topic (no `?topic=`) share one broadcast channel: an event is written once
//! and each of them reads it. Streams on some topics are listed in the [`TopicIndex`] and get
//! an event in their own inbox only when they selected its topic, so publishing to one user's
//! topic costs one stream, not all of them.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU8, AtomicUsize, Ordering},
    },
    time::Duration,
};

use actix_web_lab::sse;
use shared::{Epoch, EventId, EventStamp, Selection, SelectionKind, Start, Timing, Topic};
use tokio::{
    sync::{Notify, broadcast},
    time::Instant,
};

use super::{
    super::access::PrivateTopics,
    client_slot::ClientSlots,
    history::{History, HistoryLimits, Resume},
    inbox,
    payload::Payload,
    subscription::{Live, Outgoing, Subscription},
    topic_index::{self, Membership, SharedIndex, TopicIndex},
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
///
/// # Examples
/// ```
/// use futures_util::StreamExt as _;
/// use server::{
///     metrics::Metrics,
///     stream::{Hub, HubSettings, Payload, Reader, Resume, history::HistoryLimits},
/// };
/// use shared::{AppEvent, Epoch, Ping, Selection, Timing};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let hub = Hub::new(
///     HubSettings {
///         history: HistoryLimits { events: 100, bytes: 1 << 20 },
///         client_buffer: 16,
///         max_clients: 10,
///         timing: Timing { interval_ms: 1000, heartbeat_ms: Some(2000), start: None, replayed: 0 },
///         catch_up: std::time::Duration::ZERO,
///         private: Default::default(),
///     },
///     Metrics::new(),
/// );
/// let mut stream = hub.subscribe(Resume::Latest, Selection::all(), Reader::anonymous()).unwrap();
/// let ping = AppEvent::from(Ping { count: 1, time: chrono::DateTime::UNIX_EPOCH });
/// let payload = Payload::encode(&ping, "ping".parse().unwrap()).unwrap();
/// // The hub numbers every event of its run.
/// assert_eq!(hub.publish(Epoch(7), &payload).unwrap().id.seq, 1);
/// // The stream opens with its heartbeat (its timing, how it starts), then the ping.
/// assert!(stream.next().await.is_some());
/// assert!(stream.next().await.is_some());
/// assert_eq!(hub.status().clients, 1);
/// # }
/// ```
#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

/// How big a hub is, what it tells its streams, and which topics are private.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Events kept to answer `Last-Event-ID`, by count and by bytes.
    pub history: HistoryLimits,
    /// Events one client may fall behind before its stream is ended.
    pub client_buffer: usize,
    /// Streams open at once.
    pub max_clients: usize,
    /// The stream's timing: the first event of every stream (with how it starts), and the
    /// heartbeat sent to a stream whenever it was silent for its `heartbeat_ms`.
    pub timing: Timing,
    /// How long [`Hub::catch_up`] waits for an id this hub has not seen yet. Zero for the
    /// in-memory hub, which makes every id itself: one it has not seen was never sent. In a
    /// cluster, a lease: what a healthy replica can be behind another.
    pub catch_up: Duration,
    /// Topics whose events only streams granted them receive.
    pub private: PrivateTopics,
}

/// Who a stream is for: the private topics it may read, and when it must end.
#[derive(Debug, Clone, Default)]
pub struct Reader {
    /// The selectors of the private topics it may read (its token's grant); `None`: it has no
    /// token and reads public topics only.
    pub grants: Option<Selection>,
    /// How long it may stay open (until its token expires); `None`: as long as it likes.
    pub expires_in: Option<Duration>,
}

impl Reader {
    /// A stream without a token: public topics only, no end.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// Whether this reader may receive an event on `topic`, `private` or not.
    fn may_read(&self, topic: &Topic, private: bool) -> bool {
        inbox::may_read(self.grants.as_ref(), topic, private)
    }
}

struct Shared {
    state: Mutex<State>,
    /// The topic streams. Locked only under `state` (publish, subscribe, heartbeats) or alone
    /// (a stream taking itself off), never the other way round.
    index: SharedIndex,
    settings: HubSettings,
    slots: ClientSlots,
    metrics: Metrics,
    /// The heartbeat, serialized once for every stream.
    heartbeat: sse::Event,
    /// The first event of a stream, one per [`Start`] and for 0 and 1 events replayed after it
    /// (the common cases: a new stream is sent the newest event), serialized once.
    openings: [[sse::Event; 2]; 3],
    /// Woken on every publish, for [`Hub::catch_up`].
    published: Notify,
    /// One bit per [`Upstream`] part that is in trouble; any bit set makes the hub degraded.
    degraded: AtomicU8,
    /// Requests waiting in [`Hub::catch_up`].
    waiting: AtomicUsize,
}

/// One request counted in [`Shared::waiting`] while it waits.
struct Waiter<'a>(&'a AtomicUsize);

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

struct State {
    /// Every event with its topic and whether that topic is private.
    history: History<Outgoing, (Topic, bool)>,
    /// The newest event's id, which the next [`Hub::publish`] follows. Kept apart from the
    /// history so that the sequence never depends on what the history still holds.
    last_id: Option<EventId>,
    /// Each topic's newest number in the run of `last_id` ([`Hub::publish`] numbers topics; a
    /// cluster's events come numbered). One entry per topic published to in the run.
    topic_seqs: HashMap<Topic, u64>,
    /// Live fan-out of events to the every-topic streams; `None` once the hub is closed, which
    /// ends every stream.
    live_tx: Option<broadcast::Sender<Outgoing>>,
    /// When the every-topic streams were last sent anything (an event or a heartbeat).
    last_sent: Instant,
    /// When the topic streams are next visited for heartbeats.
    next_topic_beat: Instant,
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

    /// The opening event of a stream that starts as `start` says, with `replayed` events from
    /// history after it.
    fn opening(&self, start: Start, replayed: usize) -> sse::Event {
        let at = match start {
            Start::Fresh => 0,
            Start::Exact => 1,
            Start::Reset => 2,
        };
        match self.openings[at].get(replayed) {
            Some(opening) => opening.clone(),
            None => opening_of(self.settings.timing, start, replayed),
        }
    }
}

/// The opening heartbeat of a stream with `timing` that starts as `start` says, with `replayed`
/// events from history after it.
fn opening_of(timing: Timing, start: Start, replayed: usize) -> sse::Event {
    shared::sse::heartbeat_event(&Timing {
        start: Some(start),
        replayed: replayed as u64,
        ..timing
    })
    .expect("a Timing always serializes")
}

impl State {
    /// Appends the event to the history and sends it to every open stream that wants it (and,
    /// when it is `private`, may read it), in one step under the hub's lock. `delivered` is its
    /// name's delivery counter, looked up by the caller before taking the lock.
    fn append(
        &mut self,
        stamp: EventStamp,
        private: bool,
        payload: &Payload,
        index: &SharedIndex,
        delivered: Counter,
    ) {
        let event = shared::sse::event(&stamp, &payload.name, payload.data.clone());
        let outgoing = Outgoing::Event { event, delivered };
        if let Some(live_tx) = &self.live_tx
            && !private
        {
            // The every-topic streams without a token: public events only. An error only means
            // that none is open right now.
            let _ = live_tx.send(outgoing.clone());
        }
        topic_index::lock(index).deliver(stamp.id, &stamp.topic, private, &outgoing);
        if self
            .last_id
            .is_some_and(|last| last.epoch != stamp.id.epoch)
        {
            self.topic_seqs.clear();
        }
        self.topic_seqs.insert(stamp.topic.clone(), stamp.topic_seq);
        self.history
            .push(stamp.id, (stamp.topic, private), outgoing, payload.weight());
        self.last_id = Some(stamp.id);
        self.last_sent = Instant::now();
    }
}

impl Hub {
    /// Creates an empty hub.
    pub fn new(settings: HubSettings, metrics: Metrics) -> Self {
        let (live_tx, _) = broadcast::channel(settings.client_buffer.max(1));
        let slots = ClientSlots::new(settings.max_clients, metrics.clone());
        let heartbeat =
            shared::sse::heartbeat_event(&settings.timing).expect("a Timing always serializes");
        let now = Instant::now();
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    history: History::new(settings.history),
                    last_id: None,
                    topic_seqs: HashMap::new(),
                    live_tx: Some(live_tx),
                    last_sent: now,
                    next_topic_beat: now,
                }),
                index: Arc::new(Mutex::new(TopicIndex::default())),
                heartbeat,
                openings: [Start::Fresh, Start::Exact, Start::Reset].map(|start| {
                    [0, 1].map(|replayed| opening_of(settings.timing, start, replayed))
                }),
                settings,
                slots,
                metrics,
                published: Notify::new(),
                degraded: AtomicU8::new(0),
                waiting: AtomicUsize::new(0),
            }),
        }
    }

    /// Gives `payload` the next id of the run `epoch` (seq 1 for the run's first event, then
    /// one more than the newest) and the next number of its topic (1 for the topic's first
    /// event in the run), appends it to the history and sends it to every open stream that
    /// wants it: the in-memory stream's one way in, whoever publishes (the ticker, the publish
    /// route). Refused once the hub is closed.
    pub fn publish(&self, epoch: Epoch, payload: &Payload) -> Result<EventStamp, PublishClosed> {
        // A registry lookup (a lock and an allocation of its own) and the privacy of the topic:
        // done before the hub's lock.
        let delivered = self.shared.metrics.delivered(&payload.name);
        let private = self.shared.settings.private.contains(&payload.topic);
        let mut state = self.shared.lock();
        if state.live_tx.is_none() {
            return Err(PublishClosed);
        }
        let (seq, topic_seq) = match state.last_id {
            Some(last) if last.epoch == epoch => (
                last.seq + 1,
                state.topic_seqs.get(&payload.topic).map_or(1, |n| n + 1),
            ),
            _ => (1, 1),
        };
        let stamp = EventStamp {
            id: EventId { epoch, seq },
            topic: payload.topic.clone(),
            topic_seq,
        };
        state.append(
            stamp.clone(),
            private,
            payload,
            &self.shared.index,
            delivered,
        );
        self.after_append(state, &payload.name);
        Ok(stamp)
    }

    /// Appends an event whose id and topic number were given elsewhere (the cluster's shared
    /// stream) and sends it to every open stream that wants it. Within an epoch ids must
    /// increase: an id that does not is ignored (returns false), so that no stream ever sees an
    /// id twice.
    pub fn relay(&self, stamp: EventStamp, payload: &Payload) -> bool {
        let delivered = self.shared.metrics.delivered(&payload.name);
        let private = self.shared.settings.private.contains(&payload.topic);
        let mut state = self.shared.lock();
        if state
            .last_id
            .is_some_and(|last| last.epoch == stamp.id.epoch && last.seq >= stamp.id.seq)
        {
            return false;
        }
        state.append(stamp, private, payload, &self.shared.index, delivered);
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

    /// Sends the every-topic streams the heartbeat if nothing was sent to them for the heartbeat
    /// period, and visits each topic stream every half period, sending it the heartbeat if
    /// nothing (no event, no heartbeat) was sent to it for more than half a period: a topic
    /// stream fed nothing hears one each period, like the every-topic streams; returns when the
    /// next one will be due, or `None` when heartbeats are off. One timer for all streams (the
    /// heartbeat task's), instead of one per stream.
    /// Heartbeats are not kept in the history.
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
        let mut index = topic_index::lock(&self.shared.index);
        if index.is_empty() {
            return Some(state.last_sent + idle);
        }
        if now >= state.next_topic_beat {
            // One slice per round: each topic stream is visited every half period (so one fed
            // just after a visit hears a heartbeat within a period), and the beats of thousands of
            // idle streams are spread over it instead of going out in one burst.
            index.beat(&self.shared.heartbeat);
            let slices = u32::try_from(topic_index::SLICES).unwrap_or(1);
            state.next_topic_beat = now + idle / 2 / slices;
        }
        Some((state.last_sent + idle).min(state.next_topic_beat))
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
    /// once for the in-memory hub and for every other `resume`, and for an id further ahead of
    /// the newest than the history holds (no healthy replica is that far behind: it is a forged
    /// id, which would otherwise park a request for the whole wait).
    ///
    /// # Errors
    /// [`SubscribeError::Full`] when the streams open and the requests waiting here already
    /// number `max_clients`: waiting requests are bounded like streams, so that forged ids cannot
    /// park requests without limit.
    pub async fn catch_up(&self, resume: Resume) -> Result<(), SubscribeError> {
        let Resume::After(after) = resume else {
            return Ok(());
        };
        if self.shared.settings.catch_up.is_zero() {
            return Ok(());
        }
        let history = u64::try_from(self.shared.settings.history.events).unwrap_or(u64::MAX);
        if let Some(newest) = self.status().last_id
            && newest.epoch == after.epoch
            && after.seq.saturating_sub(newest.seq) > history
        {
            return Ok(());
        }
        let waiting = self.shared.waiting.fetch_add(1, Ordering::AcqRel) + 1;
        let _waiter = Waiter(&self.shared.waiting);
        if waiting + self.shared.slots.open() > self.shared.slots.max() {
            self.shared.metrics.count_rejected();
            return Err(SubscribeError::Full(self.shared.slots.max()));
        }
        self.wait_for(after).await;
        Ok(())
    }

    /// Waits until this hub has `after` (or another epoch), for at most the catch-up wait.
    async fn wait_for(&self, after: EventId) {
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

    /// Opens a stream on the topics of `selection` that `reader` may read, which starts with the
    /// opening heartbeat (the stream's timing, and whether the replay is exact, fresh or a
    /// reset), then yields the matching events `resume` asks for, then every matching event
    /// published from now on, with nothing lost and nothing repeated in between, until the
    /// reader's token expires. A private event reaches only a reader granted its topic, live
    /// and replayed alike.
    pub fn subscribe(
        &self,
        resume: Resume,
        selection: Selection,
        reader: Reader,
    ) -> Result<Subscription, SubscribeError> {
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
        let (start, missed) = state.history.replay(resume, |(topic, private)| {
            selection.matches(topic) && reader.may_read(topic, *private)
        });
        let mut replay = Vec::with_capacity(1 + missed.len());
        replay.push(Outgoing::Heartbeat(
            self.shared.opening(start, missed.len()),
        ));
        replay.extend(missed.into_iter().cloned());
        let kind = selection.kind();
        let live = if kind == SelectionKind::All && reader.grants.is_none() {
            Live::all(live_tx.subscribe())
        } else {
            // A token holder's every-topic stream takes private events the broadcast does not
            // carry: it is listed under `**` (every topic) and its inbox checks the grant.
            let listed = if kind == SelectionKind::All {
                Selection::parse(["**"]).expect("`**` is a selector")
            } else {
                selection
            };
            let inbox = topic_index::lock(&self.shared.index)
                .inbox(self.shared.settings.client_buffer, reader.grants);
            Live::Topics(Membership::join(
                &self.shared.index,
                listed,
                inbox,
                self.shared.metrics.clone(),
            ))
        };
        drop(state);
        if resume != Resume::Latest {
            self.shared.metrics.count_replayed(replay.len() as u64 - 1);
        }
        Ok(
            Subscription::new(replay, live, kind, slot, self.shared.metrics.clone())
                .ending_in(reader.expires_in),
        )
    }

    /// Ends every open stream (each first drains what it was already sent) and refuses new ones.
    pub fn close(&self) {
        let mut state = self.shared.lock();
        state.live_tx = None;
        topic_index::lock(&self.shared.index).close();
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
                start: None,
                replayed: 0,
            },
            catch_up: Duration::ZERO,
            private: PrivateTopics::default(),
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
        assert_eq!(
            hub.publish(EPOCH, &Payload::for_tests(n)).map(|s| s.id),
            Ok(id(n))
        );
    }

    fn id(seq: u64) -> EventId {
        EventId { epoch: EPOCH, seq }
    }

    /// The stamp of an event on the tests' topic that is also the topic's `seq`th.
    fn stamp(id: EventId) -> EventStamp {
        EventStamp {
            id,
            topic: "test".parse().unwrap(),
            topic_seq: id.seq,
        }
    }

    /// The wire text of one event.
    fn text(event: sse::Event) -> String {
        wire_text(event)
    }

    /// The timing `subscription`'s next event carries, checking that it is a heartbeat with
    /// the tests' hubs' timing.
    fn timing_of(subscription: &mut Subscription) -> Timing {
        let first = text(subscription.next().now_or_never().flatten().unwrap());
        let timing: Timing = first
            .strip_prefix("event: heartbeat\ndata: ")
            .and_then(|data| data.strip_suffix("\n\n"))
            .and_then(|data| serde_json::from_str(data).ok())
            .unwrap_or_else(|| panic!("not a heartbeat: {first:?}"));
        let tests = HubSettings::for_tests(1, 1).timing;
        assert_eq!(
            (timing.interval_ms, timing.heartbeat_ms),
            (tests.interval_ms, tests.heartbeat_ms)
        );
        timing
    }

    /// Subscribes to `selection`, checking that the stream starts with an opening heartbeat
    /// that counts the events replayed after it, and says how it starts.
    fn subscribe_to(hub: &Hub, resume: Resume, selection: &[&str]) -> (Start, Subscription) {
        let selection = Selection::parse(selection.iter().copied()).unwrap();
        let mut subscription = hub
            .subscribe(resume, selection, Reader::anonymous())
            .unwrap();
        let opening = timing_of(&mut subscription);
        let start = opening
            .start
            .expect("an opening says how the stream starts");
        assert_eq!(opening.replayed, subscription.replay_left() as u64);
        (start, subscription)
    }

    /// Subscribes to every topic, checking that the stream starts with the opening heartbeat
    /// for `resume`: fresh for a new client, exact or reset for one that resumes.
    fn subscribe(hub: &Hub, resume: Resume) -> Subscription {
        subscribe_to(hub, resume, &[]).1
    }

    /// The (topic, topic seq) of the events a subscription yields without waiting.
    fn ready_topics(subscription: &mut Subscription) -> Vec<(String, u64)> {
        let mut topics = Vec::new();
        while let Some(Some(event)) = subscription.next().now_or_never() {
            let text = text(event);
            if text.starts_with("event: heartbeat") {
                topics.push(("heartbeat".into(), 0));
                continue;
            }
            let (stamp, _) = Payload::parse_stamped_test_event(&text);
            topics.push((stamp.topic.to_string(), stamp.topic_seq));
        }
        topics
    }

    fn on(topic: &str, topic_seq: u64) -> (String, u64) {
        (topic.to_owned(), topic_seq)
    }

    /// Publishes test event `n` on `topic`.
    fn publish_on(hub: &Hub, n: u64, topic: &str) -> EventStamp {
        hub.publish(EPOCH, &Payload::for_tests_on(n, topic))
            .unwrap()
    }

    #[test]
    fn a_topic_stream_gets_only_what_its_selectors_match_each_once() {
        let hub = hub(100, 10);
        let (_, mut one) = subscribe_to(&hub, Resume::Latest, &["orders/1"]);
        let (_, mut star) = subscribe_to(&hub, Resume::Latest, &["orders/*", "orders/1"]);
        let (_, mut deep) = subscribe_to(&hub, Resume::Latest, &["builds/**"]);
        let mut all = subscribe(&hub, Resume::Latest);
        for (n, topic) in [
            "orders/1",
            "orders/2",
            "orders/1/items",
            "ordersx/1",
            "builds/7",
            "builds/7/log",
            "orders/1",
        ]
        .into_iter()
        .enumerate()
        {
            publish_on(&hub, n as u64, topic);
        }
        assert_eq!(
            ready_topics(&mut one),
            [on("orders/1", 1), on("orders/1", 2)]
        );
        assert_eq!(
            ready_topics(&mut star),
            [on("orders/1", 1), on("orders/2", 1), on("orders/1", 2)]
        );
        assert_eq!(
            ready_topics(&mut deep),
            [on("builds/7", 1), on("builds/7/log", 1)]
        );
        assert_eq!(ready_topics(&mut all).len(), 7);
        let metrics = hub.shared.metrics.render();
        for line in [
            "pingstream_streams{selection=\"all\"} 1",
            "pingstream_streams{selection=\"exact\"} 1",
            "pingstream_streams{selection=\"pattern\"} 2",
            "pingstream_topic_index_topics 1",
            "pingstream_topic_index_patterns 2",
        ] {
            assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
        }
        drop((one, star, deep));
        let metrics = hub.shared.metrics.render();
        assert!(
            metrics.contains("pingstream_topic_index_topics 0"),
            "{metrics}"
        );
        assert!(metrics.contains("pingstream_streams{selection=\"pattern\"} 0"));
    }

    #[test]
    fn a_topic_resume_replays_only_matching_events_and_says_whether_it_is_exact() {
        let hub = hub(6, 10);
        for n in 1..=6 {
            publish_on(&hub, n, if n % 2 == 0 { "even" } else { "odd" });
        }
        let (start, mut even) = subscribe_to(&hub, Resume::After(id(1)), &["even"]);
        assert_eq!(start, Start::Exact);
        assert_eq!(
            ready_topics(&mut even),
            [on("even", 1), on("even", 2), on("even", 3)]
        );
        publish_on(&hub, 7, "odd");
        publish_on(&hub, 8, "even");
        assert_eq!(ready_topics(&mut even), [on("even", 4)]);
        // Kept now: 3..=8; a cursor at 1 lost event 2.
        let (start, mut late) = subscribe_to(&hub, Resume::After(id(1)), &["even"]);
        assert_eq!(start, Start::Reset);
        assert_eq!(
            ready_topics(&mut late),
            [on("even", 2), on("even", 3), on("even", 4)]
        );
        let (start, mut fresh) = subscribe_to(&hub, Resume::Latest, &["odd"]);
        assert_eq!(start, Start::Fresh);
        assert_eq!(
            ready_topics(&mut fresh),
            [on("odd", 4)],
            "the newest matching"
        );
        let (start, mut none) = subscribe_to(&hub, Resume::Latest, &["never"]);
        assert_eq!(start, Start::Fresh);
        assert_eq!(ready_topics(&mut none), []);
    }

    #[test]
    fn a_topic_stream_that_falls_behind_is_ended_and_close_ends_the_others() {
        let hub = hub(100, 10);
        let (_, mut slow) = subscribe_to(&hub, Resume::Latest, &["t"]);
        let (_, mut idle) = subscribe_to(&hub, Resume::Latest, &["quiet/*"]);
        (1..=20).for_each(|n| {
            publish_on(&hub, n, "t");
        });
        assert_eq!(ready_topics(&mut slow), []);
        assert!(is_ended(&mut slow));
        assert!(!is_ended(&mut idle));
        hub.close();
        assert!(is_ended(&mut idle));
    }

    #[tokio::test(start_paused = true)]
    async fn thousands_of_idle_topic_streams_get_their_heartbeats_spread_over_the_period() {
        let hub = hub(100, 2000);
        let mut streams: Vec<_> = (0..1600)
            .map(|n| subscribe_to(&hub, Resume::Latest, &[&format!("t/{n}")]).1)
            .collect();
        let mut most_at_once = 0;
        let mut heard = vec![0; streams.len()];
        let started = tokio::time::Instant::now();
        while started.elapsed() < Duration::from_secs(4) {
            let due = hub.beat_if_idle().unwrap();
            let mut beaten = 0;
            for (stream, heard) in streams.iter_mut().zip(&mut heard) {
                let now = ready_topics(stream).len();
                beaten += usize::from(now > 0);
                *heard += now;
            }
            most_at_once = most_at_once.max(beaten);
            tokio::time::sleep_until(due).await;
        }
        assert!(
            most_at_once <= 1600 / 8 + 1,
            "{most_at_once} heartbeats went out at once"
        );
        // 4 s of a 2 s period: two heartbeats each, not one per visit (every half period).
        let (fewest, most) = (heard.iter().min(), heard.iter().max());
        assert_eq!(
            (fewest, most),
            (Some(&2), Some(&2)),
            "heartbeats per stream"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn topic_streams_fed_nothing_get_heartbeats_while_every_topic_streams_are_busy() {
        let hub = hub(100, 10);
        let (_, mut quiet) = subscribe_to(&hub, Resume::Latest, &["quiet"]);
        let (_, mut busy) = subscribe_to(&hub, Resume::Latest, &["busy"]);
        // Events every 500 ms on "busy" keep the every-topic streams from ever being idle; the
        // heartbeat task's loop runs beside them for 4 s (heartbeats every 2 s).
        let started = tokio::time::Instant::now();
        let mut next_event = started;
        let mut heard = Vec::new();
        let mut last_heard = started;
        let mut longest_silence = Duration::ZERO;
        while started.elapsed() < Duration::from_secs(4) {
            let now = tokio::time::Instant::now();
            if now >= next_event {
                publish_on(&hub, heard.len() as u64 + 100, "busy");
                next_event = now + Duration::from_millis(500);
            }
            let due = hub.beat_if_idle().unwrap();
            for beat in ready_topics(&mut quiet) {
                longest_silence = longest_silence.max(now - last_heard);
                last_heard = now;
                heard.push(beat);
            }
            tokio::time::sleep_until(due.min(next_event)).await;
        }
        assert!(
            longest_silence <= Duration::from_millis(2000),
            "a quiet topic stream went {longest_silence:?} without a heartbeat"
        );
        let mut quiet_beats = heard;
        quiet_beats.extend(ready_topics(&mut quiet));
        // One each period, not one per visit.
        assert_eq!(quiet_beats.len(), 2, "{quiet_beats:?}");
        assert!(quiet_beats.iter().all(|(topic, _)| topic == "heartbeat"));
        assert!(
            ready_topics(&mut busy)
                .iter()
                .all(|(topic, _)| topic == "busy"),
            "a fed stream needs no heartbeat"
        );
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
        let (start, mut subscription) = subscribe_to(&hub, Resume::After(id(4)), &[]);
        assert_eq!(start, Start::Exact);
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
        let (start, mut subscription) = subscribe_to(&hub, Resume::After(id(2)), &[]);
        assert_eq!(start, Start::Reset);
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
        let (start, mut subscription) = subscribe_to(&hub, Resume::After(foreign), &[]);
        assert_eq!(start, Start::Reset);
        assert_eq!(ready_seqs(&mut subscription), [1, 2]);
    }

    #[test]
    fn ids_from_the_future_start_at_the_newest() {
        let hub = hub(3, 10);
        (1..=3).for_each(|n| publish(&hub, n));
        let (start, mut subscription) = subscribe_to(&hub, Resume::After(id(99)), &[]);
        assert_eq!(start, Start::Reset);
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
            hub.subscribe(
                Resume::Latest,
                shared::Selection::all(),
                Reader::anonymous()
            )
            .err(),
            Some(SubscribeError::Full(2))
        );
        assert_eq!(hub.status().clients, 2);
        drop(first);
        assert_eq!(hub.status().clients, 1);
        assert!(
            hub.subscribe(
                Resume::Latest,
                shared::Selection::all(),
                Reader::anonymous()
            )
            .is_ok()
        );
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
            hub.subscribe(
                Resume::Latest,
                shared::Selection::all(),
                Reader::anonymous()
            )
            .err(),
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
        assert!(hub.relay(stamp(next_run), &Payload::for_tests(1)));
        let mut subscription = subscribe(&hub, Resume::After(id(1)));
        let text = text(subscription.next().now_or_never().flatten().unwrap());
        assert!(
            text.contains(&format!("id: {}\n", stamp(next_run))),
            "{text}"
        );
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
                hub.catch_up(Resume::After(id(5))).await.unwrap();
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
        following.catch_up(Resume::After(id(9))).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        // Further ahead than the history holds: a forged id, not waited for.
        let started = tokio::time::Instant::now();
        following.catch_up(Resume::After(id(99))).await.unwrap();
        assert_eq!(started.elapsed(), Duration::ZERO);
        let in_memory = hub(10, 10);
        publish(&in_memory, 1);
        let started = tokio::time::Instant::now();
        in_memory.catch_up(Resume::After(id(9))).await.unwrap();
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn requests_waiting_to_catch_up_are_bounded_by_the_client_limit() {
        let following = Hub::new(
            HubSettings {
                catch_up: Duration::from_secs(2),
                ..HubSettings::for_tests(10, 3)
            },
            Metrics::new(),
        );
        publish(&following, 1);
        let _open = subscribe(&following, Resume::Latest);
        let waiting: Vec<_> = (0..5)
            .map(|_| {
                let hub = following.clone();
                tokio::spawn(async move { hub.catch_up(Resume::After(id(5))).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut answers = Vec::new();
        for task in waiting {
            answers.push(task.await.unwrap());
        }
        let refused = answers.iter().filter(|answer| answer.is_err()).count();
        assert_eq!(
            refused, 3,
            "one stream open and two waiting fill the three places"
        );
        assert_eq!(following.shared.waiting.load(Ordering::Acquire), 0);
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
            topic: name.parse().unwrap(),
            data: "{}".into(),
        };
        let numbers = |stamp: EventStamp| (stamp.id, stamp.topic_seq);
        assert_eq!(hub.publish(EPOCH, &named("a")).map(numbers), Ok((id(1), 1)));
        assert_eq!(hub.publish(EPOCH, &named("b")).map(numbers), Ok((id(2), 1)));
        assert_eq!(hub.publish(EPOCH, &named("a")).map(numbers), Ok((id(3), 2)));
        let next = Epoch(EPOCH.0 + 1);
        assert_eq!(
            hub.publish(next, &named("a")).map(numbers),
            Ok((
                EventId {
                    epoch: next,
                    seq: 1
                },
                1
            )),
            "a new run numbers every topic from one"
        );
        hub.close();
        assert_eq!(hub.publish(next, &named("a")), Err(PublishClosed));
    }

    #[test]
    fn a_relayed_id_that_does_not_advance_is_ignored() {
        let hub = hub(10, 10);
        assert!(hub.relay(stamp(id(5)), &Payload::for_tests(5)));
        assert!(!hub.relay(stamp(id(5)), &Payload::for_tests(5)));
        assert!(!hub.relay(stamp(id(3)), &Payload::for_tests(3)));
        // A hole is relayed as it is: the clients' ids show it.
        assert!(hub.relay(stamp(id(9)), &Payload::for_tests(9)));
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
            topic: "big".parse().unwrap(),
            data: format!("\"{}\"", "x".repeat(16 * 1024)),
        };
        for _ in 0..100 {
            hub.publish(EPOCH, &big).unwrap();
        }
        let replayed = hub
            .subscribe(
                Resume::After(id(0)),
                shared::Selection::all(),
                Reader::anonymous(),
            )
            .unwrap();
        drop(replayed);
        let bytes = crate::metrics::tests::value(&metrics.render(), "pingstream_history_bytes");
        assert!(bytes <= 64.0 * 1024.0, "{bytes}");
        assert!(bytes >= 3.0 * 16.0 * 1024.0, "{bytes}");
    }

    mod properties {
        use super::*;
        use eventsource_stream::Eventsource;
        use proptest::prelude::*;
        use serde::{Deserialize, Serialize};
        use shared::{EventSet as _, StreamEvent};

        use crate::access::PrivateTopics;

        /// The engine's own small event set: the hub names no app event, and its tests do not
        /// change when the app's set does.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        struct Tick {
            n: u64,
        }

        impl StreamEvent for Tick {
            const NAME: &'static str = "tick";
        }

        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        struct Note {
            text: String,
        }

        impl StreamEvent for Note {
            const NAME: &'static str = "note";
            const DEFAULT_TOPIC: &'static str = "notes";
        }

        shared::event_set! {
            /// A ticker's event and a published one.
            #[derive(Debug, Clone, PartialEq)]
            enum TestEvent {
                Tick,
                Note,
            }
        }

        /// A tick (true) or a note (false), each on its default topic.
        fn app_event(is_tick: bool, n: u64) -> Payload {
            let event = if is_tick {
                TestEvent::from(Tick { n })
            } else {
                TestEvent::from(Note {
                    text: format!("note {n}"),
                })
            };
            let topic = event.default_topic().parse().unwrap();
            Payload::encode(&event, topic).unwrap()
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
                let stamp: EventStamp = field("id: ").parse().unwrap();
                events.push((stamp.id.seq, field("event: "), field("data: ")));
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
                    let stamp = hub.publish(EPOCH, &payload).unwrap();
                    published.push((stamp.id.seq, payload.name.into_owned(), payload.data));
                }
                let seqs: Vec<u64> = published.iter().map(|event| event.0).collect();
                prop_assert_eq!(seqs, (1..=kinds.len() as u64).collect::<Vec<_>>());
                let after = resume_at.index(kinds.len() + 1) as u64;
                let mut subscription = subscribe(&hub, Resume::After(id(after)));
                let replayed = ready_events(&mut subscription);
                let suffix = published[usize::try_from(after).unwrap()..].to_vec();
                prop_assert_eq!(replayed, suffix);
            }

            /// Random publishes on random topics, a random subscription and resume point: the
            /// stream replays exactly the matching events after the cursor, says `exact`, then
            /// gets exactly the matching events published after it subscribed; every topic's
            /// numbers go 1, 2, 3, … without a hole.
            #[test]
            fn any_subscription_gets_exactly_the_matching_suffix_and_topics_have_no_holes(
                before in proptest::collection::vec(0..6usize, 0..40),
                after in proptest::collection::vec(0..6usize, 0..20),
                selectors in proptest::collection::vec(0..7usize, 0..3),
                resume_at in any::<proptest::sample::Index>(),
            ) {
                const TOPICS: [&str; 6] = ["a", "b", "a/1", "a/2", "b/1/x", "c"];
                const SELECTORS: [&str; 7] = ["a", "b", "a/*", "b/**", "*", "a/1", "c"];
                // A buffer that holds everything published after the subscription.
                let hub = Hub::new(
                    HubSettings { client_buffer: 64, ..HubSettings::for_tests(100, 10) },
                    Metrics::new(),
                );
                let mut published: Vec<EventStamp> = Vec::new();
                for (n, topic) in before.iter().enumerate() {
                    published.push(publish_on(&hub, n as u64, TOPICS[*topic]));
                }
                let texts: Vec<&str> = selectors.iter().map(|i| SELECTORS[*i]).collect();
                let selection = Selection::parse(texts.iter().copied()).unwrap();
                let cursor = resume_at.index(published.len() + 1) as u64;
                let (start, mut subscription) = subscribe_to(&hub, Resume::After(id(cursor)), &texts);
                // A hub that has published nothing cannot vouch for any cursor.
                let vouched = if published.is_empty() { Start::Reset } else { Start::Exact };
                prop_assert_eq!(start, vouched);
                for (n, topic) in after.iter().enumerate() {
                    published.push(publish_on(&hub, (before.len() + n) as u64, TOPICS[*topic]));
                }
                let expected: Vec<(String, u64)> = published
                    .iter()
                    .filter(|stamp| stamp.id.seq > cursor && selection.matches(&stamp.topic))
                    .map(|stamp| (stamp.topic.to_string(), stamp.topic_seq))
                    .collect();
                prop_assert_eq!(ready_topics(&mut subscription), expected);
                let mut numbers: HashMap<&str, u64> = HashMap::new();
                for stamp in &published {
                    let last = numbers.entry(stamp.topic.as_str()).or_default();
                    prop_assert_eq!(stamp.topic_seq, *last + 1, "{}", stamp);
                    *last += 1;
                }
            }

            /// Random grants × random selections × random events on public and private topics:
            /// every event a stream is handed, replayed or live, matches both its selection and
            /// (when private) its grant, and it is handed every such event.
            #[test]
            fn a_delivered_event_always_matches_the_selection_and_the_grant(
                before in proptest::collection::vec(0..6usize, 0..30),
                after in proptest::collection::vec(0..6usize, 0..30),
                selectors in proptest::collection::vec(0..5usize, 0..3),
                grants in proptest::option::of(proptest::collection::vec(0..4usize, 0..3)),
            ) {
                const TOPICS: [&str; 6] = ["news", "users/a", "users/a/x", "users/b", "users/b/x", "orders/1"];
                const SELECTORS: [&str; 5] = ["news", "users/*", "users/a/**", "**", "orders/*"];
                const GRANTS: [&str; 4] = ["users/a/**", "users/b", "users/*", "users/a"];
                let private = PrivateTopics::new(vec!["users/**".parse().unwrap()]);
                let hub = Hub::new(
                    HubSettings {
                        client_buffer: 64,
                        private: private.clone(),
                        ..HubSettings::for_tests(100, 10)
                    },
                    Metrics::new(),
                );
                let mut published: Vec<EventStamp> = Vec::new();
                for (n, topic) in before.iter().enumerate() {
                    published.push(publish_on(&hub, n as u64, TOPICS[*topic]));
                }
                let selection = Selection::parse(selectors.iter().map(|i| SELECTORS[*i])).unwrap();
                let grants = grants.map(|g| Selection::parse(g.iter().map(|i| GRANTS[*i])).unwrap());
                let reader = Reader { grants: grants.clone(), expires_in: None };
                let mut subscription = hub.subscribe(Resume::After(id(0)), selection.clone(), reader).unwrap();
                let opening = subscription.next().now_or_never().flatten().unwrap();
                prop_assert!(text(opening).starts_with("event: heartbeat"));
                for (n, topic) in after.iter().enumerate() {
                    published.push(publish_on(&hub, (before.len() + n) as u64, TOPICS[*topic]));
                }
                let may = |topic: &Topic| {
                    selection.matches(topic)
                        && (!private.contains(topic) || grants.as_ref().is_some_and(|g| g.matches(topic)))
                };
                let expected: Vec<(String, u64)> = published
                    .iter()
                    .filter(|stamp| may(&stamp.topic))
                    .map(|stamp| (stamp.topic.to_string(), stamp.topic_seq))
                    .collect();
                prop_assert_eq!(ready_topics(&mut subscription), expected);
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
                let payload = Payload { name: name.clone().into(), topic: "t".parse().unwrap(), data: serde_json::to_string(&text).unwrap() };
                let stamp = EventStamp { id, topic: payload.topic.clone(), topic_seq: seq };
                let relayed = hub.relay(stamp, &payload);
                prop_assert!(relayed);
                let mut subscription = subscribe(&hub, Resume::Latest);
                let event = subscription.next().now_or_never().flatten().unwrap();
                let text = super::text(event);
                let chunks = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(text)]);
                let parsed: Vec<_> = chunks.eventsource().collect::<Vec<_>>().now_or_never().unwrap();
                prop_assert_eq!(parsed.len(), 1);
                let parsed = parsed.into_iter().next().unwrap().unwrap();
                prop_assert_eq!(parsed.event, name);
                prop_assert_eq!(EventStamp::cursor(&parsed.id), Ok(id));
                prop_assert_eq!(parsed.data, payload.data);
            }
        }
    }
}
