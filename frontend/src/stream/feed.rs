//! The typed feed a page gets from the stream: each new event, decoded, and a mark wherever
//! events were missed or the stream started over. Which is which is judged from the events' ids
//! alone, never from what they carry: the same id twice is a repeat, a `seq` that jumps is a gap,
//! a new epoch is a reset.

use shared::EventId;

/// One item of the feed, in the order the stream carried them.
#[derive(Debug, Clone, PartialEq)]
pub enum Feed<E> {
    /// A new event of the set.
    Event {
        /// The event.
        event: E,
        /// Its id; `None` if the server sent none that parses.
        id: Option<EventId>,
        /// When the tab holding the stream received it, in milliseconds since the Unix epoch.
        arrived: f64,
    },
    /// This many events of the stream (of any name) never arrived before the next one.
    Gap {
        /// How many.
        missed: u64,
    },
    /// The stream started over (the server restarted: a new epoch); what follows is a new run.
    Reset,
}

/// How an event's id compares with the newest id before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Of the same run and not newer: already shown, drop it.
    Repeat,
    /// The next one (or one that cannot be judged: either id is missing).
    Next,
    /// Newer, with this many events of the run missed before it.
    Gap(u64),
    /// Of another run.
    Reset,
}

/// Judges `next` against `last`, the newest valid id shown before it.
pub fn judge(last: Option<EventId>, next: Option<EventId>) -> Verdict {
    let (Some(last), Some(next)) = (last, next) else {
        return Verdict::Next;
    };
    if last.epoch != next.epoch {
        Verdict::Reset
    } else if next.seq <= last.seq {
        Verdict::Repeat
    } else if next.seq - last.seq > 1 {
        Verdict::Gap(next.seq - last.seq - 1)
    } else {
        Verdict::Next
    }
}

#[cfg(test)]
mod tests {
    use shared::Epoch;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn id(epoch: u64, seq: u64) -> Option<EventId> {
        Some(EventId {
            epoch: Epoch(epoch),
            seq,
        })
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn ids_alone_tell_a_repeat_a_gap_and_a_reset() {
        for (last, next, verdict) in [
            (None, id(1, 7), Verdict::Next),
            (id(1, 7), id(1, 8), Verdict::Next),
            (id(1, 7), id(1, 7), Verdict::Repeat),
            (id(1, 7), id(1, 3), Verdict::Repeat),
            (id(1, 7), id(1, 11), Verdict::Gap(3)),
            (id(1, 7), id(2, 1), Verdict::Reset),
            (id(1, 7), id(2, 500), Verdict::Reset),
            (id(1, 7), None, Verdict::Next),
            (id(1, u64::MAX - 1), id(1, u64::MAX), Verdict::Next),
            (id(1, 0), id(1, u64::MAX), Verdict::Gap(u64::MAX - 1)),
        ] {
            assert_eq!(judge(last, next), verdict, "{last:?} then {next:?}");
        }
    }
}
