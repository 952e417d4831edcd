//! Turning what each client received into gaps, duplicates, delivered events and latency
//! percentiles. Pure functions over plain data, so every rule here is unit-tested.

use serde::{Deserialize, Serialize};

/// One event as a client received it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// `Ping.count`.
    pub count: u64,
    /// Receive wall clock minus `Ping.time`, in microseconds. `Ping.time` has millisecond
    /// precision (truncated), so this reads up to 1 ms high.
    pub latency_us: i64,
}

/// What one client's events add up to over `(from, to]`, the measured counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientTally {
    /// Counts missing between the first event the client received and `to`: skipped ones, and
    /// the ones never received because the stream stalled or ended early.
    pub gaps: u64,
    /// Events whose count was not above the previous one (repeats or reordering).
    pub dups: u64,
    /// Distinct events received in `(from, to]`.
    pub delivered: u64,
}

/// Tallies one client's events, in arrival order, up to count `to`; `(from, to]` are measured,
/// and the latency of each event delivered there is appended to `latencies_us`. A client that
/// received nothing has no gaps (it never connected: that is an error elsewhere).
pub fn tally_client(
    events: &[Received],
    from: u64,
    to: u64,
    latencies_us: &mut Vec<i64>,
) -> ClientTally {
    let mut tally = ClientTally::default();
    let mut last: Option<u64> = None;
    for event in events.iter().filter(|event| event.count <= to) {
        let advanced = match last {
            Some(prev) if event.count <= prev => {
                tally.dups += 1;
                false
            }
            Some(prev) => {
                tally.gaps += event.count - prev - 1;
                true
            }
            None => true,
        };
        if advanced {
            last = Some(event.count);
            if event.count > from {
                tally.delivered += 1;
                latencies_us.push(event.latency_us);
            }
        }
    }
    if let Some(prev) = last {
        tally.gaps += to.saturating_sub(prev);
    }
    tally
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

    fn events(counts: &[u64]) -> Vec<Received> {
        counts
            .iter()
            .map(|&count| Received {
                count,
                latency_us: 0,
            })
            .collect()
    }

    #[test]
    fn an_unbroken_stream_has_no_gaps_and_delivers_the_window() {
        let tally = tally_client(&events(&[3, 4, 5, 6, 7, 8]), 5, 8, &mut Vec::new());
        assert_eq!(
            tally,
            ClientTally {
                gaps: 0,
                dups: 0,
                delivered: 3
            }
        );
    }

    #[test]
    fn skipped_and_missing_tail_counts_are_gaps() {
        // 5 skipped before the window, 7 skipped inside it, 9 and 10 never arrived.
        let tally = tally_client(&events(&[3, 4, 6, 8]), 5, 10, &mut Vec::new());
        assert_eq!(
            tally,
            ClientTally {
                gaps: 4,
                dups: 0,
                delivered: 2
            }
        );
    }

    #[test]
    fn repeats_and_reordering_are_duplicates_and_deliver_once() {
        let tally = tally_client(&events(&[5, 6, 6, 5, 7, 7]), 5, 7, &mut Vec::new());
        assert_eq!(
            tally,
            ClientTally {
                gaps: 0,
                dups: 3,
                delivered: 2
            }
        );
    }

    #[test]
    fn events_after_the_window_are_ignored_and_no_events_means_no_tally() {
        let tally = tally_client(&events(&[5, 6, 7, 8, 12]), 5, 7, &mut Vec::new());
        assert_eq!(tally.gaps, 0);
        assert_eq!(tally.delivered, 2);
        assert_eq!(
            tally_client(&[], 5, 7, &mut Vec::new()),
            ClientTally::default()
        );
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
