//! Hostile or broken requests, sent as raw bytes: each gets a clear answer, and the server keeps
//! streaming for everyone else.

use std::time::{Duration, Instant};

use shared::{EventId, STREAM_PATH};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    helpers::{TestApp, spawn_app},
    support::{
        eventually,
        raw_stream::{self, StreamClient, stream_request},
    },
};

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

/// Sends `request` and reads until the first ping; the status and the id of that ping.
async fn first_event(app: &TestApp, request: &[u8]) -> (u16, Option<EventId>) {
    let read = async {
        let stream = raw_stream::connect(app.port, 0, None)
            .await
            .expect("server accepts");
        let mut client = StreamClient::send(stream, request).await.expect("a head");
        let first = client.next_event().await.ok();
        let id = first.map(|event| event.ping().expect("a ping").id);
        (client.status, id)
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an event within 10 s")
}

#[tokio::test]
async fn odd_last_event_ids_get_a_stream_from_the_newest_ping() {
    // A fast tick and a long history: a replay would start far below the newest ping.
    let app = spawn_app(|config| config.interval_ms = 10).await;
    let epoch = eventually(Duration::from_secs(10), async || {
        match app.last_id().await {
            Some(id) if id.seq >= 20 => Ok(id.epoch),
            last => Err(last),
        }
    })
    .await
    .unwrap_or_else(|last| panic!("the newest ping is still {last:?}"));
    let this_run_beyond_u64 = format!("{epoch}-18446744073709551616");
    let this_run_negative = format!("{epoch}--1");
    let this_run_future = EventId {
        epoch,
        seq: u64::MAX,
    }
    .to_string();
    let huge = "7".repeat(60 * 1024);
    for id in [
        &b""[..],
        b"banana",
        b"-1",
        b"18446744073709551616",
        this_run_beyond_u64.as_bytes(),
        this_run_negative.as_bytes(),
        this_run_future.as_bytes(),
        huge.as_bytes(),
        "\u{ff}\u{ff}".as_bytes(),
        b"\xff\xfe",
    ] {
        let (before, (status, first), after) = app
            .between_last_seqs(first_event(&app, &stream_request(Some(id))))
            .await;
        let shown = String::from_utf8_lossy(&id[..id.len().min(24)]).into_owned();
        assert_eq!(status, 200, "Last-Event-ID {shown:?}");
        // Ignored: the newest ping when the request arrived, not a replay from history.
        let first = first.unwrap_or_else(|| panic!("no event for {shown:?}"));
        assert_eq!(first.epoch, epoch);
        assert!(
            (before..=after).contains(&first.seq),
            "Last-Event-ID {shown:?} started at {} (newest {before}..={after})",
            first.seq
        );
    }
    // An id of another run: the oldest ping this run retains (here its first), so the client
    // sees the counts go back, not a replay that pretends to continue the other run.
    let foreign = EventId {
        epoch: shared::Epoch(epoch.0 ^ 1),
        seq: 5,
    };
    let foreign = foreign.to_string();
    let (status, first) = first_event(&app, &stream_request(Some(foreign.as_bytes()))).await;
    assert_eq!(status, 200);
    assert_eq!(first, Some(EventId { epoch, seq: 1 }));
}

#[tokio::test]
async fn last_event_ids_with_control_characters_are_rejected_by_the_http_parser() {
    let app = spawn_app(|_| {}).await;
    for id in [&b"12\r34"[..], b"12\x0034", b"12\x0b34"] {
        assert_eq!(
            status_line(&app, &stream_request(Some(id))).await,
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
    assert_eq!(app.open_stream(None).await.next_ping().await.id.seq, 1);
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

/// Sends `request` (which should ask for `Connection: close`) and reads the whole answer.
async fn whole_answer(app: &TestApp, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("server accepts");
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the answer ends within 10 s");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn nothing_outside_the_static_folder_is_served() {
    // root/dist is served; root/secret.txt sits right beside it.
    let root = tempfile::tempdir().unwrap();
    let dist = root.path().join("dist");
    std::fs::create_dir(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "<!doctype html><title>in</title>").unwrap();
    let secret = root.path().join("secret.txt");
    std::fs::write(&secret, "pingstream-secret-b7e1").unwrap();
    let absolute = secret.display().to_string();
    let app = spawn_app(|config| config.static_dir = dist.clone()).await;
    for path in [
        "/../secret.txt".to_owned(),
        "/../../../../../../etc/passwd".to_owned(),
        "/%2e%2e/secret.txt".to_owned(),
        "/%2E%2E/secret.txt".to_owned(),
        "/%2e%2e%2fsecret.txt".to_owned(),
        "/..%2fsecret.txt".to_owned(),
        "/..%2Fsecret.txt".to_owned(),
        "/.%2e/secret.txt".to_owned(),
        "/%252e%252e/secret.txt".to_owned(),
        "/..\\secret.txt".to_owned(),
        "/..%5csecret.txt".to_owned(),
        "/..%5Csecret.txt".to_owned(),
        "/%c0%ae%c0%ae/secret.txt".to_owned(),
        "/./../secret.txt".to_owned(),
        "/index.html/../../secret.txt".to_owned(),
        "/etc/passwd".to_owned(),
        "//etc/passwd".to_owned(),
        absolute.clone(),
        format!("/{absolute}"),
        format!("/%2f{}", absolute.trim_start_matches('/')),
        format!("/{}", absolute.replace('/', "%2f")),
        "http://localhost/../secret.txt".to_owned(),
        "/index.html%00.js".to_owned(),
    ] {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        let answer = whole_answer(&app, request.as_bytes()).await;
        let status = answer.lines().next().unwrap_or("closed");
        assert!(
            !answer.contains("pingstream-secret") && !answer.contains("root:"),
            "{path} leaked a file outside the folder: {answer}"
        );
        assert_eq!(status, "HTTP/1.1 404 Not Found", "{path}");
    }
    // The folder itself is served.
    let index = whole_answer(
        &app,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(index.starts_with("HTTP/1.1 200 OK"), "{index}");
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
