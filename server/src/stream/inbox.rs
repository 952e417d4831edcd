//! One topic stream's queue: what the hub hands a stream that subscribed by topic, so that an
//! event is given only to the streams that want it (the broadcast channel of the every-topic
//! streams hands every event to every receiver).
//!
//! Bounded like the broadcast channel: a stream that falls more than its buffer behind is ended
//! (the browser resumes from history), never skipped silently. An event that reaches one stream
//! through two of its selectors is queued once.

use std::{
    collections::VecDeque,
    sync::{Mutex, MutexGuard, PoisonError},
    task::{Context, Poll, Waker},
};

use actix_web_lab::sse;
use shared::{EventId, Selection, Topic};

use super::subscription::Outgoing;

/// Whether a stream granted `grants` (none: no token) may receive an event on `topic`, `private`
/// or not: the one rule for live events here and replayed ones in the hub.
pub fn may_read(grants: Option<&Selection>, topic: &Topic, private: bool) -> bool {
    !private || grants.is_some_and(|grants| grants.matches(topic))
}

/// A topic stream's queue, shared by the hub (which fills it) and the stream (which drains it).
pub struct Inbox {
    /// Which heartbeat slice it is in: each round of [`super::topic_index::TopicIndex::beat`]
    /// visits one slice, so that the heartbeats of thousands of idle streams are spread over
    /// the period instead of going out in one burst.
    pub slice: u64,
    state: Mutex<State>,
    /// The private topics this stream may read (its token's grant); `None`: none.
    grants: Option<Selection>,
}

struct State {
    /// Queued, oldest first. Empty (and unallocated) for an idle stream.
    queue: VecDeque<Outgoing>,
    /// Most events queued at once before the stream is ended.
    capacity: usize,
    /// The newest event queued, so that one reached through two selectors is queued once.
    last: Option<EventId>,
    /// The heartbeat round this inbox last took part in (a stream listed under several
    /// selectors is visited once per round).
    visited: u64,
    /// The heartbeat round during which something (an event or a heartbeat) was last queued.
    sent: u64,
    /// Why it ends, once it does.
    end: Option<End>,
    /// The stream's task, waiting for the next event.
    waker: Option<Waker>,
}

/// Why an inbox ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The hub closed (shutdown): what was queued is still sent.
    Closed,
    /// The stream fell more than its buffer behind: ended at once.
    Lagged,
}

impl State {
    /// Queues `outgoing` unless the inbox has ended; ends it if the buffer is full. Returns the
    /// waker to wake once the lock is released.
    fn queue(&mut self, outgoing: Outgoing) -> Option<Waker> {
        if self.end.is_some() {
            return None;
        }
        if self.queue.len() >= self.capacity {
            self.queue = VecDeque::new();
            self.end = Some(End::Lagged);
        } else {
            self.queue.push_back(outgoing);
        }
        self.waker.take()
    }
}

impl Inbox {
    /// An empty inbox that holds at most `capacity` events (at least one), of a stream that may
    /// read the private topics `grants` match (none without).
    pub fn new(capacity: usize, grants: Option<Selection>) -> Self {
        Self::in_slice(0, 0, capacity, grants)
    }

    /// [`Inbox::new`], in heartbeat slice `slice`, made during heartbeat round `round` (the
    /// stream's opening heartbeat goes out now).
    pub fn in_slice(slice: u64, round: u64, capacity: usize, grants: Option<Selection>) -> Self {
        Self {
            slice,
            grants,
            state: Mutex::new(State {
                queue: VecDeque::new(),
                capacity: capacity.max(1),
                last: None,
                visited: round,
                sent: round,
                end: None,
                waker: None,
            }),
        }
    }

    /// The lock; nothing panics while holding it, so a poisoned one is used as it is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues the event `id` on `topic`, during heartbeat round `round`, unless it was queued
    /// already (ids increase within a run), or it is `private` and this stream's grant does not
    /// cover its topic.
    pub fn deliver(
        &self,
        round: u64,
        id: EventId,
        topic: &Topic,
        private: bool,
        outgoing: &Outgoing,
    ) {
        if !may_read(self.grants.as_ref(), topic, private) {
            return;
        }
        let mut state = self.lock();
        if state.end.is_some()
            || state
                .last
                .is_some_and(|last| last.epoch == id.epoch && last.seq >= id.seq)
        {
            // Ended (its stream ends when next polled): nothing is cloned for it any more.
            return;
        }
        state.last = Some(id);
        state.sent = round;
        let waker = state.queue(outgoing.clone());
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Heartbeat round `round`: queues `heartbeat` if nothing (no event, no heartbeat) was
    /// queued since round `quiet_since`, once per round however many selectors list this inbox.
    /// A heartbeat counts as something queued, so a stream fed nothing hears one every
    /// `round - quiet_since` rounds or so, not at every visit.
    pub fn beat(&self, round: u64, quiet_since: u64, heartbeat: &sse::Event) {
        let mut state = self.lock();
        if state.visited == round {
            return;
        }
        state.visited = round;
        let waker = if state.sent < quiet_since {
            state.sent = round;
            state.queue(Outgoing::Heartbeat(heartbeat.clone()))
        } else {
            None
        };
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Ends the inbox once what is queued has been taken.
    pub fn close(&self) {
        let mut state = self.lock();
        state.end.get_or_insert(End::Closed);
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The next queued item, or why the inbox ended, or pending (the task is woken when either
    /// comes).
    pub fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Result<Outgoing, End>> {
        let mut state = self.lock();
        if let Some(next) = state.queue.pop_front() {
            if state.queue.is_empty() {
                // A burst's buffer is not kept for the rest of a long-lived stream.
                state.queue = VecDeque::new();
            }
            return Poll::Ready(Ok(next));
        }
        if let Some(end) = state.end {
            return Poll::Ready(Err(end));
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use futures_util::task::noop_waker_ref;
    use shared::Epoch;

    use super::*;

    fn id(seq: u64) -> EventId {
        EventId {
            epoch: Epoch(1),
            seq,
        }
    }

    fn topic() -> Topic {
        "t".parse().unwrap()
    }

    fn heartbeat() -> sse::Event {
        sse::Event::Comment("beat".into())
    }

    fn next(inbox: &Inbox) -> Poll<Result<Outgoing, End>> {
        inbox.poll_next(&mut Context::from_waker(noop_waker_ref()))
    }

    fn is_heartbeat(poll: Poll<Result<Outgoing, End>>) -> bool {
        matches!(poll, Poll::Ready(Ok(Outgoing::Heartbeat(_))))
    }

    #[test]
    fn an_event_is_queued_once_and_a_full_inbox_ends_at_once() {
        let inbox = Inbox::new(2, None);
        let beat = Outgoing::Heartbeat(heartbeat());
        inbox.deliver(0, id(1), &topic(), false, &beat);
        inbox.deliver(0, id(1), &topic(), false, &beat);
        assert!(is_heartbeat(next(&inbox)));
        assert!(next(&inbox).is_pending());
        for seq in 2..=4 {
            inbox.deliver(0, id(seq), &topic(), false, &beat);
        }
        assert!(matches!(next(&inbox), Poll::Ready(Err(End::Lagged))));
    }

    #[test]
    fn heartbeats_go_only_to_inboxes_sent_nothing_since_the_quiet_round() {
        // Made in round 0: its opening heartbeat counts.
        let inbox = Inbox::in_slice(0, 10, 8, None);
        inbox.beat(14, 10, &heartbeat());
        assert!(next(&inbox).is_pending(), "sent its opening in round 10");
        inbox.beat(22, 11, &heartbeat());
        inbox.beat(22, 11, &heartbeat());
        assert!(is_heartbeat(next(&inbox)));
        assert!(next(&inbox).is_pending(), "one beat per round");
        // The heartbeat of round 22 counts as sent.
        inbox.beat(30, 22, &heartbeat());
        assert!(next(&inbox).is_pending(), "beaten in round 22");
        inbox.deliver(
            31,
            id(1),
            &topic(),
            false,
            &Outgoing::Heartbeat(heartbeat()),
        );
        assert!(next(&inbox).is_ready());
        inbox.beat(38, 30, &heartbeat());
        assert!(next(&inbox).is_pending(), "fed in round 31");
        inbox.beat(46, 38, &heartbeat());
        assert!(is_heartbeat(next(&inbox)));
    }

    #[test]
    fn a_private_event_is_queued_only_when_the_grant_covers_its_topic() {
        let alice = Inbox::new(8, Some(Selection::parse(["users/alice/**"]).unwrap()));
        let anonymous = Inbox::new(8, None);
        let beat = Outgoing::Heartbeat(heartbeat());
        for (seq, topic) in [(1, "users/alice/x"), (2, "users/bob/x")] {
            let topic: Topic = topic.parse().unwrap();
            alice.deliver(0, id(seq), &topic, true, &beat);
            anonymous.deliver(0, id(seq), &topic, true, &beat);
        }
        assert!(is_heartbeat(next(&alice)));
        assert!(next(&alice).is_pending(), "bob's is not alice's");
        assert!(next(&anonymous).is_pending());
        anonymous.deliver(0, id(3), &topic(), false, &beat);
        assert!(
            is_heartbeat(next(&anonymous)),
            "public events reach everyone"
        );
    }

    #[test]
    fn a_closed_inbox_hands_out_what_it_holds_then_ends() {
        let inbox = Inbox::new(8, None);
        inbox.deliver(0, id(1), &topic(), false, &Outgoing::Heartbeat(heartbeat()));
        inbox.close();
        assert!(is_heartbeat(next(&inbox)));
        assert!(matches!(next(&inbox), Poll::Ready(Err(End::Closed))));
        inbox.deliver(0, id(2), &topic(), false, &Outgoing::Heartbeat(heartbeat()));
        assert!(matches!(next(&inbox), Poll::Ready(Err(End::Closed))));
    }
}
