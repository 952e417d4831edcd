//! The places for open streams: at most `max_clients` are taken at once, each is given back the
//! moment its stream is dropped, and shutdown waits on them to know that every stream has ended.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use tokio::sync::Notify;

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
}

/// One taken place; given back when dropped (the stream that holds it ended, or the client left).
pub struct ClientSlot {
    inner: Arc<Inner>,
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
        Some(ClientSlot {
            inner: Arc::clone(&self.inner),
        })
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
        let before = self.inner.open.fetch_sub(1, Ordering::AcqRel);
        self.inner.metrics.set_connected_clients(before - 1);
        if before == 1 {
            self.inner.emptied.notify_waiters();
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
}
