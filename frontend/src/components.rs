//! The page's pieces, all pure: data in, markup out, callbacks up. Every one is a plain view
//! function: the same purity as a component at a fraction of the size (each Yew component costs
//! the page about a kilobyte on the wire, and the page has a budget of 90 KiB). Rows are keyed, so
//! a row that did not change (a ping once shown) is compared, not touched in the page.
//!
//! Which to write: a view function (`fn piece(props…) -> Html`) for any piece of the page; a
//! `#[component]` with its `XxxProps` (STYLE.md's default) only for a piece that needs state or a
//! hook of its own, which none here does (the app holds the state, in `state.rs`). Measured with
//! `trunk build --release` and README's brotli loop: the ping row as a `#[component]` cost 0.9 KB
//! brotli more than as a view function; the topics box's second stream is a second hook in the
//! app rather than a component of its own for the same reason (README, Page weight).

mod gap_mark;
mod latency_chart;
mod local_time;
mod notice_item;
mod notice_list;
mod ping_item;
mod ping_list;
mod reset_mark;
mod session_box;
mod status_badge;
mod stream_stats;
mod topic_list;

pub use gap_mark::gap_mark;
pub use latency_chart::{latency_chart, points};
pub use local_time::local_time;
pub use notice_item::{level_name, notice_item};
pub use notice_list::{notice_items, notice_list};
pub use ping_item::ping_item;
pub use ping_list::ping_list;
pub use reset_mark::reset_mark;
pub use session_box::session_box;
pub use status_badge::status_badge;
pub use stream_stats::stream_stats;
pub use topic_list::topic_list;
