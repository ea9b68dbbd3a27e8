//! The store's interface to the CQL service: requests in, results out, as the native protocol
//! (v4) carries them. The server (`server/src/node`) decodes frames into these types, calls
//! [`crate::Store`] on a blocking thread, and encodes what it returns; it never looks inside a
//! statement. Values cross this boundary in their protocol serialization (`Bytes`, the
//! encoding of [`fastdata_cql::Value::encode`]), typed by the [`ColumnSpec`]s of the
//! statement's metadata.

use bytes::Bytes;
use fastdata_cql::CqlType;
use uuid::Uuid;

/// CQL consistency levels, with their protocol codes (spec v4 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Consistency {
    Any = 0x0000,
    One = 0x0001,
    Two = 0x0002,
    Three = 0x0003,
    Quorum = 0x0004,
    All = 0x0005,
    LocalQuorum = 0x0006,
    EachQuorum = 0x0007,
    Serial = 0x0008,
    LocalSerial = 0x0009,
    LocalOne = 0x000A,
}

impl Consistency {
    /// The level with protocol code `code`.
    pub fn from_code(code: u16) -> Option<Consistency> {
        use Consistency::*;
        Some(match code {
            0x0000 => Any,
            0x0001 => One,
            0x0002 => Two,
            0x0003 => Three,
            0x0004 => Quorum,
            0x0005 => All,
            0x0006 => LocalQuorum,
            0x0007 => EachQuorum,
            0x0008 => Serial,
            0x0009 => LocalSerial,
            0x000A => LocalOne,
            _ => return None,
        })
    }

    /// Cassandra's name (`LOCAL_QUORUM`).
    pub fn name(self) -> &'static str {
        use Consistency::*;
        match self {
            Any => "ANY",
            One => "ONE",
            Two => "TWO",
            Three => "THREE",
            Quorum => "QUORUM",
            All => "ALL",
            LocalQuorum => "LOCAL_QUORUM",
            EachQuorum => "EACH_QUORUM",
            Serial => "SERIAL",
            LocalSerial => "LOCAL_SERIAL",
            LocalOne => "LOCAL_ONE",
        }
    }
}

/// A bound value as the protocol sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundValue {
    /// Length -1.
    Null,
    /// Length -2 (v4): leave the column as it is.
    Unset,
    /// The value's protocol serialization.
    Value(Bytes),
}

/// The values of a request: by position, or by bind-marker name (flag 0x40).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BoundValues {
    #[default]
    None,
    Positional(Vec<BoundValue>),
    Named(Vec<(String, BoundValue)>),
}

/// Everything of a QUERY, EXECUTE or BATCH besides the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The connection's keyspace (`USE`), for unqualified table names.
    pub keyspace: Option<String>,
    pub values: BoundValues,
    pub consistency: Consistency,
    pub serial_consistency: Option<Consistency>,
    /// Rows per page (flag 0x04); `None` or ≤ 0: everything at once.
    pub page_size: Option<i32>,
    /// Where the previous page stopped (flag 0x08), as a previous [`Rows::paging_state`].
    pub paging_state: Option<Bytes>,
    /// The client's default timestamp in µs (flag 0x20); else the node's clock.
    pub timestamp: Option<i64>,
    /// The caller runs on an async worker and must not be made to wait: a write the engine
    /// would hold back (a write stall while compaction catches up) fails with
    /// [`Error::WouldWait`] and writes nothing, and the caller runs it again where it may wait.
    pub no_wait: bool,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            keyspace: None,
            values: BoundValues::None,
            consistency: Consistency::One,
            serial_consistency: None,
            page_size: None,
            paging_state: None,
            timestamp: None,
            no_wait: false,
        }
    }
}

/// A column of a statement's metadata (a bind marker's receiver, or a result column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    pub keyspace: String,
    pub table: String,
    /// The column's name, or what Cassandra names the marker or selector
    /// (`[limit]`, `partition key token`, `writetime(c)`, `count`, an alias).
    pub name: String,
    pub ty: CqlType,
}

/// A prepared statement: stable id and metadata, as the Prepared result carries them.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// MD5 of the keyspace name (if any) followed by the query text, as Cassandra's
    /// `QueryProcessor.computeId`: the same query prepares to the same id after a restart.
    pub id: [u8; 16],
    pub query: String,
    /// The keyspace the statement was prepared in (its unqualified names resolve there).
    pub keyspace: Option<String>,
    /// One per bind marker, in order.
    pub bind_columns: Vec<ColumnSpec>,
    /// For each partition-key column of the statement's table, in key order, the index of the
    /// bind marker that gives its value, when every partition-key column has one (token-aware
    /// routing); else empty.
    pub pk_indexes: Vec<u16>,
    /// The result columns of a SELECT; `None` for statements without rows.
    pub result_columns: Option<Vec<ColumnSpec>>,
}

/// Rows of a result.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rows {
    pub columns: Vec<ColumnSpec>,
    /// Each row's values in column order, serialized; `None` is null.
    pub rows: Vec<Vec<Option<Bytes>>>,
    /// Set when more rows follow: the client sends it back for the next page.
    pub paging_state: Option<Bytes>,
}

/// What a DDL statement changed (the Schema_change result and EVENT body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaChange {
    pub change: ChangeType,
    pub target: ChangeTarget,
}

/// `CREATED`, `UPDATED` or `DROPPED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Created,
    Updated,
    Dropped,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeTarget {
    Keyspace(String),
    Table { keyspace: String, table: String },
    Type { keyspace: String, name: String },
}

/// The result of one statement.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    Void,
    Rows(Rows),
    SetKeyspace(String),
    SchemaChange(SchemaChange),
}

/// `LOGGED`, `UNLOGGED` or `COUNTER` (the protocol's batch type byte 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchType {
    Logged,
    Unlogged,
    Counter,
}

/// One statement of a BATCH message.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchStatement {
    /// A query string with its own values.
    Query { query: String, values: BoundValues },
    /// A prepared statement's id with its own values.
    Prepared { id: [u8; 16], values: BoundValues },
}

/// What went wrong, as the protocol's ERROR codes (spec v4 §9) tell it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// 0x2000: the statement does not parse.
    #[error("{0}")]
    Syntax(String),
    /// 0x2200: it parses but is not valid (unknown keyspace, table, column; a type mismatch;
    /// a restriction Cassandra does not allow).
    #[error("{0}")]
    Invalid(String),
    /// 0x2300: a configuration problem (e.g. an unknown replication strategy).
    #[error("{0}")]
    Config(String),
    /// 0x2400: CREATE of something that exists (`table` empty for a keyspace).
    #[error("{message}")]
    AlreadyExists {
        keyspace: String,
        table: String,
        message: String,
    },
    /// 0x2500: EXECUTE of an id this node does not know (it restarted): re-prepare.
    #[error("Prepared query with ID {} not found (either the query was not prepared on this host (maybe the host has been restarted?) or you have prepared too many queries and it has been evicted from the internal cache)", hex(.0))]
    Unprepared([u8; 16]),
    /// 0x1003: TRUNCATE failed.
    #[error("{0}")]
    Truncate(String),
    /// 0x1000: not enough replicas for the consistency level (the cluster issue).
    #[error("Cannot achieve consistency level {consistency}")]
    Unavailable {
        consistency: &'static str,
        required: i32,
        alive: i32,
    },
    /// 0x000A: the request itself is malformed.
    #[error("{0}")]
    Protocol(String),
    /// 0x0000: the node failed (an I/O error): the request may be retried.
    #[error("{0}")]
    Server(String),
    /// 0x1001 (Overloaded): a [`Request::no_wait`] write that the engine would have held back
    /// (a write stall); nothing was written. The node runs it again on a blocking thread, so
    /// a client sees this only if that is not possible.
    #[error(
        "the write would have waited for the store to catch up on compaction; nothing was written"
    )]
    WouldWait,
}

fn hex(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

impl Error {
    /// The protocol's error code.
    pub fn code(&self) -> i32 {
        match self {
            Error::Server(_) => 0x0000,
            Error::Protocol(_) => 0x000A,
            Error::Unavailable { .. } => 0x1000,
            Error::WouldWait => 0x1001,
            Error::Truncate(_) => 0x1003,
            Error::Syntax(_) => 0x2000,
            Error::Invalid(_) => 0x2200,
            Error::Config(_) => 0x2300,
            Error::AlreadyExists { .. } => 0x2400,
            Error::Unprepared(_) => 0x2500,
        }
    }
}

/// Who this node is, as `system.local` and `system.peers` describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    pub cluster_name: String,
    pub data_center: String,
    pub rack: String,
    /// Stable across restarts (kept in the data directory).
    pub host_id: Uuid,
    /// The address and port clients reach the native transport at.
    pub rpc_address: std::net::IpAddr,
    pub rpc_port: u16,
    /// The node's tokens (it owns the whole ring until the cluster exists).
    pub tokens: Vec<i64>,
    /// `release_version` (4.x: drivers and cqlsh pick their V4 paths from it).
    pub release_version: String,
    pub cql_version: String,
}

/// Cassandra's `commitlog_sync`: when a write is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommitlogSync {
    /// The write returns once in the WAL (the OS page cache); the WAL is synced every
    /// `commitlog_sync_period_ms`.
    #[default]
    Periodic,
    /// The write returns once the WAL is synced (group commit).
    Batch,
}

/// How a [`crate::Store`] opens, with Cassandra's defaults (the node maps its config keys, e.g.
/// `max.value.size.bytes`, onto these fields).
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The node's data directory (RocksDB lives in `DIR/rocksdb`).
    pub data_dir: std::path::PathBuf,
    /// `cluster.name` (system.local `cluster_name`).
    pub cluster_name: String,
    /// `num.tokens`: the node's tokens, spread evenly over the ring when first generated.
    pub num_tokens: u32,
    /// Where clients reach the native transport (system.local `rpc_address`, `rpc_port`).
    pub rpc_address: std::net::SocketAddr,
    /// `commitlog.sync`.
    pub commitlog_sync: CommitlogSync,
    /// `commitlog.sync.period.ms` (periodic mode).
    pub commitlog_sync_period_ms: u64,
    /// `commitlog.sync.group.window.ms` (batch mode: how long a group commit waits for more
    /// writers; 0 leaves grouping to RocksDB's synced write groups).
    pub commitlog_sync_group_window_ms: u64,
    /// `max.value.size.bytes`: a bound value or cell value larger than this is Invalid.
    pub max_value_size_bytes: usize,
    /// `batch.size.warn.threshold.bytes`: larger batches are logged.
    pub batch_size_warn_threshold_bytes: usize,
    /// `batch.size.fail.threshold.bytes`: larger batches are Invalid.
    pub batch_size_fail_threshold_bytes: usize,
    /// `prepared.statements.cache.size`: prepared statements kept (least recently used go).
    pub prepared_statements_cache_size: usize,
    /// `max.page.size.rows`: a larger requested page size is served as pages of this size.
    pub max_page_size_rows: usize,
    /// `max.in.list.size`: the most values an `IN` restriction (or the cartesian product of
    /// several) may select.
    pub max_in_list_size: usize,
    /// `max.result.size.bytes`: an unpaged result larger than this is Invalid (page it).
    pub max_result_size_bytes: usize,
    /// `block.cache.size.bytes`: RocksDB's block cache, shared by every table.
    pub block_cache_size_bytes: usize,
    /// `memtable.total.size.bytes`: RocksDB's memtables, all tables together.
    pub memtable_total_size_bytes: usize,
}

impl StoreConfig {
    /// The defaults, with data in `data_dir`.
    pub fn new(data_dir: impl Into<std::path::PathBuf>) -> StoreConfig {
        StoreConfig {
            data_dir: data_dir.into(),
            cluster_name: "fastdata".into(),
            num_tokens: 16,
            rpc_address: std::net::SocketAddr::from(([127, 0, 0, 1], 9042)),
            commitlog_sync: CommitlogSync::Periodic,
            commitlog_sync_period_ms: 10_000,
            commitlog_sync_group_window_ms: 2,
            max_value_size_bytes: 1 << 20,
            batch_size_warn_threshold_bytes: 5 << 10,
            batch_size_fail_threshold_bytes: 50 << 10,
            prepared_statements_cache_size: 10_000,
            max_page_size_rows: 10_000,
            max_in_list_size: 1_000,
            max_result_size_bytes: 16 << 20,
            block_cache_size_bytes: 64 << 20,
            memtable_total_size_bytes: 256 << 20,
        }
    }
}

/// Latencies in buckets, for a Prometheus histogram.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LatencyHistogram {
    /// Upper bounds (µs) of the buckets; the last bucket (`+Inf`) has none.
    pub bounds_us: Vec<u64>,
    /// Observations per bucket (not cumulative): `bounds_us.len() + 1` entries.
    pub counts: Vec<u64>,
    pub sum_us: u64,
    pub count: u64,
}

/// What the store has done, and RocksDB's figures (`/metrics`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreMetrics {
    /// Statements that read (SELECT, system tables, DESCRIBE) and their latency.
    pub reads: LatencyHistogram,
    /// Statements that write (INSERT, UPDATE, DELETE, BATCH) and their latency.
    pub writes: LatencyHistogram,
    /// Rows returned by reads.
    pub rows_read: u64,
    /// Cells written (each merge written to RocksDB).
    pub cells_written: u64,
    /// Statements that failed (any error).
    pub errors: u64,
    pub memtable_bytes: u64,
    pub sst_bytes: u64,
    pub block_cache_usage_bytes: u64,
    pub block_cache_capacity_bytes: u64,
    pub compactions_running: u64,
    /// Compaction runs of table column families since the store opened.
    pub compactions_total: u64,
    pub pending_compaction_bytes: u64,
    /// RocksDB's estimate of the keys (cells) stored.
    pub estimated_keys: u64,
}
