//! How a stream starts, told in-band: with topics, holes in the run's `seq` are normal (other
//! topics' events), so a client cannot tell a resume that lost events from one that did not by
//! the ids; the server says it in the stream's first event, which EventSource can read (it
//! cannot read response headers).

use serde::{Deserialize, Serialize};

/// What the first event of a stream (the opening heartbeat, [`crate::Timing::start`]) says
/// about the events that follow it.
///
/// # Examples
/// ```
/// use shared::Start;
///
/// assert_eq!(serde_json::to_string(&Start::Exact).unwrap(), r#""exact""#);
/// assert_eq!(serde_json::from_str::<Start>(r#""reset""#).unwrap(), Start::Reset);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Start {
    /// No cursor: the stream starts at the newest matching event, then live.
    Fresh,
    /// Every matching event after the client's cursor follows, in order, then live: nothing
    /// was lost.
    Exact,
    /// The cursor is older than the server's history, of another run (a restart, a failover)
    /// or unknown: what follows is every matching event the server still has, and events may
    /// have been lost in between. A page shows a reset mark.
    Reset,
}
