//! What the hook reports besides the feed: the connection, the browser's network, the countdown
//! to the next attempt and how many events were ignored as malformed. A pure reducer.

use std::rc::Rc;

use yew::Reducible;

use crate::stream::Connection;

/// The stream's state as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamStatus {
    /// Where the connection stands (the leader tab's, in a tab that follows it).
    pub connection: Connection,
    /// Whether the browser believes it has a network (`navigator.onLine`).
    pub online: bool,
    /// Whole seconds until the next attempt, while one is waited for.
    pub retry_in_secs: Option<u32>,
    /// Events whose data did not decode as the event their name says.
    pub malformed: u64,
}

impl Default for StreamStatus {
    fn default() -> Self {
        Self {
            connection: Connection::Connecting,
            online: true,
            retry_in_secs: None,
            malformed: 0,
        }
    }
}

/// Everything that changes a [`StreamStatus`].
#[derive(Debug, Clone, PartialEq)]
pub enum StatusAction {
    /// The connection is `connection`, at `now` (milliseconds since the Unix epoch): what the
    /// countdown counts from.
    Show {
        /// The state.
        connection: Connection,
        /// The time.
        now: f64,
    },
    /// The browser's network state changed.
    Network {
        /// Whether it believes it has a network.
        online: bool,
    },
    /// One more event did not decode.
    Malformed,
}

impl Reducible for StreamStatus {
    type Action = StatusAction;

    fn reduce(self: Rc<Self>, action: Self::Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            StatusAction::Show { connection, now } => {
                next.connection = connection;
                next.retry_in_secs = match connection {
                    Connection::Reconnecting { next_try: Some(at) } => {
                        Some(((at - now) / 1000.0).ceil().max(0.0) as u32)
                    }
                    _ => None,
                };
            }
            StatusAction::Network { online } => next.online = online,
            StatusAction::Malformed => next.malformed += 1,
        }
        // The same `Rc` tells Yew there is nothing to re-render.
        if next == *self { self } else { Rc::new(next) }
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn run(actions: impl IntoIterator<Item = StatusAction>) -> Rc<StreamStatus> {
        actions
            .into_iter()
            .fold(Rc::new(StreamStatus::default()), StreamStatus::reduce)
    }

    fn show(connection: Connection, now: f64) -> StatusAction {
        StatusAction::Show { connection, now }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn the_countdown_is_the_whole_seconds_left_until_the_next_try() {
        let waiting = Connection::Reconnecting {
            next_try: Some(10_000.0),
        };
        for (now, secs) in [
            (7_500.0, 3),
            (9_000.0, 1),
            (9_999.0, 1),
            (10_000.0, 0),
            (12_000.0, 0),
        ] {
            assert_eq!(run([show(waiting, now)]).retry_in_secs, Some(secs), "{now}");
        }
        let after = run([show(waiting, 7_500.0), show(Connection::Live, 8_000.0)]);
        assert_eq!(after.retry_in_secs, None);
        assert_eq!(after.connection, Connection::Live);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn malformed_events_and_the_network_are_counted_and_kept() {
        let status = run([
            StatusAction::Malformed,
            StatusAction::Network { online: false },
            StatusAction::Malformed,
        ]);
        assert_eq!(status.malformed, 2);
        assert!(!status.online);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn nothing_new_does_not_re_render() {
        let live = run([show(Connection::Live, 1.0)]);
        assert!(Rc::ptr_eq(
            &live,
            &StreamStatus::reduce(Rc::clone(&live), show(Connection::Live, 2.0))
        ));
    }
}
