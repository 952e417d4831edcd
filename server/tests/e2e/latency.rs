//! The latency view: each ping row shows how late it arrived, and a sparkline of the last 100
//! latencies, with p50 and p99, follows a fast stream.

use crate::{
    browser::{Browser, one_browser_at_a_time},
    server,
};

/// The sparkline's width in pings.
const POINTS: usize = 100;

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn after_a_hundred_pings_the_sparkline_has_a_hundred_points_and_every_row_its_latency() {
    let _turn = one_browser_at_a_time().await;
    // Fifty pings a second: a hundred within a few seconds.
    let server = server::start(0, &["--interval-ms", "20"]);
    let browser = Browser::open().await;
    browser.goto(&server.url("/")).await;
    let page = browser
        .wait_for("a hundred pings", |page| {
            page.received
                .is_some_and(|received| received >= POINTS as u64)
        })
        .await;
    assert_eq!(page.sparkline_points, Some(POINTS), "{}", page.text);
    assert_eq!(
        page.latencies.len(),
        page.pings().len(),
        "every ping row shows its latency"
    );
    let (p50, p99) = (page.p50.expect("a p50"), page.p99.expect("a p99"));
    println!(
        "p50 {p50} ms, p99 {p99} ms over the last {POINTS} pings; newest rows {:?}",
        &page.latencies[..5]
    );
    assert!(p50 <= p99, "p50 {p50} ms above p99 {p99} ms");
    // Server and browser share this machine's clock: a delivery over loopback is quick.
    assert!(p50 < 1_000, "p50 {p50} ms");
    let more = browser
        .wait_for("fifty more pings", |next| {
            next.received.unwrap_or(0) >= page.received.unwrap_or(0) + 50
        })
        .await;
    assert_eq!(
        more.sparkline_points,
        Some(POINTS),
        "never more than {POINTS}"
    );
    browser.close().await;
}
