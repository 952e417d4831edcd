//! The load tool against both baseline servers, in-process on port 0: every client connects,
//! every event arrives once, and the numbers come out.

use std::{
    net::{SocketAddr, TcpListener},
    sync::mpsc,
    time::Duration,
};

use bench::{
    floor::FloorServer,
    load::{self, LoadConfig, RunResult},
    naive::{self, TickClock},
    target::Target,
};

const PERIOD: Duration = Duration::from_millis(100);
const CLIENTS: usize = 40;
const EVENTS: u64 = 3;

fn load(addr: SocketAddr, label: &str) -> RunResult {
    let config = LoadConfig {
        target: Target::parse(&format!("http://{addr}/sse")).expect("loopback URL"),
        clients: CLIENTS,
        events: EVENTS,
        interval: PERIOD,
        source_spread: 4,
        connect_concurrency: 16,
        handshake_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(10),
        // The test process stands in for the server: it exercises the /proc sampling.
        server_pid: Some(std::process::id()),
        label: label.into(),
    };
    load::run(&config).expect("a run")
}

fn assert_clean(result: &RunResult) {
    assert_eq!(result.connected, CLIENTS, "{result:#?}");
    assert_eq!(result.errors, 0, "{result:#?}");
    assert_eq!(result.gaps, 0, "{result:#?}");
    assert_eq!(result.dups, 0, "{result:#?}");
    assert_eq!(result.delivered, CLIENTS as u64 * EVENTS, "{result:#?}");
    assert!(result.connect_ms.is_some(), "{result:#?}");
    let latency = result.latency.expect("latencies");
    assert!(
        latency.p50_ms >= 0.0 && latency.max_ms < 1000.0,
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

#[test]
fn only_loopback_targets_are_accepted() {
    assert!(Target::parse("http://192.168.1.1:80/sse").is_err());
}
