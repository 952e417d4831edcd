//! The *naive* baseline: SSE the way the tutorials write it.
//!
//! actix-web with actix-web-lab's `Sse` responder; every client gets its own task with its own
//! `tokio::time::interval`, which on each tick builds the JSON for that client alone and sends it
//! into the client's `mpsc` channel (`Sse::from_infallible_receiver`). Nothing is shared between
//! clients but a [`TickClock`], so all clients' counts agree and the load tool can check them for
//! gaps exactly as it does for the real server. Same wire format as the real server.

use std::{
    net::TcpListener,
    time::{Duration, Instant, SystemTime},
};

use actix_web::{App, HttpServer, Responder, dev::Server, web};
use actix_web_lab::sse;
use chrono::{DateTime, Utc};
use shared::{Epoch, EventId, Ping, StreamEvent as _};
use tokio::sync::mpsc;

/// Events a client's channel holds before its task waits (the tutorial's value).
const CHANNEL_CAPACITY: usize = 10;
/// The `retry:` hint, as the real server sends it.
const RETRY: Duration = Duration::from_millis(2000);

/// The one clock all client tasks derive their ticks from: tick `n` (counting from 1) is due
/// `(n - 1) × period` after the server started.
#[derive(Debug, Clone, Copy)]
pub struct TickClock {
    epoch: u64,
    period: Duration,
    start: Instant,
    start_wall: SystemTime,
}

impl TickClock {
    /// A clock whose tick 1 is now.
    pub fn start(period: Duration, epoch: u64) -> Self {
        Self {
            epoch,
            period: period.max(Duration::from_millis(1)),
            start: Instant::now(),
            start_wall: SystemTime::now(),
        }
    }

    /// The newest tick at `at`.
    pub fn count_at(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.start);
        // Rounded, so the instant an interval reports for a tick maps back to that tick.
        let ticks = (since.as_nanos() + self.period.as_nanos() / 2) / self.period.as_nanos();
        u64::try_from(ticks).unwrap_or(u64::MAX - 1) + 1
    }

    /// The newest tick now, floored: a new client gets it at once.
    pub fn current(&self) -> u64 {
        let since = self.start.elapsed();
        u64::try_from(since.as_nanos() / self.period.as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    /// When tick `count` is due.
    pub fn instant_of(&self, count: u64) -> Instant {
        self.start + self.offset_of(count)
    }

    /// The ping of tick `count`, stamped with the tick's due time (not with when a client's task
    /// got round to it: that delay is what this baseline is here to show).
    pub fn ping(&self, count: u64) -> Ping {
        let wall = self.start_wall + self.offset_of(count);
        Ping {
            count,
            time: DateTime::<Utc>::from(wall),
        }
    }

    /// The SSE event of tick `count`, built the tutorial way.
    pub fn event(&self, count: u64) -> sse::Event {
        let id = EventId {
            epoch: Epoch(self.epoch),
            seq: count,
        };
        match sse::Data::new_json(self.ping(count)) {
            Ok(data) => data.id(id.to_string()).event(Ping::NAME).into(),
            // A Ping always serializes; a comment keeps the stream going if it ever did not.
            Err(err) => sse::Event::Comment(err.to_string().into()),
        }
    }

    fn offset_of(&self, count: u64) -> Duration {
        let ticks = u32::try_from(count.saturating_sub(1)).unwrap_or(u32::MAX);
        self.period * ticks
    }
}

/// `GET /sse`: a channel and a task with an interval for this one client.
async fn stream(clock: web::Data<TickClock>) -> impl Responder {
    let clock = **clock;
    let (event_tx, event_rx) = mpsc::channel(CHANNEL_CAPACITY);
    actix_web::rt::spawn(async move {
        let current = clock.current();
        if event_tx.send(clock.event(current)).await.is_err() {
            return;
        }
        let mut ticks =
            tokio::time::interval_at(clock.instant_of(current + 1).into(), clock.period);
        loop {
            let due = ticks.tick().await;
            if event_tx
                .send(clock.event(clock.count_at(due.into_std())))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    sse::Sse::from_infallible_receiver(event_rx).with_retry_duration(RETRY)
}

/// Builds the naive server on `listener` (actix defaults: one worker per core). Must be called
/// inside an actix system; the returned server runs when awaited.
pub fn serve(listener: TcpListener, clock: TickClock) -> std::io::Result<Server> {
    serve_over(listener, clock, None)
}

/// [`serve`] over TLS with `tls` (HTTP/2 offered by ALPN): what the HTTP/2 load client is
/// tested against.
pub fn serve_tls(
    listener: TcpListener,
    clock: TickClock,
    tls: rustls::ServerConfig,
) -> std::io::Result<Server> {
    serve_over(listener, clock, Some(tls))
}

fn serve_over(
    listener: TcpListener,
    clock: TickClock,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<Server> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(clock))
            .route(shared::STREAM_PATH, web::get().to(stream))
    });
    let server = match tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls)?,
        None => server.listen(listener)?,
    };
    Ok(server.run())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_count_from_one_at_start() {
        let clock = TickClock::start(Duration::from_secs(1), 7);
        assert_eq!(clock.current(), 1);
        assert_eq!(clock.count_at(clock.instant_of(1)), 1);
        assert_eq!(clock.count_at(clock.instant_of(42)), 42);
        // An interval that fires a little late still names its own tick.
        assert_eq!(
            clock.count_at(clock.instant_of(42) + Duration::from_millis(400)),
            42
        );
    }

    #[test]
    fn a_ping_carries_its_ticks_due_time() {
        let clock = TickClock::start(Duration::from_millis(250), 7);
        let first = clock.ping(1);
        let fifth = clock.ping(5);
        assert_eq!(fifth.count, 5);
        assert_eq!((fifth.time - first.time).num_milliseconds(), 1000);
    }
}
