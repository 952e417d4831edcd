//! Pure components: props in, markup out, callbacks up.

mod gap_mark;
mod latency_chart;
mod local_time;
mod notice_item;
mod notice_list;
mod ping_item;
mod ping_list;
mod reset_mark;
mod status_badge;
mod stream_stats;

pub use gap_mark::{GapMark, GapMarkProps};
pub use latency_chart::{LatencyChart, LatencyChartProps, points};
pub use local_time::{LocalTime, LocalTimeProps};
pub use notice_item::{NoticeItem, NoticeItemProps, level_name};
pub use notice_list::{NoticeList, NoticeListProps};
pub use ping_item::{PingItem, PingItemProps};
pub use ping_list::{PingList, PingListProps};
pub use reset_mark::ResetMark;
pub use status_badge::{StatusBadge, StatusBadgeProps};
pub use stream_stats::{StreamStats, StreamStatsProps};
