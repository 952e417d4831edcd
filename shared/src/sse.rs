//! The stream's events as actix-web-lab [`sse::Event`]s: the one place that decides their bytes.
//! Only with the `sse` feature, which the server turns on; the browser only parses them.
//!
//! # Examples
//! The exact bytes of a ping and of a notice, as the server's `Sse` responder writes them:
//! ```
//! # use futures_util::FutureExt as _;
//! # fn wire(event: actix_web_lab::sse::Event) -> String {
//! #     let body = actix_web_lab::sse::Sse::from_infallible_stream(futures_util::stream::iter([event]));
//! #     let bytes = actix_web::body::to_bytes(body).now_or_never().unwrap().unwrap();
//! #     String::from_utf8(bytes.to_vec()).unwrap()
//! # }
//! use chrono::{TimeZone, Utc};
//! use shared::{AppEvent, Epoch, EventId, EventSet, EventStamp, Timing, Level, Notice, Ping, sse};
//!
//! let time = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 42).unwrap();
//! let epoch = Epoch(0x9f3c_2a1b_7d4e_5f60);
//! let ping = AppEvent::from(Ping { count: 40, time });
//! let stamp = |seq, topic: &str, topic_seq| EventStamp {
//!     id: EventId { epoch, seq },
//!     topic: topic.parse().unwrap(),
//!     topic_seq,
//! };
//! let event = sse::event(&stamp(42, "ping", 40), ping.name(), ping.to_json().unwrap());
//! assert_eq!(
//!     wire(event),
//!     "id: 9f3c2a1b7d4e5f60-42:ping:40\n\
//!      event: ping\n\
//!      data: {\"count\":40,\"time\":\"2026-11-25T09:00:42.000000Z\"}\n\n"
//! );
//!
//! let notice = AppEvent::from(Notice { text: "Deploy at 18:00".into(), level: Level::Warning, time });
//! let event = sse::event(&stamp(43, "orders/42", 1), notice.name(), notice.to_json().unwrap());
//! assert_eq!(
//!     wire(event),
//!     "id: 9f3c2a1b7d4e5f60-43:orders/42:1\n\
//!      event: notice\n\
//!      data: {\"text\":\"Deploy at 18:00\",\"level\":\"warning\",\"time\":\"2026-11-25T09:00:42.000000Z\"}\n\n"
//! );
//!
//! // A heartbeat has no `id:`, so the browser's `Last-Event-ID` stays the last event's.
//! let heartbeat = sse::heartbeat_event(&Timing { interval_ms: 1000, heartbeat_ms: Some(2000), start: None, replayed: 0 });
//! assert_eq!(
//!     wire(heartbeat.unwrap()),
//!     "event: heartbeat\ndata: {\"interval_ms\":1000,\"heartbeat_ms\":2000}\n\n"
//! );
//! ```

pub use actix_web_lab::sse::Event;
use actix_web_lab::sse::{self};

use crate::{EventStamp, StreamEvent, Timing};

/// One event of the stream: `id:` the [`EventStamp`], `event:` `name`, `data:` `json` (one
/// line: JSON as `serde_json` writes it has no newline).
pub fn event(stamp: &EventStamp, name: &str, json: String) -> Event {
    sse::Data::new(json)
        .event(name.to_owned())
        .id(stamp.to_string())
        .into()
}

/// One heartbeat: `event:` `heartbeat`, `data:` the [`Timing`] as JSON, no `id:`.
///
/// # Errors
/// Only if the heartbeat cannot be serialized, which a [`Timing`] always can.
pub fn heartbeat_event(heartbeat: &Timing) -> Result<Event, serde_json::Error> {
    Ok(sse::Data::new_json(heartbeat)?.event(Timing::NAME).into())
}
