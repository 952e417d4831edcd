//! Fuzz targets for every parser that reads input from the network: the `Last-Event-ID` and
//! `?lastEventId=` cursor, `?topic=` selectors, a publish body, and the load tool's SSE response
//! decoder. Each feeds arbitrary and near-valid input for a time budget and checks that nothing
//! panics and that whatever is accepted is exactly what the input spelled.
//!
//! `just test` runs each for [`QUICK`]; `just fuzz` for a minute each
//! (`PINGSTREAM_FUZZ_SECONDS=60`), printing executions per second and the inputs tried. Any
//! crash found becomes a regression case below. (The page's tab-message decoder is fuzzed in
//! the browser suite: it is wasm code.)

use std::time::{Duration, Instant};

use proptest::{
    prelude::*,
    strategy::ValueTree as _,
    test_runner::{Config, TestRunner},
};

/// The budget of each target in `just test`.
const QUICK: Duration = Duration::from_secs(2);

/// Runs `check` on values of `strategy` until the budget runs out, and reports the count.
fn fuzz<S: Strategy>(name: &str, strategy: S, mut check: impl FnMut(S::Value)) {
    let budget = std::env::var("PINGSTREAM_FUZZ_SECONDS")
        .ok()
        .and_then(|seconds| seconds.parse().ok())
        .map_or(QUICK, Duration::from_secs);
    let mut runner = TestRunner::new(Config::default());
    let started = Instant::now();
    let mut execs: u64 = 0;
    while started.elapsed() < budget {
        let tree = strategy.new_tree(&mut runner).expect("a value");
        check(tree.current());
        execs += 1;
    }
    let rate = execs as f64 / started.elapsed().as_secs_f64();
    println!("fuzz {name}: {execs} inputs in {budget:?} ({rate:.0}/s)");
    assert!(execs > 100, "{name}: only {execs} inputs ran");
}

/// Arbitrary bytes, and texts made of the characters the parser cares about.
fn bytes_or_near(alphabet: &'static str, max: usize) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..max),
        proptest::string::string_regex(&format!("[{alphabet}]{{0,{max}}}"))
            .expect("a regex")
            .prop_map(String::into_bytes),
    ]
    .boxed()
}

#[test]
fn fuzz_last_event_id() {
    fuzz(
        "last_event_id",
        bytes_or_near("0-9a-f:/*.~_-", 300),
        |bytes| {
            let text = String::from_utf8_lossy(&bytes);
            if let Ok(id) = shared::EventStamp::cursor(&text) {
                // Accepted only in one of its two spellings.
                let bare = id.to_string();
                assert!(
                    text == bare || text.starts_with(&format!("{bare}:")),
                    "{text:?} read as {bare}"
                );
            }
        },
    );
}

#[test]
fn fuzz_topic_selectors() {
    fuzz(
        "topic_selectors",
        bytes_or_near("a-c*/&=%0-9", 400),
        |bytes| {
            let query = String::from_utf8_lossy(&bytes);
            let texts: Vec<_> = form_urlencoded::parse(query.as_bytes())
                .map(|(_, value)| value.into_owned())
                .collect();
            if let Ok(selection) = shared::Selection::parse(texts.iter().map(String::as_str)) {
                assert!(selection.selectors().len() <= shared::Selection::MAX_SELECTORS);
                for selector in selection.selectors() {
                    assert!(texts.iter().any(|text| text == selector.as_str()));
                    // Matching is total on any topic.
                    let topic: shared::Topic = "a/b/c".parse().expect("a topic");
                    let _ = selector.matches(&topic);
                }
            }
        },
    );
}

#[test]
fn fuzz_publish_body() {
    fuzz(
        "publish_body",
        bytes_or_near("{}\\[\\]\":,a-z0-9 \\\\", 300),
        |bytes| {
            if let Ok(payload) = server::routes::accept_body("notice", &bytes) {
                assert_eq!(payload.name, "notice");
                assert!(payload.is_well_formed());
                let _: shared::Notice =
                    serde_json::from_str(&payload.data).expect("an accepted body is a notice");
            }
        },
    );
}

#[test]
fn fuzz_sse_response_decoder() {
    let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    fuzz(
        "sse_response_decoder",
        (
            bytes_or_near("0-9a-f\\r\\n:;idatev ", 600),
            proptest::collection::vec(1..64usize, 1..8),
            any::<bool>(),
        ),
        |(body, cuts, with_head)| {
            let mut input = if with_head { head.clone() } else { Vec::new() };
            input.extend_from_slice(&body);
            let mut decoder = bench::wire::ResponseDecoder::new();
            let mut rest = &input[..];
            for cut in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (piece, after) = rest.split_at((*cut).min(rest.len()));
                rest = after;
                if decoder
                    .feed(piece, &mut |event| {
                        assert!(!event.id.contains(&b'\n') && !event.event.contains(&b'\n'));
                    })
                    .is_err()
                {
                    break;
                }
            }
        },
    );
}
