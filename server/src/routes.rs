//! The one route table: the stream, the publish API and the operations endpoints first, the
//! frontend's files last.

mod bearer;
mod failed_logins;
mod health;
mod last_event_id;
mod metrics;
mod publish;
mod selection;
mod session;
mod static_files;
mod stream;
mod subscriber;

use std::time::Duration;

use actix_web::web;

pub use publish::{BODY_DEADLINE, PublishGate, Rejection, accept_body, relayable};
pub use static_files::StaticSite;
pub use stream::StreamSettings;

/// `Retry-After` for a wait: whole seconds (the header has no fractions), rounded up, at least
/// one. Every refusal that asks a client to come back later says it this way.
fn retry_after_seconds(wait: Duration) -> String {
    wait.as_millis().div_ceil(1000).max(1).to_string()
}

/// A refusal as every route answers one: `status`, `Cache-Control: no-store`, and JSON
/// `{"error": code, "detail": detail}`; the caller adds headers of its own before `json`.
fn refusal(status: actix_web::http::StatusCode) -> actix_web::HttpResponseBuilder {
    let mut response = actix_web::HttpResponse::build(status);
    response.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
    response
}

/// The JSON body of a refusal.
fn refusal_body(code: &str, detail: impl std::fmt::Display) -> serde_json::Value {
    serde_json::json!({ "error": code, "detail": detail.to_string() })
}

/// Registers every route. Expects [`crate::stream::Hub`], [`crate::metrics::Metrics`],
/// [`StreamSettings`], [`PublishGate`] and [`crate::publisher::Publisher`] as app data.
pub fn configure(cfg: &mut web::ServiceConfig, site: Option<&StaticSite>) {
    cfg.service(
        web::resource(shared::STREAM_PATH)
            .route(web::get().to(stream::stream))
            .route(web::head().to(stream::head)),
    )
    .service(
        web::resource(format!("{}{{name}}", shared::PUBLISH_PATH_PREFIX))
            .route(web::post().to(publish::publish))
            .default_service(web::to(publish::other_method)),
    )
    .service(
        web::resource(shared::SESSION_PATH)
            .route(web::get().to(session::current))
            .route(web::post().to(session::sign_in))
            .route(web::delete().to(session::sign_out)),
    )
    .service(web::resource(shared::DEV_SESSION_PATH).route(web::post().to(session::dev_sign_in)))
    .service(web::resource("/healthz").route(web::get().to(health::healthz)))
    .service(web::resource("/metrics").route(web::get().to(metrics::metrics)));
    static_files::configure(cfg, site);
}
