//! Helpers shared by the browser tests: a fresh root element per test, DOM queries, and polling
//! with a deadline instead of sleeping.

#![allow(dead_code, reason = "each test binary uses its own subset")]

pub mod fake;

use gloo_timers::future::TimeoutFuture;
use wasm_bindgen::JsCast;
use web_sys::Element;

/// How long a test waits for the DOM to reach the state it expects.
const DEADLINE_MS: f64 = 8_000.0;

/// A new, empty `<div>` in the page's body to render one test's component into.
pub fn root() -> Element {
    let document = document();
    let root = document
        .create_element("div")
        .expect("create a root element");
    document
        .body()
        .expect("the test page has a body")
        .append_child(&root)
        .expect("attach root");
    root
}

fn document() -> web_sys::Document {
    web_sys::window()
        .and_then(|window| window.document())
        .expect("a browser document")
}

/// Polls `check` until it returns `Some`, and returns that; panics with `what` and the DOM
/// under `root` once the deadline has passed.
pub async fn eventually<T>(root: &Element, what: &str, check: impl Fn() -> Option<T>) -> T {
    let deadline = js_sys::Date::now() + DEADLINE_MS;
    loop {
        if let Some(found) = check() {
            return found;
        }
        if js_sys::Date::now() > deadline {
            panic!(
                "timed out waiting for {what}; the DOM is:\n{}",
                root.inner_html()
            );
        }
        TimeoutFuture::new(10).await;
    }
}

/// All elements under `root` matching `selector`, in document order.
pub fn all(root: &Element, selector: &str) -> Vec<Element> {
    let nodes = root.query_selector_all(selector).expect("a valid selector");
    (0..nodes.length())
        .filter_map(|index| nodes.item(index))
        .filter_map(|node| node.dyn_into::<Element>().ok())
        .collect()
}

/// The value of attribute `name` on the first element under `root` matching `selector`.
pub fn attr(root: &Element, selector: &str, name: &str) -> Option<String> {
    root.query_selector(selector)
        .expect("a valid selector")?
        .get_attribute(name)
}

/// The text of the first element under `root` matching `selector`.
pub fn text(root: &Element, selector: &str) -> Option<String> {
    root.query_selector(selector)
        .expect("a valid selector")?
        .text_content()
}

/// The rows of the ping list under `root`, newest first, as `#7`, `gap 3` or `reset`.
pub fn rows(root: &Element) -> Vec<String> {
    all(root, "#pings > li")
        .iter()
        .map(|row| {
            if let Some(count) = row.get_attribute("data-count") {
                format!("#{count}")
            } else if let Some(missed) = row.get_attribute("data-gap") {
                format!("gap {missed}")
            } else if row.has_attribute("data-reset") {
                "reset".to_owned()
            } else {
                format!("unexpected row {}", row.outer_html())
            }
        })
        .collect()
}

/// Properties of [`View`].
#[derive(yew::Properties, PartialEq)]
pub struct ViewProps {
    /// The markup a view function made.
    pub html: yew::Html,
}

/// A view function's markup as a component, for `yew::Renderer`.
#[yew::component]
pub fn View(props: &ViewProps) -> yew::Html {
    props.html.clone()
}
