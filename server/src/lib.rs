//! pingstream's server: a stream of typed events (the app's [`shared::AppEvent`] set) over
//! Server-Sent Events. Its ticker publishes a [`shared::Ping`] each period, applications publish
//! their own events (a [`shared::Notice`]) with `POST /events/{name}`, a hub numbers them in one
//! sequence, fans them out to every open stream and keeps a bounded history for clients that
//! resume; the same process serves the built frontend.
//!
//! # Layout
//! `ticker` / `routes::publish` → [`publisher`] → [`stream`] (the engine: hub, history,
//! subscriptions; it names no app event) → `routes` (`GET /sse`) → browser. [`config`] holds the
//! flags, [`startup::Application`] wires everything and stops it; [`metrics`] and `/healthz`
//! report on it. With `--redis-url`, [`cluster`] puts the stream in Redis: every publish goes
//! into one Redis stream (one replica, elected by a lease, ticks), and every replica's hub
//! relays it.

pub mod access;
pub mod assets;
pub mod cluster;
pub mod config;
pub mod cors;
pub mod metrics;
pub mod publisher;
pub mod routes;
pub mod secret;
pub mod shutdown;
pub mod startup;
pub mod stream;
pub mod telemetry;
pub mod ticker;
pub mod tls;
