//! Wiring: the listener, the hub, the ticker and the HTTP server, and how they stop together.

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
    cluster::{self, ClusterSettings},
    config::Config,
    cors::AllowedOrigins,
    hub::{Hub, HubLimits},
    metrics::Metrics,
    routes::{self, StaticSite, StreamSettings},
    ticker,
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

/// A built, bound server, not yet running.
pub struct Application {
    server: Server,
    port: u16,
    hub: Hub,
    ticker: JoinHandle<()>,
    shutdown: CancellationToken,
}

impl Application {
    /// Binds `config.addr`, starts the ticker and prepares the HTTP server. Must be called on a
    /// Tokio runtime. Cancelling `shutdown` stops everything.
    pub async fn build(config: Config, shutdown: CancellationToken) -> std::io::Result<Self> {
        let listener = bind(&config)?;
        let port = listener.local_addr()?.port();
        let metrics = Metrics::new();
        let limits = HubLimits {
            history: usize::try_from(config.history).unwrap_or(usize::MAX),
            client_buffer: usize::try_from(config.client_buffer).unwrap_or(usize::MAX),
            max_clients: config.max_clients,
        };
        let (hub, ticker) = match &config.redis_url {
            None => {
                let hub = Hub::new(limits, metrics.clone());
                let epoch = ticker::new_epoch();
                tracing::info!(%epoch, "stream in memory");
                let ticker = tokio::spawn(ticker::run(
                    hub.clone(),
                    epoch,
                    config.interval(),
                    shutdown.child_token(),
                ));
                (hub, ticker)
            }
            Some(url) => {
                // A client may bring an id another replica has read a moment before this one;
                // a lease is what a healthy replica can be behind, so that is how long it waits.
                let hub = Hub::following(limits, metrics.clone(), config.lease());
                let settings = ClusterSettings {
                    url: url.clone(),
                    interval: config.interval(),
                    lease: config.lease(),
                    history: config.history,
                };
                let ticker = cluster::spawn(
                    &settings,
                    hub.clone(),
                    metrics.clone(),
                    shutdown.child_token(),
                )
                .map_err(std::io::Error::other)?;
                tracing::info!(lease_ms = config.lease_ms, "stream shared through Redis");
                (hub, ticker)
            }
        };
        if let Some(period) = config.keep_alive() {
            // Ends with the shutdown token; nothing waits for it.
            tokio::spawn(ticker::keep_alive(
                hub.clone(),
                period,
                shutdown.child_token(),
            ));
        }
        let settings = StreamSettings::new(config.retry());
        let workers = match config.workers {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            workers => workers,
        };
        let site = StaticSite::load(&config.static_dir);
        if site.is_none() {
            tracing::warn!(
                dir = %config.static_dir.display(),
                "no index.html in the static folder; `/` will say how to build the frontend"
            );
        }
        let origins = AllowedOrigins::new(&config.allow_origins);
        let app_hub = hub.clone();
        let server = HttpServer::new(move || {
            let origins = origins.clone();
            App::new()
                .app_data(web::Data::new(app_hub.clone()))
                .app_data(web::Data::new(metrics.clone()))
                .app_data(web::Data::new(settings.clone()))
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
        .workers(workers)
        // Notice a client that hung up as soon as its FIN arrives, not at the next failed write.
        .h1_allow_half_closed(false)
        // Signals are `main`'s business; shutdown comes through the token.
        .disable_signals()
        .listen(listener)?
        .run();
        tracing::info!(%port, workers, "listening");
        Ok(Self {
            server,
            port,
            hub,
            ticker,
            shutdown,
        })
    }

    /// The bound port (the real one when the config asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the shutdown token fires, then stops in well under a second: the ticker
    /// stops, the hub closes so every open stream ends cleanly, and the workers stop.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            server,
            hub,
            ticker,
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
        let _ = ticker.await;
        while hub.status().clients > 0 && started.elapsed() < STREAM_DRAIN {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let left = hub.status().clients;
        if left > 0 {
            tracing::warn!(left, "streams still open after the drain; closing them");
        }
        tokio::time::sleep(FLUSH_GRACE).await;
        // The server future handles the stop command, so it must be polled while we wait.
        let ((), result) = tokio::join!(handle.stop(false), server);
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "stopped");
        result
    }
}
