//! The release server serving the built frontend, driven through headless Chromium.
//!
//! Run with `just test-e2e`, or after `just build`:
//! `cargo test --release -p server --features e2e --test e2e`. It needs `dist/` (from
//! `trunk build --release`), Chromium and a matching chromedriver; `CHROME` and `CHROMEDRIVER` name
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
