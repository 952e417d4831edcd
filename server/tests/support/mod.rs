//! What the server's test suites share, written once: the `server` binary as a child process and
//! port finding ([`server_process`]), a running server's HTTP API with one method per endpoint
//! and a spec-following stream reader ([`app`]), waiting with a deadline ([`wait`]), and a raw
//! stream client cheap enough to run thousands of ([`raw_stream`]), and TLS: a test certificate,
//! clients that trust it, raw HTTP/2 connections ([`tls`]).
//!
//! Each test binary (`api`, `soak`, `e2e`) declares it once, as
//! `#[path = "../support/mod.rs"] mod support;`, and uses the part it needs.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the support"
)]

pub mod app;
pub mod raw_stream;
pub mod server_process;
pub mod tls;
pub mod wait;

// The names the suites use most, at the top.
#[allow(
    unused_imports,
    reason = "each test binary uses a different part of the support"
)]
pub use {
    app::{Received, ResumeFrom, SseClient, TestApp, assert_consecutive, read_raw_until},
    server_process::{ServerProcess, free_port},
    wait::eventually,
};
