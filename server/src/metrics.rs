//! The server's Prometheus metrics: a few counters and gauges, and in a cluster the lease, the
//! Redis round-trip and the stream read lag, rendered for `/metrics`.

use std::{
    sync::{Arc, atomic::AtomicU64},
    time::Duration,
};

use prometheus_client::{
    encoding::text::encode,
    metrics::{
        counter::Counter,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

/// Cheap handle to the server's metrics; clones share the same numbers.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    /// Open `/sse` streams.
    connected_clients: Gauge,
    events_published: Counter,
    events_delivered: Counter,
    events_replayed: Counter,
    slow_clients_dropped: Counter,
    connections_rejected: Counter,
    /// 1 while this replica holds the cluster's ticker lease (always 0 without Redis).
    lease_holder: Gauge,
    redis_round_trip: Histogram,
    /// Age of the newest stream entry when this replica read it.
    stream_read_lag: Gauge<f64, AtomicU64>,
}

impl Metrics {
    /// Creates the metrics, all at zero, registered under the `pingstream_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("pingstream");
        let connected_clients = Gauge::default();
        let events_published = Counter::default();
        let events_delivered = Counter::default();
        let events_replayed = Counter::default();
        let slow_clients_dropped = Counter::default();
        let connections_rejected = Counter::default();
        let lease_holder = Gauge::default();
        // 0.1 ms to ~3 s.
        let redis_round_trip = Histogram::new(exponential_buckets(0.0001, 3.0, 10));
        let stream_read_lag = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "connected_clients",
            "Open event streams",
            connected_clients.clone(),
        );
        registry.register(
            "events_published",
            "Pings published by the ticker",
            events_published.clone(),
        );
        registry.register(
            "events_delivered",
            "Events handed to client streams, live and replayed",
            events_delivered.clone(),
        );
        registry.register(
            "events_replayed",
            "Events sent from history to clients that resumed with Last-Event-ID",
            events_replayed.clone(),
        );
        registry.register(
            "slow_clients_dropped",
            "Streams ended because the client fell further behind than its buffer allows",
            slow_clients_dropped.clone(),
        );
        registry.register(
            "connections_rejected",
            "Stream requests answered 503 because the server was full or stopping",
            connections_rejected.clone(),
        );
        registry.register(
            "lease_holder",
            "1 while this replica holds the cluster's ticker lease in Redis, else 0",
            lease_holder.clone(),
        );
        registry.register(
            "redis_round_trip_seconds",
            "Time of the lease and publish commands sent to Redis, reply included",
            redis_round_trip.clone(),
        );
        registry.register(
            "stream_read_lag_seconds",
            "How old the newest event read from the Redis stream was when this replica read it",
            stream_read_lag.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                connected_clients,
                events_published,
                events_delivered,
                events_replayed,
                slow_clients_dropped,
                connections_rejected,
                lease_holder,
                redis_round_trip,
                stream_read_lag,
            }),
        }
    }

    /// Sets the number of open streams.
    pub fn set_connected_clients(&self, clients: usize) {
        self.inner
            .connected_clients
            .set(i64::try_from(clients).unwrap_or(i64::MAX));
    }

    /// Counts one published ping.
    pub fn count_published(&self) {
        self.inner.events_published.inc();
    }

    /// Counts events handed to one client stream.
    pub fn count_delivered(&self, events: u64) {
        self.inner.events_delivered.inc_by(events);
    }

    /// Counts events replayed from history.
    pub fn count_replayed(&self, events: u64) {
        self.inner.events_replayed.inc_by(events);
    }

    /// Counts one stream ended for falling behind.
    pub fn count_slow_client_dropped(&self) {
        self.inner.slow_clients_dropped.inc();
    }

    /// Counts one stream request turned away.
    pub fn count_rejected(&self) {
        self.inner.connections_rejected.inc();
    }

    /// Sets whether this replica holds the ticker lease.
    pub fn set_lease_holder(&self, holder: bool) {
        self.inner.lease_holder.set(i64::from(holder));
    }

    /// Records one Redis command's round-trip.
    pub fn observe_redis_round_trip(&self, took: Duration) {
        self.inner.redis_round_trip.observe(took.as_secs_f64());
    }

    /// Sets how old the newest event read from the stream was when it was read.
    pub fn set_stream_read_lag(&self, lag: Duration) {
        self.inner.stream_read_lag.set(lag.as_secs_f64());
    }

    /// Renders every metric in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        encode(&mut text, &self.inner.registry).expect("formatting into a String is infallible");
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_every_metric_with_its_value() {
        let metrics = Metrics::new();
        metrics.set_connected_clients(3);
        metrics.count_published();
        metrics.count_delivered(5);
        metrics.count_replayed(2);
        metrics.count_slow_client_dropped();
        metrics.count_rejected();
        metrics.set_lease_holder(true);
        metrics.observe_redis_round_trip(Duration::from_millis(2));
        metrics.set_stream_read_lag(Duration::from_millis(1500));
        let text = metrics.render();
        for line in [
            "pingstream_connected_clients 3",
            "pingstream_events_published_total 1",
            "pingstream_events_delivered_total 5",
            "pingstream_events_replayed_total 2",
            "pingstream_slow_clients_dropped_total 1",
            "pingstream_connections_rejected_total 1",
            "pingstream_lease_holder 1",
            "pingstream_redis_round_trip_seconds_count 1",
            "pingstream_stream_read_lag_seconds 1.5",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
