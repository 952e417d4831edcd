//! The built frontend (`trunk build` output), or a page that says how to build it.

use std::path::{Path, PathBuf};

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
use base64::{Engine, engine::general_purpose::STANDARD};
use sha2::{Digest, Sha256};

/// A built frontend: its folder and the Content-Security-Policy its page needs.
#[derive(Debug, Clone)]
pub struct StaticSite {
    dir: PathBuf,
    csp: HeaderValue,
}

impl StaticSite {
    /// Reads `dir/index.html`; `None` if there is no build there.
    pub fn load(dir: &Path) -> Option<Self> {
        let index = std::fs::read_to_string(dir.join("index.html")).ok()?;
        let csp = content_security_policy(&index);
        let csp = HeaderValue::from_str(&csp).ok()?;
        Some(Self {
            dir: dir.to_owned(),
            csp,
        })
    }
}

/// Serves the site at `/` with `index.html` as its index, or the build hint if there is none.
/// Path traversal is refused by `actix-files` (`..` segments never leave the folder; hidden
/// files are not served).
pub fn configure(cfg: &mut web::ServiceConfig, site: Option<&StaticSite>) {
    match site {
        Some(site) => {
            let csp = site.csp.clone();
            cfg.service(
                web::scope("")
                    .wrap(from_fn(move |req, next| {
                        page_headers(csp.clone(), req, next)
                    }))
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

/// Headers for the frontend's files: caching (`index.html` is revalidated on every load so a
/// new build shows at once; Trunk puts a content hash in every other file's name, so those never
/// change) and the page's Content-Security-Policy.
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
    if response.status().is_success() {
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
