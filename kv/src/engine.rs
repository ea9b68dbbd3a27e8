//! The RocksDB side of the store: one DB per node data directory, a column family per table
//! (named by the table's id, with the cell merge operator and compaction filter), a `schema`
//! column family for the catalog and a `local` one for the node's identity (host id, tokens).
//!
//! Durability follows Cassandra's commitlog: the WAL is always on. `periodic` (the default):
//! a write returns once it is in the WAL (the OS page cache: it survives a process kill), and a
//! background thread syncs the WAL every `commitlog_sync_period_ms`. `batch`: a write returns
//! after the WAL is synced, with group commit: with `commitlog_sync_group_window_ms` = 0 each
//! write asks RocksDB for a synced write, and RocksDB's write groups already share one fsync
//! among the writers queued behind the leader; with a window, writers append without sync and
//! wait for a syncer thread that waits up to the window for more writers and then syncs the WAL
//! once for all of them.
//!
//! Schema changes are atomic with their column families: CREATE TABLE creates the column
//! family first and then writes the table's entry (synced); DROP removes the entry first and then
//! drops the column family. On open, a column family without an entry (a crash in between) is
//! dropped.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use rocksdb::{
    BlockBasedOptions, BoundColumnFamily, Cache, ColumnFamilyDescriptor, DBCompressionType,
    DBRawIteratorWithThreadMode, Env, Options, ReadOptions, WriteBatch, WriteOptions,
};
use uuid::Uuid;

use crate::api::{CommitlogSync, Error};
use crate::cell;
use crate::clock::Clock;
use crate::compaction::{CellFilterFactory, TableState};
use crate::keys;
use crate::schema::{Catalog, Keyspace, Table};

/// The RocksDB database type (column families shared across threads).
pub type Db = rocksdb::DBWithThreadMode<rocksdb::MultiThreaded>;

/// A raw iterator over one column family.
pub type RawIter<'a> = DBRawIteratorWithThreadMode<'a, Db>;

const SCHEMA_CF: &str = "schema";
const LOCAL_CF: &str = "local";
const KEYSPACE_ENTRY: u8 = b'k';
const TABLE_ENTRY: u8 = b't';

/// How the engine is opened (the storage part of [`crate::api::StoreConfig`]).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub data_dir: PathBuf,
    pub commitlog_sync: CommitlogSync,
    pub commitlog_sync_period_ms: u64,
    pub commitlog_sync_group_window_ms: u64,
    pub block_cache_size_bytes: usize,
    pub memtable_total_size_bytes: usize,
}

pub(crate) fn storage_error(e: rocksdb::Error) -> Error {
    Error::Server(format!("storage error: {e}"))
}

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::Server(format!("corrupt schema entry: {what}"))
}

/// Shared state of group commit (batch mode with a window).
#[derive(Debug, Default)]
struct GroupState {
    /// Tickets handed to writers whose batch is in the WAL.
    requested: u64,
    /// Every ticket up to this one is synced.
    synced: u64,
    /// A failed sync, returned to the writers it covered.
    failed: Option<(u64, String)>,
    stop: bool,
}

#[derive(Debug, Default)]
struct GroupCommit {
    state: Mutex<GroupState>,
    /// Wakes the syncer (a ticket is waiting) and the writers (a sync is done).
    changed: Condvar,
}

/// The storage engine.
pub struct Engine {
    db: Arc<Db>,
    clock: Arc<dyn Clock>,
    cache: Cache,
    config: EngineConfig,
    tables: RwLock<HashMap<Uuid, Arc<TableState>>>,
    compaction_runs: Arc<AtomicU64>,
    group: Arc<GroupCommit>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("data_dir", &self.config.data_dir)
            .finish_non_exhaustive()
    }
}

/// Table files (flush and compaction output) are handed to the kernel for writeback every this
/// many bytes (RocksDB's `bytes_per_sync`, the 1 MiB its tuning guide recommends).
const TABLE_FILE_BYTES_PER_SYNC: u64 = 1 << 20;

/// The database's options (not a column family's) on `o`.
///
/// Compactions run at the lowest CPU priority (nice 19), as Cassandra runs its compaction
/// threads at the lowest thread priority: under load they take what the requests leave of the
/// cores instead of delaying them, and RocksDB's write stalls (too many L0 files) still bound how
/// far behind they can fall. Flushes keep the normal priority: a full memtable waiting for its
/// flush stalls every write. Table files are written back as they grow
/// ([`TABLE_FILE_BYTES_PER_SYNC`]) rather than left as dirty pages that, past the kernel's dirty
/// limit, throttle every writer of the machine at once. (RocksDB's default environment is one per
/// process: every database the process opens shares its thread pools and their priorities.)
fn set_db_options(o: &mut Options, config: &EngineConfig) -> Result<(), Error> {
    o.create_if_missing(true);
    o.create_missing_column_families(true);
    o.set_max_background_jobs(2);
    o.set_db_write_buffer_size(config.memtable_total_size_bytes);
    o.set_keep_log_file_num(4);
    o.set_bytes_per_sync(TABLE_FILE_BYTES_PER_SYNC);
    let mut env = Env::new().map_err(storage_error)?;
    env.lower_thread_pool_cpu_priority();
    o.set_env(&env);
    Ok(())
}

/// A plain RocksDB where the node keeps its own (`rocksdb/` in `config.data_dir`), with the
/// node's database and table options (its block cache and memtable budget, compression, bloom
/// filters) but none of its cell semantics (no merge operator, no compaction filter), on the
/// default column family: the raw puts and gets the benchmarks measure the node against.
pub fn open_plain(config: &EngineConfig) -> Result<Db, Error> {
    let cache = Cache::new_lru_cache(config.block_cache_size_bytes);
    let mut options = storage_options(&cache);
    set_db_options(&mut options, config)?;
    Db::open(&options, config.data_dir.join("rocksdb")).map_err(storage_error)
}

impl Engine {
    /// Open (or create) the DB in `config.data_dir` and load the catalog.
    pub fn open(config: EngineConfig, clock: Arc<dyn Clock>) -> Result<(Engine, Catalog), Error> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            Error::Server(format!("cannot create {}: {e}", config.data_dir.display()))
        })?;
        let path = config.data_dir.join("rocksdb");
        let mut opts = Options::default();
        set_db_options(&mut opts, &config)?;
        let existing = if path.join("CURRENT").exists() {
            Db::list_cf(&opts, &path).map_err(storage_error)?
        } else {
            Vec::new()
        };
        let cache = Cache::new_lru_cache(config.block_cache_size_bytes);
        let compaction_runs = Arc::new(AtomicU64::new(0));
        let mut states = HashMap::new();
        let mut descriptors = vec![
            ColumnFamilyDescriptor::new(SCHEMA_CF, Options::default()),
            ColumnFamilyDescriptor::new(LOCAL_CF, Options::default()),
        ];
        for name in &existing {
            if let Ok(id) = Uuid::parse_str(name) {
                let state = Arc::new(TableState::default());
                descriptors.push(ColumnFamilyDescriptor::new(
                    name,
                    table_cf_options(
                        &cache,
                        state.clone(),
                        clock.clone(),
                        compaction_runs.clone(),
                    ),
                ));
                states.insert(id, state);
            } else if name != SCHEMA_CF && name != LOCAL_CF && name != "default" {
                return Err(Error::Server(format!(
                    "unknown column family {name} in {}",
                    path.display()
                )));
            }
        }
        let db = Db::open_cf_descriptors(&opts, &path, descriptors).map_err(storage_error)?;
        let engine = Engine {
            db: Arc::new(db),
            clock,
            cache,
            config,
            tables: RwLock::new(states),
            compaction_runs,
            group: Arc::new(GroupCommit::default()),
            stop: Arc::new((Mutex::new(false), Condvar::new())),
            threads: Mutex::new(Vec::new()),
        };
        let catalog = engine.load_catalog()?;
        engine.start_background();
        Ok((engine, catalog))
    }

    fn load_catalog(&self) -> Result<Catalog, Error> {
        let cf = self.system_cf(SCHEMA_CF)?;
        let mut catalog = Catalog::default();
        for item in self.db.iterator_cf(&cf, rocksdb::IteratorMode::Start) {
            let (key, value) = item.map_err(storage_error)?;
            match key.first() {
                Some(&KEYSPACE_ENTRY) => {
                    let ks: Keyspace = serde_json::from_slice(&value).map_err(corrupt)?;
                    catalog.keyspaces.insert(ks.name.clone(), ks);
                }
                Some(&TABLE_ENTRY) => {
                    let t: Table = serde_json::from_slice(&value).map_err(corrupt)?;
                    catalog
                        .tables
                        .insert((t.keyspace.clone(), t.name.clone()), Arc::new(t));
                }
                _ => return Err(corrupt("unknown entry kind")),
            }
        }
        // Column families without a table entry are leftovers of a crash during DDL.
        let known: std::collections::HashSet<Uuid> =
            catalog.tables.values().map(|t| t.id).collect();
        let orphans: Vec<Uuid> = self
            .tables
            .read()
            .map_err(|_| Error::Server("table states poisoned".into()))?
            .keys()
            .filter(|id| !known.contains(id))
            .copied()
            .collect();
        for id in orphans {
            tracing::warn!(%id, "dropping a column family without a schema entry");
            self.db.drop_cf(&id.to_string()).map_err(storage_error)?;
            self.tables_mut()?.remove(&id);
        }
        for t in catalog.tables.values() {
            match self.table_state(t.id) {
                Some(state) => state.update(t),
                None => {
                    return Err(Error::Server(format!(
                        "table {} has no column family",
                        t.qualified_name()
                    )))
                }
            }
        }
        Ok(catalog)
    }

    fn tables_mut(
        &self,
    ) -> Result<std::sync::RwLockWriteGuard<'_, HashMap<Uuid, Arc<TableState>>>, Error> {
        self.tables
            .write()
            .map_err(|_| Error::Server("table states poisoned".into()))
    }

    fn table_state(&self, id: Uuid) -> Option<Arc<TableState>> {
        self.tables.read().ok()?.get(&id).cloned()
    }

    fn start_background(&self) {
        let mut threads = Vec::new();
        match self.config.commitlog_sync {
            CommitlogSync::Periodic => {
                let db = self.db.clone();
                let stop = self.stop.clone();
                let period = Duration::from_millis(self.config.commitlog_sync_period_ms.max(1));
                threads.push(std::thread::spawn(move || {
                    periodic_sync(&db, &stop, period)
                }));
            }
            CommitlogSync::Batch if self.config.commitlog_sync_group_window_ms > 0 => {
                let db = self.db.clone();
                let group = self.group.clone();
                let window = Duration::from_millis(self.config.commitlog_sync_group_window_ms);
                threads.push(std::thread::spawn(move || {
                    group_syncer(&db, &group, window)
                }));
            }
            CommitlogSync::Batch => {}
        }
        if let Ok(mut t) = self.threads.lock() {
            t.extend(threads);
        }
    }

    fn system_cf(&self, name: &str) -> Result<Arc<BoundColumnFamily<'_>>, Error> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| Error::Server(format!("column family {name} missing")))
    }

    /// The column family of a table.
    pub fn table_cf(&self, id: Uuid) -> Result<Arc<BoundColumnFamily<'_>>, Error> {
        self.db
            .cf_handle(&id.to_string())
            .ok_or_else(|| Error::Server(format!("the column family of table {id} is missing")))
    }

    fn synced() -> WriteOptions {
        let mut w = WriteOptions::default();
        w.set_sync(true);
        w
    }

    /// Write a keyspace's entry (CREATE or ALTER KEYSPACE), synced.
    pub fn put_keyspace(&self, ks: &Keyspace) -> Result<(), Error> {
        let cf = self.system_cf(SCHEMA_CF)?;
        let value = serde_json::to_vec(ks).map_err(|e| Error::Server(e.to_string()))?;
        let mut b = WriteBatch::default();
        b.put_cf(&cf, keyspace_key(&ks.name), value);
        self.db.write_opt(b, &Self::synced()).map_err(storage_error)
    }

    /// Remove a keyspace's entry (after its tables are dropped), synced.
    pub fn delete_keyspace(&self, name: &str) -> Result<(), Error> {
        let cf = self.system_cf(SCHEMA_CF)?;
        let mut b = WriteBatch::default();
        b.delete_cf(&cf, keyspace_key(name));
        self.db.write_opt(b, &Self::synced()).map_err(storage_error)
    }

    /// Create a table's column family, then write its entry.
    pub fn create_table(&self, table: &Table) -> Result<(), Error> {
        let state = Arc::new(TableState::default());
        state.update(table);
        let opts = table_cf_options(
            &self.cache,
            state.clone(),
            self.clock.clone(),
            self.compaction_runs.clone(),
        );
        self.db
            .create_cf(table.id.to_string(), &opts)
            .map_err(storage_error)?;
        self.tables_mut()?.insert(table.id, state);
        self.put_table(table)
    }

    /// Write a table's entry (CREATE, ALTER), synced, and tell its compaction filter.
    pub fn put_table(&self, table: &Table) -> Result<(), Error> {
        let cf = self.system_cf(SCHEMA_CF)?;
        let value = serde_json::to_vec(table).map_err(|e| Error::Server(e.to_string()))?;
        let mut b = WriteBatch::default();
        b.put_cf(&cf, table_key(&table.keyspace, &table.name), value);
        self.db
            .write_opt(b, &Self::synced())
            .map_err(storage_error)?;
        if let Some(state) = self.table_state(table.id) {
            state.update(table);
        }
        Ok(())
    }

    /// Remove a table's entry, then drop its column family.
    pub fn drop_table(&self, table: &Table) -> Result<(), Error> {
        let cf = self.system_cf(SCHEMA_CF)?;
        let mut b = WriteBatch::default();
        b.delete_cf(&cf, table_key(&table.keyspace, &table.name));
        self.db
            .write_opt(b, &Self::synced())
            .map_err(storage_error)?;
        drop(cf);
        self.db
            .drop_cf(&table.id.to_string())
            .map_err(storage_error)?;
        self.tables_mut()?.remove(&table.id);
        Ok(())
    }

    /// Drop every row of a table (TRUNCATE), keeping its schema: one range deletion over the
    /// whole column family (writes after it are kept whatever their timestamps), then the files
    /// wholly inside it are deleted at once.
    pub fn truncate(&self, table: &Table) -> Result<(), Error> {
        let cf = self.table_cf(table.id)?;
        let mut b = WriteBatch::default();
        // Every key starts with its 8 token bytes; keys at the maximum token (FF x 8 ...) lie past
        // any finite range end, so they are deleted one by one.
        let end = [0xFFu8; 8];
        b.delete_range_cf(&cf, [0u8; 0].as_slice(), end.as_slice());
        let mut it = self.raw_iter(&cf, &end, None);
        it.seek_to_first();
        while let Some(key) = it.key() {
            b.delete_cf(&cf, key);
            it.next();
        }
        it.status().map_err(storage_error)?;
        drop(it);
        self.db
            .write_opt(b, &Self::synced())
            .map_err(storage_error)?;
        self.db
            .delete_file_in_range_cf(&cf, [0u8; 0].as_slice(), end.as_slice())
            .map_err(storage_error)
    }

    /// Apply a batch of mutations with the configured durability. With `no_wait` (periodic
    /// sync only: a synced write always waits) a write RocksDB would delay or stop while
    /// compaction catches up fails at once with [`Error::WouldWait`], having written nothing
    /// (RocksDB's `no_slowdown`, which answers `Incomplete` before the batch reaches the WAL).
    pub fn write(&self, batch: WriteBatch, no_wait: bool) -> Result<(), Error> {
        match self.config.commitlog_sync {
            CommitlogSync::Periodic => {
                let mut options = WriteOptions::default();
                options.set_no_slowdown(no_wait);
                self.db.write_opt(batch, &options).map_err(|e| {
                    if no_wait && e.kind() == rocksdb::ErrorKind::Incomplete {
                        Error::WouldWait
                    } else {
                        storage_error(e)
                    }
                })
            }
            CommitlogSync::Batch if self.config.commitlog_sync_group_window_ms == 0 => self
                .db
                .write_opt(batch, &Self::synced())
                .map_err(storage_error),
            CommitlogSync::Batch => {
                self.db
                    .write_opt(batch, &WriteOptions::default())
                    .map_err(storage_error)?;
                self.wait_for_group_sync()
            }
        }
    }

    fn wait_for_group_sync(&self) -> Result<(), Error> {
        let poisoned = || Error::Server("group commit poisoned".into());
        let mut state = self.group.state.lock().map_err(|_| poisoned())?;
        state.requested += 1;
        let ticket = state.requested;
        self.group.changed.notify_all();
        while state.synced < ticket {
            if let Some((upto, e)) = &state.failed {
                if *upto >= ticket {
                    return Err(Error::Server(format!("commit log sync failed: {e}")));
                }
            }
            if state.stop {
                return Err(Error::Server("the store is closing".into()));
            }
            state = self.group.changed.wait(state).map_err(|_| poisoned())?;
        }
        Ok(())
    }

    /// A raw iterator over `[lower, upper)` of a column family (`upper` `None`: to the end).
    pub fn raw_iter<'a>(
        &'a self,
        cf: &Arc<BoundColumnFamily<'a>>,
        lower: &[u8],
        upper: Option<&[u8]>,
    ) -> RawIter<'a> {
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(lower.to_vec());
        if let Some(u) = upper {
            ro.set_iterate_upper_bound(u.to_vec());
        }
        self.db.raw_iterator_cf_opt(cf, ro)
    }

    /// A local metadata value (host id, tokens).
    pub fn get_local(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let cf = self.system_cf(LOCAL_CF)?;
        self.db.get_cf(&cf, key.as_bytes()).map_err(storage_error)
    }

    /// Set a local metadata value, synced.
    pub fn put_local(&self, key: &str, value: &[u8]) -> Result<(), Error> {
        let cf = self.system_cf(LOCAL_CF)?;
        let mut b = WriteBatch::default();
        b.put_cf(&cf, key.as_bytes(), value);
        self.db.write_opt(b, &Self::synced()).map_err(storage_error)
    }

    /// Flush a table's memtable to an SST file.
    pub fn flush(&self, table: &Table) -> Result<(), Error> {
        let cf = self.table_cf(table.id)?;
        self.db.flush_cf(&cf).map_err(storage_error)
    }

    /// Stop every write as RocksDB does when level 0 has too many files (`stop`), or lift
    /// that again: for tests of the writes that must not wait. Stopping sets the table's
    /// stop trigger to one file (compaction would start only at 1000) and flushes it.
    #[cfg(test)]
    pub(crate) fn stop_writes(&self, table: &Table, stop: bool) -> Result<(), Error> {
        let cf = self.table_cf(table.id)?;
        let (compaction, slowdown, stop_at) = if stop {
            ("1000", "1", "1")
        } else {
            ("4", "20", "36")
        };
        self.db
            .set_options_cf(
                &cf,
                &[
                    ("level0_file_num_compaction_trigger", compaction),
                    ("level0_slowdown_writes_trigger", slowdown),
                    ("level0_stop_writes_trigger", stop_at),
                ],
            )
            .map_err(storage_error)?;
        if stop {
            self.db.flush_cf(&cf).map_err(storage_error)?;
        }
        Ok(())
    }

    /// A major compaction of a table (`nodetool compact`): a first pass leaves every key fully
    /// merged in the bottom level, a second pass over all of it may then purge tombstones past
    /// `gc_grace_seconds` together with what they shadow (see [`crate::compaction`]).
    pub fn major_compaction(&self, table: &Table) -> Result<(), Error> {
        let cf = self.table_cf(table.id)?;
        self.db.flush_cf(&cf).map_err(storage_error)?;
        let mut opts = rocksdb::CompactOptions::default();
        opts.set_bottommost_level_compaction(rocksdb::BottommostLevelCompaction::Force);
        self.db
            .compact_range_cf_opt(&cf, None::<&[u8]>, None::<&[u8]>, &opts);
        let state = self.table_state(table.id);
        if let Some(s) = &state {
            s.purging.store(true, Ordering::SeqCst);
        }
        self.db
            .compact_range_cf_opt(&cf, None::<&[u8]>, None::<&[u8]>, &opts);
        if let Some(s) = &state {
            s.purging.store(false, Ordering::SeqCst);
        }
        Ok(())
    }

    /// RocksDB's figures for the metrics endpoint.
    pub fn figures(&self) -> EngineFigures {
        let mut f = EngineFigures {
            block_cache_usage_bytes: self.cache.get_usage() as u64,
            block_cache_capacity_bytes: self.config.block_cache_size_bytes as u64,
            compactions_total: self.compaction_runs.load(Ordering::Relaxed),
            ..EngineFigures::default()
        };
        let ids: Vec<Uuid> = self
            .tables
            .read()
            .map(|t| t.keys().copied().collect())
            .unwrap_or_default();
        for id in ids {
            let Ok(cf) = self.table_cf(id) else { continue };
            let prop = |name: &str| -> u64 {
                self.db
                    .property_int_value_cf(&cf, name)
                    .ok()
                    .flatten()
                    .unwrap_or(0)
            };
            f.memtable_bytes += prop("rocksdb.cur-size-all-mem-tables");
            f.sst_bytes += prop("rocksdb.total-sst-files-size");
            f.compactions_running += prop("rocksdb.num-running-compactions");
            f.pending_compaction_bytes += prop("rocksdb.estimate-pending-compaction-bytes");
            f.estimated_keys += prop("rocksdb.estimate-num-keys");
        }
        f
    }

    /// Stop the background threads and sync the WAL.
    pub fn close(&self) -> Result<(), Error> {
        {
            let (lock, cv) = &*self.stop;
            if let Ok(mut s) = lock.lock() {
                *s = true;
            }
            cv.notify_all();
        }
        if let Ok(mut g) = self.group.state.lock() {
            g.stop = true;
        }
        self.group.changed.notify_all();
        let threads: Vec<JoinHandle<()>> = self
            .threads
            .lock()
            .map(|mut t| t.drain(..).collect())
            .unwrap_or_default();
        for t in threads {
            let _ = t.join();
        }
        self.db.flush_wal(true).map_err(storage_error)
    }

    /// The node clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// RocksDB's figures, summed over the table column families.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineFigures {
    pub memtable_bytes: u64,
    pub sst_bytes: u64,
    pub block_cache_usage_bytes: u64,
    pub block_cache_capacity_bytes: u64,
    pub compactions_running: u64,
    /// Compaction runs (flushes excluded) of table column families since open.
    pub compactions_total: u64,
    pub pending_compaction_bytes: u64,
    pub estimated_keys: u64,
}

fn keyspace_key(name: &str) -> Vec<u8> {
    let mut k = vec![KEYSPACE_ENTRY];
    k.extend_from_slice(name.as_bytes());
    k
}

fn table_key(keyspace: &str, table: &str) -> Vec<u8> {
    let mut k = vec![TABLE_ENTRY];
    keys::escape_into(&mut k, keyspace.as_bytes(), 0);
    k.extend_from_slice(table.as_bytes());
    k
}

fn table_cf_options(
    cache: &Cache,
    state: Arc<TableState>,
    clock: Arc<dyn Clock>,
    runs: Arc<AtomicU64>,
) -> Options {
    let mut o = storage_options(cache);
    o.set_merge_operator_associative("fastdata.cells.lww", cell::merge_cells);
    o.set_compaction_filter_factory(CellFilterFactory { state, clock, runs });
    o
}

/// A table's storage options without the cells' semantics: compression, level sizing, the
/// shared block cache, bloom filters.
fn storage_options(cache: &Cache) -> Options {
    let mut o = Options::default();
    o.set_compression_type(DBCompressionType::Lz4);
    o.set_level_compaction_dynamic_level_bytes(true);
    let mut b = BlockBasedOptions::default();
    b.set_block_cache(cache);
    b.set_bloom_filter(10.0, false);
    b.set_cache_index_and_filter_blocks(true);
    o.set_block_based_table_factory(&b);
    o
}

fn periodic_sync(db: &Db, stop: &(Mutex<bool>, Condvar), period: Duration) {
    let (lock, cv) = stop;
    let Ok(mut stopped) = lock.lock() else { return };
    // The flag is checked before each wait: a close may come before this thread first waits.
    while !*stopped {
        let Ok((guard, _)) = cv.wait_timeout(stopped, period) else {
            return;
        };
        stopped = guard;
        if *stopped {
            return;
        }
        if let Err(e) = db.flush_wal(true) {
            tracing::error!(error = %e, "periodic commit log sync failed");
        }
    }
}

fn group_syncer(db: &Db, group: &GroupCommit, window: Duration) {
    loop {
        {
            let Ok(mut state) = group.state.lock() else {
                return;
            };
            while state.requested == state.synced && !state.stop {
                let Ok(s) = group.changed.wait(state) else {
                    return;
                };
                state = s;
            }
            if state.stop {
                return;
            }
        }
        // Let more writers join this sync.
        std::thread::sleep(window);
        let target = match group.state.lock() {
            Ok(s) => s.requested,
            Err(_) => return,
        };
        let result = db.flush_wal(true);
        let Ok(mut state) = group.state.lock() else {
            return;
        };
        match result {
            Ok(()) => state.synced = state.synced.max(target),
            // The writers it covered get the error; later ones wait for the next try.
            Err(e) => {
                tracing::error!(error = %e, "commit log group sync failed");
                state.failed = Some((target, e.to_string()));
            }
        }
        group.changed.notify_all();
    }
}
