//! Delivery latency: how late each ping arrived live, its arrival by this browser's clock less
//! its `time` by the server's, in microseconds, over the newest [`WINDOW`] live pings. Pings the
//! server replayed from history when the stream opened are not counted: they were sent long
//! before they arrived.
//!
//! The two clocks differ, and one-way timing cannot measure by how much. A figure below zero
//! proves the browser's clock is behind the server's by at least that much: from then on every
//! figure is corrected by the largest such shortfall seen (the offset), so none is ever negative
//! and the fastest delivery reads 0. A browser clock *ahead* of the server's cannot be told
//! from slow deliveries: the figures are then too high by the difference. On one machine, or with
//! both clocks kept by NTP, there is nothing to correct and the figures are the real latency.

use std::collections::VecDeque;

/// How many pings the figures, the chart and the percentiles cover.
pub const WINDOW: usize = 100;

/// `micros` as milliseconds with two decimals, `1.23 ms`: integers only (formatting a float
/// costs the page kilobytes).
pub fn ms_text(micros: u64) -> String {
    let hundredths = micros / 10;
    format!("{}.{:02} ms", hundredths / 100, hundredths % 100)
}

/// The newest [`WINDOW`] latencies and the clock offset learnt so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Latencies {
    /// Arrival less sending time as measured, in microseconds, oldest first; may be negative.
    measured: VecDeque<i64>,
    /// How far behind the server's clock the browser's is known to be, in microseconds (>= 0).
    offset: i64,
}

impl Latencies {
    /// Records a ping sent at `sent_us` by the server's clock that arrived at `arrived_us` by
    /// the browser's (both microseconds since the Unix epoch); returns its figure in
    /// microseconds, corrected by the offset known now.
    pub fn record(&mut self, sent_us: i64, arrived_us: i64) -> u64 {
        let measured = arrived_us.saturating_sub(sent_us);
        self.offset = self.offset.max(measured.saturating_neg());
        if self.measured.len() == WINDOW {
            self.measured.pop_front();
        }
        self.measured.push_back(measured);
        self.correct(measured)
    }

    fn correct(&self, measured: i64) -> u64 {
        u64::try_from(measured.saturating_add(self.offset)).unwrap_or_default()
    }

    /// The figures in microseconds, oldest first, all corrected by the offset known now.
    pub fn figures(&self) -> Vec<u64> {
        self.measured.iter().map(|&us| self.correct(us)).collect()
    }

    /// By how many microseconds the figures are corrected: 0 unless the browser's clock was
    /// found behind the server's.
    pub fn offset_us(&self) -> u64 {
        self.correct(0)
    }

    /// The `percent`th percentile of the figures in microseconds (nearest rank); `None` before
    /// the first ping.
    pub fn percentile(&self, percent: usize) -> Option<u64> {
        // An insertion sort: for a hundred figures as quick as the standard library's, which
        // costs the page some 3 KB.
        let mut sorted: Vec<u64> = Vec::with_capacity(self.measured.len());
        for us in self.figures() {
            let at = sorted.partition_point(|&shorter| shorter <= us);
            sorted.insert(at, us);
        }
        let rank = (percent * sorted.len()).div_ceil(100).max(1);
        sorted.get(rank - 1).copied()
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    const SENT: i64 = 1_795_424_400_000_000;

    fn recorded(delays: impl IntoIterator<Item = i64>) -> (Latencies, Vec<u64>) {
        let mut latencies = Latencies::default();
        let shown = delays
            .into_iter()
            .map(|delay| latencies.record(SENT, SENT.saturating_add(delay)))
            .collect();
        (latencies, shown)
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn with_agreeing_clocks_the_figures_are_the_delays() {
        let (latencies, shown) = recorded([3, 12, 5]);
        assert_eq!(shown, [3, 12, 5]);
        assert_eq!(latencies.figures(), [3, 12, 5]);
        assert_eq!(latencies.offset_us(), 0);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_browser_clock_behind_the_servers_is_corrected_and_nothing_is_negative() {
        // The browser's clock is 2 ms behind: every delay reads 2,000 µs short.
        let (latencies, shown) = recorded([-1_995, -1_990, -1_998, -1_980]);
        assert_eq!(
            shown,
            [0, 5, 0, 18],
            "each figure with the offset known then"
        );
        assert_eq!(latencies.offset_us(), 1_998);
        assert_eq!(
            latencies.figures(),
            [3, 8, 0, 18],
            "all with the newest offset"
        );
        // Absurd times (a server clock decades off) neither panic nor go negative.
        let (absurd, _) = recorded([i64::MIN, 0, i64::MAX]);
        assert_eq!(absurd.figures().len(), 3);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn only_the_newest_window_is_kept() {
        let (latencies, _) = recorded(0..(WINDOW as i64 + 50));
        let figures = latencies.figures();
        assert_eq!(figures.len(), WINDOW);
        assert_eq!(figures[0], 50);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn figures_read_as_milliseconds_with_two_decimals() {
        assert_eq!(ms_text(0), "0.00 ms");
        assert_eq!(ms_text(421), "0.42 ms");
        assert_eq!(ms_text(1_009), "1.00 ms");
        assert_eq!(ms_text(12_345), "12.34 ms");
        assert_eq!(ms_text(3_000_000), "3000.00 ms");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn percentiles_are_nearest_rank() {
        assert_eq!(Latencies::default().percentile(50), None);
        let (one, _) = recorded([7]);
        assert_eq!((one.percentile(50), one.percentile(99)), (Some(7), Some(7)));
        // 1..=100 shuffled: the 50th and 99th smallest.
        let (hundred, _) = recorded((1..=100).map(|ms| (ms * 37) % 101));
        assert_eq!(hundred.percentile(50), Some(50));
        assert_eq!(hundred.percentile(99), Some(99));
        let (spiky, _) = recorded([1, 1, 1, 1, 500]);
        assert_eq!(
            (spiky.percentile(50), spiky.percentile(99)),
            (Some(1), Some(500))
        );
    }
}
