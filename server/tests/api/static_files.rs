//! The built frontend at `/`, or the build hint when there is none. (That nothing outside the
//! folder is served is `bad_input.rs`'s, over raw requests: a URL client would normalise the `..`
//! away before sending it.)

use reqwest::{Method, Response};

use crate::helpers::{TestApp, spawn_app};

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

/// A built page with a script big enough to be worth compressing, served by a new app.
async fn spawn_app_with_a_script() -> (TestApp, tempfile::TempDir, String) {
    let dist = tempfile::tempdir().expect("a temp dir");
    std::fs::write(
        dist.path().join("index.html"),
        "<!doctype html><title>pingstream</title>",
    )
    .expect("write");
    let script: String = (0..400)
        .map(|i| format!("export function tick{i}(n) {{ return n + {i}; }}\n"))
        .collect();
    std::fs::write(dist.path().join("frontend-0123abcd.js"), &script).expect("write");
    std::fs::write(dist.path().join("empty.txt"), "").expect("write");
    let app = spawn_app(|config| config.static_dir = dist.path().to_owned()).await;
    (app, dist, script)
}

/// `GET path` with `Accept-Encoding: accept` (none when `None`).
async fn get_encoded(app: &TestApp, path: &str, accept: Option<&str>) -> Response {
    let mut request = app.request(Method::GET, path);
    if let Some(accept) = accept {
        request = request.header("Accept-Encoding", accept);
    }
    request.send().await.expect("server answers")
}

#[tokio::test]
async fn files_are_sent_in_the_encoding_the_client_accepts_and_decode_to_the_file() {
    use std::io::Read as _;
    let (app, _dist, script) = spawn_app_with_a_script().await;
    let path = "/frontend-0123abcd.js";

    let brotli = get_encoded(&app, path, Some("gzip, deflate, br, zstd")).await;
    assert_eq!(brotli.status(), 200);
    assert_eq!(brotli.headers()["content-encoding"], "br");
    assert_eq!(brotli.headers()["vary"], "accept-encoding");
    assert_eq!(
        brotli.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let brotli_tag = brotli.headers()["etag"].clone();
    let body = brotli.bytes().await.expect("a body");
    assert!(body.len() < script.len() / 4, "{} bytes", body.len());
    let mut decoded = String::new();
    brotli::Decompressor::new(&body[..], 4096)
        .read_to_string(&mut decoded)
        .expect("a brotli body");
    assert_eq!(decoded, script);

    let gzip = get_encoded(&app, path, Some("gzip")).await;
    assert_eq!(gzip.headers()["content-encoding"], "gzip");
    assert_eq!(gzip.headers()["vary"], "accept-encoding");
    let gzip_tag = gzip.headers()["etag"].clone();
    let body = gzip.bytes().await.expect("a body");
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut decoded)
        .expect("a gzip body");
    assert_eq!(decoded, script);

    for accept in [
        None,
        Some("identity"),
        Some("zstd"),
        Some("br;q=0, gzip;q=0"),
    ] {
        let plain = get_encoded(&app, path, accept).await;
        assert!(
            plain.headers().get("content-encoding").is_none(),
            "{accept:?}"
        );
        assert_eq!(plain.headers()["vary"], "accept-encoding");
        assert_eq!(plain.headers()["content-type"], "text/javascript");
        let plain_tag = plain.headers()["etag"].clone();
        assert_eq!(plain.text().await.expect("a body"), script);
        assert!(
            plain_tag != brotli_tag && plain_tag != gzip_tag && brotli_tag != gzip_tag,
            "one ETag per encoding: {plain_tag:?} {brotli_tag:?} {gzip_tag:?}"
        );
    }

    // A page too small to be worth compressing is sent as it is, with no Vary.
    let page = get_encoded(&app, "/", Some("br, gzip")).await;
    assert!(page.headers().get("content-encoding").is_none());
    assert!(page.headers().get("vary").is_none());
    assert_eq!(page.headers()["cache-control"], "no-cache");
    assert!(page.headers().contains_key("content-security-policy"));
}

#[tokio::test]
async fn a_conditional_request_with_the_etag_of_its_encoding_gets_304() {
    let (app, _dist, _script) = spawn_app_with_a_script().await;
    let path = "/frontend-0123abcd.js";
    let brotli = get_encoded(&app, path, Some("br")).await;
    let tag = brotli.headers()["etag"].clone();

    let again = app
        .request(Method::GET, path)
        .header("Accept-Encoding", "br")
        .header("If-None-Match", tag.clone())
        .send()
        .await
        .expect("server answers");
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], tag);
    assert_eq!(again.headers()["vary"], "accept-encoding");
    assert_eq!(
        again.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(again.bytes().await.expect("no body").is_empty());

    // The brotli ETag does not validate the gzip encoding: that is sent in full.
    let other = app
        .request(Method::GET, path)
        .header("Accept-Encoding", "gzip")
        .header("If-None-Match", tag)
        .send()
        .await
        .expect("server answers");
    assert_eq!(other.status(), 200);
    assert_eq!(other.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn ranges_and_head_requests_behave() {
    let (app, _dist, script) = spawn_app_with_a_script().await;
    let path = "/frontend-0123abcd.js";

    // A range is of the file as it is, whatever encodings are accepted.
    let range = app
        .request(Method::GET, path)
        .header("Accept-Encoding", "br, gzip")
        .header("Range", "bytes=10-19")
        .send()
        .await
        .expect("server answers");
    assert_eq!(range.status(), 206);
    assert!(range.headers().get("content-encoding").is_none());
    assert_eq!(
        range.headers()["content-range"],
        format!("bytes 10-19/{}", script.len())
    );
    assert_eq!(range.text().await.expect("a body"), script[10..20]);

    let beyond = app
        .request(Method::GET, path)
        .header("Range", format!("bytes={}-", script.len() + 10))
        .send()
        .await
        .expect("server answers");
    assert_eq!(beyond.status(), 416);
    assert_eq!(
        beyond.headers()["content-range"],
        format!("bytes */{}", script.len())
    );

    // An empty file has no byte to range over, whatever the range says.
    for range in ["bytes=-5", "bytes=0-", "bytes=0-0"] {
        let empty = app
            .request(Method::GET, "/empty.txt")
            .header("Range", range)
            .send()
            .await
            .expect("server answers");
        assert_eq!(empty.status(), 416, "{range}");
        assert_eq!(empty.headers()["content-range"], "bytes */0", "{range}");
    }
    assert_eq!(app.get_page("/empty.txt").await.status(), 200);

    let full = get_encoded(&app, path, Some("br")).await;
    let brotli_length = full.bytes().await.expect("a body").len();
    let head = app
        .request(Method::HEAD, path)
        .header("Accept-Encoding", "br")
        .send()
        .await
        .expect("server answers");
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-encoding"], "br");
    assert_eq!(head.headers()["content-length"], brotli_length.to_string());
    assert!(head.bytes().await.expect("no body").is_empty());

    // Other methods are refused, as actix-files refuses them.
    let post = app
        .request(Method::POST, path)
        .send()
        .await
        .expect("server answers");
    assert_eq!(post.status(), 405);
}
