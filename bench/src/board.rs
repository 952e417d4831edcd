//! The board the clients of one run record onto, and the rest of what their tasks share
//! (`Run`): the HTTP/1.1 clients of [`crate::load`] and the HTTP/2 streams of
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

use chrono::{DateTime, Utc};
use shared::{AppEvent, EventId, EventSet as _, EventStamp, Ping, StreamEvent as _, Timing};
use thiserror::Error;
use tokio::{
    net::{TcpSocket, TcpStream},
    sync::Semaphore,
};

use crate::{
    private::{PrivatePlan, SignedRequests},
    socket_error::SocketError,
    tally::{ClientTally, Seen},
    target::Target,
    topics::TopicPlan,
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
    /// A socket call failed.
    #[error(transparent)]
    Socket(#[from] SocketError),
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
    let socket = TcpSocket::new_v4().map_err(SocketError::at(SocketError::Socket))?;
    socket
        .bind(source)
        .map_err(SocketError::at(SocketError::Bind))?;
    socket
        .connect(target)
        .await
        .map_err(|err| SocketError::Connect(err.kind()).into())
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
    /// Events on a topic the client did not select (topic loads only).
    off_topic: u64,
}

impl Slot {
    fn is_following(&self) -> bool {
        self.first_event_at.is_some() && self.error.is_none()
    }
}

/// What the board needs of an event of the set: the ticker's ping count, and when any event was
/// sent (its `time`, which every event of the set carries). Read through the set's generic API
/// and the `time` field alone, so that an app adding an event to the set changes nothing here.
enum Reading {
    /// The ticker's event.
    Tick { count: u64, time: DateTime<Utc> },
    /// Any other event of the set: a published one.
    Published { time: Option<DateTime<Utc>> },
}

/// The one field the board reads of a published event (chrono reads any RFC 3339 offset).
#[derive(serde::Deserialize)]
struct SentAt {
    #[serde(default)]
    time: Option<DateTime<Utc>>,
}

/// An event of the set with its place in the stream, or `None` if any of it is unreadable: an
/// id that is not `<epoch>-<seq>[:<topic>:<topic seq>]`, a name outside [`AppEvent`], data that
/// is not a JSON object (or a ping that is not a ping).
fn read_event(event: &Event<'_>) -> Option<(u64, Reading)> {
    let id: EventId = EventStamp::cursor(std::str::from_utf8(event.id).ok()?).ok()?;
    Some((id.seq, read_data(event)?))
}

/// An event of the set with its whole stamp (topic loads, whose ids must name a topic), or
/// `None` if any of it is unreadable.
fn read_stamped_event(event: &Event<'_>) -> Option<(EventStamp, Reading)> {
    let stamp: EventStamp = std::str::from_utf8(event.id).ok()?.parse().ok()?;
    Some((stamp, read_data(event)?))
}

fn read_data(event: &Event<'_>) -> Option<Reading> {
    let name = std::str::from_utf8(event.event).ok()?;
    let data = std::str::from_utf8(event.data).ok()?;
    if name == Ping::NAME {
        let ping: Ping = serde_json::from_str(data).ok()?;
        return Some(Reading::Tick {
            count: ping.count,
            time: ping.time,
        });
    }
    if !AppEvent::NAMES.contains(&name) {
        return None;
    }
    let sent: SentAt = serde_json::from_str(data).ok()?;
    Some(Reading::Published { time: sent.time })
}

/// What the slots of a board add up to over the measured seqs.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    /// Clients that got their first event.
    pub(crate) connected: usize,
    /// Those of them on every topic (the ping stream): the clients every measured ping and
    /// every public notice is for. All of them but a topic load's and private holders' on their
    /// own topics.
    pub(crate) every_topic_connected: usize,
    /// When the last of them got it, since the run started.
    pub(crate) last_first_event: Duration,
    /// Distinct measured events received (of every name), over all clients.
    pub(crate) delivered: u64,
    /// Measured seqs missing from connected clients' streams (always 0 in a topic load, whose
    /// streams skip the other topics' seqs: there the run counts missing deliveries instead).
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
    /// Heartbeats received while measuring, over all clients.
    pub(crate) heartbeats: u64,
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
    /// Measured notices delivered so far, over all clients (what a topic load waits on).
    notice_deliveries: u64,
    /// Heartbeats received while measuring (between [`Board::measure_from`] and
    /// [`Board::measure_to`]), over all clients: the writes of the window that carry no event,
    /// which idle topic streams get instead of pings.
    heartbeats: u64,
    /// A topic load: each client's stream carries its topics only, and counts as connected at
    /// its opening heartbeat (the first event it gets may be minutes away).
    topics: Option<TopicPlan>,
    /// A private load: its token holders on their own private topics are streams like a topic
    /// load's (no pings, connected at the opening heartbeat, their own topics only).
    private: Option<PrivatePlan>,
}

impl Board {
    /// A slot for each of `clients` clients, none heard from yet; first events are timed from
    /// `started`; with `topics`, the clients of that topic load; with `private`, of that
    /// private load. Nothing is measured until [`Board::measure_from`].
    pub(crate) fn new(
        clients: usize,
        started: Instant,
        topics: Option<TopicPlan>,
        private: Option<PrivatePlan>,
    ) -> Self {
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
            notice_deliveries: 0,
            heartbeats: 0,
            topics,
            private,
        }
    }

    /// Whether client `index`'s stream is on topics (a topic load's, or a token holder's own
    /// private ones) rather than every topic: it carries no pings, and its opening heartbeat
    /// connects it.
    fn on_topics(&self, index: usize) -> bool {
        self.topics.is_some()
            || self
                .private
                .as_ref()
                .is_some_and(|plan| plan.on_private_topics(index))
    }

    /// Whether client `index`, on topics, selected `topic`: what the server must deliver to
    /// it, and all it may.
    fn wants(&self, index: usize, topic: &shared::Topic) -> bool {
        match (&self.topics, &self.private) {
            (Some(plan), _) => plan.wants(index, topic),
            (None, Some(plan)) => plan.wants(index, topic),
            (None, None) => true,
        }
    }

    /// Client `index` received `event` at `received_us` (the wall clock). Events of the set are
    /// judged by their id's seq; heartbeats, which have none, are skipped (on a stream on
    /// topics, the first connects the client). On a stream on topics, an event must be on one
    /// of the client's topics.
    pub(crate) fn record(&mut self, index: usize, event: Event<'_>, received_us: i64) {
        if event.event == Timing::NAME.as_bytes() {
            if self.from != u64::MAX && self.to == u64::MAX {
                self.heartbeats += 1;
            }
            if self.on_topics(index) {
                self.connect(index);
            }
            return;
        }
        let read = if self.on_topics(index) {
            read_stamped_event(&event)
                .map(|(stamp, decoded)| (self.wants(index, &stamp.topic), stamp.id.seq, decoded))
        } else {
            read_event(&event).map(|(seq, decoded)| (true, seq, decoded))
        };
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        let Some((wanted, seq, decoded)) = read else {
            slot.bad_events += 1;
            return;
        };
        if !wanted {
            slot.off_topic += 1;
            return;
        }
        let measured = slot.tally.observe(seq, self.from, self.to) == Seen::Measured;
        match decoded {
            Reading::Tick { count, time } => {
                self.max_ping_count = self.max_ping_count.max(count);
                if measured {
                    self.ping_latencies_us
                        .push(received_us - time.timestamp_micros());
                }
            }
            Reading::Published { time } => {
                if measured {
                    if let Some(time) = time {
                        self.notice_latencies_us
                            .push(received_us - time.timestamp_micros());
                    }
                    *self.notices_by_seq.entry(seq).or_default() += 1;
                    self.notice_deliveries += 1;
                }
            }
        }
        self.max_seq = self.max_seq.max(seq);
        self.connect(index);
    }

    /// Client `index` got its first event, unless it had already.
    fn connect(&mut self, index: usize) {
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
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

    /// Measured notices delivered so far, over all clients, each client's first copy only.
    pub(crate) fn notice_deliveries(&self) -> u64 {
        self.notice_deliveries
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

    /// Every client still following the every-topic stream has received `seq` or later (a
    /// stream on topics skips the other topics' seqs).
    pub(crate) fn all_reached(&self, seq: u64) -> bool {
        self.slots
            .iter()
            .enumerate()
            .filter(|(index, slot)| slot.is_following() && !self.on_topics(*index))
            .all(|(_, slot)| slot.tally.last().is_some_and(|last| last >= seq))
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
            heartbeats: self.heartbeats,
            ..Totals::default()
        };
        for (index, slot) in self.slots.iter().enumerate() {
            if let Some(at) = slot.first_event_at {
                totals.last_first_event = totals.last_first_event.max(at);
                let tally = slot.tally.close(to);
                if !self.on_topics(index) {
                    totals.every_topic_connected += 1;
                    totals.gaps += tally.gaps;
                }
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
            if slot.off_topic > 0 {
                *totals
                    .error_kinds
                    .entry("an event on a topic the client did not select".into())
                    .or_default() += slot.off_topic;
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
    /// The stream under test.
    pub(crate) stream: Target,
    /// The whole HTTP/1.1 request a client sends, unless a topic load gives each its own.
    pub(crate) request: Vec<u8>,
    /// The topic load, if any: the topics each client asks for.
    pub(crate) topics: Option<TopicPlan>,
    /// The private load, if any: who holds a token.
    pub(crate) private: Option<PrivatePlan>,
    /// A private load's requests, signed before the first `connect()`: `signed[i]` is token
    /// holder `i`'s (empty without a private load; `None` for an anonymous client).
    pub(crate) signed: SignedRequests,
    /// Clients bind source addresses 127.0.0.1 ..= 127.0.0.`spread`, round robin.
    pub(crate) spread: u8,
    /// How long one client (over HTTP/2: one connection) may take from `connect()` to its
    /// first event.
    pub(crate) handshake_timeout: Duration,
}

impl Run {
    /// The whole HTTP/1.1 request client `index` sends: a token holder's own, signed; else the
    /// run's one request, or, in a topic load, one asking for the client's topics.
    pub(crate) fn request(&self, index: usize) -> std::borrow::Cow<'_, [u8]> {
        if let Some(Some(signed)) = self.signed.get(index) {
            return std::borrow::Cow::Borrowed(signed);
        }
        match &self.topics {
            None => std::borrow::Cow::Borrowed(&self.request),
            Some(plan) => std::borrow::Cow::Owned(
                self.stream
                    .request_to(&plan.stream_path(&self.stream.path, index)),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topics::TopicMode;

    fn event<'a>(id: &'a str, name: &'a str, data: &'a str) -> Event<'a> {
        Event {
            id: id.as_bytes(),
            event: name.as_bytes(),
            data: data.as_bytes(),
        }
    }

    const HEARTBEAT: &str = r#"{"interval_ms":1000,"heartbeat_ms":2000,"start":"fresh"}"#;
    const NOTICE: &str = r#"{"text":"hi","level":"info","time":"2026-12-07T16:00:00.000Z"}"#;

    #[test]
    fn in_a_topic_load_the_opening_heartbeat_connects_and_other_topics_are_errors() {
        let plan = TopicPlan::new(TopicMode::PerClient, 2);
        let mut board = Board::new(2, Instant::now(), Some(plan), None);
        board.record(0, event("", "heartbeat", HEARTBEAT), 0);
        assert!(board.is_connected(0) && !board.is_connected(1));
        board.measure_from(0);
        board.record(
            0,
            event("00000000000000ab-5:users/0:1", "notice", NOTICE),
            0,
        );
        board.record(
            0,
            event("00000000000000ab-6:users/1:1", "notice", NOTICE),
            0,
        );
        // A bare id names no topic: unreadable in a topic load.
        board.record(0, event("00000000000000ab-7", "notice", NOTICE), 0);
        assert_eq!(board.notice_deliveries(), 1);
        let totals = board.totals();
        assert_eq!((totals.connected, totals.delivered), (1, 1));
        assert_eq!(totals.gaps, 0, "other topics' seqs are not gaps");
        assert_eq!(
            totals.error_kinds,
            BTreeMap::from([
                (
                    "an event on a topic the client did not select".to_owned(),
                    1
                ),
                ("unreadable event".to_owned(), 1),
            ])
        );
    }

    #[test]
    fn a_private_holder_on_its_own_topics_is_connected_by_its_heartbeat_and_skipped_by_the_pings() {
        use crate::private::{PrivateLoad, PrivateStreams};

        const PING: &str = r#"{"count":3,"time":"2026-12-07T16:00:00.000Z"}"#;
        let load = PrivateLoad {
            fraction: 0.5,
            streams: PrivateStreams::PerUser,
            key: Some("0123456789abcdef0123456789abcdef".into()),
        };
        let plan = PrivatePlan::new(&load, 2).expect("valid");
        // Client 0 is anonymous, client 1 holds a token for users/1/**.
        let mut board = Board::new(2, Instant::now(), None, Some(plan));
        board.record(0, event("", "heartbeat", HEARTBEAT), 0);
        board.record(1, event("", "heartbeat", HEARTBEAT), 0);
        assert!(!board.is_connected(0) && board.is_connected(1));
        board.record(0, event("00000000000000ab-5", "ping", PING), 0);
        board.measure_from(5);
        board.record(0, event("00000000000000ab-6", "ping", PING), 0);
        assert!(board.all_reached(6), "the holder's stream carries no pings");
        board.record(1, event("", "heartbeat", HEARTBEAT), 0);
        board.record(
            1,
            event("00000000000000ab-7:users/1/notices:1", "notice", NOTICE),
            0,
        );
        // A ping (or another user's event) on the holder's stream is the server's mistake.
        board.record(1, event("00000000000000ab-8:ping:8", "ping", PING), 0);
        board.measure_to(8);
        let totals = board.totals();
        assert_eq!(
            (totals.connected, totals.every_topic_connected),
            (2, 1),
            "the pings are for the anonymous client alone"
        );
        assert_eq!(
            totals.delivered, 2,
            "ping 6 to client 0, notice 7 to client 1"
        );
        assert_eq!(
            totals.heartbeats, 1,
            "the opening ones came before the window"
        );
        assert_eq!(
            totals.gaps, 2,
            "seqs 7 and 8 missing on the every-topic stream only"
        );
        assert_eq!(
            totals.error_kinds,
            BTreeMap::from([(
                "an event on a topic the client did not select".to_owned(),
                1
            )])
        );
    }

    #[test]
    fn in_the_ping_bench_heartbeats_connect_nobody() {
        let mut board = Board::new(1, Instant::now(), None, None);
        board.record(0, event("", "heartbeat", HEARTBEAT), 0);
        assert!(!board.is_connected(0));
        board.record(0, event("00000000000000ab-5", "notice", NOTICE), 0);
        assert!(board.is_connected(0));
    }
}
