//! `POST /events/{name}`: the publish API, through which an application puts its own events
//! into the stream.
//!
//! Each request is checked in the order that costs least first, and refused with the first
//! rule it breaks, always as JSON `{"error": <code>, "detail": <why>}`:
//! publishing off (404) → an address with too many failed logins lately (429) → credentials
//! missing or malformed (401) or wrong (403) → the token's
//! rate (429) → the event's name (404) → its `?topic=` (400) → content type (415) → size (413)
//! → JSON (400) → the event's own rules (422) → the token's topic scope (403) → the stream takes it (202
//! `{"id": …, "topic": …, "topic_seq": …}`), or Redis does not (503).
//! Tokens are compared as SHA-256 digests in constant time ([`subtle::ConstantTimeEq`]), and
//! neither a token nor the `Authorization` header is ever logged or put in a metric.

use std::{num::NonZeroU32, time::Duration};

use actix_web::{
    HttpMessage as _, HttpRequest, HttpResponse, ResponseError,
    http::{StatusCode, header},
    web,
};
use chrono::{DateTime, SubsecRound, Utc};
use futures_util::StreamExt as _;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter, clock::Clock as _};
use sha2::{Digest, Sha256};
use shared::{AppEvent, EventStamp, Notice, Publishable, Selection, TOPIC_PARAM, Topic};
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use super::failed_logins::FailedLogins;
use crate::{
    config::PublishToken,
    metrics::Metrics,
    publisher::{PublishError, Publisher},
    stream::Payload,
};

/// Turns a publisher's JSON into the event's payload on the topic it named (the event's default
/// topic if none), or says what is wrong with it.
type Accept = fn(&[u8], DateTime<Utc>, Option<Topic>) -> Result<Payload, Rejection>;

/// The events publishers may send, by name: one line per [`Publishable`] event of the set.
/// Pings are the server's own and are not listed.
const PUBLISHABLE: &[(&str, Accept)] = &[
    // One line per event: `publishable::<Event>()` (README, Adding an event type).
    publishable::<Notice>(),
];

/// How the publishable event `name`'s body is accepted.
fn accept_for(name: &str) -> Result<Accept, Rejection> {
    PUBLISHABLE
        .iter()
        .find_map(|(publishable, accept)| (*publishable == name).then_some(*accept))
        .ok_or_else(|| Rejection::UnknownEvent(name.to_owned()))
}

/// The listing of `E`: its name and how its body is accepted. The name comes from the type, so
/// a listing cannot pair one event's name with another's rules.
const fn publishable<E: Publishable>() -> (&'static str, Accept)
where
    AppEvent: From<E>,
{
    (E::NAME, accept::<E>)
}

/// Why `body` is not a draft: `400` if it is not JSON at all, `422` if it is JSON but not the
/// draft.
fn refused_json(body: &[u8], err: &serde_json::Error) -> Rejection {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            Rejection::MalformedJson(err.to_string())
        }
        Category::Data if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err() => {
            Rejection::MalformedJson(err.to_string())
        }
        Category::Data => Rejection::Invalid(err.to_string()),
    }
}

/// Reads `body` as `E`'s draft, in one typed parse, and completes it into an event accepted at
/// `time`, on `topic` or else `E`'s default topic.
fn accept<E: Publishable>(
    body: &[u8],
    time: DateTime<Utc>,
    topic: Option<Topic>,
) -> Result<Payload, Rejection>
where
    AppEvent: From<E>,
{
    // serde would also read a struct from an array of its fields in order: not an event's form.
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => Rejection::Invalid("the body must be a JSON object".into()),
                Err(err) => Rejection::MalformedJson(err.to_string()),
            },
        );
    }
    let draft: E::Draft = serde_json::from_slice(body).map_err(|err| refused_json(body, &err))?;
    let event = E::from_draft(draft, time).map_err(|err| Rejection::Invalid(err.0))?;
    let topic = match topic {
        Some(topic) => topic,
        None => E::DEFAULT_TOPIC
            .parse()
            .map_err(|err| Rejection::InvalidTopic(format!("the default topic: {err}")))?,
    };
    Payload::encode(&AppEvent::from(event), topic)
        .map_err(|err| Rejection::Invalid(err.to_string()))
}

/// The payload `body` makes as the publishable event `name`, accepted now on its default topic,
/// or why not: the publish API's checks of a body, apart from HTTP (for the fuzz targets).
///
/// # Errors
/// [`Rejection::UnknownEvent`], [`Rejection::MalformedJson`] or [`Rejection::Invalid`].
pub fn accept_body(name: &str, body: &[u8]) -> Result<Payload, Rejection> {
    let accept = accept_for(name)?;
    accept(body, Utc::now().trunc_subsecs(3), None)
}

/// Whether an event read from the cluster's Redis stream may be relayed to browsers: `data` is
/// the JSON of the event of the set named `name`, and a publishable event keeps the rules its
/// draft would have to keep here (a notice's text, not blank, at most 4,000 characters).
/// Anyone who can write to Redis must not get past this route's checks.
pub fn relayable(name: &str, data: &str) -> bool {
    match <AppEvent as shared::EventSet>::decode(name, data) {
        Ok(AppEvent::Notice(notice)) => {
            let time = notice.time;
            let draft = shared::NoticeDraft {
                text: notice.text,
                level: notice.level,
            };
            Notice::from_draft(draft, time).is_ok()
        }
        Ok(_) => true,
        Err(_) => false,
    }
}

/// The topic `?topic=` names, if any: at most one, a valid [`Topic`].
fn requested_topic(request: &HttpRequest) -> Result<Option<Topic>, Rejection> {
    let mut named = form_urlencoded::parse(request.query_string().as_bytes())
        .filter(|(name, _)| name == TOPIC_PARAM)
        .map(|(_, value)| value);
    let Some(first) = named.next() else {
        return Ok(None);
    };
    if named.next().is_some() {
        return Err(Rejection::InvalidTopic(
            "an event goes on one topic: give `topic` once".into(),
        ));
    }
    first
        .parse()
        .map(Some)
        .map_err(|err: shared::TopicError| Rejection::InvalidTopic(err.to_string()))
}

/// Who may publish, how much, and how often: built once from the config.
pub struct PublishGate {
    tokens: Vec<Token>,
    max_bytes: usize,
    /// Addresses that sent wrong or malformed tokens lately.
    failures: FailedLogins,
}

/// One accepted token: only its digest is kept, its own rate, and the topics it may publish
/// on.
struct Token {
    digest: [u8; 32],
    rate: DefaultDirectRateLimiter,
    /// `None`: any topic.
    scopes: Option<Selection>,
}

impl PublishGate {
    /// A gate that lets `tokens` publish bodies of at most `max_bytes`, each token at `rate`
    /// events per second with `burst` at once. No tokens: publishing is off.
    pub fn new(
        tokens: &[PublishToken],
        max_bytes: usize,
        rate: NonZeroU32,
        burst: NonZeroU32,
    ) -> Self {
        let quota = Quota::per_second(rate).allow_burst(burst);
        Self {
            tokens: tokens
                .iter()
                .map(|token| Token {
                    digest: Sha256::digest(token.secret.expose().as_bytes()).into(),
                    rate: RateLimiter::direct(quota),
                    scopes: token.scopes.clone(),
                })
                .collect(),
            max_bytes,
            failures: FailedLogins::default(),
        }
    }

    /// Which token `request` carries, checked against every configured one in constant time
    /// (the digests have one length, so neither a token's length nor its first differing byte
    /// shows in the time taken).
    fn authenticate(&self, request: &HttpRequest) -> Result<&Token, Rejection> {
        let presented = bearer_token(request)?;
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for token in &self.tokens {
            if bool::from(token.digest.ct_eq(&digest)) {
                found = Some(token);
            }
        }
        found.ok_or(Rejection::Forbidden)
    }
}

/// The token of an `Authorization: Bearer <token>` header ([`super::bearer::token`]).
fn bearer_token(request: &HttpRequest) -> Result<&str, Rejection> {
    super::bearer::token(request)
        .map_err(Rejection::Unauthenticated)?
        .ok_or(Rejection::Unauthenticated("no Authorization header"))
}

/// Checks that the body is declared as JSON.
fn require_json(request: &HttpRequest) -> Result<(), Rejection> {
    match request.mime_type() {
        Ok(Some(mime)) if mime.essence_str() == "application/json" => Ok(()),
        _ => Err(Rejection::UnsupportedMediaType),
    }
}

/// Reads the body, refusing it as soon as it is known to exceed `max` bytes (by its
/// `Content-Length`, or while it arrives), or when it has not all arrived within
/// [`BODY_DEADLINE`].
async fn read_body(
    request: &HttpRequest,
    mut body: web::Payload,
    max: usize,
) -> Result<web::BytesMut, Rejection> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return Err(Rejection::TooLarge(max));
    }
    let read = async {
        let mut bytes = web::BytesMut::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|err| Rejection::Unreadable(err.to_string()))?;
            if bytes.len() + chunk.len() > max {
                return Err(Rejection::TooLarge(max));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    };
    tokio::time::timeout(BODY_DEADLINE, read)
        .await
        .map_err(|_| Rejection::BodyTimeout(BODY_DEADLINE))?
}

/// The longest a publisher may take to send its whole body: a token holder cannot hold
/// connections open by sending a few bytes and going idle.
pub const BODY_DEADLINE: Duration = Duration::from_secs(3);

/// Everything between a request and its event's id.
async fn handle(
    request: &HttpRequest,
    name: &str,
    body: web::Payload,
    gate: &PublishGate,
    publisher: &Publisher,
    metrics: &Metrics,
) -> Result<EventStamp, Rejection> {
    if gate.tokens.is_empty() {
        return Err(Rejection::Off);
    }
    // Throttled addresses are refused before their token is looked at.
    let address = request.peer_addr().map(|peer| peer.ip());
    if let Some(wait) = address.and_then(|address| gate.failures.throttled(address)) {
        return Err(Rejection::TooManyFailures(wait));
    }
    let token = gate.authenticate(request).inspect_err(|_| {
        if let Some(address) = address {
            gate.failures.failed(address);
        }
    })?;
    token.rate.check().map_err(|not_until| {
        Rejection::RateLimited(
            not_until.wait_time_from(governor::clock::DefaultClock::default().now()),
        )
    })?;
    let accept = accept_for(name)?;
    let topic = requested_topic(request)?;
    require_json(request)?;
    let body = read_body(request, body, gate.max_bytes).await?;
    let started = Instant::now();
    let payload = accept(&body, Utc::now().trunc_subsecs(3), topic)?;
    if token
        .scopes
        .as_ref()
        .is_some_and(|scopes| !scopes.matches(&payload.topic))
    {
        return Err(Rejection::OutOfScope);
    }
    let id = publisher.publish(&payload).await.map_err(|err| match err {
        PublishError::Closed => Rejection::Unavailable(err.to_string()),
        PublishError::Unavailable(why) => {
            // The why may name the Redis master's address: for the log, not for publishers.
            tracing::warn!(%why, "a publish was not taken by Redis");
            Rejection::Unavailable("the stream's store did not answer".into())
        }
    })?;
    metrics.observe_publish_latency(started.elapsed());
    Ok(id)
}

/// `POST /events/{name}[?topic=<topic>]`: puts one event into the stream, answered
/// `202 {"id": "<epoch>-<seq>", "topic": "<topic>", "topic_seq": <n>}` once it is there (in a
/// cluster: once Redis has it), or refused as the module doc says.
pub async fn publish(
    request: HttpRequest,
    name: web::Path<String>,
    body: web::Payload,
    gate: web::Data<PublishGate>,
    publisher: web::Data<Publisher>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, Rejection> {
    match handle(&request, &name, body, &gate, &publisher, &metrics).await {
        Ok(stamp) => {
            tracing::debug!(id = %stamp.id, event = ?name, "published");
            Ok(HttpResponse::Accepted()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(serde_json::json!({
                    "id": stamp.id.to_string(),
                    "topic": stamp.topic.as_str(),
                    "topic_seq": stamp.topic_seq,
                })))
        }
        Err(rejection) => {
            // What was refused and why, never who asked: no header is logged.
            tracing::debug!(event = ?name, reason = rejection.code(), "publish refused");
            metrics.count_publish_rejected(rejection.code());
            Err(rejection)
        }
    }
}

/// Any other method on `/events/{name}`: 405 (404 while publishing is off, as for `POST`).
pub async fn other_method(
    gate: web::Data<PublishGate>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, Rejection> {
    let rejection = if gate.tokens.is_empty() {
        Rejection::Off
    } else {
        Rejection::MethodNotAllowed
    };
    metrics.count_publish_rejected(rejection.code());
    Err(rejection)
}

/// Why a publish was refused; each is one status and one `error` code.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Rejection {
    /// No `--publish-token`: the route does not exist.
    #[error("publishing is off: the server was started without --publish-token")]
    Off,
    /// No credentials, or not `Bearer <token>`.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// A well-formed token that is not one of the server's.
    #[error("the token is not one this server accepts")]
    Forbidden,
    /// This address sent too many wrong or malformed tokens lately; may try again after this
    /// long.
    #[error("too many failed attempts from this address; retry later")]
    TooManyFailures(Duration),
    /// The token may not publish on the event's topic.
    #[error("this token may not publish on this topic")]
    OutOfScope,
    /// The token published faster than its rate; may try again after this long.
    #[error("this token publishes faster than its rate; retry later")]
    RateLimited(Duration),
    /// No publishable event has this name.
    #[error("no publishable event is named {0:?}")]
    UnknownEvent(String),
    /// `?topic=` is not one topic.
    #[error("not a topic: {0}")]
    InvalidTopic(String),
    /// Not `Content-Type: application/json`.
    #[error("the body must be sent as Content-Type: application/json")]
    UnsupportedMediaType,
    /// The body is larger than the limit (in bytes).
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    /// The body is not JSON.
    #[error("the body is not JSON: {0}")]
    MalformedJson(String),
    /// The body could not be read (the connection failed mid-body).
    #[error("the body could not be read: {0}")]
    Unreadable(String),
    /// The whole body did not arrive within the deadline.
    #[error("the body did not arrive within {} s", .0.as_secs())]
    BodyTimeout(Duration),
    /// JSON that is not the event: an unknown or missing field, a broken rule.
    #[error("not a valid event: {0}")]
    Invalid(String),
    /// The stream did not take the event (Redis unreachable or slow, or shutting down).
    #[error("the event was not published: {0}")]
    Unavailable(String),
    /// Not `POST`.
    #[error("only POST publishes an event")]
    MethodNotAllowed,
}

/// The `Retry-After` of a refused publish that may succeed later, in whole seconds, at least 1.
const UNAVAILABLE_RETRY: Duration = Duration::from_secs(1);

impl Rejection {
    /// The answer's status and `error` code (also the `reason` label of
    /// `pingstream_publish_rejected_total`): the one table of every refusal.
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Off | Self::UnknownEvent(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Self::OutOfScope => (StatusCode::FORBIDDEN, "forbidden_topic"),
            Self::InvalidTopic(_) => (StatusCode::BAD_REQUEST, "invalid_topic"),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::TooManyFailures(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_failures"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            Self::Unreadable(_) => (StatusCode::BAD_REQUEST, "unreadable_body"),
            Self::BodyTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_event"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        }
    }

    /// The answer's `error` code, which is also the `reason` label of
    /// `pingstream_publish_rejected_total`.
    pub fn code(&self) -> &'static str {
        self.parts().1
    }

    /// How long the publisher should wait before trying again, when it should.
    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited(wait) | Self::TooManyFailures(wait) => Some(*wait),
            Self::Unavailable(_) => Some(UNAVAILABLE_RETRY),
            _ => None,
        }
    }
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = super::refusal(self.status_code());
        match self {
            Self::Unauthenticated(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"pingstream\""));
            }
            Self::Forbidden => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    "Bearer realm=\"pingstream\", error=\"invalid_token\"",
                ));
            }
            Self::MethodNotAllowed => {
                response.insert_header((header::ALLOW, "POST"));
            }
            _ => {}
        }
        if let Some(wait) = self.retry_after() {
            response.insert_header((header::RETRY_AFTER, super::retry_after_seconds(wait)));
        }
        response.json(super::refusal_body(self.code(), self))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn authorization(value: &str) -> HttpRequest {
        TestRequest::default()
            .insert_header((header::AUTHORIZATION, value))
            .to_http_request()
    }

    #[test]
    fn only_a_bearer_token68_is_read() {
        assert_eq!(
            bearer_token(&authorization("Bearer abc-._~+/=")).ok(),
            Some("abc-._~+/=")
        );
        assert_eq!(bearer_token(&authorization("bearer abc")).ok(), Some("abc"));
        for bad in [
            "",
            "Bearer",
            "Bearer ",
            "Basic abc",
            "Bearer a b",
            "Bearer  abc",
            "Bearerabc",
            "Bearer é",
        ] {
            assert!(
                matches!(
                    bearer_token(&authorization(bad)),
                    Err(Rejection::Unauthenticated(_))
                ),
                "{bad:?}"
            );
        }
        assert!(bearer_token(&TestRequest::default().to_http_request()).is_err());
    }

    #[test]
    fn a_body_that_is_not_json_is_malformed_and_json_that_is_not_the_draft_invalid() {
        let time = DateTime::<Utc>::UNIX_EPOCH;
        for malformed in [&b"{"[..], b"", b"nope", b"[1", b"{\"text\": }", b"\xff"] {
            assert!(
                matches!(
                    accept::<Notice>(malformed, time, None),
                    Err(Rejection::MalformedJson(_))
                ),
                "{malformed:?}"
            );
        }
        for invalid in [&b"[1]"[..], b"42", b"null", b"{\"text\": 1}", b"{\"x\": 1}"] {
            assert!(
                matches!(
                    accept::<Notice>(invalid, time, None),
                    Err(Rejection::Invalid(_))
                ),
                "{invalid:?}"
            );
        }
    }

    #[test]
    fn every_configured_token_is_accepted_and_no_other() {
        let tokens: Vec<PublishToken> = ["first", "second"]
            .iter()
            .map(|t| t.parse().unwrap())
            .collect();
        let one = NonZeroU32::MIN;
        let gate = PublishGate::new(&tokens, 100, one, one);
        assert!(gate.authenticate(&authorization("Bearer first")).is_ok());
        assert!(gate.authenticate(&authorization("Bearer second")).is_ok());
        for wrong in ["Bearer firs", "Bearer first2", "Bearer FIRST"] {
            assert!(matches!(
                gate.authenticate(&authorization(wrong)),
                Err(Rejection::Forbidden)
            ));
        }
    }

    #[test]
    fn a_notice_draft_is_completed_with_the_time_and_refused_when_invalid() {
        let time = DateTime::<Utc>::UNIX_EPOCH;
        let body = |json: serde_json::Value| json.to_string().into_bytes();
        let payload = accept::<Notice>(
            &body(serde_json::json!({"text": "hi", "level": "info"})),
            time,
            None,
        )
        .unwrap();
        assert_eq!(payload.name, "notice");
        assert_eq!(payload.topic.as_str(), "notices");
        let on_order = accept::<Notice>(
            &body(serde_json::json!({"text": "hi", "level": "info"})),
            time,
            Some("orders/42".parse().unwrap()),
        )
        .unwrap();
        assert_eq!(on_order.topic.as_str(), "orders/42");
        assert_eq!(
            payload.data,
            r#"{"text":"hi","level":"info","time":"1970-01-01T00:00:00.000000Z"}"#
        );
        for bad in [
            serde_json::json!({"text": "hi", "level": "info", "time": "2026-01-01T00:00:00Z"}),
            serde_json::json!({"text": "hi", "level": "loud"}),
            serde_json::json!({"text": "", "level": "info"}),
            serde_json::json!({"level": "info"}),
            serde_json::json!([1]),
        ] {
            assert!(
                matches!(
                    accept::<Notice>(&body(bad.clone()), time, None),
                    Err(Rejection::Invalid(_))
                ),
                "{bad}"
            );
        }
    }
}
