//! Many clients: slow ones, the connection cap, and clients that leave.

use std::time::{Duration, Instant};

use tokio::{io::AsyncWriteExt, net::TcpStream};

use crate::{
    helpers::{
        Received, Transport, assert_consecutive, over_both_transports, spawn_app, spawn_app_over,
    },
    support::raw_stream::{self, StreamClient, stream_request_over},
};

/// Client `i` sends the stream request in HTTP `version` and then never reads, with a tiny
/// receive buffer so the server's writes back up quickly.
async fn open_non_reading_client(port: u16, i: usize, version: &str) -> TcpStream {
    let mut stream = raw_stream::connect(port, i, Some(4096))
        .await
        .expect("server accepts");
    stream
        .write_all(&stream_request_over(version, None))
        .await
        .expect("request sent");
    stream
}

#[tokio::test]
async fn a_non_reading_client_does_not_delay_a_reading_one() {
    let app = spawn_app(|config| {
        config.interval_ms = 1;
        // A second of slack: the reader must not be ended for lagging when this test process is
        // descheduled for a few milliseconds on a busy machine (that policy has its own test).
        config.client_buffer = 1000;
    })
    .await;
    let mut stalled = Vec::new();
    for i in 0..5 {
        stalled.push(open_non_reading_client(app.port, i, "HTTP/1.1").await);
    }
    let mut reader = app.open_stream(None).await;
    let started = Instant::now();
    let pings = reader.take_pings(2000).await;
    let elapsed = started.elapsed();
    assert_consecutive(&pings);
    // 2000 pings at 1 ms take about 2 s; a reader held back by the stalled ones would take far
    // longer or see gaps.
    assert!(
        elapsed < Duration::from_secs(6),
        "2000 pings took {elapsed:?}"
    );
    let late = pings
        .iter()
        .map(|p| (chrono::Utc::now() - p.ping.time).num_milliseconds())
        .next_back()
        .unwrap();
    assert!(late < 500, "the newest ping arrived {late} ms late");
    drop(stalled);
}

#[tokio::test]
async fn a_client_that_falls_behind_its_buffer_gets_a_clean_end_and_no_gap() {
    let app = spawn_app(|config| {
        config.interval_ms = 1;
        config.client_buffer = 16;
        config.send_buffer = 16 * 1024;
        config.history = 100_000;
    })
    .await;
    // The server closes an HTTP/1.x connection once its stream is over.
    let stalled = raw_stream::connect(app.port, 0, Some(4096))
        .await
        .expect("server accepts");
    let mut stalled = StreamClient::send(stalled, &stream_request_over("HTTP/1.1", None))
        .await
        .expect("a head");
    // 2 s at 1 ms is ~200 KB of events: far more than the socket buffers plus 16 events hold.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut pings: Vec<Received> = Vec::new();
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stalled.next_event().await {
                Ok(event) => pings.push(event.ping().expect("a ping")),
                Err(end) => return end,
            }
        }
    })
    .await
    .expect("the stream ends");
    assert!(end.is_clean(), "the stream did not end whole: {end:?}");
    assert!(
        pings.len() > 16,
        "only {} pings before the end",
        pings.len()
    );
    assert_consecutive(&pings);
    // Ended as too slow; on a machine so busy that the stream took no data for 5 s (stopped
    // readers are freed after that: `Hub::free_stalled`), ended as stalled instead. Once either
    // way, never both, never neither.
    let slow = app.metric("pingstream_slow_clients_dropped_total").await;
    let stalled = app.metric("pingstream_stalled_streams_freed_total").await;
    assert_eq!(
        (slow + stalled, slow.min(stalled)),
        (1, 0),
        "slow {slow}, stalled {stalled}"
    );
    app.wait_for_clients(0, Duration::from_secs(2)).await;
    // Resuming from the last ping it got replays the rest from history: nothing was lost.
    let last = pings.last().unwrap();
    let mut resumed = app.open_stream(Some(&last.id.to_string())).await;
    assert_eq!(resumed.next_ping().await.id.seq, last.id.seq + 1);
}

#[tokio::test]
async fn a_client_that_stops_reading_altogether_is_disconnected_after_the_stall_timeout() {
    let app = spawn_app(|config| {
        config.interval_ms = 1;
        config.send_buffer = 16 * 1024;
        config.stall_timeout_ms = 500;
    })
    .await;
    let stalled = open_non_reading_client(app.port, 0, "HTTP/1.1").await;
    app.wait_for_clients(1, Duration::from_secs(2)).await;
    // Buffers fill within ~1 s; then no byte is accepted for 500 ms and the kernel gives up.
    app.wait_for_clients(0, Duration::from_secs(10)).await;
    app.open_stream(None).await.next_ping().await;
    drop(stalled);
}

over_both_transports! { one_client_over_the_limit_gets_503_with_retry_after_at_once => over_the_limit_503_with_retry_after }

/// With the cap reached one more stream is refused at once, and a slot given back is taken again.
pub async fn over_the_limit_503_with_retry_after(transport: Transport) {
    let app = spawn_app_over(transport, |config| {
        config.max_clients = 2;
        config.retry_ms = 1500;
    })
    .await;
    let _first = app.open_stream(None).await;
    let second = app.open_stream(None).await;
    let started = Instant::now();
    let refused = app.get_stream().await;
    let elapsed = started.elapsed();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "2");
    assert!(elapsed < Duration::from_millis(100), "503 took {elapsed:?}");
    let body: serde_json::Value = refused.json().await.expect("a JSON refusal");
    assert_eq!(body["error"], "unavailable", "{body}");
    assert_eq!(app.metric("pingstream_connections_rejected_total").await, 1);
    drop(second);
    app.wait_for_clients(1, Duration::from_secs(2)).await;
    app.open_stream(None).await.next_ping().await;
}

#[tokio::test]
async fn max_clients_zero_refuses_every_stream() {
    let app = spawn_app(|config| config.max_clients = 0).await;
    assert_eq!(app.get_stream().await.status(), 503);
    assert_eq!(app.health().await["status"], "ok");
}

#[tokio::test]
async fn a_client_that_hangs_up_frees_its_subscription_before_the_next_tick() {
    // A 10-minute period: nothing is written, so only the client's FIN can tell the server.
    let app = spawn_app(|config| config.interval_ms = 600_000).await;
    let mut streams = Vec::new();
    for _ in 0..20 {
        let mut stream = app.open_stream(None).await;
        stream.next_ping().await;
        streams.push(stream);
    }
    assert_eq!(app.connected_clients().await, 20);
    drop(streams);
    app.wait_for_clients(0, Duration::from_millis(500)).await;
    assert_eq!(app.metric("pingstream_connected_clients").await, 0);
}
