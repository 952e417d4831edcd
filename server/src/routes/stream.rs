//! `GET /sse`: the event stream.

use std::{convert::Infallible, time::Duration};

use actix_web::{
    HttpResponse, ResponseError,
    body::BodyStream,
    http::{
        ConnectionType, StatusCode,
        header::{self, ContentEncoding},
    },
    web::{self, Bytes},
};
use futures_util::{StreamExt as _, stream};

use crate::hub::{Hub, SubscribeError};

use super::LastEventId;

/// Per-stream settings taken from the config.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// The `retry:` hint sent first.
    pub retry: Duration,
    /// The `retry:` line as it goes on the wire, encoded once for every stream.
    retry_line: Bytes,
}

impl StreamSettings {
    /// Settings whose streams start with a `retry:` hint of `retry`.
    pub fn new(retry: Duration) -> Self {
        Self {
            retry,
            retry_line: Bytes::from(format!("retry: {}\n\n", retry.as_millis())),
        }
    }
}

/// Opens a stream: the replay `Last-Event-ID` asks for, then live pings.
///
/// The body is the `retry:` line, then the hub's events exactly as the hub encoded them (one
/// shared buffer per event, whatever the number of streams); keep-alive comments come from the
/// hub too, one timer for all streams. The response is never compressed
/// (`Content-Encoding: identity`), tells proxies not to buffer it (`X-Accel-Buffering: no`),
/// and closes its connection when it ends, since a browser always reconnects on a fresh one.
pub async fn stream(
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
    let body = stream::once(std::future::ready(settings.retry_line.clone()))
        .chain(subscription)
        .map(Ok::<_, Infallible>);
    let mut response = HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(ContentEncoding::Identity)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .body(BodyStream::new(body));
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
