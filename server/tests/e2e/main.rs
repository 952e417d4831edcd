//! The server serving the built frontend, driven through headless Chromium.
//!
//! Run with `just test-e2e`, or after `just build`:
//! `cargo test --workspace --exclude frontend --test e2e -- --ignored`. Every test is
//! `#[ignore]`d, so that `cargo test` builds the suite with the others (features unified as
//! theirs: `test-e2e` compiles nothing more) but runs it only when asked; the server under test
//! is the debug build beside the test binary, which a handful of browser tabs do not tell from
//! the release one. It needs `dist/` (from `trunk build --release`: the page whose weight the
//! transport test checks), Chromium and a matching chromedriver; `CHROME` and `CHROMEDRIVER` name
//! them when they are not `/usr/bin/chromium` and `/usr/bin/chromedriver`. With
//! `PINGSTREAM_SCREENSHOT=path.png` the live page is also saved as a picture.
//!
//! Every test starts its own server as a child process (so it can be killed with SIGKILL, or
//! stopped with SIGSTOP, and brought back on the same port), its own chromedriver and a fresh
//! browser profile, and waits for what the page shows by polling the DOM with a deadline (or, for
//! a state that may last only milliseconds, by reading what a recorder in the page saw). Where a
//! test must see or break the connections, the page reaches the server through [`proxy`].

mod latency;
mod notices;
mod private;
mod proxy;
mod recovery;
mod reload;
mod server;
mod sharing;
mod stalls;
mod streaming;
mod topics;
mod transport;
use test_support as support;
// The page in headless Chromium, shared with the recipes suite.
use support::browser;
