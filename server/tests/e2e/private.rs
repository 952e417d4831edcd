//! Private topics in the page: with `--dev-login`, its "sign in as" box signs a browser in, the
//! page's stream then carries the notices on `users/<name>/**` too and lists them as "your
//! notices"; tabs share streams only with tabs of the same person; signing out (in any tab)
//! stops the private stream in every tab; a cookie that no longer verifies signs the page out,
//! saying so. Each browser below has its own profile, so its own cookies.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::{
    browser::{Browser, one_browser_at_a_time},
    server::{self, QUICK, ServerProcess},
};

/// The token the tests' servers take publishes with.
const TOKEN: &str = "e2e-private-token";

/// The key the tests' servers sign subscriber tokens with (at least 32 bytes).
const KEY: &str = "e2e-private-subscribe-key-of-32-bytes-at-least";

/// How long what a test waits for may take.
const WITHIN: Duration = Duration::from_secs(10);

/// A server that pings four times a second, takes publishes with [`TOKEN`], keeps `users/**`
/// private, and signs anyone in by name with tokens signed with `key`.
fn start_private(port: u16, key: &str) -> ServerProcess {
    server::start(
        port,
        &[
            "--publish-token",
            TOKEN,
            "--subscribe-key",
            key,
            "--private-topics",
            "users/**",
            "--dev-login",
            QUICK[0],
            QUICK[1],
        ],
    )
}

/// Publishes a notice saying `text` on `topic`.
async fn publish_on(server: &ServerProcess, topic: &str, text: &str) {
    server::publish_notice_on(server, TOKEN, topic, text).await;
}

/// What the page shows of who it is and of the notices.
const READ_SESSION: &str = r#"
const texts = (selector) =>
  [...document.querySelectorAll(selector + ' .notice__text')].map((p) => p.textContent);
const session = document.querySelector('#session');
return {
  // Its text, without the button's.
  session: session
    ? [...session.childNodes].filter((node) => node.nodeType === 3).map((n) => n.textContent).join('')
    : null,
  sign_in: !!document.querySelector('#sign-in'),
  sign_out: !!document.querySelector('#sign-out'),
  yours: document.querySelector('#your-notices') ? texts('#your-notices') : null,
  page: texts('#notices'),
  status: document.querySelector('[data-status]')?.dataset.status ?? null,
};
"#;

/// The page as [`READ_SESSION`] reads it.
#[derive(Debug, Deserialize)]
struct SessionView {
    /// The session line's own text (not its button's); `None` before the page knows who it is.
    session: Option<String>,
    /// Whether the "sign in as" box is there.
    sign_in: bool,
    /// Whether the sign-out button is there.
    sign_out: bool,
    /// "Your notices", newest first; `None` when there is no such list (anonymous).
    yours: Option<Vec<String>>,
    /// The page's own notices, newest first.
    page: Vec<String>,
    /// The badge's status.
    status: Option<String>,
}

impl SessionView {
    fn signed_in_as(&self, name: &str) -> bool {
        self.sign_out
            && self.session.as_deref() == Some(&format!("signed in as {name}"))
            && self.status.as_deref() == Some("live")
    }

    fn anonymous(&self) -> bool {
        self.sign_in && !self.sign_out && self.yours.is_none()
    }

    /// Whether any list shows `text`.
    fn shows(&self, text: &str) -> bool {
        self.page
            .iter()
            .chain(self.yours.iter().flatten())
            .any(|shown| shown == text)
    }
}

/// Polls the current tab until `ready` holds; panics after [`WITHIN`] with what it shows.
async fn wait_for(
    browser: &Browser,
    what: &str,
    ready: impl Fn(&SessionView) -> bool,
) -> SessionView {
    browser.poll_script(READ_SESSION, what, WITHIN, ready).await
}

/// Types `name` into the current tab's "sign in as" box and leaves it, as a person does.
async fn sign_in(browser: &Browser, name: &str) {
    wait_for(browser, "the sign-in box", |view| view.sign_in).await;
    browser
        .evaluate_with(
            r"const input = document.querySelector('#sign-in');
            input.value = arguments[0];
            input.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![json!(name)],
        )
        .await;
    wait_for(browser, &format!("signed in as {name}"), |view| {
        view.signed_in_as(name)
    })
    .await;
}

/// Polls until the server holds `streams` streams in all, each of every topic; panics after
/// [`WITHIN`].
async fn wait_for_streams(server: &ServerProcess, streams: u64) {
    let started = std::time::Instant::now();
    loop {
        let all = server
            .app()
            .metric("pingstream_streams{selection=\"all\"}")
            .await;
        let clients = server.app().connected_clients().await;
        if (all, clients) == (streams, streams) {
            return;
        }
        assert!(
            started.elapsed() < WITHIN,
            "the server holds {all} streams of every topic and {clients} in all, not {streams}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn alice_bob_and_a_stranger_each_see_only_their_own_notices_and_alices_tabs_share_a_stream() {
    let _turn = one_browser_at_a_time().await;
    let server = start_private(0, KEY);
    let url = server.url("/");
    let (alice, bob, stranger) = (
        Browser::open().await,
        Browser::open().await,
        Browser::open().await,
    );
    for (browser, name) in [(&alice, "alice"), (&bob, "bob")] {
        browser.goto(&url).await;
        sign_in(browser, name).await;
    }
    stranger.goto(&url).await;
    wait_for(&stranger, "the stranger's page live", |view| {
        view.anonymous() && view.status.as_deref() == Some("live")
    })
    .await;
    let alices_first = alice.current_tab().await;
    let alices_second = alice.open_tab().await;
    alice.goto(&url).await;
    wait_for(&alice, "alice's second tab signed in", |view| {
        view.signed_in_as("alice")
    })
    .await;
    // Alice's two tabs, Bob's and the stranger's: three streams.
    wait_for_streams(&server, 3).await;

    publish_on(&server, "users/alice/inbox", "for alice").await;
    publish_on(&server, "users/bob/inbox", "for bob").await;
    // Last: once a page shows it, it has been sent everything published before.
    publish_on(&server, "notices", "for everyone").await;
    let both: &[&str] = &["for alice", "for bob"];
    for (browser, tab, mine, theirs) in [
        (&alice, Some(&alices_first), Some("for alice"), &both[1..]),
        (&alice, Some(&alices_second), Some("for alice"), &both[1..]),
        (&bob, None, Some("for bob"), &both[..1]),
        (&stranger, None, None, both),
    ] {
        if let Some(tab) = tab {
            browser.switch_to(tab).await;
        }
        let view = wait_for(browser, "the public notice", |view| {
            view.page == ["for everyone"]
        })
        .await;
        let yours = mine.map(|mine| vec![mine.to_owned()]);
        assert_eq!(view.yours, yours, "{view:?}");
        for text in theirs {
            assert!(!view.shows(text), "{view:?}");
        }
    }
    for browser in [alice, bob, stranger] {
        browser.close().await;
    }
}

#[tokio::test]
#[ignore = "needs dist/ and Chromium: just test-e2e"]
async fn signing_out_in_one_tab_stops_the_private_stream_in_all_and_bob_never_sees_alices() {
    let _turn = one_browser_at_a_time().await;
    let server = start_private(0, KEY);
    let url = server.url("/");
    let browser = Browser::open().await;
    browser.goto(&url).await;
    sign_in(&browser, "alice").await;
    let first = browser.current_tab().await;
    let second = browser.open_tab().await;
    browser.goto(&url).await;
    wait_for(&browser, "the second tab signed in", |view| {
        view.signed_in_as("alice")
    })
    .await;
    // Two tabs of one person: one stream.
    wait_for_streams(&server, 1).await;
    publish_on(&server, "users/alice/inbox", "alice 1").await;
    wait_for(&browser, "alice's notice", |view| {
        view.yours.as_deref() == Some(&["alice 1".to_owned()])
    })
    .await;

    // Signing out in the second tab (which follows the first one's stream) signs the first out
    // too: the first holds the stream, and only hears of it on the session channel.
    browser.switch_to(&second).await;
    browser
        .evaluate("document.querySelector('#sign-out').click();")
        .await;
    for tab in [&first, &second] {
        browser.switch_to(tab).await;
        wait_for(&browser, "signed out", |view| {
            view.anonymous() && view.status.as_deref() == Some("live")
        })
        .await;
    }
    wait_for_streams(&server, 1).await;
    publish_on(&server, "users/alice/inbox", "alice 2").await;
    publish_on(&server, "notices", "public 2").await;
    for tab in [&first, &second] {
        browser.switch_to(tab).await;
        let view = wait_for(&browser, "the public notice", |view| view.shows("public 2")).await;
        assert!(!view.shows("alice 2"), "signed out: {view:?}");
    }

    // Bob, in the same browser: his notices, never hers.
    browser.switch_to(&second).await;
    sign_in(&browser, "bob").await;
    browser.switch_to(&first).await;
    wait_for(&browser, "the first tab signed in as bob", |view| {
        view.signed_in_as("bob")
    })
    .await;
    wait_for_streams(&server, 1).await;
    publish_on(&server, "users/alice/inbox", "alice 3").await;
    publish_on(&server, "users/bob/inbox", "bob 3").await;
    publish_on(&server, "notices", "public 3").await;
    for tab in [&first, &second] {
        browser.switch_to(tab).await;
        let view = wait_for(&browser, "the public notice", |view| view.shows("public 3")).await;
        assert_eq!(view.yours, Some(vec!["bob 3".to_owned()]), "{view:?}");
        for hers in ["alice 1", "alice 2", "alice 3"] {
            assert!(!view.shows(hers), "{view:?}");
        }
    }

    // The server comes back with another key: Bob's cookie no longer verifies. The stream is
    // answered 401, and the page signs out and goes on, saying so.
    let port = server.port;
    server.kill();
    let server = start_private(port, "another-e2e-subscribe-key-of-32-bytes-at-least");
    let mut said = 0;
    for tab in [&first, &second] {
        browser.switch_to(tab).await;
        let view = wait_for(&browser, "signed out, and live again", |view| {
            view.anonymous() && view.status.as_deref() == Some("live")
        })
        .await;
        // The tab that found the cookie refused says so; the other may find it cleared already.
        said += usize::from(
            view.session
                .is_some_and(|text| text.starts_with("Session ended")),
        );
    }
    assert!(said >= 1, "no tab said the session ended");
    drop(server);
    browser.close().await;
}
