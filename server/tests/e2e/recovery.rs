//! The same page, never reloaded, through a server killed and restarted and a server that is
//! full.

use std::time::Instant;

use crate::{
    browser::{Browser, Row, one_browser_at_a_time},
    server::{self, QUICK, free_port},
};

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn page_resumes_after_the_server_is_killed_and_restarted_on_the_same_port() {
    let _turn = one_browser_at_a_time().await;
    let port = free_port();
    let server = server::start(port, &QUICK);
    let browser = Browser::open().await;
    browser.goto(&server.url("/")).await;
    let before = browser.wait_live_with(3).await;
    browser.mark_page().await;

    server.kill();
    browser
        .wait_for("the badge to say reconnecting", |page| {
            page.is("reconnecting")
        })
        .await;

    let server = server::start(port, &QUICK);
    let restarted = Instant::now();
    browser.wait_for("live again", |page| page.is("live")).await;
    let to_live = restarted.elapsed();
    let after = browser
        .wait_for("two new pings after a reset mark", |page| {
            page.pings_since_reset()
                .is_some_and(|pings| pings.len() >= 2)
        })
        .await;
    println!(
        "live {to_live:?} after the restart, two new pings {:?} after it",
        restarted.elapsed()
    );

    assert!(after.marked, "the page was reloaded");
    let mut new_pings = after.pings_since_reset().expect("a reset mark");
    new_pings.reverse();
    assert_eq!(
        new_pings,
        (1..=new_pings.len() as u64).collect::<Vec<_>>(),
        "the restarted server's pings, from its first, without gaps"
    );
    assert!(
        !after.rows.iter().any(|row| matches!(row, Row::Gap(_))),
        "a restart is a reset, not a gap: {:?}",
        after.rows
    );
    let before_pings = before.pings();
    assert!(
        after.pings().ends_with(&before_pings),
        "the pings from before the restart are still listed: {:?}",
        after.rows
    );
    assert!(
        after.received > before.received,
        "#received went on counting"
    );
    drop(server);
    browser.close().await;
}

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn page_counts_down_while_the_server_is_full_and_goes_live_once_there_is_room() {
    let _turn = one_browser_at_a_time().await;
    let port = free_port();
    let full = server::start(port, &["--max-clients", "0", QUICK[0], QUICK[1]]);
    let browser = Browser::open().await;
    browser.goto(&full.url("/")).await;

    let waiting = browser
        .wait_for("a countdown to the next try", |page| {
            page.is("reconnecting") && page.retry_in.is_some()
        })
        .await;
    assert!(waiting.pings().is_empty(), "a full server sent pings");
    server::wait_for_metric(&full, "pingstream_connections_rejected_total", 2).await;
    browser.mark_page().await;

    full.kill();
    let roomy = server::start(port, &QUICK);
    let room = Instant::now();
    let live = browser
        .wait_for("live with a ping", |page| {
            page.is("live") && !page.pings().is_empty()
        })
        .await;
    println!(
        "live with a ping {:?} after a server with room started",
        room.elapsed()
    );
    assert!(live.marked, "the page was reloaded");
    assert_eq!(live.retry_in, None, "the countdown is gone once live");
    drop(roomy);
    browser.close().await;
}
