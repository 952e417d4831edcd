//! The shape of `/sse`: headers, the first event, ids and counts, retry and keep-alive lines.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use shared::STREAM_PATH;

use crate::helpers::{assert_consecutive, read_raw_until, spawn_app};

#[tokio::test]
async fn stream_headers_say_event_stream_uncompressed_unbuffered() {
    let app = spawn_app(|_| {}).await;
    let response = app
        .client
        .get(app.url(STREAM_PATH))
        .header("Accept-Encoding", "gzip, deflate, br, zstd")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    assert_eq!(header("content-type").as_deref(), Some("text/event-stream"));
    assert_eq!(header("cache-control").as_deref(), Some("no-cache"));
    assert_eq!(header("x-accel-buffering").as_deref(), Some("no"));
    assert!(matches!(
        header("content-encoding").as_deref(),
        None | Some("identity")
    ));
    assert_eq!(header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_new_client_gets_the_latest_ping_within_100_ms() {
    // A long period: the first event can only come from history, not from a lucky tick.
    let app = spawn_app(|config| config.interval_ms = 60_000).await;
    // Warm up the connection path once so the measurement is of the server, not of the client.
    app.open_stream(None).await.next_ping().await;
    let started = Instant::now();
    let mut stream = app.open_stream(None).await;
    let first = stream.next_ping().await;
    let elapsed = started.elapsed();
    assert_eq!(first.ping.count, 1);
    assert!(
        elapsed <= Duration::from_millis(100),
        "first ping after {elapsed:?}"
    );
}

#[tokio::test]
async fn ids_and_counts_are_strictly_consecutive() {
    let app = spawn_app(|config| config.interval_ms = 5).await;
    let mut stream = app.open_stream(None).await;
    let pings = stream.take_pings(200).await;
    assert_consecutive(&pings);
    let health = app.health().await;
    let last_id = health["last_id"].as_str().unwrap();
    assert_eq!(
        last_id.parse::<shared::EventId>().unwrap().epoch,
        pings[0].id.epoch
    );
}

#[tokio::test]
async fn times_are_utc_and_follow_the_period() {
    let app = spawn_app(|config| config.interval_ms = 50).await;
    let mut stream = app.open_stream(None).await;
    let pings = stream.take_pings(6).await;
    for pair in pings[1..].windows(2) {
        let step = (pair[1].ping.time - pair[0].ping.time).num_milliseconds();
        assert!((30..=150).contains(&step), "pings {step} ms apart");
    }
    let age = chrono::Utc::now() - pings[5].ping.time;
    assert!(
        age.num_milliseconds().abs() < 1000,
        "ping time is {age} off"
    );
}

#[tokio::test]
async fn the_stream_starts_with_the_retry_hint() {
    let app = spawn_app(|config| config.retry_ms = 2500).await;
    let text = read_raw_until(
        app.request_stream(None).await,
        "data:",
        Duration::from_secs(5),
    )
    .await;
    assert!(text.starts_with("retry: 2500\n\n"), "{text:?}");
}

#[tokio::test]
async fn idle_streams_get_keep_alive_comments_each_period() {
    let app = spawn_app(|config| {
        config.interval_ms = 600_000;
        config.keep_alive_s = 1;
    })
    .await;
    let mut body = app.request_stream(None).await.bytes_stream();
    let started = Instant::now();
    let mut text = String::new();
    let mut comments_at = Vec::new();
    while comments_at.len() < 3 {
        let chunk = tokio::time::timeout(Duration::from_secs(3), body.next())
            .await
            .expect("a chunk within 3 s")
            .expect("stream open")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        while comments_at.len() < text.matches(": keep-alive\n\n").count() {
            comments_at.push(started.elapsed());
        }
    }
    // The timer's first tick is immediate; after that, one per period.
    let gap = comments_at[2] - comments_at[1];
    assert!(
        (Duration::from_millis(700)..=Duration::from_millis(1500)).contains(&gap),
        "keep-alives {gap:?} apart: {comments_at:?}"
    );
    assert!(
        text.contains("data:"),
        "the latest ping came first: {text:?}"
    );
}
