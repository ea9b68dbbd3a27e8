//! The executor: [`Store`], the contract of `api.rs` with the CQL service. It parses statements
//! (with `fastdata-cql`), resolves their terms against the request's bound values and the
//! schema, and runs them on the engine: DDL against the catalog, writes as one atomic batch of
//! cell merges, reads through the partition reader, and the system tables and DESCRIBE from the
//! catalog and the node's identity. Every method blocks (the server calls them from a blocking
//! thread).
//!
//! Modules: `ddl` (keyspaces, tables, USE), `modify` (INSERT, UPDATE, DELETE, BATCH), `select`
//! (restrictions, slices, selection, paging), `system` (the virtual system tables), `describe`
//! (server-side DESCRIBE), `paging` (the opaque paging state), `terms` (binding and resolving).

mod ddl;
mod describe;
mod key;
mod modify;
mod paging;
mod select;
mod system;
mod terms;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use fastdata_cql::ast::{Assignment, SelectorExpr, Statement};
use md5::{Digest, Md5};
use uuid::Uuid;

use crate::api::{
    BatchStatement, BatchType, CommitlogSync, Consistency, Error, LatencyHistogram, NodeIdentity,
    Prepared, QueryResult, Request, StoreConfig, StoreMetrics,
};
use crate::clock::{Clock, SystemClock, Timestamps};
use crate::engine::{Engine, EngineConfig};
use crate::schema::Catalog;
use crate::write::ListPaths;

pub use terms::cql_error;

/// The node's store: schema, data and the statements over them. Cheap to clone (shared).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("data_dir", &self.inner.config.data_dir)
            .finish_non_exhaustive()
    }
}

/// A prepared statement as the store keeps it: parsed once.
#[derive(Debug)]
struct PreparedEntry {
    prepared: Prepared,
    statement: Statement,
    /// [`Store::runs_briefly`], decided once when the statement is prepared.
    brief: bool,
    last_used: AtomicU64,
}

/// Whether a prepared statement is brief (see [`Store::runs_briefly`]): a read of one
/// partition named by its key, without ALLOW FILTERING or `count(*)`; or, when writes wait for
/// no WAL sync (`periodic`), an unconditional INSERT, UPDATE or DELETE that reads nothing first
/// (no list element set by index, no removal by value, no element deletion: those read the
/// collection, and are only known to be lists with the schema, so every `c[k] = v`, `c - v`
/// and `DELETE c[k]` counts).
fn is_brief(statement: &Statement, prepared: &Prepared, sync: CommitlogSync) -> bool {
    let unsynced = sync == CommitlogSync::Periodic;
    match statement {
        Statement::Select(s) => {
            !s.allow_filtering
                && !prepared.pk_indexes.is_empty()
                && !s
                    .selectors
                    .iter()
                    .any(|c| matches!(c.expr, SelectorExpr::CountRows))
        }
        // A conditional write (not prepared yet: no lightweight transactions) reads first.
        _ if statement.is_conditional() => false,
        Statement::Insert(_) => unsynced,
        Statement::Update(u) => {
            unsynced
                && !u.assignments.iter().any(|a| {
                    matches!(
                        a,
                        Assignment::Subtract { .. } | Assignment::SetElement { .. }
                    )
                })
        }
        Statement::Delete(d) => unsynced && d.columns.iter().all(|c| c.element.is_none()),
        _ => false,
    }
}

struct Inner {
    config: StoreConfig,
    engine: Engine,
    catalog: RwLock<Arc<Catalog>>,
    /// Serializes DDL (each builds the next catalog from the current one).
    ddl: Mutex<()>,
    timestamps: Timestamps,
    list_paths: ListPaths,
    identity: NodeIdentity,
    /// When the node started (seconds): `system.local.gossip_generation`.
    started_s: i64,
    prepared: Mutex<HashMap<[u8; 16], Arc<PreparedEntry>>>,
    use_counter: AtomicU64,
    metrics: Metrics,
}

/// Latency buckets (µs) of the read and write histograms.
const LATENCY_BOUNDS_US: &[u64] = &[
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000,
];

#[derive(Debug)]
struct Histogram {
    counts: Vec<AtomicU64>,
    sum_us: AtomicU64,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            counts: (0..=LATENCY_BOUNDS_US.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            sum_us: AtomicU64::new(0),
        }
    }

    fn observe(&self, us: u64) {
        let i = LATENCY_BOUNDS_US.partition_point(|b| *b < us);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    fn snapshot(&self) -> LatencyHistogram {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        LatencyHistogram {
            bounds_us: LATENCY_BOUNDS_US.to_vec(),
            count: counts.iter().sum(),
            counts,
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

#[derive(Debug)]
struct Metrics {
    reads: Histogram,
    writes: Histogram,
    rows_read: AtomicU64,
    cells_written: AtomicU64,
    errors: AtomicU64,
}

/// What a statement did, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    Other,
}

fn statement_kind(s: &Statement) -> Kind {
    match s {
        Statement::Select(_) | Statement::Describe(_) => Kind::Read,
        Statement::Insert(_)
        | Statement::Update(_)
        | Statement::Delete(_)
        | Statement::Batch(_) => Kind::Write,
        _ => Kind::Other,
    }
}

const HOST_ID_KEY: &str = "host_id";
const TOKENS_KEY: &str = "tokens";

/// The node's tokens: `n` spread evenly over the ring, offset by a value drawn from the host id
/// so nodes of a future cluster do not collide.
fn generate_tokens(n: u32, host_id: Uuid) -> Vec<i64> {
    let n = u64::from(n.max(1));
    let step = u64::MAX / n;
    let (_, low) = host_id.as_u64_pair();
    let offset = low % step.max(1);
    let mut tokens: Vec<i64> = (0..n)
        .map(|i| {
            (i * step)
                .wrapping_add(offset)
                .wrapping_add(i64::MIN as u64 + 1) as i64
        })
        .collect();
    tokens.sort_unstable();
    tokens
}

/// Cassandra's `QueryProcessor.computeId`: MD5 of the keyspace name (if any) and the query.
pub fn prepared_id(query: &str, keyspace: Option<&str>) -> [u8; 16] {
    let mut md5 = Md5::new();
    if let Some(ks) = keyspace {
        md5.update(ks.as_bytes());
    }
    md5.update(query.as_bytes());
    md5.finalize().into()
}

impl Store {
    /// Open the store in `config.data_dir` (created if missing) with the system clock.
    pub fn open(config: StoreConfig) -> Result<Store, Error> {
        Store::open_with_clock(config, Arc::new(SystemClock))
    }

    /// Open with a given clock (tests move it to expire TTLs without sleeping).
    pub fn open_with_clock(config: StoreConfig, clock: Arc<dyn Clock>) -> Result<Store, Error> {
        let engine_config = EngineConfig {
            data_dir: config.data_dir.clone(),
            commitlog_sync: config.commitlog_sync,
            commitlog_sync_period_ms: config.commitlog_sync_period_ms,
            commitlog_sync_group_window_ms: config.commitlog_sync_group_window_ms,
            block_cache_size_bytes: config.block_cache_size_bytes,
            memtable_total_size_bytes: config.memtable_total_size_bytes,
        };
        let (engine, catalog) = Engine::open(engine_config, clock.clone())?;
        let host_id = match engine.get_local(HOST_ID_KEY)? {
            Some(b) => Uuid::from_slice(&b).map_err(|_| Error::Server("corrupt host id".into()))?,
            None => {
                let id = Uuid::new_v4();
                engine.put_local(HOST_ID_KEY, id.as_bytes())?;
                id
            }
        };
        let tokens = match engine.get_local(TOKENS_KEY)? {
            Some(b) => {
                serde_json::from_slice(&b).map_err(|_| Error::Server("corrupt tokens".into()))?
            }
            None => {
                let t = generate_tokens(config.num_tokens, host_id);
                let json = serde_json::to_vec(&t).map_err(|e| Error::Server(e.to_string()))?;
                engine.put_local(TOKENS_KEY, &json)?;
                t
            }
        };
        let identity = NodeIdentity {
            cluster_name: config.cluster_name.clone(),
            data_center: "datacenter1".into(),
            rack: "rack1".into(),
            host_id,
            rpc_address: config.rpc_address.ip(),
            rpc_port: config.rpc_address.port(),
            tokens,
            release_version: "4.1.0".into(),
            cql_version: "3.4.6".into(),
        };
        let started_s = clock.now_seconds();
        Ok(Store {
            inner: Arc::new(Inner {
                engine,
                catalog: RwLock::new(Arc::new(catalog)),
                ddl: Mutex::new(()),
                timestamps: Timestamps::new(clock),
                list_paths: ListPaths::new(host_id),
                identity,
                started_s,
                prepared: Mutex::new(HashMap::new()),
                use_counter: AtomicU64::new(0),
                metrics: Metrics {
                    reads: Histogram::new(),
                    writes: Histogram::new(),
                    rows_read: AtomicU64::new(0),
                    cells_written: AtomicU64::new(0),
                    errors: AtomicU64::new(0),
                },
                config,
            }),
        })
    }

    fn catalog(&self) -> Arc<Catalog> {
        match self.inner.catalog.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_catalog(&self, catalog: Catalog) {
        let mut guard = match self.inner.catalog.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(catalog);
    }

    /// The schema version (changes with every DDL; the same schema has the same version).
    pub fn schema_version(&self) -> Uuid {
        self.catalog().version()
    }

    /// Who this node is (host id and tokens are generated once and kept in the data dir).
    pub fn identity(&self) -> NodeIdentity {
        self.inner.identity.clone()
    }

    /// Prepare a statement: its id (stable across restarts), bind metadata and result
    /// columns. The statement is kept for [`Store::execute`] and prepared batch statements.
    pub fn prepare(&self, query: &str, keyspace: Option<&str>) -> Result<Prepared, Error> {
        let id = prepared_id(query, keyspace);
        if let Some(entry) = self.cached(&id) {
            return Ok(entry.prepared.clone());
        }
        let statement = terms::parse(query)?;
        let prepared = self.describe_prepared(id, query, keyspace, &statement)?;
        self.remember(PreparedEntry {
            prepared: prepared.clone(),
            brief: is_brief(&statement, &prepared, self.inner.config.commitlog_sync),
            statement,
            last_used: AtomicU64::new(0),
        });
        Ok(prepared)
    }

    /// A statement prepared on this node since it started.
    pub fn prepared(&self, id: &[u8; 16]) -> Option<Prepared> {
        self.cached(id).map(|e| e.prepared.clone())
    }

    /// Whether executing the prepared statement `id` is brief work that waits for nothing, so
    /// that it may run on an async worker: a read of one partition named by its key (every
    /// partition-key column `= ?`), without ALLOW FILTERING or `count(*)` (from memtables, the
    /// block cache or the page cache, a page at a time); and, with `commitlog_sync: periodic`,
    /// a write that reads nothing first (an unconditional INSERT, UPDATE or DELETE without list
    /// index or removal operations). Such a write must be run with [`Request::no_wait`]:
    /// RocksDB makes a writer sleep, or stop, while compaction catches up (its write stalls),
    /// and a writer on an async worker would stall every connection of that worker with it; so
    /// it fails with [`Error::WouldWait`] instead, having written nothing, and the caller runs
    /// it again on a thread that may wait. Scans, aggregates, schema changes and synced writes
    /// are not brief, nor is a statement this node does not hold.
    pub fn runs_briefly(&self, id: &[u8; 16]) -> bool {
        let Ok(map) = self.inner.prepared.lock() else {
            return false;
        };
        map.get(id).is_some_and(|entry| entry.brief)
    }

    fn cached(&self, id: &[u8; 16]) -> Option<Arc<PreparedEntry>> {
        let map = self.inner.prepared.lock().ok()?;
        let entry = map.get(id)?.clone();
        entry.last_used.store(
            self.inner.use_counter.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        Some(entry)
    }

    fn remember(&self, entry: PreparedEntry) {
        let Ok(mut map) = self.inner.prepared.lock() else {
            return;
        };
        let cap = self.inner.config.prepared_statements_cache_size.max(1);
        while map.len() >= cap {
            let oldest = map
                .iter()
                .min_by_key(|(_, e)| e.last_used.load(Ordering::Relaxed))
                .map(|(id, _)| *id);
            match oldest {
                Some(id) => map.remove(&id),
                None => break,
            };
        }
        entry.last_used.store(
            self.inner.use_counter.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        map.insert(entry.prepared.id, Arc::new(entry));
    }

    /// Run a prepared statement (parsed again from its text if this node does not hold it).
    pub fn execute(&self, prepared: &Prepared, request: &Request) -> Result<QueryResult, Error> {
        match self.cached(&prepared.id) {
            Some(entry) => self.run_prepared(&entry, request),
            None => {
                let statement = terms::parse(&prepared.query)?;
                let keyspace = prepared.keyspace.as_deref().or(request.keyspace.as_deref());
                self.run_measured(&statement, keyspace, request)
            }
        }
    }

    /// Run the statement this node prepared as `id` ([`Error::Unprepared`] once it no longer
    /// holds it: the client prepares it again). Nothing of the statement is copied.
    pub fn execute_id(&self, id: &[u8; 16], request: &Request) -> Result<QueryResult, Error> {
        let entry = self.cached(id).ok_or(Error::Unprepared(*id))?;
        self.run_prepared(&entry, request)
    }

    fn run_prepared(&self, entry: &PreparedEntry, request: &Request) -> Result<QueryResult, Error> {
        let keyspace = (entry.prepared.keyspace.as_deref()).or(request.keyspace.as_deref());
        self.run_measured(&entry.statement, keyspace, request)
    }

    /// Run one statement given as text.
    pub fn query(&self, query: &str, request: &Request) -> Result<QueryResult, Error> {
        let statement = match terms::parse(query) {
            Ok(s) => s,
            Err(e) => {
                self.inner.metrics.errors.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        self.run_measured(&statement, request.keyspace.as_deref(), request)
    }

    /// Run a BATCH message: its statements applied atomically (one RocksDB write batch).
    pub fn batch(
        &self,
        batch_type: BatchType,
        statements: &[BatchStatement],
        request: &Request,
    ) -> Result<QueryResult, Error> {
        let started = Instant::now();
        let result = modify::protocol_batch(self, batch_type, statements, request);
        self.observe(Kind::Write, started, &result);
        result
    }

    fn observe<T>(&self, kind: Kind, started: Instant, result: &Result<T, Error>) {
        let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        match kind {
            Kind::Read => self.inner.metrics.reads.observe(us),
            Kind::Write => self.inner.metrics.writes.observe(us),
            Kind::Other => {}
        }
        if result.is_err() {
            self.inner.metrics.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn run_measured(
        &self,
        statement: &Statement,
        keyspace: Option<&str>,
        request: &Request,
    ) -> Result<QueryResult, Error> {
        let started = Instant::now();
        let result = self.run(statement, keyspace, request);
        self.observe(statement_kind(statement), started, &result);
        result
    }

    fn run(
        &self,
        statement: &Statement,
        keyspace: Option<&str>,
        request: &Request,
    ) -> Result<QueryResult, Error> {
        let values = terms::bind_values(self, statement, keyspace, &request.values)?;
        match statement {
            Statement::Select(s) => {
                check_read_consistency(request)?;
                select::execute(self, s, keyspace, &values, request)
            }
            Statement::Describe(d) => describe::execute(self, d, keyspace, request),
            Statement::Insert(_)
            | Statement::Update(_)
            | Statement::Delete(_)
            | Statement::Batch(_) => {
                check_write_consistency(request.consistency)?;
                modify::execute(self, statement, keyspace, &values, request)
            }
            Statement::Use(name) => ddl::use_keyspace(self, name.as_str()),
            other => ddl::execute(self, other, keyspace),
        }
    }

    /// What the store has done, with RocksDB's figures.
    pub fn metrics(&self) -> StoreMetrics {
        let m = &self.inner.metrics;
        let f = self.inner.engine.figures();
        StoreMetrics {
            reads: m.reads.snapshot(),
            writes: m.writes.snapshot(),
            rows_read: m.rows_read.load(Ordering::Relaxed),
            cells_written: m.cells_written.load(Ordering::Relaxed),
            errors: m.errors.load(Ordering::Relaxed),
            memtable_bytes: f.memtable_bytes,
            sst_bytes: f.sst_bytes,
            block_cache_usage_bytes: f.block_cache_usage_bytes,
            block_cache_capacity_bytes: f.block_cache_capacity_bytes,
            compactions_running: f.compactions_running,
            compactions_total: f.compactions_total,
            pending_compaction_bytes: f.pending_compaction_bytes,
            estimated_keys: f.estimated_keys,
        }
    }

    /// A major compaction of a table (`nodetool compact`): tombstones past `gc_grace_seconds`
    /// go with what they shadow.
    pub fn compact(&self, keyspace: &str, table: &str) -> Result<(), Error> {
        let catalog = self.catalog();
        let t = catalog
            .table(keyspace, table)
            .ok_or_else(|| Error::Invalid(format!("unconfigured table {table}")))?;
        self.inner.engine.major_compaction(t)
    }

    /// Flush every table's memtable to SST files (`nodetool flush`).
    pub fn flush(&self) -> Result<(), Error> {
        for t in self.catalog().tables.values() {
            self.inner.engine.flush(t)?;
        }
        Ok(())
    }

    /// Stop background work and sync the commit log. The store must not be used afterwards.
    pub fn close(&self) -> Result<(), Error> {
        self.inner.engine.close()
    }
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(msg.into())
}

/// Cassandra's `validateForRead`.
fn check_read_consistency(request: &Request) -> Result<(), Error> {
    match request.consistency {
        Consistency::Any => Err(invalid("ANY ConsistencyLevel is only supported for writes")),
        _ => check_serial(request.serial_consistency),
    }
}

/// Cassandra's `validateForWrite` (a non-conditional write).
fn check_write_consistency(consistency: Consistency) -> Result<(), Error> {
    match consistency {
        Consistency::Serial | Consistency::LocalSerial => Err(invalid(
            "You must use conditional updates for serializable writes",
        )),
        _ => Ok(()),
    }
}

fn check_serial(serial: Option<Consistency>) -> Result<(), Error> {
    match serial {
        None | Some(Consistency::Serial) | Some(Consistency::LocalSerial) => Ok(()),
        Some(other) => Err(invalid(format!(
            "Invalid serial consistency level {}: only SERIAL and LOCAL_SERIAL are allowed",
            other.name()
        ))),
    }
}

#[cfg(test)]
mod tests;
