//! What the hook reports besides the feed: the connection, the browser's network, the countdown
//! to the next attempt and how many events were ignored as malformed. Pure: the hook applies each
//! [`StatusAction`] and re-renders its component only when something changed.

use crate::stream::{Connection, Moment};

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
    /// The connection is `connection`, at `now`: what the
    /// countdown counts from.
    Show {
        /// The state.
        connection: Connection,
        /// The time.
        now: Moment,
    },
    /// The browser's network state changed.
    Network {
        /// Whether it believes it has a network.
        online: bool,
    },
    /// One more event did not decode.
    Malformed,
}

impl StreamStatus {
    /// The status in a word, as the page's badge says it: the connection's state, or `offline`
    /// when the browser has no network and the stream is not open (a server on localhost still
    /// answers an offline browser).
    pub fn name(&self) -> &'static str {
        match self.connection {
            Connection::Live => "live",
            _ if !self.online => "offline",
            Connection::Connecting => "connecting",
            Connection::Stalled => "stalled",
            Connection::Reconnecting { .. } => "reconnecting",
            Connection::Closed => "closed",
        }
    }

    /// Applies `action`; returns whether anything changed (what re-renders the page).
    pub fn apply(&mut self, action: StatusAction) -> bool {
        let before = self.clone();
        match action {
            StatusAction::Show { connection, now } => {
                self.connection = connection;
                self.retry_in_secs = match connection {
                    Connection::Reconnecting { next_try: Some(at) } => {
                        Some((at.since(now) / 1000.0).ceil().max(0.0) as u32)
                    }
                    _ => None,
                };
            }
            StatusAction::Network { online } => self.online = online,
            StatusAction::Malformed => self.malformed += 1,
        }
        *self != before
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn run(actions: impl IntoIterator<Item = StatusAction>) -> StreamStatus {
        let mut status = StreamStatus::default();
        for action in actions {
            status.apply(action);
        }
        status
    }

    fn show(connection: Connection, now: f64) -> StatusAction {
        StatusAction::Show {
            connection,
            now: Moment::from_ms(now),
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn the_countdown_is_the_whole_seconds_left_until_the_next_try() {
        let waiting = Connection::Reconnecting {
            next_try: Some(Moment::from_ms(10_000.0)),
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
    fn only_a_change_re_renders() {
        let mut live = run([show(Connection::Live, 1.0)]);
        assert!(!live.apply(show(Connection::Live, 2.0)));
        assert!(live.apply(StatusAction::Malformed));
        assert!(live.apply(show(Connection::Stalled, 3.0)));
    }
}
