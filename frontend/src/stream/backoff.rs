//! Exponential backoff with jitter between attempts to re-create a closed `EventSource`.

use std::time::Duration;

/// The delay before the first retry; it doubles with every failed attempt after that.
pub const FIRST_DELAY: Duration = Duration::from_millis(500);

/// The longest delay between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(30);

/// Counts failed attempts and turns them into delays: 0.5 s, 1 s, 2 s, ... up to 30 s, each
/// shortened by a random part of up to half, so that many pages dropped by one server restart (or
/// turned away by its connection cap) do not all come back in the same instant.
///
/// # Examples
/// ```
/// use std::time::Duration;
///
/// use frontend::stream::backoff::Backoff;
///
/// let mut backoff = Backoff::default();
/// // Without jitter each delay is the ceiling: 0.5 s, then twice as long each time.
/// assert_eq!(backoff.next_delay(0.0), Duration::from_millis(500));
/// assert_eq!(backoff.next_delay(0.0), Duration::from_secs(1));
/// // With the most jitter, half of it: 2 s at most, 1 s at least.
/// assert_eq!(backoff.next_delay(1.0), Duration::from_secs(1));
/// // The stream opened: the next failure starts over.
/// backoff.reset();
/// assert_eq!(backoff.next_delay(0.0), Duration::from_millis(500));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The delay before the next attempt, counting one more failure. `jitter` is a random number
    /// in `0.0..1.0` (`Math.random()` in the browser); the delay lies in `[ceiling / 2, ceiling]`.
    pub fn next_delay(&mut self, jitter: f64) -> Duration {
        let ceiling = FIRST_DELAY
            .saturating_mul(1 << self.failures.min(16))
            .min(MAX_DELAY);
        self.failures = self.failures.saturating_add(1);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        ceiling.mul_f64(1.0 - jitter / 2.0)
    }

    /// Starts over from [`FIRST_DELAY`]: the stream opened.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn ceilings(backoff: &mut Backoff, attempts: usize) -> Vec<u128> {
        (0..attempts)
            .map(|_| backoff.next_delay(0.0).as_millis())
            .collect()
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn delays_double_from_half_a_second_up_to_thirty_seconds() {
        let mut backoff = Backoff::default();
        assert_eq!(
            ceilings(&mut backoff, 10),
            [
                500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000, 30_000
            ]
        );
        backoff.failures = u32::MAX;
        assert_eq!(
            backoff.next_delay(0.0),
            MAX_DELAY,
            "no overflow however long it fails"
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn jitter_shortens_a_delay_by_at_most_half() {
        let mut backoff = Backoff { failures: 3 };
        assert_eq!(
            backoff.clone().next_delay(0.0),
            Duration::from_millis(4_000)
        );
        assert_eq!(
            backoff.clone().next_delay(0.5),
            Duration::from_millis(3_000)
        );
        assert_eq!(
            backoff.clone().next_delay(1.0),
            Duration::from_millis(2_000)
        );
        assert_eq!(backoff.next_delay(f64::NAN), Duration::from_millis(4_000));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn an_open_stream_resets_the_delay() {
        let mut backoff = Backoff::default();
        ceilings(&mut backoff, 5);
        backoff.reset();
        assert_eq!(ceilings(&mut backoff, 2), [500, 1_000]);
    }
}
