//! README's "Adding an event type", done as a newcomer would: every code block of that section,
//! placed where its `<!-- recipe: … -->` comment says, applied to a copy of this workspace; then
//! the copy's server and page are built, an order is published with the README's `curl` request
//! and read from the copy's stream. A step missing from the README, or one that no longer
//! compiles, fails here.
//!
//! The copy builds into this workspace's own target directory, where `just dev` has built the
//! same dependencies: only the copy's crates compile (their path is another), which costs a
//! minute or two, not a fresh build.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use futures_util::StreamExt as _;

use crate::{
    recipe::{one_recipe_at_a_time, set_by_cargo_test, workspace_root},
    support::free_port,
};

/// The README section whose blocks are applied.
const SECTION: &str = "### Adding an event type\n";

/// How long the copy's builds may take (the workspace's crates only, on a busy 2-core machine).
const BUILD_DEADLINE: Duration = Duration::from_secs(600);

/// One README step: a code block and where it goes.
#[derive(Debug)]
struct Step {
    /// `new`, `append`, `after`, `before` or `replace`.
    op: String,
    /// The file, from the workspace's root.
    path: String,
    /// For `after`/`before`/`replace`: the whole line (trimmed) the block goes next to, or
    /// replaces.
    anchor: Option<String>,
    code: String,
}

/// The steps of README's section, in order.
fn steps(readme: &str) -> Vec<Step> {
    let start = readme.find(SECTION).expect("README has the section");
    let rest = &readme[start + SECTION.len()..];
    let section = &rest[..rest.find("\n### ").unwrap_or(rest.len())];
    let mut steps = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        let Some(spec) = line
            .trim()
            .strip_prefix("<!-- recipe: ")
            .and_then(|spec| spec.strip_suffix(" -->"))
        else {
            continue;
        };
        let (op, target) = spec.split_once(' ').expect("recipe: OP PATH[: ANCHOR]");
        let (path, anchor) = match target.split_once(": ") {
            Some((path, anchor)) => (path, Some(anchor.trim().to_owned())),
            None => (target, None),
        };
        assert_eq!(lines.next().map(str::trim), Some("```rust"), "{spec}");
        let code: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        steps.push(Step {
            op: op.to_owned(),
            path: path.to_owned(),
            anchor,
            code: code.join("\n") + "\n",
        });
    }
    steps
}

/// Applies `step` to the copy at `root`.
fn apply(root: &Path, step: &Step) {
    let file = root.join(&step.path);
    if step.op == "new" {
        assert!(!file.exists(), "{} exists already", step.path);
        std::fs::write(&file, &step.code).expect("writes");
        return;
    }
    let text = std::fs::read_to_string(&file).unwrap_or_else(|err| panic!("{}: {err}", step.path));
    let changed = match (step.op.as_str(), &step.anchor) {
        ("append", None) => format!("{text}\n{}", step.code),
        (op @ ("after" | "before" | "replace"), Some(anchor)) => {
            let at: Vec<usize> = text
                .lines()
                .enumerate()
                .filter(|(_, line)| line.trim() == anchor)
                .map(|(i, _)| i)
                .collect();
            assert_eq!(at.len(), 1, "{}: the line {anchor:?} once", step.path);
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            let code = step.code.trim_end().to_owned();
            match op {
                "after" => lines.insert(at[0] + 1, code),
                "before" => lines.insert(at[0], code),
                _ => lines[at[0]] = code,
            }
            lines.join("\n") + "\n"
        }
        other => panic!("unknown recipe step {other:?}"),
    };
    std::fs::write(&file, changed).expect("writes");
}

/// The workspace's tracked files copied to `to`, its `[patch]` pointing at this workspace's
/// vendored crates (so that they, and what depends on them, stay fresh).
fn copy_workspace(from: &Path, to: &Path) {
    let listed = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(from)
        .output()
        .expect("git lists the workspace's files");
    assert!(listed.status.success(), "git ls-files");
    for name in listed.stdout.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = std::str::from_utf8(name).expect("a UTF-8 path");
        let source = from.join(name);
        if !source.is_file() {
            continue;
        }
        let target = to.join(name);
        std::fs::create_dir_all(target.parent().expect("a folder")).expect("makes the folder");
        std::fs::copy(&source, &target).expect("copies");
    }
    let manifest = to.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("reads");
    let vendored = format!("path = \"{}/vendor/", from.display());
    std::fs::write(&manifest, text.replace("path = \"vendor/", &vendored)).expect("writes");
}

/// `cargo ARGS` in `dir`, as a developer's shell would run it: without the variables Cargo set
/// for this test (recipe::set_by_cargo_test says why).
fn cargo_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO"));
    command.args(args).current_dir(dir);
    for (name, _) in std::env::vars_os() {
        if set_by_cargo_test(&name.to_string_lossy()) {
            command.env_remove(name);
        }
    }
    command
}

/// `cargo ARGS` in the copy at `root`, with `target` as its target directory.
fn cargo(root: &Path, target: &Path, args: &[&str]) {
    let started = Instant::now();
    let output = cargo_command(root, args)
        .env("CARGO_TARGET_DIR", target)
        .stdout(Stdio::null())
        .output()
        .expect("cargo runs");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "`cargo {}` in the copy failed after the README's steps:\n{log}",
        args.join(" ")
    );
    assert!(started.elapsed() < BUILD_DEADLINE, "{log}");
    println!("cargo {} in {:.0?}", args.join(" "), started.elapsed());
}

#[tokio::test]
#[ignore = "builds a copy of the workspace with README's new event: `just test-recipes`"]
async fn the_readmes_add_an_event_steps_build_and_stream_an_order() {
    let _turn = one_recipe_at_a_time().await;
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let steps = steps(&readme);
    let files: Vec<&str> = steps.iter().map(|step| step.path.as_str()).collect();
    assert_eq!(
        files,
        [
            "shared/src/order.rs",
            "shared/src/lib.rs",
            "shared/src/app_event.rs",
            "shared/src/app_event.rs",
            "server/src/routes/publish.rs",
            "frontend/src/state.rs"
        ],
        "the README's steps, in order: {steps:#?}"
    );

    let scratch = tempfile::tempdir().expect("a folder");
    let copy = scratch.path().join("pingstream");
    copy_workspace(&root, &copy);
    for step in &steps {
        apply(&copy, step);
    }
    // The workspace's own target directory: the dependencies are built already (as `just dev`
    // builds them), only the copy's crates compile (their path is another). The copy's `server`
    // replaces target/debug/server until the next cargo build here links this workspace's back.
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let _restore = RestoreServer(&root);
    cargo(
        &copy,
        &target,
        &["build", "-p", "server", "--bin", "server"],
    );
    cargo(
        &copy,
        &target,
        &[
            "build",
            "-p",
            "frontend",
            "--target",
            "wasm32-unknown-unknown",
        ],
    );

    // The copy's server, with a publish token; README's curl request publishes an order.
    let port = free_port();
    let mut server = Command::new(target.join("debug/server"))
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .args(["--publish-token", "s3cret", "--static-dir", "/nonexistent"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the copy's server starts");
    let guard = KillOnDrop(&mut server);
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let stream = loop {
        match client.get(format!("{base}/sse?topic=orders")).send().await {
            Ok(response) if response.status() == 200 => break response,
            other => {
                assert!(Instant::now() < deadline, "the copy's stream: {other:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let published = client
        .post(format!("{base}/events/order"))
        .header("Authorization", "Bearer s3cret")
        .header("Content-Type", "application/json")
        .body(r#"{"id": "A-17", "status": "paid"}"#)
        .send()
        .await
        .expect("publishes");
    assert_eq!(published.status(), 202, "{:?}", published.text().await);
    let mut body = stream.bytes_stream();
    let mut seen = String::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = body.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.expect("reads")));
            if seen.contains("event: order\n") {
                return;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no order on the stream: {seen}");
    assert!(
        seen.contains(r#""id":"A-17","status":"paid""#),
        "the order as published: {seen}"
    );
    drop(guard);
}

/// Links this workspace's own `server` back into the target directory when dropped (the copy's
/// replaced it), even when the test fails: what any cargo build here does, sooner.
struct RestoreServer<'a>(&'a Path);

impl Drop for RestoreServer<'_> {
    fn drop(&mut self) {
        let _ = cargo_command(self.0, &["build", "-p", "server", "--bin", "server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Kills the child when dropped, even when the test fails.
struct KillOnDrop<'a>(&'a mut std::process::Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
