//! Slow clients: streams that never read, beside streams that do, at a fast tick. The readers get
//! every event as fast as without the slow ones; memory stays bounded; the slow ones are dealt
//! with as the README's policy says: each falls behind, but a stream that is never written to
//! again cannot be told so, so it is the stall timeout (the kernel giving up on a connection
//! that accepts no data) that disconnects them and frees their slots.

use std::time::{Duration, Instant};

use shared::{EventId, Ping};
use tokio::io::AsyncWriteExt;

use crate::{
    Scale,
    client::{StreamClient, connect, quantile, source, stream_request},
    figure,
    process::{ServerProcess, metric, mib, wait_for_clients},
    serial,
};

const READERS: usize = 50;
const SLOW: usize = 50;
/// The `--client-buffer` of these runs (the server's default).
const CLIENT_BUFFER: &str = "64";
/// The `--stall-timeout-ms` of these runs: short enough that the slow clients are cut off well
/// within the run.
const STALL_TIMEOUT_MS: &str = "1000";

/// What the readers of one run saw.
struct Run {
    /// Latency of every event, microseconds from the ping's time to its arrival.
    latencies_us: Vec<u64>,
    events: usize,
    base_rss: u64,
    peak_rss: u64,
    slow_dropped: u64,
    clients_after: u64,
    base_fds: usize,
    fds_after: usize,
    /// When only the readers were left connected, counted from the readers' start.
    slots_freed_after: Option<Duration>,
}

/// One reader: every event's latency, and a check that counts follow each other with no gap.
async fn read_for(port: u16, i: usize, duration: Duration) -> Result<Vec<u64>, String> {
    let stream = connect(port, source(i), None)
        .await
        .map_err(|err| format!("connect: {err}"))?;
    let mut client = StreamClient::open(stream, None)
        .await
        .map_err(|err| format!("head: {err}"))?;
    if client.status != 200 {
        return Err(format!("status {}", client.status));
    }
    let deadline = Instant::now() + duration;
    let mut latencies = Vec::with_capacity(duration.as_millis() as usize);
    let mut previous: Option<u64> = None;
    while Instant::now() < deadline {
        let event = client
            .next_event()
            .await
            .map_err(|end| format!("stream ended: {end:?}"))?;
        let arrived = chrono::Utc::now();
        let ping: Ping = serde_json::from_str(&event.data).map_err(|err| err.to_string())?;
        let id: EventId = event.id.parse().map_err(|err| format!("{err}"))?;
        if id.count != ping.count {
            return Err(format!("id {id} carries count {}", ping.count));
        }
        if let Some(previous) = previous
            && ping.count != previous + 1
        {
            return Err(format!("count {} after {previous}", ping.count));
        }
        previous = Some(ping.count);
        let latency = (arrived - ping.time).num_microseconds().unwrap_or(i64::MAX);
        latencies.push(u64::try_from(latency).unwrap_or(0));
    }
    Ok(latencies)
}

/// `READERS` readers for `duration` at a 2 ms tick, beside `slow` clients that never read, on a
/// server of their own; sources numbered from `first_source`.
async fn run(slow: usize, first_source: usize, duration: Duration) -> Run {
    let server = ServerProcess::start(
        0,
        &[
            "--interval-ms",
            "2",
            "--client-buffer",
            CLIENT_BUFFER,
            "--stall-timeout-ms",
            STALL_TIMEOUT_MS,
            "--workers",
            "2",
        ],
    );
    let port = server.port;
    let base_rss = server.rss_kib();
    let base_fds = server.fds();
    let mut stalled = Vec::new();
    for i in 0..slow {
        // A 4 KiB receive buffer: with the server's 64 KiB send buffer the pipe fills in a
        // couple of seconds at this tick.
        let mut stream = connect(port, source(first_source + 2 * READERS + i), Some(4096))
            .await
            .expect("a slow client connects");
        stream
            .write_all(stream_request(None).as_bytes())
            .await
            .expect("a slow client's request");
        stalled.push(stream);
    }
    let readers: Vec<_> = (0..READERS)
        .map(|i| tokio::spawn(read_for(port, first_source + i, duration)))
        .collect();
    let mut peak_rss = base_rss;
    let started = Instant::now();
    let mut slots_freed_after = None;
    // Sampled while the readers are still reading.
    while started.elapsed() + Duration::from_millis(500) < duration {
        peak_rss = peak_rss.max(server.rss_kib());
        if slots_freed_after.is_none()
            && crate::process::connected_clients(port).await == READERS as u64
        {
            slots_freed_after = Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let slow_dropped = metric(port, "pingstream_slow_clients_dropped_total").await;
    let clients_after = crate::process::connected_clients(port).await;
    let fds_after = server.fds();
    let mut latencies_us = Vec::new();
    for reader in readers {
        let latencies = reader
            .await
            .expect("a reader task")
            .unwrap_or_else(|err| panic!("a reader missed events: {err}"));
        latencies_us.extend(latencies);
    }
    peak_rss = peak_rss.max(server.rss_kib());
    drop(stalled);
    wait_for_clients(port, 0, Duration::from_secs(10))
        .await
        .expect("every stream ends");
    Run {
        events: latencies_us.len(),
        latencies_us,
        base_rss,
        peak_rss,
        slow_dropped,
        clients_after,
        base_fds,
        fds_after,
        slots_freed_after,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_neither_delay_the_readers_nor_grow_the_server() {
    let _turn = serial().await;
    let duration = Duration::from_secs(Scale::get().pick(6, 30));
    // The two runs go side by side, each with its own server, so that both see the same load
    // from whatever else this machine is doing: a fair comparison on a shared machine.
    let (mut without, mut with) = tokio::join!(run(0, 0, duration), run(SLOW, READERS, duration));
    let summary = |run: &mut Run| {
        let p50 = quantile(&mut run.latencies_us, 0.5);
        let p99 = quantile(&mut run.latencies_us, 0.99);
        let max = quantile(&mut run.latencies_us, 1.0);
        (p50, p99, max)
    };
    let (p50_without, p99_without, max_without) = summary(&mut without);
    let (p50_with, p99_with, max_with) = summary(&mut with);
    for (label, run, p50, p99, max) in [
        ("0 slow", &without, p50_without, p99_without, max_without),
        ("50 slow", &with, p50_with, p99_with, max_with),
    ] {
        figure(
            "slow clients",
            &format!(
                "{READERS} readers + {label}, 2 ms tick, {duration:?}: {} events, none missed; \
                 latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; RSS {:.1} -> peak {:.1} MiB; \
                 {} streams ended on lag; only the readers connected after {}; near the end {} \
                 streams open and {} fds (from {})",
                run.events,
                p50 as f64 / 1000.0,
                p99 as f64 / 1000.0,
                max as f64 / 1000.0,
                mib(run.base_rss),
                mib(run.peak_rss),
                run.slow_dropped,
                run.slots_freed_after.map_or_else(
                    || "never".to_owned(),
                    |after| format!("{:.1} s", after.as_secs_f64())
                ),
                run.clients_after,
                run.fds_after,
                run.base_fds,
            ),
        );
    }
    // Every reader read for the whole run at one ping per 2 ms (a loaded machine may stretch
    // the tick, never skip it: the counts were checked to be consecutive).
    let expected = READERS * duration.as_millis() as usize / 2;
    assert!(
        with.events >= expected / 2,
        "{} events, expected about {expected}",
        with.events
    );
    // The ping's time is printed to the millisecond, so latencies carry up to 1 ms of rounding:
    // the bound is twice the run without slow clients, plus that resolution.
    assert!(
        p99_with <= 2 * p99_without + 1000,
        "p99 {p99_with} µs with slow clients, {p99_without} µs without"
    );
    // No reader was ever ended (read_for checked that); every slow client was disconnected by
    // the stall timeout, its slot and its descriptor given back.
    assert_eq!(without.slow_dropped, 0);
    assert_eq!(with.clients_after, READERS as u64);
    // Workers open a few descriptors of their own under load; the run without slow clients
    // shows how many.
    assert!(
        with.fds_after <= without.fds_after + 2,
        "{} fds near the end, {} in the run without slow clients",
        with.fds_after,
        without.fds_after
    );
    assert!(
        with.peak_rss <= with.base_rss + 50 * 1024,
        "RSS went from {:.1} to {:.1} MiB",
        mib(with.base_rss),
        mib(with.peak_rss)
    );
}
