//! Stall detection: a stream that stays silent for longer than the server promised is dead,
//! whatever the browser believes (a half-open TCP connection, a stopped server, a laptop that
//! slept). Browsers never show SSE comments to JavaScript, so the server's `heartbeat` events are
//! what make silence measurable.
//!
//! Pure: every time is passed in (a [`Moment`]: [`Moment::now`] in the browser), so the rules are
//! tested without waiting. The rules compare the time of the last event with the time of the
//! check, never count timer ticks: a background tab's timers may fire once a minute.

use shared::Timing;

use crate::stream::Moment;

/// How many of the server's promised silences make a stall.
pub const SILENCES: f64 = 3.0;

/// The shortest silence ever called a stall: with very fast pings, three intervals would be
/// shorter than a busy machine's hiccup.
pub const MIN_BUDGET_MS: f64 = 2_000.0;

/// The silence tolerated before the server has told the page its timing (no heartbeat seen yet):
/// a dead first connection is still noticed, and no sane interval trips it.
pub const DEFAULT_BUDGET_MS: f64 = 10_000.0;

/// The longest a connection attempt that never opened is given, however many timed out before
/// it: the server answers it the moment it wakes up, so keeping it open is what makes recovery
/// prompt; replacing it now and then covers an attempt that got lost on the way.
pub const MAX_CONNECT_BUDGET_MS: f64 = 30_000.0;

/// A check that runs this much later than it was scheduled ran in a tab that was asleep
/// (throttled to once a minute, frozen, a suspended laptop): events may be queued behind it.
pub const LATE_MS: f64 = 1_000.0;

/// How long a late check waits, letting queued events in, before it calls a stall.
pub const LOOK_AGAIN_MS: f64 = 500.0;

/// The silence after which a stream with this timing counts as stalled: three times the shorter
/// of the ping interval and the heartbeat period, at least [`MIN_BUDGET_MS`]. A healthy stream is
/// never silent for longer than the heartbeat period, and with pings flowing, not for longer
/// than the interval.
pub fn budget_ms(timing: &Timing) -> f64 {
    let promised = match timing.heartbeat_ms {
        Some(heartbeat_ms) => heartbeat_ms.min(timing.interval_ms),
        None => timing.interval_ms,
    };
    (SILENCES * promised as f64).max(MIN_BUDGET_MS)
}

/// The silence an attempt that has not opened yet is given, after `timed_out` attempts in a row
/// that never opened: the stall budget, doubling with each, up to [`MAX_CONNECT_BUDGET_MS`].
/// There is no other wait between such attempts: a stopped server still accepts connections (its
/// kernel does) and answers the pending one as soon as it runs again.
pub fn connect_budget_ms(budget_ms: f64, timed_out: u32) -> f64 {
    let doubled = budget_ms * f64::from(1_u32 << timed_out.min(16));
    doubled.min(MAX_CONNECT_BUDGET_MS.max(budget_ms))
}

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Nothing wrong yet: check again when [`StallWatch::wait`] says.
    Wait,
    /// Nothing arrived for this many milliseconds, more than the budget: the stream is dead.
    Stalled {
        /// How long it has been silent.
        silent_ms: f64,
    },
}

/// Watches one stream (or, in a tab following another tab's stream, what that tab relays) for
/// silence.
///
/// # Examples
/// ```
/// use frontend::stream::{
///     Moment,
///     stall::{StallWatch, Verdict},
/// };
///
/// let at = |seconds: f64| Moment::from_ms(seconds * 1000.0);
/// let mut watch = StallWatch::new(at(0.0), 3_000.0);
/// watch.heard(at(1.0));
/// // The first check is due 3 s after the start: silent for 2 s by then is no stall, and the
/// // next check is due 3 s after the last event.
/// assert_eq!(watch.wait(at(1.0)), 2_000.0);
/// assert_eq!(watch.check(at(3.0)), Verdict::Wait);
/// assert_eq!(watch.wait(at(3.0)), 1_000.0);
/// assert_eq!(watch.check(at(4.0)), Verdict::Stalled { silent_ms: 3_000.0 });
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StallWatch {
    budget_ms: f64,
    last_heard: Moment,
    /// When the pending check was meant to run; a check much later than this ran in a tab that
    /// was asleep.
    due: Moment,
    /// When a late check found silence and chose to look again instead of calling a stall.
    suspect_since: Option<Moment>,
}

impl StallWatch {
    /// Starts watching at `now`, which counts as the last time something was heard.
    pub fn new(now: Moment, budget_ms: f64) -> Self {
        Self {
            budget_ms,
            last_heard: now,
            due: now.after(budget_ms),
            suspect_since: None,
        }
    }

    /// Something arrived from the server at `now`.
    pub fn heard(&mut self, now: Moment) {
        if now > self.last_heard {
            self.last_heard = now;
        }
        self.suspect_since = None;
    }

    /// The server announced its timing: from now on a stall is a silence of `budget_ms`.
    pub fn set_budget(&mut self, budget_ms: f64) {
        self.budget_ms = budget_ms;
        let due = self.last_heard.after(budget_ms);
        if due < self.due {
            self.due = due;
        }
    }

    /// Milliseconds from `now` until [`StallWatch::check`] is due.
    pub fn wait(&self, now: Moment) -> f64 {
        self.due.since(now).max(0.0)
    }

    /// Looks at the silence at `now`. A check that runs far later than it was due (the tab was
    /// asleep) never calls a stall at once: it looks again [`LOOK_AGAIN_MS`] later, so that events
    /// queued while the tab slept are counted first. A check may also run early (another tab
    /// reported silence); it judges by the same rules.
    pub fn check(&mut self, now: Moment) -> Verdict {
        let silent_ms = now.since(self.last_heard);
        if silent_ms < self.budget_ms {
            self.suspect_since = None;
            self.due = self.last_heard.after(self.budget_ms);
            return Verdict::Wait;
        }
        match self.suspect_since {
            None if now.since(self.due) > LATE_MS => {
                self.suspect_since = Some(now);
                self.due = now.after(LOOK_AGAIN_MS);
                Verdict::Wait
            }
            Some(since) if now.since(since) < LOOK_AGAIN_MS => {
                self.due = since.after(LOOK_AGAIN_MS);
                Verdict::Wait
            }
            _ => Verdict::Stalled { silent_ms },
        }
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn at(ms: f64) -> Moment {
        Moment::from_ms(ms)
    }

    /// Checks at `now` a stream that must not be found stalled; returns how long until the next
    /// check is due.
    fn wait_after_check(watch: &mut StallWatch, now: f64) -> f64 {
        match watch.check(at(now)) {
            Verdict::Wait => watch.wait(at(now)),
            stalled => panic!("{stalled:?} at {now} ms"),
        }
    }

    const DEFAULTS: Timing = Timing {
        interval_ms: 1_000,
        heartbeat_ms: Some(2_000),
        start: None,
        replayed: 0,
    };

    #[wasm_bindgen_test(unsupported = test)]
    fn budget_is_three_of_the_shorter_period_with_a_floor() {
        assert_eq!(budget_ms(&DEFAULTS), 3_000.0, "the defaults: within 5 s");
        let slow_pings = Timing {
            interval_ms: 60_000,
            heartbeat_ms: Some(15_000),
            start: None,
            replayed: 0,
        };
        assert_eq!(budget_ms(&slow_pings), 45_000.0);
        let no_heartbeats = Timing {
            interval_ms: 5_000,
            heartbeat_ms: None,
            start: None,
            replayed: 0,
        };
        assert_eq!(budget_ms(&no_heartbeats), 15_000.0);
        let fast = Timing {
            interval_ms: 100,
            heartbeat_ms: Some(200),
            start: None,
            replayed: 0,
        };
        assert_eq!(budget_ms(&fast), MIN_BUDGET_MS);
        let zero = Timing {
            interval_ms: 0,
            heartbeat_ms: Some(0),
            start: None,
            replayed: 0,
        };
        assert_eq!(budget_ms(&zero), MIN_BUDGET_MS);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_pending_attempt_is_given_longer_each_time_up_to_a_cap() {
        let budgets: Vec<f64> = (0..7).map(|n| connect_budget_ms(3_000.0, n)).collect();
        assert_eq!(
            budgets,
            [
                3_000.0, 6_000.0, 12_000.0, 24_000.0, 30_000.0, 30_000.0, 30_000.0
            ]
        );
        assert_eq!(connect_budget_ms(3_000.0, u32::MAX), MAX_CONNECT_BUDGET_MS);
        assert_eq!(
            connect_budget_ms(45_000.0, 3),
            45_000.0,
            "never shorter than the stall budget"
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_stream_that_keeps_talking_never_stalls() {
        let mut watch = StallWatch::new(at(0.0), 3_000.0);
        let mut next_check = watch.wait(at(0.0));
        let mut checks = 0;
        for second in 1..=100 {
            let now = f64::from(second) * 1_000.0;
            watch.heard(at(now));
            if now >= next_check {
                checks += 1;
                next_check = now + wait_after_check(&mut watch, now);
            }
        }
        assert_eq!(checks, 33, "one check per budget, not one per event");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn silence_longer_than_the_budget_is_a_stall_measured_from_the_last_event() {
        let mut watch = StallWatch::new(at(0.0), 3_000.0);
        watch.heard(at(1_000.0));
        assert_eq!(wait_after_check(&mut watch, 3_000.0), 1_000.0);
        assert_eq!(wait_after_check(&mut watch, 3_999.0), 1.0);
        assert_eq!(
            watch.check(at(4_000.0)),
            Verdict::Stalled { silent_ms: 3_000.0 }
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_check_that_fires_late_looks_again_before_calling_a_stall() {
        let mut watch = StallWatch::new(at(0.0), 3_000.0);
        // A background tab: the 3 s timer fired after a minute.
        assert_eq!(wait_after_check(&mut watch, 60_000.0), LOOK_AGAIN_MS);
        // The events queued while it slept arrive: no stall, the stream is fine.
        watch.heard(at(60_010.0));
        assert_eq!(wait_after_check(&mut watch, 60_500.0), 2_510.0);

        // Asleep again, and this time nothing was queued: the second look calls it.
        assert_eq!(wait_after_check(&mut watch, 125_000.0), LOOK_AGAIN_MS);
        assert_eq!(
            watch.check(at(185_000.0)),
            Verdict::Stalled {
                silent_ms: 124_990.0
            },
            "a second late check does not defer again"
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn an_early_check_during_the_second_look_keeps_waiting() {
        let mut watch = StallWatch::new(at(0.0), 3_000.0);
        assert_eq!(wait_after_check(&mut watch, 10_000.0), LOOK_AGAIN_MS);
        assert_eq!(wait_after_check(&mut watch, 10_200.0), 300.0);
        assert!(matches!(watch.check(at(10_500.0)), Verdict::Stalled { .. }));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_check_on_time_or_slightly_late_calls_the_stall_at_once() {
        let mut watch = StallWatch::new(at(0.0), 3_000.0);
        assert!(matches!(
            watch.check(at(3_000.0 + LATE_MS)),
            Verdict::Stalled { .. }
        ));
        // Called early, by a tab that noticed the silence first: same rules.
        let mut watch = StallWatch::new(at(0.0), 3_000.0);
        watch.set_budget(2_000.0);
        assert_eq!(
            watch.wait(at(0.0)),
            2_000.0,
            "a shorter budget moves the check"
        );
        assert!(matches!(watch.check(at(2_500.0)), Verdict::Stalled { .. }));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_longer_budget_learned_from_the_server_applies_to_the_next_check() {
        let mut watch = StallWatch::new(at(0.0), DEFAULT_BUDGET_MS);
        watch.set_budget(45_000.0);
        assert_eq!(wait_after_check(&mut watch, DEFAULT_BUDGET_MS), 35_000.0);
        assert_eq!(
            watch.check(at(45_000.0)),
            Verdict::Stalled {
                silent_ms: 45_000.0
            }
        );
    }
}
