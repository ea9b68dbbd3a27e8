//! The node's configuration: Cassandra's `cassandra.yaml` names with dots for underscores
//! (`native_transport_port` → `native.transport.port`) and Cassandra's defaults wherever
//! Cassandra has the setting, through the same [`config_table!`](crate::config_table) as the
//! broker (TOML file, `FASTDATA_*` variables, flags, `--print-config`).

use std::net::SocketAddr;
use std::path::PathBuf;

use fastdata_kv::api::{CommitlogSync, StoreConfig};

use crate::config::{ConfigError, ConfigTable};

crate::config_table! {
    /// The node's configuration; see the module documentation for its sources.
    NodeConfig {
    /// Where the store keeps its data (RocksDB, the host id).
    "data.dir" => data_dir: String = "./data".to_string();
    /// The cluster's name (system.local cluster_name).
    "cluster.name" => cluster_name: String = "fastdata".to_string();
    /// The address the CQL native transport binds (Cassandra's rpc_address).
    "native.transport.address" => native_transport_address: String = "127.0.0.1".to_string();
    /// The CQL native transport port (0 picks a free one).
    "native.transport.port" => native_transport_port: i32 = 9042;
    /// The address clients are told to reach the node at (system.local rpc_address; empty:
    /// the bound address).
    "broadcast.rpc.address" => broadcast_rpc_address: String = String::new();
    /// The HTTP admin listener (/health, /ready, /metrics), HOST:PORT.
    "admin.listener" => admin_listener: String = "127.0.0.1:9645".to_string();
    /// Tokens the node owns on the ring, spread evenly when first generated.
    "num.tokens" => num_tokens: i32 = 16;
    /// When a write is durable: periodic (WAL synced every commitlog.sync.period.ms) or
    /// batch (synced before the answer, with group commit).
    "commitlog.sync" => commitlog_sync: String = "periodic".to_string();
    /// How often the WAL is synced in periodic mode.
    "commitlog.sync.period.ms" => commitlog_sync_period_ms: i64 = 10_000;
    /// How long a batch-mode group commit waits for more writers.
    "commitlog.sync.group.window.ms" => commitlog_sync_group_window_ms: i64 = 2;
    /// Largest CQL frame accepted, header included; a larger one is answered Invalid and
    /// skipped.
    "native.transport.max.frame.size.bytes" => native_transport_max_frame_size_bytes: i64 = 16 << 20;
    /// Most client connections served at once; further ones are closed on accept.
    "native.transport.max.concurrent.connections" => native_transport_max_concurrent_connections: i64 = 1000;
    /// Requests of one connection in flight at once (streams answered out of order); beyond
    /// it the node stops reading that connection until answers drain.
    "native.transport.max.requests.per.connection" => native_transport_max_requests_per_connection: i32 = 1024;
    /// Request bytes read but not yet answered, across all connections (Cassandra's
    /// native_transport_max_request_data_in_flight); beyond it the node reads no new request
    /// until answers drain. At least native.transport.max.frame.size.bytes.
    "native.transport.max.request.data.in.flight.bytes" => native_transport_max_request_data_in_flight_bytes: i64 = 256 << 20;
    /// Schema-change events buffered for each registered connection; one that falls further
    /// behind misses the oldest (drivers re-read the schema on the next one).
    "native.transport.event.queue.size" => native_transport_event_queue_size: i32 = 1024;
    /// Largest value a statement may bind or write; a larger one is Invalid.
    "max.value.size.bytes" => max_value_size_bytes: i64 = 1 << 20;
    /// Batches larger than this are logged with a warning.
    "batch.size.warn.threshold.bytes" => batch_size_warn_threshold_bytes: i64 = 5 << 10;
    /// Batches larger than this are Invalid.
    "batch.size.fail.threshold.bytes" => batch_size_fail_threshold_bytes: i64 = 50 << 10;
    /// Prepared statements kept; the least recently used are evicted (drivers re-prepare on
    /// Unprepared).
    "prepared.statements.cache.size" => prepared_statements_cache_size: i64 = 10_000;
    /// Largest page served: a larger requested page size is served as pages of this size.
    "max.page.size.rows" => max_page_size_rows: i64 = 10_000;
    /// Most partition keys (or clustering values) an IN restriction may select.
    "max.in.list.size" => max_in_list_size: i64 = 1000;
    /// Largest unpaged result; a larger one is Invalid (page it).
    "max.result.size.bytes" => max_result_size_bytes: i64 = 16 << 20;
    /// RocksDB's block cache, shared by every table.
    "block.cache.size.bytes" => block_cache_size_bytes: i64 = 64 << 20;
    /// RocksDB's memtables, all tables together.
    "memtable.total.size.bytes" => memtable_total_size_bytes: i64 = 256 << 20;
    /// How long a clean shutdown waits for requests in flight before closing the store.
    "shutdown.timeout.ms" => shutdown_timeout_ms: i64 = 30_000;
    }
}

fn positive(value: i64) -> Option<usize> {
    usize::try_from(value).ok().filter(|&v| v > 0)
}

impl NodeConfig {
    fn invalid(&self, key: &str, reason: &str) -> ConfigError {
        ConfigError::InvalidValue {
            key: key.to_string(),
            value: self.get(key).unwrap_or_default(),
            source_name: "configuration".to_string(),
            reason: reason.to_string(),
        }
    }

    /// Check the ranges and combinations the node cannot work with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positives: [(&str, i64); 14] = [
            ("num.tokens", self.num_tokens.into()),
            ("commitlog.sync.period.ms", self.commitlog_sync_period_ms),
            (
                "native.transport.max.frame.size.bytes",
                self.native_transport_max_frame_size_bytes,
            ),
            (
                "native.transport.max.concurrent.connections",
                self.native_transport_max_concurrent_connections,
            ),
            (
                "native.transport.max.requests.per.connection",
                self.native_transport_max_requests_per_connection.into(),
            ),
            (
                "native.transport.event.queue.size",
                self.native_transport_event_queue_size.into(),
            ),
            ("max.value.size.bytes", self.max_value_size_bytes),
            (
                "batch.size.warn.threshold.bytes",
                self.batch_size_warn_threshold_bytes,
            ),
            (
                "batch.size.fail.threshold.bytes",
                self.batch_size_fail_threshold_bytes,
            ),
            (
                "prepared.statements.cache.size",
                self.prepared_statements_cache_size,
            ),
            ("max.page.size.rows", self.max_page_size_rows),
            ("max.in.list.size", self.max_in_list_size),
            ("max.result.size.bytes", self.max_result_size_bytes),
            ("block.cache.size.bytes", self.block_cache_size_bytes),
        ];
        for (key, value) in positives {
            if positive(value).is_none() {
                return Err(self.invalid(key, "must be positive"));
            }
        }
        for (key, value) in [
            (
                "commitlog.sync.group.window.ms",
                self.commitlog_sync_group_window_ms,
            ),
            ("memtable.total.size.bytes", self.memtable_total_size_bytes),
            ("shutdown.timeout.ms", self.shutdown_timeout_ms),
        ] {
            if value < 0 {
                return Err(self.invalid(key, "must not be negative"));
            }
        }
        if u16::try_from(self.native_transport_port).is_err() {
            return Err(self.invalid("native.transport.port", "must be 0 to 65535"));
        }
        if self.native_transport_max_frame_size_bytes < 9 {
            return Err(self.invalid(
                "native.transport.max.frame.size.bytes",
                "must hold at least a frame header (9 bytes)",
            ));
        }
        if self.native_transport_max_request_data_in_flight_bytes
            < self.native_transport_max_frame_size_bytes
            || self.native_transport_max_request_data_in_flight_bytes > i64::from(u32::MAX)
        {
            return Err(self.invalid(
                "native.transport.max.request.data.in.flight.bytes",
                "must be at least native.transport.max.frame.size.bytes and at most 4294967295",
            ));
        }
        if self.native_transport_max_frame_size_bytes > i64::from(u32::MAX) {
            return Err(self.invalid(
                "native.transport.max.frame.size.bytes",
                "must be at most 4294967295",
            ));
        }
        if self.batch_size_warn_threshold_bytes > self.batch_size_fail_threshold_bytes {
            return Err(self.invalid(
                "batch.size.warn.threshold.bytes",
                "must not exceed batch.size.fail.threshold.bytes",
            ));
        }
        self.commitlog_sync_mode()?;
        if self.cluster_name.is_empty() {
            return Err(self.invalid("cluster.name", "must not be empty"));
        }
        Ok(())
    }

    fn commitlog_sync_mode(&self) -> Result<CommitlogSync, ConfigError> {
        match self.commitlog_sync.to_ascii_lowercase().as_str() {
            "periodic" => Ok(CommitlogSync::Periodic),
            "batch" => Ok(CommitlogSync::Batch),
            _ => Err(self.invalid("commitlog.sync", "must be periodic or batch")),
        }
    }

    /// The native transport's HOST:PORT to bind.
    pub fn native_transport_listener(&self) -> String {
        let host = self.native_transport_address.trim();
        if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{}", self.native_transport_port)
        } else {
            format!("{host}:{}", self.native_transport_port)
        }
    }

    /// The store's configuration, with clients reaching the node at `rpc_address`.
    pub fn store_config(&self, rpc_address: SocketAddr) -> Result<StoreConfig, ConfigError> {
        self.validate()?;
        let size = |v: i64| usize::try_from(v).unwrap_or(usize::MAX);
        let ms = |v: i64| u64::try_from(v).unwrap_or(0);
        let mut store = StoreConfig::new(PathBuf::from(&self.data_dir));
        store.cluster_name = self.cluster_name.clone();
        store.num_tokens = u32::try_from(self.num_tokens).unwrap_or(1);
        store.rpc_address = rpc_address;
        store.commitlog_sync = self.commitlog_sync_mode()?;
        store.commitlog_sync_period_ms = ms(self.commitlog_sync_period_ms);
        store.commitlog_sync_group_window_ms = ms(self.commitlog_sync_group_window_ms);
        store.max_value_size_bytes = size(self.max_value_size_bytes);
        store.batch_size_warn_threshold_bytes = size(self.batch_size_warn_threshold_bytes);
        store.batch_size_fail_threshold_bytes = size(self.batch_size_fail_threshold_bytes);
        store.prepared_statements_cache_size = size(self.prepared_statements_cache_size);
        store.max_page_size_rows = size(self.max_page_size_rows);
        store.max_in_list_size = size(self.max_in_list_size);
        store.max_result_size_bytes = size(self.max_result_size_bytes);
        store.block_cache_size_bytes = size(self.block_cache_size_bytes);
        store.memtable_total_size_bytes = size(self.memtable_total_size_bytes);
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_scheme_and_defaults_are_cassandras() {
        for key in NodeConfig::KEYS {
            assert!(
                !key.name.contains('_') && !key.name.contains('-'),
                "{}",
                key.name
            );
            assert!(
                NodeConfig::default().get(key.name).is_some(),
                "{}",
                key.name
            );
        }
        let config = NodeConfig::default();
        config.validate().unwrap();
        assert_eq!(config.native_transport_listener(), "127.0.0.1:9042");
        assert_eq!(
            config.native_transport_max_frame_size_bytes,
            16 * 1024 * 1024
        );
        assert_eq!(config.batch_size_warn_threshold_bytes, 5 * 1024);
        assert_eq!(config.batch_size_fail_threshold_bytes, 50 * 1024);
        let key = NodeConfig::KEYS
            .iter()
            .find(|k| k.name == "native.transport.port")
            .unwrap();
        assert_eq!(key.flag(), "native-transport-port");
        assert_eq!(key.env_var(), "FASTDATA_NATIVE_TRANSPORT_PORT");
    }

    #[test]
    fn the_store_gets_every_store_setting() {
        let mut config = NodeConfig::default();
        for (key, value) in [
            ("data.dir", "/tmp/n"),
            ("cluster.name", "c1"),
            ("num.tokens", "4"),
            ("commitlog.sync", "batch"),
            ("commitlog.sync.group.window.ms", "0"),
            ("max.value.size.bytes", "100"),
            ("prepared.statements.cache.size", "7"),
            ("max.page.size.rows", "50"),
        ] {
            config.set(key, value, "test").unwrap();
        }
        let addr: SocketAddr = "127.0.0.3:9999".parse().unwrap();
        let store = config.store_config(addr).unwrap();
        assert_eq!(store.data_dir, PathBuf::from("/tmp/n"));
        assert_eq!(store.cluster_name, "c1");
        assert_eq!(store.num_tokens, 4);
        assert_eq!(store.rpc_address, addr);
        assert_eq!(store.commitlog_sync, CommitlogSync::Batch);
        assert_eq!(store.commitlog_sync_group_window_ms, 0);
        assert_eq!(store.max_value_size_bytes, 100);
        assert_eq!(store.prepared_statements_cache_size, 7);
        assert_eq!(store.max_page_size_rows, 50);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (key, value) in [
            ("commitlog.sync", "sometimes"),
            ("native.transport.port", "70000"),
            ("native.transport.max.requests.per.connection", "0"),
            ("native.transport.max.frame.size.bytes", "8"),
            ("native.transport.max.request.data.in.flight.bytes", "1000"),
            ("batch.size.warn.threshold.bytes", "999999"),
        ] {
            let mut config = NodeConfig::default();
            config.set(key, value, "flag").unwrap();
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn ipv6_addresses_are_bracketed() {
        let mut config = NodeConfig::default();
        config
            .set("native.transport.address", "::1", "flag")
            .unwrap();
        config.set("native.transport.port", "0", "flag").unwrap();
        assert_eq!(config.native_transport_listener(), "[::1]:0");
    }
}
