//! `loadgen`: open N SSE clients against a loopback server (over `https://`, N HTTP/2 streams
//! over `--connections` TLS connections), measure E pings (and, with `--notices`, notices it
//! publishes meanwhile), print one JSON result line (and append it to `--out`). With `--topics`,
//! the clients subscribe by topic and only the notices, published on topics, are measured. With
//! `--private-fraction`, some clients hold subscriber tokens.

use std::{fs::OpenOptions, io::Write as _, path::PathBuf, time::Duration};

use anyhow::Context as _;
use bench::{
    h2load::H2Settings,
    load::{self, LoadConfig, TopicLoad},
    private::{PrivateLoad, PrivateStreams},
    procfs,
    publish::NoticeLoad,
    target::Target,
    topics::TopicMode,
};
use clap::Parser;

/// Load an SSE stream on this machine and measure what it costs the server.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version)]
struct Args {
    /// The stream: an http:// URL on 127.0.0.0/8, e.g. http://127.0.0.1:8080/sse (HTTP/1.1,
    /// a connection per client), or https:// (HTTP/2 over TLS, needs --ca).
    #[arg(long)]
    url: String,
    /// Clients to open (over https://: streams).
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// TLS connections the HTTP/2 streams are spread over (https:// only).
    #[arg(
        long,
        default_value_t = 1,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    connections: usize,
    /// PEM certificate to trust for an https:// URL (the server's self-signed one).
    #[arg(long, value_name = "PATH")]
    ca: Option<PathBuf>,
    /// Pings to measure once all are connected.
    #[arg(long, default_value_t = 15)]
    events: u64,
    /// The server's ping period in milliseconds (bounds the waits).
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// Process id of the server, to sample its RSS and CPU time from /proc.
    #[arg(long)]
    pid: Option<u32>,
    /// Name of the server in the results (ours, naive, floor).
    #[arg(long, default_value = "server")]
    label: String,
    /// Source addresses 127.0.0.1 ..= 127.0.0.K the clients are spread over.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u8).range(1..))]
    source_spread: u8,
    /// Most clients between connect() and their first event at once.
    #[arg(long, default_value_t = 1000)]
    connect_concurrency: usize,
    /// Seconds one client may take from connect() to its first event.
    #[arg(long, default_value_t = 10)]
    handshake_timeout_s: u64,
    /// Seconds all clients together may take to connect.
    #[arg(long, default_value_t = 60)]
    connect_timeout_s: u64,
    /// Also append the JSON result line to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Notices to publish with POST /events/notice while the pings are measured (0: none); the
    /// window then lasts until every client has had the last one. http:// only; needs
    /// --publish-token.
    #[arg(long, default_value_t = 0)]
    notices: u64,
    /// Notices per second (the schedule is kept whether or not earlier ones were answered).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    notice_rate: u32,
    /// A bearer token the server accepts for publishing (its --publish-token).
    #[arg(long, env = "PINGSTREAM_PUBLISH_TOKEN", hide_env_values = true)]
    publish_token: Option<String>,
    /// A topic load instead of the ping bench (needs --notices): `per-client` (client i
    /// subscribes to `?topic=users/<i>`, each notice goes to a random `users/<n>`) or `pattern`
    /// (every client on `?topic=orders/*`, each notice to a random `orders/<n>`).
    #[arg(long, value_name = "MODE")]
    topics: Option<TopicMode>,
    /// With --topics: seconds the server's CPU is sampled with every stream open and nothing
    /// published, before the notices (its idle cost: heartbeats, the ticker).
    #[arg(long, default_value_t = 5)]
    idle_s: u64,
    /// The share of the clients (0 to 1, spread evenly: 0.1 is every tenth) that hold a
    /// subscriber token, an HS256 JWT signed with --subscribe-key granting `users/<i>/**` for an
    /// hour, sent as `Authorization: Bearer`. The others stay anonymous every-topic ping
    /// streams. http:// only (HTTP/2 clients send no token), and not with --topics. Needs
    /// --subscribe-key (or --without-tokens).
    #[arg(long, value_name = "F")]
    private_fraction: Option<f64>,
    /// What the token holders ask for: `per-user` (`?topic=users/<i>/**`, their own private
    /// topics: no pings, connected at the opening heartbeat; the server needs --private-topics
    /// 'users/**') or `every-topic` (no `?topic=`: the ping stream, with a token; with
    /// --private-fraction 1, every connect is authenticated).
    #[arg(long, value_name = "STREAMS", default_value = "per-user")]
    private_streams: PrivateStreams,
    /// The server's --subscribe-key (at least 32 bytes; the first of a list) to sign the
    /// holders' tokens with.
    #[arg(long, env = "PINGSTREAM_SUBSCRIBE_KEY", hide_env_values = true)]
    subscribe_key: Option<String>,
    /// With --private-fraction: the same clients ask for the same streams without a token (a
    /// control run, against a server without private topics: what the streams' shape costs
    /// apart from the tokens). Needs no --subscribe-key.
    #[arg(long)]
    without_tokens: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let target = Target::parse(&args.url)?;
    let h2 = match (&args.ca, target.tls) {
        (Some(ca), true) => {
            let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
            Some(H2Settings::trusting(&pem, args.connections)?)
        }
        (None, true) => anyhow::bail!("an https:// URL needs --ca (the certificate to trust)"),
        (_, false) => None,
    };
    let notices = match (args.notices, args.publish_token) {
        (0, _) => None,
        (_, None) => anyhow::bail!("--notices needs --publish-token (or PINGSTREAM_PUBLISH_TOKEN)"),
        (_, Some(_)) if target.tls => anyhow::bail!("--notices is for http:// URLs only"),
        (count, Some(token)) => Some(NoticeLoad {
            count,
            rate: args.notice_rate,
            token,
            topics: None,
        }),
    };
    anyhow::ensure!(
        args.topics.is_none() || notices.is_some(),
        "--topics needs --notices (the notices it publishes on topics are what it measures)"
    );
    // The server signs with the first key of a rotation, and so does this.
    let key = args
        .subscribe_key
        .as_deref()
        .and_then(|keys| keys.split(',').next())
        .map(str::to_owned);
    let private = match (args.private_fraction, key, args.without_tokens) {
        (None, _, _) => None,
        (Some(fraction), None, true) => Some(PrivateLoad {
            fraction,
            streams: args.private_streams,
            key: None,
        }),
        (Some(_), Some(_), true) => {
            anyhow::bail!("--without-tokens signs nothing: leave out --subscribe-key")
        }
        (Some(_), None, false) => anyhow::bail!(
            "--private-fraction needs --subscribe-key (or PINGSTREAM_SUBSCRIBE_KEY), or --without-tokens"
        ),
        (Some(fraction), Some(key), false) => Some(PrivateLoad {
            fraction,
            streams: args.private_streams,
            key: Some(key),
        }),
    };
    let limit = procfs::raise_open_files_limit().context("raising the open files limit")?;
    anyhow::ensure!(
        u64::try_from(args.clients)? + 64 <= limit,
        "{} clients need more open files than the limit of {limit}",
        args.clients
    );
    let config = LoadConfig {
        target,
        clients: args.clients,
        events: args.events,
        interval: Duration::from_millis(args.interval_ms),
        source_spread: args.source_spread,
        connect_concurrency: args.connect_concurrency,
        handshake_timeout: Duration::from_secs(args.handshake_timeout_s),
        connect_timeout: Duration::from_secs(args.connect_timeout_s),
        server_pid: args.pid,
        label: args.label,
        h2,
        notices,
        topics: args.topics.map(|mode| TopicLoad {
            mode,
            idle: Duration::from_secs(args.idle_s),
        }),
        private,
    };
    let result = load::run(&config)?;
    let line = serde_json::to_string(&result)?;
    println!("{line}");
    if let Some(path) = &args.out {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        writeln!(file, "{line}")?;
    }
    Ok(())
}
