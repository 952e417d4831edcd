//! `POST /events/{name}`: every answer of the publish API with its JSON body, and what a
//! published event looks like in the stream and in a resume.

use std::time::Duration;

use reqwest::{Response, StatusCode, header, header::HeaderMap};
use serde_json::{Value, json};
use shared::{AppEvent, EventId, EventSet as _, Level, Notice, Ping, StreamEvent as _};

use crate::{
    helpers::{TestApp, spawn_app},
    support::{ServerProcess, accepted_id, eventually},
};

const TOKEN: &str = "t0ken-for-tests";

/// A server that accepts [`TOKEN`], with a ping only every minute (so the stream holds what a
/// test publishes and the first ping), and `configure`'s changes.
async fn publishing_app(configure: impl FnOnce(&mut server::config::Config)) -> TestApp {
    spawn_app(|config| {
        config.publish_tokens = vec![TOKEN.parse().expect("a token")];
        config.interval_ms = 60_000;
        configure(config);
    })
    .await
}

fn notice(text: &str) -> Value {
    json!({ "text": text, "level": "warning" })
}

/// Asserts the status and the `error` code of a refused publish, and that its body says why;
/// returns its headers.
async fn assert_refused(response: Response, status: StatusCode, code: &str) -> HeaderMap {
    assert_eq!(response.status(), status, "{code}");
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/json",
        "{code}"
    );
    let headers = response.headers().clone();
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|detail| !detail.is_empty()),
        "{body}"
    );
    headers
}

#[tokio::test]
async fn without_a_token_publishing_is_off_and_the_route_answers_404() {
    let app = spawn_app(|_| {}).await;
    let response = app.publish("notice", "anything", &notice("hi")).await;
    assert_refused(response, StatusCode::NOT_FOUND, "not_found").await;
    let get = app
        .request(reqwest::Method::GET, "/events/notice")
        .send()
        .await
        .unwrap();
    assert_refused(get, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn credentials_are_checked_before_anything_else() {
    let app = publishing_app(|_| {}).await;
    let none = app
        .publish_request("notice")
        .json(&notice("hi"))
        .send()
        .await
        .unwrap();
    let none = assert_refused(none, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(
        none[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer"),
    );
    for malformed in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer two words", TOKEN] {
        let response = app
            .publish_request("notice")
            .header(header::AUTHORIZATION, malformed)
            .json(&notice("hi"))
            .send()
            .await
            .unwrap();
        let response = assert_refused(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
        assert!(
            response.contains_key(header::WWW_AUTHENTICATE),
            "{malformed}"
        );
    }
    // A wrong token is refused even for an unknown event: no name is given away.
    for name in ["notice", "no-such-event"] {
        let wrong = app.publish(name, "not-the-token", &notice("hi")).await;
        assert_refused(wrong, StatusCode::FORBIDDEN, "forbidden").await;
    }
}

#[tokio::test]
async fn each_malformed_request_gets_its_own_status_and_error() {
    let app = publishing_app(|config| config.publish_max_bytes = 512).await;
    // Unknown, and known but the server's own.
    for name in ["chat", Ping::NAME] {
        let response = app.publish(name, TOKEN, &notice("hi")).await;
        assert_refused(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    let get = app
        .request(reqwest::Method::GET, "/events/notice")
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let get = assert_refused(get, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    assert_eq!(get[header::ALLOW], "POST");
    let post = |content_type: &'static str, body: String| {
        app.publish_request("notice")
            .bearer_auth(TOKEN)
            .header(header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
    };
    let text = post("text/plain", notice("hi").to_string()).await.unwrap();
    assert_refused(
        text,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let large = post("application/json", notice(&"x".repeat(600)).to_string())
        .await
        .unwrap();
    assert_refused(large, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    for broken in ["{", "", "{\"text\": \"hi\",}", "nul"] {
        let response = post("application/json", broken.to_owned()).await.unwrap();
        assert_refused(response, StatusCode::BAD_REQUEST, "malformed_json").await;
    }
    for invalid in [
        json!({"text": "hi", "level": "info", "colour": "red"}),
        json!({"text": "", "level": "info"}),
        json!({"text": "   ", "level": "info"}),
        json!({"text": "hi", "level": "loud"}),
        json!({"text": "hi"}),
        json!({"text": "hi", "level": "info", "time": "2026-01-01T00:00:00Z"}),
        json!(["hi", "info"]),
    ] {
        let response = post("application/json; charset=utf-8", invalid.to_string())
            .await
            .unwrap();
        assert_refused(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_event").await;
    }
    let metrics = app.metrics().await;
    for (reason, times) in [
        ("not_found", 2),
        ("method_not_allowed", 1),
        ("unsupported_media_type", 1),
        ("payload_too_large", 1),
        ("malformed_json", 4),
        ("invalid_event", 7),
    ] {
        let line = format!("pingstream_publish_rejected_total{{reason=\"{reason}\"}} {times}");
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line:?} in\n{metrics}"
        );
    }
}

#[tokio::test]
async fn an_over_long_text_is_refused_even_under_the_size_limit() {
    let app = publishing_app(|_| {}).await;
    let over = "é".repeat(Notice::MAX_TEXT_CHARS + 1);
    let response = app.publish("notice", TOKEN, &notice(&over)).await;
    assert_refused(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_event").await;
    let longest = "é".repeat(Notice::MAX_TEXT_CHARS);
    accepted_id(app.publish("notice", TOKEN, &notice(&longest)).await).await;
}

#[tokio::test]
async fn every_token_of_a_rotation_publishes_and_each_has_its_own_rate() {
    let app = spawn_app(|config| {
        config.publish_tokens = vec!["old".parse().unwrap(), "new".parse().unwrap()];
        config.publish_rate = 1;
        config.publish_burst = 2;
    })
    .await;
    for token in ["old", "new"] {
        accepted_id(app.publish("notice", token, &notice("1")).await).await;
        accepted_id(app.publish("notice", token, &notice("2")).await).await;
    }
    let limited = app.publish("notice", "old", &notice("3")).await;
    let limited = assert_refused(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let retry: u64 = limited[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    accepted_id(app.publish("notice", "old", &notice("4")).await).await;
}

#[tokio::test]
async fn a_published_notice_is_the_next_event_of_the_stream() {
    let app = publishing_app(|_| {}).await;
    let mut stream = app.open_stream(None).await;
    let ping = stream.next_ping().await;
    let id = accepted_id(
        app.publish(
            "notice",
            TOKEN,
            &json!({"text": "Deploy at 18:00", "level": "critical"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        id,
        EventId {
            seq: ping.id.seq + 1,
            ..ping.id
        }
    );
    let received = stream.next_event().await;
    assert_eq!(received.id, id);
    let AppEvent::Notice(notice) = received.event else {
        panic!("not a notice: {received:?}");
    };
    assert_eq!(
        (notice.text.as_str(), notice.level),
        ("Deploy at 18:00", Level::Critical)
    );
    let age = chrono::Utc::now() - notice.time;
    assert!(
        age.num_seconds().abs() < 5,
        "time set by the server: {}",
        notice.time
    );
    // The wire bytes, as the README shows them.
    let raw = app
        .get_stream_from(crate::helpers::ResumeFrom::Header(&ping.id.to_string()))
        .await;
    let text = crate::helpers::read_raw_until(raw, "critical", Duration::from_secs(5)).await;
    assert!(
        text.contains(&format!("id: {id}:notices:1\nevent: notice\ndata: {{\"text\":\"Deploy at 18:00\",\"level\":\"critical\",\"time\":\"")),
        "{text}"
    );
}

#[tokio::test]
async fn a_resume_from_before_a_notice_replays_it_and_the_pings_around_it_in_order() {
    let app = publishing_app(|config| config.interval_ms = 50).await;
    let mut stream = app.open_stream(None).await;
    let before = stream.take_pings(3).await;
    let notice_id = accepted_id(
        app.publish("notice", TOKEN, &notice("while you were away"))
            .await,
    )
    .await;
    // Let a few pings follow it.
    let mut after = Vec::new();
    while after.len() < 3 {
        let received = stream.next_event().await;
        if received.id.seq > notice_id.seq {
            after.push(received);
        }
    }
    let from = before[0].id;
    let mut resumed = app.open_stream(Some(&from.to_string())).await;
    let mut seqs = Vec::new();
    let mut names = Vec::new();
    while seqs.last().is_none_or(|seq| *seq < after[2].id.seq) {
        let received = resumed.next_event().await;
        names.push(received.event.name());
        seqs.push(received.id.seq);
    }
    let expected: Vec<u64> = (from.seq + 1..=after[2].id.seq).collect();
    assert_eq!(seqs, expected, "no gap, no duplicate");
    let at = usize::try_from(notice_id.seq - from.seq - 1).unwrap();
    assert_eq!(
        names.iter().filter(|name| **name == "notice").count(),
        1,
        "{names:?}"
    );
    assert_eq!(names[at], "notice", "{names:?}");
}

#[tokio::test]
async fn concurrent_publishes_get_distinct_consecutive_seqs() {
    let app = publishing_app(|config| {
        config.publish_rate = 10_000;
        config.publish_burst = 10_000;
    })
    .await;
    let first = app.last_id().await.expect("the first ping");
    let bodies: Vec<Value> = (0..200).map(|n| notice(&n.to_string())).collect();
    let publishes = bodies.iter().map(|body| app.publish("notice", TOKEN, body));
    let mut seqs = Vec::new();
    for response in futures_util::future::join_all(publishes).await {
        seqs.push(accepted_id(response).await.seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (first.seq + 1..=first.seq + 200).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_burst_of_large_notices_keeps_the_history_within_its_byte_limit() {
    const LIMIT: u64 = 64 * 1024;
    let app = publishing_app(|config| {
        config.history_bytes = LIMIT;
        config.publish_rate = 1000;
        config.publish_burst = 1000;
    })
    .await;
    let first = app.last_id().await.expect("the first ping");
    // 4,000 four-byte characters: a body of about 16 KB.
    let large = "😀".repeat(Notice::MAX_TEXT_CHARS);
    let mut last = first;
    for _ in 0..20 {
        last = accepted_id(app.publish("notice", TOKEN, &notice(&large)).await).await;
        let bytes = app.metric("pingstream_history_bytes").await;
        assert!(bytes <= LIMIT, "history holds {bytes} bytes");
    }
    assert!(app.metric("pingstream_history_bytes").await > LIMIT / 2);
    // A client from before the burst is replayed what is left: the newest four (each weighs
    // about 16.1 KB), and its ids show it what it missed.
    let mut resumed = app.open_stream(Some(&first.to_string())).await;
    let oldest_kept = resumed.next_event().await.id.seq;
    assert_eq!(
        oldest_kept,
        last.seq - 3,
        "16 KB notices, 64 KiB of history"
    );
}

#[tokio::test]
async fn the_token_never_reaches_the_log() {
    let secret = "s3cret-publish-token-7f9a";
    let mut command = ServerProcess::command(
        std::path::Path::new("/nonexistent-pingstream-dist"),
        0,
        &["--publish-token", secret],
    );
    command.env("RUST_LOG", "debug,server=trace");
    let server = ServerProcess::spawn(command, 0);
    let app = server.app();
    accepted_id(app.publish("notice", secret, &notice("hi")).await).await;
    let wrong = app
        .publish("notice", &format!("{secret}x"), &notice("hi"))
        .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let metrics = app.metrics().await;
    // Once the log covers both requests, the check below looks where the token could have been.
    let log = eventually(Duration::from_secs(5), async || {
        let log = server.log();
        if log.contains("published") && log.contains("publish refused") {
            Ok(log)
        } else {
            Err(log)
        }
    })
    .await
    .unwrap_or_else(|log| panic!("the requests are not in the log:\n{log}"));
    assert!(log.contains("publishing is on"), "{log}");
    assert!(!log.contains(secret), "{log}");
    assert!(!metrics.contains(secret), "{metrics}");
}
