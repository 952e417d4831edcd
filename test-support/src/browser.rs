//! Headless Chromium behind its own chromedriver, and what the page shows, read in one go: for
//! the suites that drive the page in a browser (`e2e`, and `recipes` through `just dev`). `CHROME`
//! and `CHROMEDRIVER` name the programs when they are not `/usr/bin/chromium` and
//! `/usr/bin/chromedriver`.

use std::{
    net::TcpStream,
    os::unix::process::CommandExt,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{
    Client, ClientBuilder,
    wd::{TimeoutConfiguration, WebDriverCompatibleCommand, WindowHandle},
};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Deserialize;
use serde_json::json;
use tempfile::TempDir;
use tokio::sync::{Mutex, MutexGuard};

use crate::free_port;

/// The longest any wait for the page lasts.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// How often a wait looks at the page again.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// Held by each test while it drives a browser. On two cores, two Chromiums starting beside a
/// release server make page timings meaningless, so the tests take turns.
static BROWSER_TURN: Mutex<()> = Mutex::const_new(());

/// Waits until no other test drives a browser; the turn lasts as long as the guard.
pub async fn one_browser_at_a_time() -> MutexGuard<'static, ()> {
    BROWSER_TURN.lock().await
}

/// Reads with `read` every [`POLL_EVERY`] until `ready` holds for what it read, and returns that;
/// panics after `within`, naming `what` was awaited and what was read last (as `shown` says it).
async fn poll<T>(
    what: &str,
    within: Duration,
    mut read: impl AsyncFnMut() -> T,
    ready: impl Fn(&T) -> bool,
    shown: impl Fn(&T) -> String,
) -> T {
    let started = Instant::now();
    loop {
        let value = read().await;
        if ready(&value) {
            return value;
        }
        assert!(
            started.elapsed() < within,
            "waited {within:?} for {what}; {}",
            shown(&value)
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// A chromedriver process on a free port, in a process group of its own; the group (chromedriver
/// and any Chromium it left behind) is killed when this is dropped.
struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    async fn start() -> Self {
        let program =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let port = free_port();
        let child = Command::new(&program)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {program} (set CHROMEDRIVER): {err}"));
        let driver = Self { child, port };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < DEADLINE,
                "{program} did not listen on port {port} within {DEADLINE:?}"
            );
            tokio::time::sleep(POLL_EVERY).await;
        }
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The whole group, by its id (chromedriver's pid): a Chromium whose session was never
        // closed (a test that panicked) goes too.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One headless Chromium window with a fresh profile.
pub struct Browser {
    client: Client,
    // Dropped in this order: the driver (and its browser) before the profile they use.
    driver: Chromedriver,
    _profile: TempDir,
}

impl Browser {
    /// Starts chromedriver and a 900x700 headless Chromium that records its console.
    pub async fn open() -> Self {
        Self::open_with(&[]).await
    }

    /// [`Browser::open`], with `extra_args` added to Chromium's command line.
    pub async fn open_with(extra_args: &[&str]) -> Self {
        let driver = Chromedriver::start().await;
        let profile = tempfile::tempdir().expect("a temporary browser profile");
        let chrome = std::env::var("CHROME").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-sync".to_owned(),
            "--window-size=900,700".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        args.extend(extra_args.iter().map(|arg| (*arg).to_owned()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chrome,
                "args": args,
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("capabilities are an object")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url())
            .await
            .unwrap_or_else(|err| panic!("chromedriver opens {chrome} (set CHROME): {err}"));
        Self {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Loads `url`; returns once the page's `load` event has fired.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("the page loads");
    }

    /// Reloads the current page, as the browser's reload button does; returns once it has loaded.
    pub async fn reload(&self) {
        self.client.refresh().await.expect("the page reloads");
    }

    /// From now on a page that has not loaded after `deadline` fails [`Browser::goto`] (rather
    /// than after chromedriver's 300 s).
    pub async fn set_page_load_timeout(&self, deadline: Duration) {
        self.client
            .update_timeouts(TimeoutConfiguration::new(None, Some(deadline), None))
            .await
            .expect("chromedriver takes the timeout");
    }

    /// Leaves a mark on the current document; [`PageView::marked`] tells whether the page is still
    /// that document (it was not reloaded).
    pub async fn mark_page(&self) {
        self.client
            .execute("window.pingstreamE2eMark = true;", vec![])
            .await
            .expect("the mark is set");
    }

    /// Starts recording every change of the badge's `data-status`, with the page's clock, however
    /// briefly it lasts (a poll would miss a stall that is replaced within milliseconds); returns
    /// the page's clock now. [`Browser::status_changes`] reads the record.
    pub async fn record_status_changes(&self) -> f64 {
        let now = self
            .client
            .execute(RECORD_STATUS, vec![])
            .await
            .expect("the recorder is installed");
        now.as_f64().expect("the page's clock")
    }

    /// The badge's changes since [`Browser::record_status_changes`], oldest first.
    pub async fn status_changes(&self) -> Vec<StatusChange> {
        let changes = self
            .client
            .execute("return window.pingstreamStatusLog || [];", vec![])
            .await
            .expect("the record can be read");
        serde_json::from_value(changes).expect("the record reads as StatusChanges")
    }

    /// Runs `script` (a function body; `return` gives its value) in the page.
    pub async fn evaluate(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, vec![])
            .await
            .expect("the script runs")
    }

    /// Runs `script` in the page every 20 ms until what it returns, read as a `T`, satisfies
    /// `ready`, and returns that; panics after `within` with the last `T` and `what` was awaited.
    pub async fn poll_script<T: serde::de::DeserializeOwned + std::fmt::Debug>(
        &self,
        script: &str,
        what: &str,
        within: Duration,
        ready: impl Fn(&T) -> bool,
    ) -> T {
        let read = async || {
            serde_json::from_value(self.evaluate(script).await)
                .unwrap_or_else(|err| panic!("the script's value for {what}: {err}"))
        };
        poll(what, within, read, ready, |value| {
            format!("the page shows {value:?}")
        })
        .await
    }

    /// [`Browser::evaluate`] that hands back chromedriver's refusal instead of panicking: for a
    /// page that may be reloading at that moment.
    pub async fn try_evaluate(&self, script: &str) -> Result<serde_json::Value, String> {
        self.client
            .execute(script, vec![])
            .await
            .map_err(|err| err.to_string())
    }

    /// Runs `script` (a function body) in the page with `args` as its `arguments`.
    pub async fn evaluate_with(
        &self,
        script: &str,
        args: Vec<serde_json::Value>,
    ) -> serde_json::Value {
        self.client
            .execute(script, args)
            .await
            .expect("the script runs")
    }

    /// Writes `text` to the page's console with `console.info`.
    pub async fn log_to_console(&self, text: &str) {
        self.client
            .execute("console.info(arguments[0]);", vec![json!(text)])
            .await
            .expect("the console takes a line");
    }

    /// What the page shows now.
    pub async fn page(&self) -> PageView {
        let view = self
            .client
            .execute(READ_PAGE, vec![])
            .await
            .expect("the page can be read");
        serde_json::from_value(view).expect("the page reads as a PageView")
    }

    /// Polls the page until `ready` holds, and returns what it showed then. Panics after
    /// [`DEADLINE`] with the badge and the page's text.
    pub async fn wait_for(&self, what: &str, ready: impl Fn(&PageView) -> bool) -> PageView {
        self.wait_for_within(what, DEADLINE, ready).await
    }

    /// [`Browser::wait_for`] with a deadline of its own: for what must happen in time.
    pub async fn wait_for_within(
        &self,
        what: &str,
        deadline: Duration,
        ready: impl Fn(&PageView) -> bool,
    ) -> PageView {
        poll(
            what,
            deadline,
            async || self.page().await,
            ready,
            |page| format!("badge {:?}, page text:\n{}", page.status, page.text),
        )
        .await
    }

    /// Waits until the page is live with at least `pings` pings listed, as most tests start.
    pub async fn wait_live_with(&self, pings: usize) -> PageView {
        self.wait_for(&format!("live with {pings} pings"), |page| {
            page.is("live") && page.pings().len() >= pings
        })
        .await
    }

    /// The tab that commands go to.
    pub async fn current_tab(&self) -> WindowHandle {
        self.client.window().await.expect("the current tab")
    }

    /// Opens a new tab in the same browser (same profile, so the same origin's locks and
    /// channels) and sends commands to it from now on.
    pub async fn open_tab(&self) -> WindowHandle {
        let tab = self
            .client
            .new_window(true)
            .await
            .expect("a new tab")
            .handle;
        self.switch_to(&tab).await;
        tab
    }

    /// Sends commands to `tab` from now on.
    pub async fn switch_to(&self, tab: &WindowHandle) {
        self.client
            .switch_to_window(tab.clone())
            .await
            .expect("the tab exists");
    }

    /// Closes the tab that commands go to (its page unloads, as when a person closes it); switch
    /// to another before the next command.
    pub async fn close_tab(&self) {
        self.client.close_window().await.expect("the tab closes");
    }

    /// The browser's console and network messages since the last call (chromedriver hands each
    /// one out once).
    pub async fn console(&self) -> Vec<LogEntry> {
        let entries = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("chromedriver hands out the browser log");
        serde_json::from_value(entries).expect("log entries")
    }

    /// Saves a PNG of the window at `path`.
    pub async fn save_screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(path, png)
            .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
    }

    /// Ends the session (Chromium exits), then chromedriver.
    pub async fn close(self) {
        let Self { client, driver, .. } = self;
        client.close().await.expect("the session closes");
        drop(driver);
    }
}

/// Reads everything the tests look at in one round trip.
const READ_PAGE: &str = r#"
const badge = document.querySelector('#status');
const retry = document.querySelector('[data-retry-in]');
const received = document.querySelector('#received');
const rows = [...document.querySelectorAll('ol#pings > li')].map((li) =>
  li.matches('.ping[data-count]') ? { Ping: Number(li.dataset.count) }
  : li.hasAttribute('data-gap') ? { Gap: Number(li.dataset.gap) }
  : li.hasAttribute('data-reset') ? 'Reset'
  : { Other: li.outerHTML });
const latency = document.querySelector('#latency');
const line = document.querySelector('#latency polyline');
return {
  status: badge ? badge.dataset.status : null,
  retry_in: retry ? Number(retry.dataset.retryIn) : null,
  received: received ? Number(received.dataset.received) : null,
  rows,
  latencies: [...document.querySelectorAll('ol#pings > li .ping__latency')].map((span) =>
    span.dataset.latencyUs === undefined ? null : Number(span.dataset.latencyUs)),
  notices: [...document.querySelectorAll('#notices > .notice')].map((notice) => ({
    text: notice.querySelector('.notice__text').textContent,
    level: notice.dataset.level,
  })),
  alert: document.querySelector('#alert')?.textContent ?? null,
  chart_points: line ? line.getAttribute('points').trim().split(/\s+/).length : null,
  p50_us: latency ? Number(latency.dataset.p50Us) : null,
  p99_us: latency ? Number(latency.dataset.p99Us) : null,
  marked: window.pingstreamE2eMark === true,
  text: document.body ? document.body.innerText : '',
};
"#;

/// Records the badge's changes in `window.pingstreamStatusLog`. A batch of mutation records
/// holds each change's old value: the value each change set is the next one's old value, and the
/// current one for the last.
const RECORD_STATUS: &str = r#"
const badge = document.querySelector('#status');
const log = (window.pingstreamStatusLog = []);
new MutationObserver((records) => {
  const at = Date.now();
  records.slice(1).forEach((record) => log.push({ status: record.oldValue, at }));
  log.push({ status: badge.dataset.status, at });
}).observe(badge, { attributes: true, attributeFilter: ['data-status'], attributeOldValue: true });
return Date.now();
"#;

/// One change of the badge.
#[derive(Debug, Clone, Deserialize)]
pub struct StatusChange {
    /// The badge's new `data-status`.
    pub status: String,
    /// When, by the page's clock (milliseconds since the Unix epoch).
    pub at: f64,
}

/// What the page shows at one moment.
#[derive(Debug, Clone, Deserialize)]
pub struct PageView {
    /// The badge's `data-status`: connecting, live, stalled, reconnecting, closed or offline.
    pub status: Option<String>,
    /// The countdown to the next attempt, while one is shown.
    pub retry_in: Option<u32>,
    /// The `#received` counter.
    pub received: Option<u64>,
    /// The list, newest first.
    pub rows: Vec<Row>,
    /// The delivery latency each ping row shows, in microseconds, newest first; `None` for a
    /// ping the page says was replayed from history.
    pub latencies: Vec<Option<u64>>,
    /// The notices shown, newest first.
    pub notices: Vec<ShownNotice>,
    /// The text of the assertive live region that announces critical notices.
    pub alert: Option<String>,
    /// How many points the latency chart's line has; `None` before there is one.
    pub chart_points: Option<usize>,
    /// The median latency of the chart, in microseconds.
    pub p50_us: Option<u64>,
    /// The 99th percentile of the chart, in microseconds.
    pub p99_us: Option<u64>,
    /// Whether the page is the document [`Browser::mark_page`] marked.
    pub marked: bool,
    /// The visible text, for failure messages.
    pub text: String,
}

/// One notice of the page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ShownNotice {
    /// Its text.
    pub text: String,
    /// Its `data-level`: info, warning or critical.
    pub level: String,
}

/// One row of the ping list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub enum Row {
    /// `li.ping[data-count]`.
    Ping(u64),
    /// `li[data-gap]`: this many events of the stream missed.
    Gap(u64),
    /// `li[data-reset]`: the server restarted.
    Reset,
    /// Anything else, as HTML.
    Other(String),
}

impl PageView {
    /// Whether the badge says `status`.
    pub fn is(&self, status: &str) -> bool {
        self.status.as_deref() == Some(status)
    }

    /// The counts of the pings shown, newest first.
    pub fn pings(&self) -> Vec<u64> {
        self.rows
            .iter()
            .filter_map(|row| match row {
                Row::Ping(count) => Some(*count),
                _ => None,
            })
            .collect()
    }

    /// Whether the list holds nothing but pings, each one count below the row above it: no gap
    /// mark, no reset mark, no repeat.
    pub fn only_consecutive_pings(&self) -> bool {
        let pings = self.pings();
        pings.len() == self.rows.len() && pings.windows(2).all(|pair| pair[0] == pair[1] + 1)
    }

    /// How many notices with `text` are shown.
    pub fn notices_saying(&self, text: &str) -> usize {
        self.notices
            .iter()
            .filter(|notice| notice.text == text)
            .count()
    }

    /// The count of the newest ping shown, 0 before the first.
    pub fn newest(&self) -> u64 {
        self.pings().first().copied().unwrap_or(0)
    }

    /// The counts of the pings shown above (after) the newest reset mark, newest first; `None`
    /// without a reset mark.
    pub fn pings_since_reset(&self) -> Option<Vec<u64>> {
        let reset = self.rows.iter().position(|row| *row == Row::Reset)?;
        Some(
            self.rows[..reset]
                .iter()
                .filter_map(|row| match row {
                    Row::Ping(count) => Some(*count),
                    _ => None,
                })
                .collect(),
        )
    }
}

/// One message from the browser's log.
#[derive(Debug, Clone, Deserialize)]
pub struct LogEntry {
    /// SEVERE, WARNING, INFO, DEBUG.
    pub level: String,
    /// The text, prefixed with where it came from.
    pub message: String,
    /// console-api, network, security, javascript, ...
    #[serde(default)]
    pub source: Option<String>,
}

/// chromedriver's (pre-W3C) `POST /session/{id}/se/log` for the `browser` log, which the
/// `goog:loggingPrefs` capability turns on.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}
