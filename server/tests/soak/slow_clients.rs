//! Slow clients: streams that never read, beside streams that do, at a fast tick. The readers get
//! every event as fast as without the slow ones; memory stays bounded; the slow ones are dealt
//! with as the README's policy says: each falls behind, but a stream that is never written to
//! again cannot be told so, so it is the stall timeout (the kernel giving up on a connection
//! that accepts no data) that disconnects them and frees their slots.

use std::time::{Duration, Instant};

use bench::tally::latency;
use shared::EventId;
use tokio::io::AsyncWriteExt;

use crate::{
    Scale, figure, mib, serial,
    support::{
        Received, ServerProcess,
        raw_stream::{StreamClient, connect, stream_request},
    },
};

/// The `--client-buffer` of these runs (the server's default).
const CLIENT_BUFFER: &str = "64";
/// The `--stall-timeout-ms` of these runs: short enough that the slow clients are cut off well
/// within the run.
const STALL_TIMEOUT_MS: &str = "1000";

/// What one run saw.
struct Run {
    /// Latency of every event, microseconds from the ping's time to its arrival.
    latencies_us: Vec<i64>,
    /// Streams of readers that ended cleanly (the lag policy) and were resumed.
    resumes: usize,
    base_rss: u64,
    peak_rss: u64,
    lag_ends: u64,
    clients_after: u64,
    fds_after: usize,
    /// When only the readers were left connected, counted from the readers' start.
    slots_freed_after: Option<Duration>,
}

/// What one reader saw.
struct Reader {
    latencies_us: Vec<i64>,
    resumes: usize,
}

/// One reader, behaving as a browser does: it reads for `duration`, and should its stream end
/// cleanly (a reader starved of CPU by a busy machine can fall behind too), it reconnects with
/// its `Last-Event-ID`. Counts must follow each other with no gap across the reconnects.
async fn read_for(port: u16, i: usize, duration: Duration) -> Result<Reader, String> {
    let deadline = Instant::now() + duration;
    let mut reader = Reader {
        latencies_us: Vec::with_capacity(duration.as_millis() as usize),
        resumes: 0,
    };
    let mut last: Option<EventId> = None;
    'streams: while Instant::now() < deadline {
        let stream = connect(port, i, None)
            .await
            .map_err(|err| format!("connect: {err}"))?;
        let last_id = last.map(|id| id.to_string());
        let mut client = StreamClient::open(stream, last_id.as_deref())
            .await
            .map_err(|err| format!("head: {err}"))?;
        if client.status != 200 {
            return Err(format!("status {}", client.status));
        }
        while Instant::now() < deadline {
            let event = match client.next_event().await {
                Ok(event) => event,
                Err(end) if end.is_clean() => {
                    reader.resumes += 1;
                    continue 'streams;
                }
                Err(end) => return Err(format!("stream broke: {end:?}")),
            };
            let arrived = chrono::Utc::now();
            let Received { id, ping, .. } = event.ping()?;
            if let Some(last) = last
                && id
                    != (EventId {
                        epoch: last.epoch,
                        seq: last.seq + 1,
                    })
            {
                return Err(format!("{id} after {last}"));
            }
            last = Some(id);
            let latency = (arrived - ping.time).num_microseconds().unwrap_or(i64::MAX);
            reader.latencies_us.push(latency);
        }
    }
    Ok(reader)
}

/// `readers` readers for `duration` at a 2 ms tick, beside `slow` clients that never read, on a
/// server of their own; sources numbered from `first_source`.
async fn run(readers: usize, slow: usize, first_source: usize, duration: Duration) -> Run {
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
    let app = server.app();
    let base_rss = server.rss_kib();
    let mut stalled = Vec::new();
    for i in 0..slow {
        // A 4 KiB receive buffer: with the server's send buffer the pipe fills within a couple of
        // seconds at this tick.
        let mut stream = connect(port, first_source + readers + i, Some(4096))
            .await
            .expect("a slow client connects");
        stream
            .write_all(&stream_request(None))
            .await
            .expect("a slow client's request");
        stalled.push(stream);
    }
    let tasks: Vec<_> = (0..readers)
        .map(|i| tokio::spawn(read_for(port, first_source + i, duration)))
        .collect();
    let mut peak_rss = base_rss;
    let started = Instant::now();
    let mut slots_freed_after = None;
    let mut all_counted = false;
    // Sampled while the readers are still reading.
    while started.elapsed() + Duration::from_millis(500) < duration {
        peak_rss = peak_rss.max(server.rss_kib());
        let clients = app.connected_clients().await;
        all_counted |= clients >= (readers + slow) as u64;
        if slow > 0 && all_counted && slots_freed_after.is_none() && clients <= readers as u64 {
            slots_freed_after = Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let lag_ends = app.metric("pingstream_slow_clients_dropped_total").await;
    let clients_after = app.connected_clients().await;
    let fds_after = server.fds();
    let mut latencies_us = Vec::new();
    let mut resumes = 0;
    for task in tasks {
        let reader = task
            .await
            .expect("a reader task")
            .unwrap_or_else(|err| panic!("a reader missed events: {err}"));
        latencies_us.extend(reader.latencies_us);
        resumes += reader.resumes;
    }
    peak_rss = peak_rss.max(server.rss_kib());
    drop(stalled);
    app.wait_for_clients(0, Duration::from_secs(10)).await;
    Run {
        latencies_us,
        resumes,
        base_rss,
        peak_rss,
        lag_ends,
        clients_after,
        fds_after,
        slots_freed_after,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_neither_delay_the_readers_nor_grow_the_server() {
    let _turn = serial().await;
    let scale = Scale::get();
    // The quick run's readers are a debug build, which parses events several times slower.
    let readers = scale.pick(20, 50);
    let slow = readers;
    let duration = Duration::from_secs(scale.pick(6, 30));
    // The latency bound is measured on a shared machine: the quick run may try three times and
    // passes if one attempt meets it; the full run has one attempt. Everything else must hold in
    // every attempt.
    let attempts = scale.pick(3, 1);
    for attempt in 1..=attempts {
        // The two runs go side by side, each with its own server, so that both see the same load
        // from whatever else this machine is doing: a fair comparison on a shared machine.
        let (mut without, mut with) = tokio::join!(
            run(readers, 0, 0, duration),
            run(readers, slow, readers, duration)
        );
        let mut p99_ms = [0.0, 0.0];
        for (n, (slow, run)) in [(0, &mut without), (slow, &mut with)]
            .into_iter()
            .enumerate()
        {
            let events = run.latencies_us.len();
            let latency = latency(&mut run.latencies_us).expect("pings were read");
            p99_ms[n] = latency.p99_ms;
            figure(
                "slow clients",
                &format!(
                    "attempt {attempt}: {readers} readers + {slow} slow, 2 ms tick, {duration:?}: \
                     {events} pings read, none missed ({} resumed after a lag end); latency \
                     p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; RSS {:.1} -> peak {:.1} MiB; {} \
                     lag ends; only the readers connected after {}; near the end {} streams \
                     open, {} fds",
                    run.resumes,
                    latency.p50_ms,
                    latency.p99_ms,
                    latency.max_ms,
                    mib(run.base_rss),
                    mib(run.peak_rss),
                    run.lag_ends,
                    match (n, run.slots_freed_after) {
                        (0, _) => "-".to_owned(),
                        (_, None) => "never".to_owned(),
                        (_, Some(after)) => format!("{:.1} s", after.as_secs_f64()),
                    },
                    run.clients_after,
                    run.fds_after,
                ),
            );
        }
        // Every reader read for the whole run (a loaded machine may stretch the tick, never skip
        // it: read_for checked that the counts are consecutive).
        let expected = readers * duration.as_millis() as usize / 2;
        assert!(
            with.latencies_us.len() >= expected / 2,
            "{} pings read, expected about {expected}",
            with.latencies_us.len()
        );
        // Every slow client was disconnected by the stall timeout, its slot and its descriptor
        // given back (workers open a few descriptors of their own under load: the control run
        // shows how many).
        assert!(
            with.slots_freed_after.is_some() && with.clients_after <= readers as u64,
            "{} streams open",
            with.clients_after
        );
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
        // The ping's time is printed to the millisecond, so latencies carry up to 1 ms of
        // rounding: the bound is twice the run without slow clients, plus that resolution.
        let [p99_without, p99_with] = p99_ms;
        if p99_with <= 2.0 * p99_without + 1.0 {
            return;
        }
        assert!(
            attempt < attempts,
            "p99 {p99_with} ms with slow clients, {p99_without} ms without"
        );
    }
}
