//! pingstream's browser app: a Yew page that follows the server's ping stream.
//!
//! Layout: [`hooks::use_ping_stream`] is the page's I/O: it owns the `EventSource`, the
//! [`tab_channel`] to the browser's other tabs, the [`tab_leader`] lock that picks the one tab
//! holding the stream, and [`session_store`]. It hands everything that happens to a pure
//! [`tab_role::TabRole`] (following another tab or holding the stream, with [`stall`] detection,
//! [`catch_up`] for a new tab, the [`recent_pings`] it resumes after, and [`backoff`]), which
//! answers with [`state::Action`]s and [`tab_message`]s. The pure reducer in [`state`] keeps the
//! status, the counters and a bounded list of recent pings and marks; [`App`] hands that state to
//! the pure [`components`].

pub mod app;
pub mod backoff;
pub mod catch_up;
pub mod components;
pub mod hooks;
pub mod recent_pings;
pub mod session_store;
pub mod stall;
pub mod state;
pub mod tab_channel;
pub mod tab_leader;
pub mod tab_message;
pub mod tab_role;

pub use app::{App, AppProps};
