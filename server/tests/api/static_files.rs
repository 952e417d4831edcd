//! The built frontend at `/`, or the build hint when there is none. (That nothing outside the
//! folder is served is `security.rs`'s, over raw requests: a URL client would normalise the `..`
//! away before sending it.)

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_frontend_is_served_with_sensible_cache_headers() {
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(
        dist.path().join("index.html"),
        "<!doctype html><title>pingstream</title>",
    )
    .unwrap();
    std::fs::write(dist.path().join("frontend-0123abcd.js"), "export {}").unwrap();
    let app = spawn_app(|config| config.static_dir = dist.path().to_owned()).await;

    let index = app.get_page("/").await;
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["cache-control"], "no-cache");
    assert!(
        index.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        index
            .text()
            .await
            .unwrap()
            .contains("<title>pingstream</title>")
    );

    let asset = app.get_page("/frontend-0123abcd.js").await;
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );

    assert_eq!(app.get_page("/nope.js").await.status(), 404);
}

#[tokio::test]
async fn without_a_build_the_root_says_how_to_make_one() {
    let app = spawn_app(|_| {}).await;
    let response = app.get_page("/").await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(body.contains("just build"), "{body}");
    assert!(body.contains(shared::STREAM_PATH));
    assert_eq!(app.get_page("/index.js").await.status(), 404);
}
