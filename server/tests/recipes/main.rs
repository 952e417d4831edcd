//! The README's recipes that a person runs by hand, run for real through `just`: `just dev` (the
//! page from trunk, live through trunk's proxy, reloaded on an edit), `just run-tls` (with `just
//! cert`: HTTPS and the stream over HTTP/2), `just cluster` and `just cluster-ha` (two replicas
//! sharing one stream through Redis), and README's "Adding an event type" applied to a copy of the
//! workspace ([`add_event`]). Each runs on free ports and writes into a temporary folder
//! (the recipes' port and folder variables, README "Ports of the recipes"), so a copy a developer
//! is running is neither in the way nor disturbed, and is stopped as Ctrl-C stops it: SIGINT to
//! its whole process group. Then nothing of it may listen or run any more.
//!
//! Run with `just test-recipes` (last in `just test`, after `just build`), or
//! `cargo test --workspace --exclude frontend --test recipes -- --ignored`: every test is
//! `#[ignore]`d, so that `cargo test` builds the suite but runs it only when asked. It needs what
//! `just setup` installs: `just` and trunk (on `PATH`), Chromium and chromedriver (`CHROME`,
//! `CHROMEDRIVER`), redis-server. One recipe runs at a time.

mod add_event;
mod cluster;
mod dev;
mod recipe;
mod tls;
use test_support as support;
