//! A crowd of streams, each opened to its first ping, a hundred at a time: churn opens and drops
//! thousands to see them served and let go; memory opens and keeps thousands to weigh them. Both
//! need the same pool of workers, so that the load each puts on the server is the same shape.

use std::{
    ops::Range,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use crate::support::raw_stream::{StreamClient, open_to_first_ping};

/// Streams being opened at once.
pub const CONCURRENCY: usize = 100;

/// What opening a crowd gave.
pub struct Crowd<T> {
    /// What `keep` made of every stream that reached its first ping.
    pub opened: Vec<T>,
    /// What went wrong with the others, one line each, naming the stream.
    pub failures: Vec<String>,
}

impl<T> Crowd<T> {
    /// The streams, if every one of them opened; else what went wrong.
    pub fn all(self) -> Result<Vec<T>, Vec<String>> {
        if self.failures.is_empty() {
            Ok(self.opened)
        } else {
            Err(self.failures)
        }
    }
}

/// Opens streams `indices`, [`CONCURRENCY`] at a time, each from its own spread loopback source,
/// reads each one's head and first ping (within 10 s), and hands the open stream to `keep`:
/// `drop` hangs up at once, `identity` keeps it open.
pub async fn open_crowd<T: Send + 'static>(
    port: u16,
    indices: Range<usize>,
    keep: fn(StreamClient) -> T,
) -> Crowd<T> {
    let next = Arc::new(AtomicUsize::new(indices.start));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let next = Arc::clone(&next);
            let end = indices.end;
            tokio::spawn(async move {
                let mut opened = Vec::new();
                let mut failures = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= end {
                        return Crowd { opened, failures };
                    }
                    match tokio::time::timeout(Duration::from_secs(10), open_to_first_ping(port, i))
                        .await
                    {
                        Ok(Ok(client)) => opened.push(keep(client)),
                        Ok(Err(err)) => failures.push(format!("stream {i}: {err}")),
                        Err(_) => failures.push(format!("stream {i}: not open after 10 s")),
                    }
                }
            })
        })
        .collect();
    let mut crowd = Crowd {
        opened: Vec::with_capacity(indices.len()),
        failures: Vec::new(),
    };
    for worker in workers {
        let part = worker.await.expect("an opening worker");
        crowd.opened.extend(part.opened);
        crowd.failures.extend(part.failures);
    }
    crowd
}
