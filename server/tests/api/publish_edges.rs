//! The publish API's edges under abuse: an address guessing tokens is throttled before its
//! tokens are looked at, and a body that stops arriving is answered `408`.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{TestApp, spawn_app};

const TOKEN: &str = "edges-t0ken";

async fn publishing_app() -> TestApp {
    spawn_app(|config| {
        config.publish_tokens = vec![TOKEN.parse().expect("a token")];
        config.publish_rate = 100_000;
        config.publish_burst = 100_000;
        config.interval_ms = 60_000;
    })
    .await
}

/// A client whose connections come from `address` (a loopback address of its own).
fn client_from(address: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(address))
        .build()
        .expect("a client")
}

#[tokio::test]
async fn ten_thousand_wrong_tokens_from_one_address_get_429s_while_another_address_publishes() {
    let app = publishing_app().await;
    let url = app.url(&format!("{}notice", shared::PUBLISH_PATH_PREFIX));
    let attacker = client_from(Ipv4Addr::new(127, 0, 0, 1));
    let publisher = client_from(Ipv4Addr::new(127, 0, 0, 2));
    let body = json!({"text": "hi", "level": "info"});
    let mut statuses = std::collections::HashMap::<u16, usize>::new();
    for round in 0..100 {
        let tries = (0..100).map(|n| {
            attacker
                .post(&url)
                .bearer_auth(format!("guess-{round}-{n}"))
                .json(&body)
                .send()
        });
        for response in futures_util::future::join_all(tries).await {
            let response = response.expect("answers");
            *statuses.entry(response.status().as_u16()).or_default() += 1;
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                assert!(response.headers().contains_key("retry-after"));
            }
        }
        if round % 10 == 0 {
            let legit = publisher
                .post(&url)
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await;
            assert_eq!(legit.expect("answers").status(), StatusCode::ACCEPTED);
        }
    }
    let throttled = statuses.get(&429).copied().unwrap_or(0);
    // The burst, plus one a second of leak while the test runs.
    assert!(throttled >= 9_900, "{statuses:?}");
    assert_eq!(statuses.values().sum::<usize>(), 10_000);
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_answered_408_within_the_deadline() {
    let app = publishing_app().await;
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connects");
    let head = format!(
        "POST {}notice HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"text\":\"",
        shared::PUBLISH_PATH_PREFIX
    );
    conn.write_all(head.as_bytes()).await.expect("writes");
    let sent = Instant::now();
    let mut answer = vec![0; 1024];
    let n = tokio::time::timeout(Duration::from_secs(8), conn.read(&mut answer))
        .await
        .expect("an answer before the test's own deadline")
        .expect("reads");
    let took = sent.elapsed();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    let deadline = server::routes::BODY_DEADLINE;
    assert!(
        took >= deadline && took < deadline + Duration::from_secs(2),
        "{took:?}"
    );
}
