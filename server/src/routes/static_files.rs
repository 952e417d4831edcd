//! The built frontend (`trunk build` output), or a page that says how to build it.

use std::path::Path;

use actix_files::Files;
use actix_web::{
    HttpResponse,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::{
        StatusCode,
        header::{self, HeaderValue},
    },
    middleware::{Next, from_fn},
    web,
};

/// Serves `static_dir` at `/` with `index.html` as its index, or the build hint if the folder
/// has no `index.html`. Path traversal is refused by `actix-files` (`..` segments never leave
/// the folder; hidden files are not served).
pub fn configure(cfg: &mut web::ServiceConfig, static_dir: &Path) {
    if static_dir.join("index.html").is_file() {
        cfg.service(
            web::scope("")
                .wrap(from_fn(cache_headers))
                .service(Files::new("/", static_dir).index_file("index.html")),
        );
    } else {
        tracing::warn!(
            dir = %static_dir.display(),
            "no index.html in the static folder; `/` will say how to build the frontend"
        );
        cfg.service(web::resource("/").route(web::get().to(build_hint)));
    }
}

/// Caching for the frontend's files: `index.html` is revalidated on every load, so a new build
/// shows at once; Trunk puts a content hash in every other file's name, so those never change.
async fn cache_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let is_page = {
        let path = req.path();
        path.ends_with('/') || path.ends_with(".html")
    };
    let mut response = next.call(req).await?;
    if response.status() == StatusCode::BAD_REQUEST {
        // actix-files answers 400 for a path that cannot name a file in the folder (an encoded
        // `/` or `..`); for a static site that is simply "not found".
        *response.response_mut().status_mut() = StatusCode::NOT_FOUND;
    }
    if response.status().is_success() {
        let policy = if is_page {
            "no-cache"
        } else {
            "public, max-age=31536000, immutable"
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    Ok(response)
}

/// What `/` says when the frontend has not been built.
async fn build_hint() -> HttpResponse {
    let stream = shared::STREAM_PATH;
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>pingstream: frontend not built</title></head><body>\
             <h1>pingstream</h1><p>The server is running, but the frontend has not been built.</p>\
             <p>Run <code>just build</code> (or <code>just run</code>) in the repository, then \
             reload. The event stream is already live at <a href=\"{stream}\">{stream}</a>.</p>\
             </body></html>\n"
        ))
}
