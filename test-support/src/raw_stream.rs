//! A raw-TCP stream client, cheap enough to run ten thousand of: it sends the request, reads the
//! head, hands the body to the load tool's incremental decoder ([`bench::wire`]: chunked framing
//! and the SSE fields, as the benchmark reads the same streams), and tells a stream that ended
//! cleanly (the terminating chunk) from one cut off (EOF, between events or inside one, or a
//! reset).

use std::{collections::VecDeque, io};

use bench::wire::{Progress, ResponseDecoder};
use shared::{Ping, STREAM_PATH, StreamEvent as _};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

use super::Received;

/// Loopback source addresses the clients are spread over (127.0.0.1 ..= 127.0.0.250), so that
/// tens of thousands of connections (and their TIME_WAITs) do not run out of ephemeral ports.
const SOURCES: u8 = 250;

/// Connects client number `i` to the server on `port`, from its share of the loopback sources,
/// with a small receive buffer when `recv_buffer` is set.
pub async fn connect(port: u16, i: usize, recv_buffer: Option<u32>) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    socket.bind(bench::target::source_addr(i, SOURCES))?;
    socket.connect(([127, 0, 0, 1], port).into()).await
}

/// Client `i` connects to the server on `port`, asks for the stream as a new client and reads up
/// to its first ping: the stream, open past that ping, or what went wrong.
pub async fn open_to_first_ping(port: u16, i: usize) -> Result<StreamClient, String> {
    let stream = connect(port, i, None)
        .await
        .map_err(|err| format!("connect: {err}"))?;
    let mut client = StreamClient::open(stream, None)
        .await
        .map_err(|err| format!("head: {err}"))?;
    if client.status != 200 {
        return Err(format!("status {}", client.status));
    }
    let event = client
        .next_event()
        .await
        .map_err(|end| format!("ended before a ping: {end:?}"))?;
    event.ping()?;
    Ok(client)
}

/// The HTTP/1.1 request for the stream, with a `Last-Event-ID` of any bytes at all when given.
pub fn stream_request(last_event_id: Option<&[u8]>) -> Vec<u8> {
    stream_request_over("HTTP/1.1", last_event_id)
}

/// [`stream_request`] in HTTP `version` (`HTTP/1.0`: the server closes the connection once the
/// response is over).
pub fn stream_request_over(version: &str, last_event_id: Option<&[u8]>) -> Vec<u8> {
    let mut request = format!("GET {STREAM_PATH} {version}\r\nHost: localhost\r\n").into_bytes();
    if let Some(id) = last_event_id {
        request.extend_from_slice(b"Last-Event-ID: ");
        request.extend_from_slice(id);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request
}

/// The status code of a response head (`HTTP/1.1 200 OK...`).
pub fn status_code(head: &str) -> Option<u16> {
    head.split_whitespace().nth(1)?.parse().ok()
}

/// One ping event as received.
#[derive(Debug, Clone)]
pub struct Event {
    /// Its `id:` field, as sent.
    pub id: String,
    /// Its `data:` field, as sent.
    pub data: String,
}

impl Event {
    /// The ping it carries, checked as [`Received::parse`] does.
    pub fn ping(&self) -> Result<Received, String> {
        Received::parse(&self.id, &self.data)
    }
}

/// How a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The terminating chunk, then EOF: the server ended the response.
    Terminated,
    /// The terminating chunk, then a reset instead of EOF: the response still ended whole.
    TerminatedThenReset,
    /// EOF with no terminating chunk, between two events (what a killed server leaves).
    Eof,
    /// Anything else: a reset, EOF in the middle of a chunk or an event, a malformed body, or an
    /// answer that was not a stream.
    Broken(String),
}

impl End {
    /// Whether the response ended whole: its terminating chunk arrived and no event was cut.
    pub fn is_clean(&self) -> bool {
        matches!(self, Self::Terminated | Self::TerminatedThenReset)
    }
}

/// An open stream being read.
pub struct StreamClient {
    stream: TcpStream,
    decoder: ResponseDecoder,
    /// Pings decoded and not yet taken.
    events: VecDeque<Event>,
    /// Whether the terminating chunk has arrived.
    terminated: bool,
    /// Why the body cannot be followed (a status other than 200, malformed framing).
    failure: Option<String>,
    /// The status code of the answer.
    pub status: u16,
    /// The head of the answer, as text.
    pub head: String,
}

impl StreamClient {
    /// Sends the stream request (with `Last-Event-ID` when given) on `stream` and reads the
    /// answer's head.
    pub async fn open(stream: TcpStream, last_event_id: Option<&str>) -> io::Result<Self> {
        Self::send(stream, &stream_request(last_event_id.map(str::as_bytes))).await
    }

    /// Sends `request` as it is on `stream` and reads the answer's head.
    pub async fn send(mut stream: TcpStream, request: &[u8]) -> io::Result<Self> {
        stream.write_all(request).await?;
        let mut received = Vec::with_capacity(1024);
        let mut buffer = [0u8; 4096];
        let head_end = loop {
            if let Some(at) = find(&received, b"\r\n\r\n") {
                break at;
            }
            let n = stream.read(&mut buffer).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed before the head",
                ));
            }
            received.extend_from_slice(&buffer[..n]);
        };
        let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
        let status = status_code(&head)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no status"))?;
        let mut client = Self {
            stream,
            decoder: ResponseDecoder::new(),
            events: VecDeque::new(),
            terminated: false,
            failure: None,
            status,
            head,
        };
        // The decoder reads the head again to learn the body's framing, then whatever of the
        // body came with it; for any status but 200 it refuses the body, which then ends the
        // stream as `Broken`.
        client.decode(&received);
        Ok(client)
    }

    /// The value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }

    /// The next ping (heartbeats are read past), or how the stream ended.
    pub async fn next_event(&mut self) -> Result<Event, End> {
        let mut buffer = [0u8; 8192];
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(event);
            }
            if let Some(failure) = &self.failure {
                return Err(End::Broken(failure.clone()));
            }
            if self.terminated {
                return Err(self.after_terminator().await);
            }
            match self.stream.read(&mut buffer).await {
                Ok(0) if self.decoder.is_between_events() => return Err(End::Eof),
                Ok(0) => return Err(End::Broken("EOF inside a chunk or an event".to_owned())),
                Ok(n) => self.decode(&buffer[..n]),
                Err(err) => return Err(End::Broken(format!("read failed: {err}"))),
            }
        }
    }

    /// Reads pings until the stream ends; how it ended and how many pings came first.
    pub async fn until_end(&mut self) -> (End, usize) {
        let mut events = 0;
        loop {
            match self.next_event().await {
                Ok(_) => events += 1,
                Err(end) => return (end, events),
            }
        }
    }

    async fn after_terminator(&mut self) -> End {
        if !self.decoder.is_between_events() {
            return End::Broken("the body ended inside an event".to_owned());
        }
        let mut buffer = [0u8; 1024];
        loop {
            match self.stream.read(&mut buffer).await {
                Ok(0) => return End::Terminated,
                Ok(_) => {}
                Err(_) => return End::TerminatedThenReset,
            }
        }
    }

    /// Feeds `bytes` to the decoder, keeping the pings it completes.
    fn decode(&mut self, bytes: &[u8]) {
        let events = &mut self.events;
        let decoded = self.decoder.feed(bytes, &mut |event| {
            // Only pings: heartbeats say the stream is alive, they are not part of it.
            if event.event == Ping::NAME.as_bytes() {
                events.push_back(Event {
                    id: String::from_utf8_lossy(event.id).into_owned(),
                    data: String::from_utf8_lossy(event.data).into_owned(),
                });
            }
        });
        match decoded {
            Ok(Progress::Open) => {}
            Ok(Progress::Ended) => self.terminated = true,
            Err(err) => self.failure = Some(err.to_string()),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
