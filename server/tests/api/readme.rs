//! The README's examples, run against a real server so that they cannot drift from it.

use std::{process::Command, time::Duration};

use serde_json::Value;
use shared::{AppEvent, Level};

use crate::helpers::spawn_app;

const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));

/// The first fenced block after the line holding `marker`, without its fences.
fn block_after(marker: &str) -> String {
    let (_, after) = README
        .split_once(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in README.md"));
    let mut lines = after
        .lines()
        .skip_while(|line| !line.starts_with("```"))
        .skip(1);
    let block: Vec<&str> = lines
        .by_ref()
        .take_while(|line| !line.starts_with("```"))
        .collect();
    assert!(!block.is_empty(), "an empty block after {marker:?}");
    block.join("\n")
}

#[tokio::test]
async fn the_readme_publish_example_works() {
    let token = "readme-t0ken";
    let app = spawn_app(|config| {
        config.publish_tokens = vec![token.parse().expect("a token")];
        config.interval_ms = 60_000;
    })
    .await;
    let mut stream = app.open_stream(None).await;
    let ping = stream.next_ping().await;
    let example = block_after("<!-- publish-example");
    assert!(
        example.contains("http://127.0.0.1:8080/events/notice"),
        "{example}"
    );
    // The README's command, as a reader would paste it, against this test's server.
    let command = example.replace("http://127.0.0.1:8080", &app.address);
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg("-c")
            .arg(format!("{command} -w '\\n%{{http_code}}'"))
            .env("PINGSTREAM_PUBLISH_TOKEN", token)
            .output()
            .expect("bash and curl run")
    })
    .await
    .expect("the command ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (body, status) = stdout.rsplit_once('\n').expect("a body and a status");
    assert_eq!(status, "202", "{stdout}");
    let body: Value = serde_json::from_str(body).expect("a JSON answer");
    let id = body["id"].as_str().expect("an id");
    let received = tokio::time::timeout(Duration::from_secs(5), stream.next_event())
        .await
        .expect("the notice arrives");
    assert_eq!(received.id.to_string(), id);
    assert_eq!(received.id.seq, ping.id.seq + 1);
    assert!(
        matches!(&received.event, AppEvent::Notice(notice) if notice.text == "Deploy at 18:00" && notice.level == Level::Warning),
        "{received:?}"
    );
}

#[tokio::test]
async fn the_readme_topics_example_works() {
    let token = "readme-t0pics";
    let app = spawn_app(|config| {
        config.publish_tokens = vec![token.parse().expect("a token")];
        config.interval_ms = 60_000;
    })
    .await;
    let subscribe = block_after("<!-- topics-subscribe");
    let publish = block_after("<!-- topics-publish");
    for block in [&subscribe, &publish] {
        assert!(block.contains("http://127.0.0.1:8080/"), "{block}");
    }
    // The README's follower, as a reader would paste it, against this test's server; it is
    // stopped after a few seconds, and what it printed is read then.
    let follow = subscribe.replace("http://127.0.0.1:8080", &app.address);
    let follower = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(format!("{follow} --max-time 4"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("bash and curl run");
    app.wait_for_clients(1, Duration::from_secs(5)).await;
    let command = publish.replace("http://127.0.0.1:8080", &app.address);
    let output = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(command)
        .env("PINGSTREAM_PUBLISH_TOKEN", token)
        .output()
        .await
        .expect("bash and curl run");
    let answer: Value = serde_json::from_slice(&output.stdout).expect("a JSON answer");
    assert_eq!(answer["topic"], "orders/42", "{answer}");
    assert_eq!(answer["topic_seq"], 1, "{answer}");
    let seen = follower.wait_with_output().await.expect("curl ends");
    let seen = String::from_utf8_lossy(&seen.stdout);
    let id = answer["id"].as_str().expect("an id");
    assert!(
        seen.contains(&format!(
            "id: {id}:orders/42:1\nevent: notice\ndata: {{\"text\":\"Order 42 shipped\""
        )),
        "{seen}"
    );
    assert!(
        !seen.contains("event: ping"),
        "a stream on orders/* carries no ping: {seen}"
    );
    assert!(seen.contains("\"start\":\"fresh\""), "{seen}");
}
