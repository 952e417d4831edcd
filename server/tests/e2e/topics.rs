//! Topics in the page: the page's own stream carries every topic, its "follow topics" box opens a
//! second stream of the topics typed there and lists the notices on them; the tabs of a browser
//! share one server stream per subscription, and never one subscription's events with another.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::{
    browser::{Browser, one_browser_at_a_time},
    server::{self, QUICK, ServerProcess},
};

/// The token the tests' servers take publishes with.
const TOKEN: &str = "e2e-topics-token";

/// How long the server's counts may take to reach what a test expects (a tab's stream opens a
/// moment after its page, and a replaced one ends a moment after its successor opens).
const COUNTS_WITHIN: Duration = Duration::from_secs(10);

/// A server that pings four times a second and takes publishes with [`TOKEN`].
fn start_publishing() -> ServerProcess {
    server::start(0, &["--publish-token", TOKEN, QUICK[0], QUICK[1]])
}

/// Publishes a notice saying `text` on `topic`.
async fn publish_on(server: &ServerProcess, topic: &str, text: &str) {
    server::publish_notice_on(server, TOKEN, topic, text).await;
}

/// Types `text` into the page's "follow topics" box and leaves it, as a person does.
const FOLLOW: &str = r#"
const input = document.querySelector('#topics');
input.value = arguments[0];
input.dispatchEvent(new Event('change', { bubbles: true }));
"#;

/// What the list of the followed topics' notices shows.
const READ_TOPICS: &str = r#"
const feed = document.querySelector('#topic-feed');
return {
  status: feed ? feed.dataset.status : null,
  notices: feed
    ? [...feed.querySelectorAll('.notice__text')].map((p) => ({
        topic: p.dataset.topic ?? null,
        text: p.textContent,
      }))
    : [],
};
"#;

/// The followed topics' list, as [`READ_TOPICS`] reads it.
#[derive(Debug, Deserialize)]
struct TopicFeed {
    /// Its stream's connection; `None` while nothing is followed.
    status: Option<String>,
    /// Its notices, newest first.
    notices: Vec<TopicNotice>,
}

/// One notice of the followed topics' list.
#[derive(Debug, PartialEq, Eq, Deserialize)]
struct TopicNotice {
    topic: Option<String>,
    text: String,
}

/// The current tab follows `selectors` in its topics box.
async fn follow(browser: &Browser, selectors: &str) {
    browser.evaluate_with(FOLLOW, vec![json!(selectors)]).await;
}

/// What the current tab's list of the followed topics shows.
async fn topic_feed(browser: &Browser) -> TopicFeed {
    serde_json::from_value(browser.evaluate(READ_TOPICS).await).expect("a topic feed")
}

/// Polls the current tab's list of the followed topics until `ready` holds; panics after
/// [`COUNTS_WITHIN`].
async fn wait_for_topics(
    browser: &Browser,
    what: &str,
    ready: impl Fn(&TopicFeed) -> bool,
) -> TopicFeed {
    browser
        .poll_script(READ_TOPICS, what, COUNTS_WITHIN, ready)
        .await
}

/// Whether the list is live and shows exactly `texts` (newest first) on `topics`.
fn shows(feed: &TopicFeed, expected: &[(&str, &str)]) -> bool {
    feed.status.as_deref() == Some("live")
        && feed.notices.len() == expected.len()
        && feed
            .notices
            .iter()
            .zip(expected)
            .all(|(notice, (topic, text))| {
                notice.topic.as_deref() == Some(*topic) && notice.text == *text
            })
}

/// The open streams of a kind of selection (`all`, `exact`, `pattern`) on `/metrics`.
async fn streams(server: &ServerProcess, selection: &str) -> u64 {
    server
        .app()
        .metric(&format!("pingstream_streams{{selection=\"{selection}\"}}"))
        .await
}

/// Polls until the server holds `all` streams of every topic and `pattern` streams of patterns,
/// and `clients` streams in all; panics after [`COUNTS_WITHIN`] with what it holds.
async fn wait_for_streams(server: &ServerProcess, all: u64, pattern: u64) {
    let started = std::time::Instant::now();
    loop {
        let held = (
            streams(server, "all").await,
            streams(server, "pattern").await,
            server.app().connected_clients().await,
        );
        if held == (all, pattern, all + pattern) {
            return;
        }
        assert!(
            started.elapsed() < COUNTS_WITHIN,
            "after {COUNTS_WITHIN:?} the server holds (all, pattern, clients) {held:?}, expected \
             ({all}, {pattern}, {})",
            all + pattern
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn a_tab_following_orders_and_a_tab_on_every_topic_each_see_only_their_events() {
    let _turn = one_browser_at_a_time().await;
    let server = start_publishing();
    let browser = Browser::open().await;
    let url = server.url("/");

    browser.goto(&url).await;
    browser.wait_live_with(2).await;
    let orders_tab = browser.current_tab().await;
    follow(&browser, "orders/*").await;
    wait_for_topics(&browser, "the orders' stream live", |feed| {
        feed.status.as_deref() == Some("live")
    })
    .await;
    let everything_tab = browser.open_tab().await;
    browser.goto(&url).await;
    browser.wait_live_with(2).await;
    // One stream of every topic for both tabs, one of the orders for the first.
    wait_for_streams(&server, 1, 1).await;

    publish_on(&server, "orders/42", "Order 42 paid").await;
    publish_on(&server, "users/7", "User 7 signed up").await;
    publish_on(&server, "notices", "Deploy at 18:00").await;
    publish_on(&server, "orders/7", "Order 7 shipped").await;

    // Every topic: every notice, in both tabs' main lists.
    let all_four = [
        "Order 42 paid",
        "User 7 signed up",
        "Deploy at 18:00",
        "Order 7 shipped",
    ];
    for tab in [&everything_tab, &orders_tab] {
        browser.switch_to(tab).await;
        let page = browser
            .wait_for("the four notices", |page| {
                all_four.iter().all(|text| page.notices_saying(text) == 1)
            })
            .await;
        assert!(
            page.only_consecutive_pings(),
            "the notices leave no gap among the pings: {:?}",
            page.rows
        );
    }
    // The tab on every topic follows nothing more.
    browser.switch_to(&everything_tab).await;
    let nothing = topic_feed(&browser).await;
    assert_eq!((nothing.status, nothing.notices), (None, Vec::new()));

    // The orders' list: the orders' notices alone, each after its topic; no ping, no notice of
    // another topic.
    browser.switch_to(&orders_tab).await;
    let orders = wait_for_topics(&browser, "the two orders' notices", |feed| {
        shows(
            feed,
            &[
                ("orders/7", "Order 7 shipped"),
                ("orders/42", "Order 42 paid"),
            ],
        )
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = topic_feed(&browser).await;
    assert_eq!(later.notices, orders.notices, "nothing else came on it");
    browser.close().await;
}

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn tabs_following_the_same_topics_hold_one_server_stream_and_other_topics_another() {
    let _turn = one_browser_at_a_time().await;
    let server = start_publishing();
    let browser = Browser::open().await;
    let url = server.url("/");

    browser.goto(&url).await;
    browser.wait_live_with(2).await;
    let first = browser.current_tab().await;
    let second = browser.open_tab().await;
    browser.goto(&url).await;
    browser.wait_live_with(2).await;
    wait_for_streams(&server, 1, 0).await;

    // Both tabs follow the orders: one stream of them between the two.
    for tab in [&first, &second] {
        browser.switch_to(tab).await;
        follow(&browser, "orders/*").await;
        wait_for_topics(&browser, "the orders' stream live", |feed| {
            feed.status.as_deref() == Some("live")
        })
        .await;
    }
    wait_for_streams(&server, 1, 1).await;
    publish_on(&server, "orders/1", "Order 1 paid").await;
    for tab in [&first, &second] {
        browser.switch_to(tab).await;
        wait_for_topics(&browser, "the order's notice in both tabs", |feed| {
            shows(feed, &[("orders/1", "Order 1 paid")])
        })
        .await;
    }

    // The second tab follows the users instead: a stream of its own.
    follow(&browser, "users/*").await;
    wait_for_topics(&browser, "the users' stream live", |feed| {
        feed.status.as_deref() == Some("live") && feed.notices.is_empty()
    })
    .await;
    wait_for_streams(&server, 1, 2).await;
    publish_on(&server, "users/7", "User 7 signed up").await;
    publish_on(&server, "orders/2", "Order 2 paid").await;
    wait_for_topics(&browser, "the user's notice alone", |feed| {
        shows(feed, &[("users/7", "User 7 signed up")])
    })
    .await;
    browser.switch_to(&first).await;
    wait_for_topics(&browser, "the orders' notices alone", |feed| {
        shows(
            feed,
            &[("orders/2", "Order 2 paid"), ("orders/1", "Order 1 paid")],
        )
    })
    .await;
    browser.switch_to(&second).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        shows(
            &topic_feed(&browser).await,
            &[("users/7", "User 7 signed up")]
        ),
        "no order's notice reached the users' list"
    );

    // Emptying the box lets its stream go.
    follow(&browser, "").await;
    wait_for_streams(&server, 1, 1).await;
    browser.close().await;
}
