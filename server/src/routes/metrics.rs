//! `GET /metrics`: Prometheus text exposition.

use actix_web::{HttpResponse, http::header, web};

use crate::metrics::Metrics;

/// Renders every metric.
pub async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics.render())
}
