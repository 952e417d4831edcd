//! `just dev`: trunk serving the debug page with live reload, the server (`cargo run -p server`)
//! behind trunk's proxy, and Ctrl-C stopping both.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    time::Duration,
};

use reqwest::Method;
use serde_json::Value;

use crate::{
    recipe::{ANSWER_DEADLINE, Recipe, one_recipe_at_a_time, workspace_root},
    support::{TestApp, browser::Browser, free_port},
};

/// How long trunk may take to rebuild the page after an edit (a debug build, no Rust compiled)
/// and the page to reload.
const RELOAD_DEADLINE: Duration = Duration::from_secs(60);

/// The stylesheet the live-reload check edits: trunk watches it, and a change to it rebuilds the
/// page without recompiling any Rust.
const STYLESHEET: &str = "frontend/style.css";

/// The custom property the edit adds to the page's `:root`.
const RELOAD_PROPERTY: &str = "--pingstream-recipes-reload";

#[tokio::test]
#[ignore = "runs `just dev` for real: `just test-recipes`"]
async fn dev_serves_the_live_page_through_trunk_reloads_it_on_an_edit_and_stops_on_ctrl_c() {
    let _turn = one_recipe_at_a_time().await;
    let (page_port, server_port) = (free_port(), free_port());
    let dir = tempfile::tempdir().expect("a folder for the debug build");
    let mut dev = Recipe::start(
        &["dev"],
        &[
            ("PINGSTREAM_DEV_PORT", page_port.to_string()),
            ("PINGSTREAM_DEV_SERVER_PORT", server_port.to_string()),
            ("PINGSTREAM_RECIPE_DIR", dir.path().display().to_string()),
        ],
        &[page_port, server_port],
    );
    let server = TestApp::at(server_port);
    let page = TestApp::at(page_port);

    dev.wait_listening(server_port).await;
    let epoch = dev
        .wait_for("the server's first ping", ANSWER_DEADLINE, async || {
            let health: Value = get_ok(&server, "/healthz")
                .await?
                .json()
                .await
                .map_err(|err| err.to_string())?;
            let id = health["last_id"].as_str().ok_or("no ping yet")?;
            id.parse::<shared::EventId>()
                .map(|id| id.epoch)
                .map_err(|err| err.to_string())
        })
        .await;
    dev.wait_listening(page_port).await;
    dev.wait_for("trunk's built page", ANSWER_DEADLINE, async || {
        get_ok(&page, "/").await.map(drop)
    })
    .await;

    // The stream through trunk's proxy comes from this recipe's server, not from one on :8080.
    let proxied = dev
        .within("ping through trunk's proxy", ANSWER_DEADLINE, async {
            page.open_stream(None).await.next_ping().await
        })
        .await;
    assert_eq!(
        proxied.id.epoch, epoch,
        "the stream trunk forwards comes from another server than the recipe's"
    );

    let browser = dev
        .within("live page in Chromium", ANSWER_DEADLINE, async {
            let browser = Browser::open().await;
            browser.goto(&page.url("/")).await;
            browser.wait_live_with(2).await;
            browser
        })
        .await;

    // Live reload: an edit of the stylesheet shows in the open page, which nobody reloads here.
    let marker = format!("recipes-{}-{page_port}", std::process::id());
    let edit = AppendedText::append(
        &workspace_root().join(STYLESHEET),
        &format!("\n:root {{ {RELOAD_PROPERTY}: \"{marker}\"; }}\n"),
    );
    let script = format!(
        "return getComputedStyle(document.documentElement).getPropertyValue('{RELOAD_PROPERTY}');"
    );
    dev.wait_for(
        "the edit in the open page",
        RELOAD_DEADLINE,
        async || match browser.try_evaluate(&script).await? {
            Value::String(value) if value.contains(&marker) => Ok(()),
            other => Err(format!("{RELOAD_PROPERTY} is {other}")),
        },
    )
    .await;
    browser.wait_live_with(1).await;
    drop(edit);
    dev.within(
        "end of the browser session",
        ANSWER_DEADLINE,
        browser.close(),
    )
    .await;

    dev.stop_and_check().await;
}

/// `GET path`, if it answers 200.
async fn get_ok(app: &TestApp, path: &str) -> Result<reqwest::Response, String> {
    let response = app
        .request(Method::GET, path)
        .send()
        .await
        .map_err(|err| err.to_string())?;
    match response.status() {
        reqwest::StatusCode::OK => Ok(response),
        status => Err(format!("GET {path}: {status}")),
    }
}

/// Text appended to a file of the working tree, taken out again when this is dropped, a failing
/// test included; edits made to the file meanwhile stay.
struct AppendedText {
    path: PathBuf,
    text: String,
}

impl AppendedText {
    fn append(path: &Path, text: &str) -> Self {
        let edit = Self {
            path: path.to_owned(),
            text: text.to_owned(),
        };
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .and_then(|mut file| file.write_all(text.as_bytes()))
            .unwrap_or_else(|err| panic!("cannot append to {}: {err}", path.display()));
        edit
    }
}

impl Drop for AppendedText {
    fn drop(&mut self) {
        let Ok(now) = std::fs::read_to_string(&self.path) else {
            eprintln!(
                "cannot read {} to undo the test's edit",
                self.path.display()
            );
            return;
        };
        if let Some(at) = now.rfind(&self.text) {
            let restored = format!("{}{}", &now[..at], &now[at + self.text.len()..]);
            if let Err(err) = std::fs::write(&self.path, restored) {
                eprintln!(
                    "cannot undo the test's edit of {}: {err}",
                    self.path.display()
                );
            }
        }
    }
}
