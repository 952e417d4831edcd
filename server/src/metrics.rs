//! The server's Prometheus metrics: the stream's events by name, its clients, its history, the
//! publish API's answers and latency, and in a cluster the lease, the Redis round-trip and the
//! stream read lag, rendered for `/metrics`.

use std::{
    sync::{Arc, atomic::AtomicU64},
    time::Duration,
};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::{Metric, Registry},
};
use shared::SelectionKind;

/// A monotonic counter; clones count into the same number.
pub type Counter = prometheus_client::metrics::counter::Counter;

/// Cheap handle to the server's metrics; clones share the same numbers.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

/// The `event` label: an event's SSE name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabel {
    event: String,
}

/// The `address` label: a Redis master's `host:port`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AddressLabel {
    address: String,
}

/// The `selection` label of open streams: `all`, `exact` or `pattern` (never a topic: topics are
/// unbounded).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SelectionLabel {
    selection: &'static str,
}

/// The `reason` label of a refused publish.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

struct Inner {
    registry: Registry,
    /// Open `/sse` streams.
    connected_clients: Gauge,
    /// Open streams by what they subscribed to; the three gauges of `streams_family`, looked up
    /// once (all, exact, pattern).
    streams: [Gauge; 3],
    topic_index_topics: Gauge,
    topic_index_patterns: Gauge,
    events_published: Family<EventLabel, Counter>,
    events_delivered: Family<EventLabel, Counter>,
    events_replayed: Counter,
    history_bytes: Gauge,
    slow_clients_dropped: Counter,
    stalled_streams_freed: Counter,
    connections_rejected: Counter,
    publish_rejected: Family<ReasonLabel, Counter>,
    publish_latency: Histogram,
    /// 1 while this replica holds the cluster's ticker lease (always 0 without Redis).
    lease_holder: Gauge,
    redis_round_trip: Histogram,
    redis_entries_skipped: Family<ReasonLabel, Counter>,
    /// 1 for the master this replica writes to now, 0 for those it wrote to before.
    redis_master: Family<AddressLabel, Gauge>,
    redis_master_changes: Counter,
    redis_master_unavailable: prometheus_client::metrics::counter::Counter<f64, AtomicU64>,
    /// Age of the newest stream entry when this replica read it.
    stream_read_lag: Gauge<f64, AtomicU64>,
}

/// Registers `metric` under `name` with its help text and hands it back.
fn registered<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

impl Inner {
    /// Every metric, registered with its help text. Longer than a function should be, and on
    /// purpose: one registration per metric, in the order `/metrics` lists them, is a table that
    /// a reader scans for a name; split up, the table would only be scattered.
    fn new() -> Self {
        let mut registry = Registry::with_prefix("pingstream");
        let r = &mut registry;
        let streams: Family<SelectionLabel, Gauge> = registered(
            r,
            "streams",
            "Open event streams by what they subscribed to: every topic (all), exact topics only (exact), or at least one pattern (pattern)",
            Family::default(),
        );
        Self {
            connected_clients: registered(
                r,
                "connected_clients",
                "Open event streams",
                Gauge::default(),
            ),
            streams: [
                SelectionKind::All,
                SelectionKind::Exact,
                SelectionKind::Pattern,
            ]
            .map(|kind| {
                streams
                    .get_or_create(&SelectionLabel {
                        selection: kind.as_str(),
                    })
                    .clone()
            }),
            topic_index_topics: registered(
                r,
                "topic_index_topics",
                "Exact topics that open streams subscribed to (entries of the fan-out index)",
                Gauge::default(),
            ),
            topic_index_patterns: registered(
                r,
                "topic_index_patterns",
                "Distinct topic patterns that open streams subscribed to, each matched once per event",
                Gauge::default(),
            ),
            events_published: registered(
                r,
                "events_published",
                "Events that entered this server's stream, by event name (in a cluster: read from the shared Redis stream, whichever replica published them)",
                Family::default(),
            ),
            events_delivered: registered(
                r,
                "events_delivered",
                "Events handed to client streams, live and replayed, by event name",
                Family::default(),
            ),
            events_replayed: registered(
                r,
                "events_replayed",
                "Events sent from history to clients that resumed with Last-Event-ID",
                Counter::default(),
            ),
            history_bytes: registered(
                r,
                "history_bytes",
                "Bytes of the events kept in history to answer Last-Event-ID (bounded by --history-bytes)",
                Gauge::default(),
            ),
            slow_clients_dropped: registered(
                r,
                "slow_clients_dropped",
                "Streams ended because the client fell further behind than its buffer allows",
                Counter::default(),
            ),
            stalled_streams_freed: registered(
                r,
                "stalled_streams_freed",
                "Streams whose place was given back because they took no data for 5 heartbeat periods (an HTTP/2 window never reopened)",
                Counter::default(),
            ),
            connections_rejected: registered(
                r,
                "connections_rejected",
                "Stream requests answered 503 because the server was full or stopping",
                Counter::default(),
            ),
            publish_rejected: registered(
                r,
                "publish_rejected",
                "POST /events/{name} requests refused, by reason (the error code of the answer)",
                Family::default(),
            ),
            // 0.1 ms to ~2 s.
            publish_latency: registered(
                r,
                "publish_latency_seconds",
                "Time from an accepted POST /events/{name} to its event being in the stream (in a cluster: in Redis)",
                Histogram::new(exponential_buckets(0.0001, 3.0, 10)),
            ),
            lease_holder: registered(
                r,
                "lease_holder",
                "1 while this replica holds the cluster's ticker lease in Redis, else 0",
                Gauge::default(),
            ),
            // 0.1 ms to ~2 s.
            redis_round_trip: registered(
                r,
                "redis_round_trip_seconds",
                "Time of the lease, tick and publish commands sent to Redis, reply included",
                Histogram::new(exponential_buckets(0.0001, 3.0, 10)),
            ),
            redis_entries_skipped: registered(
                r,
                "redis_entries_skipped",
                "Entries of the shared Redis stream that were not relayed, by reason: malformed (a field missing or malformed), unknown_event (a name outside the event set), too_large (data over the publish size limit), invalid_event (not the event's JSON, or breaking its rules)",
                Family::default(),
            ),
            redis_master: registered(
                r,
                "redis_master",
                "1 for the Redis master this replica uses now (by address), 0 for earlier ones",
                Family::default(),
            ),
            redis_master_changes: registered(
                r,
                "redis_master_changes",
                "Times this replica found the Redis master at a new address (a Sentinel failover)",
                Counter::default(),
            ),
            redis_master_unavailable: registered(
                r,
                "redis_master_unavailable_seconds",
                "Seconds this replica had no writable Redis master, summed over every outage",
                prometheus_client::metrics::counter::Counter::default(),
            ),
            stream_read_lag: registered(
                r,
                "stream_read_lag_seconds",
                "How old the newest event read from the Redis stream was when this replica read it",
                Gauge::default(),
            ),
            registry,
        }
    }
}

impl Metrics {
    /// Creates the metrics, all at zero, registered under the `pingstream_` prefix.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner::new()),
        }
    }

    /// Sets the number of open streams.
    pub fn set_connected_clients(&self, clients: usize) {
        self.inner
            .connected_clients
            .set(i64::try_from(clients).unwrap_or(i64::MAX));
    }

    /// Adds `change` (1 or -1) to the open streams of `kind`.
    pub fn add_stream(&self, kind: SelectionKind, change: i64) {
        let at = match kind {
            SelectionKind::All => 0,
            SelectionKind::Exact => 1,
            SelectionKind::Pattern => 2,
        };
        self.inner.streams[at].inc_by(change);
    }

    /// Sets the size of the topic index: exact topics and distinct patterns listed.
    pub fn set_topic_index(&self, topics: usize, patterns: usize) {
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.inner.topic_index_topics.set(gauge(topics));
        self.inner.topic_index_patterns.set(gauge(patterns));
    }

    /// Counts one event named `name` entering the stream.
    pub fn count_published(&self, name: &str) {
        self.inner
            .events_published
            .get_or_create(&EventLabel {
                event: name.to_owned(),
            })
            .inc();
    }

    /// The delivery counter of events named `name`: looked up once per event, then counted
    /// into by every stream the event is handed to.
    pub fn delivered(&self, name: &str) -> Counter {
        self.inner
            .events_delivered
            .get_or_create(&EventLabel {
                event: name.to_owned(),
            })
            .clone()
    }

    /// Counts events replayed from history.
    pub fn count_replayed(&self, events: u64) {
        self.inner.events_replayed.inc_by(events);
    }

    /// Sets the bytes the history holds.
    pub fn set_history_bytes(&self, bytes: usize) {
        self.inner
            .history_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Counts one stream ended for falling behind.
    pub fn count_slow_client_dropped(&self) {
        self.inner.slow_clients_dropped.inc();
    }

    /// Counts streams whose place was given back because they stalled.
    pub fn count_stalled_freed(&self, streams: usize) {
        self.inner
            .stalled_streams_freed
            .inc_by(u64::try_from(streams).unwrap_or(u64::MAX));
    }

    /// Counts one stream request turned away.
    pub fn count_rejected(&self) {
        self.inner.connections_rejected.inc();
    }

    /// Counts one publish refused for `reason` (the error code it was answered with).
    pub fn count_publish_rejected(&self, reason: &str) {
        self.inner
            .publish_rejected
            .get_or_create(&ReasonLabel {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Records how long one accepted publish took to reach the stream.
    pub fn observe_publish_latency(&self, took: Duration) {
        self.inner.publish_latency.observe(took.as_secs_f64());
    }

    /// Sets whether this replica holds the ticker lease.
    pub fn set_lease_holder(&self, holder: bool) {
        self.inner.lease_holder.set(i64::from(holder));
    }

    /// Records one Redis command's round-trip.
    pub fn observe_redis_round_trip(&self, took: Duration) {
        self.inner.redis_round_trip.observe(took.as_secs_f64());
    }

    /// Counts one entry of the shared stream that was not relayed.
    pub fn count_redis_entry_skipped(&self, reason: &'static str) {
        self.inner
            .redis_entries_skipped
            .get_or_create(&ReasonLabel {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Records the first Redis master found, at `address`.
    pub fn set_redis_master(&self, address: &str) {
        self.redis_master_at(address).set(1);
    }

    /// Records that the Redis master moved from `previous` to `current`.
    pub fn count_redis_master_change(&self, previous: &str, current: &str) {
        self.redis_master_at(previous).set(0);
        self.redis_master_at(current).set(1);
        self.inner.redis_master_changes.inc();
    }

    fn redis_master_at(&self, address: &str) -> Gauge {
        self.inner
            .redis_master
            .get_or_create(&AddressLabel {
                address: address.to_owned(),
            })
            .clone()
    }

    /// Adds one outage without a writable Redis master.
    pub fn add_redis_master_unavailable(&self, took: Duration) {
        self.inner
            .redis_master_unavailable
            .inc_by(took.as_secs_f64());
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
pub(crate) mod tests {
    use super::*;

    /// The value of the sample `name` (with its labels, if any) in a rendered text.
    pub(crate) fn value(text: &str, name: &str) -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
            .parse()
            .expect("a number")
    }

    #[test]
    fn render_lists_every_metric_with_its_value() {
        let metrics = Metrics::new();
        metrics.set_connected_clients(3);
        metrics.add_stream(SelectionKind::Pattern, 1);
        metrics.set_topic_index(7, 2);
        metrics.count_published("notice");
        metrics.delivered("ping").inc_by(5);
        metrics.count_replayed(2);
        metrics.set_history_bytes(4096);
        metrics.count_slow_client_dropped();
        metrics.count_stalled_freed(2);
        metrics.count_rejected();
        metrics.count_publish_rejected("rate_limited");
        metrics.observe_publish_latency(Duration::from_millis(1));
        metrics.set_lease_holder(true);
        metrics.observe_redis_round_trip(Duration::from_millis(2));
        metrics.count_redis_entry_skipped("malformed");
        metrics.set_redis_master("10.0.0.1:6379");
        metrics.count_redis_master_change("10.0.0.1:6379", "10.0.0.2:6379");
        metrics.add_redis_master_unavailable(Duration::from_millis(2500));
        metrics.set_stream_read_lag(Duration::from_millis(1500));
        let text = metrics.render();
        for line in [
            "pingstream_connected_clients 3",
            "pingstream_streams{selection=\"all\"} 0",
            "pingstream_streams{selection=\"pattern\"} 1",
            "pingstream_topic_index_topics 7",
            "pingstream_topic_index_patterns 2",
            "pingstream_events_published_total{event=\"notice\"} 1",
            "pingstream_events_delivered_total{event=\"ping\"} 5",
            "pingstream_events_replayed_total 2",
            "pingstream_history_bytes 4096",
            "pingstream_slow_clients_dropped_total 1",
            "pingstream_stalled_streams_freed_total 2",
            "pingstream_connections_rejected_total 1",
            "pingstream_publish_rejected_total{reason=\"rate_limited\"} 1",
            "pingstream_publish_latency_seconds_count 1",
            "pingstream_lease_holder 1",
            "pingstream_redis_round_trip_seconds_count 1",
            "pingstream_redis_entries_skipped_total{reason=\"malformed\"} 1",
            "pingstream_redis_master{address=\"10.0.0.1:6379\"} 0",
            "pingstream_redis_master{address=\"10.0.0.2:6379\"} 1",
            "pingstream_redis_master_changes_total 1",
            "pingstream_redis_master_unavailable_seconds_total 2.5",
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
