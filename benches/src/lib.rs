//! fastdata-benches: the instruments that measure fastdata.
//!
//! - The load generator behind `fastdata bench`: its engine ([`load`]: closed and open loops,
//!   coordinated-omission correction, HdrHistogram latencies, the report as a table and JSON),
//!   the log workloads over the Kafka protocol with our client ([`kafka_load`]) and YCSB's
//!   store workloads over CQL with the `scylla` driver ([`ycsb`]). The side-by-side runner
//!   (`benches/side-by-side/`) drives fastdata and its peers with them.
//! - What the criterion benchmarks (`benches/benches/`) share: the batch maker, the plain-file
//!   baseline writer every figure is compared with, the log writers, the tally that turns
//!   samples into "our figure = ratio × baseline" lines, and the peak-RSS reader.
//!
//! Every writer here keeps its disk use bounded: once it has written its byte budget it deletes
//! its file (or log directory) and starts a fresh one. Callers do that reset outside the timed
//! region ([`timed_writes`], [`timed_parallel_writes`]).

pub mod kafka_load;
pub mod load;
pub mod ycsb;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fastdata_log::batch::{BatchBuilder, BatchError, Compression};
use fastdata_log::storage::RealStorage;
use fastdata_log::{LogConfig, PartitionLog, SystemClock};

/// Size of one record's value in the append benchmarks.
pub const RECORD_VALUE_BYTES: usize = 1024;
/// Upper bound on the size of one batch in the append benchmarks, and the size of one baseline
/// `write_all`.
pub const BATCH_BYTES: usize = 64 * 1024;
/// `segment.bytes` of every benchmark log.
pub const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// Errors of the benchmark helpers: I/O, the engine's, or a batch that could not be built.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Whether the process runs as a measurement (`cargo bench` passes `--bench`) rather than in
/// criterion's test mode (`cargo test --benches`), where each benchmark runs once.
pub fn is_bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// An uncompressed batch of exactly `batch_bytes` bytes: records with `value_bytes`-byte values
/// (no key, no headers), the last one's value sized so the batch fills `batch_bytes` (so a 64 KiB
/// batch is written as one page-aligned 64 KiB write, like the baseline's). Falls back to the
/// largest batch of whole records below `batch_bytes` if no exact size is reachable.
pub fn make_batch(batch_bytes: usize, value_bytes: usize) -> Result<Bytes, BatchError> {
    let value: Vec<u8> = (0..value_bytes * 2).map(|i| (i % 251) as u8).collect();
    let build = |full: usize, last: Option<usize>| {
        let mut b = BatchBuilder::new(Compression::None);
        for i in 0..full {
            b.append(
                1_700_000_000_000 + i as i64,
                None,
                Some(&value[..value_bytes]),
                &[],
            );
        }
        if let Some(len) = last {
            b.append(
                1_700_000_000_000 + full as i64,
                None,
                Some(&value[..len]),
                &[],
            );
        }
        b.build()
    };
    let mut full = 1;
    while build(full + 1, None)?.len() <= batch_bytes {
        full += 1;
    }
    let base = build(full, None)?;
    let room = batch_bytes.saturating_sub(base.len());
    for len in (0..room.min(value.len())).rev() {
        let batch = build(full, Some(len))?;
        if batch.len() == batch_bytes {
            return Ok(batch);
        }
        if batch.len() < batch_bytes {
            break;
        }
    }
    Ok(base)
}

/// The directory the benchmark data lives in: a fresh temporary directory, removed on drop.
///
/// It sits in the system temp dir when that is on the same filesystem (device) as the Cargo
/// target directory, and under the target directory otherwise, so every figure measures the
/// disk the build uses.
pub fn bench_root() -> io::Result<tempfile::TempDir> {
    let target = target_dir();
    let tmp = std::env::temp_dir();
    let same_device = match (&target, fs::metadata(&tmp)) {
        (Some(t), Ok(tmp_meta)) => fs::metadata(t).is_ok_and(|m| m.dev() == tmp_meta.dev()),
        (None, Ok(_)) => true,
        _ => false,
    };
    let parent = match (same_device, target) {
        (true, _) | (false, None) => tmp,
        (false, Some(t)) => {
            let dir = t.join("bench-data");
            fs::create_dir_all(&dir)?;
            dir
        }
    };
    tempfile::Builder::new()
        .prefix("fastdata-bench-")
        .tempdir_in(parent)
}

/// The Cargo target directory: `$CARGO_TARGET_DIR`, else the ancestor of this executable
/// (`<target>/<profile>/deps/<bin>`).
fn target_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors().nth(3).map(Path::to_path_buf)
}

/// Peak resident set size of this process in KiB (`VmHWM` in `/proc/self/status`).
pub fn peak_rss_kib() -> io::Result<u64> {
    status_kib("VmHWM:")
}

/// Current resident set size of this process in KiB (`VmRSS`).
pub fn rss_kib() -> io::Result<u64> {
    status_kib("VmRSS:")
}

fn status_kib(key: &str) -> io::Result<u64> {
    let status = fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("no {key} line")))
}

/// "peak RSS 12.3 MiB (now 10.1 MiB)", or why it could not be read.
pub fn rss_line() -> String {
    match (peak_rss_kib(), rss_kib()) {
        (Ok(peak), Ok(now)) => format!(
            "peak RSS {:.1} MiB (now {:.1} MiB)",
            peak as f64 / 1024.0,
            now as f64 / 1024.0
        ),
        (Err(e), _) | (_, Err(e)) => format!("peak RSS unavailable: {e}"),
    }
}

/// Something that performs one unit of writing, with a byte budget after which it must be reset
/// (outside the timed region) to keep disk use bounded.
pub trait Sink {
    /// Bytes one call to [`Sink::write_one`] writes.
    fn bytes_per_write(&self) -> u64;
    /// Writes left before the budget is spent.
    fn room(&self) -> u64;
    /// One unit of work (one write or append, with its sync if the sink syncs).
    fn write_one(&mut self) -> Result<(), BoxError>;
    /// Start over with an empty file or log.
    fn reset(&mut self) -> Result<(), BoxError>;
}

/// Run `iters` writes on `sink`, resetting it whenever its budget is spent; returns the time
/// spent in the writes only.
pub fn timed_writes(sink: &mut dyn Sink, iters: u64) -> Result<Duration, BoxError> {
    let mut elapsed = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        if sink.room() == 0 {
            sink.reset()?;
        }
        let n = left.min(sink.room()).max(1);
        let start = Instant::now();
        for _ in 0..n {
            sink.write_one()?;
        }
        elapsed += start.elapsed();
        left -= n;
    }
    Ok(elapsed)
}

/// Run `iters` writes on every sink concurrently, one thread per sink; returns the wall-clock
/// time of the writes (from a barrier that releases all threads to the last one finishing),
/// excluding the resets done between rounds.
pub fn timed_parallel_writes<S: Sink + Send>(
    sinks: &mut [S],
    iters: u64,
) -> Result<Duration, BoxError> {
    let mut elapsed = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        for s in sinks.iter_mut() {
            if s.room() == 0 {
                s.reset()?;
            }
        }
        let n = sinks
            .iter()
            .map(|s| s.room())
            .min()
            .unwrap_or(0)
            .min(left)
            .max(1);
        let barrier = Arc::new(Barrier::new(sinks.len() + 1));
        let round = std::thread::scope(|scope| -> Result<Duration, BoxError> {
            let handles: Vec<_> = sinks
                .iter_mut()
                .map(|s| {
                    let barrier = Arc::clone(&barrier);
                    scope.spawn(move || -> Result<(), BoxError> {
                        barrier.wait();
                        for _ in 0..n {
                            s.write_one()?;
                        }
                        Ok(())
                    })
                })
                .collect();
            barrier.wait();
            let start = Instant::now();
            let mut first_error = None;
            for h in handles {
                let outcome = h
                    .join()
                    .unwrap_or_else(|_| Err("a writer thread panicked".into()));
                if let Err(e) = outcome {
                    first_error.get_or_insert(e);
                }
            }
            let took = start.elapsed();
            first_error.map_or(Ok(took), Err)
        })?;
        elapsed += round;
        left -= n;
    }
    Ok(elapsed)
}

/// The plain baseline: a `write_all` loop of fixed-size chunks to one file, with an optional
/// `fdatasync` after each write. At its budget the file is deleted and created again, as the log
/// writers delete and recreate their directory, so both sides extend a fresh file.
pub struct BaselineWriter {
    path: PathBuf,
    file: File,
    chunk: Vec<u8>,
    sync: bool,
    written: u64,
    budget: u64,
}

impl BaselineWriter {
    /// A writer of `chunk_bytes`-byte chunks to `path` (created or truncated), spending at most
    /// `budget_bytes` of disk before it starts over.
    pub fn new(
        path: PathBuf,
        chunk_bytes: usize,
        sync: bool,
        budget_bytes: u64,
    ) -> io::Result<Self> {
        let file = File::create(&path)?;
        Ok(BaselineWriter {
            path,
            file,
            chunk: (0..chunk_bytes).map(|i| (i % 253) as u8).collect(),
            sync,
            written: 0,
            budget: budget_bytes,
        })
    }
}

impl Sink for BaselineWriter {
    fn bytes_per_write(&self) -> u64 {
        self.chunk.len() as u64
    }

    fn room(&self) -> u64 {
        self.budget.saturating_sub(self.written) / self.bytes_per_write().max(1)
    }

    fn write_one(&mut self) -> Result<(), BoxError> {
        self.file.write_all(&self.chunk)?;
        if self.sync {
            self.file.sync_data()?;
        }
        self.written += self.chunk.len() as u64;
        Ok(())
    }

    fn reset(&mut self) -> Result<(), BoxError> {
        fs::remove_file(&self.path)?;
        self.file = File::create(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

impl Drop for BaselineWriter {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// The configuration of every benchmark log: 64 MiB segments, small indexes, no flush policy
/// (the benchmarks call `flush_until` themselves when they want durability).
pub fn bench_log_config() -> LogConfig {
    LogConfig {
        segment_bytes: SEGMENT_BYTES,
        segment_index_bytes: 1024 * 1024,
        ..LogConfig::default()
    }
}

/// Open a fresh partition log in `dir` on the real filesystem.
pub fn open_log(dir: &Path) -> fastdata_log::Result<PartitionLog> {
    PartitionLog::open(
        dir,
        bench_log_config(),
        Arc::new(RealStorage),
        Arc::new(SystemClock),
    )
}

/// Appends one batch per write to a partition log, optionally followed by
/// `flush_until(last_offset + 1)`. At its budget the log is dropped, its directory deleted, and a
/// fresh one opened.
pub struct LogWriter {
    dir: PathBuf,
    log: Option<PartitionLog>,
    batch: Bytes,
    flush: bool,
    written: u64,
    budget: u64,
}

impl LogWriter {
    /// A writer appending `batch` to a log in `dir` (which must not hold another log), spending
    /// at most `budget_bytes` of log before it starts over.
    pub fn new(
        dir: PathBuf,
        batch: Bytes,
        flush: bool,
        budget_bytes: u64,
    ) -> Result<Self, BoxError> {
        let log = open_log(&dir)?;
        Ok(LogWriter {
            dir,
            log: Some(log),
            batch,
            flush,
            written: 0,
            budget: budget_bytes,
        })
    }
}

impl Sink for LogWriter {
    fn bytes_per_write(&self) -> u64 {
        self.batch.len() as u64
    }

    fn room(&self) -> u64 {
        self.budget.saturating_sub(self.written) / self.bytes_per_write().max(1)
    }

    fn write_one(&mut self) -> Result<(), BoxError> {
        let log = self.log.as_ref().ok_or("the log failed to reopen")?;
        let info = log.append(self.batch.clone(), 0)?;
        if self.flush {
            log.flush_until(info.last_offset + 1)?;
        }
        self.written += self.batch.len() as u64;
        Ok(())
    }

    fn reset(&mut self) -> Result<(), BoxError> {
        // Dropped without close(): a clean close would fsync data that is about to be deleted.
        drop(self.log.take());
        fs::remove_dir_all(&self.dir)?;
        self.log = Some(open_log(&self.dir)?);
        self.written = 0;
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        drop(self.log.take());
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Throughput samples per benchmark, so a group can print each figure as a ratio of its
/// baseline. Criterion does not hand its estimates back to the benchmark, so the benchmarks
/// record every `iter_custom` call here as well.
#[derive(Debug, Default)]
pub struct Tally {
    samples: Mutex<BTreeMap<String, Vec<f64>>>,
    /// Per-sample ratios (baseline time / our time) of benchmarks measured in pairs.
    pairs: Mutex<BTreeMap<String, Vec<f64>>>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Self {
        Tally::default()
    }

    /// Note that `name` moved `bytes` in `elapsed`.
    pub fn record(&self, name: &str, bytes: u64, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if secs <= 0.0 {
            return;
        }
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        samples
            .entry(name.to_string())
            .or_default()
            .push(bytes as f64 / secs);
    }

    /// Note that one sample of `name` took `ours` where its baseline, timed just before for the
    /// same writes, took `baseline`.
    pub fn record_pair(&self, name: &str, ours: Duration, baseline: Duration) {
        let ours = ours.as_secs_f64();
        if ours <= 0.0 {
            return;
        }
        let mut pairs = self.pairs.lock().unwrap_or_else(|e| e.into_inner());
        pairs
            .entry(name.to_string())
            .or_default()
            .push(baseline.as_secs_f64() / ours);
    }

    /// "append/no-flush-paired: 0.71 × baseline write_all (median of 10 paired samples, 0.64–0.77)".
    pub fn paired_line(&self, name: &str, baseline: &str, last: usize) -> String {
        let pairs = self.pairs.lock().unwrap_or_else(|e| e.into_inner());
        let Some(all) = pairs.get(name) else {
            return format!("{name}: no paired samples");
        };
        let mut tail: Vec<f64> = all[all.len().saturating_sub(last.max(1))..].to_vec();
        tail.sort_by(f64::total_cmp);
        match (tail.first(), tail.last()) {
            (Some(lo), Some(hi)) => format!(
                "{name}: {:.2} × baseline {baseline} (median of {} paired samples, {lo:.2}–{hi:.2})",
                median_of_sorted(&tail),
                tail.len()
            ),
            _ => format!("{name}: no paired samples"),
        }
    }

    /// Median bytes/s over the last `last` samples of `name` (criterion's measurement samples
    /// come after its warm-up calls), or `None` if there is none.
    pub fn median(&self, name: &str, last: usize) -> Option<f64> {
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let all = samples.get(name)?;
        let mut tail: Vec<f64> = all[all.len().saturating_sub(last.max(1))..].to_vec();
        if tail.is_empty() {
            return None;
        }
        tail.sort_by(f64::total_cmp);
        Some(median_of_sorted(&tail))
    }

    /// "append/no-flush: 1.23 GB/s = 0.87 × baseline write_all 1.41 GB/s", from the medians of
    /// the last `last` samples, or a line saying which figure is missing.
    pub fn ratio_line(&self, ours: &str, baseline: &str, last: usize) -> String {
        match (self.median(ours, last), self.median(baseline, last)) {
            (Some(a), Some(b)) if b > 0.0 => {
                let short = baseline.rsplit('/').next().unwrap_or(baseline);
                let short = short.strip_prefix("baseline-").unwrap_or(short);
                format!(
                    "{ours}: {} = {:.2} × baseline {short} {}",
                    format_rate(a),
                    a / b,
                    format_rate(b)
                )
            }
            _ => format!("{ours}: no samples of it or of baseline {baseline}"),
        }
    }
}

/// The median of a sorted, non-empty slice.
fn median_of_sorted(sorted: &[f64]) -> f64 {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 0 {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

/// A rate in decimal units: "1.23 GB/s", "45.6 MB/s".
pub fn format_rate(bytes_per_sec: f64) -> String {
    if bytes_per_sec >= 1e9 {
        format!("{:.2} GB/s", bytes_per_sec / 1e9)
    } else if bytes_per_sec >= 1e6 {
        format!("{:.1} MB/s", bytes_per_sec / 1e6)
    } else {
        format!("{:.1} kB/s", bytes_per_sec / 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_fits_and_validates() {
        let batch = make_batch(BATCH_BYTES, RECORD_VALUE_BYTES).expect("build");
        assert_eq!(batch.len(), BATCH_BYTES);
        assert!(batch.len() > BATCH_BYTES - 2 * RECORD_VALUE_BYTES);
        let b = fastdata_log::batch::RecordBatch::validate(batch).expect("valid");
        b.validate_client_records(1 << 20).expect("client-valid");
    }

    #[test]
    fn rss_is_readable() {
        assert!(peak_rss_kib().expect("VmHWM") > 0);
    }

    #[test]
    fn median_of_tail() {
        let t = Tally::new();
        for r in [100u64, 1, 3, 2] {
            t.record("x", r, Duration::from_secs(1));
        }
        assert_eq!(t.median("x", 3), Some(2.0));
        assert_eq!(t.median("y", 3), None);
    }
}
