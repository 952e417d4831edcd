//! `Last-Event-ID`: exactly the missed events, whatever the id and whenever the reconnect lands.

use std::time::Duration;

use shared::EventId;

use crate::helpers::{Received, assert_consecutive, spawn_app};

#[tokio::test]
async fn reconnect_with_last_event_id_replays_only_missed_pings() {
    let app = spawn_app(|config| config.interval_ms = 10).await;
    let mut first = app.open_stream(None).await;
    let seen = first.take_pings(5).await;
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let last = seen[4].id.to_string();
    let mut second = app.open_stream(Some(&last)).await;
    let replayed = second.take_pings(40).await;
    let all: Vec<Received> = seen.into_iter().chain(replayed).collect();
    assert_consecutive(&all);
    assert!(app.metric("pingstream_events_replayed_total").await >= 15);
}

#[tokio::test]
async fn resume_under_a_fast_ticker_never_gaps_or_repeats() {
    // At a 1 ms tick, reconnects land while the ticker publishes: the history snapshot and the
    // live subscription must be taken together or an event is lost or doubled.
    let app = spawn_app(|config| config.interval_ms = 1).await;
    let mut all: Vec<Received> = Vec::new();
    let mut stream = app.open_stream(None).await;
    for _ in 0..150 {
        all.extend(stream.take_pings(3).await);
        let last = all.last().unwrap().id.to_string();
        stream = app.open_stream(Some(&last)).await;
    }
    all.extend(stream.take_pings(3).await);
    assert_eq!(all.len(), 453);
    assert_consecutive(&all);
}

#[tokio::test]
async fn an_id_from_another_run_starts_at_the_oldest_retained_ping() {
    let app = spawn_app(|config| {
        config.interval_ms = 20;
        config.history = 10;
    })
    .await;
    let newest = app.open_stream(None).await.next_ping().await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let before = app.health().await["last_count"].as_u64().unwrap();
    let foreign = EventId {
        epoch: shared::Epoch(newest.id.epoch.0 ^ 1),
        count: newest.id.count,
    };
    let mut stream = app.open_stream(Some(&foreign.to_string())).await;
    let pings = stream.take_pings(12).await;
    let after = app.health().await["last_count"].as_u64().unwrap();
    assert_consecutive(&pings);
    let first = pings[0].ping.count;
    // The oldest of the 10 retained when the client subscribed, somewhere between the two looks.
    assert!(
        (before - 9..=after - 9).contains(&first),
        "{first} not in {before}-9..={after}-9"
    );
    assert_eq!(pings[0].id.epoch, newest.id.epoch, "replayed from this run");
}

#[tokio::test]
async fn an_id_older_than_the_history_starts_at_the_oldest_retained_ping() {
    let app = spawn_app(|config| {
        config.interval_ms = 60_000;
        config.history = 3;
    })
    .await;
    let mut live = app.open_stream(None).await;
    let epoch = live.next_ping().await.id.epoch;
    // With a 60 s period only ping 1 exists; an id after count 0 from this run is "older than
    // anything but ping 1", which the history still has.
    let stale = EventId { epoch, count: 0 };
    let mut stream = app.open_stream(Some(&stale.to_string())).await;
    assert_eq!(stream.next_ping().await.ping.count, 1);
}

#[tokio::test]
async fn stale_ids_get_the_whole_history_and_a_visible_gap() {
    let app = spawn_app(|config| {
        config.interval_ms = 2;
        config.history = 5;
    })
    .await;
    let mut first = app.open_stream(None).await;
    let old = first.next_ping().await;
    drop(first);
    // Wait until far more than the history has passed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut stream = app.open_stream(Some(&old.id.to_string())).await;
    let pings = stream.take_pings(12).await;
    assert_consecutive(&pings);
    assert!(
        pings[0].ping.count > old.ping.count + 5,
        "a gap the client can see"
    );
}

#[tokio::test]
async fn unusable_ids_are_treated_as_a_new_client() {
    let app = spawn_app(|config| config.interval_ms = 60_000).await;
    let huge = "9".repeat(20 * 1024);
    for id in [
        "",
        "banana",
        "-1",
        "18446744073709551616",
        "ffffffffffffffff-",
        huge.as_str(),
    ] {
        let mut stream = app.open_stream(Some(id)).await;
        let first = stream.next_ping().await;
        assert_eq!(
            first.ping.count,
            1,
            "Last-Event-ID {:?}",
            &id[..id.len().min(20)]
        );
        assert_eq!(
            stream
                .next_ping_within(Duration::from_millis(100))
                .await
                .map(|p| p.ping),
            None
        );
    }
    // Still streaming for everyone after all that.
    assert_eq!(app.health().await["status"], "ok");
}

#[tokio::test]
async fn an_id_from_the_future_is_treated_as_a_new_client() {
    let app = spawn_app(|config| config.interval_ms = 60_000).await;
    let epoch = app.open_stream(None).await.next_ping().await.id.epoch;
    let future = EventId {
        epoch,
        count: 1_000,
    };
    let mut stream = app.open_stream(Some(&future.to_string())).await;
    assert_eq!(stream.next_ping().await.ping.count, 1);
}
