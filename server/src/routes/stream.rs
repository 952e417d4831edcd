//! `GET /sse`: the event stream.

use std::time::Duration;

use actix_web::{
    HttpRequest, HttpResponse, Responder as _, ResponseError,
    http::{ConnectionType, StatusCode, header},
    web,
};
use actix_web_lab::sse::Sse;

use crate::hub::{Hub, SubscribeError};

use super::LastEventId;

/// Per-stream settings taken from the config.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// The `retry:` hint sent first.
    pub retry: Duration,
}

impl StreamSettings {
    /// Settings whose streams start with a `retry:` hint of `retry`.
    pub fn new(retry: Duration) -> Self {
        Self { retry }
    }
}

/// Opens a stream: the replay `Last-Event-ID` asks for, then live pings.
///
/// actix-web-lab's `Sse` responder writes the `retry:` hint, then the hub's events (each one's
/// JSON serialized once by the hub, whatever the number of streams); keep-alive comments come
/// from the hub too, one timer for all streams. `Sse` sets `Content-Type: text/event-stream`,
/// `Cache-Control: no-cache` and `Content-Encoding: identity` (never compressed); this adds
/// `X-Accel-Buffering: no` for proxies, and closes the connection when the stream ends, since a
/// browser always reconnects on a fresh one.
pub async fn stream(
    request: HttpRequest,
    hub: web::Data<Hub>,
    settings: web::Data<StreamSettings>,
    LastEventId(resume): LastEventId,
) -> Result<HttpResponse, StreamError> {
    // In a cluster the client may come from a replica that is a moment ahead of this one.
    hub.catch_up(resume).await;
    let subscription = hub.subscribe(resume).map_err(|err| StreamError {
        err,
        retry_after: settings.retry,
    })?;
    let mut response = Sse::from_infallible_stream(subscription)
        .with_retry_duration(settings.retry)
        .respond_to(&request);
    response.headers_mut().insert(
        header::HeaderName::from_static("x-accel-buffering"),
        header::HeaderValue::from_static("no"),
    );
    response
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    Ok(response)
}

/// `HEAD /sse`: the stream's headers without opening a stream (no client slot is taken).
pub async fn head() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .finish()
}

/// A stream request the hub refused: `503` with a `Retry-After` so clients back off.
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
        // Whole seconds, at least one: `Retry-After` has no fractions.
        let seconds = self.retry_after.as_millis().div_ceil(1000).max(1);
        HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, seconds.to_string()))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(format!("{}; retry in {seconds} s\n", self.err))
    }
}
