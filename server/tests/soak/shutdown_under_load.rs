//! Shutdown under load: SIGTERM with thousands of streams open. The process exits within a second
//! and every client sees its response end whole (the terminating chunk), none cut mid-event.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::Semaphore;

use crate::{
    Scale, figure, serial,
    support::{
        ServerProcess,
        raw_stream::{End, open_to_first_ping},
    },
    until_count,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_ends_every_stream_whole_and_exits_within_a_second() {
    let _turn = serial().await;
    let clients = Scale::get().pick(2_000, 10_000);
    let max_clients = clients.to_string();
    let server = ServerProcess::start(
        0,
        &[
            "--interval-ms",
            "500",
            "--max-clients",
            &max_clients,
            "--workers",
            "2",
        ],
    );
    let port = server.port;
    let opened = Arc::new(AtomicUsize::new(0));
    // Connecting thousands at once would overflow the listen backlog into SYN retries; a few
    // hundred in flight is fast and still a crowd.
    let connecting = Arc::new(Semaphore::new(200));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let opened = Arc::clone(&opened);
            let connecting = Arc::clone(&connecting);
            tokio::spawn(async move {
                let permit = connecting.acquire_owned().await.expect("the semaphore");
                let mut client = open_to_first_ping(port, i)
                    .await
                    .unwrap_or_else(|err| panic!("stream {i}: {err}"));
                drop(permit);
                opened.fetch_add(1, Ordering::Relaxed);
                client.until_end().await
            })
        })
        .collect();
    until_count(&opened, clients, Duration::from_secs(120))
        .await
        .unwrap_or_else(|open| panic!("{open} of {clients} streams open after 120 s"));
    server
        .app()
        .wait_for_clients(clients as u64, Duration::from_secs(10))
        .await;
    let connected_in = started.elapsed();
    // Let a few pings flow to everyone, so the shutdown lands on busy streams.
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let (took, status) = server.terminate().await;

    let mut ends: Vec<(End, usize)> = Vec::with_capacity(clients);
    for task in tasks {
        let end = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("every stream ends within 10 s of the SIGTERM")
            .expect("a client task");
        ends.push(end);
    }
    let terminated = ends
        .iter()
        .filter(|(end, _)| *end == End::Terminated)
        .count();
    let then_reset = ends
        .iter()
        .filter(|(end, _)| *end == End::TerminatedThenReset)
        .count();
    let events: usize = ends.iter().map(|(_, events)| events).sum();
    let unclean: Vec<_> = ends.iter().filter(|(end, _)| !end.is_clean()).collect();
    figure(
        "shutdown under load",
        &format!(
            "{clients} streams open (connected in {:.1} s); SIGTERM -> exit in {:.0} ms ({status}); \
             {terminated} ended with the terminating chunk then EOF, {then_reset} with the \
             terminating chunk then a reset, {} cut; {events} pings read between",
            connected_in.as_secs_f64(),
            took.as_secs_f64() * 1000.0,
            unclean.len(),
        ),
    );
    assert!(status.success(), "the server exited with {status}");
    assert!(
        took <= Duration::from_secs(1),
        "SIGTERM to exit took {took:?}"
    );
    assert!(
        unclean.is_empty(),
        "{} of {clients} streams did not end whole, first {:?}",
        unclean.len(),
        unclean.first()
    );
}
