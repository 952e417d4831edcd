//! Starting a real server on port 0 and talking SSE to it.

use std::{
    pin::Pin,
    time::{Duration, Instant},
};

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};
use server::{config::Config, startup::Application};
use shared::{
    EVENT_NAME, EventId, HEARTBEAT_EVENT, Heartbeat, LAST_EVENT_ID_PARAM, Ping, STREAM_PATH,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A server running in this test, and a client for it.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub shutdown: CancellationToken,
    pub server: JoinHandle<std::io::Result<()>>,
    pub client: reqwest::Client,
}

/// Starts a server with the test defaults, changed by `configure`.
pub async fn spawn_app(configure: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config::for_tests();
    config.workers = 2;
    // Tests that need the frontend point this at a folder they make.
    config.static_dir = "/nonexistent-pingstream-dist".into();
    configure(&mut config);
    let shutdown = CancellationToken::new();
    let application = Application::build(config, shutdown.clone())
        .await
        .expect("server builds");
    let port = application.port();
    let server = tokio::spawn(application.run_until_stopped());
    TestApp::new(port, shutdown, server)
}

type EventStream =
    Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<reqwest::Error>>> + Send>>;

/// One ping as a client received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: EventId,
    pub ping: Ping,
}

/// An open `/sse` stream, decoded by a spec-following SSE parser.
pub struct SseClient {
    events: EventStream,
    /// Heartbeats read past so far, the greeting included.
    pub heartbeats: Vec<Heartbeat>,
}

/// Where a stream request says to resume, and how.
#[derive(Debug, Clone, Copy)]
pub enum ResumeFrom<'a> {
    /// Neither header nor query: a new client.
    Nowhere,
    /// `Last-Event-ID: <id>`, as a browser's own reconnect sends it.
    Header(&'a str),
    /// `?lastEventId=<query>`, as a page's new `EventSource` sends it; the text goes into the URL
    /// as it is (already percent-encoded, or deliberately not).
    Query(&'a str),
    /// Both at once.
    Both {
        /// The header's value.
        header: &'a str,
        /// The query parameter's raw text.
        query: &'a str,
    },
}

impl TestApp {
    /// The handle of a server listening on `port` that stops when `shutdown` fires and whose run
    /// is `server`, with a client that opens a fresh connection for every request.
    pub fn new(
        port: u16,
        shutdown: CancellationToken,
        server: JoinHandle<std::io::Result<()>>,
    ) -> Self {
        Self {
            address: format!("http://127.0.0.1:{port}"),
            port,
            shutdown,
            server,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("client builds"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `GET /sse`, with `Last-Event-ID` when given. Panics unless the answer is 200.
    pub async fn open_stream(&self, last_event_id: Option<&str>) -> SseClient {
        self.open_stream_from(last_event_id.map_or(ResumeFrom::Nowhere, ResumeFrom::Header))
            .await
    }

    /// `GET /sse`, resuming as `from` says. Panics unless the answer is 200.
    pub async fn open_stream_from(&self, from: ResumeFrom<'_>) -> SseClient {
        let response = self.request_stream_from(from).await;
        assert_eq!(
            response.status(),
            200,
            "stream refused: {:?}",
            response.headers()
        );
        SseClient {
            events: Box::pin(response.bytes_stream().eventsource()),
            heartbeats: Vec::new(),
        }
    }

    /// `GET /sse` and whatever it answers.
    pub async fn request_stream(&self, last_event_id: Option<&str>) -> reqwest::Response {
        self.request_stream_from(last_event_id.map_or(ResumeFrom::Nowhere, ResumeFrom::Header))
            .await
    }

    /// `GET /sse` resuming as `from` says, and whatever it answers.
    pub async fn request_stream_from(&self, from: ResumeFrom<'_>) -> reqwest::Response {
        let (header, query) = match from {
            ResumeFrom::Nowhere => (None, None),
            ResumeFrom::Header(header) => (Some(header), None),
            ResumeFrom::Query(query) => (None, Some(query)),
            ResumeFrom::Both { header, query } => (Some(header), Some(query)),
        };
        let url = match query {
            Some(query) => self.url(&format!("{STREAM_PATH}?{LAST_EVENT_ID_PARAM}={query}")),
            None => self.url(STREAM_PATH),
        };
        let mut request = self.client.get(url);
        if let Some(id) = header {
            request = request.header("Last-Event-ID", id);
        }
        request.send().await.expect("server answers")
    }

    pub async fn health(&self) -> serde_json::Value {
        self.client
            .get(self.url("/healthz"))
            .send()
            .await
            .expect("server answers")
            .json()
            .await
            .expect("healthz is JSON")
    }

    pub async fn connected_clients(&self) -> u64 {
        self.health().await["clients"]
            .as_u64()
            .expect("clients is a number")
    }

    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("server answers")
            .text()
            .await
            .expect("metrics are text")
    }

    /// The value of one metric line, e.g. `pingstream_events_published_total`.
    pub async fn metric(&self, name: &str) -> u64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    }

    /// Polls `/healthz` until `clients` equals `expected`, or panics after `deadline`.
    pub async fn wait_for_clients(&self, expected: u64, deadline: Duration) {
        let started = Instant::now();
        loop {
            let clients = self.connected_clients().await;
            if clients == expected {
                return;
            }
            assert!(
                started.elapsed() < deadline,
                "{clients} clients connected after {deadline:?}, expected {expected}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Fires the shutdown token and returns how long the server took to stop.
    pub async fn stop(self) -> Duration {
        let started = Instant::now();
        self.shutdown.cancel();
        self.server
            .await
            .expect("server task")
            .expect("server stops cleanly");
        started.elapsed()
    }
}

impl SseClient {
    /// The next ping, checking that the event is well-formed; panics after 5 s.
    pub async fn next_ping(&mut self) -> Received {
        self.next_ping_within(Duration::from_secs(5))
            .await
            .expect("a ping within 5 s")
    }

    /// The next ping, or `None` if none arrives within `wait`. Panics if the stream ends.
    /// Heartbeats on the way are checked and kept in [`SseClient::heartbeats`].
    pub async fn next_ping_within(&mut self, wait: Duration) -> Option<Received> {
        let deadline = Instant::now() + wait;
        let event = loop {
            let event = match tokio::time::timeout_at(deadline.into(), self.events.next()).await {
                Err(_) => return None,
                Ok(None) => panic!("stream ended"),
                Ok(Some(Err(err))) => panic!("stream failed: {err}"),
                Ok(Some(Ok(event))) => event,
            };
            if event.event != HEARTBEAT_EVENT {
                break event;
            }
            let heartbeat = serde_json::from_str(&event.data).expect("data is a Heartbeat");
            self.heartbeats.push(heartbeat);
        };
        assert_eq!(event.event, EVENT_NAME);
        let ping: Ping = serde_json::from_str(&event.data).expect("data is a Ping");
        let id: EventId = event.id.parse().expect("id is an EventId");
        assert_eq!(id.count, ping.count, "id and data disagree");
        Some(Received { id, ping })
    }

    /// Reads `n` pings.
    pub async fn take_pings(&mut self, n: usize) -> Vec<Received> {
        let mut pings = Vec::with_capacity(n);
        for _ in 0..n {
            pings.push(self.next_ping().await);
        }
        pings
    }

    /// Waits for the stream to end; `Ok(pings)` (heartbeats not counted) if it ended cleanly,
    /// `Err` if it broke.
    pub async fn until_end(mut self, wait: Duration) -> Result<usize, String> {
        let mut pings = 0;
        let deadline = Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline.into(), self.events.next()).await {
                Err(_) => return Err(format!("still open after {wait:?}")),
                Ok(None) => return Ok(pings),
                Ok(Some(Err(err))) => return Err(format!("broke: {err}")),
                Ok(Some(Ok(event))) if event.event == EVENT_NAME => pings += 1,
                Ok(Some(Ok(_))) => {}
            }
        }
    }
}

/// Asserts that `pings` have consecutive counts and one epoch.
pub fn assert_consecutive(pings: &[Received]) {
    for pair in pings.windows(2) {
        assert_eq!(
            pair[1].id.epoch, pair[0].id.epoch,
            "epoch changed mid-stream"
        );
        assert_eq!(
            pair[1].ping.count,
            pair[0].ping.count + 1,
            "gap or repeat: {pair:?}"
        );
    }
}

/// Reads the raw bytes of a response until `needle` shows up, or panics after `wait`.
pub async fn read_raw_until(response: reqwest::Response, needle: &str, wait: Duration) -> String {
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let deadline = Instant::now() + wait;
    while !text.contains(needle) {
        match tokio::time::timeout_at(deadline.into(), body.next()).await {
            Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("no {needle:?} in {text:?}: {other:?}"),
        }
    }
    text
}
