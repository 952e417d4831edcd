//! The pings a tab has shown, as the browser delivered them: what it hands a new tab that asks,
//! what it keeps for a reload, and the id any new `EventSource` of it resumes after.
//!
//! Kept raw, beside the reducer's list rather than derived from it, so that every tab replays
//! them through the one decoder and the reducer does not need to know that tabs exist.

use std::collections::VecDeque;

use shared::{EventId, Ping};

use crate::{
    state::{self, Last, MAX_ENTRIES},
    tab_message::RawPing,
};

/// The newest [`MAX_ENTRIES`] pings a tab showed, and the newest id among them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecentPings {
    /// Oldest first.
    pings: VecDeque<RawPing>,
    /// The newest one kept, to tell a repeat by.
    last: Option<Last>,
    newest_id: Option<EventId>,
}

impl RecentPings {
    /// Keeps `raw`, which decoded as `ping` with the id `id`, unless it repeats one already kept
    /// by the rule the reducer drops repeats by ([`state::is_repeat`]); returns whether it was
    /// kept, which is whether the page shows it. A ping without a valid id leaves
    /// [`RecentPings::newest_id`] as it was.
    pub fn record(&mut self, raw: RawPing, ping: &Ping, id: Option<EventId>) -> bool {
        let next = Last::new(ping, id);
        if state::is_repeat(self.last, next) {
            return false;
        }
        self.last = Some(next);
        if id.is_some() {
            self.newest_id = id;
        }
        if self.pings.len() == MAX_ENTRIES {
            self.pings.pop_front();
        }
        self.pings.push_back(raw);
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
    use std::rc::Rc;

    use shared::Epoch;
    use wasm_bindgen_test::wasm_bindgen_test;
    use yew::Reducible;

    use super::*;
    use crate::state::{Action, EntryKind, StreamState};

    fn raw(epoch: &str, count: u64) -> RawPing {
        RawPing::example(epoch, count)
    }

    fn anonymous(id: &str, count: u64) -> RawPing {
        RawPing {
            id: id.to_owned(),
            ..raw(A, count)
        }
    }

    /// Records `raw` as the tab does: with the ping and the id its decoding found.
    fn record(recent: &mut RecentPings, raw: RawPing) -> bool {
        let (ping, id) = raw.decode().expect("a valid ping");
        recent.record(raw, &ping, id)
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
        let anonymous = anonymous("not an id", 8);
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

    #[wasm_bindgen_test(unsupported = test)]
    fn keeps_exactly_the_pings_the_reducer_shows() {
        let pings = [
            raw(A, 1),
            raw(A, 2),
            raw(A, 2),
            anonymous("", 3),
            anonymous("", 3),
            raw(A, 3),
            raw(A, 5),
            raw(A, 4),
            raw(B, 1),
            anonymous("", 1),
            anonymous("not an id", 0),
            raw(B, 0),
            raw(B, 2),
        ];
        let mut recent = RecentPings::default();
        let mut state = Rc::new(StreamState::default());
        for ping in pings {
            let (decoded, id) = ping.decode().expect("a valid ping");
            let before = Rc::clone(&state);
            state = StreamState::reduce(state, Action::Received { ping: decoded, id });
            let shown = !Rc::ptr_eq(&before, &state);
            assert_eq!(record(&mut recent, ping.clone()), shown, "{ping:?}");
        }
        let kept: Vec<u64> = recent
            .to_vec()
            .iter()
            .map(|raw| {
                serde_json::from_str::<Ping>(&raw.data)
                    .expect("a ping")
                    .count
            })
            .collect();
        let listed: Vec<u64> = state
            .entries()
            .iter()
            .rev()
            .filter_map(|entry| match entry.kind {
                EntryKind::Ping(ping) => Some(ping.count),
                _ => None,
            })
            .collect();
        assert_eq!(kept, listed);
        assert_eq!(kept, [1, 2, 3, 5, 1, 0, 2]);
    }
}
