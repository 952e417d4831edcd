//! The stream over TLS with HTTP/2 negotiated by ALPN: every property of the HTTP/1.1 stream
//! holds for h2 streams, which share connections. The checks that read the same over both are
//! written once, with `over_both_transports!` beside their HTTP/1.1 siblings; these are h2's own:
//! streams reset or stalled while their connection carries on, a connection closed under several
//! streams.

use std::time::{Duration, Instant};

use bytes::Bytes;
use eventsource_stream::Eventsource as _;
use futures_util::{Stream, StreamExt as _};
use reqwest::Version;
use shared::{Ping, STREAM_PATH, StreamEvent as _};

use crate::{
    helpers::{Received, TestApp, assert_consecutive, spawn_h2_app},
    support::tls::TestCert,
};

/// A server with TLS on and its certificate, for tests that open raw h2 connections too.
async fn spawn_with_cert(
    configure: impl FnOnce(&mut server::config::Config),
) -> (TestApp, TestCert) {
    let cert = TestCert::new();
    let app = spawn_h2_app(&cert, configure).await;
    (app, cert)
}

/// `GET /sse` as a new stream on a raw h2 connection; the response's body.
async fn h2_stream(send: &mut h2::client::SendRequest<Bytes>, port: u16) -> h2::RecvStream {
    h2_request(send, port).await.1
}

/// `GET /sse` on a raw h2 connection: the stream's sending half (to reset it) and the body.
async fn h2_request(
    send: &mut h2::client::SendRequest<Bytes>,
    port: u16,
) -> (h2::SendStream<Bytes>, h2::RecvStream) {
    let request = http::Request::get(format!("https://localhost:{port}{STREAM_PATH}"))
        .body(())
        .expect("a request");
    let (response, stream) = send
        .clone()
        .ready()
        .await
        .expect("connection ready")
        .send_request(request, true)
        .expect("request sent");
    let response = response.await.expect("a response");
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
    (stream, response.into_body())
}

/// The pings of an h2 body, read as fast as they come, each read's window released at once.
fn h2_pings(body: h2::RecvStream) -> impl Stream<Item = Received> {
    let chunks = futures_util::stream::unfold(body, |mut body| async move {
        let chunk = body.data().await?.expect("stream open");
        body.flow_control()
            .release_capacity(chunk.len())
            .expect("capacity released");
        Some((Ok::<_, std::convert::Infallible>(chunk), body))
    });
    chunks.eventsource().filter_map(|event| async move {
        let event = event.expect("well-formed SSE");
        (event.event == Ping::NAME).then(|| {
            Received::parse(&event.id, &event.data)
                .unwrap_or_else(|err| panic!("a malformed ping: {err}"))
        })
    })
}

#[tokio::test]
async fn over_tls_http_1_1_is_still_offered_and_its_stream_closes_the_connection() {
    let (app, cert) = spawn_with_cert(|_| {}).await;
    let response = cert
        .http1_client()
        .get(app.url(STREAM_PATH))
        .send()
        .await
        .expect("server answers");
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["connection"], "close");
}

/// The period of the servers whose streams go away below: ten minutes, so nothing is written to
/// a stream after its first ping, and only the reset or the closed socket can tell the server.
const SILENT_INTERVAL_MS: u64 = 600_000;

/// How soon a slot freed by a client going away must show in `/healthz` ("at once"): the server
/// learns of it from the reset or the closed socket, not from a write, which the period puts off.
const FREED_WITHIN: Duration = Duration::from_millis(500);

/// A stream whose response body the client drops (h2 sends RST_STREAM CANCEL) frees its slot at
/// once; its connection stays open and carries a new stream.
///
/// Needs the carried patch's `poll_reset` in actix-http's h2 dispatcher (vendor/README.md): stock
/// actix-http 3.20 notices a reset only when it next writes to the stream.
#[tokio::test]
async fn h2_a_stream_reset_by_the_client_frees_its_slot_at_once() {
    let (app, cert) = spawn_with_cert(|config| config.interval_ms = SILENT_INTERVAL_MS).await;
    let (mut send, _driver) = cert.connect_h2(app.port, &h2::client::Builder::new()).await;
    let (request, mut body) = h2_request(&mut send, app.port).await;
    body.data().await.expect("the latest ping").expect("read");
    app.wait_for_clients(1, Duration::from_secs(2)).await;

    // Every handle on the stream gone while it is open: h2 resets it (CANCEL).
    drop((request, body));
    app.wait_for_clients(0, FREED_WITHIN).await;

    let mut again = Box::pin(h2_pings(h2_stream(&mut send, app.port).await));
    again.next().await.expect("a ping on the same connection");
    app.wait_for_clients(1, Duration::from_secs(2)).await;
}

/// Five streams on one connection whose client goes away free their slots at once.
///
/// Needs the carried patch's `poll_reset` too.
#[tokio::test]
async fn h2_a_client_that_closes_its_connection_frees_every_slot_at_once() {
    let (app, cert) = spawn_with_cert(|config| config.interval_ms = SILENT_INTERVAL_MS).await;
    let (mut send, driver) = cert.connect_h2(app.port, &h2::client::Builder::new()).await;
    let mut bodies = Vec::new();
    for _ in 0..5 {
        let mut body = h2_stream(&mut send, app.port).await;
        body.data().await.expect("the latest ping").expect("read");
        bodies.push(body);
    }
    app.wait_for_clients(5, Duration::from_secs(2)).await;

    // The task owning the TLS connection goes away: the socket closes under every stream.
    driver.abort();
    let _ = driver.await;
    app.wait_for_clients(0, FREED_WITHIN).await;
    drop((send, bodies));
}

#[tokio::test]
async fn h2_a_stalled_stream_does_not_hold_back_streams_on_its_connection_or_others() {
    let (app, cert) = spawn_with_cert(|config| {
        config.interval_ms = 1;
        // A second of slack: a reader descheduled for a moment on a busy machine is not ended.
        config.client_buffer = 1000;
    })
    .await;
    // Streams on this connection may each have 1 KiB in flight: ten events.
    let mut small_windows = h2::client::Builder::new();
    small_windows.initial_window_size(1024);
    let (mut shared, _shared_driver) = cert.connect_h2(app.port, &small_windows).await;
    let mut stalled = Vec::new();
    for _ in 0..3 {
        // Never read: its window is never released, so the server can send it nothing more.
        stalled.push(h2_stream(&mut shared, app.port).await);
    }
    let beside = h2_pings(h2_stream(&mut shared, app.port).await);
    let (mut other, _other_driver) = cert.connect_h2(app.port, &h2::client::Builder::new()).await;
    let elsewhere = h2_pings(h2_stream(&mut other, app.port).await);

    let started = Instant::now();
    let (beside, elsewhere) = tokio::join!(
        beside.take(2000).collect::<Vec<_>>(),
        elsewhere.take(2000).collect::<Vec<_>>()
    );
    let elapsed = started.elapsed();
    for pings in [&beside, &elsewhere] {
        assert_eq!(pings.len(), 2000);
        assert_consecutive(pings);
    }
    // 2000 pings at 1 ms take about 2 s; readers held back by the stalled streams would take
    // far longer, or see gaps.
    assert!(
        elapsed < Duration::from_secs(6),
        "2000 pings took {elapsed:?}"
    );
    drop(stalled);
}

#[tokio::test]
async fn h2_a_stream_whose_window_never_reopens_gives_its_place_back() {
    // Heartbeats every 200 ms: a stream that takes nothing for 5 of them, and at least 5 s, is
    // stalled.
    let (app, cert) = spawn_with_cert(|config| config.interval_ms = 100).await;
    let mut small_windows = h2::client::Builder::new();
    small_windows.initial_window_size(1024);
    let (mut shared, _shared_driver) = cert.connect_h2(app.port, &small_windows).await;
    // Never read: its 1 KiB window fills within a second and is never released.
    let stalled = h2_stream(&mut shared, app.port).await;
    // Read all along, beside it on the same connection.
    let beside = h2_pings(h2_stream(&mut shared, app.port).await);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let reader = tokio::spawn(beside.take_until(stop_rx).collect::<Vec<Received>>());
    app.wait_for_clients(2, Duration::from_secs(2)).await;
    let started = Instant::now();
    app.wait_for_clients(1, Duration::from_secs(10)).await;
    let freed_after = started.elapsed();
    assert!(
        freed_after >= Duration::from_secs(4),
        "freed after {freed_after:?}: too soon"
    );
    assert_eq!(
        app.metric("pingstream_stalled_streams_freed_total").await,
        1
    );
    // The stream beside it kept its place and every ping.
    let _ = stop_tx.send(());
    let pings = reader.await.expect("the reader");
    assert!(pings.len() >= 40, "only {} pings beside", pings.len());
    assert_consecutive(&pings);
    drop(stalled);
}

#[tokio::test]
async fn accepted_connections_have_tcp_nodelay_so_h2_frames_are_not_held_back_by_nagle() {
    // Without TCP_NODELAY a small write waits for the ACK of the previous one, which the client
    // may delay by ~40 ms (actix-web issue 3841). Read from the server's own socket: it runs in
    // this process, and pidfd_getfd hands the test a duplicate of it.
    let (app, cert) = spawn_with_cert(|_| {}).await;
    let (mut send, _driver) = cert.connect_h2(app.port, &h2::client::Builder::new()).await;
    let mut body = h2_stream(&mut send, app.port).await;
    body.data().await.expect("the latest ping").expect("read");
    let accepted = accepted_sockets(app.port);
    assert_eq!(accepted.len(), 1, "one connection to the server");
    assert_eq!(accepted[0].tcp_nodelay().ok(), Some(true));
}

/// The server's accepted sockets on `port` (not its listener), found among this process's
/// descriptors.
fn accepted_sockets(port: u16) -> Vec<socket2::Socket> {
    use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};
    let pidfd = pidfd_open(getpid(), PidfdFlags::empty()).expect("a pidfd for this process");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd") {
        let Some(fd) = entry
            .ok()
            .and_then(|entry| entry.file_name().to_str()?.parse().ok())
        else {
            continue;
        };
        let Ok(duplicate) = pidfd_getfd(&pidfd, fd, PidfdGetfdFlags::empty()) else {
            continue;
        };
        let socket = socket2::Socket::from(duplicate);
        let local = socket.local_addr().ok().and_then(|addr| addr.as_socket());
        let connected = socket.peer_addr().is_ok();
        if connected && local.is_some_and(|addr| addr.port() == port) {
            found.push(socket);
        }
    }
    found
}
