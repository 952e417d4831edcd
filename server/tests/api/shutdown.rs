//! Stopping: every open stream ends cleanly and the server returns well within a second.

use std::time::Duration;

use crate::helpers::{Transport, over_both_transports, spawn_app, spawn_app_over};

over_both_transports! { shutdown_ends_open_streams_and_returns_within_a_second => open_streams_end_and_the_server_returns_within_a_second }

/// 200 open streams (over HTTP/2, all on one connection) end cleanly when the server stops, and
/// it returns within a second.
pub async fn open_streams_end_and_the_server_returns_within_a_second(transport: Transport) {
    let app = spawn_app_over(transport, |config| config.interval_ms = 100).await;
    let mut streams = Vec::new();
    for _ in 0..200 {
        let mut stream = app.open_stream(None).await;
        stream.next_ping().await;
        streams.push(stream);
    }
    app.wait_for_clients(200, Duration::from_secs(2)).await;
    let ends = tokio::spawn(async move {
        let mut results = Vec::new();
        for stream in streams {
            results.push(stream.until_end(Duration::from_secs(2)).await);
        }
        results
    });
    let took = app.stop().await;
    assert!(took < Duration::from_secs(1), "shutdown took {took:?}");
    let results = ends.await.expect("the readers finish");
    let broken: Vec<_> = results.iter().filter(|result| result.is_err()).collect();
    assert!(
        broken.is_empty(),
        "{} of 200 streams did not end cleanly: {:?}",
        broken.len(),
        broken.first()
    );
}

#[tokio::test]
async fn an_idle_server_stops_at_once() {
    let app = spawn_app(|_| {}).await;
    let took = app.stop().await;
    assert!(took < Duration::from_millis(500), "shutdown took {took:?}");
}
