//! pingstream's server: one ticker publishes a [`shared::Ping`] each period, a hub fans it out to
//! every open Server-Sent Events stream and keeps a bounded history for clients that resume, and
//! the same process serves the built frontend.
//!
//! # Layout
//! `ticker` → `hub` → `routes` (`GET /sse`) → browser. [`config`] holds the flags,
//! [`startup::Application`] wires everything and stops it; [`hub::Hub`] is the only shared
//! state, with its [`history`] and its [`client_slot`]s; [`subscription::Subscription`] is one
//! client's stream; [`heartbeat`] keeps silent streams visibly alive; [`metrics`] and `/healthz`
//! report on it. With `--redis-url`, [`cluster`] replaces the ticker: one replica ticks into a
//! Redis stream and every replica's hub is fed from it.

pub mod assets;
pub mod client_slot;
pub mod cluster;
pub mod config;
pub mod cors;
pub mod epoch;
pub mod heartbeat;
pub mod history;
pub mod hub;
pub mod metrics;
pub mod routes;
pub mod shutdown;
pub mod startup;
pub mod subscription;
pub mod telemetry;
pub mod ticker;
pub mod tls;
