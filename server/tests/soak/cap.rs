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
    // `/healthz` within 100 ms is measured on a shared machine, where another process can hold
    // both cores for that long: the quick run may try three times and passes if one burst meets
    // it; the full run has one attempt. Everything else must hold in every attempt.
    let attempts = scale.pick(3, 1);
    for attempt in 1..=attempts {
        let health_max_ms = run_burst(scale, attempt).await;
        if health_max_ms <= 100.0 {
            return;
        }
        assert!(
            attempt < attempts,
            "/healthz took {health_max_ms:.1} ms during the burst"
        );
    }
}

/// One burst against a fresh server; checks everything but the `/healthz` bound, and returns
/// the slowest `/healthz` answer during the burst, in milliseconds.
async fn run_burst(scale: Scale, attempt: usize) -> f64 {
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

    // A monitor polling /healthz on a fresh connection every 10 ms through the burst, on a
    // thread of its own with blocking sockets, so that what it measures is the server, not this
    // test's scheduling of the burst.
    let stop = Arc::new(AtomicBool::new(false));
    let monitor = {
        let stop = Arc::clone(&stop);
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
    };

    // Requests in flight at once: the queue a /healthz request waits behind. The quick run's
    // server is a debug build, several times slower per request, so its queue is shorter.
    let in_flight = scale.pick(100, 500);
    let in_flight_permits = Arc::new(Semaphore::new(in_flight));
    let started = Instant::now();
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
            "attempt {attempt}: burst of {burst} ({in_flight} in flight) against --max-clients {cap} in {:.1} s: {} admitted, \
             {refused} refused with 503 + Retry-After (answer p50 {:.1} ms, p99 {:.1} ms, max \
             {:.1} ms), {} other; /healthz polled {} times meanwhile: p50 {:.1} ms, max {:.1} ms",
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
    // theirs); the bound is generous for a loaded machine and far below the 3 s it is told.
    assert!(
        refused_ms.max_ms < 1000.0,
        "a 503 took {:.1} ms",
        refused_ms.max_ms
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
    health_ms.max_ms
}
