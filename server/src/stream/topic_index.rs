//! Which topic streams want an event: an index from exact topics to their streams, and the
//! pattern selectors apart, each distinct one matched once per event. Publishing to `users/7`
//! touches the streams of `users/7` and of the patterns, never the thousands of streams on other
//! exact topics.
//!
//! The streams without a selection (every topic) are not here: the hub's broadcast channel
//! serves them.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use actix_web_lab::sse;
use shared::{EventId, Selection, Selector, Topic};

use super::{inbox::Inbox, subscription::Outgoing};
use crate::metrics::Metrics;

/// The streams that subscribed by topic, by what they selected.
#[derive(Default)]
pub struct TopicIndex {
    exact: HashMap<Topic, Vec<Arc<Inbox>>>,
    patterns: HashMap<Selector, Vec<Arc<Inbox>>>,
    /// Heartbeat rounds so far.
    round: u64,
    /// Inboxes made so far: the next one's heartbeat slice.
    made: u64,
}

/// The heartbeat slices: each round visits one, so each topic stream is visited once every
/// `SLICES` rounds.
pub const SLICES: u64 = 8;

/// The index, shared by the hub and the streams that remove themselves when they end.
pub type SharedIndex = Arc<Mutex<TopicIndex>>;

/// Locks `index`; nothing panics while holding it, so a poisoned lock is used as it is.
pub fn lock(index: &SharedIndex) -> MutexGuard<'_, TopicIndex> {
    index.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TopicIndex {
    /// Lists `inbox` under each of `selection`'s selectors.
    pub fn add(&mut self, selection: &Selection, inbox: &Arc<Inbox>) {
        for selector in selection.selectors() {
            let streams = match selector.exact() {
                Some(topic) => self.exact.entry(topic).or_default(),
                None => self.patterns.entry(selector.clone()).or_default(),
            };
            streams.push(Arc::clone(inbox));
        }
    }

    /// Takes `inbox` off every list `selection` put it on; a list left empty goes.
    pub fn remove(&mut self, selection: &Selection, inbox: &Arc<Inbox>) {
        fn take_out<K: std::hash::Hash + Eq>(
            lists: &mut HashMap<K, Vec<Arc<Inbox>>>,
            key: &K,
            inbox: &Arc<Inbox>,
        ) {
            if let Some(streams) = lists.get_mut(key) {
                if let Some(at) = streams.iter().position(|s| Arc::ptr_eq(s, inbox)) {
                    streams.swap_remove(at);
                }
                if streams.is_empty() {
                    lists.remove(key);
                }
            }
        }
        for selector in selection.selectors() {
            match selector.exact() {
                Some(topic) => take_out(&mut self.exact, &topic, inbox),
                None => take_out(&mut self.patterns, selector, inbox),
            }
        }
    }

    /// Queues the event `id` on `topic` for every stream that selected it (and, when it is
    /// `private`, holds a grant for it).
    pub fn deliver(&self, id: EventId, topic: &Topic, private: bool, outgoing: &Outgoing) {
        let hand = |inbox: &Arc<Inbox>| inbox.deliver(self.round, id, topic, private, outgoing);
        if let Some(streams) = self.exact.get(topic) {
            streams.iter().for_each(hand);
        }
        for (selector, streams) in &self.patterns {
            if selector.matches(topic) {
                streams.iter().for_each(hand);
            }
        }
    }

    /// Whether no topic stream is open.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.patterns.is_empty()
    }

    /// One heartbeat round: the topic streams of this round's slice that were sent nothing
    /// (no event, no heartbeat) since their slice's last round get `heartbeat`. Rounds come
    /// [`SLICES`] to a half period, so each stream is visited every half period: one sent
    /// something just after a visit is silent for at most a period, and one fed nothing hears
    /// a heartbeat each period.
    pub fn beat(&mut self, heartbeat: &sse::Event) {
        self.round += 1;
        let round = self.round;
        let quiet_since = round.saturating_sub(SLICES);
        self.inboxes()
            .filter(|inbox| inbox.slice == round % SLICES)
            .for_each(|inbox| inbox.beat(round, quiet_since, heartbeat));
    }

    /// An empty inbox in the next heartbeat slice, for a stream about to join.
    pub fn inbox(&mut self, capacity: usize, grants: Option<Selection>) -> Inbox {
        self.made += 1;
        Inbox::in_slice(self.made % SLICES, self.round, capacity, grants)
    }

    /// Ends every topic stream once it has sent what it holds.
    pub fn close(&self) {
        self.inboxes().for_each(|inbox| inbox.close());
    }

    /// Reports the index's size: exact topics listed and distinct patterns.
    pub fn report(&self, metrics: &Metrics) {
        metrics.set_topic_index(self.exact.len(), self.patterns.len());
    }

    fn inboxes(&self) -> impl Iterator<Item = &Arc<Inbox>> {
        self.exact.values().chain(self.patterns.values()).flatten()
    }
}

/// A topic stream's place in the index: taken off it when the stream is dropped.
pub struct Membership {
    index: SharedIndex,
    selection: Selection,
    inbox: Arc<Inbox>,
    metrics: Metrics,
}

impl Membership {
    /// Lists `inbox` in `index` under `selection` (the caller holds the hub's lock, so that
    /// nothing is published between the replay it took and this).
    pub fn join(index: &SharedIndex, selection: Selection, inbox: Inbox, metrics: Metrics) -> Self {
        let inbox = Arc::new(inbox);
        let mut listed = lock(index);
        listed.add(&selection, &inbox);
        listed.report(&metrics);
        drop(listed);
        Self {
            index: Arc::clone(index),
            selection,
            inbox,
            metrics,
        }
    }

    /// The stream's queue.
    pub fn inbox(&self) -> &Inbox {
        &self.inbox
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        let mut listed = lock(&self.index);
        listed.remove(&self.selection, &self.inbox);
        listed.report(&self.metrics);
    }
}

#[cfg(test)]
mod tests {
    use std::task::{Context, Poll};

    use futures_util::task::noop_waker_ref;
    use shared::Epoch;

    use super::*;

    fn selection(texts: &[&str]) -> Selection {
        Selection::parse(texts.iter().copied()).unwrap()
    }

    fn queued(inbox: &Inbox) -> usize {
        let mut n = 0;
        while let Poll::Ready(Ok(_)) = inbox.poll_next(&mut Context::from_waker(noop_waker_ref())) {
            n += 1;
        }
        n
    }

    #[test]
    fn an_event_reaches_the_exact_and_matching_pattern_streams_once_each() {
        let index: SharedIndex = SharedIndex::default();
        let metrics = Metrics::new();
        let join = |texts: &[&str]| {
            Membership::join(
                &index,
                selection(texts),
                Inbox::new(8, None),
                metrics.clone(),
            )
        };
        let one = join(&["orders/1"]);
        let both = join(&["orders/1", "orders/*"]);
        let pattern = join(&["orders/*"]);
        let other = join(&["orders/2"]);
        let event = Outgoing::Heartbeat(sse::Event::Comment("e".into()));
        let id = EventId {
            epoch: Epoch(1),
            seq: 1,
        };
        lock(&index).deliver(id, &"orders/1".parse().unwrap(), false, &event);
        assert_eq!(
            [&one, &both, &pattern, &other].map(|m| queued(m.inbox())),
            [1, 1, 1, 0]
        );
        drop((one, both, pattern));
        assert!(!lock(&index).is_empty());
        drop(other);
        assert!(
            lock(&index).is_empty(),
            "lists are dropped with their last stream"
        );
    }
}
