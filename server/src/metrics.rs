//! The broker's Prometheus metrics, served as text on the admin port's `/metrics`.
//!
//! Names follow Prometheus conventions (`_total` counters, `_seconds` histograms) under the
//! `fastdata_` prefix: requests and their latency by API, errors by API and Kafka error name,
//! bytes in (produced batches) and out (fetched batches), records produced, open connections,
//! and, sampled when scraped, partitions and groups.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabels {
    api: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    api: &'static str,
    error: String,
}

fn latency_histogram() -> Histogram {
    // 50 µs to about 26 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
}

/// The broker's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<ApiLabels, Counter>,
    request_seconds: Family<ApiLabels, Histogram, fn() -> Histogram>,
    errors: Family<ErrorLabels, Counter>,
    bytes_in: Counter<u64, AtomicU64>,
    bytes_out: Counter<u64, AtomicU64>,
    records_in: Counter<u64, AtomicU64>,
    connections: Gauge,
    partitions: Gauge,
    groups: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric registered, all at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("fastdata");
        let requests = Family::<ApiLabels, Counter>::default();
        let request_seconds =
            Family::<ApiLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram as fn() -> Histogram,
            );
        let errors = Family::<ErrorLabels, Counter>::default();
        let bytes_in = Counter::default();
        let bytes_out = Counter::default();
        let records_in = Counter::default();
        let connections = Gauge::default();
        let partitions = Gauge::default();
        let groups = Gauge::default();
        registry.register(
            "kafka_requests",
            "Kafka requests handled, by API",
            requests.clone(),
        );
        registry.register(
            "kafka_request_duration_seconds",
            "Time from a request's arrival to its answer, by API",
            request_seconds.clone(),
        );
        registry.register(
            "kafka_errors",
            "Error codes returned, by API and Kafka error name",
            errors.clone(),
        );
        registry.register(
            "kafka_bytes_in",
            "Bytes of record batches produced",
            bytes_in.clone(),
        );
        registry.register(
            "kafka_bytes_out",
            "Bytes of record batches fetched",
            bytes_out.clone(),
        );
        registry.register("kafka_records_in", "Records produced", records_in.clone());
        registry.register(
            "kafka_connections",
            "Open Kafka client connections",
            connections.clone(),
        );
        registry.register("partitions", "Partitions hosted", partitions.clone());
        registry.register(
            "groups",
            "Consumer groups known to the coordinator",
            groups.clone(),
        );
        Metrics {
            registry,
            requests,
            request_seconds,
            errors,
            bytes_in,
            bytes_out,
            records_in,
            connections,
            partitions,
            groups,
        }
    }

    /// A request of `api` was answered after `seconds`.
    pub fn request(&self, api: &'static str, seconds: f64) {
        let labels = ApiLabels { api };
        self.requests.get_or_create(&labels).inc();
        self.request_seconds.get_or_create(&labels).observe(seconds);
    }

    /// `api` answered with error `code` (one count per partition or resource it applied to).
    pub fn error(&self, api: &'static str, code: i16) {
        let error =
            match fastdata_protocol::kafka_protocol::error::ResponseError::try_from_code(code) {
                Some(e) => format!("{e:?}"),
                None => code.to_string(),
            };
        self.errors.get_or_create(&ErrorLabels { api, error }).inc();
    }

    /// A produce appended `bytes` in `records` records.
    pub fn produced(&self, bytes: u64, records: u64) {
        self.bytes_in.inc_by(bytes);
        self.records_in.inc_by(records);
    }

    /// A fetch returned `bytes` of batches.
    pub fn fetched(&self, bytes: u64) {
        self.bytes_out.inc_by(bytes);
    }

    /// A connection opened (`+1`) or closed (`-1`).
    pub fn connection(&self, delta: i64) {
        self.connections.inc_by(delta);
    }

    /// The text exposition, with the sampled gauges set first.
    pub fn render(&self, partitions: usize, groups: usize) -> String {
        self.partitions
            .set(i64::try_from(partitions).unwrap_or(i64::MAX));
        self.groups.set(i64::try_from(groups).unwrap_or(i64::MAX));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_shows_what_was_recorded() {
        let m = Metrics::new();
        m.request("Produce", 0.002);
        m.error("Produce", 3);
        m.produced(1024, 10);
        let text = m.render(4, 1);
        assert!(
            text.contains("fastdata_kafka_requests_total{api=\"Produce\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "fastdata_kafka_errors_total{api=\"Produce\",error=\"UnknownTopicOrPartition\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("fastdata_kafka_bytes_in_total 1024"),
            "{text}"
        );
        assert!(text.contains("fastdata_partitions 4"), "{text}");
        assert!(
            text.contains("fastdata_kafka_request_duration_seconds_bucket"),
            "{text}"
        );
    }
}
