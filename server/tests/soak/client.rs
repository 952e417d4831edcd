//! A lightweight raw-TCP stream client, cheap enough to run ten thousand of: it sends the request,
//! reads the head, undoes the chunked framing and splits events, and tells a stream that ended
//! cleanly (the terminating chunk, or EOF at an event boundary) from one that broke.

use std::{collections::VecDeque, io, net::Ipv4Addr};

use shared::STREAM_PATH;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

/// Loopback source address number `i`, spread over 127.0.0.2..=127.0.0.251 so that tens of
/// thousands of connections (and their TIME_WAITs) do not run out of ephemeral ports.
pub fn source(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 2 + (i % 250) as u8)
}

/// Connects to the server from `source`, with a small receive buffer when `recv_buffer` is set.
pub async fn connect(
    port: u16,
    source: Ipv4Addr,
    recv_buffer: Option<u32>,
) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    socket.bind((source, 0).into())?;
    socket.connect((Ipv4Addr::LOCALHOST, port).into()).await
}

/// The request for the stream, with `Last-Event-ID` when given.
pub fn stream_request(last_event_id: Option<&str>) -> String {
    let mut request = format!("GET {STREAM_PATH} HTTP/1.1\r\nHost: localhost\r\n");
    if let Some(id) = last_event_id {
        request.push_str(&format!("Last-Event-ID: {id}\r\n"));
    }
    request.push_str("\r\n");
    request
}

/// One ping event as received.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub data: String,
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
    /// Anything else: a reset, or EOF in the middle of a chunk or an event.
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
    /// Bytes received and not yet unframed.
    raw: Vec<u8>,
    /// Unframed body not yet split into events.
    body: Vec<u8>,
    chunked: bool,
    terminated: bool,
    events: VecDeque<Event>,
    /// The status code of the answer.
    pub status: u16,
    /// The head of the answer, as text.
    pub head: String,
}

impl StreamClient {
    /// Sends the stream request on `stream` and reads the answer's head.
    pub async fn open(mut stream: TcpStream, last_event_id: Option<&str>) -> io::Result<Self> {
        stream
            .write_all(stream_request(last_event_id).as_bytes())
            .await?;
        let mut client = Self {
            stream,
            raw: Vec::with_capacity(1024),
            body: Vec::new(),
            chunked: false,
            terminated: false,
            events: VecDeque::new(),
            status: 0,
            head: String::new(),
        };
        let head_end = loop {
            if let Some(at) = find(&client.raw, b"\r\n\r\n") {
                break at;
            }
            if client.fill().await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed before the head",
                ));
            }
        };
        client.head = String::from_utf8_lossy(&client.raw[..head_end]).into_owned();
        client.raw.drain(..head_end + 4);
        client.status = client
            .head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no status"))?;
        client.chunked = client
            .head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        client.unframe()?;
        Ok(client)
    }

    /// The value of header `name` (lower case), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }

    /// The next event, or how the stream ended.
    pub async fn next_event(&mut self) -> Result<Event, End> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(event);
            }
            if self.terminated {
                return Err(self.after_terminator().await);
            }
            match self.fill().await {
                Ok(0) => {
                    return Err(if self.raw.is_empty() && self.body.is_empty() {
                        End::Eof
                    } else {
                        End::Broken(format!(
                            "EOF inside a chunk or event ({} + {} bytes pending)",
                            self.raw.len(),
                            self.body.len()
                        ))
                    });
                }
                Ok(_) => {
                    if let Err(err) = self.unframe() {
                        return Err(End::Broken(err.to_string()));
                    }
                }
                Err(err) => return Err(End::Broken(format!("read failed: {err}"))),
            }
        }
    }

    /// Reads events until the stream ends; how it ended and how many events came first.
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
        if !self.body.is_empty() {
            return End::Broken(format!("{} bytes of a cut event", self.body.len()));
        }
        loop {
            match self.fill().await {
                Ok(0) => return End::Terminated,
                Ok(_) => {}
                Err(_) => return End::TerminatedThenReset,
            }
        }
    }

    async fn fill(&mut self) -> io::Result<usize> {
        let mut buffer = [0u8; 8192];
        let n = self.stream.read(&mut buffer).await?;
        self.raw.extend_from_slice(&buffer[..n]);
        Ok(n)
    }

    /// Moves whole chunks from `raw` to `body`, then whole events from `body` to `events`.
    fn unframe(&mut self) -> io::Result<()> {
        if self.chunked {
            while !self.terminated {
                let Some(line_end) = find(&self.raw, b"\r\n") else {
                    break;
                };
                let size_text = String::from_utf8_lossy(&self.raw[..line_end]);
                let size_text = size_text.split(';').next().unwrap_or_default().trim();
                let size = usize::from_str_radix(size_text, 16).map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("bad chunk size {size_text:?}"),
                    )
                })?;
                if size == 0 {
                    self.terminated = true;
                    self.raw.drain(..line_end + 2);
                    break;
                }
                let end = line_end + 2 + size + 2;
                if self.raw.len() < end {
                    break;
                }
                self.body
                    .extend_from_slice(&self.raw[line_end + 2..line_end + 2 + size]);
                self.raw.drain(..end);
            }
        } else {
            self.body.append(&mut self.raw);
        }
        while let Some(at) = find(&self.body, b"\n\n") {
            let block: Vec<u8> = self.body.drain(..at + 2).collect();
            let text = String::from_utf8_lossy(&block);
            let mut event = Event {
                id: String::new(),
                data: String::new(),
            };
            let mut name = "";
            for line in text.lines() {
                if let Some(id) = line.strip_prefix("id: ") {
                    event.id = id.to_owned();
                } else if let Some(data) = line.strip_prefix("data: ") {
                    event.data = data.to_owned();
                } else if let Some(event) = line.strip_prefix("event: ") {
                    name = event;
                }
            }
            // Only pings: heartbeats say the stream is alive, they are not part of it.
            if name == shared::EVENT_NAME && !event.data.is_empty() {
                self.events.push_back(event);
            }
        }
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The `q` quantile (0..=1) of `values`, which it sorts.
pub fn quantile(values: &mut [u64], q: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let index = ((values.len() - 1) as f64 * q).round() as usize;
    values[index]
}
