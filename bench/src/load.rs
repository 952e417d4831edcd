//! One load run: open N SSE clients on one thread, wait until every one has its first event,
//! then follow E more pings while sampling the server's memory and CPU from `/proc`; with
//! notices to publish, a [`crate::publish`] thread posts them meanwhile, and the window lasts
//! until every client has had the last of them too.
//!
//! A topic load ([`crate::topics`]) subscribes each client to its topics instead of every
//! topic, so its streams carry no pings: a client is connected at its opening heartbeat, the
//! server's CPU is sampled for a while with nothing published (the idle cost of the open
//! streams: heartbeats, the ticker), and the window is the notices', from the first publish
//! until every notice reached every client it was for.
//!
//! A private load ([`crate::private`]) is the ping bench with some clients holding a
//! subscriber token: the holders on their own private topics are streams like a topic load's
//! (no pings, connected at their opening heartbeat), and the pings are measured on the others;
//! holders on every topic are measured like any ping stream. The server's CPU over the connect
//! phase is sampled in every run, so connects with and without tokens can be compared.
//!
//! The clients share one current-thread Tokio runtime: a task per client with a raw
//! `TcpStream` and the hand-rolled [`crate::wire`] decoder (over HTTPS, a task per HTTP/2
//! connection and one per stream on it: [`crate::h2load`]), and one `Board` (an
//! `Rc<RefCell<_>>`, never borrowed across an `.await`) where each records what it received. The
//! driver only polls the board, so a client costs one `read()` and a few hundred nanoseconds of
//! parsing per event; the tool's own CPU per event is reported beside the server's to show it.

use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet},
    io,
    net::SocketAddr,
    rc::Rc,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::Semaphore,
    task::LocalSet,
};

use crate::{
    board::{Board, ClientError, Run, Totals, connect_tcp, wait_for, wall_clock_micros},
    h2load::{self, H2Settings},
    private::{PrivateError, PrivateLoad, PrivatePlan, PrivateStreams, SignedRequests},
    procfs::{self, CpuTime, Pid},
    publish::{self, NoticeLoad, PublishReport},
    socket_error::SocketError,
    tally::{self, Latency},
    target::{Target, source_addr},
    topics::{TopicMode, TopicPlan},
    wire::{Progress, ResponseDecoder},
};

/// Bytes one client reads at a time: several events, and the head with the first event.
const READ_BUFFER: usize = 1536;
/// How long the server may take to start accepting connections.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// Once its last publish is answered, a topic load stops waiting for deliveries when none has
/// come for this long (a stream the server ended never gets the rest)…
const QUIET: Duration = Duration::from_secs(1);
/// …and waits this long at most.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// What one run does.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The stream to load.
    pub target: Target,
    /// How many clients to open.
    pub clients: usize,
    /// How many pings to measure once all clients are connected (the window holds every event
    /// of the stream from the first of them to the last).
    pub events: u64,
    /// The server's ping period: bounds how long to wait for those events.
    pub interval: Duration,
    /// Clients bind source addresses 127.0.0.1 ..= 127.0.0.`spread`, round robin.
    pub source_spread: u8,
    /// Most clients between `connect()` and their first event at once.
    pub connect_concurrency: usize,
    /// How long one client may take from `connect()` to its first event.
    pub handshake_timeout: Duration,
    /// How long all clients together may take to connect.
    pub connect_timeout: Duration,
    /// The server's process id, to sample its memory and CPU; without it only the client side
    /// is measured.
    pub server_pid: Option<u32>,
    /// The name the run is reported under (`ours`, `naive`, `floor`).
    pub label: String,
    /// For an `https://` target: how the clients' HTTP/2 streams share TLS connections.
    pub h2: Option<H2Settings>,
    /// Notices to publish through the server's publish API while the pings are measured
    /// (`http://` targets only).
    pub notices: Option<NoticeLoad>,
    /// A topic load instead of the ping bench: the clients subscribe by topic and the notices
    /// (which it needs) go on topics; no ping is measured.
    pub topics: Option<TopicLoad>,
    /// Some clients hold subscriber tokens (`http://` ping bench only, not with a topic load).
    pub private: Option<PrivateLoad>,
}

/// What a topic load does besides publishing its notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicLoad {
    /// Which topics the clients subscribe to and the notices go on.
    pub mode: TopicMode,
    /// How long the server's CPU is sampled with every stream open and nothing published,
    /// before the notices.
    pub idle: Duration,
}

/// Why a run could not be carried out at all (client failures are results, not errors).
#[derive(Debug, Error)]
pub enum LoadError {
    /// The client runtime could not be built.
    #[error("could not start the client runtime")]
    Runtime(#[source] io::Error),
    /// Nothing accepted connections at the target in time.
    #[error("nothing accepted connections at {0} within {READY_TIMEOUT:?}")]
    NotReady(SocketAddr),
    /// The server process exited.
    #[error("server process {0} is not running")]
    ServerGone(u32),
    /// Notices were asked for over `https://`: the publisher speaks HTTP/1.1 in the clear only.
    #[error("notices are published over http:// only")]
    NoticesOverTls,
    /// A topic load without notices to publish.
    #[error("a topic load needs notices to publish")]
    TopicsWithoutNotices,
    /// Tokens were asked for over `https://`: only the HTTP/1.1 clients send them.
    #[error("subscriber tokens are sent over http:// only")]
    PrivateOverTls,
    /// Tokens were asked for in a topic load: a private load is a ping bench.
    #[error("a private load is a ping bench, not a topic load")]
    PrivateWithTopics,
    /// The private load could not be set up.
    #[error(transparent)]
    Private(#[from] PrivateError),
    /// The publisher's thread could not be started, or died without a report.
    #[error("the notice publisher failed")]
    Publisher(#[source] io::Error),
    /// `/proc` could not be read for the server.
    #[error("could not read /proc for process {pid}")]
    Proc {
        /// The server's process id.
        pid: u32,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
}

/// Everything measured in one run; one JSON line of the results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Which server (`ours`, `naive`, `floor`).
    pub server: String,
    /// Clients opened (over HTTP/2: streams).
    pub clients: usize,
    /// The TLS connections the HTTP/2 streams shared; `None` for HTTP/1.1 (one per client).
    pub connections: Option<usize>,
    /// Clients that received their first event.
    pub connected: usize,
    /// Milliseconds from the first `connect()` until the last client had its first event;
    /// `None` if not all of them did.
    pub connect_ms: Option<f64>,
    /// Server CPU from the first `connect()` until every client connected or failed, in
    /// milliseconds (the pings it sent meanwhile included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_cpu_ms: Option<f64>,
    /// Pings measured per client.
    pub events: u64,
    /// The server's ping period in milliseconds.
    pub interval_ms: u64,
    /// The measured events are those of seq `from_seq + 1 ..= to_seq` (ids' seq, every event
    /// of the stream: pings and notices).
    pub from_seq: u64,
    /// The last measured seq.
    pub to_seq: u64,
    /// Distinct measured events received, over all clients.
    pub delivered: u64,
    /// `connected × (to_seq - from_seq)`.
    pub expected: u64,
    /// Length of the measurement window in milliseconds.
    pub window_ms: f64,
    /// Server RSS before the first client, in KiB.
    pub rss_before_kib: Option<u64>,
    /// Server RSS once all clients were connected, in KiB.
    pub rss_connected_kib: Option<u64>,
    /// Server RSS at the end of the window, in KiB.
    pub rss_end_kib: Option<u64>,
    /// `(rss_connected - rss_before) / connected`.
    pub kib_per_client: Option<f64>,
    /// Server CPU over the window, in milliseconds.
    pub cpu_ms: Option<f64>,
    /// Server CPU over the window per delivered event, in microseconds.
    pub cpu_us_per_event: Option<f64>,
    /// The load tool's own CPU over the window per delivered event, in microseconds.
    pub tool_cpu_us_per_event: Option<f64>,
    /// Tick-to-receive latency of the measured pings.
    pub latency: Option<Latency>,
    /// What the notices published during the window did; `None` when none were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notices: Option<NoticeRun>,
    /// A topic load's own figures; `None` for the ping bench.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topics: Option<TopicRun>,
    /// Who held a subscriber token in a private load; `None` when nobody did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private: Option<PrivateRun>,
    /// Events missing from connected clients' streams (from their first event to the window's
    /// end); in a topic load, whose streams skip the other topics' seqs, the notices' missing
    /// deliveries (expected minus delivered).
    pub gaps: u64,
    /// Events received again or out of order.
    pub dups: u64,
    /// Heartbeats the clients received in the window: the server's writes that carry no event
    /// (streams on topics get one a second instead of pings), so that CPU per write,
    /// `cpu_ms / (delivered + heartbeats)`, can be told from CPU per delivered event.
    #[serde(default)]
    pub heartbeats: u64,
    /// Clients that failed plus events that could not be read.
    pub errors: u64,
    /// `errors` by kind.
    pub error_kinds: BTreeMap<String, u64>,
}

/// The notices of a run: how publishing went, and how they reached the clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeRun {
    /// Notices the publisher tried to publish.
    pub requested: u64,
    /// At this rate, per second.
    pub rate: u32,
    /// Notices the server accepted (202 with an id).
    pub published: u64,
    /// Publishes that failed, by why.
    pub failures: BTreeMap<String, u64>,
    /// Round trip of each accepted `POST`, request written to answer read.
    pub publish_latency: Option<Latency>,
    /// Arrival at a client minus the notice's `time` (set by the server when it accepted the
    /// notice; millisecond precision, so up to 1 ms high), over every delivery.
    pub delivery_latency: Option<Latency>,
    /// Deliveries of accepted notices, over all clients (each client's first copy only).
    pub delivered: u64,
    /// `connected × published`: every connected client got every accepted notice when
    /// `delivered` equals it. In a topic load, each accepted notice counts once for every
    /// connected client subscribed to its topic.
    pub expected: u64,
}

/// What a topic load measured beyond its notices' delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicRun {
    /// Which topics the clients subscribed to and the notices went on.
    pub mode: TopicMode,
    /// How long the server was sampled idle (every stream open, nothing published), in
    /// milliseconds.
    pub idle_window_ms: f64,
    /// Server CPU while idle, in milliseconds per second: heartbeats to the open streams and
    /// the ticker's pings (which no topic stream takes).
    pub idle_cpu_ms_per_s: Option<f64>,
    /// Server CPU over the notices' window per accepted notice, in microseconds: the publish
    /// request, its fan-out and delivery, and whatever the server did meanwhile.
    pub cpu_us_per_publish: Option<f64>,
    /// The same less the idle CPU of as long a window: what publishing added. An estimate:
    /// streams fed a notice skip a heartbeat, so with many notices per stream it subtracts a
    /// little too much.
    pub net_cpu_us_per_publish: Option<f64>,
}

/// Who held a subscriber token in a private load, and what they asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivateRun {
    /// The share of the clients asked to hold one.
    pub fraction: f64,
    /// What the holders' streams asked for.
    pub streams: PrivateStreams,
    /// Clients that held one (or, in the control, asked for the same streams without).
    pub holders: usize,
    /// Whether they sent tokens; `false`: the control, the same streams asked for anonymously.
    pub tokens: bool,
}

/// Carries out one run on a current-thread runtime of its own and returns what it measured.
pub fn run(config: &LoadConfig) -> Result<RunResult, LoadError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LoadError::Runtime)?;
    // Dropping the LocalSet at the end drops every client task and closes its socket.
    LocalSet::new().block_on(&runtime, drive(config))
}

/// What a run samples around its window, for [`run_result`].
struct Samples {
    connections: Option<usize>,
    /// Server CPU over the connect phase, in microseconds.
    connect_cpu_us: Option<u64>,
    rss_before: Option<u64>,
    rss_connected: Option<u64>,
    rss_end: Option<u64>,
    /// Server CPU over the window, in microseconds.
    server_cpu_us: Option<u64>,
    /// This tool's CPU over the window, in microseconds.
    tool_cpu_us: Option<u64>,
    window: Duration,
    /// The measured events: seqs `(from, to]`.
    from: u64,
    to: u64,
    published: Option<PublishReport>,
    /// A topic load's idle sample and deliveries expected.
    topics: Option<TopicSamples>,
}

/// What a topic load samples beyond the ping bench's figures.
struct TopicSamples {
    /// Server CPU over the idle window, in microseconds.
    idle_cpu_us: Option<u64>,
    idle_window: Duration,
    /// Deliveries the accepted notices call for: one per connected client subscribed to each.
    expected: u64,
}

/// Starts one client task per client (HTTP/1.1), or the HTTP/2 connections that carry them;
/// the number of connections for HTTP/2.
fn spawn_clients(config: &LoadConfig, run: &Rc<Run>) -> Option<usize> {
    match &config.h2 {
        None => {
            for index in 0..config.clients {
                tokio::task::spawn_local(client(index, Rc::clone(run)));
            }
            None
        }
        Some(h2) => Some(h2load::spawn_connections(
            h2,
            &config.target,
            config.clients,
            run,
        )),
    }
}

/// Phase 1: waits until every client connected and got its first event (or the connect
/// timeout); those that did not are failed as not connected.
async fn connect_phase(config: &LoadConfig, run: &Run, started: Instant) {
    wait_for(started + config.connect_timeout, || {
        run.board.borrow().settled() == config.clients
    })
    .await;
    let mut board = run.board.borrow_mut();
    for index in 0..config.clients {
        if !board.is_connected(index) {
            board.fail(index, ClientError::NotConnected);
        }
    }
}

/// Phase 2: starts the window at the newest event and lets it reach everyone, so the window
/// holds whole ticks only; its seq and the newest ping's count.
async fn open_window(config: &LoadConfig, run: &Run) -> (u64, u64) {
    let (from, from_ping) = {
        let mut board = run.board.borrow_mut();
        let from = board.max_seq();
        board.measure_from(from);
        (from, board.max_ping_count())
    };
    wait_for(
        Instant::now() + 2 * config.interval + Duration::from_secs(1),
        || run.board.borrow().all_reached(from),
    )
    .await;
    (from, from_ping)
}

/// Phase 3: the measured events, E more pings and the notices if any, until every client has
/// had the last of them; the window's last seq and the publisher's report.
async fn measure_window(
    config: &LoadConfig,
    run: &Run,
    (from, from_ping): (u64, u64),
    window_start: Instant,
) -> Result<(u64, Option<PublishReport>), LoadError> {
    let publishing = config
        .notices
        .as_ref()
        .filter(|_| from > 0)
        .map(|notices| publish::start(notices, run.target))
        .transpose()
        .map_err(LoadError::Publisher)?;
    let window_limit = config.interval * u32::try_from(config.events + 2).unwrap_or(u32::MAX)
        + Duration::from_secs(2);
    if from > 0 {
        wait_for(window_start + window_limit, || {
            run.board.borrow().max_ping_count() >= from_ping + config.events
        })
        .await;
    }
    let published = match publishing {
        Some(publishing) => Some(publishing.finish().await.ok_or_else(|| {
            LoadError::Publisher(io::Error::other("its thread ended without a report"))
        })?),
        None => None,
    };
    let to = {
        let mut board = run.board.borrow_mut();
        let last_published = published
            .as_ref()
            .and_then(|report| report.accepted.iter().map(|notice| notice.seq).max());
        let to = board.max_seq().max(last_published.unwrap_or(0));
        board.measure_to(to);
        to
    };
    if from > 0 {
        let settle = Instant::now() + 2 * config.interval + Duration::from_secs(5);
        wait_for((window_start + window_limit).max(settle), || {
            run.board.borrow().all_reached(to)
        })
        .await;
    }
    Ok((to, published))
}

/// The run's result from the board's totals and the samples. Long, and on purpose: one line per
/// field of [`RunResult`].
fn run_result(config: &LoadConfig, run: &Run, samples: Samples) -> RunResult {
    let mut totals = run.board.borrow_mut().totals();
    let (connected, delivered) = (totals.connected, totals.delivered);
    let notices = samples.published.map(|report| {
        let expected = match &samples.topics {
            Some(topics) => topics.expected,
            None => totals.every_topic_connected as u64 * distinct_seqs(&report),
        };
        notice_run(
            report,
            config.notices.as_ref().map_or(0, |load| load.rate),
            &mut totals,
            expected,
        )
    });
    let per_event = |micros: u64| (delivered > 0).then(|| micros as f64 / delivered as f64);
    let topics = config
        .topics
        .zip(samples.topics.as_ref())
        .map(|(load, topics)| {
            topic_run(
                load.mode,
                topics,
                (samples.server_cpu_us, samples.window),
                notices.as_ref(),
            )
        });
    let (expected, gaps) = match (&topics, &notices) {
        (Some(_), Some(notices)) => (
            notices.expected,
            notices.expected.saturating_sub(notices.delivered),
        ),
        _ => (
            totals.every_topic_connected as u64 * samples.to.saturating_sub(samples.from),
            totals.gaps,
        ),
    };
    RunResult {
        server: config.label.clone(),
        clients: config.clients,
        connections: samples.connections,
        connected,
        connect_ms: (connected == config.clients).then(|| millis(totals.last_first_event)),
        connect_cpu_ms: samples.connect_cpu_us.map(|micros| micros as f64 / 1000.0),
        events: config.events,
        interval_ms: u64::try_from(config.interval.as_millis()).unwrap_or(u64::MAX),
        from_seq: samples.from,
        to_seq: samples.to,
        delivered,
        expected,
        window_ms: millis(samples.window),
        rss_before_kib: samples.rss_before,
        rss_connected_kib: samples.rss_connected,
        rss_end_kib: samples.rss_end,
        kib_per_client: samples
            .rss_before
            .zip(samples.rss_connected)
            .filter(|_| connected > 0)
            .map(|(before, after)| (after as f64 - before as f64) / connected as f64),
        cpu_ms: samples.server_cpu_us.map(|micros| micros as f64 / 1000.0),
        cpu_us_per_event: samples.server_cpu_us.and_then(per_event),
        tool_cpu_us_per_event: samples.tool_cpu_us.and_then(per_event),
        latency: tally::latency(&mut totals.ping_latencies_us),
        notices,
        topics,
        private: run.private.as_ref().map(|plan| PrivateRun {
            fraction: config.private.as_ref().map_or(0.0, |load| load.fraction),
            streams: plan.streams(),
            holders: plan.holders(),
            tokens: config
                .private
                .as_ref()
                .is_some_and(|load| load.key.is_some()),
        }),
        gaps,
        dups: totals.dups,
        heartbeats: totals.heartbeats,
        errors: totals.error_kinds.values().sum(),
        error_kinds: totals.error_kinds,
    }
}

/// A private load's plan and its holders' requests, signed now (before any `connect()`, so
/// that the connect phase does not time the signing); neither without one.
fn private_plan(config: &LoadConfig) -> Result<(Option<PrivatePlan>, SignedRequests), LoadError> {
    let Some(load) = &config.private else {
        return Ok((None, Vec::new()));
    };
    if config.target.tls {
        return Err(LoadError::PrivateOverTls);
    }
    if config.topics.is_some() {
        return Err(LoadError::PrivateWithTopics);
    }
    let plan = PrivatePlan::new(load, config.clients)?;
    let signed = plan.requests(&config.target, load.key.as_deref())?;
    Ok((Some(plan), signed))
}

/// One run: the clients connect (phase 1), the window opens at the newest event (2), the
/// measured events go by while CPU and memory are sampled around them (3).
async fn drive(config: &LoadConfig) -> Result<RunResult, LoadError> {
    if config.notices.is_some() && config.target.tls {
        return Err(LoadError::NoticesOverTls);
    }
    let plan = match (config.topics, &config.notices) {
        (None, _) => None,
        (Some(_), None) => return Err(LoadError::TopicsWithoutNotices),
        (Some(load), Some(_)) => Some(TopicPlan::new(load.mode, config.clients)),
    };
    let (private, signed) = private_plan(config)?;
    let target = config.target.socket_addr();
    wait_until_ready(target, config.server_pid).await?;
    let server = config.server_pid;
    let rss_before = sample_rss(server)?;
    let connect_cpu_before = sample_cpu(server)?;
    let started = Instant::now();
    let run = Rc::new(Run {
        board: RefCell::new(Board::new(
            config.clients,
            started,
            plan.clone(),
            private.clone(),
        )),
        handshakes: Semaphore::new(config.connect_concurrency.max(1)),
        target,
        stream: config.target.clone(),
        request: config.target.request(),
        topics: plan,
        private,
        signed,
        spread: config.source_spread,
        handshake_timeout: config.handshake_timeout,
    });
    let connections = spawn_clients(config, &run);
    connect_phase(config, &run, started).await;
    let connect_cpu_after = sample_cpu(server)?;
    let rss_connected = sample_rss(server)?;
    let (start, idle) = match config.topics {
        None => (open_window(config, &run).await, None),
        Some(load) => {
            let idle = idle_phase(load.idle, server).await?;
            // Nothing the streams carry before the first notice is measured.
            run.board.borrow_mut().measure_from(0);
            ((0, 0), Some(idle))
        }
    };
    let server_cpu_before = sample_cpu(server)?;
    let tool_cpu_before = procfs::cpu_time(Pid::Myself).ok();
    let window_start = Instant::now();
    let (from, to, published, topics) = match idle {
        None => {
            let (to, published) = measure_window(config, &run, start, window_start).await?;
            (start.0, to, published, None)
        }
        Some((idle_cpu_us, idle_window)) => {
            let delivered = publish_window(config, &run).await?;
            let topics = TopicSamples {
                idle_cpu_us,
                idle_window,
                expected: delivered.expected,
            };
            (
                delivered.from,
                delivered.to,
                Some(delivered.report),
                Some(topics),
            )
        }
    };
    let window = window_start.elapsed();
    let server_cpu_after = sample_cpu(server)?;
    let tool_cpu_after = procfs::cpu_time(Pid::Myself).ok();
    let rss_end = sample_rss(server)?;
    if let Some(pid) = server
        && !procfs::is_alive(pid)
    {
        return Err(LoadError::ServerGone(pid));
    }
    let samples = Samples {
        connections,
        connect_cpu_us: connect_cpu_before
            .zip(connect_cpu_after)
            .map(|(before, after)| after.micros_since(&before)),
        rss_before,
        rss_connected,
        rss_end,
        server_cpu_us: server_cpu_before
            .zip(server_cpu_after)
            .map(|(before, after)| after.micros_since(&before)),
        tool_cpu_us: tool_cpu_before
            .zip(tool_cpu_after)
            .map(|(before, after)| after.micros_since(&before)),
        window,
        from,
        to,
        published,
        topics,
    };
    Ok(run_result(config, &run, samples))
}

/// A topic load's idle phase: the server's CPU over `idle` with every stream open and nothing
/// published (microseconds, when there is a server to sample), and how long it really was.
async fn idle_phase(
    idle: Duration,
    server: Option<u32>,
) -> Result<(Option<u64>, Duration), LoadError> {
    let before = sample_cpu(server)?;
    let started = Instant::now();
    tokio::time::sleep(idle).await;
    let after = sample_cpu(server)?;
    let window = started.elapsed();
    Ok((
        before
            .zip(after)
            .map(|(before, after)| after.micros_since(&before)),
        window,
    ))
}

/// What a topic load's notices came to: the accepted ones' seqs span `(from, to]`.
struct Delivered {
    from: u64,
    to: u64,
    report: PublishReport,
    /// Deliveries they call for.
    expected: u64,
}

/// A topic load's window: publishes the notices on their topics, then waits until every
/// delivery they call for arrived, or none arrived for [`QUIET`] (a stream the server ended
/// never gets the rest), or [`SETTLE_LIMIT`] passed.
async fn publish_window(config: &LoadConfig, run: &Run) -> Result<Delivered, LoadError> {
    let (Some(notices), Some(plan)) = (&config.notices, &run.topics) else {
        return Err(LoadError::TopicsWithoutNotices);
    };
    let load = NoticeLoad {
        topics: Some(plan.clone()),
        ..notices.clone()
    };
    let report = publish::start(&load, run.target)
        .map_err(LoadError::Publisher)?
        .finish()
        .await
        .ok_or_else(|| {
            LoadError::Publisher(io::Error::other("its thread ended without a report"))
        })?;
    let from = report
        .accepted
        .iter()
        .map(|notice| notice.seq)
        .min()
        .map_or(0, |first| first.saturating_sub(1));
    let to = report
        .accepted
        .iter()
        .map(|notice| notice.seq)
        .max()
        .unwrap_or(0);
    let expected = {
        let mut board = run.board.borrow_mut();
        board.measure_to(to);
        let connected = (0..config.clients)
            .filter(|&index| board.is_connected(index))
            .count() as u64;
        report
            .accepted
            .iter()
            .map(|notice| match plan.notice(notice.index).recipient {
                Some(client) => u64::from(board.is_connected(client)),
                None => connected,
            })
            .sum()
    };
    let limit = Instant::now() + SETTLE_LIMIT;
    let (mut seen, mut since) = (run.board.borrow().notice_deliveries(), Instant::now());
    wait_for(limit, || {
        let now = run.board.borrow().notice_deliveries();
        if now != seen {
            (seen, since) = (now, Instant::now());
        }
        now >= expected || since.elapsed() >= QUIET
    })
    .await;
    Ok(Delivered {
        from,
        to,
        report,
        expected,
    })
}

/// How many distinct seqs the server gave the accepted notices.
fn distinct_seqs(report: &PublishReport) -> u64 {
    let seqs: BTreeSet<u64> = report.accepted.iter().map(|notice| notice.seq).collect();
    seqs.len() as u64
}

/// What the publisher's report and the clients' notices add up to, `expected` deliveries
/// called for. A notice that some client received but the publisher never had accepted goes
/// into the run's errors.
fn notice_run(
    mut report: PublishReport,
    rate: u32,
    totals: &mut Totals,
    expected: u64,
) -> NoticeRun {
    let accepted: BTreeSet<u64> = report.accepted.iter().map(|notice| notice.seq).collect();
    let mut delivered = 0;
    for (seq, clients) in &totals.notices_by_seq {
        if accepted.contains(seq) {
            delivered += clients;
        } else {
            *totals
                .error_kinds
                .entry("a notice whose publish was not answered 202".into())
                .or_default() += clients;
        }
    }
    NoticeRun {
        requested: report.requested,
        rate,
        published: accepted.len() as u64,
        failures: report.failures,
        publish_latency: tally::latency(&mut report.latencies_us),
        delivery_latency: tally::latency(&mut totals.notice_latencies_us),
        delivered,
        expected,
    }
}

/// A topic load's figures from its samples and the server's CPU over its window (microseconds)
/// with the window's length: CPU per accepted notice, gross and net of the idle rate.
fn topic_run(
    mode: TopicMode,
    topics: &TopicSamples,
    (window_cpu_us, window): (Option<u64>, Duration),
    notices: Option<&NoticeRun>,
) -> TopicRun {
    let idle_seconds = topics.idle_window.as_secs_f64();
    let idle_rate_us = topics
        .idle_cpu_us
        .filter(|_| idle_seconds > 0.0)
        .map(|micros| micros as f64 / idle_seconds);
    let published = notices.map_or(0, |notices| notices.published);
    let per_publish = |micros: f64| (published > 0).then(|| micros.max(0.0) / published as f64);
    let window_us = window_cpu_us.map(|micros| micros as f64);
    TopicRun {
        mode,
        idle_window_ms: millis(topics.idle_window),
        idle_cpu_ms_per_s: idle_rate_us.map(|micros| micros / 1000.0),
        cpu_us_per_publish: window_us.and_then(per_publish),
        net_cpu_us_per_publish: window_us
            .zip(idle_rate_us)
            .and_then(|(cpu, rate)| per_publish(cpu - rate * window.as_secs_f64())),
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn sample_rss(pid: Option<u32>) -> Result<Option<u64>, LoadError> {
    pid.map(|pid| procfs::rss_kib(Pid::Of(pid)).map_err(|source| LoadError::Proc { pid, source }))
        .transpose()
}

fn sample_cpu(pid: Option<u32>) -> Result<Option<CpuTime>, LoadError> {
    pid.map(|pid| procfs::cpu_time(Pid::Of(pid)).map_err(|source| LoadError::Proc { pid, source }))
        .transpose()
}

/// Waits until a TCP connection to `target` succeeds (closing it at once).
async fn wait_until_ready(target: SocketAddr, pid: Option<u32>) -> Result<(), LoadError> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(pid) = pid
            && !procfs::is_alive(pid)
        {
            return Err(LoadError::ServerGone(pid));
        }
        let attempt = tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(target));
        if let Ok(Ok(_stream)) = attempt.await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(LoadError::NotReady(target));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One client, from `connect()` until the run drops it; its end, if any, goes on the board.
async fn client(index: usize, run: Rc<Run>) {
    if let Err(err) = follow(index, &run).await {
        run.board.borrow_mut().fail(index, err);
    }
}

async fn follow(index: usize, run: &Run) -> Result<(), ClientError> {
    // The semaphore is never closed, so this always gets a permit.
    let permit = run.handshakes.acquire().await.ok();
    let mut stream = None;
    let mut decoder = ResponseDecoder::new();
    let mut buf = [0_u8; READ_BUFFER];
    let handshake = async {
        let mut connection = connect_tcp(source_addr(index, run.spread), run.target).await?;
        connection
            .write_all(&run.request(index))
            .await
            .map_err(SocketError::at(SocketError::Write))?;
        let stream = stream.insert(connection);
        while !run.board.borrow().is_connected(index) {
            pump(index, run, stream, &mut decoder, &mut buf).await?;
        }
        Ok::<_, ClientError>(())
    };
    tokio::time::timeout(run.handshake_timeout, handshake)
        .await
        .map_err(|_| ClientError::HandshakeTimeout)??;
    drop(permit);
    let Some(stream) = stream.as_mut() else {
        return Err(ClientError::HandshakeTimeout);
    };
    loop {
        pump(index, run, stream, &mut decoder, &mut buf).await?;
    }
}

/// One `read()`, decoded onto the board.
async fn pump(
    index: usize,
    run: &Run,
    stream: &mut TcpStream,
    decoder: &mut ResponseDecoder,
    buf: &mut [u8],
) -> Result<(), ClientError> {
    let read = stream
        .read(buf)
        .await
        .map_err(SocketError::at(SocketError::Read))?;
    if read == 0 {
        return Err(ClientError::Closed);
    }
    let received_us = wall_clock_micros();
    let mut board = run.board.borrow_mut();
    let progress = decoder.feed(&buf[..read], &mut |event| {
        board.record(index, event, received_us);
    })?;
    match progress {
        Progress::Open => Ok(()),
        Progress::Ended => Err(ClientError::Ended),
    }
}
