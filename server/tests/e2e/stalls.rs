//! Streams that go silent without closing: a half-open connection and a stopped server. The page
//! must stop saying live within 5 s (with the server's default timing) and resume without a gap.

use std::time::{Duration, Instant};

use crate::{
    browser::{Browser, one_browser_at_a_time},
    proxy::{self, Proxy},
    server,
    support::eventually,
};

/// With the default timing (a ping a second, a heartbeat after 2 s of silence) the page calls a
/// stream stalled after 3 s of silence; 5 s is what it promises.
const NOTICED_WITHIN: Duration = Duration::from_secs(5);

/// How much later than the page a poll from here may see what it recorded.
const POLL_SLACK: Duration = Duration::from_secs(1);

/// How long the server stays stopped: longer than several stall budgets, so attempts pile up.
const STOPPED_FOR: Duration = Duration::from_secs(10);

/// How soon after the server runs again the page must be live.
const LIVE_AGAIN_WITHIN: Duration = Duration::from_secs(3);

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn a_half_open_stream_is_noticed_within_five_seconds_and_resumed_without_a_gap() {
    let _turn = one_browser_at_a_time().await;
    let server = server::start(0, &[]);
    let proxy = Proxy::start(server.port).await;
    let browser = Browser::open().await;
    browser.goto(&proxy.url("/")).await;
    browser.wait_live_with(3).await;

    // The badge may leave live for only as long as a fresh connection takes to open: record
    // every change rather than poll.
    let before_freeze = browser.record_status_changes().await;
    proxy.freeze_streams();
    let frozen = Instant::now();
    let last_shown = browser.page().await.newest();
    let left_live = eventually(NOTICED_WITHIN + POLL_SLACK, async || {
        let changes = browser.status_changes().await;
        match changes.iter().find(|change| change.status != "live") {
            Some(change) => Ok(change.at),
            None => Err(changes),
        }
    })
    .await
    .unwrap_or_else(|changes| panic!("still live after the stream froze: {changes:?}"));
    let noticed = Duration::from_secs_f64((left_live - before_freeze).max(0.0) / 1000.0);
    assert!(
        noticed <= NOTICED_WITHIN,
        "the badge left live {noticed:?} after the stream froze"
    );

    // A fresh connection, through the proxy, resuming after the newest ping the page had.
    let requests = eventually(NOTICED_WITHIN + POLL_SLACK, async || {
        let requests = proxy.stream_requests();
        if requests.len() >= 2 {
            Ok(requests)
        } else {
            Err(requests)
        }
    })
    .await
    .unwrap_or_else(|requests| panic!("no fresh connection: {requests:#?}"));
    let resumed_after = requests
        .last()
        .and_then(|resumed| proxy::resume_id(resumed))
        .unwrap_or_else(|| panic!("a fresh connection without a resume id: {requests:#?}"));
    // No notice is published here: every event is a ping, and a ping's seq is its count.
    assert!(
        resumed_after.seq >= last_shown,
        "resumed after seq {}, but #{last_shown} was shown",
        resumed_after.seq
    );
    let after = browser
        .wait_for("live again, three pings on", |page| {
            page.is("live") && page.newest() >= resumed_after.seq + 3
        })
        .await;
    println!(
        "not live {noticed:?} after the stream froze, live again with three more pings {:?} after",
        frozen.elapsed()
    );
    assert!(
        after.only_consecutive_pings(),
        "the pings sent while it was frozen are replayed: {:?}",
        after.rows
    );
    browser.close().await;
}

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn a_stopped_server_is_noticed_within_five_seconds_and_the_page_is_live_again_once_it_runs() {
    let _turn = one_browser_at_a_time().await;
    let server = server::start(0, &[]);
    let browser = Browser::open().await;
    browser.goto(&server.url("/")).await;
    browser.wait_live_with(3).await;

    server.stop();
    let stopped = Instant::now();
    let stalled = browser
        .wait_for_within("the badge to leave live", NOTICED_WITHIN, |page| {
            !page.is("live")
        })
        .await;
    let noticed = stopped.elapsed();
    // Still not live however long it stays stopped (new attempts connect, nothing answers).
    while stopped.elapsed() < STOPPED_FOR {
        let page = browser.page().await;
        assert!(!page.is("live"), "live while the server is stopped");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    server.resume();
    let resumed = Instant::now();
    browser
        .wait_for_within("live again", LIVE_AGAIN_WITHIN, |page| page.is("live"))
        .await;
    let to_live = resumed.elapsed();
    let after = browser
        .wait_for("two pings on", |page| page.newest() >= stalled.newest() + 2)
        .await;
    println!("not live {noticed:?} after SIGSTOP, live {to_live:?} after SIGCONT");
    assert!(
        after.only_consecutive_pings(),
        "no gap across the stop: {:?}",
        after.rows
    );
    browser.close().await;
}
