//! A running server seen from a test, as zero2prod's `TestApp`: one method per endpoint, so a
//! test says what it asks for (`app.get_health()`, `app.open_stream(...)`) instead of building
//! URLs and requests; the waits on what those endpoints report; and [`SseClient`], the stream
//! read by a spec-following SSE parser.

use std::{
    pin::Pin,
    time::{Duration, Instant},
};

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};
use reqwest::{Method, RequestBuilder, Response};
use shared::{
    AppEvent, EventId, EventSet, EventStamp, LAST_EVENT_ID_PARAM, Ping, STREAM_PATH, StreamEvent,
    Timing,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{tls::TestCert, wait::eventually};

/// A server that a test talks to over HTTP: one running in this test process (the API suite's
/// `spawn_app`), or one running elsewhere, such as a [`ServerProcess`](super::ServerProcess).
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The port it listens on.
    pub port: u16,
    /// Opens a fresh connection for every request, as separate clients would (over HTTP/2: one
    /// connection, a new stream for every request).
    pub client: reqwest::Client,
    /// The HTTP version every stream response to `client` must have.
    pub version: reqwest::Version,
    /// The shutdown token and the run of a server running in this process.
    in_process: Option<(CancellationToken, JoinHandle<std::io::Result<()>>)>,
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

impl ResumeFrom<'_> {
    /// `Last-Event-ID: id` when there is one, else a new client.
    pub fn header(last_event_id: Option<&str>) -> ResumeFrom<'_> {
        last_event_id.map_or(ResumeFrom::Nowhere, ResumeFrom::Header)
    }
}

impl TestApp {
    /// The handle of a server running in this process on `port`, which stops when `shutdown`
    /// fires and whose run is `server`.
    pub fn new(
        port: u16,
        shutdown: CancellationToken,
        server: JoinHandle<std::io::Result<()>>,
    ) -> Self {
        Self {
            in_process: Some((shutdown, server)),
            ..Self::at(port)
        }
    }

    /// The handle of a server on `port` that runs elsewhere (a child process, stopped through its
    /// own handle rather than [`TestApp::stop`]).
    pub fn at(port: u16) -> Self {
        Self {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("client builds"),
            version: reqwest::Version::HTTP_11,
            in_process: None,
        }
    }

    /// The same server, serving TLS with `cert`, reached by a client that trusts `cert` and
    /// speaks HTTP/2 to it (ALPN).
    pub fn over_h2(self, cert: &TestCert) -> Self {
        self.over_h2_with(cert.client())
    }

    /// The same server, serving TLS, reached by `client` (one that trusts the server's
    /// certificate, as [`client_trusting`](super::tls::client_trusting) makes) over HTTP/2.
    pub fn over_h2_with(self, client: reqwest::Client) -> Self {
        Self {
            address: format!("https://localhost:{}", self.port),
            client,
            version: reqwest::Version::HTTP_2,
            ..self
        }
    }

    /// The address followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A `method` request to `path`, for what the endpoint methods below do not cover: other
    /// methods, extra headers.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// `GET path`: a page or an asset of the frontend, or any other path.
    pub async fn get_page(&self, path: &str) -> Response {
        send(self.request(Method::GET, path)).await
    }

    /// `GET /sse` as a new client, and whatever it answers.
    pub async fn get_stream(&self) -> Response {
        self.get_stream_from(ResumeFrom::Nowhere).await
    }

    /// `GET /sse` resuming as `from` says, and whatever it answers.
    pub async fn get_stream_from(&self, from: ResumeFrom<'_>) -> Response {
        let (header, query) = match from {
            ResumeFrom::Nowhere => (None, None),
            ResumeFrom::Header(header) => (Some(header), None),
            ResumeFrom::Query(query) => (None, Some(query)),
            ResumeFrom::Both { header, query } => (Some(header), Some(query)),
        };
        let path = match query {
            Some(query) => format!("{STREAM_PATH}?{LAST_EVENT_ID_PARAM}={query}"),
            None => STREAM_PATH.to_owned(),
        };
        let mut request = self.request(Method::GET, &path);
        if let Some(id) = header {
            request = request.header("Last-Event-ID", id);
        }
        let response = send(request).await;
        assert_eq!(response.version(), self.version, "the HTTP version");
        response
    }

    /// `HEAD /sse`.
    pub async fn head_stream(&self) -> Response {
        send(self.request(Method::HEAD, STREAM_PATH)).await
    }

    /// `GET /sse`, with `Last-Event-ID` when given. Panics unless the answer is 200.
    pub async fn open_stream(&self, last_event_id: Option<&str>) -> SseClient {
        self.open_stream_from(ResumeFrom::header(last_event_id))
            .await
    }

    /// `GET /sse`, resuming as `from` says. Panics unless the answer is 200.
    pub async fn open_stream_from(&self, from: ResumeFrom<'_>) -> SseClient {
        let response = self.get_stream_from(from).await;
        assert_eq!(
            response.status(),
            200,
            "stream refused: {:?}",
            response.headers()
        );
        SseClient::from_response(response)
    }

    /// `GET /sse` for the topics `selectors` pick (none: every topic), after `last` when given
    /// (`?lastEventId=`), and whatever it answers. The selectors go into the URL as they are.
    pub async fn get_topics(&self, selectors: &[&str], last: Option<EventId>) -> Response {
        let response = send(self.topics_request(selectors, last)).await;
        assert_eq!(response.version(), self.version, "the HTTP version");
        response
    }

    /// [`TestApp::get_topics`], as a stream; panics unless the answer is 200.
    pub async fn open_topics(&self, selectors: &[&str], last: Option<EventId>) -> SseClient {
        let response = self.get_topics(selectors, last).await;
        assert_eq!(response.status(), 200, "stream refused: {selectors:?}");
        SseClient::from_response(response)
    }

    /// A `GET /sse` for the topics `selectors` pick, after `last` when given, for a test to
    /// complete (a token in a header or a cookie) and send.
    pub fn topics_request(&self, selectors: &[&str], last: Option<EventId>) -> RequestBuilder {
        let mut query: Vec<String> = selectors
            .iter()
            .map(|selector| format!("{}={selector}", shared::TOPIC_PARAM))
            .collect();
        if let Some(id) = last {
            query.push(format!("{LAST_EVENT_ID_PARAM}={id}"));
        }
        self.request(Method::GET, &format!("{STREAM_PATH}?{}", query.join("&")))
    }

    /// `POST /events/{name}?topic=<topic>` with `Authorization: Bearer <token>` and `body`.
    pub async fn publish_on(
        &self,
        name: &str,
        topic: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> Response {
        let path = format!(
            "{}{name}?{}={topic}",
            shared::PUBLISH_PATH_PREFIX,
            shared::TOPIC_PARAM
        );
        send(
            self.request(Method::POST, &path)
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// `POST /events/{name}` with `Authorization: Bearer <token>` and `body` as JSON.
    pub async fn publish(&self, name: &str, token: &str, body: &serde_json::Value) -> Response {
        send(self.publish_request(name).bearer_auth(token).json(body)).await
    }

    /// A `POST /events/{name}` without credentials or body, for a test to complete.
    pub fn publish_request(&self, name: &str) -> RequestBuilder {
        self.request(
            Method::POST,
            &format!("{}{name}", shared::PUBLISH_PATH_PREFIX),
        )
    }

    /// `GET /healthz`.
    pub async fn get_health(&self) -> Response {
        send(self.request(Method::GET, "/healthz")).await
    }

    /// `/healthz` as JSON.
    pub async fn health(&self) -> serde_json::Value {
        self.get_health()
            .await
            .json()
            .await
            .expect("healthz is JSON")
    }

    /// `status` of `/healthz`: `ok`, `degraded` or `stopping`.
    pub async fn health_status(&self) -> String {
        self.health().await["status"]
            .as_str()
            .expect("status is a string")
            .to_owned()
    }

    /// `clients` of `/healthz`: the streams open.
    pub async fn connected_clients(&self) -> u64 {
        self.health().await["clients"]
            .as_u64()
            .expect("clients is a number")
    }

    /// `last_id` of `/healthz`: the id of the newest ping, `None` before the first.
    pub async fn last_id(&self) -> Option<EventId> {
        let health = self.health().await;
        let last_id = health["last_id"].as_str()?;
        Some(last_id.parse().expect("last_id is an EventId"))
    }

    /// `last_seq` of `/healthz`: the seq of the newest event. Panics before the first ping,
    /// when there is none.
    pub async fn last_seq(&self) -> u64 {
        self.health().await["last_seq"]
            .as_u64()
            .expect("last_seq is a number")
    }

    /// Runs `request` between two readings of [`TestApp::last_seq`]: the newest count just
    /// before, what `request` gave, and the newest count just after. Pings go on being published
    /// meanwhile, so the ping a server picks for a stream opened in between (the newest, or one
    /// a fixed distance from it) is known only to lie within those two.
    pub async fn between_last_seqs<T>(&self, request: impl Future<Output = T>) -> (u64, T, u64) {
        let before = self.last_seq().await;
        let answer = request.await;
        let after = self.last_seq().await;
        (before, answer, after)
    }

    /// `GET /metrics`.
    pub async fn get_metrics(&self) -> Response {
        send(self.request(Method::GET, "/metrics")).await
    }

    /// `/metrics` as text.
    pub async fn metrics(&self) -> String {
        self.get_metrics()
            .await
            .text()
            .await
            .expect("metrics are text")
    }

    /// The value of one metric, e.g. `pingstream_events_published_total`.
    pub async fn metric(&self, name: &str) -> u64 {
        let text = self.metrics().await;
        metric_value(&text, name).unwrap_or_else(|| panic!("no {name} in\n{text}"))
    }

    /// Polls `/healthz` until `clients` equals `expected` and returns how long that took; panics
    /// after `deadline`.
    pub async fn wait_for_clients(&self, expected: u64, deadline: Duration) -> Duration {
        self.until_clients(expected, deadline)
            .await
            .unwrap_or_else(|clients| {
                panic!("{clients} clients connected after {deadline:?}, expected {expected}")
            })
    }

    /// [`TestApp::wait_for_clients`] for a test that reports the outcome before judging it: how
    /// long the wait took, or the count at the deadline.
    pub async fn until_clients(&self, expected: u64, deadline: Duration) -> Result<Duration, u64> {
        let started = Instant::now();
        eventually(deadline, async || match self.connected_clients().await {
            clients if clients == expected => Ok(started.elapsed()),
            clients => Err(clients),
        })
        .await
    }

    /// Polls `/metrics` until the counter `name` reaches `at_least`; panics after `deadline`.
    pub async fn wait_for_metric(&self, name: &str, at_least: u64, deadline: Duration) {
        eventually(deadline, async || {
            let text = self.metrics().await;
            match metric_value(&text, name) {
                Some(value) if value >= at_least => Ok(()),
                Some(value) => Err(format!("{name} is {value}")),
                None => Err(format!("no {name} in\n{text}")),
            }
        })
        .await
        .unwrap_or_else(|last| panic!("{last} after {deadline:?}, expected at least {at_least}"));
    }

    /// Fires the shutdown token of a server running in this process and returns how long it
    /// took to stop.
    pub async fn stop(self) -> Duration {
        let (shutdown, server) = self
            .in_process
            .expect("only a server running in this process is stopped through its TestApp");
        let started = Instant::now();
        shutdown.cancel();
        server
            .await
            .expect("server task")
            .expect("server stops cleanly");
        started.elapsed()
    }
}

async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("server answers")
}

/// The id a `202 Accepted` publish answered (`{"id": "<epoch>-<seq>"}`); panics on any other
/// answer.
pub async fn accepted_id(response: Response) -> EventId {
    assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    body["id"]
        .as_str()
        .expect("an id")
        .parse()
        .expect("an EventId")
}

/// The stamp a `202 Accepted` publish answered (`{"id": "<epoch>-<seq>", "topic": …,
/// "topic_seq": …}`); panics on any other answer.
pub async fn accepted_stamp(response: Response) -> EventStamp {
    assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    EventStamp {
        id: body["id"]
            .as_str()
            .expect("an id")
            .parse()
            .expect("an EventId"),
        topic: body["topic"]
            .as_str()
            .expect("a topic")
            .parse()
            .expect("a Topic"),
        topic_seq: body["topic_seq"].as_u64().expect("a topic_seq"),
    }
}

/// The value of metric `name` in the text `/metrics` answers: the number after `name ` on its
/// line.
pub fn metric_value(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

type EventStream =
    Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<reqwest::Error>>> + Send>>;

/// One ping as a client received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its id: its place in the run.
    pub id: EventId,
    /// Its whole `id:`: the id, its topic and the topic's number.
    pub stamp: EventStamp,
    /// The ping its data decodes to.
    pub ping: Ping,
}

impl Received {
    /// The ping event with fields `id` and `data`, checked: the data a [`Ping`], the id an
    /// [`EventStamp`]. Every stream reader of the suites decodes pings with it.
    pub fn parse(id: &str, data: &str) -> Result<Self, String> {
        let ping: Ping = serde_json::from_str(data).map_err(|err| format!("not a Ping: {err}"))?;
        let stamp: EventStamp = id.parse().map_err(|err| format!("id {id:?}: {err}"))?;
        Ok(Self {
            id: stamp.id,
            stamp,
            ping,
        })
    }
}

/// One event of the app's set, of any name, as a client received it.
#[derive(Debug, Clone)]
pub struct ReceivedEvent {
    /// Its id: its place in the run.
    pub id: EventId,
    /// Its whole `id:`: the id, its topic and the topic's number.
    pub stamp: EventStamp,
    /// The event its name and data decode to.
    pub event: AppEvent,
}

/// An open `/sse` stream, decoded by a spec-following SSE parser.
pub struct SseClient {
    events: EventStream,
    /// Heartbeats read past so far, the greeting included.
    pub heartbeats: Vec<Timing>,
}

impl SseClient {
    /// The stream of a `200` answer to a stream request.
    pub fn from_response(response: Response) -> Self {
        Self {
            events: Box::pin(response.bytes_stream().eventsource()),
            heartbeats: Vec::new(),
        }
    }

    /// The next ping, checking that the event is well-formed; panics after 5 s.
    pub async fn next_ping(&mut self) -> Received {
        self.next_ping_within(Duration::from_secs(5))
            .await
            .expect("a ping within 5 s")
    }

    /// The next ping, or `None` if none arrives within `wait`. Panics if the stream ends or
    /// its next event is not a ping. Heartbeats on the way are checked and kept in
    /// [`SseClient::heartbeats`].
    pub async fn next_ping_within(&mut self, wait: Duration) -> Option<Received> {
        let event = self.next_raw_within(wait).await?;
        assert_eq!(event.event, Ping::NAME, "{event:?}");
        let received = Received::parse(&event.id, &event.data);
        Some(received.unwrap_or_else(|err| panic!("a malformed ping: {err}")))
    }

    /// The next event of any name, decoded into the app's set; panics after 5 s, or if it does
    /// not decode.
    pub async fn next_event(&mut self) -> ReceivedEvent {
        let event = self
            .next_raw_within(Duration::from_secs(5))
            .await
            .expect("an event within 5 s");
        let stamp: EventStamp = event.id.parse().expect("an event stamp");
        ReceivedEvent {
            id: stamp.id,
            stamp,
            event: AppEvent::decode(&event.event, &event.data).expect("an event of the set"),
        }
    }

    /// The next event of any name, or `None` if none arrives within `wait`.
    pub async fn next_event_within(&mut self, wait: Duration) -> Option<ReceivedEvent> {
        let event = self.next_raw_within(wait).await?;
        let stamp: EventStamp = event.id.parse().expect("an event stamp");
        Some(ReceivedEvent {
            id: stamp.id,
            stamp,
            event: AppEvent::decode(&event.event, &event.data).expect("an event of the set"),
        })
    }

    /// How the stream started, as its opening heartbeat said: waits up to 5 s for it.
    pub async fn start(&mut self) -> shared::Start {
        if self.heartbeats.is_empty() {
            let event = tokio::time::timeout(Duration::from_secs(5), self.events.next())
                .await
                .expect("the opening within 5 s")
                .expect("the stream is open")
                .expect("the stream reads");
            assert_eq!(event.event, Timing::NAME, "the first event is the opening");
            let opening = serde_json::from_str(&event.data).expect("data is a Timing");
            self.heartbeats.push(opening);
        }
        self.heartbeats[0]
            .start
            .expect("the opening says how the stream starts")
    }

    /// The next event that is not a heartbeat, as the parser gave it, or `None` if none
    /// arrives within `wait`. Panics if the stream ends.
    pub async fn next_raw_within(&mut self, wait: Duration) -> Option<Event> {
        let deadline = Instant::now() + wait;
        let event = loop {
            let event = match tokio::time::timeout_at(deadline.into(), self.events.next()).await {
                Err(_) => return None,
                Ok(None) => panic!("stream ended"),
                Ok(Some(Err(err))) => panic!("stream failed: {err}"),
                Ok(Some(Ok(event))) => event,
            };
            if event.event != Timing::NAME {
                break event;
            }
            let heartbeat = serde_json::from_str(&event.data).expect("data is a Timing");
            self.heartbeats.push(heartbeat);
        };
        Some(event)
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
                Ok(Some(Ok(event))) if event.event == Ping::NAME => pings += 1,
                Ok(Some(Ok(_))) => {}
            }
        }
    }
}

/// Asserts that `pings` have consecutive seqs and one epoch (true of a stream that carries only
/// pings).
pub fn assert_consecutive(pings: &[Received]) {
    for pair in pings.windows(2) {
        assert_eq!(
            pair[1].id.epoch, pair[0].id.epoch,
            "epoch changed mid-stream"
        );
        assert_eq!(
            pair[1].id.seq,
            pair[0].id.seq + 1,
            "gap or repeat: {pair:?}"
        );
    }
}

/// Reads the raw bytes of a response until `needle` shows up, or panics after `wait`.
pub async fn read_raw_until(response: Response, needle: &str, wait: Duration) -> String {
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
