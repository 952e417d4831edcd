//! Crash and restart: the server is SIGKILLed under its clients and started again on the same
//! port. Every client reconnects with the `Last-Event-ID` of the dead run and gets a clean start
//! of the new run (its first ping, a new epoch), never a replay that pretends to continue the old
//! one.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use shared::EventId;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::{
    Scale, figure, serial,
    support::{
        ServerProcess, free_port,
        raw_stream::{End, StreamClient, connect},
    },
    until_count,
};

/// Everything one client received, in order, with the ends of its streams between.
#[derive(Debug, Default)]
struct Log {
    /// One entry per stream: the ids it delivered and how it ended.
    streams: Vec<(Vec<EventId>, Option<End>)>,
}

/// A client that reconnects at once whenever its stream ends, sending the last id it saw.
async fn follow(
    port: u16,
    i: usize,
    log: Arc<Mutex<Log>>,
    received: Arc<AtomicUsize>,
    stop: CancellationToken,
) {
    let mut last_id: Option<String> = None;
    while !stop.is_cancelled() {
        let Ok(stream) = connect(port, i, None).await else {
            // Refused while the server is down: try again shortly, as a browser would.
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let Ok(mut client) = StreamClient::open(stream, last_id.as_deref()).await else {
            continue;
        };
        assert_eq!(client.status, 200, "client {i}: {}", client.head);
        log.lock().await.streams.push((Vec::new(), None));
        loop {
            let next = tokio::select! {
                next = client.next_event() => next,
                () = stop.cancelled() => return,
            };
            match next {
                Ok(event) => {
                    let id = event
                        .ping()
                        .unwrap_or_else(|err| panic!("client {i}: {err}"))
                        .id;
                    last_id = Some(event.id);
                    let mut log = log.lock().await;
                    let current = log.streams.last_mut().expect("the stream's entry");
                    if current.0.is_empty() {
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    current.0.push(id);
                }
                Err(end) => {
                    log.lock()
                        .await
                        .streams
                        .last_mut()
                        .expect("the stream's entry")
                        .1 = Some(end);
                    break;
                }
            }
        }
    }
}

/// Waits until `received` reaches `target`; how long that took.
async fn wait_for(received: &AtomicUsize, target: usize, deadline: Duration) -> Duration {
    until_count(received, target, deadline)
        .await
        .unwrap_or_else(|got| panic!("{got} of {target} streams got a ping within {deadline:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_sigkill_and_restart_clients_continue_with_a_clean_new_run() {
    let _turn = serial().await;
    let scale = Scale::get();
    let clients = scale.pick(50, 1_000);
    let crashes = scale.pick(2, 3);
    let port = free_port();
    let args = ["--interval-ms", "50", "--workers", "2"];
    let mut server = ServerProcess::start(port, &args);
    let stop = CancellationToken::new();
    let received = Arc::new(AtomicUsize::new(0));
    let logs: Vec<_> = (0..clients)
        .map(|_| Arc::new(Mutex::new(Log::default())))
        .collect();
    let tasks: Vec<_> = logs
        .iter()
        .enumerate()
        .map(|(i, log)| {
            tokio::spawn(follow(
                port,
                i,
                Arc::clone(log),
                Arc::clone(&received),
                stop.clone(),
            ))
        })
        .collect();
    wait_for(&received, clients, Duration::from_secs(30)).await;
    for crash in 1..=crashes {
        // Let every stream run a little in this run.
        tokio::time::sleep(Duration::from_millis(500)).await;
        server.kill();
        let killed = Instant::now();
        server = ServerProcess::start(port, &args);
        let restarted = killed.elapsed();
        let back = wait_for(&received, clients * (crash + 1), Duration::from_secs(30)).await;
        figure(
            "crash-restart",
            &format!(
                "SIGKILL {crash}/{crashes} under {clients} streams: restarted in {:.0} ms, \
                 every client streaming the new run {:.0} ms later",
                restarted.as_secs_f64() * 1000.0,
                back.as_secs_f64() * 1000.0
            ),
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    for task in tasks {
        task.await.expect("a client task");
    }

    let mut eofs = 0;
    let mut resets = 0;
    for (i, log) in logs.iter().enumerate() {
        let log = log.lock().await;
        // Streams that delivered something, one per run: connection attempts that found the
        // server gone before its first ping are not runs.
        let runs: Vec<_> = log
            .streams
            .iter()
            .filter(|(ids, _)| !ids.is_empty())
            .collect();
        assert_eq!(runs.len(), crashes + 1, "client {i}: {:?}", log.streams);
        for (n, (ids, end)) in runs.iter().enumerate() {
            for pair in ids.windows(2) {
                assert_eq!(pair[1].epoch, pair[0].epoch, "client {i}: epoch changed");
                assert_eq!(pair[1].seq, pair[0].seq + 1, "client {i}: gap or repeat");
            }
            if n > 0 {
                let before = runs[n - 1].0.last().expect("ids");
                let first = ids[0];
                // A clean restart: the new run's first ping, not a "continuation" of the old.
                assert_ne!(
                    first.epoch, before.epoch,
                    "client {i}: same epoch after a restart"
                );
                assert_eq!(first.seq, 1, "client {i}: the new run started at {first}");
            }
            if n < crashes {
                match end {
                    Some(End::Eof) => eofs += 1,
                    Some(End::Broken(_)) => resets += 1,
                    other => panic!("client {i}: a killed server's stream ended as {other:?}"),
                }
            }
        }
    }
    figure(
        "crash-restart",
        &format!(
            "{} killed streams seen to end ({eofs} at EOF, {resets} by reset); every reconnect \
             with a dead run's Last-Event-ID began at count 1 of the new epoch, then no gap",
            eofs + resets
        ),
    );
}
