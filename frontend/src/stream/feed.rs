//! The typed feed a page gets from the stream: each new event, decoded, and a mark wherever
//! events were missed or the stream started over. Which is which is judged from the events'
//! stamps and the stream's opening heartbeat alone, never from what events carry:
//!
//! - the same id twice, or an id of this run not after the newest one, is a repeat;
//! - a gap is a topic's own number (`topic_seq`) jumping: holes in the run's `seq` are normal on
//!   a stream that carries only some topics (the others' events fill them);
//! - a reset is the opening heartbeat saying [`shared::Start::Reset`] (resumed from too far back,
//!   or from another run), or, if nothing said so, the ids' epoch changing.

use shared::{EventId, EventStamp, Topic};

use crate::stream::Moment;

/// How many topics' numbers a tab remembers: a stream of every topic may carry thousands. When
/// one more comes, the topic first seen longest ago is forgotten; an event on a topic forgotten
/// is judged like the first on it (no gap can be told), never as a false gap.
pub const MAX_TOPICS: usize = 100;

/// One item of the feed, in the order the stream carried them.
#[derive(Debug, Clone, PartialEq)]
pub enum Feed<E> {
    /// A new event of the set.
    Event {
        /// The event.
        event: E,
        /// Its stamp: its id, topic and number on that topic; `None` if the server sent none
        /// that parses.
        stamp: Option<EventStamp>,
        /// When the tab holding the stream received it live; `None` for an event the server
        /// replayed from its history when the stream opened.
        arrived: Option<Moment>,
    },
    /// This many events on the next event's topic never arrived before it.
    Gap {
        /// How many.
        missed: u64,
    },
    /// The stream started over: events may have been lost here (the server restarted, or the
    /// tab resumed from further back than the server remembers); what follows is counted anew.
    Reset,
}

/// How an event compares with what the stream carried before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Of the same run and not newer than the newest: already shown, drop it.
    Repeat,
    /// The next one (or one that cannot be judged: it has no stamp).
    Next,
    /// New, with this many events of its topic missed before it.
    Gap(u64),
    /// The stream started over before it.
    Reset,
}

/// What the judging remembers: the newest id, each recent topic's newest number, and whether a
/// reset was just marked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Judge {
    newest_id: Option<EventId>,
    /// The newest `topic_seq` of each topic seen in the newest id's run, in the order first
    /// seen; at most [`MAX_TOPICS`].
    topics: Vec<(Topic, u64)>,
    /// A reset was marked and no event has come since: the new run it announced needs no second
    /// mark.
    restarted: bool,
}

impl Judge {
    /// The newest id judged: what a new `EventSource` resumes after. After a restart of the
    /// server (a new epoch) that is the new run's, even though its `seq` may be lower.
    pub fn newest_id(&self) -> Option<EventId> {
        self.newest_id
    }

    /// The stream started over (its opening heartbeat said so): topics are counted anew.
    pub fn reset(&mut self) -> Verdict {
        self.topics.clear();
        self.restarted = true;
        Verdict::Reset
    }

    /// Judges the next event of the stream, stamped `stamp`.
    pub fn judge(&mut self, stamp: Option<&EventStamp>) -> Verdict {
        let Some(EventStamp {
            id,
            topic,
            topic_seq,
        }) = stamp
        else {
            return Verdict::Next;
        };
        let mut verdict = Verdict::Next;
        match self.newest_id {
            Some(newest) if newest.epoch == id.epoch && id.seq <= newest.seq => {
                return Verdict::Repeat;
            }
            Some(newest) if newest.epoch != id.epoch => {
                self.topics.clear();
                if !self.restarted {
                    verdict = Verdict::Reset;
                }
            }
            _ => {}
        }
        self.newest_id = Some(*id);
        self.restarted = false;
        if let Some((_, last)) = self.topics.iter_mut().find(|(seen, _)| seen == topic) {
            if *topic_seq > last.saturating_add(1) {
                verdict = Verdict::Gap(topic_seq - *last - 1);
            }
            *last = *topic_seq;
        } else {
            if self.topics.len() == MAX_TOPICS {
                self.topics.remove(0);
            }
            self.topics.push((topic.clone(), *topic_seq));
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use shared::Epoch;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn stamp(epoch: u64, seq: u64, topic: &str, topic_seq: u64) -> EventStamp {
        EventStamp {
            id: EventId {
                epoch: Epoch(epoch),
                seq,
            },
            topic: topic.parse().expect("a topic"),
            topic_seq,
        }
    }

    /// Judges `stamps` in order, a `None` for an event without a stamp.
    fn verdicts<'a>(
        judge: &mut Judge,
        stamps: impl IntoIterator<Item = &'a Option<EventStamp>>,
    ) -> Vec<Verdict> {
        stamps
            .into_iter()
            .map(|stamp| judge.judge(stamp.as_ref()))
            .collect()
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn holes_in_seq_are_other_topics_and_only_a_topics_own_number_tells_a_gap() {
        let mut judge = Judge::default();
        let stamps = [
            Some(stamp(1, 7, "ping", 5)),
            // seq 8..=11 went to topics this stream does not carry.
            Some(stamp(1, 12, "ping", 6)),
            Some(stamp(1, 13, "orders/1", 40)),
            Some(stamp(1, 20, "orders/1", 41)),
            // ping 7 and 8 never came.
            Some(stamp(1, 21, "ping", 9)),
            Some(stamp(1, 22, "orders/1", 45)),
            None,
            Some(stamp(1, u64::MAX, "ping", u64::MAX)),
        ];
        assert_eq!(
            verdicts(&mut judge, &stamps),
            [
                Verdict::Next,
                Verdict::Next,
                Verdict::Next,
                Verdict::Next,
                Verdict::Gap(2),
                Verdict::Gap(3),
                Verdict::Next,
                Verdict::Gap(u64::MAX - 10),
            ]
        );
        assert_eq!(judge.newest_id(), Some(stamp(1, u64::MAX, "t", 1).id));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn the_same_id_or_an_older_one_of_the_run_is_a_repeat_whatever_its_topic_says() {
        let mut judge = Judge::default();
        let stamps = [
            Some(stamp(1, 7, "ping", 5)),
            Some(stamp(1, 7, "ping", 5)),
            Some(stamp(1, 7, "orders/1", 99)),
            Some(stamp(1, 3, "ping", 1)),
            Some(stamp(1, 8, "ping", 6)),
        ];
        assert_eq!(
            verdicts(&mut judge, &stamps),
            [
                Verdict::Next,
                Verdict::Repeat,
                Verdict::Repeat,
                Verdict::Repeat,
                Verdict::Next,
            ]
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_reset_counts_topics_anew_and_its_new_run_gets_no_second_mark() {
        let mut judge = Judge::default();
        judge.judge(Some(&stamp(1, 7, "ping", 5)));
        // Resumed from further back than the server remembers: the same run, topics jump.
        assert_eq!(judge.reset(), Verdict::Reset);
        assert_eq!(judge.judge(Some(&stamp(1, 90, "ping", 80))), Verdict::Next);
        // The server restarted and said so: the new run's first event is no second reset.
        judge.reset();
        assert_eq!(judge.judge(Some(&stamp(2, 1, "ping", 1))), Verdict::Next);
        assert_eq!(judge.newest_id(), Some(stamp(2, 1, "ping", 1).id));
        // Its seq is lower than the old run's, and it is no repeat; nor is the next a gap.
        assert_eq!(judge.judge(Some(&stamp(2, 2, "ping", 2))), Verdict::Next);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_new_epoch_that_nothing_announced_is_a_reset_by_itself() {
        let mut judge = Judge::default();
        judge.judge(Some(&stamp(1, 7, "ping", 5)));
        judge.judge(None);
        assert_eq!(judge.judge(Some(&stamp(2, 3, "ping", 3))), Verdict::Reset);
        assert_eq!(judge.judge(Some(&stamp(2, 4, "ping", 4))), Verdict::Next);
        // Back to the first run (a stale tab's snapshot): another reset, not a repeat.
        assert_eq!(judge.judge(Some(&stamp(1, 8, "ping", 6))), Verdict::Reset);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn only_the_topics_first_seen_last_are_remembered_and_a_forgotten_one_makes_no_false_gap() {
        let mut judge = Judge::default();
        judge.judge(Some(&stamp(1, 1, "old", 1)));
        for n in 0..MAX_TOPICS as u64 {
            judge.judge(Some(&stamp(1, 2 + n, &format!("t/{n}"), 1)));
        }
        assert_eq!(judge.topics.len(), MAX_TOPICS);
        assert_eq!(
            judge.judge(Some(&stamp(1, 500, "old", 9))),
            Verdict::Next,
            "forgotten: judged as the first"
        );
        assert_eq!(
            judge.judge(Some(&stamp(1, 501, "t/99", 3))),
            Verdict::Gap(1),
            "remembered"
        );
    }
}
