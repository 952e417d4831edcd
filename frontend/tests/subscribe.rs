//! The README's examples of a component that subscribes to one event of the set
//! (`subscribe/notice_board.rs`) and of one that follows some topics (`subscribe/order_board.rs`),
//! compiled, run against a scripted stream, and checked to be what the README shows.

/// The example, word for word as the README shows it (the same file `include_str!` reads below).
mod notice_board {
    include!("subscribe/notice_board.rs");
}
/// The topics example, word for word as the README shows it.
mod order_board {
    include!("subscribe/order_board.rs");
}
mod support;

use notice_board::NoticeBoard;
use order_board::OrderBoard;
use shared::{Epoch, EventId, Notice, StreamEvent as _};
use support::{
    all, attr, eventually,
    fake::{dispatch, install_fake_event_source, notice_on, open, ping_with_id, sources, stamp},
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
fn the_readme_shows_the_examples_as_they_are() {
    let readme = words(include_str!("../../README.md"));
    for (path, example) in [
        (
            "subscribe/notice_board.rs",
            include_str!("subscribe/notice_board.rs"),
        ),
        (
            "subscribe/order_board.rs",
            include_str!("subscribe/order_board.rs"),
        ),
    ] {
        assert!(
            readme.contains(&words(example)),
            "README.md does not show frontend/tests/{path} as it is"
        );
    }
}

#[wasm_bindgen_test]
async fn the_example_lists_the_notices_and_only_them() {
    install_fake_event_source();
    let before = sources().len();
    let root = root();
    let board = Renderer::<NoticeBoard>::with_root(root.clone()).render();
    let source = eventually(&root, "the stream", || sources().get(before).cloned()).await;
    assert_eq!(support::fake::url_of(&source), shared::STREAM_PATH);
    open(&source);
    let id = |seq| EventId {
        epoch: Epoch(0xaa),
        seq,
    };
    ping_with_id(&source, 1, id(1));
    let notice = r#"{"text":"Deploy at 18:00","level":"info","time":"2026-11-25T09:00:00.000Z"}"#;
    dispatch(&source, Notice::NAME, notice, &stamp(id(2), "notices", 1));
    let items = eventually(&root, "the notice", || {
        Some(all(&root, ".board li")).filter(|items| !items.is_empty())
    })
    .await;
    assert_eq!(items.len(), 1, "the ping is not listed");
    assert_eq!(items[0].text_content().as_deref(), Some("Deploy at 18:00"));
    assert_eq!(attr(&root, ".board", "data-live").as_deref(), Some("true"));
    board.destroy();
}

#[wasm_bindgen_test]
async fn the_topics_example_follows_the_orders_and_lists_their_notices_with_their_topic() {
    install_fake_event_source();
    let before = sources().len();
    let root = root();
    let board = Renderer::<OrderBoard>::with_root(root.clone()).render();
    let source = eventually(&root, "the stream", || sources().get(before).cloned()).await;
    assert_eq!(support::fake::url_of(&source), "/sse?topic=orders%2F*");
    open(&source);
    let id = |seq| EventId {
        epoch: Epoch(0xaa),
        seq,
    };
    notice_on(&source, "Order 42 paid", "info", id(5), "orders/42", 1);
    notice_on(&source, "Order 7 shipped", "info", id(9), "orders/7", 4);
    let items = eventually(&root, "both notices", || {
        Some(all(&root, ".orders li")).filter(|items| items.len() == 2)
    })
    .await;
    let shown: Vec<(Option<String>, Option<String>)> = items
        .iter()
        .map(|item| (item.get_attribute("data-topic"), item.text_content()))
        .collect();
    assert_eq!(
        shown,
        [
            (
                Some("orders/42".to_owned()),
                Some("Order 42 paid".to_owned())
            ),
            (
                Some("orders/7".to_owned()),
                Some("Order 7 shipped".to_owned())
            ),
        ]
    );
    assert_eq!(
        attr(&root, ".orders", "data-status").as_deref(),
        Some("live")
    );
    board.destroy();
}
