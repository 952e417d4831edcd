//! The server's Prometheus metrics: a few counters and one gauge, rendered for `/metrics`.

use std::sync::Arc;

use prometheus_client::{
    encoding::text::encode,
    metrics::{counter::Counter, gauge::Gauge},
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
        Self {
            inner: Arc::new(Inner {
                registry,
                connected_clients,
                events_published,
                events_delivered,
                events_replayed,
                slow_clients_dropped,
                connections_rejected,
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
        let text = metrics.render();
        for line in [
            "pingstream_connected_clients 3",
            "pingstream_events_published_total 1",
            "pingstream_events_delivered_total 5",
            "pingstream_events_replayed_total 2",
            "pingstream_slow_clients_dropped_total 1",
            "pingstream_connections_rejected_total 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
