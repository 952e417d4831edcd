//! The page's state as a pure reducer: everything the stream does arrives as an [`Action`].

use std::{collections::VecDeque, rc::Rc};

use shared::{Epoch, EventId, Ping};
use yew::Reducible;

/// How many list entries (pings and marks together) the page keeps. Older ones are dropped, so
/// memory and DOM stay bounded however long the page is open.
pub const MAX_ENTRIES: usize = 100;

/// What the status badge shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The page's first connection is being opened.
    Connecting,
    /// The stream is open.
    Live,
    /// The stream was lost and is being re-established.
    Reconnecting {
        /// Seconds until the hook's next attempt while it waits out its backoff; `None` while an
        /// attempt is under way (the browser's own retry, or a fresh `EventSource`).
        retry_in_secs: Option<u32>,
    },
    /// The browser reports no network and the stream is not open.
    Offline,
}

/// One row of the ping list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Unique for the page's lifetime: the row's Yew list key.
    pub key: u64,
    /// What the row shows.
    pub kind: EntryKind,
}

/// What a row of the ping list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A ping that arrived.
    Ping(Ping),
    /// Counts jumped: this many pings between the neighbouring rows never arrived.
    Gap {
        /// How many counts are missing.
        missed: u64,
    },
    /// The server restarted (its epoch changed or counts went back): counting starts over.
    Reset,
}

/// Everything that can happen to the page's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The `EventSource` is open (first connection or after any reconnect).
    Opened,
    /// A connection attempt is under way after the stream was lost.
    Reconnecting,
    /// The `EventSource` closed for good; the hook opens a new one in this many seconds.
    RetryIn(u32),
    /// The browser's network state changed (`navigator.onLine`, `online`/`offline` events).
    Network {
        /// Whether the browser believes it has a network.
        online: bool,
    },
    /// A ping event arrived.
    Received {
        /// Its payload.
        ping: Ping,
        /// Its `lastEventId`, if that was a valid [`EventId`].
        id: Option<EventId>,
    },
    /// A ping event arrived whose data is not a [`Ping`].
    Malformed,
}

/// Where the connection stands, before the browser's network state is taken into account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connection {
    Connecting,
    Live,
    Reconnecting { retry_in_secs: Option<u32> },
}

/// A ping as the next one is compared with it: the newest one shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Last {
    /// `None` when that ping's id was missing or malformed.
    epoch: Option<Epoch>,
    count: u64,
}

impl Last {
    /// `ping`, whose id parsed as `id`.
    pub fn new(ping: &Ping, id: Option<EventId>) -> Self {
        Self {
            epoch: id.map(|id| id.epoch),
            count: ping.count,
        }
    }
}

/// Whether `next` repeats a ping already shown, `last` being the newest one shown: of the same
/// stream (epoch) and not newer, or, with no epoch on either side to compare, of the same count.
/// The reducer drops such a ping, and a tab keeps only what it shows, by this one rule.
pub fn is_repeat(last: Option<Last>, next: Last) -> bool {
    let Some(last) = last else {
        return false;
    };
    match (last.epoch, next.epoch) {
        (Some(before), Some(now)) => before == now && next.count <= last.count,
        _ => next.count == last.count,
    }
}

/// The state behind the page: connection status, counters and the bounded list of recent rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamState {
    connection: Connection,
    online: bool,
    received: u64,
    malformed: u64,
    /// Newest first, at most [`MAX_ENTRIES`].
    entries: VecDeque<Entry>,
    next_key: u64,
    last: Option<Last>,
}

impl Default for StreamState {
    fn default() -> Self {
        Self {
            connection: Connection::Connecting,
            online: true,
            received: 0,
            malformed: 0,
            entries: VecDeque::with_capacity(MAX_ENTRIES),
            next_key: 0,
            last: None,
        }
    }
}

impl StreamState {
    /// What the status badge shows. An open stream is live even if the browser claims to be
    /// offline (a server on localhost still answers).
    pub fn status(&self) -> Status {
        match self.connection {
            Connection::Live => Status::Live,
            _ if !self.online => Status::Offline,
            Connection::Connecting => Status::Connecting,
            Connection::Reconnecting { retry_in_secs } => Status::Reconnecting { retry_in_secs },
        }
    }

    /// How many pings have been accepted since the page loaded (duplicates are not counted).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// How many ping events carried data that is not a [`Ping`].
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// The most recent rows, newest first; never more than [`MAX_ENTRIES`].
    pub fn entries(&self) -> &VecDeque<Entry> {
        &self.entries
    }

    fn push(&mut self, kind: EntryKind) {
        self.entries.push_front(Entry {
            key: self.next_key,
            kind,
        });
        self.next_key += 1;
        self.entries.truncate(MAX_ENTRIES);
    }

    /// Accepts `ping` unless it repeats one already shown; marks a gap or a restart before it.
    /// Returns whether anything changed.
    fn receive(&mut self, ping: Ping, id: Option<EventId>) -> bool {
        let next = Last::new(&ping, id);
        if is_repeat(self.last, next) {
            return false;
        }
        if let Some(last) = self.last {
            let restarted = match (last.epoch, next.epoch) {
                (Some(before), Some(now)) => before != now,
                // No epoch to compare: counts going back is all a restart looks like.
                _ => ping.count < last.count,
            };
            if restarted {
                self.push(EntryKind::Reset);
            } else if ping.count - last.count > 1 {
                // Not a repeat and not a restart: newer than the last one.
                self.push(EntryKind::Gap {
                    missed: ping.count - last.count - 1,
                });
            }
        }
        self.push(EntryKind::Ping(ping));
        self.received += 1;
        self.last = Some(next);
        true
    }
}

impl Reducible for StreamState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Self::Action) -> Rc<Self> {
        let mut next = (*self).clone();
        let changed = match action {
            Action::Opened => set(&mut next.connection, Connection::Live),
            Action::Reconnecting => set(
                &mut next.connection,
                Connection::Reconnecting {
                    retry_in_secs: None,
                },
            ),
            Action::RetryIn(secs) => set(
                &mut next.connection,
                Connection::Reconnecting {
                    retry_in_secs: Some(secs),
                },
            ),
            Action::Network { online } => set(&mut next.online, online),
            Action::Received { ping, id } => next.receive(ping, id),
            Action::Malformed => {
                next.malformed += 1;
                true
            }
        };
        // Returning the same `Rc` tells Yew there is nothing to re-render.
        if changed { Rc::new(next) } else { self }
    }
}

/// Sets `slot` to `value`; returns whether that changed it.
fn set<T: PartialEq>(slot: &mut T, value: T) -> bool {
    let changed = *slot != value;
    *slot = value;
    changed
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    use super::*;

    wasm_bindgen_test_configure!(run_in_browser);

    const EPOCH: Epoch = Epoch(0x9f3c_2a1b_7d4e_5f60);

    fn ping(count: u64) -> Ping {
        let time = DateTime::<Utc>::from_timestamp(1_795_424_400 + count as i64, 0).unwrap();
        Ping { count, time }
    }

    fn received(epoch: Epoch, count: u64) -> Action {
        Action::Received {
            ping: ping(count),
            id: Some(EventId { epoch, count }),
        }
    }

    fn run(actions: impl IntoIterator<Item = Action>) -> Rc<StreamState> {
        actions
            .into_iter()
            .fold(Rc::new(StreamState::default()), StreamState::reduce)
    }

    /// The list, oldest first, in a form that reads well in assertions.
    fn rows(state: &StreamState) -> Vec<String> {
        let row = |entry: &Entry| match entry.kind {
            EntryKind::Ping(ping) => format!("#{}", ping.count),
            EntryKind::Gap { missed } => format!("missed {missed}"),
            EntryKind::Reset => "reset".to_owned(),
        };
        state.entries().iter().rev().map(row).collect()
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn consecutive_pings_are_listed_newest_first_without_marks() {
        let state = run((41..=43).map(|count| received(EPOCH, count)));
        assert_eq!(rows(&state), ["#41", "#42", "#43"]);
        assert_eq!(state.received(), 3);
        assert!(matches!(
            state.entries()[0].kind,
            EntryKind::Ping(Ping { count: 43, .. })
        ));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn the_first_ping_is_not_a_gap_whatever_its_count() {
        let state = run([received(EPOCH, 5000)]);
        assert_eq!(rows(&state), ["#5000"]);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_jump_in_counts_is_marked_with_how_many_were_missed() {
        let state = run([received(EPOCH, 1), received(EPOCH, 5), received(EPOCH, 6)]);
        assert_eq!(rows(&state), ["#1", "missed 3", "#5", "#6"]);
        assert_eq!(state.received(), 3);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_new_epoch_is_marked_as_a_reset_even_when_counts_go_up() {
        let state = run([received(EPOCH, 7), received(Epoch(EPOCH.0 + 1), 9)]);
        assert_eq!(rows(&state), ["#7", "reset", "#9"]);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn counts_going_back_without_ids_are_marked_as_a_reset() {
        let no_id = |count| Action::Received {
            ping: ping(count),
            id: None,
        };
        let state = run([no_id(7), no_id(8), no_id(1), no_id(3)]);
        assert_eq!(rows(&state), ["#7", "#8", "reset", "#1", "missed 1", "#3"]);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn replayed_pings_of_the_same_epoch_are_dropped() {
        let before = run([received(EPOCH, 7), received(EPOCH, 8)]);
        let after = StreamState::reduce(Rc::clone(&before), received(EPOCH, 8));
        assert!(
            Rc::ptr_eq(&before, &after),
            "a duplicate must not even re-render"
        );
        let after = StreamState::reduce(after, received(EPOCH, 3));
        assert_eq!(rows(&after), ["#7", "#8"]);
        assert_eq!(after.received(), 2);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn the_list_stays_bounded_however_many_pings_arrive() {
        // Every other count is skipped, so half the rows are gap marks: marks are bounded too.
        let state = run((1..=200_000).step_by(2).map(|count| received(EPOCH, count)));
        assert_eq!(state.entries().len(), MAX_ENTRIES);
        assert_eq!(state.received(), 100_000);
        assert!(matches!(
            state.entries()[0].kind,
            EntryKind::Ping(Ping { count: 199_999, .. })
        ));
        assert_eq!(state.entries()[1].kind, EntryKind::Gap { missed: 1 });
        assert_eq!(
            state.entries()[MAX_ENTRIES - 1].key,
            2 * 100_000 - MAX_ENTRIES as u64 - 1
        );
        let keys: Vec<u64> = state.entries().iter().map(|entry| entry.key).collect();
        assert!(
            keys.windows(2).all(|pair| pair[0] > pair[1]),
            "keys are unique, newest first"
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn malformed_data_is_counted_not_listed() {
        let state = run([received(EPOCH, 1), Action::Malformed, Action::Malformed]);
        assert_eq!(state.malformed(), 2);
        assert_eq!(state.received(), 1);
        assert_eq!(rows(&state), ["#1"]);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn status_follows_the_connection_and_the_network() {
        let status = |actions: Vec<Action>| run(actions).status();
        assert_eq!(status(vec![]), Status::Connecting);
        assert_eq!(status(vec![Action::Opened]), Status::Live);
        assert_eq!(
            status(vec![Action::Opened, Action::Reconnecting]),
            Status::Reconnecting {
                retry_in_secs: None
            }
        );
        assert_eq!(
            status(vec![Action::Opened, Action::RetryIn(4), Action::RetryIn(3)]),
            Status::Reconnecting {
                retry_in_secs: Some(3)
            }
        );
        assert_eq!(
            status(vec![Action::RetryIn(3), Action::Opened]),
            Status::Live
        );
        let offline = Action::Network { online: false };
        assert_eq!(
            status(vec![Action::RetryIn(3), offline.clone()]),
            Status::Offline
        );
        assert_eq!(status(vec![Action::Opened, offline.clone()]), Status::Live);
        assert_eq!(
            status(vec![
                offline,
                Action::RetryIn(2),
                Action::Network { online: true }
            ]),
            Status::Reconnecting {
                retry_in_secs: Some(2)
            }
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn unchanged_status_does_not_re_render() {
        let live = run([Action::Opened]);
        assert!(Rc::ptr_eq(
            &live,
            &StreamState::reduce(Rc::clone(&live), Action::Opened)
        ));
    }
}
