//! Pauses between attempts to reach Redis, for the cluster's loops.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Exponentially growing pauses between attempts to reach Redis: soon after a blip, rarely
/// during an outage, never a busy loop.
pub(super) struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(2);

    pub(super) fn new() -> Self {
        Self { next: Self::FIRST }
    }

    /// Back to short pauses, after a success.
    pub(super) fn reset(&mut self) {
        self.next = Self::FIRST;
    }

    /// Sleeps the next pause; `false` if `shutdown` fired meanwhile.
    pub(super) async fn wait(&mut self, shutdown: &CancellationToken) -> bool {
        let pause = self.next;
        self.next = (pause * 2).min(Self::MAX);
        tokio::select! {
            () = shutdown.cancelled() => false,
            () = tokio::time::sleep(pause) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_up_to_its_cap_and_resets() {
        let shutdown = CancellationToken::new();
        let mut backoff = Backoff::new();
        let mut pauses = Vec::new();
        for _ in 0..7 {
            let started = tokio::time::Instant::now();
            assert!(backoff.wait(&shutdown).await);
            pauses.push(started.elapsed().as_millis());
        }
        assert_eq!(pauses, [100, 200, 400, 800, 1600, 2000, 2000]);
        backoff.reset();
        shutdown.cancel();
        assert!(!backoff.wait(&shutdown).await);
    }
}
