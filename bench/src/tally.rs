//! Turning what each client received into gaps, duplicates, delivered events and latency
//! percentiles. Pure logic over plain data, so every rule here is unit-tested.
//!
//! A client is judged by its events' ids alone: `seq` counts every event of the stream, pings
//! and notices alike, so a missing `seq` is a gap whatever its name, and `Ping.count` plays no
//! part (it is the ping's own counter, not its place in the stream).

use serde::{Deserialize, Serialize};

/// What one client's events add up to over `(from, to]`, the measured seqs, tallied as they
/// arrive ([`ClientTally::observe`]) and closed at the end ([`ClientTally::close`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientTally {
    /// Seqs missing between the first event the client received and `to`: skipped ones, and
    /// the ones never received because the stream stalled or ended early.
    pub gaps: u64,
    /// Events whose seq was not above the previous one (repeats or reordering).
    pub dups: u64,
    /// Distinct events received in `(from, to]`.
    pub delivered: u64,
    /// The highest seq received so far; `None` before the first event.
    last: Option<u64>,
}

/// How [`ClientTally::observe`] judged one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// A new event inside the measured window: it counts as delivered (and its latency counts).
    Measured,
    /// A new event before the window (or after it): it moves the client on, nothing more.
    Unmeasured,
    /// Not above the previous seq: a repeat or out of order.
    Duplicate,
}

impl ClientTally {
    /// Judges the event `seq`, the next one in arrival order; `(from, to]` is the window
    /// (`to` is `u64::MAX` while the window's end is not known yet). Events after `to` are
    /// ignored altogether, as if they had not arrived yet.
    pub fn observe(&mut self, seq: u64, from: u64, to: u64) -> Seen {
        if seq > to {
            return Seen::Unmeasured;
        }
        if let Some(prev) = self.last {
            if seq <= prev {
                self.dups += 1;
                return Seen::Duplicate;
            }
            self.gaps += seq - prev - 1;
        }
        self.last = Some(seq);
        if seq > from {
            self.delivered += 1;
            Seen::Measured
        } else {
            Seen::Unmeasured
        }
    }

    /// The highest seq received so far; `None` before the first event.
    pub fn last(&self) -> Option<u64> {
        self.last
    }

    /// The tally once the window ends at `to`: what was never received after the last event
    /// counts as gaps. A client that received nothing has no gaps (it never connected: that is
    /// an error elsewhere).
    pub fn close(self, to: u64) -> Self {
        let mut closed = self;
        if let Some(prev) = self.last {
            closed.gaps += to.saturating_sub(prev);
        }
        closed
    }
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Worst.
    pub max_ms: f64,
}

/// Nearest-rank percentiles of `samples` (microseconds); sorts them. `None` if empty.
pub fn latency(samples: &mut [i64]) -> Option<Latency> {
    samples.sort_unstable();
    let at = |quantile: f64| -> f64 {
        let rank = (quantile * samples.len() as f64).ceil() as usize;
        let index = rank.clamp(1, samples.len()) - 1;
        samples[index] as f64 / 1000.0
    };
    let max = *samples.last()?;
    Some(Latency {
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: max as f64 / 1000.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `seqs` in order with the window `(from, to]` and closes the tally at `to`.
    fn tally(seqs: &[u64], from: u64, to: u64) -> ClientTally {
        let mut tally = ClientTally::default();
        for &seq in seqs {
            tally.observe(seq, from, to);
        }
        tally.close(to)
    }

    fn counts(tally: ClientTally) -> (u64, u64, u64) {
        (tally.gaps, tally.dups, tally.delivered)
    }

    #[test]
    fn an_unbroken_stream_has_no_gaps_and_delivers_the_window() {
        assert_eq!(counts(tally(&[3, 4, 5, 6, 7, 8], 5, 8)), (0, 0, 3));
    }

    #[test]
    fn skipped_and_missing_tail_seqs_are_gaps() {
        // 5 skipped before the window, 7 skipped inside it, 9 and 10 never arrived.
        assert_eq!(counts(tally(&[3, 4, 6, 8], 5, 10)), (4, 0, 2));
    }

    #[test]
    fn repeats_and_reordering_are_duplicates_and_deliver_once() {
        assert_eq!(counts(tally(&[5, 6, 6, 5, 7, 7], 5, 7)), (0, 3, 2));
    }

    #[test]
    fn events_after_the_window_are_ignored_and_no_events_means_no_tally() {
        let after = tally(&[5, 6, 7, 8, 12], 5, 7);
        assert_eq!((after.gaps, after.delivered, after.last()), (0, 2, Some(7)));
        assert_eq!(tally(&[], 5, 7), ClientTally::default());
    }

    #[test]
    fn each_event_is_judged_as_it_arrives() {
        let mut tally = ClientTally::default();
        assert_eq!(tally.observe(4, 5, u64::MAX), Seen::Unmeasured);
        assert_eq!(tally.observe(6, 5, u64::MAX), Seen::Measured);
        assert_eq!(tally.observe(6, 5, u64::MAX), Seen::Duplicate);
        // The window's end became known: later events wait outside it.
        assert_eq!(tally.observe(9, 5, 8), Seen::Unmeasured);
        assert_eq!(tally.last(), Some(6));
        assert_eq!(counts(tally.close(8)), (3, 1, 1));
    }

    #[test]
    fn notices_between_pings_are_judged_by_seq_not_by_ping_count() {
        // ping count 1 = seq 1, a notice = seq 2, ping count 2 = seq 3: the seqs run on without a
        // hole although the pings' counts (1, 2) skip the notice's place.
        assert_eq!(counts(tally(&[1, 2, 3, 4, 5], 1, 5)), (0, 0, 4));
        // The notice of seq 4 lost between two pings is a gap, though the pings' counts are
        // consecutive.
        assert_eq!(counts(tally(&[1, 2, 3, 5], 1, 5)), (1, 0, 3));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut samples: Vec<i64> = (1..=100).rev().map(|ms| ms * 1000).collect();
        let latency = latency(&mut samples).expect("samples");
        assert_eq!(latency.p50_ms, 50.0);
        assert_eq!(latency.p99_ms, 99.0);
        assert_eq!(latency.max_ms, 100.0);
        assert_eq!(super::latency(&mut []), None);
        let one = super::latency(&mut [1500]).expect("one sample");
        assert_eq!((one.p50_ms, one.p99_ms, one.max_ms), (1.5, 1.5, 1.5));
    }
}
