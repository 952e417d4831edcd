//! The engine: follows a Server-Sent Events stream for any [`shared::EventSet`] and hands the page
//! a typed [`Feed`] and a [`StreamStatus`]. It names no app event: adding an event to the set in
//! `shared` adds its listener, its relay between tabs and its decoding here without a change.
//!
//! Layout: [`use_event_stream`] (in [`hook`]) is the only code that touches the browser: the
//! `EventSource` (one listener per name of the set), the [`tab_channel`] to the browser's other
//! tabs, the [`tab_leader`] lock that picks the one tab holding the stream, and
//! [`session_store`]. It hands everything that happens to a pure [`tab_role::TabRole`], which
//! follows another tab or holds the stream itself, watches it for [`stall`]s, catches a new tab up
//! ([`catch_up`]), keeps the [`recent`] events it resumes after, backs off ([`backoff`]) and moves
//! the one [`connection`] state machine; every time it passes around is a [`moment::Moment`].
//! Events travel raw ([`raw_event`]) and are judged by their
//! ids alone ([`feed`]) before they are decoded into the set's type.

pub mod backoff;
pub mod catch_up;
pub mod connection;
pub mod feed;
pub mod hook;
pub mod moment;
pub mod raw_event;
pub mod recent;
pub mod session_store;
pub mod stall;
pub mod status;
pub mod tab_channel;
pub mod tab_leader;
pub mod tab_message;
pub mod tab_role;

pub use connection::Connection;
pub use feed::Feed;
pub use hook::use_event_stream;
pub use moment::Moment;
pub use status::StreamStatus;
