//! One stream for all the tabs of a browser: the leader tab holds it, the others follow it over a
//! `BroadcastChannel`, and when the leader goes, another tab takes over where it stopped.

use std::time::Duration;

use crate::{
    browser::{Browser, one_browser_at_a_time},
    proxy::{self, Proxy},
    server::{self, QUICK},
};

/// More tabs than the 6 connections per origin a browser allows over HTTP/1.1: with a stream per
/// tab, the 7th would never even load the page.
const TABS: usize = 8;

/// How long a new tab's page may take to load.
const TAB_LOADS_WITHIN: Duration = Duration::from_secs(10);

/// How long `/healthz` may take to count the streams a test expects (a closed tab's stream ends a
/// moment after the tab).
const CLIENTS_WITHIN: Duration = Duration::from_secs(10);

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn eight_tabs_share_one_stream_and_keep_it_without_a_gap_when_the_leader_tab_closes() {
    let _turn = one_browser_at_a_time().await;
    let server = server::start(0, &QUICK);
    // Only to see the stream requests: it forwards everything.
    let proxy = Proxy::start(server.port).await;
    let browser = Browser::open().await;
    let url = proxy.url("/");

    // The first tab is alone: it takes the lock and opens the stream.
    browser.goto(&url).await;
    browser.wait_live_with(3).await;
    let leader = browser.current_tab().await;
    // With a stream per tab, the 7th tab's page never loads.
    browser.set_page_load_timeout(TAB_LOADS_WITHIN).await;
    let mut followers = Vec::new();
    for number in 2..=TABS {
        followers.push(browser.open_tab().await);
        browser.goto(&url).await;
        // The leader's recent pings, all at once: live ones come one every 250 ms.
        let first = browser
            .wait_for(&format!("tab {number}'s first rows"), |page| {
                !page.rows.is_empty()
            })
            .await;
        assert!(
            first.pings().len() >= 3,
            "tab {number} showed {:?} first, not the recent pings",
            first.rows
        );
    }
    for (number, tab) in std::iter::once(&leader).chain(&followers).enumerate() {
        browser.switch_to(tab).await;
        let page = browser
            .wait_for(
                &format!("tab {} live with five pings", number + 1),
                |page| page.is("live") && page.pings().len() >= 5,
            )
            .await;
        assert!(
            page.only_consecutive_pings(),
            "tab {}: {:?}",
            number + 1,
            page.rows
        );
    }
    assert_eq!(
        server.app().connected_clients().await,
        1,
        "one stream for {TABS} tabs"
    );
    assert_eq!(
        proxy.stream_requests().len(),
        1,
        "one stream for {TABS} tabs"
    );

    browser.switch_to(&leader).await;
    let before = browser.page().await.newest();
    browser.close_tab().await;
    for (number, tab) in followers.iter().enumerate() {
        browser.switch_to(tab).await;
        let page = browser
            .wait_for(&format!("tab {} four pings on", number + 2), |page| {
                page.is("live") && page.newest() >= before + 4
            })
            .await;
        assert!(
            page.only_consecutive_pings(),
            "tab {} after the hand-over: {:?}",
            number + 2,
            page.rows
        );
    }
    // The new leader resumed after the newest ping the tabs had.
    let requests = proxy.stream_requests();
    let resumed_after = match requests.as_slice() {
        [_, resumed] => proxy::resume_id(resumed),
        _ => None,
    };
    // No notice is published here: every event is a ping, and a ping's seq is its count.
    assert!(
        resumed_after.is_some_and(|id| id.seq >= before),
        "one new stream, resuming after #{before} or later: {requests:#?}"
    );
    // The old leader's stream is gone and the new one's is the only one, and stays so.
    server.app().wait_for_clients(1, CLIENTS_WITHIN).await;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            server.app().connected_clients().await,
            1,
            "one stream for {} tabs",
            TABS - 1
        );
    }
    browser.close().await;
}

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn tabs_opened_with_share_off_hold_a_stream_each() {
    let _turn = one_browser_at_a_time().await;
    let server = server::start(0, &QUICK);
    let browser = Browser::open().await;
    let url = server.url("/?share=off");
    browser.goto(&url).await;
    browser.open_tab().await;
    browser.goto(&url).await;
    browser.wait_live_with(1).await;
    server.app().wait_for_clients(2, CLIENTS_WITHIN).await;
    browser.close().await;
}
