//! The notice publisher of a load run: `POST /events/notice` at a steady rate while the clients
//! listen, timing each round trip and keeping the id the server gave each notice, so that the
//! clients' tally can say whether every client got every notice. With a [`TopicPlan`], each
//! notice goes on the topic the plan gives it (`?topic=`), and the server's answer must name it.
//!
//! It runs on a thread of its own (a current-thread runtime) so that its timing does not wait
//! behind the thousands of client sockets the load thread reads. The schedule is open loop: the
//! notice `i` is sent at `i / rate` whether or not earlier ones were answered, each on an idle
//! keep-alive connection or a new one, so a slow answer shows as latency instead of thinning
//! the load. The round trip is timed from the request's first byte written, so opening a
//! connection is not in it. The request is HTTP/1.1 in the clear, written by hand like the clients' (the
//! server's answers are read as far as the benchmark needs: status, length, keep-alive, body).

use std::{
    cell::RefCell,
    collections::BTreeMap,
    io,
    net::SocketAddr,
    rc::Rc,
    thread::JoinHandle,
    time::{Duration, Instant},
};

use serde::Deserialize;
use shared::{EventId, Level, Notice, TOPIC_PARAM, Topic, publish_path};
use thiserror::Error;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::oneshot,
    task::{JoinSet, LocalSet},
};

use crate::{
    response_head::{self, HeadError},
    socket_error::SocketError,
    topics::TopicPlan,
};

/// How long one publish may take, connect included, before it counts as failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may have been idle and still carry the next notice: well under
/// actix-web's keep-alive (5 s), after which the server closes it (or, if it never carried a
/// request, answers 408), so that no publish meets a connection the server is closing.
const IDLE_LIMIT: Duration = Duration::from_secs(2);
/// The longest answer read, head and body.
const MAX_RESPONSE: usize = 16 * 1024;

/// What to publish during a run.
#[derive(Debug, Clone)]
pub struct NoticeLoad {
    /// How many notices.
    pub count: u64,
    /// Notices per second.
    pub rate: u32,
    /// The bearer token the server accepts (`--publish-token`).
    pub token: String,
    /// The topic of each notice; `None`: the notices' default topic.
    pub topics: Option<TopicPlan>,
}

/// A notice the server accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// Its index in the publisher's schedule (0 for the first): with a [`TopicPlan`], what
    /// says which topic it went on.
    pub index: u64,
    /// The seq of the id the server gave it.
    pub seq: u64,
}

/// What the publisher did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishReport {
    /// Notices it tried to publish.
    pub requested: u64,
    /// Each notice the server accepted (answered 202 with its id), in the order answered.
    pub accepted: Vec<Accepted>,
    /// The round trip of each accepted publish, request written to answer read, in
    /// microseconds.
    pub latencies_us: Vec<i64>,
    /// Publishes that failed, by why.
    pub failures: BTreeMap<String, u64>,
}

/// Why one publish failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PublishError {
    /// A socket call failed (connect, write, read).
    #[error(transparent)]
    Socket(#[from] SocketError),
    /// The server closed the connection before answering in full.
    #[error("closed before the answer")]
    Closed,
    /// The answer is not an HTTP/1.1 response with a `Content-Length` this tool reads.
    #[error("unreadable answer: {0}")]
    Malformed(&'static str),
    /// The server answered, but not 202.
    #[error("HTTP status {0}")]
    Status(u16),
    /// A 202 whose body is not `{"id": "<epoch>-<seq>"}`.
    #[error("a 202 without a readable id")]
    Id,
    /// A 202 that names another topic than the one published on (or none).
    #[error("a 202 for another topic")]
    Topic,
    /// No answer within [`REQUEST_TIMEOUT`].
    #[error("no answer within {REQUEST_TIMEOUT:?}")]
    Timeout,
}

/// A publisher running on its own thread; [`Publishing::finish`] waits for its report.
#[derive(Debug)]
pub struct Publishing {
    report_rx: oneshot::Receiver<PublishReport>,
    thread: JoinHandle<()>,
}

/// Starts publishing `load` to the server at `target` on a new thread, at once.
pub fn start(load: &NoticeLoad, target: SocketAddr) -> io::Result<Publishing> {
    let (report_tx, report_rx) = oneshot::channel();
    let load = load.clone();
    let thread = std::thread::Builder::new()
        .name("publisher".into())
        .spawn(move || {
            let report = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => LocalSet::new().block_on(&runtime, publish_all(load, target)),
                Err(err) => PublishReport {
                    requested: load.count,
                    failures: BTreeMap::from([(format!("runtime: {err}"), load.count)]),
                    ..PublishReport::default()
                },
            };
            // The run that wanted it may have given up; then nobody reads the report.
            let _ = report_tx.send(report);
        })?;
    Ok(Publishing { report_rx, thread })
}

impl Publishing {
    /// Waits until every notice was answered or timed out; `None` if the thread died.
    pub async fn finish(self) -> Option<PublishReport> {
        let report = self.report_rx.await.ok();
        // The thread has sent its report (or died): it ends at once.
        let _ = self.thread.join();
        report
    }
}

/// What the publishing tasks share on the publisher's thread.
struct Publisher {
    target: SocketAddr,
    /// The request's headers after the request line, before the body's length.
    headers: String,
    /// The topic of each notice, if not the default.
    topics: Option<TopicPlan>,
    /// Keep-alive connections with no request in flight, and when each was last used.
    idle: RefCell<Vec<(TcpStream, Instant)>>,
    report: RefCell<PublishReport>,
}

async fn publish_all(load: NoticeLoad, target: SocketAddr) -> PublishReport {
    let publisher = Rc::new(Publisher {
        target,
        headers: format!(
            "Host: {target}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n",
            load.token
        ),
        topics: load.topics,
        idle: RefCell::new(Vec::new()),
        report: RefCell::new(PublishReport {
            requested: load.count,
            ..PublishReport::default()
        }),
    });
    let period = Duration::from_secs(1) / load.rate.max(1);
    let started = tokio::time::Instant::now();
    let mut tasks = JoinSet::new();
    for index in 0..load.count {
        let at = period.saturating_mul(u32::try_from(index).unwrap_or(u32::MAX));
        tokio::time::sleep_until(started + at).await;
        tasks.spawn_local(post_notice(Rc::clone(&publisher), index));
    }
    while tasks.join_next().await.is_some() {}
    publisher.report.take()
}

async fn connect(target: SocketAddr) -> Result<TcpStream, PublishError> {
    let connection = TcpStream::connect(target)
        .await
        .map_err(SocketError::at(SocketError::Connect))?;
    // One small request at a time: nothing to gain from Nagle, a delayed ACK to lose.
    connection
        .set_nodelay(true)
        .map_err(SocketError::at(SocketError::Connect))?;
    Ok(connection)
}

/// Publishes notice `index` and records how it went.
async fn post_notice(publisher: Rc<Publisher>, index: u64) {
    let outcome = tokio::time::timeout(REQUEST_TIMEOUT, post(&publisher, index))
        .await
        .unwrap_or(Err(PublishError::Timeout));
    let mut report = publisher.report.borrow_mut();
    match outcome {
        Ok((seq, took)) => {
            report.accepted.push(Accepted { index, seq });
            report
                .latencies_us
                .push(i64::try_from(took.as_micros()).unwrap_or(i64::MAX));
        }
        Err(err) => *report.failures.entry(err.to_string()).or_default() += 1,
    }
}

/// The id's seq the server gave notice `index`, and the round trip.
async fn post(publisher: &Publisher, index: u64) -> Result<(u64, Duration), PublishError> {
    let idle = {
        let mut idle = publisher.idle.borrow_mut();
        idle.retain(|(_, since)| since.elapsed() < IDLE_LIMIT);
        idle.pop()
    };
    let mut connection = match idle {
        Some((connection, _)) => connection,
        None => connect(publisher.target).await?,
    };
    let body = serde_json::json!({ "text": format!("bench notice {index}"), "level": Level::Info })
        .to_string();
    let topic = publisher
        .topics
        .as_ref()
        .map(|plan| plan.notice(index).topic);
    let mut path = publish_path::<Notice>();
    if let Some(topic) = &topic {
        // A topic is made of characters a query carries as they are.
        path.push_str(&format!("?{TOPIC_PARAM}={topic}"));
    }
    let request = format!(
        "POST {path} HTTP/1.1\r\n{}Content-Length: {}\r\n\r\n{body}",
        publisher.headers,
        body.len()
    );
    let sent = Instant::now();
    connection
        .write_all(request.as_bytes())
        .await
        .map_err(SocketError::at(SocketError::Write))?;
    let response = read_response(&mut connection).await?;
    let took = sent.elapsed();
    if response.keep_alive {
        publisher
            .idle
            .borrow_mut()
            .push((connection, Instant::now()));
    }
    if response.status != 202 {
        return Err(PublishError::Status(response.status));
    }
    Ok((accepted_seq(&response.body, topic.as_ref())?, took))
}

/// The seq of the id in a 202's body, `{"id": "<epoch>-<seq>", "topic": …}`; when the notice
/// was published on `topic`, the body must name it.
fn accepted_seq(body: &[u8], topic: Option<&Topic>) -> Result<u64, PublishError> {
    #[derive(Deserialize)]
    struct Answer {
        id: String,
        topic: Option<String>,
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|_| PublishError::Id)?;
    let id: EventId = answer.id.parse().map_err(|_| PublishError::Id)?;
    if let Some(topic) = topic
        && answer.topic.as_deref() != Some(topic.as_str())
    {
        return Err(PublishError::Topic);
    }
    Ok(id.seq)
}

async fn read_response(connection: &mut TcpStream) -> Result<Response, PublishError> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0_u8; 1024];
    loop {
        if let Some(response) = parse_response(&buf)? {
            return Ok(response);
        }
        if buf.len() > MAX_RESPONSE {
            return Err(PublishError::Malformed("longer than 16 KiB"));
        }
        let read = connection
            .read(&mut chunk)
            .await
            .map_err(SocketError::at(SocketError::Read))?;
        if read == 0 {
            return Err(PublishError::Closed);
        }
        buf.extend_from_slice(&chunk[..read]);
    }
}

/// One HTTP/1.1 answer, read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The connection may carry the next request: HTTP/1.1, no `Connection: close`, and nothing
    /// after the body.
    pub keep_alive: bool,
    /// The body.
    pub body: Vec<u8>,
}

/// The answer at the start of `buf`, or `None` while more bytes are needed. Only answers framed
/// by `Content-Length` are read (as actix-web frames its JSON answers).
pub fn parse_response(buf: &[u8]) -> Result<Option<Response>, PublishError> {
    let Some(head) = response_head::parse(buf).map_err(|err| match err {
        HeadError::Malformed(_) => PublishError::Malformed("not an HTTP/1.x response head"),
        HeadError::Length => PublishError::Malformed("Content-Length is not a number"),
    })?
    else {
        return Ok(None);
    };
    if head.chunked {
        return Err(PublishError::Malformed("a Transfer-Encoding body"));
    }
    let length = head
        .content_length
        .ok_or(PublishError::Malformed("no Content-Length"))?;
    let Some(body) = buf.get(head.len..head.len + length) else {
        return Ok(None);
    };
    Ok(Some(Response {
        status: head.status,
        keep_alive: !head.close && buf.len() == head.len + length,
        body: body.to_vec(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCEPTED: &[u8] = b"HTTP/1.1 202 Accepted\r\ncontent-length: 28\r\ncontent-type: application/json\r\n\r\n{\"id\":\"9f3c2a1b7d4e5f60-42\"}";

    #[test]
    fn an_accepted_notice_answer_is_read_whole_and_gives_its_seq() {
        let response = parse_response(ACCEPTED)
            .expect("well formed")
            .expect("complete");
        assert_eq!(response.status, 202);
        assert!(response.keep_alive);
        assert_eq!(accepted_seq(&response.body, None), Ok(42));
        let on_topic = br#"{"id":"9f3c2a1b7d4e5f60-43","topic":"users/7","topic_seq":1}"#;
        let users_7 = "users/7".parse().expect("a topic");
        let users_8 = "users/8".parse().expect("a topic");
        assert_eq!(accepted_seq(on_topic, Some(&users_7)), Ok(43));
        assert_eq!(
            accepted_seq(on_topic, Some(&users_8)),
            Err(PublishError::Topic)
        );
        assert_eq!(
            accepted_seq(&response.body, Some(&users_7)),
            Err(PublishError::Topic)
        );
    }

    #[test]
    fn a_partial_answer_asks_for_more_bytes() {
        for cut in [0, 10, 40, ACCEPTED.len() - 1] {
            assert_eq!(parse_response(&ACCEPTED[..cut]), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn a_closing_answer_does_not_keep_its_connection() {
        let closing =
            b"HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}";
        let response = parse_response(closing)
            .expect("well formed")
            .expect("complete");
        assert_eq!((response.status, response.keep_alive), (429, false));
        let old = b"HTTP/1.0 202 Accepted\r\nContent-Length: 2\r\n\r\n{}";
        assert!(
            !parse_response(old)
                .expect("read")
                .expect("whole")
                .keep_alive
        );
    }

    #[test]
    fn answers_this_tool_cannot_frame_are_errors_not_panics() {
        for bad in [
            &b"SSH-2.0-OpenSSH\r\n\r\n"[..],
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 202 Accepted\r\n\r\n",
            b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 202 Accepted\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 202 Accepted\r\nno colon\r\n\r\n",
        ] {
            assert!(
                matches!(parse_response(bad), Err(PublishError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        for bad in [&b"{}"[..], b"{\"id\":\"42\"}", b"{\"id\":7}", b"not json"] {
            assert_eq!(accepted_seq(bad, None), Err(PublishError::Id));
        }
    }
}
