//! A reload: the page shows the rows it had at once, and resumes after the newest of them.

use crate::{
    browser::{Browser, one_browser_at_a_time},
    server::{self, QUICK},
};

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn a_reloaded_page_shows_its_rows_again_and_resumes_after_them_without_a_gap() {
    let _turn = one_browser_at_a_time().await;
    let server = server::start(0, &QUICK);
    let browser = Browser::open().await;
    browser.goto(&server.url("/")).await;
    browser.wait_live_with(5).await;
    browser.mark_page().await;
    let before = browser.page().await;

    browser.reload().await;
    let first = browser
        .wait_for("the first rows after the reload", |page| {
            !page.rows.is_empty()
        })
        .await;
    assert!(!first.marked, "the page was not reloaded");
    assert!(
        first.pings().ends_with(&before.pings()),
        "the rows from before the reload, at once: {:?} then {:?}",
        before.rows,
        first.rows
    );
    let after = browser
        .wait_for("live, three pings on", |page| {
            page.is("live") && page.newest() >= before.newest() + 3
        })
        .await;
    assert!(
        after.only_consecutive_pings(),
        "the pings sent during the reload are replayed: {:?}",
        after.rows
    );
    browser.close().await;
}
