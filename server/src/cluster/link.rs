//! The connection to the Redis master, wherever it is: one address (`--redis-url`), or the
//! master a set of sentinels names (`--redis-sentinel`), looked up again whenever it may have
//! moved.
//!
//! redis-rs resolves a sentinel's master when it connects, but an open connection does not
//! follow a failover (and its `ConnectionManager` has no sentinel mode): it reconnects to the
//! old address, which is dead or has come back as a read-only replica. So a [`MasterLink`]
//! forgets its connection after any error that says the master may have moved (the connection
//! failed, timed out or was dropped, or a write was refused with `READONLY`), and when a
//! sentinel announces `+switch-master` ([`watch_switches`]); the next command looks the master
//! up again through the sentinels, and checks with `ROLE` that it really is one.

use std::{
    sync::{
        Arc, Mutex as StdMutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::StreamExt as _;
use redis::{
    ErrorKind, RedisError, RedisResult, ServerErrorKind,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use tokio::{sync::Mutex, time::Instant};
use tokio_util::sync::CancellationToken;

use super::{
    backoff::Backoff,
    tls::{self, RedisTls},
};
use crate::{metrics::Metrics, secret::Secret};

/// Longest wait for a TCP connection to Redis or a sentinel.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Where the Redis master is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisSource {
    /// At this URL (which may hold credentials: never printed), always.
    Url(Secret),
    /// Wherever these sentinels (`host:port`) say the master called `master` is.
    Sentinel {
        /// The sentinels, tried in order.
        sentinels: Vec<String>,
        /// The name they monitor the master under.
        master: String,
        /// How to log in to the master and to the sentinels.
        auth: RedisAuth,
        /// Whether the master and the sentinels are reached over TLS (`rediss://`).
        tls: bool,
    },
}

/// Credentials behind sentinels: the master's user and password, and the sentinels' own
/// password. `Debug` shows no password.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedisAuth {
    /// The master's ACL user (`default` without one).
    pub username: Option<String>,
    /// The master's password.
    pub password: Option<Secret>,
    /// The sentinels' password.
    pub sentinel_password: Option<Secret>,
}

/// `redis[s]://[user[:password]@]address`, the credentials percent-encoded.
fn url_with(tls: bool, address: &str, username: Option<&str>, password: Option<&Secret>) -> String {
    let encode = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let userinfo = match (username, password) {
        (None, None) => String::new(),
        (Some(user), None) => format!("{}@", encode(user)),
        (user, Some(password)) => format!(
            "{}:{}@",
            user.map(encode).unwrap_or_default(),
            encode(password.expose())
        ),
    };
    let scheme = if tls { "rediss" } else { "redis" };
    format!("{scheme}://{userinfo}{address}")
}

impl RedisAuth {
    /// The URL of the master at `address`, over TLS if `tls`.
    fn master_url(&self, tls: bool, address: &str) -> String {
        url_with(
            tls,
            address,
            self.username.as_deref(),
            self.password.as_ref(),
        )
    }

    /// The URL of the sentinel at `address`, over TLS if `tls`.
    fn sentinel_url(&self, tls: bool, address: &str) -> String {
        url_with(tls, address, None, self.sentinel_password.as_ref())
    }
}

/// Whether `err` says Redis refused the credentials (a wrong password or user): a
/// configuration error, not an outage.
pub fn is_refused_login(err: &RedisError) -> bool {
    let text = err.to_string();
    err.kind() == ErrorKind::AuthenticationFailed
        || [
            "WRONGPASS",
            "NOAUTH",
            "invalid password",
            "invalid username-password",
        ]
        .iter()
        .any(|sign| text.contains(sign))
}

/// What every link of this process shares: which master they last found, and a generation
/// that [`watch_switches`] raises when a sentinel announces a new master, so that every link
/// drops its connection at once instead of at its next error.
pub(super) struct MasterWatch {
    generation: AtomicU64,
    state: StdMutex<WatchState>,
    metrics: Metrics,
}

struct WatchState {
    /// The master's `host:port` as last found.
    address: Option<String>,
    /// Since when no link has had a writable master, if none has now.
    unavailable_since: Option<Instant>,
}

impl MasterWatch {
    pub(super) fn new(metrics: Metrics) -> Arc<Self> {
        Arc::new(Self {
            generation: AtomicU64::new(0),
            state: StdMutex::new(WatchState {
                address: None,
                unavailable_since: None,
            }),
            metrics,
        })
    }

    /// Records that a link found the master at `address`: a change if it is not where the
    /// last one was found, and the end of any time without one.
    fn found(&self, address: &str) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.address.as_deref() != Some(address) {
            if let Some(previous) = state.address.replace(address.to_owned()) {
                tracing::warn!(%previous, current = %address, "the Redis master moved");
                self.metrics.count_redis_master_change(&previous, address);
            } else {
                self.metrics.set_redis_master(address);
            }
        }
        if let Some(since) = state.unavailable_since.take() {
            self.metrics.add_redis_master_unavailable(since.elapsed());
        }
    }

    /// Records that a link has no writable master right now.
    fn lost(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.unavailable_since.get_or_insert_with(Instant::now);
    }

    /// Makes every link look the master up again before its next command.
    fn switched(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }
}

/// One loop's connection to the master (each loop has its own, so that the reader's blocking
/// `XREAD` never holds up a lease renewal or a publish). Cheap to clone; clones share it.
#[derive(Clone)]
pub(super) struct MasterLink {
    inner: Arc<LinkInner>,
}

struct LinkInner {
    source: RedisSource,
    /// The certificates of TLS connections, if configured.
    certificates: Option<RedisTls>,
    /// Longest wait for a reply, the reconnect included.
    response_timeout: Duration,
    current: Mutex<Option<Current>>,
    watch: Arc<MasterWatch>,
}

/// The connection in use, and the watch generation it was made in.
struct Current {
    conn: ConnectionManager,
    generation: u64,
}

impl MasterLink {
    /// A link to the master of `source`; connects on first use.
    pub(super) fn new(
        source: RedisSource,
        certificates: Option<RedisTls>,
        response_timeout: Duration,
        watch: Arc<MasterWatch>,
    ) -> Self {
        Self {
            inner: Arc::new(LinkInner {
                source,
                certificates,
                response_timeout,
                current: Mutex::new(None),
                watch,
            }),
        }
    }

    /// Whether the master can move under this link (and writes must be fenced against it).
    pub(super) fn follows_failovers(&self) -> bool {
        matches!(self.inner.source, RedisSource::Sentinel { .. })
    }

    /// The connection to the master, looking it up first if there is none (or a sentinel
    /// announced a new master since it was made).
    pub(super) async fn conn(&self) -> RedisResult<ConnectionManager> {
        let generation = self.inner.watch.generation.load(Ordering::Relaxed);
        let mut current = self.inner.current.lock().await;
        if let Some(existing) = &*current
            && existing.generation == generation
        {
            return Ok(existing.conn.clone());
        }
        let connected = self.connect().await;
        match connected {
            Ok((address, conn)) => {
                self.inner.watch.found(&address);
                *current = Some(Current {
                    conn: conn.clone(),
                    generation,
                });
                Ok(conn)
            }
            Err(err) => {
                self.inner.watch.lost();
                Err(err)
            }
        }
    }

    /// Runs `cmd` on the master; an error that says the master may have moved makes the next
    /// command look it up again.
    pub(super) async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> RedisResult<T> {
        let mut conn = self.conn().await?;
        let result = cmd.query_async(&mut conn).await;
        if let Err(err) = &result {
            self.failed(err).await;
        }
        result
    }

    /// Tells the link that a command failed with `err`: when following sentinels and the error
    /// says the master may have moved, the connection is dropped and the next command looks the
    /// master up again.
    pub(super) async fn failed(&self, err: &RedisError) {
        if self.follows_failovers() && may_have_moved(err) {
            *self.inner.current.lock().await = None;
            self.inner.watch.lost();
        }
    }

    /// A new connection: to the URL, or to the master the sentinels name, checked with `ROLE`.
    async fn connect(&self) -> RedisResult<(String, ConnectionManager)> {
        let certificates = self.inner.certificates.as_ref();
        match &self.inner.source {
            RedisSource::Url(url) => {
                let client = tls::client(url.expose(), certificates)?;
                let address = client.get_connection_info().addr().to_string();
                Ok((address, self.manager(client)?))
            }
            RedisSource::Sentinel {
                sentinels,
                master,
                auth,
                tls,
            } => {
                let sentinel = Sentinels {
                    auth,
                    tls: *tls,
                    certificates,
                };
                let address = resolve(sentinels, master, &sentinel).await?;
                let client = tls::client(&auth.master_url(*tls, &address), certificates)?;
                let mut conn = self.manager(client)?;
                let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut conn).await?;
                match role.first() {
                    Some(redis::Value::BulkString(role)) if role == b"master" => {
                        Ok((address, conn))
                    }
                    _ => Err(RedisError::from((
                        ErrorKind::Server(ServerErrorKind::ReadOnly),
                        "the sentinels named a Redis that is not a master (yet)",
                        address,
                    ))),
                }
            }
        }
    }

    /// A connection to `client` that reconnects by itself to the same address, one attempt per
    /// command: the loops above do the backoff, so they can also log and stop in between.
    fn manager(&self, client: redis::Client) -> RedisResult<ConnectionManager> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(self.inner.response_timeout))
            .set_number_of_retries(0);
        ConnectionManager::new_lazy_with_config(client, config)
    }
}

/// Whether `err` says the master may be somewhere else now.
fn may_have_moved(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
        || err.is_timeout()
        || err.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly)
}

/// How to reach a sentinel: its password, and TLS.
#[derive(Clone, Copy)]
struct Sentinels<'a> {
    /// The sentinels' password (and the master's, unused here).
    auth: &'a RedisAuth,
    /// Whether they speak TLS.
    tls: bool,
    /// The certificates of TLS connections, if configured.
    certificates: Option<&'a RedisTls>,
}

impl Sentinels<'_> {
    /// A client for the sentinel at `address`.
    fn client(&self, address: &str) -> RedisResult<redis::Client> {
        tls::client(
            &self.auth.sentinel_url(self.tls, address),
            self.certificates,
        )
    }
}

/// The master's `host:port`, from the first sentinel that knows it.
async fn resolve(sentinels: &[String], master: &str, how: &Sentinels<'_>) -> RedisResult<String> {
    let mut last_err = None;
    for sentinel in sentinels {
        match ask_sentinel(sentinel, master, how).await {
            Ok(Some(address)) => return Ok(address),
            Ok(None) => {
                tracing::debug!(%sentinel, %master, "this sentinel does not know the master");
            }
            Err(err) => {
                tracing::debug!(%sentinel, %err, "sentinel unreachable");
                last_err = Some(err);
            }
        }
    }
    Err(last_err.unwrap_or_else(|| {
        RedisError::from((
            ErrorKind::Io,
            "no sentinel knows the master",
            master.to_owned(),
        ))
    }))
}

/// `SENTINEL get-master-addr-by-name master` on one sentinel, within the connect timeout.
async fn ask_sentinel(
    sentinel: &str,
    master: &str,
    how: &Sentinels<'_>,
) -> RedisResult<Option<String>> {
    let client = how.client(sentinel)?;
    let ask = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(master)
            .query_async::<Option<(String, u16)>>(&mut conn)
            .await
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, ask).await {
        Ok(reply) => Ok(reply?.map(|(host, port)| format!("{host}:{port}"))),
        Err(_) => Err(RedisError::from((
            ErrorKind::Io,
            "sentinel timed out",
            sentinel.to_owned(),
        ))),
    }
}

/// Listens for `+switch-master` of `master` on the sentinels (one at a time, the next one after
/// an error) and makes every link look the master up again when it comes, until `shutdown`.
pub(super) async fn watch_switches(
    sentinels: Vec<String>,
    master: String,
    (auth, tls, certificates): (RedisAuth, bool, Option<RedisTls>),
    watch: Arc<MasterWatch>,
    shutdown: CancellationToken,
) {
    let how = Sentinels {
        auth: &auth,
        tls,
        certificates: certificates.as_ref(),
    };
    let mut backoff = Backoff::new();
    for sentinel in sentinels.iter().cycle() {
        let listen = listen_for_switches(sentinel, &master, &how, &watch);
        tokio::select! {
            () = shutdown.cancelled() => break,
            result = listen => {
                if let Err(err) = result {
                    tracing::debug!(%sentinel, %err, "cannot listen to this sentinel; trying the next");
                }
            }
        }
        if !backoff.wait(&shutdown).await {
            break;
        }
    }
    tracing::debug!("sentinel watch stopped");
}

/// Subscribes to `+switch-master` on one sentinel and handles its messages until it fails.
async fn listen_for_switches(
    sentinel: &str,
    master: &str,
    how: &Sentinels<'_>,
    watch: &MasterWatch,
) -> RedisResult<()> {
    let client = how.client(sentinel)?;
    let mut pubsub = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub())
        .await
        .map_err(|_| {
            RedisError::from((ErrorKind::Io, "sentinel timed out", sentinel.to_owned()))
        })??;
    pubsub.subscribe("+switch-master").await?;
    let mut messages = pubsub.into_on_message();
    while let Some(message) = messages.next().await {
        let Ok(payload) = message.get_payload::<String>() else {
            continue;
        };
        // "<name> <old-ip> <old-port> <new-ip> <new-port>"
        if payload.split_whitespace().next() == Some(master) {
            tracing::info!(%sentinel, switch = %payload, "a sentinel announced a new Redis master");
            watch.switched();
        }
    }
    Err(RedisError::from((
        ErrorKind::Io,
        "the sentinel closed the subscription",
    )))
}
