//! The server serving the built frontend, as a child process ([`ServerProcess`], shared
//! with the fault suite) that can be killed without warning and started again on the same port.

use std::{path::PathBuf, time::Duration};

pub use crate::support::{ServerProcess, free_port};

/// Pings four times a second, so that a test sees several within a second or two.
pub const QUICK: [&str; 2] = ["--interval-ms", "250"];

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
    server
        .app()
        .wait_for_metric(name, at_least, METRIC_DEADLINE)
        .await;
}

/// Publishes a notice saying `text` on `topic` with the publish token `token`, and checks that
/// it was accepted.
pub async fn publish_notice_on(server: &ServerProcess, token: &str, topic: &str, text: &str) {
    use shared::StreamEvent as _;
    let response = server
        .app()
        .publish_request(shared::Notice::NAME)
        .query(&[(shared::TOPIC_PARAM, topic)])
        .bearer_auth(token)
        .json(&serde_json::json!({ "text": text, "level": "info" }))
        .send()
        .await
        .expect("the server answers the publish");
    assert_eq!(response.status(), 202, "a notice on {topic} is accepted");
}
