//! `GET /healthz`: is the server up, is its Redis reachable, how many streams are open, what was
//! the newest event.

use actix_web::{HttpResponse, http::header, web};
use serde::Serialize;

use crate::stream::Hub;

/// The `/healthz` body.
#[derive(Debug, Serialize)]
pub struct Health {
    /// `ok`; `degraded` while Redis is unreachable (streams stay open, new events wait for it);
    /// `stopping` once shutdown has begun.
    pub status: &'static str,
    /// Open event streams.
    pub clients: usize,
    /// Seq of the newest event (of any name), `null` before the first.
    pub last_seq: Option<u64>,
    /// Id of the newest event, `null` before the first.
    pub last_id: Option<String>,
}

/// Reports the hub's status as JSON; `503` while shutting down so a balancer stops sending.
/// `degraded` is still `200`: the replica serves its clients and their resumes from what it
/// has, and when Redis is down every replica is in the same state.
pub async fn healthz(hub: web::Data<Hub>) -> HttpResponse {
    let status = hub.status();
    let body = Health {
        status: if status.closed {
            "stopping"
        } else if status.degraded {
            "degraded"
        } else {
            "ok"
        },
        clients: status.clients,
        last_seq: status.last_id.map(|id| id.seq),
        last_id: status.last_id.map(|id| id.to_string()),
    };
    let mut response = if status.closed {
        HttpResponse::ServiceUnavailable()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}
