//! The node's Prometheus metrics, served on the admin port's `/metrics` beside the broker's.
//!
//! Names under `fastdata_cql_` for the native transport: requests and their latency by
//! opcode, errors by opcode and Cassandra's error name, open connections, events pushed; and
//! under `fastdata_store_`, sampled from the store when scraped: read and write latencies,
//! rows read, cells written, and RocksDB's figures (memtables, SST files, block cache,
//! compactions, estimated keys).

use std::sync::{Arc, Mutex};

use fastdata_kv::api::{LatencyHistogram, StoreMetrics};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpcodeLabels {
    opcode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    opcode: &'static str,
    error: &'static str,
}

fn latency_histogram() -> Histogram {
    // 20 µs to about 10 s.
    Histogram::new(exponential_buckets(0.000_02, 2.0, 20))
}

/// Cassandra's name of an ERROR code (spec v4 §9), for labels.
pub fn error_name(code: i32) -> &'static str {
    match code {
        0x0000 => "Server",
        0x000A => "Protocol",
        0x0100 => "Authentication",
        0x1000 => "Unavailable",
        0x1001 => "Overloaded",
        0x1002 => "IsBootstrapping",
        0x1003 => "Truncate",
        0x1100 => "WriteTimeout",
        0x1200 => "ReadTimeout",
        0x1300 => "ReadFailure",
        0x1400 => "FunctionFailure",
        0x1500 => "WriteFailure",
        0x2000 => "Syntax",
        0x2100 => "Unauthorized",
        0x2200 => "Invalid",
        0x2300 => "Config",
        0x2400 => "AlreadyExists",
        0x2500 => "Unprepared",
        _ => "Unknown",
    }
}

/// The store's figures as of the last scrape, encoded by the registry (which owns its
/// collectors; the node keeps the other handle to update them).
#[derive(Debug, Default)]
struct StoreFigures(Arc<Mutex<StoreMetrics>>);

fn encode_latency(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    h: &LatencyHistogram,
) -> Result<(), std::fmt::Error> {
    let mut buckets: Vec<(f64, u64)> = h
        .bounds_us
        .iter()
        .map(|&b| (b as f64 / 1e6, 0))
        .chain(std::iter::once((f64::MAX, 0)))
        .collect();
    for (bucket, &count) in buckets.iter_mut().zip(&h.counts) {
        bucket.1 = count;
    }
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
    metric.encode_histogram::<NoLabelSet>(h.sum_us as f64 / 1e6, h.count, &buckets, None)
}

impl Collector for StoreFigures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let m = self.0.lock().map(|m| m.clone()).unwrap_or_default();
        encode_latency(
            &mut encoder,
            "store_read_duration_seconds",
            "Time the store took to run statements that read",
            &m.reads,
        )?;
        encode_latency(
            &mut encoder,
            "store_write_duration_seconds",
            "Time the store took to run statements that write",
            &m.writes,
        )?;
        let counters: [(&str, &str, u64); 4] = [
            ("store_rows_read", "Rows returned by reads", m.rows_read),
            ("store_cells_written", "Cells written", m.cells_written),
            ("store_errors", "Statements that failed", m.errors),
            (
                "store_compactions",
                "RocksDB compactions of tables since the store opened",
                m.compactions_total,
            ),
        ];
        for (name, help, value) in counters {
            let c = ConstCounter::new(value);
            c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)?;
        }
        let gauges: [(&str, &str, u64); 8] = [
            (
                "store_memtable_bytes",
                "RocksDB memtable bytes",
                m.memtable_bytes,
            ),
            ("store_sst_bytes", "RocksDB SST file bytes", m.sst_bytes),
            (
                "store_block_cache_usage_bytes",
                "RocksDB block cache bytes in use",
                m.block_cache_usage_bytes,
            ),
            (
                "store_block_cache_capacity_bytes",
                "RocksDB block cache capacity",
                m.block_cache_capacity_bytes,
            ),
            (
                "store_compactions_running",
                "RocksDB compactions running",
                m.compactions_running,
            ),
            (
                "store_pending_compaction_bytes",
                "RocksDB's estimate of bytes compaction must rewrite",
                m.pending_compaction_bytes,
            ),
            (
                "store_estimated_keys",
                "RocksDB's estimate of the cells stored",
                m.estimated_keys,
            ),
            ("store_up", "1 while the store is open", 1),
        ];
        for (name, help, value) in gauges {
            let g = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        Ok(())
    }
}

/// The node's metrics.
pub struct NodeMetrics {
    registry: Registry,
    requests: Family<OpcodeLabels, Counter>,
    request_seconds: Family<OpcodeLabels, Histogram, fn() -> Histogram>,
    errors: Family<ErrorLabels, Counter>,
    connections: Gauge,
    events: Counter,
    held_back: Counter,
    store: Arc<Mutex<StoreMetrics>>,
}

impl std::fmt::Debug for NodeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeMetrics").finish_non_exhaustive()
    }
}

impl Default for NodeMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl NodeMetrics {
    /// Every metric registered, all at zero.
    pub fn new() -> NodeMetrics {
        let mut registry = Registry::with_prefix("fastdata");
        let requests = Family::<OpcodeLabels, Counter>::default();
        let request_seconds =
            Family::<OpcodeLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram as fn() -> Histogram,
            );
        let errors = Family::<ErrorLabels, Counter>::default();
        let connections = Gauge::default();
        let events = Counter::default();
        let held_back = Counter::default();
        registry.register(
            "cql_requests",
            "CQL requests answered, by opcode",
            requests.clone(),
        );
        registry.register(
            "cql_request_duration_seconds",
            "Time from a CQL request's arrival to its answer, by opcode",
            request_seconds.clone(),
        );
        registry.register(
            "cql_errors",
            "CQL ERROR answers, by the request's opcode and the error",
            errors.clone(),
        );
        registry.register(
            "cql_connections",
            "Open CQL client connections",
            connections.clone(),
        );
        registry.register(
            "cql_events",
            "SCHEMA_CHANGE events pushed to registered connections",
            events.clone(),
        );
        registry.register(
            "cql_writes_held_back",
            "Writes run on an async worker that RocksDB would have held back (a write stall), \
             run again on a blocking thread",
            held_back.clone(),
        );
        let store = Arc::new(Mutex::new(StoreMetrics::default()));
        registry.register_collector(Box::new(StoreFigures(store.clone())));
        NodeMetrics {
            registry,
            requests,
            request_seconds,
            errors,
            connections,
            events,
            held_back,
            store,
        }
    }

    /// A request of `opcode` was answered after `seconds`.
    pub fn request(&self, opcode: &'static str, seconds: f64) {
        let labels = OpcodeLabels { opcode };
        self.requests.get_or_create(&labels).inc();
        self.request_seconds.get_or_create(&labels).observe(seconds);
    }

    /// A request of `opcode` was answered with ERROR `code`.
    pub fn error(&self, opcode: &'static str, code: i32) {
        self.errors
            .get_or_create(&ErrorLabels {
                opcode,
                error: error_name(code),
            })
            .inc();
    }

    /// A connection opened (`+1`) or closed (`-1`).
    pub fn connection(&self, delta: i64) {
        self.connections.inc_by(delta);
    }

    /// An event was pushed to a connection.
    pub fn event(&self) {
        self.events.inc();
    }

    /// A write run on an async worker was held back and goes to a blocking thread.
    pub fn held_back(&self) {
        self.held_back.inc();
    }

    /// The text exposition, with the store's figures as `store` reports them now.
    pub fn render(&self, store: StoreMetrics) -> String {
        if let Ok(mut figures) = self.store.lock() {
            *figures = store;
        }
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
    fn render_shows_requests_errors_and_the_stores_figures() {
        let m = NodeMetrics::new();
        m.request("QUERY", 0.001);
        m.error("EXECUTE", 0x2500);
        m.connection(1);
        let store = StoreMetrics {
            reads: LatencyHistogram {
                bounds_us: vec![100, 1000],
                counts: vec![2, 1, 1],
                sum_us: 3000,
                count: 4,
            },
            rows_read: 17,
            memtable_bytes: 4096,
            ..StoreMetrics::default()
        };
        let text = m.render(store);
        for expected in [
            "fastdata_cql_requests_total{opcode=\"QUERY\"} 1",
            "fastdata_cql_errors_total{opcode=\"EXECUTE\",error=\"Unprepared\"} 1",
            "fastdata_cql_connections 1",
            "fastdata_store_rows_read_total 17",
            "fastdata_store_memtable_bytes 4096",
            "fastdata_store_read_duration_seconds_count 4",
            "fastdata_store_read_duration_seconds_bucket{le=\"0.001\"} 3",
            "fastdata_store_read_duration_seconds_bucket{le=\"+Inf\"} 4",
        ] {
            assert!(text.contains(expected), "{expected}\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn error_names_are_cassandras() {
        assert_eq!(error_name(0x2200), "Invalid");
        assert_eq!(error_name(0x000A), "Protocol");
        assert_eq!(error_name(0x2400), "AlreadyExists");
        assert_eq!(error_name(0x7777), "Unknown");
    }
}
