//! Pure components: props in, markup out.

mod gap_mark;
mod ping_item;
mod ping_list;
mod reset_mark;
mod status_badge;
mod stream_stats;

pub use gap_mark::{GapMark, GapMarkProps};
pub use ping_item::{PingItem, PingItemProps};
pub use ping_list::{PingList, PingListProps};
pub use reset_mark::ResetMark;
pub use status_badge::{StatusBadge, StatusBadgeProps};
pub use stream_stats::{StreamStats, StreamStatsProps};
