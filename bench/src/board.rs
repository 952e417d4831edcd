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

use shared::{AppEvent, EventId, EventSet as _, EventStamp, StreamEvent as _, Timing};
use thiserror::Error;
use tokio::{
    net::{TcpSocket, TcpStream},
    sync::Semaphore,
};

use crate::{
    tally::{ClientTally, Seen},
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
    /// Gaps, duplicates and deliveries, judged by seq as the events arrive.
    tally: ClientTally,
    /// When the first event arrived, since the run started.
    first_event_at: Option<Duration>,
    error: Option<ClientError>,
    /// Events whose id, name or data could not be read.
    bad_events: u64,
}

impl Slot {
    fn is_following(&self) -> bool {
        self.first_event_at.is_some() && self.error.is_none()
    }
}

/// An event of the set with its place in the stream, or `None` if any of it is unreadable: an
/// id that is not `<epoch>-<seq>[:<topic>:<topic seq>]`, a name outside [`AppEvent`], data that is not that event.
fn read_event(event: &Event<'_>) -> Option<(u64, AppEvent)> {
    let id: EventId = EventStamp::cursor(std::str::from_utf8(event.id).ok()?).ok()?;
    let name = std::str::from_utf8(event.event).ok()?;
    let data = std::str::from_utf8(event.data).ok()?;
    let decoded = AppEvent::decode(name, data).ok()?;
    Some((id.seq, decoded))
}

/// What the slots of a board add up to over the measured seqs.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    /// Clients that got their first event.
    pub(crate) connected: usize,
    /// When the last of them got it, since the run started.
    pub(crate) last_first_event: Duration,
    /// Distinct measured events received (of every name), over all clients.
    pub(crate) delivered: u64,
    /// Measured seqs missing from connected clients' streams.
    pub(crate) gaps: u64,
    /// Events received again or out of order.
    pub(crate) dups: u64,
    /// The latency of every delivered measured ping, in microseconds.
    pub(crate) ping_latencies_us: Vec<i64>,
    /// The latency of every delivered measured notice (arrival minus its `time`), in
    /// microseconds.
    pub(crate) notice_latencies_us: Vec<i64>,
    /// How many clients received each measured notice, by its seq.
    pub(crate) notices_by_seq: BTreeMap<u64, u64>,
    /// Failed clients and unreadable events, by kind.
    pub(crate) error_kinds: BTreeMap<String, u64>,
}

/// Every client's slot, the counters the driver waits on, and the measured events' latencies.
#[derive(Debug)]
pub(crate) struct Board {
    slots: Vec<Slot>,
    started: Instant,
    /// Clients that got their first event or failed before it.
    settled: usize,
    connected: usize,
    /// The highest seq any client received.
    max_seq: u64,
    /// The highest `Ping.count` any client received: how the driver counts ticks.
    max_ping_count: u64,
    /// The measured seqs are `(from, to]`; `from` is `u64::MAX` until measuring starts, `to`
    /// until the window's end is known.
    from: u64,
    to: u64,
    ping_latencies_us: Vec<i64>,
    notice_latencies_us: Vec<i64>,
    notices_by_seq: BTreeMap<u64, u64>,
}

impl Board {
    /// A slot for each of `clients` clients, none heard from yet; first events are timed from
    /// `started`. Nothing is measured until [`Board::measure_from`].
    pub(crate) fn new(clients: usize, started: Instant) -> Self {
        Self {
            slots: (0..clients).map(|_| Slot::default()).collect(),
            started,
            settled: 0,
            connected: 0,
            max_seq: 0,
            max_ping_count: 0,
            from: u64::MAX,
            to: u64::MAX,
            ping_latencies_us: Vec::new(),
            notice_latencies_us: Vec::new(),
            notices_by_seq: BTreeMap::new(),
        }
    }

    /// Client `index` received `event` at `received_us` (the wall clock). Events of the set are
    /// judged by their id's seq; heartbeats, which have none, are skipped.
    pub(crate) fn record(&mut self, index: usize, event: Event<'_>, received_us: i64) {
        if event.event == Timing::NAME.as_bytes() {
            return;
        }
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        let Some((seq, decoded)) = read_event(&event) else {
            slot.bad_events += 1;
            return;
        };
        let measured = slot.tally.observe(seq, self.from, self.to) == Seen::Measured;
        match decoded {
            AppEvent::Ping(ping) => {
                self.max_ping_count = self.max_ping_count.max(ping.count);
                if measured {
                    self.ping_latencies_us
                        .push(received_us - ping.time.timestamp_micros());
                }
            }
            AppEvent::Notice(notice) => {
                if measured {
                    self.notice_latencies_us
                        .push(received_us - notice.time.timestamp_micros());
                    *self.notices_by_seq.entry(seq).or_default() += 1;
                }
            }
        }
        self.max_seq = self.max_seq.max(seq);
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

    /// The highest seq any client received (0 before any event).
    pub(crate) fn max_seq(&self) -> u64 {
        self.max_seq
    }

    /// The highest ping count any client received (0 before any ping).
    pub(crate) fn max_ping_count(&self) -> u64 {
        self.max_ping_count
    }

    /// Measures the events after seq `from` from now on. Every event recorded so far is at or
    /// below it when `from` is [`Board::max_seq`].
    pub(crate) fn measure_from(&mut self, from: u64) {
        self.from = from;
    }

    /// Ends the window at seq `to`: later events are ignored. No event recorded so far is above
    /// it when `to` is at least [`Board::max_seq`].
    pub(crate) fn measure_to(&mut self, to: u64) {
        self.to = to;
    }

    /// Every client still following the stream has received `seq` or later.
    pub(crate) fn all_reached(&self, seq: u64) -> bool {
        self.slots
            .iter()
            .filter(|slot| slot.is_following())
            .all(|slot| slot.tally.last().is_some_and(|last| last >= seq))
    }

    /// What the clients received adds up to over the window, closed at its end; the latencies
    /// move out of the board.
    pub(crate) fn totals(&mut self) -> Totals {
        let to = if self.to == u64::MAX {
            self.max_seq
        } else {
            self.to
        };
        let mut totals = Totals {
            connected: self.connected,
            ping_latencies_us: std::mem::take(&mut self.ping_latencies_us),
            notice_latencies_us: std::mem::take(&mut self.notice_latencies_us),
            notices_by_seq: std::mem::take(&mut self.notices_by_seq),
            ..Totals::default()
        };
        for slot in &self.slots {
            if let Some(at) = slot.first_event_at {
                totals.last_first_event = totals.last_first_event.max(at);
                let tally = slot.tally.close(to);
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
                    .entry("unreadable event".into())
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
