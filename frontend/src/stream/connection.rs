//! The connection's one state machine: where the stream stands, whichever tab holds it. The tab
//! holding the stream moves it with [`Signal`]s and tells the other tabs every new state; they show
//! it as theirs. What the stream carried (events, gaps, resets) is the feed's business, not this.

use crate::stream::Moment;

/// Where the stream's connection stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Connection {
    /// The page's first attempt is under way.
    Connecting,
    /// The stream is open.
    Live,
    /// Nothing arrived for longer than the server's timing allows: the stream is taken for dead
    /// and a fresh one is being opened.
    Stalled,
    /// The stream was lost and is being re-established.
    Reconnecting {
        /// When the next attempt opens (by the wall clock, the same in every tab); `None` while an attempt is under way (the browser's own retry, or a fresh
        /// `EventSource`).
        next_try: Option<Moment>,
    },
    /// The server gave an answer no retry can change ([`is_final`]): no more attempts until the
    /// page is loaded again.
    Closed,
}

/// What happens to a connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    /// The `EventSource` opened (or, to a tab following another, an event was relayed).
    Opened,
    /// The connection was lost and the browser retries by itself.
    Dropped,
    /// Nothing arrived for longer than the stall budget.
    Silent,
    /// The browser gave up after an answer worth retrying; the next attempt opens at `next_try`.
    GaveUp {
        /// When.
        next_try: Moment,
    },
    /// The browser gave up after a final answer.
    Refused,
    /// A new attempt starts: the wait is over, the browser is online again, or this tab takes
    /// the stream over from another.
    Retrying,
}

impl Connection {
    /// The state after `signal`.
    pub fn next(self, signal: Signal) -> Self {
        use Connection::{Closed, Connecting, Live, Reconnecting, Stalled};
        match (self, signal) {
            (Closed, _) | (_, Signal::Refused) => Closed,
            (_, Signal::Opened) => Live,
            (_, Signal::Dropped) => Reconnecting { next_try: None },
            (_, Signal::GaveUp { next_try }) => Reconnecting {
                next_try: Some(next_try),
            },
            // Waiting out a backoff is not silence.
            (Reconnecting { next_try: Some(_) }, Signal::Silent) => self,
            (_, Signal::Silent) => Stalled,
            // Only a page's very first attempt is connecting; a stall's replacement stays stalled
            // until it opens; any other attempt resumes a stream.
            (Connecting | Stalled, Signal::Retrying) => self,
            (Live | Reconnecting { .. }, Signal::Retrying) => Reconnecting { next_try: None },
        }
    }

    /// Whether an attempt is under way (or the stream is open): neither waiting nor closed.
    pub fn is_attempting(self) -> bool {
        !matches!(
            self,
            Self::Reconnecting { next_try: Some(_) } | Self::Closed
        )
    }
}

/// Whether an HTTP answer `status` to the stream's request is final: `204 No Content` (what the
/// SSE specification has a server answer to stop a client reconnecting) or a client error other
/// than `408`, `425` and `429`, which asks for the same request to be sent again later. Every other
/// answer (a `503` at the server's connection cap, a `502` from a proxy while the server
/// restarts, a network error, an unknown status `0`) is worth retrying.
pub fn is_final(status: u16) -> bool {
    status == 204 || ((400..500).contains(&status) && ![408, 425, 429].contains(&status))
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::{
        Connection::{self, Closed, Connecting, Live, Reconnecting, Stalled},
        Moment,
        Signal::{self, Dropped, GaveUp, Opened, Refused, Retrying, Silent},
        is_final,
    };

    const AT: Moment = Moment::from_micros(5_000_000);
    const WAITING: Connection = Reconnecting { next_try: Some(AT) };
    const RETRYING: Connection = Reconnecting { next_try: None };
    const GAVE_UP: Signal = GaveUp { next_try: AT };

    #[wasm_bindgen_test(unsupported = test)]
    fn every_transition_of_the_table() {
        #[rustfmt::skip]
        let table = [
            // from        signal     to
            (Connecting,   Opened,    Live),
            (Connecting,   Dropped,   RETRYING),
            (Connecting,   Silent,    Stalled),
            (Connecting,   GAVE_UP,   WAITING),
            (Connecting,   Refused,   Closed),
            (Connecting,   Retrying,  Connecting),
            (Live,         Opened,    Live),
            (Live,         Dropped,   RETRYING),
            (Live,         Silent,    Stalled),
            (Live,         GAVE_UP,   WAITING),
            (Live,         Refused,   Closed),
            (Live,         Retrying,  RETRYING),
            (Stalled,      Opened,    Live),
            (Stalled,      Dropped,   RETRYING),
            (Stalled,      Silent,    Stalled),
            (Stalled,      GAVE_UP,   WAITING),
            (Stalled,      Refused,   Closed),
            (Stalled,      Retrying,  Stalled),
            (RETRYING,     Opened,    Live),
            (RETRYING,     Dropped,   RETRYING),
            (RETRYING,     Silent,    Stalled),
            (RETRYING,     GAVE_UP,   WAITING),
            (RETRYING,     Refused,   Closed),
            (RETRYING,     Retrying,  RETRYING),
            (WAITING,      Opened,    Live),
            (WAITING,      Dropped,   RETRYING),
            (WAITING,      Silent,    WAITING),
            (WAITING,      GaveUp { next_try: AT.after(1.0) }, Reconnecting { next_try: Some(AT.after(1.0)) }),
            (WAITING,      Refused,   Closed),
            (WAITING,      Retrying,  RETRYING),
            (Closed,       Opened,    Closed),
            (Closed,       Dropped,   Closed),
            (Closed,       Silent,    Closed),
            (Closed,       GAVE_UP,   Closed),
            (Closed,       Refused,   Closed),
            (Closed,       Retrying,  Closed),
        ];
        for (from, signal, to) in table {
            assert_eq!(from.next(signal), to, "{from:?} on {signal:?}");
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn only_a_wait_and_the_end_have_no_attempt_under_way() {
        for (state, attempting) in [
            (Connecting, true),
            (Live, true),
            (Stalled, true),
            (RETRYING, true),
            (WAITING, false),
            (Closed, false),
        ] {
            assert_eq!(state.is_attempting(), attempting, "{state:?}");
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn only_no_content_and_lasting_client_errors_are_final() {
        for status in [204, 400, 401, 403, 404, 405, 406, 410, 415, 451, 499] {
            assert!(is_final(status), "{status}");
        }
        for status in [0, 200, 301, 408, 425, 429, 500, 502, 503, 504] {
            assert!(!is_final(status), "{status}");
        }
    }
}
