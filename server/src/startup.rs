//! Wiring: the listener, the hub and what feeds it, the HTTP server, and how they stop together.
//!
//! [`Application::build`] binds and starts everything; [`Application::run_until_stopped`] serves
//! until the shutdown token fires, then stops it all: decide (the token), tell (the hub closes,
//! which ends every stream), wait (until every stream's client slot is given back).

use std::{
    net::TcpListener,
    time::{Duration, Instant},
};

use actix_web::{
    App, HttpServer,
    dev::Server,
    http::header,
    middleware::{DefaultHeaders, from_fn},
    web,
};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    access::{Access, PrivateTopics, Verifier},
    cluster::{self, ClusterSettings},
    config::Config,
    cors::AllowedOrigins,
    metrics::Metrics,
    publisher::Publisher,
    routes::{self, PublishGate, StaticSite, StreamSettings},
    stream::{Hub, HubSettings, epoch, heartbeat, history::HistoryLimits},
    ticker, tls,
};

/// How long shutdown waits for open streams to end after the hub closes. Streams end within a
/// poll once it does; the bound only guards against a connection that cannot be written to.
const STREAM_DRAIN: Duration = Duration::from_millis(600);
/// Time left for the last bytes of ended streams to be flushed before workers stop.
const FLUSH_GRACE: Duration = Duration::from_millis(50);

/// Pending connections the kernel queues before `accept`: enough for a burst of reconnects.
const BACKLOG: i32 = 4096;

/// Binds the listening socket. Accepted connections inherit its send buffer size and stall
/// timeout.
fn bind(config: &Config) -> std::io::Result<TcpListener> {
    let addr = config.addr;
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if config.send_buffer > 0 {
        socket.set_send_buffer_size(config.send_buffer)?;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if config.stall_timeout_ms > 0 {
        socket.set_tcp_user_timeout(Some(Duration::from_millis(config.stall_timeout_ms)))?;
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// The hub's settings from the config (no catch-up: that is the cluster's).
fn hub_settings(config: &Config) -> HubSettings {
    HubSettings {
        history: HistoryLimits {
            events: usize::try_from(config.history).unwrap_or(usize::MAX),
            bytes: usize::try_from(config.history_bytes).unwrap_or(usize::MAX),
        },
        client_buffer: usize::try_from(config.client_buffer).unwrap_or(usize::MAX),
        max_clients: config.max_clients,
        timing: config.timing(),
        catch_up: Duration::ZERO,
        private: PrivateTopics::new(config.private_topics.clone()),
    }
}

/// The stream in this process: a hub under a fresh epoch, fed by this process's own ticker.
fn start_memory_stream(
    config: &Config,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) -> (Hub, Publisher, JoinHandle<()>) {
    let hub = Hub::new(hub_settings(config), metrics.clone());
    let epoch = epoch::draw();
    tracing::info!(%epoch, "stream in memory");
    let feed = tokio::spawn(ticker::run(
        hub.clone(),
        epoch,
        config.interval(),
        shutdown.child_token(),
    ));
    let publisher = Publisher::Memory {
        hub: hub.clone(),
        epoch,
    };
    (hub, publisher, feed)
}

/// The certificates of `--redis-ca-cert` and `--redis-client-cert`/`--redis-client-key`, read
/// now; `None` without any. They need TLS to be on: a `rediss://` URL or `--redis-tls`.
fn redis_tls(config: &Config) -> std::io::Result<Option<cluster::RedisTls>> {
    let ca = config.redis_ca_cert.as_deref();
    let client = config.redis_client_cert();
    if ca.is_none() && client.is_none() {
        return Ok(None);
    }
    if !config.redis_uses_tls() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "--redis-ca-cert and --redis-client-cert are for TLS: write the URL rediss://… \
             (or add --redis-tls with --redis-sentinel)",
        ));
    }
    cluster::RedisTls::load(ca, client)
        .map(Some)
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))
}

/// The stream in Redis at `source`: a hub fed by the cluster's reader, which waits up to a lease
/// for an id it has not read yet (a client may bring one another replica read a moment before
/// this one; a lease is what a healthy replica can be behind).
fn start_cluster_stream(
    config: &Config,
    source: cluster::RedisSource,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) -> std::io::Result<(Hub, Publisher, JoinHandle<()>)> {
    let settings = HubSettings {
        catch_up: config.lease(),
        ..hub_settings(config)
    };
    let hub = Hub::new(settings, metrics.clone());
    let cluster = ClusterSettings {
        source,
        certificates: redis_tls(config)?,
        interval: config.interval(),
        lease: config.lease(),
        history: config.history,
        relay: cluster::reader::RelayRules {
            names: <shared::AppEvent as shared::EventSet>::NAMES,
            max_bytes: usize::try_from(config.publish_max_bytes).unwrap_or(usize::MAX),
            check: routes::relayable,
        },
    };
    let (feed, publisher) = cluster::spawn(
        &cluster,
        ticker::ping,
        hub.clone(),
        metrics.clone(),
        shutdown.child_token(),
    )
    .map_err(std::io::Error::other)?;
    tracing::info!(lease_ms = config.lease_ms, "stream shared through Redis");
    Ok((hub, Publisher::Cluster(publisher), feed))
}

/// The hub, the way into it for publishers, and the task that feeds it, which ends after
/// `shutdown`: this process's own ticker, or with `--redis-url`/`--redis-sentinel` the cluster's
/// leader and reader loops.
fn start_stream(
    config: &Config,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) -> std::io::Result<(Hub, Publisher, JoinHandle<()>)> {
    match config.redis_source() {
        None => Ok(start_memory_stream(config, metrics, shutdown)),
        Some(source) => start_cluster_stream(config, source, metrics, shutdown),
    }
}

/// Stops start-up when Redis (or a sentinel) refuses the configured credentials: a wrong
/// password is a configuration error, not an outage to ride out. Redis being unreachable is
/// not checked here: the server starts degraded and keeps trying.
async fn check_redis_login(publisher: &Publisher) -> std::io::Result<()> {
    let Publisher::Cluster(cluster) = publisher else {
        return Ok(());
    };
    match cluster.ping().await {
        Err(err) if cluster::is_refused_login(&err) => Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "Redis refused the credentials: {err} (check --redis-url, --redis-password, --redis-sentinel-password)"
            ),
        )),
        Err(err) if cluster::is_refused_certificate(&err) => Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "the TLS handshake with Redis failed over a certificate: {err} (check --redis-ca-cert, --redis-client-cert and the address)"
            ),
        )),
        Err(err) => {
            tracing::warn!(%err, "Redis does not answer yet; starting degraded and retrying");
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

/// The certificate and key of `--tls-cert`/`--tls-key`, read and checked; `None` for plain
/// HTTP. An error names the file at fault (the inner error is a [`tls::TlsError`]).
fn load_tls(config: &Config) -> std::io::Result<Option<rustls::ServerConfig>> {
    config
        .tls()
        .map(|(cert, key)| tls::server_config(cert, key))
        .transpose()
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))
}

/// The built frontend in `--static-dir`, read and compressed once on a blocking thread
/// ([`StaticSite::load`]); `None` if there is no build.
async fn load_site(config: &Config) -> std::io::Result<Option<StaticSite>> {
    let dir = config.static_dir.clone();
    let site = tokio::task::spawn_blocking(move || StaticSite::load(&dir))
        .await
        .map_err(std::io::Error::other)?;
    if site.is_none() {
        tracing::warn!(
            dir = %config.static_dir.display(),
            "no index.html in the static folder; `/` will say how to build the frontend"
        );
    }
    Ok(site)
}

/// Who may publish, from `--publish-token`, `--publish-max-bytes`, `--publish-rate` and
/// `--publish-burst` (the last two are at least 1: clap refuses 0).
fn publish_gate(config: &Config) -> PublishGate {
    let at_least_one =
        |value: u32| std::num::NonZeroU32::new(value).unwrap_or(std::num::NonZeroU32::MIN);
    if config.publish_tokens.is_empty() {
        tracing::info!("publishing is off (no --publish-token): POST /events/{{name}} answers 404");
    } else {
        tracing::info!(tokens = config.publish_tokens.len(), "publishing is on");
    }
    PublishGate::new(
        &config.publish_tokens,
        usize::try_from(config.publish_max_bytes).unwrap_or(usize::MAX),
        at_least_one(config.publish_rate),
        at_least_one(config.publish_burst),
    )
}

/// Who reads what: the subscriber-token verifier from `--subscribe-key`,
/// `--subscribe-public-key` and `--subscribe-audience`, the private topics, and `--dev-login`
/// (refused with TLS or on a non-loopback address unless `--dev-login-force`; without a
/// `--subscribe-key` it signs with a key drawn for this run).
fn access(config: &Config, tls: bool) -> std::io::Result<Access> {
    let invalid = |message: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, message);
    if config.dev_login && !config.dev_login_force && (tls || !config.addr.ip().is_loopback()) {
        return Err(invalid(
            "--dev-login signs anyone in: refused with TLS or on a non-loopback address (--dev-login-force to insist)".into(),
        ));
    }
    let mut keys = config.subscribe_keys.clone();
    if config.dev_login && keys.is_empty() {
        let drawn: String = (0..4)
            .map(|_| format!("{:016x}", fastrand::u64(..)))
            .collect();
        keys.push(drawn.parse().map_err(|err: &str| invalid(err.into()))?);
        tracing::warn!(
            "--dev-login without --subscribe-key: signing with a key drawn for this run"
        );
    }
    let verifier = Verifier::new(
        &keys,
        &config.subscribe_public_keys,
        config.subscribe_audience.clone(),
    )
    .map_err(|err| invalid(err.to_string()))?;
    if !config.private_topics.is_empty() && !verifier.is_on() {
        tracing::warn!("--private-topics without a subscriber key: no stream can read them");
    }
    if config.dev_login {
        tracing::warn!("--dev-login is on: POST /session/dev signs anyone in (development only)");
    }
    Ok(Access {
        verifier,
        private: PrivateTopics::new(config.private_topics.clone()),
        secure_cookie: tls,
        dev_login: config.dev_login,
    })
}

/// The HTTP server on `listener`: the one route table over `hub` and `site`, behind the CORS
/// check and the headers every response carries; over TLS when `tls` is given (ALPN offers `h2`
/// and `http/1.1`), plain HTTP/1.1 otherwise. Not started until the returned server is polled.
pub fn run(
    listener: TcpListener,
    config: &Config,
    tls: Option<rustls::ServerConfig>,
    site: Option<StaticSite>,
    hub: Hub,
    publisher: Publisher,
    metrics: Metrics,
) -> std::io::Result<Server> {
    let settings = StreamSettings::new(config.retry());
    let gate = web::Data::new(publish_gate(config));
    let access = web::Data::new(access(config, tls.is_some())?);
    let publisher = web::Data::new(publisher);
    let origins = AllowedOrigins::new(&config.allow_origins);
    let server = HttpServer::new(move || {
        let origins = origins.clone();
        App::new()
            .app_data(web::Data::new(hub.clone()))
            .app_data(web::Data::new(metrics.clone()))
            .app_data(web::Data::new(settings.clone()))
            .app_data(gate.clone())
            .app_data(access.clone())
            .app_data(publisher.clone())
            .wrap(from_fn(move |req, next| {
                origins.clone().middleware(req, next)
            }))
            .wrap(
                DefaultHeaders::new()
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::REFERRER_POLICY, "no-referrer")),
            )
            .configure(|cfg| routes::configure(cfg, site.as_ref()))
    })
    .workers(config.workers())
    // Notice a client that hung up as soon as its FIN arrives, not at the next failed write.
    .h1_allow_half_closed(false)
    // Signals are `main`'s business; shutdown comes through the token.
    .disable_signals()
    // Each event is one small write: Nagle would hold it until the client ACKs the previous
    // one, which over HTTP/2 often waits for a delayed ACK, ~40 ms (actix-web issue 3841).
    .tcp_nodelay(true);
    let server = match tls {
        // actix-web adds `h2` and `http/1.1` to the configuration's (empty) ALPN list.
        Some(tls) => server.listen_rustls_0_23(listener, tls)?,
        None => server.listen(listener)?,
    };
    Ok(server.run())
}

/// A built, bound server, not yet running.
pub struct Application {
    server: Server,
    port: u16,
    hub: Hub,
    /// The ticker, or the cluster's loops.
    feed: JoinHandle<()>,
    shutdown: CancellationToken,
}

impl Application {
    /// Reads the TLS files, binds `config.addr`, reads and compresses the built page, starts the
    /// stream (ticker or cluster) and the heartbeat, and prepares the HTTP server. Must be called
    /// on a Tokio runtime. Cancelling `shutdown` stops everything.
    pub async fn build(config: Config, shutdown: CancellationToken) -> std::io::Result<Self> {
        // A bad certificate or key stops start-up before anything runs.
        let tls = load_tls(&config)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        // Bound before the page is compressed: clients that connect meanwhile (a restart's
        // reconnects) wait in the backlog instead of being refused.
        let listener = bind(&config)?;
        let port = listener.local_addr()?.port();
        let site = load_site(&config).await?;
        let metrics = Metrics::new();
        let (hub, publisher, feed) = start_stream(&config, &metrics, &shutdown)?;
        check_redis_login(&publisher).await?;
        // Ends with the shutdown token; nothing waits for it.
        tokio::spawn(heartbeat::run(hub.clone(), shutdown.child_token()));
        let server = run(
            listener,
            &config,
            tls,
            site,
            hub.clone(),
            publisher,
            metrics,
        )?;
        tracing::info!(%port, scheme, workers = config.workers(), "listening");
        Ok(Self {
            server,
            port,
            hub,
            feed,
            shutdown,
        })
    }

    /// The bound port (the real one when the config asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the shutdown token fires, then stops in well under a second: the ticker
    /// stops, the hub closes so every open stream ends cleanly, shutdown waits until every
    /// stream has given its client slot back, and the workers stop.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            server,
            hub,
            feed,
            shutdown,
            ..
        } = self;
        let handle = server.handle();
        let mut server = std::pin::pin!(server);
        tokio::select! {
            result = &mut server => {
                shutdown.cancel();
                return result;
            }
            () = shutdown.cancelled() => {}
        }
        let started = Instant::now();
        hub.close();
        let _ = feed.await;
        if tokio::time::timeout(STREAM_DRAIN, hub.drained())
            .await
            .is_err()
        {
            let left = hub.status().clients;
            tracing::warn!(left, "streams still open after the drain; closing them");
        }
        tokio::time::sleep(FLUSH_GRACE).await;
        // The server future handles the stop command, so it must be polled while we wait.
        let ((), result) = tokio::join!(handle.stop(false), server);
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "stopped");
        result
    }
}
