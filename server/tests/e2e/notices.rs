//! Notices: an operator's message, published with `POST /events/notice`, shows in every open tab
//! of a browser within a second (the tabs sharing one stream), stays through a change of the tab
//! holding the stream, and a page that was away when it was published shows it when it comes
//! back, once.

use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use shared::{EventId, Notice, StreamEvent as _};

use crate::{
    browser::{Browser, one_browser_at_a_time},
    server::{self, QUICK, ServerProcess},
};

/// The token the tests' servers take publishes with.
const TOKEN: &str = "e2e-publish-token";

/// Tabs open at once.
const TABS: usize = 3;

/// How soon after the `POST` a notice must show in every tab.
const SHOWN_WITHIN: Duration = Duration::from_secs(1);

/// How long `/healthz` may take to count the streams a test expects.
const CLIENTS_WITHIN: Duration = Duration::from_secs(10);

/// A server that pings four times a second and takes publishes with [`TOKEN`].
fn start_publishing() -> ServerProcess {
    server::start(0, &["--publish-token", TOKEN, QUICK[0], QUICK[1]])
}

/// Publishes a notice; returns its id.
async fn publish(server: &ServerProcess, text: &str, level: &str) -> EventId {
    let response = server
        .app()
        .publish(
            Notice::NAME,
            TOKEN,
            &json!({ "text": text, "level": level }),
        )
        .await;
    assert_eq!(response.status(), 202, "the notice is accepted");
    let body: serde_json::Value = response.json().await.expect("a JSON answer");
    body["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("an id in {body}"))
}

/// Milliseconds since the Unix epoch by this machine's clock, which the browser's shares.
fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
        * 1000.0
}

/// Records in `window.noticeSeenAt`, by the page's clock, when a notice saying `arguments[0]`
/// first shows (a poll from here would add its own delay).
const RECORD_NOTICE: &str = r#"
const text = arguments[0];
const shown = () =>
  [...document.querySelectorAll('#notices .notice__text')].some((p) => p.textContent === text);
window.noticeSeenAt = null;
new MutationObserver(() => {
  if (window.noticeSeenAt === null && shown()) window.noticeSeenAt = Date.now();
}).observe(document.body, { childList: true, subtree: true, characterData: true });
"#;

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn three_tabs_share_one_stream_a_posted_notice_shows_in_all_within_a_second_and_survives_the_leader_closing()
 {
    let _turn = one_browser_at_a_time().await;
    let server = start_publishing();
    let browser = Browser::open().await;
    let url = server.url("/");
    browser.goto(&url).await;
    browser.wait_live_with(3).await;
    let mut tabs = vec![browser.current_tab().await];
    for _ in 1..TABS {
        tabs.push(browser.open_tab().await);
        browser.goto(&url).await;
        browser.wait_live_with(3).await;
    }
    server.app().wait_for_clients(1, CLIENTS_WITHIN).await;
    assert_eq!(
        server.app().connected_clients().await,
        1,
        "one stream for {TABS} tabs"
    );

    let text = "Deploy at 18:00";
    for tab in &tabs {
        browser.switch_to(tab).await;
        browser
            .evaluate_with(RECORD_NOTICE, vec![json!(text)])
            .await;
    }
    let posted_at = now_ms();
    let id = publish(&server, text, "critical").await;
    for (number, tab) in tabs.iter().enumerate() {
        browser.switch_to(tab).await;
        let page = browser
            .wait_for(&format!("the notice in tab {}", number + 1), |page| {
                page.notices_saying(text) == 1
            })
            .await;
        let seen_at = browser
            .evaluate("return window.noticeSeenAt;")
            .await
            .as_f64()
            .expect("the recorder saw the notice");
        let after = Duration::from_secs_f64((seen_at - posted_at).max(0.0) / 1000.0);
        println!(
            "notice {id} shown in tab {} {after:?} after the POST",
            number + 1
        );
        assert!(
            after <= SHOWN_WITHIN,
            "tab {} showed the notice {after:?} after the POST",
            number + 1
        );
        assert_eq!(page.notices[0].level, "critical");
        assert_eq!(
            page.alert.as_deref(),
            Some(text),
            "announced to screen readers"
        );
    }

    // The first tab holds the stream; it closes, another takes the stream over.
    browser.switch_to(&tabs[0]).await;
    let before = browser.page().await.newest();
    browser.close_tab().await;
    for (number, tab) in tabs.iter().enumerate().skip(1) {
        browser.switch_to(tab).await;
        let page = browser
            .wait_for(&format!("tab {} four pings on", number + 1), |page| {
                page.is("live") && page.newest() >= before + 4
            })
            .await;
        // A gap mark is where the ids jumped: none, across the notice and the hand-over.
        assert!(
            page.only_consecutive_pings(),
            "tab {} after the hand-over: {:?}",
            number + 1,
            page.rows
        );
        assert_eq!(page.notices_saying(text), 1, "tab {}", number + 1);
    }
    server.app().wait_for_clients(1, CLIENTS_WITHIN).await;
    browser.close().await;
}

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn a_page_back_from_elsewhere_shows_the_notice_published_while_it_was_away_once() {
    let _turn = one_browser_at_a_time().await;
    let server = start_publishing();
    let browser = Browser::open().await;
    let url = server.url("/");
    browser.goto(&url).await;
    let before = browser.wait_live_with(3).await;

    // The tab goes elsewhere (its page goes away, keeping what it showed for when it is back);
    // meanwhile a notice is published.
    browser.goto("about:blank").await;
    server.app().wait_for_clients(0, CLIENTS_WITHIN).await;
    let text = "Published while you were away";
    publish(&server, text, "warning").await;
    let away = Instant::now();

    browser.goto(&url).await;
    let back = browser
        .wait_for("the notice from while it was away", |page| {
            page.notices_saying(text) == 1
        })
        .await;
    println!("the notice shown {:?} after coming back", away.elapsed());
    assert!(
        back.pings().ends_with(&before.pings()),
        "the rows from before, at once: {:?} then {:?}",
        before.rows,
        back.rows
    );
    let later = browser
        .wait_for("live, four pings on", |page| {
            page.is("live") && page.newest() >= back.newest() + 4
        })
        .await;
    assert_eq!(later.notices_saying(text), 1, "once: {:?}", later.notices);
    assert!(
        later.only_consecutive_pings(),
        "the pings sent while it was away are replayed: {:?}",
        later.rows
    );

    // A reload shows it again, still once.
    browser.reload().await;
    let reloaded = browser
        .wait_for("live after the reload, two pings on", |page| {
            page.is("live") && page.newest() >= later.newest() + 2
        })
        .await;
    assert_eq!(reloaded.notices_saying(text), 1, "{:?}", reloaded.notices);
    browser.close().await;
}
