//! The connection cap: a burst far beyond `--max-clients`. Exactly the cap is admitted, everyone
//! else gets `503` with `Retry-After` at once, and `/healthz` keeps answering within 100 ms.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use std::{
    io::{Read, Write},
    net::TcpStream,
    sync::atomic::{AtomicBool, Ordering},
};

use bench::tally::latency;
use tokio::sync::Semaphore;

use crate::{
    Scale, figure, serial,
    support::{
        ServerProcess,
        raw_stream::{StreamClient, connect, status_code},
    },
};

/// `GET path` on a fresh blocking connection; the status code.
fn blocking_get_status(port: u16, path: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("a read timeout");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("request sent");
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("an answer within 5 s");
    status_code(&String::from_utf8_lossy(&answer)).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_beyond_the_cap_admits_exactly_the_cap_and_refuses_the_rest_at_once() {
    let _turn = serial().await;
    let scale = Scale::get();
    // What is counted (exactly the cap admitted, everyone else refused) must hold every time.
    // What is timed is measured on a shared machine, where another process can hold both cores
    // for a while: the quick run (in `just test`, a debug server) bounds it generously, so that
    // it fails for a server that makes a refused client wait, never for a busy machine; the full
    // run holds the release server to the figures of RELIABILITY.md.
    let bounds = Bounds {
        health_max_ms: scale.pick(1_000.0, 100.0),
        refused_max_ms: scale.pick(2_000.0, 1_000.0),
    };
    run_burst(scale, &bounds).await;
}

/// The longest `/healthz` and a `503` may take during the burst, in milliseconds.
struct Bounds {
    health_max_ms: f64,
    refused_max_ms: f64,
}

/// Requests in flight at once during the burst: the queue a `/healthz` request waits behind.
/// The quick run's server is a debug build, several times slower per request, so its queue is
/// shorter.
fn in_flight(scale: Scale) -> usize {
    scale.pick(100, 500)
}

/// A monitor polling `/healthz` on a fresh connection every 10 ms until `stop`, on a thread of
/// its own with blocking sockets, so that what it measures is the server, not this test's
/// scheduling of the burst; it returns every answer's time, in microseconds.
fn monitor_health(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<i64>> {
    std::thread::spawn(move || {
        let mut latencies = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let asked = Instant::now();
            let status = blocking_get_status(port, "/healthz");
            assert_eq!(status, 200, "healthz during the burst");
            latencies.push(asked.elapsed().as_micros() as i64);
            std::thread::sleep(Duration::from_millis(10));
        }
        latencies
    })
}

/// `burst` stream requests, [`in_flight`] at a time, each from its own source address: the
/// admitted streams, the time each `503` took (in microseconds; each checked for its
/// `Retry-After: 3`), and any other status.
async fn burst_of_streams(
    scale: Scale,
    port: u16,
    burst: usize,
) -> (Vec<StreamClient>, Vec<i64>, Vec<u16>) {
    let in_flight_permits = Arc::new(Semaphore::new(in_flight(scale)));
    let tasks: Vec<_> = (0..burst)
        .map(|i| {
            let in_flight_permits = Arc::clone(&in_flight_permits);
            tokio::spawn(async move {
                let _permit = in_flight_permits
                    .acquire_owned()
                    .await
                    .expect("the semaphore");
                let stream = connect(port, i, None).await.expect("connects");
                let asked = Instant::now();
                let client = StreamClient::open(stream, None).await.expect("a head");
                (client, asked.elapsed())
            })
        })
        .collect();
    let mut admitted = Vec::new();
    let mut refused_us = Vec::new();
    let mut other = Vec::new();
    for task in tasks {
        let (client, took) = task.await.expect("a burst task");
        match client.status {
            200 => admitted.push(client),
            503 => {
                assert_eq!(client.header("retry-after").as_deref(), Some("3"));
                refused_us.push(took.as_micros() as i64);
            }
            status => other.push(status),
        }
    }
    (admitted, refused_us, other)
}

/// One burst against a fresh server, checked against `bounds`.
async fn run_burst(scale: Scale, bounds: &Bounds) {
    let cap = scale.pick(200, 1_000);
    let burst = scale.pick(2_000, 10_000);
    let server = ServerProcess::start(
        0,
        &[
            "--max-clients",
            &cap.to_string(),
            "--retry-ms",
            "3000",
            "--workers",
            "2",
        ],
    );
    let port = server.port;
    let app = server.app();

    let stop = Arc::new(AtomicBool::new(false));
    let monitor = monitor_health(port, Arc::clone(&stop));

    let started = Instant::now();
    let (mut admitted, mut refused_us, other) = burst_of_streams(scale, port, burst).await;
    let burst_took = started.elapsed();
    let counted = app.connected_clients().await;
    stop.store(true, Ordering::Relaxed);
    let mut health_us = monitor.join().expect("the monitor");
    let rejected_metric = app.metric("pingstream_connections_rejected_total").await;

    let refused = refused_us.len();
    let refused_ms = latency(&mut refused_us).expect("some were refused");
    let health_ms = latency(&mut health_us).expect("/healthz was polled");
    figure(
        "connection cap",
        &format!(
            "burst of {burst} ({} in flight) against --max-clients {cap} in {:.1} s: {} admitted, \
             {refused} refused with 503 + Retry-After (answer p50 {:.1} ms, p99 {:.1} ms, max \
             {:.1} ms), {} other; /healthz polled {} times meanwhile: p50 {:.1} ms, max {:.1} ms",
            in_flight(scale),
            burst_took.as_secs_f64(),
            admitted.len(),
            refused_ms.p50_ms,
            refused_ms.p99_ms,
            refused_ms.max_ms,
            other.len(),
            health_us.len(),
            health_ms.p50_ms,
            health_ms.max_ms,
        ),
    );
    assert_eq!(admitted.len(), cap);
    assert_eq!(counted, cap as u64);
    assert_eq!(refused, burst - cap, "other answers: {other:?}");
    assert_eq!(rejected_metric, (burst - cap) as u64);
    // "At once": no refused client waits for a slot (none frees up while the admitted hold
    // theirs); the bound is far below the 3 s it is told to wait.
    assert!(
        refused_ms.max_ms < bounds.refused_max_ms,
        "a 503 took {:.1} ms",
        refused_ms.max_ms
    );
    assert!(
        health_ms.max_ms <= bounds.health_max_ms,
        "/healthz took {:.1} ms during the burst",
        health_ms.max_ms
    );
    // The admitted streams work.
    for client in admitted.iter_mut().take(10) {
        client
            .next_event()
            .await
            .expect("an admitted stream's ping");
    }
    drop(admitted);
    app.wait_for_clients(0, Duration::from_secs(10)).await;
}
