//! Browser-facing security: CORS closed unless configured, and the page's protective headers.

use reqwest::{Method, Response};
use shared::STREAM_PATH;

use crate::helpers::{TestApp, spawn_app};

/// `GET path` as a page from `origin` sends it.
async fn get_from(app: &TestApp, origin: &str, path: &str) -> Response {
    app.request(Method::GET, path)
        .header("Origin", origin)
        .send()
        .await
        .expect("server answers")
}

#[tokio::test]
async fn cors_is_closed_by_default() {
    let app = spawn_app(|_| {}).await;
    for path in [STREAM_PATH, "/healthz"] {
        let response = get_from(&app, "https://evil.example", path).await;
        assert_eq!(response.status(), 200);
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn only_listed_origins_are_echoed() {
    let app = spawn_app(|config| {
        config.allow_origins = vec![
            "https://app.example".into(),
            "http://localhost:3000/".into(),
        ];
    })
    .await;
    let allowed = get_from(&app, "https://app.example", STREAM_PATH).await;
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert!(
        allowed
            .headers()
            .get_all("vary")
            .iter()
            .any(|v| v == "Origin")
    );
    assert_eq!(allowed.headers()["content-type"], "text/event-stream");
    drop(allowed);

    let trailing_slash_configured = get_from(&app, "http://localhost:3000", "/healthz").await;
    assert_eq!(
        trailing_slash_configured.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );

    for origin in ["https://evil.example", "https://app.example.evil", "null"] {
        let refused = get_from(&app, origin, "/healthz").await;
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{origin}"
        );
    }

    let preflight = app
        .request(Method::OPTIONS, STREAM_PATH)
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "last-event-id")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(
        preflight.headers()["access-control-allow-headers"],
        "last-event-id"
    );
    // The preflight answered by itself: it opened no stream.
    app.wait_for_clients(0, std::time::Duration::from_secs(2))
        .await;
}

#[tokio::test]
async fn the_page_carries_a_strict_content_security_policy() {
    let dist = tempfile::tempdir().unwrap();
    let page = "<!doctype html><html><head><script type=\"module\">import init from '/a.js'; await init();</script></head><body></body></html>";
    std::fs::write(dist.path().join("index.html"), page).unwrap();
    std::fs::write(
        dist.path().join("a-0123.js"),
        "export default async () => {}",
    )
    .unwrap();
    let app = spawn_app(|config| config.static_dir = dist.path().to_owned()).await;

    let index = app.get_page("/").await;
    let csp = index.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.starts_with("default-src 'none'; script-src 'self' 'wasm-unsafe-eval' 'sha256-"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert_eq!(index.headers()["x-content-type-options"], "nosniff");
    assert_eq!(index.headers()["referrer-policy"], "no-referrer");

    for path in ["/a-0123.js", STREAM_PATH, "/healthz", "/metrics"] {
        let response = app.get_page(path).await;
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
        assert_eq!(
            response.headers()["referrer-policy"],
            "no-referrer",
            "{path}"
        );
    }
}
