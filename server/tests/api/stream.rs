//! The shape of `/sse`: headers, the first event, ids and counts, retry and keep-alive lines.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::Method;
use shared::STREAM_PATH;

use crate::helpers::{
    TestApp, Transport, assert_consecutive, over_both_transports, read_raw_until, spawn_app,
    spawn_app_over,
};

over_both_transports! { stream_headers_say_event_stream_uncompressed_unbuffered => headers_say_event_stream_uncompressed_unbuffered }

/// The stream's headers; over HTTP/1.1 the connection closes with the stream, over HTTP/2 the
/// stream has no connection-specific header (they are malformed there).
pub async fn headers_say_event_stream_uncompressed_unbuffered(transport: Transport) {
    let app = spawn_app_over(transport, |_| {}).await;
    let response = app
        .request(Method::GET, STREAM_PATH)
        .header("Accept-Encoding", "gzip, deflate, br, zstd")
        .send()
        .await
        .expect("server answers");
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), app.version);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().expect("an ASCII header").to_owned())
    };
    assert_eq!(header("content-type").as_deref(), Some("text/event-stream"));
    assert_eq!(header("cache-control").as_deref(), Some("no-cache"));
    assert_eq!(header("x-accel-buffering").as_deref(), Some("no"));
    assert!(matches!(
        header("content-encoding").as_deref(),
        None | Some("identity")
    ));
    assert_eq!(header("access-control-allow-origin"), None);
    let connection = match transport {
        Transport::Http1 => Some("close"),
        Transport::H2 => None,
    };
    assert_eq!(header("connection").as_deref(), connection);
}

over_both_transports! { a_new_client_gets_the_latest_ping_within_100_ms => latest_ping_within_100_ms }

/// A new stream's first ping comes from history within 100 ms (over HTTP/2, on a connection
/// that is already open).
pub async fn latest_ping_within_100_ms(transport: Transport) {
    // Pings 300 ms apart, and the new client arrives right after the third: a first ping within
    // 100 ms can only come from history, not from a lucky tick, and it must be the newest of the
    // three there, not the oldest.
    let app = spawn_app_over(transport, |config| config.interval_ms = 300).await;
    let mut watcher = app.open_stream(None).await;
    // Warm up the connection path once so the measurement is of the server, not of the client.
    app.open_stream(None).await.next_ping().await;
    let mut latest = watcher.next_ping().await;
    while latest.id.seq < 3 {
        latest = watcher.next_ping().await;
    }
    let started = Instant::now();
    let mut stream = app.open_stream(None).await;
    let first = stream.next_ping().await;
    let elapsed = started.elapsed();
    assert!(
        elapsed <= Duration::from_millis(100),
        "first ping after {elapsed:?}"
    );
    assert_eq!(first.id, latest.id, "the first ping is not the latest");
}

#[tokio::test]
async fn ids_and_counts_are_strictly_consecutive() {
    let app = spawn_app(|config| config.interval_ms = 5).await;
    let mut stream = app.open_stream(None).await;
    let pings = stream.take_pings(200).await;
    assert_consecutive(&pings);
    let last_id = app.last_id().await.expect("a last id");
    assert_eq!(last_id.epoch, pings[0].id.epoch);
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

/// The `retry:` value a stream starts with, and the rest of what it read.
async fn first_retry(app: &TestApp) -> (u64, String) {
    let text = read_raw_until(
        app.get_stream().await,
        "\"interval_ms\"",
        Duration::from_secs(5),
    )
    .await;
    let (retry, rest) = text
        .strip_prefix("retry: ")
        .and_then(|text| text.split_once("\n\n"))
        .unwrap_or_else(|| panic!("no retry line first: {text:?}"));
    (
        retry.parse().expect("a whole number of ms"),
        rest.to_owned(),
    )
}

over_both_transports! { the_stream_starts_with_a_jittered_retry_hint_then_the_heartbeat => jittered_retry_hint_then_the_heartbeat }

/// The first bytes of a stream: its own `retry:` hint, then the heartbeat greeting, which says
/// how the stream starts (a new client: `fresh`).
pub async fn jittered_retry_hint_then_the_heartbeat(transport: Transport) {
    let app = spawn_app_over(transport, |config| {
        config.retry_ms = 2500;
        config.interval_ms = 700;
        config.keep_alive_s = 15;
    })
    .await;
    let (retry, rest) = first_retry(&app).await;
    assert!((1250..=3750).contains(&retry), "retry {retry} ms");
    // Followed by the newest ping, from history, once the ticker has sent one.
    let heartbeat = format!(
        "event: {}\ndata: {{\"interval_ms\":700,\"heartbeat_ms\":1400,\"start\":\"fresh\"",
        <shared::Timing as shared::StreamEvent>::NAME
    );
    let replayed = rest.strip_prefix(&heartbeat);
    assert!(
        replayed.is_some_and(|r| r.starts_with("}\n\n") || r.starts_with(",\"replayed\":1}\n\n")),
        "{rest:?}"
    );
}

#[tokio::test]
async fn retry_hints_are_spread_across_streams_within_half_and_one_and_a_half_times_the_setting() {
    let app = spawn_app(|config| config.retry_ms = 2000).await;
    let mut hints = Vec::new();
    for _ in 0..30 {
        hints.push(first_retry(&app).await.0);
    }
    assert!(
        hints.iter().all(|hint| (1000..=3000).contains(hint)),
        "{hints:?}"
    );
    hints.sort_unstable();
    hints.dedup();
    // 30 draws from 2,000 values: all equal only if the hint is not jittered at all.
    assert!(hints.len() >= 10, "hints barely differ: {hints:?}");
    let spread = hints[hints.len() - 1] - hints[0];
    assert!(
        spread >= 500,
        "hints within {spread} ms of each other: {hints:?}"
    );
}

over_both_transports! { idle_streams_get_a_heartbeat_each_period => a_heartbeat_each_period }

/// An idle stream gets a heartbeat after each period of silence.
pub async fn a_heartbeat_each_period(transport: Transport) {
    let app = spawn_app_over(transport, |config| {
        config.interval_ms = 600_000;
        config.keep_alive_s = 1;
    })
    .await;
    let mut body = app.get_stream().await.bytes_stream();
    let started = Instant::now();
    let mut text = String::new();
    let mut beats_at = Vec::new();
    let heartbeat = format!(
        "event: {}\ndata: {{\"interval_ms\":600000,\"heartbeat_ms\":1000}}\n\n",
        <shared::Timing as shared::StreamEvent>::NAME
    );
    while beats_at.len() < 4 {
        let chunk = tokio::time::timeout(Duration::from_secs(3), body.next())
            .await
            .expect("a chunk within 3 s")
            .expect("stream open")
            .expect("a readable chunk");
        text.push_str(&String::from_utf8_lossy(&chunk));
        while beats_at.len() < text.matches(&heartbeat).count() {
            beats_at.push(started.elapsed());
        }
    }
    // The first is the greeting; after that, one per period of silence.
    for pair in beats_at[1..].windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            (Duration::from_millis(700)..=Duration::from_millis(1500)).contains(&gap),
            "heartbeats {gap:?} apart: {beats_at:?}"
        );
    }
    assert!(
        text.contains("data: {\"count\":1"),
        "the latest ping came too: {text:?}"
    );
    assert!(!text.contains(": keep-alive"), "no comments: {text:?}");
}

#[tokio::test]
async fn a_busy_stream_gets_no_heartbeats_after_the_greeting() {
    let app = spawn_app(|config| {
        config.interval_ms = 200;
        config.keep_alive_s = 1;
    })
    .await;
    let mut stream = app.open_stream(None).await;
    stream.take_pings(12).await;
    // The greeting counts the newest ping, if the ticker had sent one, as replayed.
    let replayed = stream
        .heartbeats
        .first()
        .map_or(0, |opening| opening.replayed);
    assert!(replayed <= 1, "{:?}", stream.heartbeats);
    assert_eq!(
        stream.heartbeats,
        [shared::Timing {
            interval_ms: 200,
            heartbeat_ms: Some(400),
            start: Some(shared::Start::Fresh),
            replayed,
        }],
        "only the greeting: pings every 200 ms never leave the stream silent for 400 ms"
    );
}

#[tokio::test]
async fn an_http_1_0_client_gets_a_stream_it_can_read_until_the_connection_closes() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let app = spawn_app(|config| config.interval_ms = 50).await;
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("server accepts");
    conn.write_all(format!("GET {STREAM_PATH} HTTP/1.0\r\n\r\n").as_bytes())
        .await
        .expect("request sent");
    let mut text = String::new();
    let mut buffer = [0; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    while text.matches("\nid: ").count() < 3 {
        let read = tokio::time::timeout_at(deadline.into(), conn.read(&mut buffer))
            .await
            .expect("events within 5 s")
            .expect("readable");
        assert!(read > 0, "closed early: {text:?}");
        text.push_str(&String::from_utf8_lossy(&buffer[..read]));
    }
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    let head = head.to_ascii_lowercase();
    assert!(
        !head.contains("transfer-encoding"),
        "HTTP/1.0 cannot read chunks: {head}"
    );
    // HTTP/1.0 closes by default: no `Connection: keep-alive` may be offered.
    assert!(!head.contains("keep-alive"), "{head}");
    // The raw SSE text, no chunk sizes between events.
    assert!(body.starts_with("retry: "), "{body:?}");
    for event in body.split("\n\n").filter(|event| event.contains("id: ")) {
        assert!(
            event.lines().all(|line| line.starts_with("id: ")
                || line.starts_with("event: ")
                || line.starts_with("data: ")),
            "{event:?}"
        );
    }
}
