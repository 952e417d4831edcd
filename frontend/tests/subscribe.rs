//! The README's example of a component that subscribes to one event of the set
//! (`subscribe/notice_board.rs`), compiled, run against a scripted stream, and checked to be what
//! the README shows.

/// The example, word for word as the README shows it (the same file `include_str!` reads below).
mod notice_board {
    include!("subscribe/notice_board.rs");
}
mod support;

use notice_board::NoticeBoard;
use shared::{Epoch, EventId, Notice, StreamEvent as _};
use support::{
    all, attr, eventually,
    fake::{dispatch, install_fake_event_source, open, ping_with_id, sources},
    root,
};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use yew::Renderer;

wasm_bindgen_test_configure!(run_in_browser);

/// `text` with every run of whitespace made one space.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[wasm_bindgen_test(unsupported = test)]
fn the_readme_shows_the_example_as_it_is() {
    let readme = include_str!("../../README.md");
    let example = include_str!("subscribe/notice_board.rs");
    assert!(
        words(readme).contains(&words(example)),
        "README.md does not show frontend/tests/subscribe/notice_board.rs as it is"
    );
}

#[wasm_bindgen_test]
async fn the_example_lists_the_notices_and_only_them() {
    install_fake_event_source();
    let root = root();
    let board = Renderer::<NoticeBoard>::with_root(root.clone()).render();
    let source = eventually(&root, "the stream", || sources().first().cloned()).await;
    assert_eq!(support::fake::url_of(&source), shared::STREAM_PATH);
    open(&source);
    let id = |seq| EventId {
        epoch: Epoch(0xaa),
        seq,
    };
    ping_with_id(&source, 1, id(1));
    let notice = r#"{"text":"Deploy at 18:00","level":"info","time":"2026-11-25T09:00:00.000Z"}"#;
    dispatch(&source, Notice::NAME, notice, &id(2).to_string());
    let items = eventually(&root, "the notice", || {
        Some(all(&root, ".board li")).filter(|items| !items.is_empty())
    })
    .await;
    assert_eq!(items.len(), 1, "the ping is not listed");
    assert_eq!(items[0].text_content().as_deref(), Some("Deploy at 18:00"));
    assert_eq!(attr(&root, ".board", "data-live").as_deref(), Some("true"));
    board.destroy();
}
