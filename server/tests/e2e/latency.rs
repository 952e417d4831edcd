//! The latency view: each ping row shows how late it arrived live (or that it was replayed from
//! history), and a chart of the last 100 live latencies, with p50 and p99, follows a fast stream.

use crate::{
    browser::{Browser, one_browser_at_a_time},
    server,
};

/// The chart's width in pings.
const POINTS: usize = 100;

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn the_ping_replayed_at_connect_is_shown_but_left_out_of_the_latency_figures() {
    let _turn = one_browser_at_a_time().await;
    // A ping a second; the page opens once the server has sent two, so its stream starts with
    // the newest of them, from history.
    let server = server::start(0, &["--interval-ms", "1000"]);
    server::wait_for_metric(
        &server,
        "pingstream_events_published_total{event=\"ping\"}",
        2,
    )
    .await;
    let browser = Browser::open().await;
    browser.goto(&server.url("/")).await;
    let page = browser
        .wait_for("the replayed ping and a live one", |page| {
            page.received.is_some_and(|received| received >= 2)
        })
        .await;
    let pings = page.pings();
    assert!(pings.len() >= 2, "{}", page.text);
    // Newest first: the oldest row is the replayed one.
    let (oldest, live) = page.latencies.split_last().expect("ping rows");
    assert_eq!(
        *oldest, None,
        "the replayed ping has no latency: {}",
        page.text
    );
    assert!(
        live.iter().all(Option::is_some),
        "every live ping has one: {:?}",
        page.latencies
    );
    assert!(page.text.contains("from history"), "{}", page.text);
    assert_eq!(
        page.chart_points,
        Some(live.len()),
        "the chart counts the live pings only"
    );
    browser.close().await;
}

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn after_a_hundred_pings_the_chart_has_a_hundred_points_and_every_row_its_latency() {
    let _turn = one_browser_at_a_time().await;
    // Fifty pings a second: a hundred within a few seconds.
    let server = server::start(0, &["--interval-ms", "20"]);
    let browser = Browser::open().await;
    browser.goto(&server.url("/")).await;
    let page = browser
        .wait_for("a hundred live pings", |page| {
            page.received
                .is_some_and(|received| received > POINTS as u64)
        })
        .await;
    assert_eq!(page.chart_points, Some(POINTS), "{}", page.text);
    assert_eq!(
        page.latencies.len(),
        page.pings().len(),
        "every ping row shows its latency"
    );
    let (p50, p99) = (page.p50_us.expect("a p50"), page.p99_us.expect("a p99"));
    println!(
        "p50 {p50} µs, p99 {p99} µs over the last {POINTS} live pings; newest rows {:?} µs",
        &page.latencies[..5]
    );
    assert!(p50 <= p99, "p50 {p50} µs above p99 {p99} µs");
    // Server and browser share this machine's clock: a delivery over loopback is quick.
    assert!(p50 < 1_000_000, "p50 {p50} µs");
    let more = browser
        .wait_for("fifty more pings", |next| {
            next.received.unwrap_or(0) >= page.received.unwrap_or(0) + 50
        })
        .await;
    assert_eq!(more.chart_points, Some(POINTS), "never more than {POINTS}");
    browser.close().await;
}
