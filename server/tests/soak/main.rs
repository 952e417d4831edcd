//! The fault suite: the real `server` binary as a child process, put under churn, slow clients,
//! SIGKILL, SIGTERM under load and a connection burst, and held to its memory per idle stream,
//! with its memory and file descriptors read from `/proc`.
//!
//! Small by default, so `cargo test` (and `just test`) runs it in well under a minute;
//! `PINGSTREAM_SOAK=full` (`just soak`) runs it at production-like sizes (10,000 streams, 20,000
//! connect cycles, 1,000 clients across a crash). Every test prints its figures as `[soak] ...`
//! lines on stderr, past the test harness's capture, and the tests run one at a time so that one's
//! load does not skew another's figures.

mod cap;
mod churn;
mod crash_restart;
mod crowd;
mod memory;
mod shutdown_under_load;
mod slow_clients;
use test_support as support;

use std::{
    io::Write,
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use tokio::sync::{Mutex, MutexGuard};

use crate::support::eventually;

/// How big the runs are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// The default: the same tests, small enough for every `just test`.
    Quick,
    /// `PINGSTREAM_SOAK=full`: production-like sizes, for the figures of RELIABILITY.md.
    Full,
}

impl Scale {
    /// The scale `PINGSTREAM_SOAK` asks for.
    pub fn get() -> Self {
        match std::env::var("PINGSTREAM_SOAK").as_deref() {
            Ok("full") => Self::Full,
            _ => Self::Quick,
        }
    }

    /// `quick` or `full`, whichever this run is.
    pub fn pick<T>(self, quick: T, full: T) -> T {
        match self {
            Self::Quick => quick,
            Self::Full => full,
        }
    }
}

/// One test at a time: each measures a server's memory, descriptors and latency, which another
/// test's load would distort.
static SERIAL: Mutex<()> = Mutex::const_new(());

/// Takes the suite's turn and raises this process's descriptor limit to its hard limit (the
/// servers it starts inherit it).
pub async fn serial() -> MutexGuard<'static, ()> {
    let guard = SERIAL.lock().await;
    rlimit::increase_nofile_limit(u64::MAX).expect("the descriptor limit can be raised");
    guard
}

/// Prints one figure line on the real stderr, so it shows even when the harness captures output.
pub fn figure(test: &str, text: &str) {
    let scale = Scale::get().pick("quick", "full");
    let line = format!("[soak {scale}] {test}: {text}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Mebibytes from KiB, for figures.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Polls `count`, which client tasks raise as they get somewhere (a stream open, a first ping),
/// until it reaches `target`: how long that took, or, past `deadline`, how far it got. Each
/// caller panics with its own words for what was counted.
pub async fn until_count(
    count: &AtomicUsize,
    target: usize,
    deadline: Duration,
) -> Result<Duration, usize> {
    let started = Instant::now();
    eventually(deadline, async || match count.load(Ordering::Relaxed) {
        got if got >= target => Ok(started.elapsed()),
        got => Err(got),
    })
    .await
}
