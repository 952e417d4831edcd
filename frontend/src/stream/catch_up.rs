//! A new follower's catch-up: it asks the leader for the recent events, and live events relayed
//! before that answer arrives wait for it.
//!
//! Applying a live event first would make the feed drop the answer's older events as repeats
//! (and, across a server restart, show a reset that never happened), so the order must be: the
//! answer, then what waited. Nobody may answer (no leader yet, or it is handing over): after
//! [`SNAPSHOT_WAIT_MS`] the follower gives up waiting and applies what it has.

use crate::stream::{Moment, raw_event::RawEvent, recent::MAX_EVENTS};

/// How long a new follower waits for the leader's recent events before it shows live ones without
/// them (there may be no leader to answer: it is handing over).
pub const SNAPSHOT_WAIT_MS: f64 = 500.0;

/// The follower's side of one `Hello`/`Snapshot` exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct CatchUp {
    nonce: u32,
    /// When the follower stops waiting for the answer.
    deadline: Moment,
    /// Live events held back until the answer; `None` once caught up.
    held: Option<Vec<RawEvent>>,
}

impl CatchUp {
    /// Waiting, from `now`, for the answer to the `Hello(nonce)` just sent.
    pub fn new(nonce: u32, now: Moment) -> Self {
        Self {
            nonce,
            deadline: now.after(SNAPSHOT_WAIT_MS),
            held: Some(Vec::new()),
        }
    }

    /// Milliseconds from `now` until [`CatchUp::expire`] gives up waiting; `None` once caught up.
    pub fn wait(&self, now: Moment) -> Option<f64> {
        self.held
            .as_ref()
            .map(|_| self.deadline.since(now).max(0.0))
    }

    /// A live event arrived: returns it if it may be applied now, or holds it back. Only the
    /// newest [`MAX_EVENTS`] are held; a tab keeps no more.
    pub fn live(&mut self, event: RawEvent) -> Option<RawEvent> {
        let Some(held) = &mut self.held else {
            return Some(event);
        };
        if held.len() == MAX_EVENTS {
            held.remove(0);
        }
        held.push(event);
        None
    }

    /// A snapshot arrived: if it answers this follower's `Hello` and the follower still waits,
    /// returns what to apply, in order: the snapshot's events (at most the newest
    /// [`MAX_EVENTS`]), then the events that were held back. Any other snapshot (another tab's
    /// answer, a late one) gives `None`.
    pub fn answer(&mut self, nonce: u32, mut events: Vec<RawEvent>) -> Option<Vec<RawEvent>> {
        if nonce != self.nonce {
            return None;
        }
        let held = self.held.take()?;
        events.drain(..events.len().saturating_sub(MAX_EVENTS));
        events.extend(held);
        Some(events)
    }

    /// Stops waiting if the deadline has passed at `now` (nobody answered in time): the events
    /// held back, to apply now; nothing before the deadline or once caught up.
    pub fn expire(&mut self, now: Moment) -> Vec<RawEvent> {
        if now >= self.deadline {
            self.give_up()
        } else {
            Vec::new()
        }
    }

    /// Stops waiting (this tab now leads): the events held back, to apply now.
    pub fn give_up(&mut self) -> Vec<RawEvent> {
        self.held.take().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn at(ms: f64) -> Moment {
        Moment::from_ms(ms)
    }

    fn raw(count: u64) -> RawEvent {
        RawEvent::ping("00000000000000aa", count)
    }

    fn ids(events: &[RawEvent]) -> Vec<String> {
        events.iter().map(|event| event.id.clone()).collect()
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn live_events_that_beat_the_answer_are_applied_after_it() {
        let mut catch_up = CatchUp::new(7, at(0.0));
        assert!(catch_up.wait(at(0.0)).is_some());
        assert_eq!(catch_up.live(raw(10)), None);
        assert_eq!(catch_up.live(raw(11)), None);
        let applied = catch_up
            .answer(7, (1..=10).map(raw).collect())
            .expect("our answer");
        assert_eq!(
            ids(&applied),
            ids(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 11].map(raw)),
            "the overlap (10) is left to the reducer, which drops repeats"
        );
        assert!(catch_up.wait(at(0.0)).is_none());
        assert_eq!(catch_up.live(raw(12)), Some(raw(12)), "then live at once");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn other_tabs_answers_and_late_ones_are_ignored() {
        let mut catch_up = CatchUp::new(7, at(0.0));
        assert_eq!(catch_up.answer(8, vec![raw(1)]), None, "another tab's");
        assert!(catch_up.wait(at(0.0)).is_some());
        assert_eq!(catch_up.answer(7, vec![raw(1)]), Some(vec![raw(1)]));
        assert_eq!(catch_up.answer(7, vec![raw(1)]), None, "a repeat");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn giving_up_applies_what_was_held_and_ignores_a_late_answer() {
        let mut catch_up = CatchUp::new(1, at(0.0));
        catch_up.live(raw(5));
        assert_eq!(catch_up.give_up(), [raw(5)]);
        assert_eq!(catch_up.answer(1, vec![raw(4)]), None);
        assert_eq!(catch_up.give_up(), []);
        assert_eq!(catch_up.live(raw(6)), Some(raw(6)));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn waiting_ends_at_the_deadline_and_not_before() {
        let mut catch_up = CatchUp::new(1, at(1_000.0));
        catch_up.live(raw(5));
        assert_eq!(catch_up.wait(at(1_100.0)), Some(SNAPSHOT_WAIT_MS - 100.0));
        assert_eq!(catch_up.expire(at(1_100.0)), []);
        assert_eq!(
            catch_up.wait(at(2_000.0)),
            Some(0.0),
            "late, and still waiting"
        );
        assert_eq!(catch_up.expire(at(1_000.0 + SNAPSHOT_WAIT_MS)), [raw(5)]);
        assert_eq!(catch_up.wait(at(2_000.0)), None);
        assert_eq!(catch_up.live(raw(6)), Some(raw(6)));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn an_oversized_answer_and_a_long_wait_stay_bounded() {
        let mut catch_up = CatchUp::new(1, at(0.0));
        for count in 1..=(MAX_EVENTS as u64 * 3) {
            catch_up.live(raw(count));
        }
        let snapshot: Vec<RawEvent> = (1..=(MAX_EVENTS as u64 * 5)).map(raw).collect();
        let applied = catch_up.answer(1, snapshot).expect("our answer");
        assert_eq!(applied.len(), 2 * MAX_EVENTS);
        assert_eq!(applied[0], raw(MAX_EVENTS as u64 * 4 + 1));
        assert_eq!(applied[MAX_EVENTS], raw(MAX_EVENTS as u64 * 2 + 1));
    }
}
