//! Memory per idle stream: what the server's resident memory grows by for each open stream that
//! has had its first ping and waits for the next. Keeping this small is what the carried
//! actix-http patch is for (vendor/README.md: 1 KiB instead of 8 KiB connection buffers), so this
//! is the test that fails when the saving is gone in practice: the `[patch]` no longer used, or
//! upstream's buffer sizes back.

use std::{convert::identity, time::Duration};

use crate::{Scale, crowd::open_crowd, figure, mib, serial, support::ServerProcess};

/// The most resident memory one idle stream may add, in KiB. With the patched actix-http a
/// stream measures ~4.5 KiB, with the published one ~11 (BENCHMARKS.md, optimisation 2).
const MAX_KIB_PER_STREAM: f64 = 8.0;

/// Streams opened, and kept open, before the baseline is read: the worker threads' allocator
/// arenas and whatever else the first connections set up once are not charged to the measured
/// ones.
const WARM_UP: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_stream_costs_the_server_at_most_8_kib() {
    let _turn = serial().await;
    let streams = Scale::get().pick(2_500, 10_000);
    // A 10-minute period and no keep-alives: after its first ping a stream is idle, as most are
    // between two events.
    let server = ServerProcess::start(
        0,
        &[
            "--interval-ms",
            "600000",
            "--keep-alive-s",
            "0",
            "--max-clients",
            "20000",
            "--workers",
            "2",
        ],
    );
    let port = server.port;
    let app = server.app();
    let warm = open_crowd(port, 0..WARM_UP, identity)
        .await
        .all()
        .unwrap_or_else(|failures| panic!("warm-up: {} failed: {failures:?}", failures.len()));
    app.wait_for_clients(WARM_UP as u64, Duration::from_secs(10))
        .await;
    let base_rss = server.rss_kib();

    let measured = open_crowd(port, WARM_UP..WARM_UP + streams, identity)
        .await
        .all()
        .unwrap_or_else(|failures| {
            panic!(
                "{} of {streams} streams failed, first {:?}",
                failures.len(),
                failures.first()
            )
        });
    app.wait_for_clients((WARM_UP + streams) as u64, Duration::from_secs(10))
        .await;
    let rss = server.rss_kib();
    let per_stream = rss.saturating_sub(base_rss) as f64 / streams as f64;
    figure(
        "memory",
        &format!(
            "{streams} idle streams: RSS {:.1} -> {:.1} MiB, {per_stream:.2} KiB per stream \
             (at most {MAX_KIB_PER_STREAM})",
            mib(base_rss),
            mib(rss),
        ),
    );
    assert!(
        per_stream <= MAX_KIB_PER_STREAM,
        "each idle stream costs the server {per_stream:.2} KiB of resident memory, over \
         {MAX_KIB_PER_STREAM} KiB: is the patched actix-http of vendor/ still what the server is \
         built with? (scripts/vendor-actix-http.sh --check)"
    );
    drop(measured);
    drop(warm);
}
