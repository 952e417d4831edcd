//! A TCP proxy in front of the server that can turn the event streams passing through it into
//! half-open connections: after [`Proxy::freeze_streams`] nothing more is forwarded on them in
//! either direction and nothing is closed, as after a laptop slept or a NAT forgot the
//! connection. Connections opened later are forwarded as usual.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use shared::EventId;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{
        TcpListener, TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    task::JoinHandle,
};

/// What one connection's two directions share.
#[derive(Default)]
struct Connection {
    /// Set once a request for the stream went through it.
    carries_stream: AtomicBool,
    /// Set by [`Proxy::freeze_streams`]: nothing more is forwarded.
    frozen: AtomicBool,
}

/// The id a request line for the stream (from [`Proxy::stream_requests`]) resumes after, from its
/// `?lastEventId=`.
pub fn resume_id(request_line: &str) -> Option<EventId> {
    let (_, query) = request_line.split_once(&format!("?{}=", shared::LAST_EVENT_ID_PARAM))?;
    query.split(' ').next()?.parse().ok()
}

/// Locks `mutex`, whether or not a panicking test poisoned it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|err| err.into_inner())
}

/// Copies `from` to `to` until either side ends; once the connection is frozen, holds what it
/// reads (and the end, if one comes) for ever. On the way to the server (`requests` given) it
/// notes requests for the stream, which marks the connection as one.
async fn forward(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    connection: Arc<Connection>,
    requests: Option<Arc<Mutex<Vec<String>>>>,
) {
    let stream_request = format!("GET {}", shared::STREAM_PATH);
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let read = from.read(&mut buffer).await.unwrap_or(0);
        if connection.frozen.load(Ordering::SeqCst) {
            // Half-open: hold everything, close nothing.
            std::future::pending::<()>().await;
        }
        if read == 0 {
            return;
        }
        let chunk = &buffer[..read];
        if let Some(requests) = &requests {
            let text = String::from_utf8_lossy(chunk);
            for line in text
                .lines()
                .filter(|line| line.starts_with(&stream_request))
            {
                connection.carries_stream.store(true, Ordering::SeqCst);
                lock(requests).push(line.to_owned());
            }
        }
        if to.write_all(chunk).await.is_err() {
            return;
        }
    }
}

/// Accepts connections and forwards each on tasks of its own, which end with the runtime.
async fn accept(
    listener: TcpListener,
    upstream: u16,
    connections: Arc<Mutex<Vec<Arc<Connection>>>>,
    requests: Arc<Mutex<Vec<String>>>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
            continue;
        };
        let connection = Arc::new(Connection::default());
        lock(&connections).push(Arc::clone(&connection));
        let (client_read, client_write) = client.into_split();
        let (server_read, server_write) = server.into_split();
        tokio::spawn(forward(
            client_read,
            server_write,
            Arc::clone(&connection),
            Some(Arc::clone(&requests)),
        ));
        tokio::spawn(forward(server_read, client_write, connection, None));
    }
}

/// The proxy; it stops accepting when dropped (connections end with the test's runtime).
pub struct Proxy {
    addr: SocketAddr,
    connections: Arc<Mutex<Vec<Arc<Connection>>>>,
    requests: Arc<Mutex<Vec<String>>>,
    accepting: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to `127.0.0.1:upstream`.
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the proxy listens");
        let addr = listener.local_addr().expect("the proxy's address");
        let connections = Arc::default();
        let requests = Arc::default();
        let accepting = tokio::spawn(accept(
            listener,
            upstream,
            Arc::clone(&connections),
            Arc::clone(&requests),
        ));
        Self {
            addr,
            connections,
            requests,
            accepting,
        }
    }

    /// `http://127.0.0.1:PORT` of the proxy followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// From now on nothing is forwarded, either way, on the connections that carried a request
    /// for the stream so far; none of them is closed. Later connections are not affected.
    pub fn freeze_streams(&self) {
        for connection in lock(&self.connections).iter() {
            if connection.carries_stream.load(Ordering::SeqCst) {
                connection.frozen.store(true, Ordering::SeqCst);
            }
        }
    }

    /// The request lines for the stream that went through the proxy, oldest first.
    pub fn stream_requests(&self) -> Vec<String> {
        lock(&self.requests).clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}
