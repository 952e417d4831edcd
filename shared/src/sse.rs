//! The stream's events as actix-web-lab [`sse::Event`]s: the one place that decides their bytes.
//! Only with the `sse` feature, which the server turns on; the browser only parses them.
//!
//! # Examples
//! The exact bytes of a ping, as the server's `Sse` responder writes them:
//! ```
//! # use futures_util::FutureExt as _;
//! # fn wire(event: actix_web_lab::sse::Event) -> String {
//! #     let body = actix_web_lab::sse::Sse::from_infallible_stream(futures_util::stream::iter([event]));
//! #     let bytes = actix_web::body::to_bytes(body).now_or_never().unwrap().unwrap();
//! #     String::from_utf8(bytes.to_vec()).unwrap()
//! # }
//! use chrono::{TimeZone, Utc};
//! use shared::{Epoch, EventId, Heartbeat, Ping, sse};
//!
//! let time = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 42).unwrap();
//! let id = EventId { epoch: Epoch(0x9f3c_2a1b_7d4e_5f60), count: 42 };
//! let event = sse::ping_event(id, &Ping { count: 42, time }).unwrap();
//! assert_eq!(
//!     wire(event),
//!     "id: 9f3c2a1b7d4e5f60-42\n\
//!      event: ping\n\
//!      data: {\"count\":42,\"time\":\"2026-11-25T09:00:42.000Z\"}\n\n"
//! );
//!
//! // A heartbeat has no `id:`, so the browser's `Last-Event-ID` stays the last ping's.
//! let heartbeat = sse::heartbeat_event(&Heartbeat { interval_ms: 1000, heartbeat_ms: Some(2000) });
//! assert_eq!(
//!     wire(heartbeat.unwrap()),
//!     "event: heartbeat\ndata: {\"interval_ms\":1000,\"heartbeat_ms\":2000}\n\n"
//! );
//! ```

pub use actix_web_lab::sse::Event;
use actix_web_lab::sse::{self};

use crate::{EVENT_NAME, EventId, HEARTBEAT_EVENT, Heartbeat, Ping};

/// One ping: `id:` the [`EventId`], `event:` [`EVENT_NAME`], `data:` the [`Ping`] as JSON.
///
/// # Errors
/// Only if the ping cannot be serialized, which a [`Ping`] always can.
pub fn ping_event(id: EventId, ping: &Ping) -> Result<Event, serde_json::Error> {
    Ok(sse::Data::new_json(ping)?
        .event(EVENT_NAME)
        .id(id.to_string())
        .into())
}

/// One heartbeat: `event:` [`HEARTBEAT_EVENT`], `data:` the [`Heartbeat`] as JSON, no `id:`.
///
/// # Errors
/// Only if the heartbeat cannot be serialized, which a [`Heartbeat`] always can.
pub fn heartbeat_event(heartbeat: &Heartbeat) -> Result<Event, serde_json::Error> {
    Ok(sse::Data::new_json(heartbeat)?
        .event(HEARTBEAT_EVENT)
        .into())
}
