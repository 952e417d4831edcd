//! What the server's test suites share, written once: the `server` binary as a child process and
//! port finding ([`server_process`]), a running server's HTTP API with one method per endpoint
//! and a spec-following stream reader ([`app`]), waiting with a deadline ([`wait`]), and a raw
//! stream client cheap enough to run thousands of ([`raw_stream`]), TLS: a test certificate,
//! clients that trust it, raw HTTP/2 connections ([`tls`]), and the page in headless Chromium
//! ([`browser`]).
//!
//! A dev-only crate of the workspace: each of the server's test binaries (`api`, `soak`, `e2e`,
//! `recipes`) depends on it and names it `support` (`use test_support as support;`), as
//! zero2prod's `tests/api/helpers.rs` is shared, without copying or `#[path]` includes.

pub mod app;
pub mod browser;
pub mod raw_stream;
pub mod server_process;
pub mod tls;
pub mod wait;

/// Texts that are not event ids, one per way to miss the format: the contract's own table
/// (defined once, in `shared`), for the suites' `Last-Event-ID` tests.
pub use shared::MALFORMED_EVENT_IDS;

// The names the suites use most, at the top.
pub use {
    app::{
        Received, ResumeFrom, SseClient, TestApp, accepted_id, accepted_stamp, assert_consecutive,
        read_raw_until,
    },
    server_process::{ServerProcess, free_port},
    wait::eventually,
};
