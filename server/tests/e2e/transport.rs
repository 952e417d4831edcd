//! The page over TLS: Chromium negotiates HTTP/2 for the page, its wasm and its stream, receives
//! the wasm brotli-compressed (and the whole page within 90 KiB), and holds a dozen streams of one
//! origin open at once, where over HTTP/1.1 its six connections per origin would leave the seventh
//! tab waiting.
//!
//! The browser of these tests alone is started with `--ignore-certificate-errors`: the server's
//! certificate is a fresh self-signed one (the README says how to trust one for real use).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Deserialize;

use crate::{
    browser::{Browser, DEADLINE, one_browser_at_a_time},
    server::{self, ServerProcess},
    support::{eventually, tls::TestCert},
};

/// Pages open at once, each with its own stream: twice what HTTP/1.1 allows per origin.
const TABS: usize = 12;

/// What the whole page (everything it loads but its stream) may weigh on the wire: 90 KiB
/// brotli-compressed, the budget README's "Page weight" states.
const PAGE_BUDGET_BYTES: u64 = 90 * 1024;

/// The server serving `dist/` over TLS with `cert`.
fn start_tls(cert: &TestCert) -> ServerProcess {
    let cert_path = cert.cert.display().to_string();
    let key_path = cert.key.display().to_string();
    server::start(0, &["--tls-cert", &cert_path, "--tls-key", &key_path])
}

/// One `PerformanceResourceTiming` entry, as the page reports it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Resource {
    name: String,
    next_hop_protocol: String,
    encoded_body_size: u64,
    decoded_body_size: u64,
}

/// The page's resource entries, with the navigation itself first.
const READ_RESOURCES: &str = r#"
return [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
  .map((entry) => ({
    name: entry.name,
    nextHopProtocol: entry.nextHopProtocol,
    encodedBodySize: entry.encodedBodySize,
    decodedBodySize: entry.decodedBodySize,
  }));
"#;

/// The page's resource entries, the navigation itself first.
async fn read_resources(browser: &Browser) -> Vec<Resource> {
    serde_json::from_value(browser.evaluate(READ_RESOURCES).await).expect("resource entries")
}

/// The first entry whose URL `matches`; panics naming `what` if there is none.
fn find(resources: &[Resource], what: &str, matches: impl Fn(&str) -> bool) -> Resource {
    resources
        .iter()
        .find(|entry| matches(&entry.name))
        .unwrap_or_else(|| panic!("no entry for {what} among {resources:#?}"))
        .clone()
}

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn over_tls_the_page_its_wasm_and_its_stream_come_over_h2_the_wasm_as_brotli_and_the_page_within_90_kib()
 {
    let _turn = one_browser_at_a_time().await;
    let cert = TestCert::new();
    let server = start_tls(&cert);
    let app = server.app().over_h2(&cert);
    let browser = Browser::open_with(&["--ignore-certificate-errors"]).await;

    browser.goto(&app.url("/")).await;
    let page = browser
        .wait_for("the first ping", |page| !page.pings().is_empty())
        .await;
    assert!(page.is("live"), "badge {:?}", page.status);
    let resources = read_resources(&browser).await;
    let wasm = find(&resources, "the wasm", |name| name.ends_with(".wasm"));
    let document = find(&resources, "the page", |name| name.ends_with('/'));
    assert_eq!(document.next_hop_protocol, "h2", "{document:#?}");
    assert_eq!(wasm.next_hop_protocol, "h2", "{wasm:#?}");

    // The wasm crossed the wire as the server's brotli encoding, and decoded to the file.
    let path = wasm
        .name
        .split_once(&format!(":{}", server.port))
        .map(|(_, path)| path.to_owned())
        .expect("a path after the port");
    let brotli = app
        .request(Method::GET, &path)
        .header("Accept-Encoding", "br")
        .send()
        .await
        .expect("the server answers");
    assert_eq!(brotli.headers()["content-encoding"], "br");
    let brotli_size = brotli.bytes().await.expect("a body").len() as u64;
    let file_size = std::fs::metadata(server::dist_dir().join(path.trim_start_matches('/')))
        .expect("the wasm file")
        .len();
    assert_eq!(wasm.encoded_body_size, brotli_size, "{wasm:#?}");
    assert_eq!(wasm.decoded_body_size, file_size, "{wasm:#?}");
    println!(
        "wasm over h2: {brotli_size} bytes brotli for {file_size} bytes ({:.1} %)",
        100.0 * brotli_size as f64 / file_size as f64
    );
    let page_bytes: u64 = resources
        .iter()
        .filter(|entry| !entry.name.contains(shared::STREAM_PATH))
        .map(|entry| entry.encoded_body_size)
        .sum();
    println!(
        "the page on the wire: {page_bytes} bytes in {} responses",
        resources.len()
    );
    assert!(
        page_bytes <= PAGE_BUDGET_BYTES,
        "the page weighs {page_bytes} B on the wire, over its budget of {PAGE_BUDGET_BYTES} B: \
         {resources:#?}"
    );

    // A resource entry is written when its response ends, so the open stream has none yet.
    // SIGTERM ends it cleanly (and the process within a second); the entry says what carried it.
    let (took, status) = server.terminate().await;
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(1), "SIGTERM took {took:?}");
    let stream = eventually(DEADLINE, async || {
        let resources = read_resources(&browser).await;
        resources
            .iter()
            .find(|entry| entry.name.contains(shared::STREAM_PATH))
            .cloned()
            .ok_or(resources)
    })
    .await
    .unwrap_or_else(|resources| {
        panic!("no resource entry for the stream {DEADLINE:?} after it ended: {resources:#?}")
    });
    assert_eq!(stream.next_hop_protocol, "h2", "{stream:#?}");
    assert!(stream.encoded_body_size > 0, "{stream:#?}");
    browser.close().await;
}

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn over_h2_a_dozen_tabs_without_sharing_are_all_live_at_once() {
    let _turn = one_browser_at_a_time().await;
    let cert = TestCert::new();
    let server = start_tls(&cert);
    let app = server.app().over_h2(&cert);
    let browser = Browser::open_with(&["--ignore-certificate-errors"]).await;

    // Each tab holds a stream of its own (`share=off`); all of them stay open.
    let url = app.url("/?share=off");
    let started = Instant::now();
    let mut tabs = vec![browser.current_tab().await];
    browser.goto(&url).await;
    for _ in 1..TABS {
        tabs.push(browser.open_tab().await);
        browser.goto(&url).await;
    }
    for tab in &tabs {
        browser.switch_to(tab).await;
        browser.wait_live_with(1).await;
    }
    println!("{TABS} tabs live after {:?}", started.elapsed());
    // The server holds one stream per tab, all at once.
    app.wait_for_clients(TABS as u64, DEADLINE).await;
    browser.close().await;
}
