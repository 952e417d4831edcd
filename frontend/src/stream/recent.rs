//! The events a tab has taken in, as the browser delivered them: what it hands a new tab that
//! asks, what it keeps for a reload, and the id any new `EventSource` of it resumes after.
//!
//! A contiguous run of the newest events of every name (the malformed ones included) and the
//! resets between them, so that replaying it in another tab (or after a reload) judges and
//! decodes exactly as this tab did: the same marks, the same malformed count, no gap where an
//! event was left out.

use std::collections::VecDeque;

use shared::{EventId, EventStamp};

use crate::stream::{
    feed::{Judge, Verdict},
    raw_event::RawEvent,
};

/// How many events a tab keeps: what a new tab or a reload shows at once.
pub const MAX_EVENTS: usize = 100;

/// The newest [`MAX_EVENTS`] events a tab took in, and what judging them left to remember.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecentEvents {
    /// Oldest first.
    events: VecDeque<RawEvent>,
    judge: Judge,
}

impl RecentEvents {
    /// Judges `raw`, whose id parsed as `stamp` ([`Judge`]; a [`RawEvent::reset`] is a reset), and
    /// keeps it unless it is a repeat. An event without a valid stamp is kept but can be neither
    /// judged nor resumed after.
    pub fn record(&mut self, raw: RawEvent, stamp: Option<&EventStamp>) -> Verdict {
        let verdict = if raw.is_reset() {
            self.judge.reset()
        } else {
            self.judge.judge(stamp)
        };
        if verdict != Verdict::Repeat {
            if self.events.len() == MAX_EVENTS {
                self.events.pop_front();
            }
            self.events.push_back(raw);
        }
        verdict
    }

    /// The id a new `EventSource` resumes after: the newest valid one kept
    /// ([`Judge::newest_id`]).
    pub fn newest_id(&self) -> Option<EventId> {
        self.judge.newest_id()
    }

    /// The events kept, oldest first.
    pub fn to_vec(&self) -> Vec<RawEvent> {
        self.events.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use shared::Epoch;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;
    use crate::stream::Moment;

    const A: &str = "00000000000000aa";
    const B: &str = "00000000000000bb";

    fn record(recent: &mut RecentEvents, raw: RawEvent) -> Verdict {
        let stamp = raw.stamp();
        recent.record(raw, stamp.as_ref())
    }

    fn id(epoch: u64, seq: u64) -> Option<EventId> {
        Some(EventId {
            epoch: Epoch(epoch),
            seq,
        })
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn keeps_the_newest_events_oldest_first_and_resumes_after_the_last() {
        let mut recent = RecentEvents::default();
        assert_eq!(recent.newest_id(), None);
        for seq in 1..=(MAX_EVENTS as u64 + 20) {
            assert_eq!(record(&mut recent, RawEvent::ping(A, seq)), Verdict::Next);
        }
        let kept = recent.to_vec();
        assert_eq!(kept.len(), MAX_EVENTS);
        assert_eq!(kept[0], RawEvent::ping(A, 21));
        assert_eq!(recent.newest_id(), id(0xaa, MAX_EVENTS as u64 + 20));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn repeats_are_not_kept_and_gaps_and_resets_are_told() {
        let mut recent = RecentEvents::default();
        let verdicts: Vec<Verdict> = [
            RawEvent::ping(A, 5),
            RawEvent::ping(A, 5),
            RawEvent::ping(A, 3),
            RawEvent::example("notice", "not json", A, 6),
            RawEvent::ping(A, 9),
            RawEvent::reset(Moment::from_ms(9_500.0)),
            RawEvent::ping(B, 1),
        ]
        .into_iter()
        .map(|raw| record(&mut recent, raw))
        .collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Next,
                Verdict::Repeat,
                Verdict::Repeat,
                Verdict::Next,
                Verdict::Gap(2),
                Verdict::Reset,
                Verdict::Next,
            ]
        );
        let ids: Vec<String> = recent.to_vec().into_iter().map(|raw| raw.id).collect();
        assert_eq!(
            ids,
            [
                format!("{A}-5:t:5"),
                format!("{A}-6:t:6"),
                format!("{A}-9:t:9"),
                String::new(),
                format!("{B}-1:t:1")
            ],
            "a malformed event and the reset are kept too: replayed, they are judged and \
             counted the same"
        );
        assert_eq!(
            recent.newest_id(),
            id(0xbb, 1),
            "the new run's, though lower"
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn an_event_without_a_valid_id_is_kept_but_not_resumed_after() {
        let mut recent = RecentEvents::default();
        record(&mut recent, RawEvent::ping(A, 7));
        let anonymous = RawEvent {
            id: "not an id".to_owned(),
            ..RawEvent::ping(A, 8)
        };
        assert_eq!(record(&mut recent, anonymous.clone()), Verdict::Next);
        assert_eq!(recent.to_vec(), [RawEvent::ping(A, 7), anonymous]);
        assert_eq!(recent.newest_id(), id(0xaa, 7));
    }
}
