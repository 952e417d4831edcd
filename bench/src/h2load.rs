//! The HTTP/2 load: N streams over M TLS connections to an `https://` target, as a browser
//! multiplexes every `EventSource` of one origin over one connection.
//!
//! A task per connection (TCP from its spread source address, a rustls handshake offering only
//! `h2`, the h2 handshake, then one `GET` per stream it carries) and a task per stream, which
//! reads the stream's DATA frames with the same [`crate::wire`] decoder and records onto the same
//! board as the HTTP/1.1 clients: every figure of a run means the same thing, a client being a
//! stream. The TLS handshakes fall inside the connect time.

use std::{net::SocketAddr, ops::Range, rc::Rc, sync::Arc, time::Instant};

use bytes::Bytes;
use thiserror::Error;
use tokio::net::TcpStream;
use tokio_rustls::{
    TlsConnector,
    client::TlsStream,
    rustls::{
        self, ClientConfig, RootCertStore,
        pki_types::{CertificateDer, ServerName, pem::PemObject as _},
    },
};

use crate::{
    board::{ClientError, Run, connect_tcp, wait_for, wall_clock_micros},
    target::{Target, source_addr},
    wire::{ResponseDecoder, WireError},
};

/// The stream-level flow-control window each client grants the server: Chromium's (6 MiB).
const STREAM_WINDOW: u32 = 6 * 1024 * 1024;
/// The connection-level window: Chromium's (15 MiB).
const CONNECTION_WINDOW: u32 = 15 * 1024 * 1024;

/// An HTTP/2 connection over TLS, to be driven (polled, or spawned) for as long as its streams are
/// used.
pub type H2Connection = h2::client::Connection<TlsStream<TcpStream>, Bytes>;

/// How the streams share connections, and the TLS the clients speak.
#[derive(Debug, Clone)]
pub struct H2Settings {
    /// TLS connections the streams are spread over, each carrying an even share.
    pub connections: usize,
    /// The clients' TLS: the roots they trust, ALPN `h2` only.
    pub tls: Arc<ClientConfig>,
}

/// Why the HTTP/2 clients cannot be set up.
#[derive(Debug, Error)]
pub enum H2SetupError {
    /// The trusted certificate file holds no usable PEM certificate.
    #[error("no usable PEM certificate to trust: {0}")]
    Certificate(String),
    /// rustls refused the configuration.
    #[error("TLS client configuration: {0}")]
    Tls(#[from] rustls::Error),
}

fn h2_error(err: h2::Error) -> ClientError {
    ClientError::H2(err.to_string())
}

impl H2Settings {
    /// Clients trusting only the PEM certificates in `pem` (the server's self-signed one),
    /// spreading their streams over `connections` connections.
    pub fn trusting(pem: &[u8], connections: usize) -> Result<Self, H2SetupError> {
        let mut roots = RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(pem) {
            let certificate =
                certificate.map_err(|err| H2SetupError::Certificate(err.to_string()))?;
            roots
                .add(certificate)
                .map_err(|err| H2SetupError::Certificate(err.to_string()))?;
        }
        if roots.is_empty() {
            return Err(H2SetupError::Certificate("none in the file".into()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Self {
            connections,
            tls: Arc::new(tls),
        })
    }

    /// One connection from `source` (port 0: any) to `target`: TCP, TLS offering only `h2` and
    /// trusting what these settings trust, then the h2 handshake with `builder`'s settings
    /// (flow-control windows, say). The handle sends requests while the connection is driven.
    pub async fn connect(
        &self,
        source: SocketAddr,
        target: SocketAddr,
        builder: &h2::client::Builder,
    ) -> Result<(h2::client::SendRequest<Bytes>, H2Connection), ClientError> {
        let tcp = connect_tcp(source, target).await?;
        let name = ServerName::IpAddress(target.ip().into());
        let tls = TlsConnector::from(Arc::clone(&self.tls))
            .connect(name, tcp)
            .await
            .map_err(|err| ClientError::Tls(err.kind()))?;
        if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
            return Err(ClientError::H2("the server did not choose h2".into()));
        }
        builder.handshake(tls).await.map_err(h2_error)
    }
}

/// One connection of the run, number `connection`, with Chromium's flow-control windows; a task
/// of its own drives it and also keeps this handle, so the connection lives as long as the run.
async fn open(
    connection: usize,
    settings: &H2Settings,
    run: &Run,
) -> Result<h2::client::SendRequest<Bytes>, ClientError> {
    let mut builder = h2::client::Builder::new();
    builder
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW);
    let source = source_addr(connection, run.spread);
    let (send, driver) = settings.connect(source, run.target, &builder).await?;
    let keep = send.clone();
    tokio::task::spawn_local(async move {
        let _keep = keep;
        // Its streams see the error, if any.
        let _ = driver.await;
    });
    Ok(send)
}

/// Sends one stream's `GET`, as an `EventSource` would.
async fn request(
    send: &mut h2::client::SendRequest<Bytes>,
    uri: &str,
) -> Result<h2::client::ResponseFuture, ClientError> {
    let request = http::Request::get(uri)
        .header("accept", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(())
        .map_err(|err| ClientError::H2(err.to_string()))?;
    let ready = send.clone().ready().await.map_err(h2_error)?;
    *send = ready;
    let (response, _) = send.send_request(request, true).map_err(h2_error)?;
    Ok(response)
}

/// `future`'s output, unless `deadline` passes first: then [`ClientError::HandshakeTimeout`].
async fn before<T>(deadline: Instant, future: impl Future<Output = T>) -> Result<T, ClientError> {
    tokio::time::timeout_at(deadline.into(), future)
        .await
        .map_err(|_| ClientError::HandshakeTimeout)
}

/// Reads stream `index` from its response on, its first event due by `deadline` (as an
/// HTTP/1.1 client's is within the handshake timeout); dropping it on an error resets it.
async fn read(
    index: usize,
    response: h2::client::ResponseFuture,
    run: &Run,
    deadline: Instant,
) -> Result<(), ClientError> {
    let response = before(deadline, response).await?.map_err(h2_error)?;
    if response.status() != http::StatusCode::OK {
        return Err(WireError::Status(response.status().as_u16()).into());
    }
    let mut body = response.into_body();
    let mut decoder = ResponseDecoder::body_only();
    loop {
        let next = if run.board.borrow().is_connected(index) {
            body.data().await
        } else {
            before(deadline, body.data()).await?
        };
        let Some(chunk) = next else {
            break;
        };
        let chunk = chunk.map_err(h2_error)?;
        // Read at once, so the window is given back at once, as a browser does.
        let _ = body.flow_control().release_capacity(chunk.len());
        let received_us = wall_clock_micros();
        let mut board = run.board.borrow_mut();
        decoder.feed(&chunk, &mut |event| board.record(index, event, received_us))?;
    }
    Err(ClientError::Ended)
}

/// One stream, from its response on; its end, if any, goes on the board.
async fn follow(
    index: usize,
    response: h2::client::ResponseFuture,
    run: Rc<Run>,
    deadline: Instant,
) {
    if let Err(err) = read(index, response, &run, deadline).await {
        run.board.borrow_mut().fail(index, err);
    }
}

/// One connection and the streams `streams` on it.
async fn carry(
    connection: usize,
    streams: Range<usize>,
    settings: H2Settings,
    uri: Rc<str>,
    run: Rc<Run>,
) {
    // The semaphore is never closed, so this always gets a permit: one per connection between
    // connect() and the first event of every stream it carries.
    let permit = run.handshakes.acquire().await.ok();
    // The connection and the first event of each of its streams are due within the handshake
    // timeout, as one HTTP/1.1 client's connection and first event are.
    let deadline = Instant::now() + run.handshake_timeout;
    let opened = before(deadline, open(connection, &settings, &run))
        .await
        .and_then(|opened| opened);
    let mut send = match opened {
        Ok(send) => send,
        Err(err) => {
            let mut board = run.board.borrow_mut();
            for index in streams {
                board.fail(index, err.clone());
            }
            return;
        }
    };
    for index in streams.clone() {
        match request(&mut send, &uri).await {
            Ok(response) => {
                tokio::task::spawn_local(follow(index, response, Rc::clone(&run), deadline));
            }
            Err(err) => run.board.borrow_mut().fail(index, err),
        }
    }
    // Hold the permit until every stream here has its first event (or the handshake time is up).
    wait_for(deadline, || {
        streams
            .clone()
            .all(|index| run.board.borrow().is_settled(index))
    })
    .await;
    drop(permit);
}

/// Spawns the connection tasks for `clients` streams on the current `LocalSet`: as many
/// connections as the settings say, but at least one and at most one per stream. Returns how
/// many.
pub(crate) fn spawn_connections(
    settings: &H2Settings,
    target: &Target,
    clients: usize,
    run: &Rc<Run>,
) -> usize {
    let connections = settings.connections.clamp(1, clients.max(1));
    let uri: Rc<str> = format!("https://{}{}", target.addr, target.path).into();
    for connection in 0..connections {
        let streams = clients * connection / connections..clients * (connection + 1) / connections;
        tokio::task::spawn_local(carry(
            connection,
            streams,
            settings.clone(),
            Rc::clone(&uri),
            Rc::clone(run),
        ));
    }
    connections
}
