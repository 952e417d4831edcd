//! The hub's bounded history: the newest events of one run of the stream, and where a client
//! that resumes starts in it. Bounded by count and by bytes, so that a burst of large events
//! cannot grow memory past the configured limit.

use std::collections::VecDeque;

use shared::EventId;

/// Where a new subscription starts, from the client's `Last-Event-ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// A new client, or one whose id could not be read: the newest event, then live.
    Latest,
    /// Everything after this event, then live. An id the history cannot place (another run,
    /// older than the history) starts at the oldest retained event; one from the future starts at
    /// the newest. Either way the ids' `seq` show the client the discontinuity.
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
pub struct History<T> {
    entries: VecDeque<Stamped<T>>,
    limits: HistoryLimits,
    /// The sum of the entries' weights.
    bytes: usize,
}

/// An event with the id it was published under and its weight.
struct Stamped<T> {
    id: EventId,
    item: T,
    weight: usize,
}

impl<T> History<T> {
    /// An empty history within `limits`.
    pub fn new(limits: HistoryLimits) -> Self {
        Self {
            entries: VecDeque::with_capacity(limits.events.min(4096)),
            limits,
            bytes: 0,
        }
    }

    /// Appends `item`, published as `id` and weighing `weight` bytes, then drops the oldest
    /// events while either limit is exceeded. Within an epoch, ids must increase from one call
    /// to the next; an id of a new epoch (a cluster's shared stream was lost and started again)
    /// drops the previous epoch's events, so that the history always holds one run.
    pub fn push(&mut self, id: EventId, item: T, weight: usize) {
        if self
            .entries
            .back()
            .is_some_and(|newest| newest.id.epoch != id.epoch)
        {
            self.entries.clear();
            self.bytes = 0;
        }
        self.entries.push_back(Stamped { id, item, weight });
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

    /// The events a client that asks for `resume` is owed from the history, oldest first.
    pub fn replay(&self, resume: Resume) -> impl ExactSizeIterator<Item = &T> {
        self.entries
            .range(self.replay_start(resume)..)
            .map(|stamped| &stamped.item)
    }

    /// Index of the first entry to replay for `resume`.
    fn replay_start(&self, resume: Resume) -> usize {
        let Some(newest) = self.newest() else {
            return 0;
        };
        let Resume::After(after) = resume else {
            return self.entries.len() - 1;
        };
        if after.epoch != newest.epoch {
            // From another run of the stream: everything this run still has.
            return 0;
        }
        if after.seq > newest.seq {
            // Not an id we ever sent: treat like a new client.
            return self.entries.len() - 1;
        }
        // Seqs increase, so the events after `after` start where seqs exceed it. An id older
        // than the history gives 0: the oldest retained event.
        self.entries
            .partition_point(|stamped| stamped.id.seq <= after.seq)
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
        history.replay(Resume::After(id(0))).copied().collect()
    }

    #[test]
    fn the_byte_limit_drops_the_oldest_and_keeps_the_newest_whatever_its_size() {
        let mut history = History::new(HistoryLimits {
            events: 100,
            bytes: 1000,
        });
        for seq in 1..=10 {
            history.push(id(seq), seq, 300);
            assert!(history.bytes() <= 1000, "{}", history.bytes());
        }
        assert_eq!(kept(&history), [8, 9, 10]);
        assert_eq!(history.bytes(), 900);
        history.push(id(11), 11, 5000);
        assert_eq!(kept(&history), [11]);
        assert_eq!(history.bytes(), 5000);
        history.push(id(12), 12, 10);
        assert_eq!(kept(&history), [12]);
        assert_eq!(history.bytes(), 10);
    }

    #[test]
    fn the_count_limit_drops_the_oldest() {
        let mut history = History::new(HistoryLimits {
            events: 3,
            bytes: usize::MAX,
        });
        (1..=5).for_each(|seq| history.push(id(seq), seq, 1));
        assert_eq!(kept(&history), [3, 4, 5]);
        assert_eq!(history.bytes(), 3);
    }

    #[test]
    fn a_new_epoch_forgets_the_old_run_and_its_bytes() {
        let mut history = History::new(HistoryLimits {
            events: 10,
            bytes: 100,
        });
        (1..=3).for_each(|seq| history.push(id(seq), seq, 20));
        let next = EventId {
            epoch: Epoch(8),
            seq: 1,
        };
        history.push(next, 99, 20);
        assert_eq!(history.newest(), Some(next));
        assert_eq!(history.bytes(), 20);
    }
}
