//! Command-line flags and their `PINGSTREAM_*` environment variables.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use clap::{CommandFactory, FromArgMatches, Parser};

pub use crate::secret::Secret;
use shared::Timing;

/// How one pingstream server runs. Every flag can also be set through the environment variable
/// named beside it; a flag on the command line wins.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "server",
    version,
    about = "pingstream: a gap-free Server-Sent Events stream and the app that shows it"
)]
pub struct Config {
    /// Address to listen on (use port 0 for any free port).
    #[arg(long, env = "PINGSTREAM_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Milliseconds between two pings.
    #[arg(long, env = "PINGSTREAM_INTERVAL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval_ms: u64,

    /// Reconnection delay suggested to browsers in the stream's `retry:` line, in milliseconds.
    #[arg(long, env = "PINGSTREAM_RETRY_MS", default_value_t = 2000)]
    pub retry_ms: u64,

    /// Seconds of silence after which every stream gets a heartbeat event (the keep-alive that
    /// proxies and pages see), and never more than two ping intervals, so that a page can tell a
    /// dead stream from a quiet one (0 turns heartbeats off; streams still start with one).
    #[arg(long, env = "PINGSTREAM_KEEP_ALIVE_S", default_value_t = 15)]
    pub keep_alive_s: u64,

    /// How many past events are kept to answer a reconnecting client's `Last-Event-ID`.
    #[arg(long, env = "PINGSTREAM_HISTORY", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub history: u64,

    /// The most bytes of past events kept for `Last-Event-ID` (names and JSON, plus about 60
    /// bytes per event); the oldest go first when either this or `--history` is exceeded.
    #[arg(long, env = "PINGSTREAM_HISTORY_BYTES", default_value_t = 4 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1024..=1 << 34))]
    pub history_bytes: u64,

    /// How many events a client may fall behind the newest before its stream is ended (it then
    /// reconnects with `Last-Event-ID` and is replayed what it missed).
    #[arg(long, env = "PINGSTREAM_CLIENT_BUFFER", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub client_buffer: u64,

    /// Most streams open at once; one more is answered `503` with `Retry-After`.
    #[arg(long, env = "PINGSTREAM_MAX_CLIENTS", default_value_t = 10_000)]
    pub max_clients: usize,

    /// Kernel send buffer of each connection, in bytes (0 = let the kernel size it, up to
    /// several MiB per socket). Together with `--client-buffer` it bounds what a client that
    /// stops reading can hold up before its stream is ended.
    #[arg(long, env = "PINGSTREAM_SEND_BUFFER", default_value_t = 65_536)]
    pub send_buffer: usize,

    /// Milliseconds a connection may go without the client accepting any data before the kernel
    /// drops it (TCP_USER_TIMEOUT; 0 = the kernel's default of about 15 minutes). This is what
    /// frees the slot of a client that stopped reading altogether, and of one that vanished.
    #[arg(long, env = "PINGSTREAM_STALL_TIMEOUT_MS", default_value_t = 30_000)]
    pub stall_timeout_ms: u64,

    /// TLS certificate chain (PEM) to serve HTTPS and HTTP/2 with; needs `--tls-key`. Without
    /// both, the server speaks plain HTTP/1.1.
    #[arg(
        long,
        env = "PINGSTREAM_TLS_CERT",
        value_name = "PATH",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1) of `--tls-cert`.
    #[arg(
        long,
        env = "PINGSTREAM_TLS_KEY",
        value_name = "PATH",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// Folder of the built frontend (`trunk build` output) served at `/`.
    #[arg(long, env = "PINGSTREAM_STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,

    /// Origins (e.g. `https://app.example.com`) whose pages may read the stream and `/healthz`
    /// cross-origin; repeat the flag or separate with commas. None by default: CORS stays closed.
    #[arg(
        long = "allow-origin",
        env = "PINGSTREAM_ALLOW_ORIGIN",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    pub allow_origins: Vec<String>,

    /// HTTP worker threads (0 = one per CPU core).
    #[arg(long, env = "PINGSTREAM_WORKERS", default_value_t = 0)]
    pub workers: usize,

    /// Redis to share one stream between replicas (e.g. `redis://127.0.0.1:6379`): one replica
    /// at a time ticks, every replica serves the same events with the same ids. Without it the
    /// server runs alone with its stream in memory.
    #[arg(
        long,
        env = "PINGSTREAM_REDIS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub redis_url: Option<Secret>,

    /// Sentinels that name the Redis master, instead of `--redis-url` (e.g.
    /// `10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379`); needs `--redis-master-name`. The master is
    /// looked up through them, and again after an error, a `READONLY` reply or a `+switch-master`.
    #[arg(
        long,
        env = "PINGSTREAM_REDIS_SENTINEL",
        value_delimiter = ',',
        value_name = "HOST:PORT",
        conflicts_with = "redis_url",
        requires = "redis_master_name",
        value_parser = parse_host_port
    )]
    pub redis_sentinel: Vec<String>,

    /// The name the sentinels monitor the master under (their `sentinel monitor <name> ...`).
    #[arg(
        long,
        env = "PINGSTREAM_REDIS_MASTER_NAME",
        value_name = "NAME",
        requires = "redis_sentinel"
    )]
    pub redis_master_name: Option<String>,

    /// The user the Redis master is logged in as behind sentinels (Redis 6 ACLs; with
    /// `--redis-url`, put credentials in the URL: `redis://user:password@host:port`).
    #[arg(long, env = "PINGSTREAM_REDIS_USERNAME", requires = "redis_sentinel")]
    pub redis_username: Option<String>,

    /// The password of the Redis master behind sentinels (its `requirepass`, or the ACL user's).
    #[arg(
        long,
        env = "PINGSTREAM_REDIS_PASSWORD",
        hide_env_values = true,
        requires = "redis_sentinel"
    )]
    pub redis_password: Option<Secret>,

    /// The sentinels' own password (their `requirepass`).
    #[arg(
        long,
        env = "PINGSTREAM_REDIS_SENTINEL_PASSWORD",
        hide_env_values = true,
        requires = "redis_sentinel"
    )]
    pub redis_sentinel_password: Option<Secret>,

    /// Reach the Redis master and the sentinels over TLS (`rediss://`; with `--redis-url`, write
    /// the scheme instead).
    #[arg(long, env = "PINGSTREAM_REDIS_TLS", requires = "redis_sentinel")]
    pub redis_tls: bool,

    /// The CA certificate(s) (PEM) that Redis's and the sentinels' TLS certificates are checked
    /// against, instead of the system's roots; needs a `rediss://` URL or `--redis-tls`.
    #[arg(long, env = "PINGSTREAM_REDIS_CA_CERT", value_name = "FILE")]
    pub redis_ca_cert: Option<PathBuf>,

    /// The client certificate (PEM) to show Redis over TLS, for one that asks (Redis's
    /// `tls-auth-clients yes`, its default); needs `--redis-client-key`.
    #[arg(
        long,
        env = "PINGSTREAM_REDIS_CLIENT_CERT",
        value_name = "FILE",
        requires = "redis_client_key"
    )]
    pub redis_client_cert: Option<PathBuf>,

    /// The private key (PEM) of `--redis-client-cert`.
    #[arg(
        long,
        env = "PINGSTREAM_REDIS_CLIENT_KEY",
        value_name = "FILE",
        requires = "redis_client_cert"
    )]
    pub redis_client_key: Option<PathBuf>,

    /// Bearer tokens that may publish events with `POST /events/{name}`; separate several with
    /// commas (to rotate one: add the new token, move publishers over, remove the old one).
    /// `TOKEN=SELECTOR|SELECTOR` limits a token to the topics those selectors match (e.g.
    /// `s3cret=orders/**`); a token alone may publish on any topic. Without any, publishing is
    /// off and the route answers 404.
    #[arg(
        long = "publish-token",
        env = "PINGSTREAM_PUBLISH_TOKEN",
        value_delimiter = ',',
        value_name = "TOKEN[=SCOPES]",
        hide_env_values = true
    )]
    pub publish_tokens: Vec<PublishToken>,

    /// Topics whose events reach only streams with a subscriber token that grants them
    /// (selectors, comma-separated, e.g. `users/**,orders/**`). None by default: every topic is
    /// public.
    #[arg(
        long = "private-topics",
        env = "PINGSTREAM_PRIVATE_TOPICS",
        value_delimiter = ',',
        value_name = "SELECTOR"
    )]
    pub private_topics: Vec<shared::Selector>,

    /// Shared keys (at least 32 bytes; comma-separated, to rotate) that subscriber tokens may be
    /// signed with, HS256.
    #[arg(
        long = "subscribe-key",
        env = "PINGSTREAM_SUBSCRIBE_KEY",
        value_delimiter = ',',
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub subscribe_keys: Vec<Secret>,

    /// PEM files of public keys (EC P-256 for ES256, Ed25519 for EdDSA; comma-separated) that
    /// subscriber tokens may be signed with, so an auth service can sign without sharing a
    /// secret.
    #[arg(
        long = "subscribe-public-key",
        env = "PINGSTREAM_SUBSCRIBE_PUBLIC_KEY",
        value_delimiter = ',',
        value_name = "FILE"
    )]
    pub subscribe_public_keys: Vec<PathBuf>,

    /// The `aud` a subscriber token must carry; without it, `aud` is not checked.
    #[arg(long, env = "PINGSTREAM_SUBSCRIBE_AUDIENCE", value_name = "AUD")]
    pub subscribe_audience: Option<String>,

    /// Development only: `POST /session/dev` signs anyone in under the name they type (a
    /// 15-minute token for `users/<name>/**`), for the page's "sign in as" box. Needs a
    /// `--subscribe-key`; refused with TLS or on a non-loopback address unless
    /// `--dev-login-force`.
    #[arg(long, env = "PINGSTREAM_DEV_LOGIN")]
    pub dev_login: bool,

    /// Allows `--dev-login` with TLS or on a non-loopback address.
    #[arg(long, env = "PINGSTREAM_DEV_LOGIN_FORCE", requires = "dev_login")]
    pub dev_login_force: bool,

    /// Largest body `POST /events/{name}` accepts, in bytes; a larger one is answered 413.
    #[arg(long, env = "PINGSTREAM_PUBLISH_MAX_BYTES", default_value_t = 16 * 1024, value_parser = clap::value_parser!(u64).range(64..=1 << 20))]
    pub publish_max_bytes: u64,

    /// Events per second one token may publish, on average; past it (and its burst) a publish
    /// is answered 429 with `Retry-After`.
    #[arg(long, env = "PINGSTREAM_PUBLISH_RATE", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub publish_rate: u32,

    /// Events one token may publish at once above its rate.
    #[arg(long, env = "PINGSTREAM_PUBLISH_BURST", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub publish_burst: u32,

    /// Milliseconds the ticker lease in Redis lasts without renewal: a replica that dies is
    /// replaced by another one's ticker within about this long (used only with `--redis-url`).
    #[arg(long, env = "PINGSTREAM_LEASE_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub lease_ms: u64,
}

/// A publish token and the topics it may publish on (`TOKEN` or `TOKEN=SELECTOR|SELECTOR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishToken {
    /// The token.
    pub secret: Secret,
    /// The topics it may publish on; `None`: any.
    pub scopes: Option<shared::Selection>,
}

impl std::str::FromStr for PublishToken {
    type Err = String;

    /// `TOKEN` or `TOKEN=SCOPES`, split at the last `=` when what follows it is a list of
    /// selectors (so a base64 token's `=` padding stays part of the token). The token must be
    /// an RFC 6750 token68 (`A-Za-z0-9-._~+/` and trailing `=`), or no `Bearer` header could
    /// ever carry it.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (token, scopes) = match text.rsplit_once('=') {
            Some((token, scopes)) if !scopes.is_empty() && !token.is_empty() => {
                let selection = shared::Selection::parse(scopes.split('|'))
                    .map_err(|err| format!("the token's scopes: {err}"))?;
                (token, Some(selection))
            }
            _ => (text, None),
        };
        let body = token.trim_end_matches('=');
        let token68 = |byte: u8| byte.is_ascii_alphanumeric() || b"-._~+/".contains(&byte);
        if body.is_empty() || !body.bytes().all(token68) {
            return Err(
                "a publish token is made of A-Z a-z 0-9 - . _ ~ + / (and = at its end)".into(),
            );
        }
        Ok(Self {
            secret: token.parse().map_err(|err: &str| err.to_owned())?,
            scopes,
        })
    }
}

/// `host:port` with a port that is a number, for `--redis-sentinel`.
fn parse_host_port(text: &str) -> Result<String, String> {
    let text = text.trim();
    match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok(text.to_owned())
        }
        _ => Err(format!("{text:?} is not host:port")),
    }
}

impl Config {
    /// Where the shared stream's Redis is, if the replicas share one: `--redis-url`, or the
    /// master `--redis-sentinel` names as `--redis-master-name`.
    pub fn redis_source(&self) -> Option<crate::cluster::RedisSource> {
        use crate::cluster::RedisSource;
        if let Some(url) = &self.redis_url {
            return Some(RedisSource::Url(url.clone()));
        }
        let master = self.redis_master_name.clone()?;
        (!self.redis_sentinel.is_empty()).then(|| RedisSource::Sentinel {
            sentinels: self.redis_sentinel.clone(),
            master,
            auth: crate::cluster::RedisAuth {
                username: self.redis_username.clone(),
                password: self.redis_password.clone(),
                sentinel_password: self.redis_sentinel_password.clone(),
            },
            tls: self.redis_tls,
        })
    }

    /// Whether connections to Redis use TLS: a `rediss://` URL, or `--redis-tls`.
    pub fn redis_uses_tls(&self) -> bool {
        self.redis_tls
            || self
                .redis_url
                .as_ref()
                .is_some_and(|url| url.expose().starts_with("rediss://"))
    }

    /// The client certificate and key of `--redis-client-cert`/`--redis-client-key`.
    pub fn redis_client_cert(&self) -> Option<(&Path, &Path)> {
        Some((
            self.redis_client_cert.as_deref()?,
            self.redis_client_key.as_deref()?,
        ))
    }

    /// The period of the ticker.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }

    /// The `retry:` hint sent first on every stream.
    pub fn retry(&self) -> Duration {
        Duration::from_millis(self.retry_ms)
    }

    /// How long the ticker lease lasts without renewal.
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    /// HTTP worker threads: as configured, or one per CPU core.
    pub fn workers(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            workers => workers,
        }
    }

    /// The stream's timing, as every stream announces it: pings every interval, and a heartbeat
    /// after the keep-alive period of silence, at most two intervals (so a page that allows a
    /// few intervals of silence never mistakes a stream whose pings paused for a dead one).
    pub fn timing(&self) -> Timing {
        let heartbeat = (self.keep_alive_s > 0)
            .then(|| Duration::from_secs(self.keep_alive_s).min(self.interval() * 2));
        Timing {
            interval_ms: self.interval_ms,
            heartbeat_ms: heartbeat
                .map(|period| u64::try_from(period.as_millis()).unwrap_or(u64::MAX)),
            start: None,
            replayed: 0,
        }
    }

    /// The certificate and key files, when TLS is on.
    pub fn tls(&self) -> Option<(&Path, &Path)> {
        Some((self.tls_cert.as_deref()?, self.tls_key.as_deref()?))
    }

    /// A configuration for tests and embedding: defaults everywhere, whatever `PINGSTREAM_*`
    /// variables the environment has, listening on any free loopback port.
    pub fn for_tests() -> Self {
        let command = Self::command().mut_args(|arg| arg.env(None));
        let matches = command.get_matches_from(["server"]);
        let mut config =
            Self::from_arg_matches(&matches).expect("the defaults make a valid configuration");
        config.addr = SocketAddr::from(([127, 0, 0, 1], 0));
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_is_consistent() {
        Config::command().debug_assert();
    }

    #[test]
    fn defaults_match_the_readme() {
        let config = Config::parse_from(["server"]);
        assert_eq!(config.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.interval(), Duration::from_secs(1));
        assert_eq!(config.retry(), Duration::from_secs(2));
        assert_eq!(config.keep_alive_s, 15);
        assert_eq!(
            config.timing(),
            Timing {
                interval_ms: 1000,
                heartbeat_ms: Some(2000),
                start: None,
                replayed: 0,
            }
        );
        assert_eq!(config.history, 1000);
        assert_eq!(config.history_bytes, 4 * 1024 * 1024);
        assert!(
            config.publish_tokens.is_empty(),
            "publishing is off by default"
        );
        assert_eq!(config.publish_max_bytes, 16 * 1024);
        assert_eq!((config.publish_rate, config.publish_burst), (50, 100));
        assert_eq!(config.max_clients, 10_000);
        assert_eq!(config.static_dir, PathBuf::from("dist"));
        assert_eq!(config.redis_url, None);
        assert_eq!(config.lease(), Duration::from_secs(2));
        assert_eq!(config.tls(), None, "plain HTTP by default");
    }

    #[test]
    fn a_certificate_needs_its_key_and_a_key_its_certificate() {
        assert!(Config::try_parse_from(["server", "--tls-cert", "c.pem"]).is_err());
        assert!(Config::try_parse_from(["server", "--tls-key", "k.pem"]).is_err());
        let config =
            Config::try_parse_from(["server", "--tls-cert", "c.pem", "--tls-key", "k.pem"])
                .expect("both given");
        assert_eq!(config.tls(), Some((Path::new("c.pem"), Path::new("k.pem"))));
    }

    #[test]
    fn readme_flags_table_matches_the_command_line() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
        // Rows look like: | `--addr` | `PINGSTREAM_ADDR` | `127.0.0.1:8080` | meaning |
        let rows: Vec<(String, String, String)> = readme
            .lines()
            .filter(|line| line.starts_with("| `--"))
            .map(|line| {
                let cells: Vec<&str> = line
                    .split('|')
                    .map(|cell| cell.trim().trim_matches('`'))
                    .collect();
                (
                    cells[1].to_owned(),
                    cells[2].to_owned(),
                    cells[3].to_owned(),
                )
            })
            .collect();
        let command = Config::command();
        let args: Vec<(String, String, String)> = command
            .get_arguments()
            .filter_map(|arg| {
                let long = arg.get_long()?;
                let env = arg.get_env()?.to_string_lossy().into_owned();
                let default = arg.get_default_values().first().map_or_else(
                    || "(none)".to_owned(),
                    |value| value.to_string_lossy().into_owned(),
                );
                Some((format!("--{long}"), env, default))
            })
            .collect();
        assert_eq!(
            rows, args,
            "README flags table differs from `server --help`"
        );
    }

    #[test]
    fn heartbeats_follow_the_keep_alive_within_two_intervals() {
        let timing = |args: &[&str]| {
            Config::parse_from(std::iter::once("server").chain(args.iter().copied())).timing()
        };
        let heartbeat_ms = |args: &[&str]| timing(args).heartbeat_ms;
        assert_eq!(heartbeat_ms(&["--interval-ms", "60000"]), Some(15_000));
        assert_eq!(heartbeat_ms(&["--interval-ms", "250"]), Some(500));
        assert_eq!(
            heartbeat_ms(&["--interval-ms", "60000", "--keep-alive-s", "5"]),
            Some(5_000)
        );
        assert_eq!(heartbeat_ms(&["--keep-alive-s", "0"]), None);
        assert_eq!(timing(&["--interval-ms", "250"]).interval_ms, 250);
    }

    #[test]
    fn several_publish_tokens_are_read_and_never_printed() {
        let config =
            Config::try_parse_from(["server", "--publish-token", "s3cret-one,s3cret-two"]).unwrap();
        let tokens: Vec<&str> = config
            .publish_tokens
            .iter()
            .map(|token| token.secret.expose())
            .collect();
        assert_eq!(tokens, ["s3cret-one", "s3cret-two"]);
        assert!(!format!("{config:?}").contains("s3cret"));
        assert!(Config::try_parse_from(["server", "--publish-token", ""]).is_err());
        assert!(Config::try_parse_from(["server", "--publish-token", "a,,b"]).is_err());
    }

    #[test]
    fn a_publish_token_may_be_scoped_and_must_be_a_token68() {
        let token = |text: &str| text.parse::<PublishToken>();
        let scoped = token("s3cret=orders/**|notices").unwrap();
        assert_eq!(scoped.secret.expose(), "s3cret");
        let scopes = scoped.scopes.unwrap();
        assert!(scopes.matches(&"orders/1".parse().unwrap()));
        assert!(!scopes.matches(&"users/alice".parse().unwrap()));
        let padded = token("YWJj==").unwrap();
        assert_eq!((padded.secret.expose(), padded.scopes), ("YWJj==", None));
        // A padded token takes one more `=` before its scopes.
        assert_eq!(token("YWJj===orders/*").unwrap().secret.expose(), "YWJj==");
        for bad in [
            "tok en",
            "tök",
            "a\"b",
            "s3cret=a//b",
            "=orders/*",
            "tok,en",
        ] {
            assert!(token(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sentinels_need_a_master_name_and_exclude_a_redis_url() {
        let parse = |args: &[&str]| {
            Config::try_parse_from(std::iter::once("server").chain(args.iter().copied()))
        };
        let config = parse(&[
            "--redis-sentinel",
            "a:26379,b:26380",
            "--redis-master-name",
            "m",
        ])
        .expect("sentinels and a name");
        assert_eq!(config.redis_sentinel, ["a:26379", "b:26380"]);
        assert_eq!(config.redis_master_name.as_deref(), Some("m"));
        for bad in [
            &["--redis-sentinel", "a:26379"][..],
            &["--redis-master-name", "m"],
            &["--redis-sentinel", "a", "--redis-master-name", "m"],
            &["--redis-sentinel", "a:0", "--redis-master-name", "m"],
            &["--redis-sentinel", "a:x", "--redis-master-name", "m"],
            &[
                "--redis-sentinel",
                "a:26379",
                "--redis-master-name",
                "m",
                "--redis-url",
                "redis://a",
            ],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_zero_interval_is_refused() {
        assert!(Config::try_parse_from(["server", "--interval-ms", "0"]).is_err());
    }
}
