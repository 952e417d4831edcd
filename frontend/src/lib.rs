//! pingstream's browser app: a Yew page that follows the server's ping stream.
//!
//! Layout: [`hooks::use_ping_stream`] owns the `EventSource` and turns what it does into
//! [`state::Action`]s; the pure reducer in [`state`] keeps the status, the counters and a bounded
//! list of recent pings and marks; [`App`] hands that state to the pure [`components`].

pub mod app;
pub mod backoff;
pub mod catch_up;
pub mod components;
pub mod hooks;
pub mod recent_pings;
pub mod stall;
pub mod state;
pub mod tab_message;
pub mod tab_role;

pub use app::{App, AppProps};
