//! The board the clients of one run record onto, and the rest of what their tasks share
//! ([`Run`]): the HTTP/1.1 clients of [`crate::load`] and the HTTP/2 streams of
//! [`crate::h2load`] alike, so every figure of a run means the same whatever carried it.
//!
//! The board lives in an `Rc<RefCell<_>>` on the run's one thread and is never borrowed across
//! an `.await`; the driver only polls it.

use std::{
    cell::RefCell,
    collections::BTreeMap,
    io,
    net::SocketAddr,
    time::{Duration, Instant, SystemTime},
};

use shared::{EventId, Ping, StreamEvent as _};
use thiserror::Error;
use tokio::{
    net::{TcpSocket, TcpStream},
    sync::Semaphore,
};

use crate::{
    tally::{self, Received},
    wire::{Event, WireError},
};

/// How often a task waiting on the board looks at it again.
const POLL: Duration = Duration::from_millis(2);

/// Polls `done` every [`POLL`] until it holds or `deadline` passes.
pub(crate) async fn wait_for(deadline: Instant, mut done: impl FnMut() -> bool) {
    while !done() && Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
    }
}

/// Why one client (over HTTP/2: one stream, or the connection carrying it) stopped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClientError {
    /// The socket could not be created.
    #[error("socket: {0}")]
    Socket(io::ErrorKind),
    /// The socket could not be bound to its source address.
    #[error("bind: {0}")]
    Bind(io::ErrorKind),
    /// `connect()` failed.
    #[error("connect: {0}")]
    Connect(io::ErrorKind),
    /// The request could not be written.
    #[error("write: {0}")]
    Write(io::ErrorKind),
    /// A `read()` failed.
    #[error("read: {0}")]
    Read(io::ErrorKind),
    /// The TLS handshake failed.
    #[error("TLS handshake: {0}")]
    Tls(io::ErrorKind),
    /// The HTTP/2 layer failed, or the server did not choose `h2`.
    #[error("HTTP/2: {0}")]
    H2(String),
    /// No first event within the handshake timeout.
    #[error("no first event within the handshake timeout")]
    HandshakeTimeout,
    /// Still without a first event when the connect phase ended.
    #[error("not connected when the connect phase ended")]
    NotConnected,
    /// The server closed the connection.
    #[error("closed by the server")]
    Closed,
    /// The server ended the response.
    #[error("the server ended the stream")]
    Ended,
    /// The response could not be decoded.
    #[error("{0}")]
    Wire(#[from] WireError),
}

/// A TCP connection from `source` (port 0: any) to `target`, each step failing as its own
/// [`ClientError`]: one place for what every client, HTTP/1.1 or HTTP/2, does first, so a socket,
/// bind or connect failure is counted the same whichever protocol it stopped.
pub(crate) async fn connect_tcp(
    source: SocketAddr,
    target: SocketAddr,
) -> Result<TcpStream, ClientError> {
    let socket = TcpSocket::new_v4().map_err(|err| ClientError::Socket(err.kind()))?;
    socket
        .bind(source)
        .map_err(|err| ClientError::Bind(err.kind()))?;
    socket
        .connect(target)
        .await
        .map_err(|err| ClientError::Connect(err.kind()))
}

/// The wall clock in microseconds since the Unix epoch, as the clients stamp what they receive.
pub(crate) fn wall_clock_micros() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
        })
}

/// What one client has seen so far.
#[derive(Debug, Default)]
struct Slot {
    events: Vec<Received>,
    /// Highest count received (0 before the first event).
    last_count: u64,
    /// When the first event arrived, since the run started.
    first_event_at: Option<Duration>,
    error: Option<ClientError>,
    /// Ping events whose data or id could not be read.
    bad_events: u64,
}

impl Slot {
    fn is_following(&self) -> bool {
        self.first_event_at.is_some() && self.error.is_none()
    }
}

/// A ping's id must be `<epoch>-<seq>` with the count its data carries as its seq: true of a
/// stream that carries only pings, as every server does while it is measured.
fn id_matches(id: &[u8], count: u64) -> bool {
    std::str::from_utf8(id)
        .ok()
        .and_then(|id| id.parse::<EventId>().ok())
        .is_some_and(|id| id.seq == count)
}

/// What the slots of a board add up to over the measured counts.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    /// Clients that got their first event.
    pub(crate) connected: usize,
    /// When the last of them got it, since the run started.
    pub(crate) last_first_event: Duration,
    /// Distinct measured events received, over all clients.
    pub(crate) delivered: u64,
    /// Measured events missing from connected clients' streams.
    pub(crate) gaps: u64,
    /// Events received again or out of order.
    pub(crate) dups: u64,
    /// The latency of every delivered measured event, in microseconds.
    pub(crate) latencies_us: Vec<i64>,
    /// Failed clients and unreadable events, by kind.
    pub(crate) error_kinds: BTreeMap<String, u64>,
}

/// Every client's slot and the counters the driver waits on.
#[derive(Debug)]
pub(crate) struct Board {
    slots: Vec<Slot>,
    started: Instant,
    /// Clients that got their first event or failed before it.
    settled: usize,
    connected: usize,
    max_count: u64,
}

impl Board {
    /// A slot for each of `clients` clients, none heard from yet; first events are timed from
    /// `started`.
    pub(crate) fn new(clients: usize, started: Instant) -> Self {
        Self {
            slots: (0..clients).map(|_| Slot::default()).collect(),
            started,
            settled: 0,
            connected: 0,
            max_count: 0,
        }
    }

    /// Client `index` received `event` at `received_us` (the wall clock); only pings count.
    pub(crate) fn record(&mut self, index: usize, event: Event<'_>, received_us: i64) {
        if event.event != Ping::NAME.as_bytes() {
            return;
        }
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        let ping = match serde_json::from_slice::<Ping>(event.data) {
            Ok(ping) if id_matches(event.id, ping.count) => ping,
            _ => {
                slot.bad_events += 1;
                return;
            }
        };
        slot.events.push(Received {
            count: ping.count,
            latency_us: received_us - ping.time.timestamp_micros(),
        });
        slot.last_count = slot.last_count.max(ping.count);
        self.max_count = self.max_count.max(ping.count);
        if slot.first_event_at.is_none() {
            slot.first_event_at = Some(self.started.elapsed());
            self.connected += 1;
            self.settled += 1;
        }
    }

    /// Client `index` stopped with `err`; only its first error is kept.
    pub(crate) fn fail(&mut self, index: usize, err: ClientError) {
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        if slot.error.is_none() {
            if slot.first_event_at.is_none() {
                self.settled += 1;
            }
            slot.error = Some(err);
        }
    }

    /// The client got its first event.
    pub(crate) fn is_connected(&self, index: usize) -> bool {
        self.slots
            .get(index)
            .is_some_and(|slot| slot.first_event_at.is_some())
    }

    /// The client got its first event, or failed.
    pub(crate) fn is_settled(&self, index: usize) -> bool {
        self.slots
            .get(index)
            .is_none_or(|slot| slot.first_event_at.is_some() || slot.error.is_some())
    }

    /// Clients that got their first event or failed before it.
    pub(crate) fn settled(&self) -> usize {
        self.settled
    }

    /// The highest count any client received.
    pub(crate) fn max_count(&self) -> u64 {
        self.max_count
    }

    /// Every client still following the stream has received `count` or later.
    pub(crate) fn all_reached(&self, count: u64) -> bool {
        self.slots
            .iter()
            .filter(|slot| slot.is_following())
            .all(|slot| slot.last_count >= count)
    }

    /// What the clients received adds up to, the counts `(from, to]` measured.
    pub(crate) fn totals(&self, from: u64, to: u64) -> Totals {
        let mut totals = Totals {
            connected: self.connected,
            latencies_us: Vec::with_capacity(
                self.connected * usize::try_from(to - from).unwrap_or(0),
            ),
            ..Totals::default()
        };
        for slot in &self.slots {
            if let Some(at) = slot.first_event_at {
                totals.last_first_event = totals.last_first_event.max(at);
                let tally = tally::tally_client(&slot.events, from, to, &mut totals.latencies_us);
                totals.gaps += tally.gaps;
                totals.dups += tally.dups;
                totals.delivered += tally.delivered;
            }
            if let Some(err) = &slot.error {
                *totals.error_kinds.entry(err.to_string()).or_default() += 1;
            }
            if slot.bad_events > 0 {
                *totals
                    .error_kinds
                    .entry("unreadable ping event".into())
                    .or_default() += slot.bad_events;
            }
        }
        totals
    }
}

/// What every client task of a run shares.
pub(crate) struct Run {
    /// Where the clients record what they receive.
    pub(crate) board: RefCell<Board>,
    /// Permits to be between `connect()` and the first event (per connection over HTTP/2).
    pub(crate) handshakes: Semaphore,
    /// The server.
    pub(crate) target: SocketAddr,
    /// The whole HTTP/1.1 request a client sends.
    pub(crate) request: Vec<u8>,
    /// Clients bind source addresses 127.0.0.1 ..= 127.0.0.`spread`, round robin.
    pub(crate) spread: u8,
    /// How long one client (over HTTP/2: one connection) may take from `connect()` to its
    /// first event.
    pub(crate) handshake_timeout: Duration,
}
