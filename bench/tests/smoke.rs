//! The load tool against both baseline servers, in-process on port 0: every client connects,
//! every event arrives once, and the numbers come out; over HTTP/1.1, and over HTTP/2 with TLS
//! (streams sharing a few connections). And against the real server with notices published
//! while the clients listen: every client gets every notice, judged by the ids' seq; and with
//! the clients subscribed by topic, every notice reaches exactly the clients of its topic; and
//! with some clients holding subscriber tokens, on a server with private topics.

use std::{
    net::{SocketAddr, TcpListener},
    sync::mpsc,
    time::Duration,
};

use bench::{
    floor::FloorServer,
    h2load::H2Settings,
    load::{self, LoadConfig, RunResult, TopicLoad},
    naive::{self, TickClock},
    private::{PrivateLoad, PrivateStreams},
    publish::NoticeLoad,
    target::Target,
    topics::TopicMode,
};

const PERIOD: Duration = Duration::from_millis(100);
const CLIENTS: usize = 40;
const EVENTS: u64 = 3;
/// How long the clients have to connect, in every run of these tests.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn load(addr: SocketAddr, label: &str) -> RunResult {
    load_over(&format!("http://{addr}/sse"), None, label)
}

/// The smoke tests' load on `url`: [`CLIENTS`] clients, [`EVENTS`] events at [`PERIOD`], over
/// `h2` when given, no notices.
fn load_config(url: &str, h2: Option<H2Settings>, label: &str) -> LoadConfig {
    LoadConfig {
        target: Target::parse(url).expect("loopback URL"),
        clients: CLIENTS,
        events: EVENTS,
        interval: PERIOD,
        source_spread: 4,
        connect_concurrency: 16,
        handshake_timeout: Duration::from_secs(5),
        connect_timeout: CONNECT_TIMEOUT,
        // The test process stands in for the server: it exercises the /proc sampling.
        server_pid: Some(std::process::id()),
        label: label.into(),
        h2,
        notices: None,
        topics: None,
        private: None,
    }
}

fn load_over(url: &str, h2: Option<H2Settings>, label: &str) -> RunResult {
    load::run(&load_config(url, h2, label)).expect("a run")
}

fn assert_clean(result: &RunResult) {
    assert_eq!(result.connected, CLIENTS, "{result:#?}");
    assert_eq!(result.errors, 0, "{result:#?}");
    assert_eq!(result.gaps, 0, "{result:#?}");
    assert_eq!(result.dups, 0, "{result:#?}");
    assert_eq!(result.delivered, CLIENTS as u64 * EVENTS, "{result:#?}");
    assert!(result.connect_ms.is_some(), "{result:#?}");
    let latency = result.latency.expect("latencies");
    // True of any correct run, false of a broken tally: the percentiles are ordered, and on
    // loopback no event takes a second.
    assert!(
        latency.p50_ms <= latency.p99_ms
            && latency.p99_ms <= latency.max_ms
            && latency.max_ms < 1000.0,
        "{latency:?}"
    );
    assert!(result.rss_connected_kib.is_some() && result.cpu_us_per_event.is_some());
}

fn loopback_listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("a free port")
}

#[test]
fn floor_server_streams_every_event_to_every_client() {
    let server = FloorServer::start(loopback_listener(), PERIOD, 0xf1).expect("floor starts");
    let result = load(server.addr(), "floor");
    server.stop();
    assert_clean(&result);
}

#[test]
fn naive_server_streams_every_event_to_every_client() {
    let (started_tx, started_rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let listener = loopback_listener();
            let addr = listener.local_addr().expect("bound");
            let server =
                naive::serve(listener, TickClock::start(PERIOD, 0xa1)).expect("naive starts");
            started_tx
                .send((addr, server.handle()))
                .expect("test waits");
            server.await
        })
    });
    let (addr, handle) = started_rx.recv().expect("naive started");
    let result = load(addr, "naive");
    actix_web::rt::System::new().block_on(handle.stop(false));
    thread.join().expect("naive thread").expect("naive ran");
    assert_clean(&result);
}

/// A fresh self-signed certificate for 127.0.0.1: the server's TLS configuration, and client
/// settings for `connections` connections that trust it.
fn test_tls(connections: usize) -> (rustls::ServerConfig, H2Settings) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("a certificate");
    let chain = vec![CertificateDer::from(certified.cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("a usable pair");
    let settings = H2Settings::trusting(certified.cert.pem().as_bytes(), connections)
        .expect("clients trust it");
    (tls, settings)
}

/// Runs `serve` (given a loopback listener) on its own actix system thread; its address, handle
/// and thread.
fn serve_on_thread(
    serve: impl FnOnce(TcpListener) -> std::io::Result<actix_web::dev::Server> + Send + 'static,
) -> (
    SocketAddr,
    actix_web::dev::ServerHandle,
    std::thread::JoinHandle<std::io::Result<()>>,
) {
    let (started_tx, started_rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let listener = loopback_listener();
            let addr = listener.local_addr().expect("bound");
            let server = serve(listener).expect("the server starts");
            started_tx
                .send((addr, server.handle()))
                .expect("test waits");
            server.await
        })
    });
    let (addr, handle) = started_rx.recv().expect("the server started");
    (addr, handle, thread)
}

/// The naive server over TLS (HTTP/2 by ALPN) with a fresh self-signed certificate, and the
/// clients' settings trusting it, `connections` connections for the streams.
fn naive_over_tls(
    connections: usize,
) -> (
    SocketAddr,
    actix_web::dev::ServerHandle,
    std::thread::JoinHandle<std::io::Result<()>>,
    H2Settings,
) {
    let (tls, settings) = test_tls(connections);
    let (addr, handle, thread) = serve_on_thread(move |listener| {
        naive::serve_tls(listener, TickClock::start(PERIOD, 0xa2), tls)
    });
    (addr, handle, thread, settings)
}

#[test]
fn h2_streams_sharing_a_few_tls_connections_get_every_event() {
    let (addr, handle, thread, settings) = naive_over_tls(4);
    let result = load_over(&format!("https://{addr}/sse"), Some(settings), "naive-h2");
    actix_web::rt::System::new().block_on(handle.stop(false));
    thread.join().expect("naive thread").expect("naive ran");
    assert_clean(&result);
    assert_eq!(result.connections, Some(4));
}

#[test]
fn h2_streams_without_a_first_event_fail_at_the_handshake_timeout() {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let (tls, settings) = test_tls(2);
    // Accepts every stream over HTTP/2 and never answers it.
    let (addr, handle, thread) = serve_on_thread(move |listener| {
        let server = HttpServer::new(|| {
            App::new().route(
                shared::STREAM_PATH,
                web::get().to(std::future::pending::<HttpResponse>),
            )
        })
        .listen_rustls_0_23(listener, tls)?;
        Ok(server.run())
    });
    let started = std::time::Instant::now();
    let result = load_over(&format!("https://{addr}/sse"), Some(settings), "silent-h2");
    let took = started.elapsed();
    actix_web::rt::System::new().block_on(handle.stop(false));
    thread.join().expect("server thread").expect("server ran");
    assert_eq!(result.connected, 0, "{result:#?}");
    assert_eq!(
        result
            .error_kinds
            .get("no first event within the handshake timeout"),
        Some(&(CLIENTS as u64)),
        "{result:#?}"
    );
    // The handshake timeout (5 s), not the connect phase's limit (10 s), ended the wait.
    assert!(took < CONNECT_TIMEOUT, "the run took {took:?}");
}

#[test]
fn only_loopback_targets_are_accepted() {
    assert!(Target::parse("http://192.168.1.1:80/sse").is_err());
}

/// The real server in-process on a thread of its own (a multi-thread runtime of two workers, as
/// the server's API tests run it), accepting `token` for publishing; its address, the token that
/// stops it, and its thread.
fn pingstream(
    token: &str,
) -> (
    SocketAddr,
    tokio_util::sync::CancellationToken,
    std::thread::JoinHandle<()>,
) {
    pingstream_with(token, |_| {})
}

/// [`pingstream`], its config changed by `adjust` first.
fn pingstream_with(
    token: &str,
    adjust: impl FnOnce(&mut server::config::Config),
) -> (
    SocketAddr,
    tokio_util::sync::CancellationToken,
    std::thread::JoinHandle<()>,
) {
    let mut config = server::config::Config::for_tests();
    config.workers = 2;
    config.interval_ms = u64::try_from(PERIOD.as_millis()).expect("a short period");
    config.static_dir = "/nonexistent-pingstream-dist".into();
    config.publish_tokens = vec![token.parse().expect("a token")];
    config.publish_rate = 10_000;
    config.publish_burst = 10_000;
    adjust(&mut config);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let (started_tx, started_rx) = mpsc::channel();
    let thread = std::thread::spawn({
        let shutdown = shutdown.clone();
        move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let application = server::startup::Application::build(config, shutdown)
                    .await
                    .expect("the server builds");
                started_tx.send(application.port()).expect("the test waits");
                application
                    .run_until_stopped()
                    .await
                    .expect("the server ran");
            });
        }
    });
    let port = started_rx.recv().expect("the server started");
    (SocketAddr::from(([127, 0, 0, 1], port)), shutdown, thread)
}

#[test]
fn notices_published_while_clients_listen_reach_every_client_once() {
    const TOKEN: &str = "bench-smoke-token";
    const CLIENTS: usize = 50;
    const NOTICES: u64 = 20;
    let (addr, shutdown, thread) = pingstream(TOKEN);
    let config = LoadConfig {
        clients: CLIENTS,
        // 20 notices at 50/s: 0.4 s, beside 3 pings at 100 ms.
        notices: Some(NoticeLoad {
            count: NOTICES,
            rate: 50,
            token: TOKEN.into(),
            topics: None,
        }),
        ..load_config(&format!("http://{addr}/sse"), None, "ours")
    };
    let result = load::run(&config).expect("a run");
    shutdown.cancel();
    thread.join().expect("the server's thread");

    // The window holds every notice and at least the pings asked for, each event of it
    // delivered once to every client, judged by seq.
    assert_eq!(result.connected, CLIENTS, "{result:#?}");
    assert_eq!(
        (result.errors, result.gaps, result.dups),
        (0, 0, 0),
        "{result:#?}"
    );
    assert!(
        result.to_seq - result.from_seq >= NOTICES + EVENTS,
        "{result:#?}"
    );
    assert_eq!(
        result.delivered,
        CLIENTS as u64 * (result.to_seq - result.from_seq),
        "{result:#?}"
    );
    assert_eq!(result.delivered, result.expected, "{result:#?}");
    let notices = result.notices.as_ref().expect("the notices' figures");
    assert_eq!(notices.requested, NOTICES, "{notices:#?}");
    assert_eq!(notices.published, NOTICES, "{notices:#?}");
    assert!(notices.failures.is_empty(), "{notices:#?}");
    assert_eq!(notices.expected, CLIENTS as u64 * NOTICES, "{notices:#?}");
    assert_eq!(notices.delivered, notices.expected, "{notices:#?}");
    for latency in [
        result.latency.expect("ping latencies"),
        notices.delivery_latency.expect("delivery latencies"),
        notices.publish_latency.expect("publish latencies"),
    ] {
        assert!(
            0.0 <= latency.p50_ms
                && latency.p50_ms <= latency.p99_ms
                && latency.p99_ms <= latency.max_ms
                && latency.max_ms < 2000.0,
            "{latency:?}"
        );
    }
    assert!(bench::report::all_clean(std::slice::from_ref(&result)));
}

/// A topic load of `clients` clients and `notices` notices at 200/s on the real server: the
/// run's result, judged already for what every topic load must show (every client connected,
/// every publish accepted, nothing but the client's own topics on any stream, no event twice,
/// every delivery the notices call for made, the figures there).
fn topic_load(mode: TopicMode, clients: usize, notices: u64) -> RunResult {
    const TOKEN: &str = "bench-smoke-topics";
    let (addr, shutdown, thread) = pingstream(TOKEN);
    let config = LoadConfig {
        clients,
        notices: Some(NoticeLoad {
            count: notices,
            rate: 200,
            token: TOKEN.into(),
            topics: None,
        }),
        topics: Some(TopicLoad {
            mode,
            idle: Duration::from_millis(300),
        }),
        ..load_config(&format!("http://{addr}/sse"), None, "ours")
    };
    let result = load::run(&config).expect("a run");
    shutdown.cancel();
    thread.join().expect("the server's thread");

    assert_eq!(result.connected, clients, "{result:#?}");
    // An event off the client's topics (a ping, another user's notice) is an error.
    assert_eq!(
        (result.errors, result.gaps, result.dups),
        (0, 0, 0),
        "{result:#?}"
    );
    let figures = result.notices.as_ref().expect("the notices' figures");
    assert_eq!(
        (figures.requested, figures.published),
        (notices, notices),
        "{figures:#?}"
    );
    assert!(figures.failures.is_empty(), "{figures:#?}");
    assert!(figures.expected > 0, "{figures:#?}");
    assert_eq!(figures.delivered, figures.expected, "{figures:#?}");
    assert_eq!(result.delivered, figures.delivered, "{result:#?}");
    let latency = figures.delivery_latency.expect("delivery latencies");
    assert!(
        0.0 <= latency.p50_ms
            && latency.p50_ms <= latency.p99_ms
            && latency.p99_ms <= latency.max_ms
            && latency.max_ms < 2000.0,
        "{latency:?}"
    );
    let topics = result.topics.as_ref().expect("the topic figures");
    assert_eq!(topics.mode, mode);
    assert!(
        topics.cpu_us_per_publish.is_some() && topics.idle_cpu_ms_per_s.is_some(),
        "{topics:#?}"
    );
    assert!(bench::report::all_clean(std::slice::from_ref(&result)));
    result
}

#[test]
fn a_notice_on_a_users_topic_reaches_that_user_alone() {
    const CLIENTS: usize = 40;
    const NOTICES: u64 = 120;
    let result = topic_load(TopicMode::PerClient, CLIENTS, NOTICES);
    // One client per notice: the deliveries are the notices, not the notices × clients.
    let figures = result.notices.as_ref().expect("the notices' figures");
    assert_eq!(figures.expected, NOTICES, "{figures:#?}");
}

#[test]
fn a_notice_on_an_orders_topic_reaches_every_orders_subscriber() {
    const CLIENTS: usize = 30;
    const NOTICES: u64 = 40;
    let result = topic_load(TopicMode::Pattern, CLIENTS, NOTICES);
    let figures = result.notices.as_ref().expect("the notices' figures");
    assert_eq!(figures.expected, CLIENTS as u64 * NOTICES, "{figures:#?}");
}

/// The ping bench on a server with `users/**` private, a `fraction` of [`CLIENTS`] clients
/// holding tokens signed with its key, their streams asking for `streams`: the run's result,
/// judged already for what every private load must show (every client connected, nothing but a
/// holder's own topics on its stream, every measured ping at every every-topic stream once).
fn private_load(fraction: f64, streams: PrivateStreams) -> RunResult {
    const KEY: &str = "bench-smoke-subscribe-key-of-32-bytes";
    let (addr, shutdown, thread) = pingstream_with("bench-smoke-private", |config| {
        config.private_topics = vec!["users/**".parse().expect("a selector")];
        config.subscribe_keys = vec![KEY.parse().expect("a key")];
    });
    let config = LoadConfig {
        private: Some(PrivateLoad {
            fraction,
            streams,
            key: Some(KEY.into()),
        }),
        ..load_config(&format!("http://{addr}/sse"), None, "ours-private")
    };
    let result = load::run(&config).expect("a run");
    shutdown.cancel();
    thread.join().expect("the server's thread");
    assert_eq!(result.connected, CLIENTS, "{result:#?}");
    assert_eq!(
        (result.errors, result.gaps, result.dups),
        (0, 0, 0),
        "{result:#?}"
    );
    assert!(result.to_seq >= result.from_seq + EVENTS, "{result:#?}");
    assert_eq!(result.delivered, result.expected, "{result:#?}");
    assert!(result.connect_cpu_ms.is_some(), "{result:#?}");
    let private = result.private.as_ref().expect("the private figures");
    assert_eq!(private.streams, streams);
    assert!(bench::report::all_clean(std::slice::from_ref(&result)));
    result
}

#[test]
fn holders_on_their_own_private_topics_get_no_pings_and_the_others_every_ping() {
    let result = private_load(0.25, PrivateStreams::PerUser);
    let holders = result
        .private
        .as_ref()
        .expect("the private figures")
        .holders;
    assert_eq!(holders, CLIENTS / 4);
    // The pings are measured on the anonymous clients alone.
    assert_eq!(
        result.expected,
        (CLIENTS - holders) as u64 * (result.to_seq - result.from_seq),
        "{result:#?}"
    );
}

#[test]
fn every_client_may_hold_a_token_and_follow_every_topic() {
    let result = private_load(1.0, PrivateStreams::EveryTopic);
    assert_eq!(
        result
            .private
            .as_ref()
            .expect("the private figures")
            .holders,
        CLIENTS
    );
    assert_eq!(
        result.expected,
        CLIENTS as u64 * (result.to_seq - result.from_seq),
        "{result:#?}"
    );
}
