//! Normal operation: the first ping shows at once, the rest follow in order, and the page runs
//! under the server's Content-Security-Policy without a console error.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use crate::{
    browser::{Browser, Row, one_browser_at_a_time},
    server::{self, QUICK},
};

/// The longest the first ping may take to show after the page has loaded.
const FIRST_PING_WITHIN: Duration = Duration::from_secs(1);

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn first_ping_shows_within_a_second_of_load_and_later_ones_follow_without_gaps() {
    let _turn = one_browser_at_a_time().await;
    // The default one-second interval: the page as people see it.
    let server = server::start(0, &[]);
    let browser = Browser::open().await;

    browser.goto(&server.url("/")).await;
    let loaded = Instant::now();
    let first = browser
        .wait_for("the first ping", |page| !page.pings().is_empty())
        .await;
    let latency = loaded.elapsed();
    println!("first ping rendered {latency:?} after the page loaded");
    assert!(
        latency <= FIRST_PING_WITHIN,
        "the first ping took {latency:?} after load; page text:\n{}",
        first.text
    );

    let shown = first.pings().len();
    let grown = browser
        .wait_for("four more pings", |page| page.pings().len() >= shown + 4)
        .await;
    assert!(
        grown.is("live"),
        "badge {:?} while pings arrive",
        grown.status
    );
    let pings = grown.pings();
    assert_eq!(
        grown.rows,
        pings.iter().copied().map(Row::Ping).collect::<Vec<_>>(),
        "only pings, no gap or reset marks, in normal operation"
    );
    assert!(
        pings.windows(2).all(|pair| pair[0] == pair[1] + 1),
        "counts are consecutive, newest first: {pings:?}"
    );
    assert_eq!(
        grown.received,
        Some(pings.len() as u64),
        "#received counts them"
    );
    assert!(grown.received > first.received, "#received went up");

    if let Some(path) = std::env::var_os("PINGSTREAM_SCREENSHOT") {
        browser
            .wait_for("eight pings for the screenshot", |page| {
                page.pings().len() >= 8
            })
            .await;
        browser.save_screenshot(Path::new(&path)).await;
        println!("screenshot saved to {}", Path::new(&path).display());
    }
    browser.close().await;
}

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn page_streams_under_the_servers_csp_without_console_errors() {
    let _turn = one_browser_at_a_time().await;
    let server = server::start(0, &QUICK);

    let index = reqwest::get(server.url("/"))
        .await
        .expect("the page is served");
    let csp = index
        .headers()
        .get("content-security-policy")
        .expect("the page carries a Content-Security-Policy")
        .to_str()
        .expect("the policy is ASCII")
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
    ] {
        assert!(csp.contains(directive), "no {directive:?} in {csp:?}");
    }

    // Everything below runs under that policy: the wasm, the inline bootstrap, the stream.
    let browser = Browser::open().await;
    browser.goto(&server.url("/")).await;
    browser.wait_live_with(5).await;
    // A line of our own proves the log is being recorded, so an empty one means something.
    browser
        .log_to_console("pingstream e2e: console check")
        .await;
    let console = browser.console().await;
    assert!(
        console
            .iter()
            .any(|entry| entry.message.contains("pingstream e2e: console check")),
        "the browser log is not recorded: {console:#?}"
    );
    let problems: Vec<_> = console
        .iter()
        .filter(|entry| {
            entry.level == "SEVERE"
                || entry.source.as_deref() == Some("security")
                || entry.message.contains("Content Security Policy")
                || entry.message.contains("Refused to")
        })
        .collect();
    println!(
        "{} browser log entries, {} problems",
        console.len(),
        problems.len()
    );
    assert!(problems.is_empty(), "console errors: {problems:#?}");
    browser.close().await;
}
