//! Redis with credentials: a master with `requirepass`, and a sentinel with its own
//! `requirepass` in front of it. The right passwords stream; a wrong one stops start-up with a
//! clear message instead of a server that runs degraded for ever. No password is ever printed.

use std::time::{Duration, Instant};

use super::{redis::RedisServer, sentinel::Sentinel};
use crate::support::{ServerProcess, free_port};

const MASTER_PASSWORD: &str = "master-s3cret";
const SENTINEL_PASSWORD: &str = "sentinel-s3cret";

/// Runs the server with `args` until it exits (or 10 s): its exit status and log.
pub(crate) fn run_until_exit(args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = ServerProcess::command(std::path::Path::new("/nonexistent"), 0, args)
        .spawn()
        .expect("the server runs");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running: it did not refuse to start");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut log = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        std::io::Read::read_to_string(&mut stderr, &mut log).expect("reads the log");
    }
    (status, log)
}

#[tokio::test]
async fn a_wrong_redis_password_stops_start_up_and_the_right_one_streams() {
    let redis = RedisServer::start_with(&["--requirepass", MASTER_PASSWORD]);
    let port = redis.url().rsplit(':').next().expect("a port").to_owned();
    let wrong = format!("redis://:wrong@127.0.0.1:{port}");
    let (status, log) = run_until_exit(&["--redis-url", &wrong]);
    assert!(!status.success());
    assert!(log.contains("Redis refused the credentials"), "{log}");
    assert!(!log.contains("wrong"), "the password is not printed: {log}");
    let right = format!("redis://:{MASTER_PASSWORD}@127.0.0.1:{port}");
    let server = ServerProcess::start(0, &["--redis-url", &right, "--interval-ms", "100"]);
    let mut stream = server.app().open_stream(None).await;
    stream.take_pings(3).await;
    assert!(!server.log().contains(MASTER_PASSWORD));
}

#[tokio::test]
async fn sentinels_with_a_password_lead_to_a_master_with_another() {
    let master = RedisServer::start_with(&["--requirepass", MASTER_PASSWORD]);
    let master_port = master.url().rsplit(':').next().expect("a port").to_owned();
    let dir = tempfile::tempdir().expect("a folder");
    let sentinel_port = free_port();
    let _sentinel = Sentinel::with_config(
        &dir,
        sentinel_port,
        &format!(
            "port {sentinel_port}\nbind 127.0.0.1\nrequirepass {SENTINEL_PASSWORD}\n\
             sentinel monitor pingstream 127.0.0.1 {master_port} 1\n\
             sentinel auth-pass pingstream {MASTER_PASSWORD}\n"
        ),
    );
    let sentinels = format!("127.0.0.1:{sentinel_port}");
    std::thread::sleep(Duration::from_millis(500));
    let common = [
        "--redis-sentinel",
        sentinels.as_str(),
        "--redis-master-name",
        "pingstream",
        "--redis-password",
        MASTER_PASSWORD,
    ];
    let mut wrong = common.to_vec();
    wrong.extend(["--redis-sentinel-password", "wrong"]);
    let (status, log) = run_until_exit(&wrong);
    assert!(!status.success(), "{log}");
    assert!(log.contains("Redis refused the credentials"), "{log}");
    let mut right = common.to_vec();
    right.extend([
        "--redis-sentinel-password",
        SENTINEL_PASSWORD,
        "--interval-ms",
        "100",
    ]);
    let server = ServerProcess::start(0, &right);
    let mut stream = server.app().open_stream(None).await;
    stream.take_pings(3).await;
    let log = server.log();
    assert!(
        !log.contains(MASTER_PASSWORD) && !log.contains(SENTINEL_PASSWORD),
        "{log}"
    );
}
