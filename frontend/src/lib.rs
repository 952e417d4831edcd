//! pingstream's browser app: a Yew page that follows the server's event stream.
//!
//! Layout: [`stream`] is the engine: [`stream::use_event_stream`] follows the stream for any
//! event set of `shared` (sharing one connection between the browser's tabs, detecting stalls,
//! resuming after the newest id) and hands the page a typed [`stream::Feed`] and a
//! [`stream::StreamStatus`]; it names no app event. The app: [`state`] is the pure reducer over
//! the feed of `shared::AppEvent` (the ping list, the notices, the [`latency`] figures), [`session`]
//! asks the server who the page is (what its tabs share streams under), and [`App`] hands that
//! state to the pure [`components`].

pub mod app;
pub mod components;
pub mod latency;
pub mod session;
pub mod state;
pub mod stream;

pub use app::{App, AppProps};
