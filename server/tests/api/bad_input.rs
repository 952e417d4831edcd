//! Hostile or broken requests, sent as raw bytes: each gets a clear answer, and the server keeps
//! streaming for everyone else.

use std::time::{Duration, Instant};

use shared::{EventId, STREAM_PATH};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{TestApp, spawn_app};

/// Sends `request` as it is and returns the status line of the answer, or `"closed"` if the
/// server closed the connection without one.
async fn status_line(app: &TestApp, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("server accepts");
    // The server may answer and close before it has read everything; that is fine.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let read_head = async {
        while !answer.windows(2).any(|pair| pair == b"\r\n") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read_head)
        .await
        .expect("an answer within 10 s");
    let text = String::from_utf8_lossy(&answer);
    text.lines()
        .next()
        .filter(|line| !line.is_empty())
        .unwrap_or("closed")
        .to_owned()
}

fn stream_request(last_event_id: &[u8]) -> Vec<u8> {
    let mut request =
        format!("GET {STREAM_PATH} HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: ").into_bytes();
    request.extend_from_slice(last_event_id);
    request.extend_from_slice(b"\r\n\r\n");
    request
}

#[tokio::test]
async fn odd_last_event_ids_get_a_stream_from_the_newest_ping() {
    let app = spawn_app(|_| {}).await;
    let foreign = EventId { epoch: 1, count: 5 }.to_string();
    let huge = "7".repeat(60 * 1024);
    for id in [
        "",
        "banana",
        "-1",
        "18446744073709551616",
        &foreign,
        &huge,
        "ÿÿ",
    ] {
        assert_eq!(
            status_line(&app, &stream_request(id.as_bytes())).await,
            "HTTP/1.1 200 OK",
            "Last-Event-ID {:?}",
            &id[..id.len().min(24)]
        );
    }
}

#[tokio::test]
async fn last_event_ids_with_control_characters_are_rejected_by_the_http_parser() {
    let app = spawn_app(|_| {}).await;
    for id in [&b"12\r34"[..], b"12\x0034", b"12\x0b34"] {
        assert_eq!(
            status_line(&app, &stream_request(id)).await,
            "HTTP/1.1 400 Bad Request",
            "{id:?}"
        );
    }
    // A bare LF ends the header line, as HTTP/1.1 parsers allow: the id is just "12".
    let bare_lf = format!("GET {STREAM_PATH} HTTP/1.1\nHost: x\nLast-Event-ID: 12\n\n");
    assert_eq!(
        status_line(&app, bare_lf.as_bytes()).await,
        "HTTP/1.1 200 OK"
    );
    assert_eq!(app.open_stream(None).await.next_ping().await.ping.count, 1);
}

#[tokio::test]
async fn oversized_requests_are_refused_with_a_status() {
    let app = spawn_app(|_| {}).await;
    let big_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200_000)
    );
    assert_eq!(
        status_line(&app, big_header.as_bytes()).await,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    let many_headers = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..200)
            .map(|i| format!("X-{i}: 1\r\n"))
            .collect::<String>()
    );
    assert_eq!(
        status_line(&app, many_headers.as_bytes()).await,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100_000));
    assert_eq!(
        status_line(&app, long_uri.as_bytes()).await,
        "HTTP/1.1 400 Bad Request"
    );
    let not_http = b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n";
    assert_eq!(
        status_line(&app, not_http).await,
        "HTTP/1.1 400 Bad Request"
    );
    assert_eq!(app.health().await["status"], "ok");
}

#[tokio::test]
async fn nothing_outside_the_static_folder_is_served() {
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(
        dist.path().join("index.html"),
        "<!doctype html><title>in</title>",
    )
    .unwrap();
    let app = spawn_app(|config| config.static_dir = dist.path().to_owned()).await;
    for path in [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2e%2e%2fCargo.toml",
        "/..%2f..%2fetc%2fpasswd",
        "/etc/passwd",
        "//etc/passwd",
        "http://localhost/../Cargo.toml",
        "/.%2e/.%2e/etc/passwd",
        "/index.html%00.js",
    ] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert_eq!(
            status_line(&app, request.as_bytes()).await,
            "HTTP/1.1 404 Not Found",
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_slowloris_request_is_cut_off_by_the_request_timeout() {
    let app = spawn_app(|_| {}).await;
    let mut stream = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    // Dribble a header byte every 200 ms; the server gives the whole head 5 s.
    for byte in b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
        .iter()
        .cycle()
        .take(100)
    {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        let mut buffer = [0u8; 1024];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buffer)).await
        {
            answer.extend_from_slice(&buffer[..n]);
            break;
        }
    }
    let elapsed = started.elapsed();
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408"),
        "{answer:?}"
    );
    assert!(
        elapsed < Duration::from_secs(8),
        "cut off after {elapsed:?}"
    );
    assert_eq!(app.health().await["status"], "ok");
}

#[tokio::test]
async fn many_streams_from_one_address_are_all_served() {
    let app = spawn_app(|config| config.interval_ms = 50).await;
    let mut streams = Vec::new();
    for _ in 0..300 {
        streams.push(app.open_stream(None).await);
    }
    app.wait_for_clients(300, Duration::from_secs(5)).await;
    for stream in &mut streams {
        stream.next_ping().await;
    }
    drop(streams);
    app.wait_for_clients(0, Duration::from_secs(5)).await;
}
