//! `rocksdb`: raw RocksDB puts and gets, the baseline of the node's writes and reads. The
//! database is opened by `fastdata_kv::engine::open_plain` with the node's defaults
//! (`StoreConfig::new`: its block cache, memtable budget, compression, bloom filters; none of
//! its cell semantics), keys are YCSB's `user<n>` with `n` uniform below `--records`, and
//! puts go through the WAL as the node's `commitlog_sync: periodic` writes: no sync per write,
//! the WAL synced by a background thread every `commitlog_sync_period_ms`. Gets come after a
//! put phase that writes every key once (not measured).

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use fastdata_benches::load::letters;
use fastdata_benches::load::{self, Done, LoadConfig, Report};
use fastdata_benches::ycsb::key;
use fastdata_kv::engine::{open_plain, Db, EngineConfig};
use fastdata_kv::StoreConfig;
use rand::rngs::SmallRng;
use rand::Rng;

use crate::blocking::{Blocking, BlockingOps};
use crate::RocksOp;

/// What to run where.
pub struct Settings {
    /// The data directory (RocksDB in `DIR/rocksdb`).
    pub dir: PathBuf,
    /// Keys `user0` .. `user<records - 1>`.
    pub records: u64,
    /// Bytes of each value.
    pub value_size: usize,
    /// Puts or gets.
    pub op: RocksOp,
    /// The block cache (default: the node's default), to match a node run with another.
    pub block_cache_size_bytes: Option<usize>,
}

struct RocksOps {
    db: Arc<Db>,
    op: RocksOp,
    records: u64,
    value: Vec<u8>,
}

impl RocksOps {
    fn put(&self, n: u64) -> anyhow::Result<u64> {
        self.db
            .put(key(n), &self.value)
            .with_context(|| format!("putting user{n}"))?;
        Ok(self.value.len() as u64)
    }

    fn get(&self, n: u64) -> anyhow::Result<u64> {
        let value = self
            .db
            .get_pinned(key(n))
            .with_context(|| format!("getting user{n}"))?
            .ok_or_else(|| anyhow!("user{n} is missing after the put phase"))?;
        Ok(value.len() as u64)
    }
}

impl BlockingOps for RocksOps {
    type Input = u64;

    fn kinds(&self) -> &'static [&'static str] {
        match self.op {
            RocksOp::Put => &["put"],
            RocksOp::Get => &["get"],
        }
    }

    fn draw(&self, _worker: usize, rng: &mut SmallRng) -> u64 {
        rng.gen_range(0..self.records)
    }

    fn run(&self, _worker: usize, n: u64) -> anyhow::Result<Done> {
        let bytes = match self.op {
            RocksOp::Put => self.put(n)?,
            RocksOp::Get => self.get(n)?,
        };
        Ok(Done { kind: 0, bytes })
    }
}

/// The node's periodic commit log sync: `flush_wal(true)` every period until stopped.
struct PeriodicSync {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<anyhow::Result<()>>,
}

impl PeriodicSync {
    fn start(db: Arc<Db>, period: Duration) -> PeriodicSync {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || loop {
            match stopped.recv_timeout(period) {
                Err(RecvTimeoutError::Timeout) => db.flush_wal(true).context("syncing the WAL")?,
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
        });
        PeriodicSync { stop, thread }
    }

    fn stop(self) -> anyhow::Result<()> {
        // The thread may have ended on an error already; join says which.
        let _ = self.stop.send(());
        self.thread
            .join()
            .map_err(|_| anyhow!("the WAL sync thread panicked"))?
    }
}

/// Opens the database, loads it if the op is a get, and reports the puts or gets.
pub async fn run(settings: &Settings, config: &LoadConfig) -> anyhow::Result<Report> {
    let node = StoreConfig::new(&settings.dir);
    let engine = EngineConfig {
        data_dir: node.data_dir.clone(),
        commitlog_sync: node.commitlog_sync,
        commitlog_sync_period_ms: node.commitlog_sync_period_ms,
        commitlog_sync_group_window_ms: node.commitlog_sync_group_window_ms,
        block_cache_size_bytes: settings
            .block_cache_size_bytes
            .unwrap_or(node.block_cache_size_bytes),
        memtable_total_size_bytes: node.memtable_total_size_bytes,
    };
    std::fs::create_dir_all(&settings.dir)
        .with_context(|| format!("creating {}", settings.dir.display()))?;
    let db = Arc::new(
        open_plain(&engine)
            .with_context(|| format!("opening RocksDB in {}", settings.dir.display()))?,
    );
    let sync = PeriodicSync::start(
        db.clone(),
        Duration::from_millis(engine.commitlog_sync_period_ms.max(1)),
    );
    let ops = Arc::new(RocksOps {
        db,
        op: settings.op,
        records: settings.records,
        value: letters(settings.value_size, 1).to_vec(),
    });
    if settings.op == RocksOp::Get {
        let loading = ops.clone();
        let started = Instant::now();
        tokio::task::spawn_blocking(move || {
            (0..loading.records).try_for_each(|n| loading.put(n).map(drop))
        })
        .await
        .context("the put phase panicked")??;
        eprintln!(
            "put phase: {} records in {:.1} s",
            settings.records,
            started.elapsed().as_secs_f64()
        );
    }
    let name = match settings.op {
        RocksOp::Put => "rocksdb put",
        RocksOp::Get => "rocksdb get",
    };
    let report = load::run(name, Arc::new(Blocking(ops)), config).await;
    sync.stop()?;
    Ok(report
        .with(
            "durability",
            format!(
                "WAL, no sync per write; WAL synced every {} ms (the node's commitlog_sync periodic)",
                engine.commitlog_sync_period_ms
            ),
        )
        .with("options", "the node's (engine::open_plain with StoreConfig's defaults)")
        .with("block cache", format!("{} MiB", engine.block_cache_size_bytes >> 20))
        .with("keys", format!("user<n>, n uniform below {}", settings.records))
        .with("value size", format!("{} B", settings.value_size))
        .with(
            "data",
            match settings.op {
                RocksOp::Put => "as found in the directory".to_string(),
                RocksOp::Get => format!("every key put once before the gets, in {}", settings.dir.display()),
            },
        ))
}
