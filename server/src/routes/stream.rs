//! `GET /sse`: the event stream.

use std::time::Duration;

use actix_web::{
    HttpRequest, HttpResponse, Responder, ResponseError,
    http::{ConnectionType, StatusCode, header},
    web,
};
use actix_web_lab::sse::Sse;

use crate::hub::{Hub, SubscribeError};

use super::LastEventId;

/// Per-stream settings taken from the config.
#[derive(Debug, Clone, Copy)]
pub struct StreamSettings {
    /// The `retry:` hint sent first.
    pub retry: Duration,
    /// Keep-alive comment period while idle, if any.
    pub keep_alive: Option<Duration>,
}

/// Opens a stream: the replay `Last-Event-ID` asks for, then live pings.
///
/// The response is never compressed (`Content-Encoding: identity`), tells proxies not to buffer
/// it (`X-Accel-Buffering: no`), and closes its connection when it ends, since a browser always
/// reconnects on a fresh one.
pub async fn stream(
    req: HttpRequest,
    hub: web::Data<Hub>,
    settings: web::Data<StreamSettings>,
    LastEventId(resume): LastEventId,
) -> Result<HttpResponse, StreamError> {
    let subscription = hub.subscribe(resume).map_err(|err| StreamError {
        err,
        retry_after: settings.retry,
    })?;
    let mut sse = Sse::from_infallible_stream(subscription).with_retry_duration(settings.retry);
    if let Some(period) = settings.keep_alive {
        sse = sse.with_keep_alive(period);
    }
    let mut response = sse
        .customize()
        .insert_header(("x-accel-buffering", "no"))
        .respond_to(&req)
        .map_into_boxed_body();
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
