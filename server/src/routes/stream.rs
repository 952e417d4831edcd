//! `GET /sse`: the event stream.

use std::time::Duration;

use actix_web::{
    HttpRequest, HttpResponse, Responder as _, ResponseError,
    http::{ConnectionType, StatusCode, Version, header},
    web,
};
use actix_web_lab::sse::Sse;

use shared::Selection;

use crate::{
    access::{Access, Grant},
    stream::{Hub, Reader, SubscribeError},
};

use super::{last_event_id::LastEventId, selection::Topics, subscriber::Subscriber};

/// The headers of every stream answer, `GET` and `HEAD` alike: the SSE content type, never
/// cached, never compressed (a compressing proxy or middleware would buffer it), and never
/// buffered by a proxy that honours `X-Accel-Buffering` (nginx).
const STREAM_HEADERS: [(&str, &str); 4] = [
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache"),
    ("content-encoding", "identity"),
    ("x-accel-buffering", "no"),
];

/// Sets [`STREAM_HEADERS`] on `response`.
fn set_stream_headers(response: &mut HttpResponse) {
    let headers = response.headers_mut();
    for (name, value) in STREAM_HEADERS {
        headers.insert(
            header::HeaderName::from_static(name),
            header::HeaderValue::from_static(value),
        );
    }
}

/// Per-stream settings taken from the config.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// The `retry:` hint around which every stream's own is drawn, and the `Retry-After` of a
    /// refused stream.
    pub retry: Duration,
}

impl StreamSettings {
    /// Settings whose streams start with a `retry:` hint of about `retry`.
    pub fn new(retry: Duration) -> Self {
        Self { retry }
    }

    /// One stream's `retry:` hint: between half and one and a half times `retry`, spread by
    /// `random` (in `0.0..1.0`), so that the browsers a restart drops do not all come back in
    /// the same millisecond.
    pub fn jittered_retry(&self, random: f64) -> Duration {
        let random = if random.is_nan() {
            0.5
        } else {
            random.clamp(0.0, 1.0)
        };
        self.retry.mul_f64(0.5 + random)
    }
}

/// Opens a stream on the topics `?topic=` selects (every topic without one) that the request's
/// subscriber token lets it read (public topics without one), until the token expires: the opening
/// heartbeat (which says how the stream starts), the replay `Last-Event-ID` (or `?lastEventId=`)
/// asks for, then the matching events as they are published.
///
/// actix-web-lab's `Sse` responder writes this stream's jittered `retry:` hint, then the hub's
/// events (each one's JSON serialized once by the hub, whatever the number of streams);
/// heartbeats come from the hub too, one timer for all streams. The answer carries
/// [`STREAM_HEADERS`], as `HEAD` does, and over HTTP/1.x closes the connection when the stream
/// ends, since a browser always reconnects on a fresh one.
pub async fn stream(
    request: HttpRequest,
    hub: web::Data<Hub>,
    settings: web::Data<StreamSettings>,
    LastEventId(resume): LastEventId,
    Topics(selection): Topics,
    Subscriber(grant): Subscriber,
    access: Option<web::Data<Access>>,
) -> Result<HttpResponse, actix_web::Error> {
    not_granted(&selection, grant.as_ref(), access.as_ref())?;
    // In a cluster the client may come from a replica that is a moment ahead of this one.
    hub.catch_up(resume).await.map_err(|err| StreamError {
        err,
        retry_after: settings.retry,
    })?;
    // Timed after the wait, so that the stream ends at the token's expiry, not a wait later.
    let reader = match grant {
        Some(grant) => Reader {
            expires_in: Some(grant.remaining()),
            grants: Some(grant.topics),
        },
        None => Reader::anonymous(),
    };
    let subscription = hub
        .subscribe(resume, selection, reader)
        .map_err(|err| StreamError {
            err,
            retry_after: settings.retry,
        })?;
    let mut response = Sse::from_infallible_stream(subscription)
        .with_retry_duration(settings.jittered_retry(fastrand::f64()))
        .respond_to(&request);
    set_stream_headers(&mut response);
    // Over HTTP/2 the stream is one of many on its connection, and connection-specific headers
    // are malformed there (RFC 9113 section 8.2.2): it just ends.
    if request.version() < Version::HTTP_2 {
        response
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    // HTTP/1.0 has no chunked encoding: its body runs until the connection closes, which is how
    // the stream ends anyway.
    if request.version() == Version::HTTP_10 {
        response.head_mut().no_chunking(true);
    }
    Ok(response)
}

/// Refuses a token holder's selector that names only private topics its grant does not cover
/// (alice, granted `users/alice/**`, asking for `users/*`): a `403`, since the token can never
/// read what was asked. Selectors that mix public and private topics are filtered instead, as
/// every stream is. Without a token (or with tokens off) nothing is refused here: an anonymous
/// stream is only filtered.
fn not_granted(
    selection: &Selection,
    grant: Option<&Grant>,
    access: Option<&web::Data<Access>>,
) -> Result<(), Forbidden> {
    let (Some(grant), Some(access)) = (grant, access) else {
        return Ok(());
    };
    match selection
        .selectors()
        .iter()
        .find(|selector| access.private.covers(selector) && !grant.topics.includes(selector))
    {
        Some(selector) => Err(Forbidden(selector.to_string())),
        None => Ok(()),
    }
}

/// A private selector the token does not grant: `403` JSON.
#[derive(Debug, thiserror::Error)]
#[error("the token does not grant the private topics of {0:?}")]
pub struct Forbidden(String);

impl ResponseError for Forbidden {
    fn status_code(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }

    fn error_response(&self) -> HttpResponse {
        super::refusal(self.status_code()).json(super::refusal_body("forbidden_topic", self))
    }
}

/// `HEAD /sse`: the stream's headers without opening a stream (no client slot is taken), or the
/// refusal `GET` would get for its token and topics (`400`, `401`, `403`): what a browser asks
/// once its `EventSource` gave up, to learn whether retrying can help (a page whose cookie no
/// longer verifies must hear `401`, not "try again").
pub async fn head(
    Topics(selection): Topics,
    Subscriber(grant): Subscriber,
    access: Option<web::Data<Access>>,
) -> Result<HttpResponse, actix_web::Error> {
    not_granted(&selection, grant.as_ref(), access.as_ref())?;
    let mut response = HttpResponse::Ok().finish();
    set_stream_headers(&mut response);
    Ok(response)
}

/// A stream request the hub refused: `503` with a `Retry-After` so clients back off, and JSON
/// `{"error": "unavailable", "detail": …}` like every other refusal.
#[derive(Debug, thiserror::Error)]
#[error("{err}")]
pub struct StreamError {
    err: SubscribeError,
    retry_after: Duration,
}

impl ResponseError for StreamError {
    fn status_code(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }

    fn error_response(&self) -> HttpResponse {
        let seconds = super::retry_after_seconds(self.retry_after);
        super::refusal(self.status_code())
            .insert_header((header::RETRY_AFTER, seconds.clone()))
            .json(super::refusal_body(
                "unavailable",
                format!("{}; retry in {seconds} s", self.err),
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_hints_spread_from_half_to_one_and_a_half_times_the_setting() {
        let settings = StreamSettings::new(Duration::from_millis(2000));
        assert_eq!(settings.jittered_retry(0.0), Duration::from_millis(1000));
        assert_eq!(settings.jittered_retry(0.5), Duration::from_millis(2000));
        assert_eq!(settings.jittered_retry(0.999), Duration::from_millis(2998));
        assert_eq!(settings.jittered_retry(7.0), Duration::from_millis(3000));
        assert_eq!(settings.jittered_retry(-1.0), Duration::from_millis(1000));
        assert_eq!(
            settings.jittered_retry(f64::NAN),
            Duration::from_millis(2000)
        );
    }
}
