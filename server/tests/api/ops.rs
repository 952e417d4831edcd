//! `/healthz` and `/metrics`.

use std::time::Duration;

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_reports_status_clients_and_last_seq() {
    let app = spawn_app(|config| config.interval_ms = 60_000).await;
    let mut stream = app.open_stream(None).await;
    let first = stream.next_ping().await;
    let response = app.get_health().await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let health: serde_json::Value = response.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["clients"], 1);
    assert_eq!(health["last_seq"], 1);
    assert_eq!(health["last_id"], first.id.to_string());
}

#[tokio::test]
async fn metrics_count_what_happened() {
    let app = spawn_app(|config| {
        config.interval_ms = 20;
        config.max_clients = 2;
    })
    .await;
    let mut first = app.open_stream(None).await;
    let seen = first.take_pings(5).await;
    drop(first);
    app.wait_for_clients(0, Duration::from_secs(2)).await;
    // Let a few pings go by unseen, so the resume has something to replay.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut resumed = app.open_stream(Some(&seen[4].id.to_string())).await;
    resumed.take_pings(3).await;
    let _other = app.open_stream(None).await;
    assert_eq!(app.get_stream().await.status(), 503);

    let response = app.get_metrics().await;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("openmetrics-text")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains("# TYPE pingstream_connected_clients gauge"),
        "{text}"
    );
    assert_eq!(app.metric("pingstream_connected_clients").await, 2);
    assert!(
        app.metric("pingstream_events_published_total{event=\"ping\"}")
            .await
            >= 8
    );
    assert!(
        app.metric("pingstream_events_delivered_total{event=\"ping\"}")
            .await
            >= 8
    );
    assert!(app.metric("pingstream_events_replayed_total").await >= 1);
    assert_eq!(app.metric("pingstream_connections_rejected_total").await, 1);
    assert_eq!(app.metric("pingstream_slow_clients_dropped_total").await, 0);
}

#[tokio::test]
async fn wrong_methods_on_the_stream_get_405() {
    let app = spawn_app(|_| {}).await;
    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let response = app
            .request(method.clone(), shared::STREAM_PATH)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method}");
    }
    let head = app.head_stream().await;
    assert_eq!(head.status(), 200);
    assert_eq!(app.connected_clients().await, 0);
    // HEAD answers the headers GET does.
    let get = app.get_stream().await;
    for name in [
        "content-type",
        "cache-control",
        "content-encoding",
        "x-accel-buffering",
    ] {
        assert_eq!(head.headers().get(name), get.headers().get(name), "{name}");
        assert!(head.headers().contains_key(name), "{name}");
    }
    assert_eq!(head.headers()["content-encoding"], "identity");
}
