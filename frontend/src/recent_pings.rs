//! The pings a tab has shown, as the browser delivered them: what it hands a new tab that asks,
//! what it keeps for a reload, and the id any new `EventSource` of it resumes after.
//!
//! Kept raw, beside the reducer's list rather than derived from it, so that every tab replays
//! them through the one decoder and the reducer does not need to know that tabs exist.

use std::collections::VecDeque;

use shared::EventId;

use crate::{state::MAX_ENTRIES, tab_message::RawPing};

/// The newest [`MAX_ENTRIES`] pings a tab applied, and the newest id among them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecentPings {
    /// Oldest first.
    pings: VecDeque<RawPing>,
    newest_id: Option<EventId>,
}

impl RecentPings {
    /// Keeps `ping`, which the tab just applied and whose id parsed as `id`, unless it repeats
    /// one already kept (the same stream, not newer); returns whether it was kept. A ping without
    /// a valid id is kept but leaves [`RecentPings::newest_id`] as it was.
    pub fn record(&mut self, ping: RawPing, id: Option<EventId>) -> bool {
        if let (Some(id), Some(newest)) = (id, self.newest_id)
            && id.epoch == newest.epoch
            && id.count <= newest.count
        {
            return false;
        }
        if id.is_some() {
            self.newest_id = id;
        }
        if self.pings.len() == MAX_ENTRIES {
            self.pings.pop_front();
        }
        self.pings.push_back(ping);
        true
    }

    /// The id a new `EventSource` resumes after: the newest valid one kept. After a restart of
    /// the server (a new epoch) that is the new run's, even though its count may be lower.
    pub fn newest_id(&self) -> Option<EventId> {
        self.newest_id
    }

    /// The pings kept, oldest first.
    pub fn to_vec(&self) -> Vec<RawPing> {
        self.pings.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use shared::Epoch;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn raw(epoch: &str, count: u64) -> RawPing {
        RawPing {
            data: format!(r#"{{"count":{count},"time":"2026-11-25T09:00:00.000Z"}}"#),
            id: format!("{epoch}-{count}"),
        }
    }

    /// Records `ping` as the tab does: with the id its decoding found.
    fn record(recent: &mut RecentPings, ping: RawPing) -> bool {
        let id = ping.id.parse().ok();
        recent.record(ping, id)
    }

    const A: &str = "00000000000000aa";
    const B: &str = "00000000000000bb";

    #[wasm_bindgen_test(unsupported = test)]
    fn keeps_the_newest_pings_oldest_first_and_resumes_after_the_last() {
        let mut recent = RecentPings::default();
        assert_eq!(recent.newest_id(), None);
        for count in 1..=(MAX_ENTRIES as u64 + 20) {
            assert!(record(&mut recent, raw(A, count)));
        }
        let kept = recent.to_vec();
        assert_eq!(kept.len(), MAX_ENTRIES);
        assert_eq!(kept[0], raw(A, 21));
        assert_eq!(kept[MAX_ENTRIES - 1], raw(A, MAX_ENTRIES as u64 + 20));
        assert_eq!(
            recent.newest_id(),
            Some(EventId {
                epoch: Epoch(0xaa),
                count: MAX_ENTRIES as u64 + 20
            })
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn repeats_of_the_same_stream_are_not_kept_twice() {
        let mut recent = RecentPings::default();
        assert!(record(&mut recent, raw(A, 5)));
        assert!(!record(&mut recent, raw(A, 5)));
        assert!(!record(&mut recent, raw(A, 3)));
        assert!(record(&mut recent, raw(A, 6)));
        assert_eq!(recent.to_vec(), [raw(A, 5), raw(A, 6)]);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_restarted_server_is_followed_although_its_counts_are_lower() {
        let mut recent = RecentPings::default();
        record(&mut recent, raw(A, 500));
        assert!(record(&mut recent, raw(B, 1)));
        assert_eq!(
            recent.newest_id(),
            Some(EventId {
                epoch: Epoch(0xbb),
                count: 1
            })
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_ping_without_a_valid_id_is_kept_but_not_resumed_after() {
        let mut recent = RecentPings::default();
        record(&mut recent, raw(A, 7));
        let anonymous = RawPing {
            data: raw(A, 8).data,
            id: "not an id".to_owned(),
        };
        assert!(record(&mut recent, anonymous.clone()));
        assert_eq!(recent.to_vec(), [raw(A, 7), anonymous]);
        assert_eq!(
            recent.newest_id(),
            Some(EventId {
                epoch: Epoch(0xaa),
                count: 7
            })
        );
    }
}
