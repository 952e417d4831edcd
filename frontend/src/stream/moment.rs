//! Points in time, as the engine and the page pass them between modules: a [`Moment`] rather than
//! a bare `f64`, so that a time is never taken for a duration (those stay `f64` milliseconds,
//! named `…_ms`) nor for a time of the server's clock.
//!
//! [`Moment::now`] reads the wall clock (`Date.now()`, whole milliseconds, the same in every tab
//! of the browser: tabs compare each other's times) refined by the page's monotonic clock
//! (`performance.timeOrigin + performance.now()`, a tenth of a millisecond or finer), so that a
//! delivery latency below a millisecond can be told. The two drift apart (the monotonic clock
//! stops while a laptop sleeps; the wall clock is set by NTP): whenever they differ by more than
//! [`MAX_DRIFT_MS`], the refinement is re-anchored to the wall clock.

use std::cell::Cell;

/// How far [`Moment::now`] may stray from `Date.now()` before it is re-anchored.
pub const MAX_DRIFT_MS: f64 = 2.0;

thread_local! {
    /// What `performance.now()` is added to: `performance.timeOrigin` until the clocks drift.
    static ANCHOR: Cell<Option<f64>> = const { Cell::new(None) };
}

/// A point in time: microseconds since the Unix epoch by this browser's clock, as exact as the
/// browser allows. Kept in whole microseconds so that it crosses between tabs (in
/// [`crate::stream::tab_message`]) without a rounding.
///
/// # Examples
/// ```
/// use frontend::stream::Moment;
///
/// let sent = Moment::from_ms(1_795_424_400_000.0);
/// let arrived = sent.after(0.42);
/// assert_eq!(arrived.since(sent), 0.42);
/// assert_eq!(arrived.as_micros() - sent.as_micros(), 420);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Moment(i64);

impl Moment {
    /// The moment `ms` milliseconds after the Unix epoch, to the nearest microsecond.
    pub fn from_ms(ms: f64) -> Self {
        Self((ms * 1000.0 + 0.5).floor() as i64)
    }

    /// The moment `micros` microseconds after the Unix epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Milliseconds since the Unix epoch.
    pub fn as_ms(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// Microseconds since the Unix epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Milliseconds from `earlier` until this moment; negative if `earlier` is later.
    pub fn since(self, earlier: Moment) -> f64 {
        self.0.saturating_sub(earlier.0) as f64 / 1000.0
    }

    /// The moment `ms` milliseconds after this one.
    pub fn after(self, ms: f64) -> Moment {
        Self(self.0.saturating_add((ms * 1000.0 + 0.5).floor() as i64))
    }

    /// Now, by the browser's wall clock refined by its monotonic one (see the module's note).
    pub fn now() -> Moment {
        let wall = js_sys::Date::now();
        let Some(performance) = web_sys::window().and_then(|window| window.performance()) else {
            return Self::from_ms(wall);
        };
        let since_load = performance.now();
        let anchor = ANCHOR.get().unwrap_or_else(|| performance.time_origin());
        // `wall` is whole milliseconds: the true time is up to one later.
        let anchor = if (anchor + since_load - wall - 0.5).abs() > MAX_DRIFT_MS {
            wall + 0.5 - since_load
        } else {
            anchor
        };
        ANCHOR.set(Some(anchor));
        Self::from_ms(anchor + since_load)
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    #[wasm_bindgen_test(unsupported = test)]
    fn moments_are_whole_microseconds_and_durations_milliseconds() {
        let at = Moment::from_ms(1_795_424_400_123.456);
        assert_eq!(at.as_micros(), 1_795_424_400_123_456);
        assert_eq!(at.after(0.5).since(at), 0.5);
        assert_eq!(at.since(at.after(2.0)), -2.0);
        assert!(at < at.after(0.001));
        assert_eq!(
            Moment::from_micros(i64::MAX).after(1.0).as_micros(),
            i64::MAX
        );
    }

    #[wasm_bindgen_test]
    fn now_stays_within_the_drift_of_the_wall_clock_and_never_goes_back() {
        let mut previous = Moment::now();
        for _ in 0..1000 {
            let wall = js_sys::Date::now();
            let now = Moment::now();
            assert!(
                (now.as_ms() - wall).abs() <= MAX_DRIFT_MS + 1.0,
                "{now:?} vs {wall}"
            );
            assert!(now >= previous, "{now:?} after {previous:?}");
            previous = now;
        }
    }
}
