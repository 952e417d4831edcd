//! The hub's bounded history: the newest events of one run of the stream, and where a client
//! that resumes starts in it.

use std::collections::VecDeque;

use actix_web_lab::sse;
use shared::EventId;

/// Where a new subscription starts, from the client's `Last-Event-ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// A new client, or one whose id could not be read: the newest event, then live.
    Latest,
    /// Everything after this event, then live. An id the history cannot place (another run,
    /// older than the history) starts at the oldest retained event; one from the future starts at
    /// the newest. Either way the counts show the client the discontinuity.
    After(EventId),
}

/// The newest events of one run, oldest first, at most `limit` of them.
pub struct History {
    entries: VecDeque<Stamped>,
    limit: usize,
}

/// An event with the id it was published under. Its JSON was serialized once; every stream
/// that is sent it shares the same buffers (cloning an `sse::Event` only counts references).
struct Stamped {
    id: EventId,
    event: sse::Event,
}

impl History {
    /// An empty history that keeps the newest `limit` events.
    pub fn new(limit: usize) -> Self {
        Self {
            entries: VecDeque::with_capacity(limit.min(4096)),
            limit,
        }
    }

    /// Appends `event`, published as `id`, dropping the oldest past the limit. Within an epoch,
    /// ids must increase from one call to the next; an id of a new epoch (a cluster's shared
    /// stream was lost and started again) drops the previous epoch's events, so that the history
    /// always holds one run.
    pub fn push(&mut self, id: EventId, event: sse::Event) {
        if self
            .entries
            .back()
            .is_some_and(|newest| newest.id.epoch != id.epoch)
        {
            self.entries.clear();
        }
        if self.entries.len() >= self.limit {
            self.entries.pop_front();
        }
        self.entries.push_back(Stamped { id, event });
    }

    /// The id of the newest event, if any.
    pub fn newest(&self) -> Option<EventId> {
        self.entries.back().map(|stamped| stamped.id)
    }

    /// The events a client that asks for `resume` is owed from the history, oldest first.
    pub fn replay(&self, resume: Resume) -> impl ExactSizeIterator<Item = &sse::Event> {
        self.entries
            .range(self.replay_start(resume)..)
            .map(|stamped| &stamped.event)
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
        if after.count > newest.count {
            // Not an id we ever sent: treat like a new client.
            return self.entries.len() - 1;
        }
        // Counts increase, so the events after `after` start where counts exceed it. An id older
        // than the history gives 0: the oldest retained event.
        self.entries
            .partition_point(|stamped| stamped.id.count <= after.count)
    }
}
