//! The built frontend (`trunk build` output), or a page that says how to build it.
//!
//! Every file of the build is served from memory in the encoding the request accepts (brotli,
//! gzip or as it is; see [`crate::assets`]), with an ETag per encoding; `actix-files` answers
//! whatever is not one of those files (a 404, a refused traversal, a file added later).

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use actix_files::{Files, HttpRange};
use actix_web::{
    HttpMessage as _, HttpRequest, HttpResponse, HttpResponseBuilder,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    guard,
    http::{
        Method, StatusCode,
        header::{self, AcceptEncoding, HeaderValue, IfNoneMatch},
    },
    middleware::{Next, from_fn},
    web,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use sha2::{Digest, Sha256};

use crate::assets::{Asset, Assets, Coding};

/// A built frontend: its folder, its files in memory with their compressed encodings, and the
/// Content-Security-Policy its page needs.
#[derive(Debug, Clone)]
pub struct StaticSite {
    dir: PathBuf,
    csp: HeaderValue,
    assets: Arc<Assets>,
}

impl StaticSite {
    /// Reads `dir/index.html` and every file beside it, compressing each one worth it
    /// ([`Assets::load`]: blocks, call it from a blocking thread); `None` if there is no build
    /// there.
    pub fn load(dir: &Path) -> Option<Self> {
        if !dir.join("index.html").is_file() {
            return None;
        }
        let started = Instant::now();
        let assets = match Assets::load(dir) {
            Ok(assets) => assets,
            Err(err) => {
                // Still a site: actix-files serves it from disk, uncompressed.
                tracing::warn!(dir = %dir.display(), %err, "could not read the built page into memory");
                Assets::default()
            }
        };
        // The policy of the very page served from memory (read from disk only if that failed).
        let index = match assets.get("/index.html") {
            Some(index) => String::from_utf8_lossy(&index.identity).into_owned(),
            None => std::fs::read_to_string(dir.join("index.html")).ok()?,
        };
        let csp = HeaderValue::from_str(&content_security_policy(&index)).ok()?;
        tracing::info!(
            files = assets.iter().count(),
            identity = assets.download_size(Coding::Identity),
            brotli = assets.download_size(Coding::Brotli),
            gzip = assets.download_size(Coding::Gzip),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "built page compressed in memory"
        );
        Some(Self {
            dir: dir.to_owned(),
            csp,
            assets: Arc::new(assets),
        })
    }
}

/// Serves the site at `/` with `index.html` as its index, or the build hint if there is none.
/// Only the build's own files match the in-memory route; any other path goes to `actix-files`,
/// which refuses traversal (`..` segments never leave the folder; hidden files are not served).
pub fn configure(cfg: &mut web::ServiceConfig, site: Option<&StaticSite>) {
    match site {
        Some(site) => {
            let csp = site.csp.clone();
            let known = Arc::clone(&site.assets);
            let assets = web::Data::from(Arc::clone(&site.assets));
            cfg.service(
                web::scope("")
                    .wrap(from_fn(move |req, next| {
                        page_headers(csp.clone(), req, next)
                    }))
                    .service(
                        web::resource("/{path:.*}")
                            .guard(guard::fn_guard(move |ctx| {
                                known.get(ctx.head().uri.path()).is_some()
                            }))
                            .app_data(assets)
                            .route(web::get().to(asset))
                            .route(web::head().to(asset)),
                    )
                    .service(Files::new("/", &site.dir).index_file("index.html")),
            );
        }
        None => {
            cfg.service(web::resource("/").route(web::get().to(build_hint)));
        }
    }
}

/// The policy for the page Trunk built: its own files only, WebAssembly compilation, and the
/// exact inline bootstrap script Trunk wrote (by hash), nothing else.
fn content_security_policy(index_html: &str) -> String {
    let hashes: String = inline_scripts(index_html)
        .map(|script| {
            format!(
                " 'sha256-{}'",
                STANDARD.encode(Sha256::digest(script.as_bytes()))
            )
        })
        .collect();
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'{hashes}; style-src 'self'; \
         img-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'"
    )
}

/// The bodies of the `<script>` elements that have no `src`.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (attributes, after) = rest.split_once('>')?;
        let (body, _) = after.split_once("</script>")?;
        (!attributes.contains("src=")).then_some(body)
    })
}

/// Headers for the frontend's files: caching (`index.html` is revalidated on every load, so a
/// new build shows as soon as the server serves it: it reads the build once, at start-up; Trunk
/// puts a content hash in every other file's name, so those never change) and the page's
/// Content-Security-Policy.
async fn page_headers(
    csp: HeaderValue,
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
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let policy = if is_page {
            "no-cache"
        } else {
            "public, max-age=31536000, immutable"
        };
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
        if is_page {
            headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        }
    }
    Ok(response)
}

/// Whether a `Range` applies: no `If-Range`, or one naming the file as it is now.
fn if_range_holds(request: &HttpRequest, asset: &Asset) -> bool {
    match request.get_header::<header::IfRange>() {
        None => true,
        Some(header::IfRange::EntityTag(tag)) => tag.strong_eq(&asset.etag(Coding::Identity)),
        // No Last-Modified is sent, so a date cannot name this version.
        Some(header::IfRange::Date(_)) => false,
    }
}

/// The `Range` a request asks for, if it applies: a `GET`, a `bytes=` range, and no `If-Range`
/// naming another version of the file.
fn requested_range<'r>(request: &'r HttpRequest, asset: &Asset) -> Option<&'r str> {
    request
        .headers()
        .get(header::RANGE)
        .filter(|_| request.method() == Method::GET)
        .and_then(|range| range.to_str().ok())
        .filter(|range| if_range_holds(request, asset) && range.starts_with("bytes="))
}

/// Whether `If-None-Match` holds `etag`, the client's copy is current.
fn not_modified(request: &HttpRequest, etag: &header::EntityTag) -> bool {
    match request.get_header::<IfNoneMatch>() {
        Some(IfNoneMatch::Any) => true,
        Some(IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(etag)),
        None => false,
    }
}

/// `response` finished with the single byte `range` of `body`: `206` with its `Content-Range`,
/// or `416` when the range lies outside the file.
fn ranged(mut response: HttpResponseBuilder, body: &web::Bytes, range: &str) -> HttpResponse {
    let length = body.len() as u64;
    match HttpRange::parse(range, length)
        .ok()
        .and_then(|ranges| ranges.first().copied())
    {
        // An empty range (of an empty file, which `HttpRange` can return) has no last byte.
        Some(HttpRange { start, length: len }) if len > 0 => {
            let (Ok(from), Ok(to)) = (usize::try_from(start), usize::try_from(start + len)) else {
                return response.status(StatusCode::RANGE_NOT_SATISFIABLE).finish();
            };
            response
                .status(StatusCode::PARTIAL_CONTENT)
                .insert_header((
                    header::CONTENT_RANGE,
                    format!("bytes {start}-{}/{length}", start + len - 1),
                ))
                .body(body.slice(from..to))
        }
        _ => response
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .insert_header((header::CONTENT_RANGE, format!("bytes */{length}")))
            .finish(),
    }
}

/// One file of the build from memory: the encoding `Accept-Encoding` prefers, `304` when
/// `If-None-Match` holds that encoding's ETag, a single byte range of the file as it is.
async fn asset(request: HttpRequest, assets: web::Data<Assets>) -> HttpResponse {
    let Some(asset) = assets.get(request.path()) else {
        // The route's guard let only known paths in.
        return HttpResponse::NotFound().finish();
    };
    let range = requested_range(&request, asset);
    // A range is of the file as it is; otherwise the best encoding the client takes.
    let coding = match range {
        Some(_) => Coding::Identity,
        None => asset.negotiate(request.get_header::<AcceptEncoding>().as_ref()),
    };
    let body = asset.body(coding).unwrap_or(&asset.identity).clone();
    let etag = asset.etag(coding);
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, asset.content_type.clone()))
        .insert_header(header::ETag(etag.clone()))
        .insert_header((header::ACCEPT_RANGES, "bytes"));
    if asset.has_encodings() {
        response.insert_header((header::VARY, "accept-encoding"));
    }
    if coding != Coding::Identity {
        response.insert_header((header::CONTENT_ENCODING, coding.token()));
    }
    if not_modified(&request, &etag) {
        return response.status(StatusCode::NOT_MODIFIED).finish();
    }
    match range {
        Some(range) => ranged(response, &body, range),
        None => response.body(body),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const TRUNK_PAGE: &str = "<html><head><link rel=\"stylesheet\" href=\"/style.css\"/>\n\
        <script type=\"module\">\nimport init from '/app.js';\nawait init();\n</script>\n\
        <script src=\"/other.js\"></script></head><body></body></html>";

    #[test]
    fn the_policy_allows_exactly_the_inline_bootstrap_script() {
        let bootstrap = "\nimport init from '/app.js';\nawait init();\n";
        let hash = STANDARD.encode(Sha256::digest(bootstrap.as_bytes()));
        let csp = content_security_policy(TRUNK_PAGE);
        assert!(
            csp.contains(&format!(
                "script-src 'self' 'wasm-unsafe-eval' 'sha256-{hash}';"
            )),
            "{csp}"
        );
        assert_eq!(csp.matches("'sha256-").count(), 1, "{csp}");
        assert!(csp.starts_with("default-src 'none';"));
        assert!(!csp.contains("unsafe-inline"));
    }

    #[test]
    fn scripts_with_a_source_are_not_hashed() {
        assert_eq!(inline_scripts("<script src=\"/a.js\"></script>").count(), 0);
        assert_eq!(inline_scripts("<p>no scripts</p>").count(), 0);
    }
}
