//! The release server serving the built frontend, as a child process ([`ServerProcess`], shared
//! with the fault suite) that can be killed without warning and started again on the same port.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

pub use crate::server_process::{ServerProcess, free_port};

/// How long a counter may take to reach what a test waits for.
const METRIC_DEADLINE: Duration = Duration::from_secs(10);

/// The built frontend, checked to be there.
pub fn dist_dir() -> PathBuf {
    let dist = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../dist"));
    assert!(
        dist.join("index.html").is_file(),
        "no {}/index.html: run `just build` first (it runs `trunk build --release`)",
        dist.display()
    );
    dist
}

/// Starts the server on `port` serving `dist/`, with browser reconnects sped up by
/// `--retry-ms 500` and `extra_args` added; returns once it logs that it is listening.
pub fn start(port: u16, extra_args: &[&str]) -> ServerProcess {
    let mut args = vec!["--retry-ms", "500", "--workers", "2"];
    args.extend_from_slice(extra_args);
    ServerProcess::serving(&dist_dir(), port, &args)
}

/// Polls the server's `/metrics` until the counter `name` reaches `at_least`; panics after
/// [`METRIC_DEADLINE`].
pub async fn wait_for_metric(server: &ServerProcess, name: &str, at_least: u64) {
    let started = Instant::now();
    loop {
        let metrics = reqwest::get(server.url("/metrics"))
            .await
            .expect("the server answers")
            .text()
            .await
            .expect("metrics are text");
        let value = metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0);
        if value >= at_least {
            return;
        }
        assert!(
            started.elapsed() < METRIC_DEADLINE,
            "{name} is {value} after {METRIC_DEADLINE:?}, expected at least {at_least}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
