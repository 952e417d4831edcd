//! The *floor* baseline: no framework, no runtime, nothing per client but its socket.
//!
//! One thread accepts: it answers each connection at once with the SSE response head and the
//! newest event (the request is drained, not parsed: every connection gets the stream), makes
//! the socket non-blocking and adds it to the list. One thread ticks: once a period it formats
//! ONE event, already framed as an HTTP/1.1 chunk, and writes those same bytes to every socket
//! with one `write()` each. A socket whose write fails or comes up short is dropped (a real
//! server would buffer; on loopback with a reading client it never happens). This is what one
//! write per client per event costs on this machine, and what the real server is measured
//! against. Same wire format as the real server.

use std::{
    io::{self, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use chrono::{SubsecRound, Utc};
use shared::{Epoch, EventId, Ping, StreamEvent as _};

/// The response head: chunked, like the real server's, so both read the same on the wire.
const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";

/// What the two threads share.
#[derive(Debug, Default)]
struct Clients {
    sockets: Vec<TcpStream>,
    /// The newest event as framed bytes, sent to a new client right after the head.
    newest: Vec<u8>,
}

/// A running floor server; [`FloorServer::stop`] ends both threads.
#[derive(Debug)]
pub struct FloorServer {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl FloorServer {
    /// Starts accepting on `listener` and ticking every `period`, ids in stream `epoch`.
    pub fn start(listener: TcpListener, period: Duration, epoch: u64) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let clients = Arc::new(Mutex::new(Clients::default()));
        let accepter = {
            let (clients, stopping) = (Arc::clone(&clients), Arc::clone(&stopping));
            thread::Builder::new()
                .name("floor-accept".into())
                .spawn(move || accept_loop(&listener, &clients, &stopping))?
        };
        let ticker = thread::Builder::new().name("floor-tick".into()).spawn({
            let stopping = Arc::clone(&stopping);
            move || tick_loop(&clients, period, epoch, &stopping)
        })?;
        Ok(Self {
            addr,
            stopping,
            threads: vec![accepter, ticker],
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Blocks until the server stops (never, unless [`FloorServer::stop`] is called elsewhere).
    pub fn wait(self) {
        for thread in self.threads {
            let _ = thread.join();
        }
    }

    /// Stops both threads and closes every connection.
    pub fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the accept thread out of its blocking accept().
        let _ = TcpStream::connect(self.addr);
        self.wait();
    }
}

fn accept_loop(listener: &TcpListener, clients: &Mutex<Clients>, stopping: &AtomicBool) {
    let mut drain = [0_u8; 2048];
    let mut greeting = Vec::with_capacity(512);
    while !stopping.load(Ordering::SeqCst) {
        let mut socket = match listener.accept() {
            Ok((socket, _)) => socket,
            Err(err) => {
                eprintln!("floor-server: accept: {err}");
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if socket.set_nonblocking(true).is_err() {
            continue;
        }
        // Whatever of the request has arrived; the rest stays unread in the kernel.
        let _ = socket.read(&mut drain);
        let mut clients = clients.lock().unwrap_or_else(PoisonError::into_inner);
        greeting.clear();
        greeting.extend_from_slice(HEAD);
        greeting.extend_from_slice(&clients.newest);
        if matches!(socket.write(&greeting), Ok(n) if n == greeting.len()) {
            clients.sockets.push(socket);
        }
    }
}

fn tick_loop(clients: &Mutex<Clients>, period: Duration, epoch: u64, stopping: &AtomicBool) {
    let start = Instant::now();
    let mut body = Vec::with_capacity(256);
    for count in 1_u64.. {
        if stopping.load(Ordering::SeqCst) {
            break;
        }
        let ping = Ping {
            count,
            time: Utc::now().trunc_subsecs(3),
        };
        let event = frame(
            EventId {
                epoch: Epoch(epoch),
                seq: count,
            },
            &ping,
            &mut body,
        );
        let mut clients = clients.lock().unwrap_or_else(PoisonError::into_inner);
        let before = clients.sockets.len();
        clients
            .sockets
            .retain_mut(|socket| matches!(socket.write(&event), Ok(n) if n == event.len()));
        let dropped = before - clients.sockets.len();
        clients.newest = event;
        drop(clients);
        if dropped > 0 {
            eprintln!("floor-server: tick {count}: dropped {dropped} clients");
        }
        let due = start + period * u32::try_from(count).unwrap_or(u32::MAX);
        thread::sleep(due.saturating_duration_since(Instant::now()));
    }
}

/// One event as an HTTP/1.1 chunk: `<hex len>\r\nid: ..\nevent: ping\ndata: {..}\n\n\r\n`.
fn frame(id: EventId, ping: &Ping, body: &mut Vec<u8>) -> Vec<u8> {
    body.clear();
    body.extend_from_slice(format!("id: {id}\nevent: {}\ndata: ", Ping::NAME).as_bytes());
    // A Ping always serializes into a Vec; if it ever did not, the event would carry no data
    // and the load tool would count it as unreadable.
    let _ = serde_json::to_writer(&mut *body, ping);
    body.extend_from_slice(b"\n\n");
    let mut framed = format!("{:x}\r\n", body.len()).into_bytes();
    framed.extend_from_slice(body);
    framed.extend_from_slice(b"\r\n");
    framed
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn an_event_is_framed_as_one_chunk() {
        let time = Utc
            .with_ymd_and_hms(2026, 11, 25, 9, 0, 0)
            .single()
            .expect("valid date");
        let framed = frame(
            EventId {
                epoch: Epoch(0xab),
                seq: 3,
            },
            &Ping { count: 3, time },
            &mut Vec::new(),
        );
        let body = "id: 00000000000000ab-3\nevent: ping\ndata: {\"count\":3,\"time\":\"2026-11-25T09:00:00.000000Z\"}\n\n";
        assert_eq!(
            String::from_utf8(framed).expect("ascii"),
            format!("{:x}\r\n{body}\r\n", body.len())
        );
    }
}
