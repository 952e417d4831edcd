//! The hub's bounded history: the newest events of one run of the stream, every topic in one
//! sequence, and where a client that resumes starts in it and whether that start is exact.
//! Bounded by count and by bytes, so that a burst of large events cannot grow memory past the
//! configured limit. One history for all topics (not one per topic): a resume is answered from
//! one place whatever the subscription, and a topic's events stay as long as the window holds
//! them, however rarely it is published to.

use std::collections::VecDeque;

use shared::{EventId, Start, Topic};

/// Where a new subscription starts, from the client's `Last-Event-ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// A new client, or one whose id could not be read: the newest matching event, then live.
    Latest,
    /// Everything after this event, then live. An id the history cannot place (another run,
    /// older than the history) starts at the oldest retained event; one from the future starts at
    /// the newest. Either way the stream's opening says [`Start::Reset`].
    After(EventId),
}

/// How much history to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Most events kept.
    pub events: usize,
    /// Most bytes kept (as [`super::Payload::weight`] counts them); the newest event is kept
    /// whatever its size, so that a new client always has something to start from.
    pub bytes: usize,
}

/// The newest events of one run, oldest first, within [`HistoryLimits`]. Generic over what is
/// kept per event (the hub keeps the encoded event, ready to send).
///
/// # Examples
/// ```
/// use server::stream::{Resume, history::{History, HistoryLimits}};
/// use shared::{Epoch, EventId, Start, Topic};
///
/// let mut history: History<&str> = History::new(HistoryLimits { events: 2, bytes: 1024 });
/// let id = |seq| EventId { epoch: Epoch(1), seq };
/// let orders: Topic = "orders".parse().unwrap();
/// for (seq, text) in [(1, "placed"), (2, "paid"), (3, "packed"), (4, "shipped")] {
///     history.push(id(seq), orders.clone(), text, text.len());
/// }
/// // Two are kept (3 and 4): a cursor at 2 resumes exactly after it; one at 1 (2 was dropped
/// // since) starts over from the oldest kept, and says so.
/// let exact = history.replay(Resume::After(id(2)), |_| true);
/// assert_eq!(exact, (Start::Exact, vec![&"packed", &"shipped"]));
/// assert_eq!(history.replay(Resume::After(id(1)), |_| true).0, Start::Reset);
/// // A new stream starts at the newest event on its topics.
/// assert_eq!(history.replay(Resume::Latest, |_| true), (Start::Fresh, vec![&"shipped"]));
/// ```
pub struct History<T, K = Topic> {
    entries: VecDeque<Stamped<T, K>>,
    limits: HistoryLimits,
    /// The sum of the entries' weights.
    bytes: usize,
}

/// An event with the id and topic it was published under (with what else a replay filters by:
/// the hub keeps whether the topic is private), and its weight.
struct Stamped<T, K> {
    id: EventId,
    topic: K,
    item: T,
    weight: usize,
}

impl<T, K> History<T, K> {
    /// An empty history within `limits`.
    pub fn new(limits: HistoryLimits) -> Self {
        Self {
            entries: VecDeque::with_capacity(limits.events.min(4096)),
            limits,
            bytes: 0,
        }
    }

    /// Appends `item`, published as `id` on `topic` and weighing `weight` bytes, then drops the oldest
    /// events while either limit is exceeded. Within an epoch, ids must increase from one call
    /// to the next; an id of a new epoch (a cluster's shared stream was lost and started again)
    /// drops the previous epoch's events, so that the history always holds one run.
    pub fn push(&mut self, id: EventId, topic: K, item: T, weight: usize) {
        if self
            .entries
            .back()
            .is_some_and(|newest| newest.id.epoch != id.epoch)
        {
            self.entries.clear();
            self.bytes = 0;
        }
        self.entries.push_back(Stamped {
            id,
            topic,
            item,
            weight,
        });
        self.bytes += weight;
        while self.entries.len() > 1
            && (self.entries.len() > self.limits.events || self.bytes > self.limits.bytes)
        {
            if let Some(oldest) = self.entries.pop_front() {
                self.bytes -= oldest.weight;
            }
        }
    }

    /// The id of the newest event, if any.
    pub fn newest(&self) -> Option<EventId> {
        self.entries.back().map(|stamped| stamped.id)
    }

    /// The bytes the kept events weigh.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// How a stream that asks for `resume` starts, and the events on the topics it `wants` that
    /// it is owed from the history, oldest first:
    /// - no cursor: [`Start::Fresh`] and the newest matching event;
    /// - a cursor of this run no older than the history: [`Start::Exact`] and every matching
    ///   event after it (none was dropped since the cursor: the history holds the event right
    ///   after it, or the cursor is the newest);
    /// - a cursor older than the history or of another run: [`Start::Reset`] and every
    ///   matching event kept;
    /// - a cursor ahead of the newest event (never sent by this run, or not read yet by this
    ///   replica): [`Start::Reset`] and the newest matching event.
    pub fn replay(&self, resume: Resume, wants: impl Fn(&K) -> bool) -> (Start, Vec<&T>) {
        let newest_matching = || {
            self.entries
                .iter()
                .rev()
                .find(|stamped| wants(&stamped.topic))
                .map(|stamped| &stamped.item)
                .into_iter()
                .collect()
        };
        let matching_from = |start: usize| {
            self.entries
                .range(start..)
                .filter(|stamped| wants(&stamped.topic))
                .map(|stamped| &stamped.item)
                .collect()
        };
        let Resume::After(after) = resume else {
            return (Start::Fresh, newest_matching());
        };
        let (Some(oldest), Some(newest)) = (self.entries.front(), self.entries.back()) else {
            // Nothing of this run yet: whatever the cursor names, it cannot be vouched for.
            return (Start::Reset, Vec::new());
        };
        if after.epoch != newest.id.epoch {
            // From another run of the stream: everything this run still has.
            return (Start::Reset, matching_from(0));
        }
        if after.seq > newest.id.seq {
            return (Start::Reset, newest_matching());
        }
        if after.seq < oldest.id.seq.saturating_sub(1) {
            // Events between the cursor and the oldest kept one were dropped.
            return (Start::Reset, matching_from(0));
        }
        // Seqs increase, so the events after `after` start where seqs exceed it.
        let start = self
            .entries
            .partition_point(|stamped| stamped.id.seq <= after.seq);
        (Start::Exact, matching_from(start))
    }
}

#[cfg(test)]
mod tests {
    use shared::Epoch;

    use super::*;

    fn id(seq: u64) -> EventId {
        EventId {
            epoch: Epoch(7),
            seq,
        }
    }

    fn kept(history: &History<u64>) -> Vec<u64> {
        history
            .replay(Resume::After(id(0)), |_| true)
            .1
            .into_iter()
            .copied()
            .collect()
    }

    fn topic(text: &str) -> Topic {
        text.parse().unwrap()
    }

    #[test]
    fn the_start_is_exact_only_when_nothing_after_the_cursor_was_dropped() {
        let mut history = History::new(HistoryLimits {
            events: 4,
            bytes: usize::MAX,
        });
        for seq in 1..=6 {
            let on = if seq % 2 == 0 { "even" } else { "odd" };
            history.push(id(seq), topic(on), seq, 1);
        }
        // Kept: 3, 4, 5, 6.
        let even = |t: &Topic| t.as_str() == "even";
        let replay = |resume| {
            let (start, items) = history.replay(resume, even);
            (start, items.into_iter().copied().collect::<Vec<_>>())
        };
        assert_eq!(replay(Resume::After(id(2))), (Start::Exact, vec![4, 6]));
        assert_eq!(replay(Resume::After(id(4))), (Start::Exact, vec![6]));
        assert_eq!(replay(Resume::After(id(6))), (Start::Exact, vec![]));
        assert_eq!(replay(Resume::After(id(1))), (Start::Reset, vec![4, 6]));
        assert_eq!(replay(Resume::After(id(9))), (Start::Reset, vec![6]));
        assert_eq!(replay(Resume::Latest), (Start::Fresh, vec![6]));
        let other_run = EventId {
            epoch: Epoch(8),
            seq: 5,
        };
        assert_eq!(replay(Resume::After(other_run)), (Start::Reset, vec![4, 6]));
        let nothing = |_: &Topic| false;
        assert_eq!(history.replay(Resume::Latest, nothing).1.len(), 0);
        let empty = History::<u64>::new(history.limits);
        assert_eq!(empty.replay(Resume::After(id(1)), |_| true).0, Start::Reset);
        assert_eq!(empty.replay(Resume::Latest, |_| true).0, Start::Fresh);
    }

    #[test]
    fn the_byte_limit_drops_the_oldest_and_keeps_the_newest_whatever_its_size() {
        let mut history = History::new(HistoryLimits {
            events: 100,
            bytes: 1000,
        });
        for seq in 1..=10 {
            history.push(id(seq), topic("t"), seq, 300);
            assert!(history.bytes() <= 1000, "{}", history.bytes());
        }
        assert_eq!(kept(&history), [8, 9, 10]);
        assert_eq!(history.bytes(), 900);
        history.push(id(11), topic("t"), 11, 5000);
        assert_eq!(kept(&history), [11]);
        assert_eq!(history.bytes(), 5000);
        history.push(id(12), topic("t"), 12, 10);
        assert_eq!(kept(&history), [12]);
        assert_eq!(history.bytes(), 10);
    }

    #[test]
    fn the_count_limit_drops_the_oldest() {
        let mut history = History::new(HistoryLimits {
            events: 3,
            bytes: usize::MAX,
        });
        (1..=5).for_each(|seq| history.push(id(seq), topic("t"), seq, 1));
        assert_eq!(kept(&history), [3, 4, 5]);
        assert_eq!(history.bytes(), 3);
    }

    #[test]
    fn a_new_epoch_forgets_the_old_run_and_its_bytes() {
        let mut history = History::new(HistoryLimits {
            events: 10,
            bytes: 100,
        });
        (1..=3).for_each(|seq| history.push(id(seq), topic("t"), seq, 20));
        let next = EventId {
            epoch: Epoch(8),
            seq: 1,
        };
        history.push(next, topic("t"), 99, 20);
        assert_eq!(history.newest(), Some(next));
        assert_eq!(history.bytes(), 20);
    }
}
