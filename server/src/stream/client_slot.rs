//! The places for open streams: at most `max_clients` are taken at once, each is given back the
//! moment its stream is dropped, and shutdown waits on them to know that every stream has ended.
//!
//! A place is also given back when its stream makes no progress for a long while
//! ([`ClientSlots::free_stalled`]): an HTTP/2 stream whose client never reopens its flow-control
//! window is never polled again, so it can neither end itself nor be dropped while its connection
//! lives, and would hold its place forever. Its stream ends the next time it is polled.

use std::{
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{sync::Notify, time::Instant};

use crate::metrics::Metrics;

/// Cheap, cloneable handle to the pool of places; all clones share it.
#[derive(Clone)]
pub struct ClientSlots {
    inner: Arc<Inner>,
}

struct Inner {
    /// Places taken now.
    open: AtomicUsize,
    max: usize,
    metrics: Metrics,
    /// Woken when the last place is given back, for [`ClientSlots::drained`].
    emptied: Notify,
    /// When the pool was made: progress is counted in milliseconds since.
    started: Instant,
    /// The progress of every taken place (dead entries are pruned as places are taken).
    watched: Mutex<Vec<Weak<Progress>>>,
}

/// When a place's stream last sent something, and whether its place was given back already.
struct Progress {
    last_ms: AtomicU64,
    freed: AtomicBool,
}

/// One taken place; given back when dropped (the stream that holds it ended, or the client left),
/// or when [`ClientSlots::free_stalled`] finds its stream stalled.
pub struct ClientSlot {
    inner: Arc<Inner>,
    progress: Arc<Progress>,
}

impl Inner {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Gives one place back (the caller makes sure each place is given back once).
    fn give_back(&self) {
        let before = self.open.fetch_sub(1, Ordering::AcqRel);
        self.metrics.set_connected_clients(before - 1);
        if before == 1 {
            self.emptied.notify_waiters();
        }
    }
}

impl ClientSlot {
    /// Records that the stream holding this place just sent something.
    pub fn progressed(&self) {
        self.progress
            .last_ms
            .store(self.inner.now_ms(), Ordering::Relaxed);
    }

    /// Whether the place was given back because the stream stalled: the stream must end.
    pub fn is_freed(&self) -> bool {
        self.progress.freed.load(Ordering::Acquire)
    }
}

impl ClientSlots {
    /// A pool of `max` places, all free; the number taken is reported to `metrics`.
    pub fn new(max: usize, metrics: Metrics) -> Self {
        Self {
            inner: Arc::new(Inner {
                open: AtomicUsize::new(0),
                max,
                metrics,
                emptied: Notify::new(),
                started: Instant::now(),
                watched: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Takes a place, or `None` when all `max` are taken. Exact under any contention: the count
    /// never goes past `max`, not even for a moment.
    pub fn take(&self) -> Option<ClientSlot> {
        let max = self.inner.max;
        let taken = self
            .inner
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < max).then_some(open + 1)
            })
            .ok()?;
        self.inner.metrics.set_connected_clients(taken + 1);
        let progress = Arc::new(Progress {
            last_ms: AtomicU64::new(self.inner.now_ms()),
            freed: AtomicBool::new(false),
        });
        let mut watched = self.watched();
        // Pruned when it has grown to twice what is open: amortised O(1) per place.
        if watched.len() >= 2 * (taken + 1) + 64 {
            watched.retain(|progress| progress.strong_count() > 0);
        }
        watched.push(Arc::downgrade(&progress));
        drop(watched);
        Some(ClientSlot {
            inner: Arc::clone(&self.inner),
            progress,
        })
    }

    fn watched(&self) -> std::sync::MutexGuard<'_, Vec<Weak<Progress>>> {
        self.inner
            .watched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives back the places of streams that sent nothing for `after`, and returns how many.
    /// A healthy stream sends at least a heartbeat every heartbeat period, so `after` a few of
    /// them, a stream that sent nothing is stalled: its client stopped taking data (an HTTP/2
    /// flow-control window never reopened).
    pub fn free_stalled(&self, after: Duration) -> usize {
        let now = self.inner.now_ms();
        let after_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
        let mut freed = 0;
        let mut watched = self.watched();
        watched.retain(|progress| {
            let Some(progress) = progress.upgrade() else {
                return false;
            };
            let last = progress.last_ms.load(Ordering::Relaxed);
            if now.saturating_sub(last) < after_ms {
                return true;
            }
            if !progress.freed.swap(true, Ordering::AcqRel) {
                self.inner.give_back();
                freed += 1;
            }
            false
        });
        freed
    }

    /// Places taken now.
    pub fn open(&self) -> usize {
        self.inner.open.load(Ordering::Acquire)
    }

    /// The most places there are.
    pub fn max(&self) -> usize {
        self.inner.max
    }

    /// Returns once no place is taken: every stream that held one has been dropped. The caller
    /// makes sure no new one is taken meanwhile (the hub refuses new streams once closed).
    pub async fn drained(&self) {
        loop {
            // Register before looking, so a give-back between the two is not missed.
            let emptied = self.inner.emptied.notified();
            let mut emptied = std::pin::pin!(emptied);
            emptied.as_mut().enable();
            if self.open() == 0 {
                return;
            }
            emptied.await;
        }
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if !self.progress.freed.swap(true, Ordering::AcqRel) {
            self.inner.give_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::FutureExt as _;

    use super::*;

    #[test]
    fn the_limit_is_exact_and_places_come_back() {
        let slots = ClientSlots::new(2, Metrics::new());
        let first = slots.take().expect("a first place");
        let second = slots.take().expect("a second place");
        assert!(slots.take().is_none());
        assert_eq!(slots.open(), 2);
        drop(first);
        assert_eq!(slots.open(), 1);
        assert!(slots.take().is_some(), "the place given back is free again");
        drop(second);
        assert_eq!(slots.open(), 0);
    }

    #[test]
    fn the_gauge_follows_the_places() {
        let metrics = Metrics::new();
        let slots = ClientSlots::new(3, metrics.clone());
        let taken: Vec<_> = (0..3).filter_map(|_| slots.take()).collect();
        assert!(
            metrics
                .render()
                .contains("pingstream_connected_clients 3\n")
        );
        drop(taken);
        assert!(
            metrics
                .render()
                .contains("pingstream_connected_clients 0\n")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn drained_returns_when_the_last_place_is_given_back() {
        let slots = ClientSlots::new(4, Metrics::new());
        assert!(
            slots.drained().now_or_never().is_some(),
            "nothing taken: drained at once"
        );
        let first = slots.take().expect("a place");
        let second = slots.take().expect("a place");
        let waiter = tokio::spawn({
            let slots = slots.clone();
            async move { slots.drained().await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(first);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiter.is_finished(), "one stream is still open");
        drop(second);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("drained once the last place is back")
            .expect("the waiter does not panic");
    }

    #[tokio::test(start_paused = true)]
    async fn a_place_without_progress_is_given_back_once_and_its_stream_told() {
        let slots = ClientSlots::new(2, Metrics::new());
        let stalled = slots.take().expect("a place");
        let busy = slots.take().expect("a place");
        assert!(slots.take().is_none());
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            busy.progressed();
            assert_eq!(slots.free_stalled(Duration::from_millis(4500)), 0);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        busy.progressed();
        assert_eq!(slots.free_stalled(Duration::from_millis(4500)), 1);
        assert!(stalled.is_freed() && !busy.is_freed());
        assert_eq!(slots.open(), 1);
        let newcomer = slots.take().expect("the stalled stream's place");
        // The stalled stream's own drop does not give its place back a second time.
        drop(stalled);
        assert_eq!(slots.open(), 2);
        assert_eq!(slots.free_stalled(Duration::from_millis(4500)), 0);
        drop((busy, newcomer));
        assert_eq!(slots.open(), 0);
    }
}
