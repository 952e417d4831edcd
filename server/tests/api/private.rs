//! Private topics over real HTTP: events on `--private-topics` reach only streams whose
//! subscriber token (a JWT, from the header, the cookie or `?token=`) grants them, live and
//! replayed; a token that does not verify is a `401`, a private selector it does not grant a
//! `403`; a stream ends when its token expires; publishers can be scoped to topics.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use shared::AppEvent;

use crate::{
    helpers::{TestApp, spawn_app},
    support::{SseClient, accepted_stamp},
};

const PUBLISHER: &str = "publ1sher-t0ken";
const ORDERS_ONLY: &str = "orders-0nly";
const KEY: &str = "subscribe-key-of-at-least-32-bytes!!";
const NEXT_KEY: &str = "the-next-subscribe-key-also-32-bytes";

fn now() -> u64 {
    server::access::now_unix()
}

/// A token signed with `key` by `algorithm` (HS*), with these claims.
fn hs(claims: &Value, key: &str, algorithm: Algorithm) -> String {
    let key = EncodingKey::from_secret(key.as_bytes()).expect("a key");
    jsonwebtoken::encode(&Header::new(algorithm), claims, &key).expect("signs")
}

/// A valid token for `sub` granting `topics` for an hour.
fn token_for(sub: &str, topics: &[&str]) -> String {
    hs(
        &json!({"sub": sub, "exp": now() + 3600, "topics": topics}),
        KEY,
        Algorithm::HS256,
    )
}

/// A server with `users/**` private, the two keys, a publisher for any topic and one scoped to
/// `orders/**`, and `configure`'s changes.
async fn private_app(configure: impl FnOnce(&mut server::config::Config)) -> TestApp {
    spawn_app(|config| {
        config.publish_tokens = vec![
            PUBLISHER.parse().expect("a token"),
            format!("{ORDERS_ONLY}=orders/**").parse().expect("a token"),
        ];
        config.publish_rate = 10_000;
        config.publish_burst = 10_000;
        config.interval_ms = 60_000;
        config.private_topics = vec!["users/**".parse().expect("a selector")];
        config.subscribe_keys = vec![
            KEY.parse().expect("a key"),
            NEXT_KEY.parse().expect("a key"),
        ];
        configure(config);
    })
    .await
}

async fn publish(app: &TestApp, topic: &str, text: &str) -> shared::EventStamp {
    let body = json!({ "text": text, "level": "info" });
    accepted_stamp(app.publish_on("notice", topic, PUBLISHER, &body).await).await
}

/// Opens `request` as a stream; panics unless it is answered 200.
async fn open(request: reqwest::RequestBuilder) -> SseClient {
    let response = request.send().await.expect("server answers");
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        response.text().await
    );
    SseClient::from_response(response)
}

/// The topics of the notices `stream` receives until none comes for a while.
async fn topics_seen(stream: &mut SseClient) -> Vec<String> {
    let mut seen = Vec::new();
    while let Some(event) = stream.next_event_within(Duration::from_millis(400)).await {
        if let AppEvent::Notice(_) = event.event {
            seen.push(event.stamp.topic.to_string());
        }
    }
    seen
}

/// Asserts a refusal's status and `error` code.
async fn assert_refused(response: reqwest::Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status, "{code}");
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["error"], code, "{body}");
}

#[tokio::test]
async fn private_events_reach_only_the_streams_whose_token_grants_them() {
    let app = private_app(|_| {}).await;
    let anonymous_all = open(app.topics_request(&[], None)).await;
    let anonymous_asking = open(app.topics_request(&["news/**", "users/**"], None)).await;
    let alice = open(
        app.topics_request(&[], None)
            .bearer_auth(token_for("alice", &["users/alice/**"])),
    )
    .await;
    let alice_own = open(
        app.topics_request(&["users/alice/**"], None)
            .bearer_auth(token_for("alice", &["users/alice/**"])),
    )
    .await;
    let bob = open(app.topics_request(&["users/bob/**"], None).header(
        header::COOKIE,
        format!("pingstream_token={}", token_for("bob", &["users/bob/**"])),
    ))
    .await;
    for n in 0..100 {
        publish(&app, &format!("news/{}", n % 3), "public").await;
        let user = if n % 2 == 0 { "alice" } else { "bob" };
        publish(&app, &format!("users/{user}/notes"), "private").await;
    }
    let mut streams = [anonymous_all, anonymous_asking, alice, alice_own, bob];
    let mut seen = Vec::new();
    for stream in &mut streams {
        seen.push(topics_seen(stream).await);
    }
    let count =
        |topics: &[String], prefix: &str| topics.iter().filter(|t| t.starts_with(prefix)).count();
    // Anonymous: the 100 public, none of the 100 private, even when asking for users/**.
    for anonymous in &seen[..2] {
        assert_eq!(count(anonymous, "news/"), 100);
        assert_eq!(count(anonymous, "users/"), 0);
    }
    // Alice's every-topic stream: the public ones and hers; never bob's.
    assert_eq!(count(&seen[2], "news/"), 100);
    assert_eq!(count(&seen[2], "users/alice/"), 50);
    assert_eq!(count(&seen[2], "users/bob/"), 0);
    assert_eq!(seen[3].len(), 50);
    assert!(seen[3].iter().all(|t| t == "users/alice/notes"));
    assert_eq!(seen[4].len(), 50, "bob's, through the cookie");
    assert!(seen[4].iter().all(|t| t == "users/bob/notes"));
    let metrics = app.metrics().await;
    assert!(
        !metrics.contains("alice") && !metrics.contains("users/"),
        "no private name in metrics"
    );
}

#[tokio::test]
async fn a_resume_replays_only_what_the_token_grants() {
    let app = private_app(|_| {}).await;
    let before = app.last_id().await.expect("the first ping");
    publish(&app, "users/alice/a", "1").await;
    publish(&app, "users/bob/b", "2").await;
    publish(&app, "news/x", "3").await;
    publish(&app, "users/alice/c", "4").await;
    let mut alice = open(
        app.topics_request(&[], Some(before))
            .bearer_auth(token_for("alice", &["users/alice/**"])),
    )
    .await;
    assert_eq!(alice.start().await, shared::Start::Exact);
    assert_eq!(
        topics_seen(&mut alice).await,
        ["users/alice/a", "news/x", "users/alice/c"]
    );
    let mut anonymous = open(app.topics_request(&[], Some(before))).await;
    assert_eq!(topics_seen(&mut anonymous).await, ["news/x"]);
    // The query token, the last resort, works like the others.
    let mut by_query = open(
        app.topics_request(&["users/bob/*"], Some(before))
            .query(&[("token", token_for("bob", &["users/bob/**"]))]),
    )
    .await;
    assert_eq!(topics_seen(&mut by_query).await, ["users/bob/b"]);
}

#[tokio::test]
async fn bad_tokens_are_401_and_ungranted_private_selectors_403() {
    let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("an EC key");
    let dir = tempfile::tempdir().expect("a temp dir");
    let public_pem = dir.path().join("public.pem");
    std::fs::write(&public_pem, ec.public_key_pem()).expect("writes");
    let app = private_app(|config| {
        config.subscribe_public_keys = vec![public_pem.clone()];
        config.subscribe_audience = Some("pingstream".into());
    })
    .await;
    let claims = |extra: Value| {
        let mut claims = json!({"sub": "alice", "exp": now() + 3600, "aud": "pingstream", "topics": ["users/alice/**"]});
        for (key, value) in extra.as_object().expect("an object") {
            claims[key] = value.clone();
        }
        claims
    };
    let es = |claims: &Value| {
        let key = EncodingKey::from_ec_pem(ec.serialize_pem().as_bytes()).expect("an EC key");
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), claims, &key).expect("signs")
    };
    // Good: HS256 with either key, ES256 with the public key's private half.
    for good in [
        hs(&claims(json!({})), KEY, Algorithm::HS256),
        hs(&claims(json!({})), NEXT_KEY, Algorithm::HS256),
        es(&claims(json!({}))),
    ] {
        let response = app
            .topics_request(&["users/alice/**"], None)
            .bearer_auth(&good)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let valid = hs(&claims(json!({})), KEY, Algorithm::HS256);
    let (head, rest) = valid.split_once('.').expect("a JWT");
    let (payload, _) = rest.split_once('.').expect("a JWT");
    let mut tampered_payload = payload.to_owned().into_bytes();
    tampered_payload[3] ^= 1;
    let bad = [
        (
            "expired",
            hs(&claims(json!({"exp": now() - 30})), KEY, Algorithm::HS256),
        ),
        (
            "tampered",
            format!(
                "{head}.{}.{}",
                String::from_utf8(tampered_payload).unwrap(),
                valid.rsplit('.').next().unwrap()
            ),
        ),
        (
            "alg none",
            format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}."),
        ),
        (
            "wrong aud",
            hs(&claims(json!({"aud": "elsewhere"})), KEY, Algorithm::HS256),
        ),
        (
            "wrong key",
            hs(
                &claims(json!({})),
                "some-other-key-of-at-least-32-bytes!",
                Algorithm::HS256,
            ),
        ),
        (
            "HS signed with the public key",
            hs(&claims(json!({})), &ec.public_key_pem(), Algorithm::HS256),
        ),
        (
            "no exp",
            hs(
                &json!({"sub": "alice", "aud": "pingstream"}),
                KEY,
                Algorithm::HS256,
            ),
        ),
        ("not a JWT", "abc.def.ghi".to_owned()),
    ];
    for (why, token) in &bad {
        for request in [
            app.topics_request(&[], None).bearer_auth(token),
            app.topics_request(&[], None)
                .header(header::COOKIE, format!("pingstream_token={token}")),
        ] {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{why}");
            assert!(
                response.headers().contains_key(header::WWW_AUTHENTICATE),
                "{why}"
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "unauthorized", "{why}: {body}");
        }
    }
    // A bad header is not rescued by a good cookie: the header wins.
    let response = app
        .topics_request(&[], None)
        .bearer_auth("abc.def.ghi")
        .header(header::COOKIE, format!("pingstream_token={valid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Alice asking for every user's topics: 403, not a silently filtered stream.
    for selectors in [
        &["users/*"][..],
        &["users/**"],
        &["users/bob/**"],
        &["news/1", "users/*/x"],
    ] {
        let response = app
            .topics_request(selectors, None)
            .bearer_auth(&valid)
            .send()
            .await
            .unwrap();
        assert_refused(response, StatusCode::FORBIDDEN, "forbidden_topic").await;
    }
    assert_eq!(app.connected_clients().await, 0);
}

#[tokio::test]
async fn a_stream_ends_within_a_second_of_its_token_s_expiry() {
    let app = private_app(|config| config.keep_alive_s = 1).await;
    let token = hs(
        &json!({"sub": "alice", "exp": now() + 3, "topics": ["users/alice/**"]}),
        KEY,
        Algorithm::HS256,
    );
    let expires_at = Instant::now() + Duration::from_secs(3);
    let stream = open(
        app.topics_request(&["users/alice/**"], None)
            .bearer_auth(&token),
    )
    .await;
    let ended = stream.until_end(Duration::from_secs(8)).await;
    assert!(ended.is_ok(), "{ended:?}");
    let late = Instant::now().saturating_duration_since(expires_at);
    assert!(late < Duration::from_secs(1), "ended {late:?} after exp");
    assert!(
        Instant::now() + Duration::from_millis(1100) > expires_at,
        "not before exp"
    );
}

#[tokio::test]
async fn a_scoped_publisher_may_publish_only_within_its_topics() {
    let app = private_app(|_| {}).await;
    let body = json!({"text": "x", "level": "info"});
    let response = app
        .publish_on("notice", "orders/7", ORDERS_ONLY, &body)
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let response = app
        .publish_on("notice", "users/alice", ORDERS_ONLY, &body)
        .await;
    assert_refused(response, StatusCode::FORBIDDEN, "forbidden_topic").await;
    // Its default topic (notices) is outside orders/** too.
    let response = app.publish("notice", ORDERS_ONLY, &body).await;
    assert_refused(response, StatusCode::FORBIDDEN, "forbidden_topic").await;
}

#[tokio::test]
async fn signing_in_sets_an_http_only_cookie_and_signing_out_clears_it() {
    let app = private_app(|_| {}).await;
    let token = token_for("alice", &["users/alice/**"]);
    let signed_in = app
        .request(reqwest::Method::POST, "/session")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    let cookie = signed_in.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    for part in [
        "pingstream_token=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=",
    ] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: not Secure");
    let body: Value = signed_in.json().await.unwrap();
    assert_eq!(body["sub"], "alice");
    let who = app
        .request(reqwest::Method::GET, "/session")
        .header(header::COOKIE, format!("pingstream_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        who.json::<Value>().await.unwrap()["topics"],
        json!(["users/alice/**"])
    );
    let anonymous = app
        .request(reqwest::Method::GET, "/session")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.json::<Value>().await.unwrap()["sub"], Value::Null);
    let bad = app
        .request(reqwest::Method::POST, "/session")
        .bearer_auth("abc.def.ghi")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let out = app
        .request(reqwest::Method::DELETE, "/session")
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let cleared = out.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cleared.starts_with("pingstream_token=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    // Dev login is off unless asked for.
    let dev = app
        .request(reqwest::Method::POST, "/session/dev")
        .json(&json!({"sub": "alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(dev.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn dev_login_signs_in_under_a_name_and_the_cookie_opens_the_private_stream() {
    let app = private_app(|config| config.dev_login = true).await;
    let signed_in = app
        .request(reqwest::Method::POST, "/session/dev")
        .json(&json!({"sub": "carol"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    let cookie = signed_in.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    let (pair, _) = cookie.split_once(';').expect("a cookie");
    let mut carol = open(
        app.topics_request(&["users/carol/**"], None)
            .header(header::COOKIE, pair),
    )
    .await;
    publish(&app, "users/carol/inbox", "hi carol").await;
    publish(&app, "users/dave/inbox", "hi dave").await;
    assert_eq!(topics_seen(&mut carol).await, ["users/carol/inbox"]);
    for bad in [
        json!({"sub": "a/b"}),
        json!({"sub": ""}),
        json!({"sub": "x", "admin": true}),
    ] {
        let response = app
            .request(reqwest::Method::POST, "/session/dev")
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{bad}");
    }
}

#[tokio::test]
async fn dev_login_is_refused_on_a_public_address_unless_forced() {
    let mut config = server::config::Config::for_tests();
    config.dev_login = true;
    config.addr = "0.0.0.0:0".parse().unwrap();
    let refused = server::startup::Application::build(config.clone(), Default::default()).await;
    assert!(refused.is_err(), "--dev-login on 0.0.0.0 must not start");
    config.dev_login_force = true;
    config.static_dir = "/nonexistent-pingstream-dist".into();
    let forced = server::startup::Application::build(config, Default::default()).await;
    assert!(forced.is_ok());
}

#[tokio::test]
async fn the_session_says_whether_dev_login_is_on() {
    for dev_login in [false, true] {
        let app = private_app(|config| config.dev_login = dev_login).await;
        let who = app
            .request(reqwest::Method::GET, shared::SESSION_PATH)
            .send()
            .await
            .unwrap();
        let who: Value = who.json().await.unwrap();
        assert_eq!(who, json!({"sub": null, "dev_login": dev_login}));
    }
}

#[tokio::test]
async fn a_head_of_the_stream_refuses_what_the_stream_would_refuse() {
    let app = private_app(|_| {}).await;
    let alice = format!(
        "pingstream_token={}",
        token_for("alice", &["users/alice/**"])
    );
    let head = |path: &str, cookie: &str| {
        app.request(reqwest::Method::HEAD, path)
            .header(header::COOKIE, cookie.to_owned())
            .send()
    };
    // What a page asks once its `EventSource` gave up: a cookie that no longer verifies must
    // be final, not "try again".
    let stale = head("/sse", "pingstream_token=abc.def.ghi").await.unwrap();
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    let theirs = head("/sse?topic=users/*", &alice).await.unwrap();
    assert_eq!(theirs.status(), StatusCode::FORBIDDEN);
    let mine = head("/sse?topic=users/alice/**", &alice).await.unwrap();
    assert_eq!(mine.status(), StatusCode::OK);
    assert_eq!(head("/sse", "").await.unwrap().status(), StatusCode::OK);
}
