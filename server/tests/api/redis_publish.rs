//! The publish API in a cluster: any replica publishes into the shared Redis stream, one atomic
//! script numbers every event, and a Redis that is down or stuck is answered `503`, never
//! waited on forever and never answered as accepted.

use std::time::{Duration, Instant};

use reqwest::{StatusCode, header};
use rustix::process::Signal;
use serde_json::{Value, json};
use shared::AppEvent;

use super::redis::{RedisServer, Replica};
use crate::support::accepted_id;

const TOKEN: &str = "cluster-t0ken";

fn publishing_replica(redis: &RedisServer) -> Replica {
    Replica::start_with(
        redis,
        &[
            "--publish-token",
            TOKEN,
            "--publish-rate",
            "10000",
            "--publish-burst",
            "10000",
        ],
    )
}

fn notice(text: &str) -> Value {
    json!({ "text": text, "level": "info" })
}

#[tokio::test]
async fn a_notice_published_on_one_replica_reaches_the_clients_of_the_other_under_its_id() {
    let redis = RedisServer::start();
    let (a, b) = (publishing_replica(&redis), publishing_replica(&redis));
    let mut on_b = b.app.open_stream(None).await;
    on_b.next_ping().await;
    let id = accepted_id(a.app.publish("notice", TOKEN, &notice("from A")).await).await;
    let received = loop {
        let received = on_b.next_event().await;
        if received.id.seq >= id.seq {
            break received;
        }
    };
    assert_eq!(received.id, id);
    assert!(
        matches!(&received.event, AppEvent::Notice(notice) if notice.text == "from A"),
        "{received:?}"
    );
}

#[tokio::test]
async fn concurrent_publishes_on_both_replicas_get_distinct_consecutive_seqs() {
    let redis = RedisServer::start();
    let (a, b) = (publishing_replica(&redis), publishing_replica(&redis));
    let mut watcher = a.app.open_stream(None).await;
    let before = watcher.next_ping().await.id;
    drop(watcher);
    let bodies: Vec<Value> = (0..200).map(|n| notice(&n.to_string())).collect();
    let publishes = bodies.iter().flat_map(|body| {
        [
            a.app.publish("notice", TOKEN, body),
            b.app.publish("notice", TOKEN, body),
        ]
    });
    let mut ids = Vec::new();
    for response in futures_util::future::join_all(publishes).await {
        ids.push(accepted_id(response).await);
    }
    let epoch = ids[0].epoch;
    assert!(ids.iter().all(|id| id.epoch == epoch));
    let mut seqs: Vec<u64> = ids.iter().map(|id| id.seq).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 400, "400 distinct seqs");
    // Consecutive among themselves, with the ticks interleaved: the stream a client reads has
    // every seq once, notices and pings together, no hole. (Read by resuming from before them:
    // a client that read nothing during the burst would have fallen past its buffer.)
    let (low, high) = (seqs[0], seqs[399]);
    let mut watcher = a.app.open_stream(Some(&before.to_string())).await;
    let mut seen = Vec::new();
    while seen.last().is_none_or(|seq| *seq < high) {
        seen.push(watcher.next_event().await.id.seq);
    }
    let start = seen
        .iter()
        .position(|seq| *seq == low)
        .expect("the first notice");
    let window = &seen[start..];
    assert_eq!(
        window.to_vec(),
        (low..=high).collect::<Vec<_>>(),
        "no hole, no duplicate"
    );
}

#[tokio::test]
async fn a_publish_while_redis_is_stuck_or_down_is_answered_503_within_its_timeout() {
    let mut redis = RedisServer::start();
    let replica = publishing_replica(&redis);
    let mut stream = replica.app.open_stream(None).await;
    stream.next_ping().await;
    redis.signal(Signal::STOP);
    let started = Instant::now();
    let stuck = replica.app.publish("notice", TOKEN, &notice("stuck")).await;
    let waited = started.elapsed();
    assert_eq!(stuck.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        waited < Duration::from_secs(4),
        "a stuck Redis held the publisher {waited:?}"
    );
    assert!(stuck.headers().contains_key(header::RETRY_AFTER));
    let body: Value = stuck.json().await.expect("JSON");
    assert_eq!(body["error"], "unavailable", "{body}");
    // The stream was not held up meanwhile: the replica still answers and streams heartbeats.
    assert_eq!(replica.app.get_health().await.status(), StatusCode::OK);
    redis.signal(Signal::CONT);
    redis.kill();
    let down = replica.app.publish("notice", TOKEN, &notice("down")).await;
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(down.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(
        replica
            .app
            .metric("pingstream_publish_rejected_total{reason=\"unavailable\"}")
            .await,
        2
    );
}

#[tokio::test]
async fn an_order_published_on_one_replica_reaches_a_pattern_stream_on_the_other_with_its_numbers()
{
    let redis = RedisServer::start();
    let (a, b) = (publishing_replica(&redis), publishing_replica(&redis));
    let mut orders_on_b = b.app.open_topics(&["orders/*"], None).await;
    assert_eq!(orders_on_b.start().await, shared::Start::Fresh);
    a.app
        .publish_on("notice", "users/7", TOKEN, &notice("not an order"))
        .await;
    let stamp = crate::support::accepted_stamp(
        a.app
            .publish_on("notice", "orders/42", TOKEN, &notice("order 42"))
            .await,
    )
    .await;
    assert_eq!((stamp.topic.as_str(), stamp.topic_seq), ("orders/42", 1));
    let received = orders_on_b.next_event().await;
    assert_eq!(received.stamp, stamp, "the same id and topic number on B");
    assert!(
        matches!(&received.event, AppEvent::Notice(notice) if notice.text == "order 42"),
        "{received:?}"
    );
    // Resumed on A from before the order, with B's id: exactly the order.
    let mut resumed = a
        .app
        .open_topics(
            &["orders/*"],
            Some(shared::EventId {
                seq: stamp.id.seq - 1,
                ..stamp.id
            }),
        )
        .await;
    assert_eq!(resumed.start().await, shared::Start::Exact);
    assert_eq!(resumed.next_event().await.stamp, stamp);
    assert!(
        resumed
            .next_event_within(Duration::from_millis(300))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn concurrent_publishes_on_both_replicas_and_four_topics_number_every_topic_without_a_hole() {
    let redis = RedisServer::start();
    let (a, b) = (publishing_replica(&redis), publishing_replica(&redis));
    let topics = ["t/0", "t/1", "t/2", "t/3"];
    let publishes = (0..400).map(|n| {
        let replica = if n % 2 == 0 { &a } else { &b };
        async move {
            crate::support::accepted_stamp(
                replica
                    .app
                    .publish_on("notice", topics[(n / 2) % 4], TOKEN, &notice("n"))
                    .await,
            )
            .await
        }
    });
    let stamps = futures_util::future::join_all(publishes).await;
    let mut by_topic: std::collections::HashMap<String, Vec<u64>> = Default::default();
    for stamp in &stamps {
        by_topic
            .entry(stamp.topic.to_string())
            .or_default()
            .push(stamp.topic_seq);
    }
    assert_eq!(by_topic.len(), 4);
    for (topic, mut numbers) in by_topic {
        numbers.sort_unstable();
        let count = numbers.len() as u64;
        assert_eq!(numbers, (1..=count).collect::<Vec<_>>(), "{topic}");
    }
    let mut ids: Vec<u64> = stamps.iter().map(|stamp| stamp.id.seq).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 400, "no id names two events");
}

#[tokio::test]
async fn a_private_event_published_on_one_replica_reaches_only_its_grantee_on_the_other() {
    const KEY: &str = "cluster-subscribe-key-of-32-bytes!!!";
    let redis = RedisServer::start();
    let private = [
        "--publish-token",
        TOKEN,
        "--private-topics",
        "users/**",
        "--subscribe-key",
        KEY,
    ];
    let (a, b) = (
        Replica::start_with(&redis, &private),
        Replica::start_with(&redis, &private),
    );
    let alice_token = {
        let key = jsonwebtoken::EncodingKey::from_secret(KEY.as_bytes()).expect("a key");
        let claims = json!({"sub": "alice", "exp": server::access::now_unix() + 600, "topics": ["users/alice/**"]});
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).expect("signs")
    };
    let open = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.expect("B answers");
        assert_eq!(response.status(), StatusCode::OK);
        crate::support::SseClient::from_response(response)
    };
    let mut alice_on_b = open(
        b.app
            .topics_request(&["users/alice/**", "news"], None)
            .bearer_auth(&alice_token),
    )
    .await;
    let mut anonymous_on_b = open(b.app.topics_request(&["users/alice/**", "news"], None)).await;
    let private_stamp = crate::support::accepted_stamp(
        a.app
            .publish_on("notice", "users/alice/inbox", TOKEN, &notice("for alice"))
            .await,
    )
    .await;
    let public_stamp = crate::support::accepted_stamp(
        a.app
            .publish_on("notice", "news", TOKEN, &notice("for all"))
            .await,
    )
    .await;
    assert_eq!(alice_on_b.next_event().await.stamp, private_stamp);
    assert_eq!(alice_on_b.next_event().await.stamp, public_stamp);
    assert_eq!(
        anonymous_on_b.next_event().await.stamp,
        public_stamp,
        "the private one never reaches the anonymous stream"
    );
    assert!(
        anonymous_on_b
            .next_event_within(Duration::from_millis(500))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn resumes_from_ahead_of_the_replica_are_bounded_by_the_client_limit_and_never_park_forged_ids()
 {
    let redis = RedisServer::start();
    // A long lease: a request that waited to catch up would wait 10 s, one refused at once not.
    let url = redis.url();
    let replica = crate::support::ServerProcess::start(
        0,
        &[
            "--redis-url",
            &url,
            "--interval-ms",
            "100",
            "--lease-ms",
            "10000",
            "--publish-token",
            TOKEN,
            "--max-clients",
            "10",
            "--publish-rate",
            "10000",
            "--publish-burst",
            "10000",
        ],
    );
    let app = &replica.app();
    let newest = loop {
        if let Some(id) = app.last_id().await {
            break id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let forged = shared::EventId {
        seq: u64::MAX,
        ..newest
    };
    let just_ahead = shared::EventId {
        seq: newest.seq + 500,
        ..newest
    };
    for (what, id) in [("forged", forged), ("just ahead", just_ahead)] {
        let started = Instant::now();
        let requests = (0..500).map(|_| {
            let url = app.url(&format!("{}?lastEventId={id}", shared::STREAM_PATH));
            let client = reqwest::Client::new();
            async move {
                let sent = Instant::now();
                let response = client.get(url).send().await.expect("answers");
                // Hold the 200s open until every request is answered.
                (response.status(), sent.elapsed(), response)
            }
        });
        let publish = async {
            let sent = Instant::now();
            accepted_id(app.publish("notice", TOKEN, &notice("while parked")).await).await;
            sent.elapsed()
        };
        let (answers, publish_took) =
            tokio::join!(futures_util::future::join_all(requests), publish);
        let refused: Vec<Duration> = answers
            .iter()
            .filter(|(status, ..)| *status == StatusCode::SERVICE_UNAVAILABLE)
            .map(|(_, took, _)| *took)
            .collect();
        assert!(
            refused.len() >= 490,
            "{what}: {} of 500 refused",
            refused.len()
        );
        let slowest = refused.iter().max().copied().unwrap_or_default();
        assert!(
            slowest < Duration::from_secs(5),
            "{what}: a refusal took {slowest:?}: it waited instead of being refused at once"
        );
        assert!(
            publish_took < Duration::from_secs(1),
            "{what}: a publish took {publish_took:?} beside the parked requests"
        );
        if what == "forged" {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "forged ids are not waited for: {:?}",
                started.elapsed()
            );
        }
        drop(answers);
        app.wait_for_clients(0, Duration::from_secs(5)).await;
    }
}
