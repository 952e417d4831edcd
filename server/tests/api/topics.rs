//! Topics over real HTTP: `?topic=` selectors pick what a stream carries, a publish names its
//! topic, a resume replays exactly the matching events and says how it starts, and every topic
//! is numbered without a hole.

use std::{collections::HashMap, time::Duration};

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::{AppEvent, EventStamp, Start};

use crate::{
    helpers::{TestApp, spawn_app},
    support::{SseClient, accepted_stamp},
};

const TOKEN: &str = "t0pics-t0ken";

/// A server that accepts [`TOKEN`], with a ping only every minute, and `configure`'s changes.
async fn topics_app(configure: impl FnOnce(&mut server::config::Config)) -> TestApp {
    spawn_app(|config| {
        config.publish_tokens = vec![TOKEN.parse().expect("a token")];
        config.publish_rate = 10_000;
        config.publish_burst = 10_000;
        config.interval_ms = 60_000;
        configure(config);
    })
    .await
}

fn notice(text: &str) -> Value {
    json!({ "text": text, "level": "info" })
}

/// Publishes a notice saying `text` on `topic` and returns its stamp.
async fn publish(app: &TestApp, topic: &str, text: &str) -> EventStamp {
    accepted_stamp(app.publish_on("notice", topic, TOKEN, &notice(text)).await).await
}

/// The notices `stream` receives until none comes for a while, as (topic, text).
async fn notices(stream: &mut SseClient) -> Vec<(String, String)> {
    let mut received = Vec::new();
    while let Some(event) = stream.next_event_within(Duration::from_millis(300)).await {
        if let AppEvent::Notice(notice) = event.event {
            received.push((event.stamp.topic.to_string(), notice.text));
        }
    }
    received
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(topic, text)| ((*topic).to_owned(), (*text).to_owned()))
        .collect()
}

#[tokio::test]
async fn selectors_pick_exact_topics_one_segment_stars_and_deep_double_stars() {
    let app = topics_app(|_| {}).await;
    let mut exact = app.open_topics(&["orders/1"], None).await;
    let mut star = app.open_topics(&["orders/*"], None).await;
    let mut deep = app.open_topics(&["builds/**"], None).await;
    let mut two = app.open_topics(&["builds/7", "orders/2"], None).await;
    for stream in [&mut exact, &mut star, &mut deep, &mut two] {
        assert_eq!(stream.start().await, Start::Fresh);
    }
    for (topic, text) in [
        ("orders/1", "o1"),
        ("orders/2", "o2"),
        ("orders/1/items", "o1i"),
        ("ordersx/1", "ox1"),
        ("builds/7", "b7"),
        ("builds/7/log", "b7l"),
        ("builds/7/log/raw", "b7lr"),
        ("builds", "b"),
    ] {
        publish(&app, topic, text).await;
    }
    assert_eq!(notices(&mut exact).await, pairs(&[("orders/1", "o1")]));
    assert_eq!(
        notices(&mut star).await,
        pairs(&[("orders/1", "o1"), ("orders/2", "o2")])
    );
    assert_eq!(
        notices(&mut deep).await,
        pairs(&[
            ("builds/7", "b7"),
            ("builds/7/log", "b7l"),
            ("builds/7/log/raw", "b7lr")
        ])
    );
    assert_eq!(
        notices(&mut two).await,
        pairs(&[("orders/2", "o2"), ("builds/7", "b7")])
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("pingstream_streams{selection=\"exact\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pingstream_streams{selection=\"pattern\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pingstream_topic_index_topics 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_stream_without_a_topic_gets_every_topic_as_before() {
    let app = topics_app(|_| {}).await;
    let mut all = app.open_stream(None).await;
    let ping = all.next_ping().await;
    assert_eq!(ping.stamp.topic.as_str(), "ping", "pings go on `ping`");
    let default = accepted_stamp(app.publish("notice", TOKEN, &notice("n")).await).await;
    assert_eq!(default.topic.as_str(), "notices", "notices without a topic");
    publish(&app, "orders/9", "o9").await;
    assert_eq!(
        notices(&mut all).await,
        pairs(&[("notices", "n"), ("orders/9", "o9")])
    );
    assert_eq!(all.heartbeats[0].start, Some(Start::Fresh));
}

#[tokio::test]
async fn malformed_selectors_and_topics_are_a_400_json_error() {
    let app = topics_app(|_| {}).await;
    let long = "a".repeat(300);
    let many: Vec<String> = (0..33).map(|i| format!("t/{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let cases: Vec<Vec<&str>> = vec![
        vec![""],
        vec!["orders//1"],
        vec!["orders/"],
        vec!["***"],
        vec!["a/**/b"],
        vec!["a%01b"],
        vec!["a%0Ab"],
        vec![long.as_str()],
        many,
    ];
    for selectors in cases {
        let response = app.get_topics(&selectors, None).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{selectors:?}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(body["error"], "invalid_topic", "{body}");
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    // The same rules for a publish's topic, plus: one topic per event.
    for topic in [
        "",
        "orders//1",
        "orders/*",
        "a%00",
        long.as_str(),
        "a&topic=b",
    ] {
        let response = app.publish_on("notice", topic, TOKEN, &notice("x")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{topic:?}");
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(body["error"], "invalid_topic", "{topic:?}: {body}");
    }
    assert_eq!(app.connected_clients().await, 0, "no stream was opened");
}

#[tokio::test]
async fn a_resume_replays_exactly_the_matching_events_after_the_cursor_then_live() {
    let app = topics_app(|_| {}).await;
    let mut stamps = Vec::new();
    for (topic, text) in [
        ("orders/1", "a"),
        ("users/1", "b"),
        ("orders/2", "c"),
        ("orders/1", "d"),
        ("users/1", "e"),
        ("orders/3", "f"),
    ] {
        stamps.push(publish(&app, topic, text).await);
    }
    // After "a": the orders after it, and nothing of users/1.
    let mut resumed = app.open_topics(&["orders/*"], Some(stamps[0].id)).await;
    assert_eq!(resumed.start().await, Start::Exact);
    assert_eq!(
        resumed.heartbeats[0].replayed, 3,
        "the opening counts the matching events replayed after it"
    );
    publish(&app, "orders/4", "g").await;
    publish(&app, "users/1", "h").await;
    assert_eq!(
        notices(&mut resumed).await,
        pairs(&[
            ("orders/2", "c"),
            ("orders/1", "d"),
            ("orders/3", "f"),
            ("orders/4", "g")
        ])
    );
    // Resuming after the newest: exact, and nothing to replay.
    let newest = app.last_id().await.expect("events were published");
    let mut caught_up = app.open_topics(&["users/1"], Some(newest)).await;
    assert_eq!(caught_up.start().await, Start::Exact);
    assert_eq!(caught_up.heartbeats[0].replayed, 0);
    assert_eq!(notices(&mut caught_up).await, []);
}

#[tokio::test]
async fn a_cursor_older_than_the_history_or_of_another_run_starts_with_reset() {
    let app = topics_app(|config| config.history = 4).await;
    let first = publish(&app, "orders/1", "a").await;
    for text in ["b", "c", "d", "e", "f"] {
        publish(&app, "orders/1", text).await;
    }
    let mut old = app.open_topics(&["orders/1"], Some(first.id)).await;
    assert_eq!(old.start().await, Start::Reset);
    let replayed = notices(&mut old).await;
    assert_eq!(
        replayed,
        pairs(&[
            ("orders/1", "c"),
            ("orders/1", "d"),
            ("orders/1", "e"),
            ("orders/1", "f")
        ]),
        "what the history still holds"
    );
    let other_run = shared::EventId {
        epoch: shared::Epoch(first.id.epoch.0 ^ 1),
        seq: 3,
    };
    let mut foreign = app.open_topics(&["orders/1"], Some(other_run)).await;
    assert_eq!(foreign.start().await, Start::Reset);
}

#[tokio::test]
async fn every_topic_is_numbered_one_two_three_across_interleaved_publishes() {
    let app = topics_app(|_| {}).await;
    let mut numbers: Vec<(String, u64)> = Vec::new();
    for topic in ["a", "b", "a", "a/x", "b", "a", "c"] {
        let stamp = publish(&app, topic, topic).await;
        numbers.push((stamp.topic.to_string(), stamp.topic_seq));
    }
    let expected = [
        ("a", 1),
        ("b", 1),
        ("a", 2),
        ("a/x", 1),
        ("b", 2),
        ("a", 3),
        ("c", 1),
    ];
    assert_eq!(
        numbers,
        expected
            .iter()
            .map(|(t, n)| ((*t).to_owned(), *n))
            .collect::<Vec<_>>()
    );
    // The stream carries the same numbers in its ids.
    let mut stream = app
        .open_topics(
            &["a"],
            Some(shared::EventId {
                epoch: app.last_id().await.expect("an id").epoch,
                seq: 0,
            }),
        )
        .await;
    let mut seen = Vec::new();
    while let Some(event) = stream.next_event_within(Duration::from_millis(300)).await {
        seen.push(event.stamp.topic_seq);
    }
    assert_eq!(seen, [1, 2, 3]);
}

#[tokio::test]
async fn concurrent_publishes_on_four_topics_number_each_topic_without_a_hole() {
    let app = topics_app(|_| {}).await;
    let topics = ["t/0", "t/1", "t/2", "t/3"];
    let publishes = (0..200).map(|n| {
        let app = &app;
        async move { publish(app, topics[n % 4], &n.to_string()).await }
    });
    let stamps = futures_util::future::join_all(publishes).await;
    let mut by_topic: HashMap<String, Vec<u64>> = HashMap::new();
    let mut ids: Vec<u64> = Vec::new();
    for stamp in &stamps {
        by_topic
            .entry(stamp.topic.to_string())
            .or_default()
            .push(stamp.topic_seq);
        ids.push(stamp.id.seq);
    }
    for (topic, mut numbers) in by_topic {
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=50).collect::<Vec<_>>(), "{topic}");
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 200, "no id names two events");
}
