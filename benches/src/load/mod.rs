//! The load generator's engine, shared by every workload of `fastdata bench` and by the peers'
//! drivers of the side-by-side runner: workers that keep a window of operations in flight,
//! paced either as a closed loop (a new operation as soon as one finishes: the maximum
//! throughput) or as an open loop (operations due at a fixed rate whether or not earlier ones
//! have finished, each one's latency measured from when it was due, which corrects for
//! coordinated omission), HdrHistogram latencies per kind of operation, a live progress line,
//! and a [`Report`] printed as a table and as JSON.
//!
//! A workload is anything that can start one operation after another ([`Workload::start`]);
//! the engine knows nothing of Kafka or CQL.

pub mod keys;
mod report;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

pub use report::{LatencyRow, Report};

/// Errors of a workload's operations and of its setup.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Latencies are recorded in microseconds, from 1 µs to an hour, to 3 significant digits.
const HISTOGRAM_MAX_US: u64 = 3_600_000_000;

/// One finished operation: which kind it was (an index into [`Workload::kinds`]) and how many
/// payload bytes it moved.
#[derive(Clone, Copy, Debug)]
pub struct Done {
    /// Index of the operation's kind in [`Workload::kinds`].
    pub kind: usize,
    /// Payload bytes written or read.
    pub bytes: u64,
}

/// What the engine drives.
pub trait Workload: Send + Sync + 'static {
    /// Names of the kinds of operation, e.g. `["read", "update"]`; each gets its own latency row.
    fn kinds(&self) -> &'static [&'static str];
    /// Starts the `seq`-th operation of `worker` (the returned future does the work).
    fn start(
        &self,
        worker: usize,
        seq: u64,
        rng: &mut SmallRng,
    ) -> BoxFuture<'static, Result<Done, BoxError>>;
}

/// How operations are paced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// A new operation as soon as one of the window finishes.
    Closed,
    /// `rate` operations per second in all, spread evenly over the workers; latency counts from
    /// when an operation was due.
    Open {
        /// Operations per second, all workers together.
        rate: f64,
    },
}

/// How a run goes.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Independent workers (each with its own window and random stream).
    pub workers: usize,
    /// Operations in flight per worker, at most.
    pub window: usize,
    /// Closed or open loop.
    pub pace: Pace,
    /// Operations finished before this much time has passed are not counted.
    pub warmup: Duration,
    /// How long operations are counted after the warm-up.
    pub duration: Duration,
    /// Stop issuing after this many operations in all (the warm-up included), e.g. a load phase.
    pub max_ops: Option<u64>,
    /// Print a progress line on stderr every second.
    pub progress: bool,
    /// Stop issuing after this many failed operations.
    pub max_errors: u64,
}

impl LoadConfig {
    /// A configuration from command-line values, checked: `rate` (operations per second in
    /// all) makes an open loop, none a closed loop; the errors name the flag.
    pub fn from_flags(
        workers: usize,
        window: usize,
        rate: Option<f64>,
        warmup_seconds: f64,
        duration_seconds: f64,
        progress: bool,
    ) -> Result<LoadConfig, String> {
        let seconds = |flag: &str, s: f64| {
            Duration::try_from_secs_f64(s)
                .map_err(|_| format!("--{flag} {s} is not a number of seconds"))
        };
        let pace = match rate {
            Some(rate) if rate > 0.0 && rate.is_finite() => Pace::Open { rate },
            Some(rate) => return Err(format!("--rate {rate} is not a positive number")),
            None => Pace::Closed,
        };
        Ok(LoadConfig {
            workers: workers.max(1),
            window: window.max(1),
            pace,
            warmup: seconds("warmup", warmup_seconds)?,
            duration: seconds("duration", duration_seconds)?,
            progress,
            ..LoadConfig::default()
        })
    }
}

/// `len` random uppercase letters (compressible about as much as text), the payload every
/// workload writes, as `kafka-producer-perf-test.sh` makes its values.
pub fn letters(len: usize, seed: u64) -> bytes::Bytes {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..len)
        .map(|_| rng.gen_range(b'A'..=b'Z'))
        .collect::<Vec<u8>>()
        .into()
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            workers: 4,
            window: 16,
            pace: Pace::Closed,
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(10),
            max_ops: None,
            progress: true,
            max_errors: 100,
        }
    }
}

/// Counters every worker adds to and the progress line reads.
#[derive(Default)]
struct Shared {
    issued: AtomicU64,
    finished: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
}

/// What one worker measured.
struct WorkerResult {
    histograms: Vec<Histogram<u64>>,
    counted: u64,
    counted_bytes: u64,
    errors: u64,
    first_error: Option<String>,
}

fn histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts.
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_US, 3).expect("valid histogram bounds")
}

/// Runs `workload` as `config` says and reports what it measured. Operations that fail are
/// counted and the first error kept; the run stops issuing after `max_errors` failures.
pub async fn run<W: Workload>(name: &str, workload: Arc<W>, config: &LoadConfig) -> Report {
    let shared = Arc::new(Shared::default());
    let begin = Instant::now();
    let measure_from = begin + config.warmup;
    let measure_until = measure_from + config.duration;
    let workers = config.workers.max(1);
    let progress = config
        .progress
        .then(|| tokio::spawn(progress_line(shared.clone(), begin, config.warmup)));
    let mut handles = Vec::with_capacity(workers);
    for worker in 0..workers {
        let (workload, shared, config) = (workload.clone(), shared.clone(), config.clone());
        handles.push(tokio::spawn(async move {
            drive(
                worker,
                workers,
                &*workload,
                &shared,
                &config,
                begin,
                measure_from,
                measure_until,
            )
            .await
        }));
    }
    let kinds = workload.kinds();
    let mut merged: Vec<Histogram<u64>> = kinds.iter().map(|_| histogram()).collect();
    let (mut counted, mut bytes, mut errors, mut first_error) = (0, 0, 0, None);
    for handle in handles {
        match handle.await {
            Ok(result) => {
                for (into, from) in merged.iter_mut().zip(&result.histograms) {
                    // Same bounds on both sides: adding cannot fail.
                    let _ = into.add(from);
                }
                counted += result.counted;
                bytes += result.counted_bytes;
                errors += result.errors;
                if first_error.is_none() {
                    first_error = result.first_error;
                }
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("a worker panicked: {e}"));
            }
        }
    }
    if let Some(progress) = progress {
        progress.abort();
        eprintln!();
    }
    let ended = Instant::now().min(measure_until).max(measure_from);
    let seconds = (ended - measure_from).as_secs_f64();
    let mut report = Report::throughput(name, counted, bytes, seconds)
        .with_latencies(kinds, &merged)
        .with_pace(config);
    report.errors = errors;
    report.first_error = first_error;
    report
}

/// One worker: keeps up to `window` operations in flight until the run ends, then waits for
/// what is in flight.
#[allow(clippy::too_many_arguments)]
async fn drive<W: Workload>(
    worker: usize,
    workers: usize,
    workload: &W,
    shared: &Shared,
    config: &LoadConfig,
    begin: Instant,
    measure_from: Instant,
    measure_until: Instant,
) -> WorkerResult {
    let mut rng = SmallRng::seed_from_u64(0x5eed_0000 + worker as u64);
    let mut out = WorkerResult {
        histograms: workload.kinds().iter().map(|_| histogram()).collect(),
        counted: 0,
        counted_bytes: 0,
        errors: 0,
        first_error: None,
    };
    let interval = match config.pace {
        Pace::Open { rate } if rate > 0.0 => Some(Duration::from_secs_f64(workers as f64 / rate)),
        _ => None,
    };
    let window = config.window.max(1);
    let mut inflight = FuturesUnordered::new();
    let mut seq = 0u64;
    // The open loop's schedule: when the next operation is due, and one timer for it, moved
    // forward as `due` moves (a new timer per wait would cost a timer-wheel entry per operation).
    let mut due = begin;
    let timer = tokio::time::sleep_until(due.into());
    tokio::pin!(timer);
    loop {
        let now = Instant::now();
        let may_issue = now < measure_until
            && !shared.stop.load(Ordering::Relaxed)
            && config
                .max_ops
                .is_none_or(|max| shared.issued.load(Ordering::Relaxed) < max);
        if may_issue && inflight.len() < window && interval.is_none_or(|_| due <= now) {
            if shared.issued.fetch_add(1, Ordering::Relaxed) >= config.max_ops.unwrap_or(u64::MAX) {
                continue;
            }
            let op = workload.start(worker, seq, &mut rng);
            seq += 1;
            // Closed loop: latency from now (after `start`'s setup); open loop: from when the
            // operation was due.
            let started = match interval {
                Some(interval) => {
                    due += interval;
                    due - interval
                }
                None => Instant::now(),
            };
            inflight.push(async move { (started, op.await) });
            continue;
        }
        if inflight.is_empty() {
            if !may_issue {
                break;
            }
            // Open loop with nothing in flight: sleep until the next one is due.
            wait_until(timer.as_mut(), due).await;
            continue;
        }
        let finished = match interval {
            Some(_) if may_issue && inflight.len() < window => {
                tokio::select! {
                    finished = inflight.next() => finished,
                    () = wait_until(timer.as_mut(), due) => continue,
                }
            }
            _ => inflight.next().await,
        };
        let Some((started, result)) = finished else {
            continue;
        };
        let now = Instant::now();
        shared.finished.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(done) => {
                shared.bytes.fetch_add(done.bytes, Ordering::Relaxed);
                // Counted, and its latency recorded, if it finished inside the interval.
                if now >= measure_from && now <= measure_until {
                    let us =
                        u64::try_from(now.duration_since(started).as_micros()).unwrap_or(u64::MAX);
                    if let Some(h) = out.histograms.get_mut(done.kind) {
                        h.saturating_record(us.clamp(1, HISTOGRAM_MAX_US));
                    }
                    out.counted += 1;
                    out.counted_bytes += done.bytes;
                }
            }
            Err(e) => {
                out.errors += 1;
                out.first_error.get_or_insert_with(|| e.to_string());
                if shared.errors.fetch_add(1, Ordering::Relaxed) + 1 >= config.max_errors {
                    shared.stop.store(true, Ordering::Relaxed);
                }
            }
        }
    }
    out
}

/// `timer`, moved to `due` if it was set for another instant, until it fires.
fn wait_until(
    mut timer: std::pin::Pin<&mut tokio::time::Sleep>,
    due: Instant,
) -> std::pin::Pin<&mut tokio::time::Sleep> {
    let due = tokio::time::Instant::from_std(due);
    if timer.deadline() != due {
        timer.as_mut().reset(due);
    }
    timer
}

/// Prints `[  12s] 1,234,567 ops  123,456 ops/s  12.3 MB/s  0 errors` on stderr every second,
/// overwriting itself; the warm-up is marked.
async fn progress_line(shared: Arc<Shared>, begin: Instant, warmup: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let (mut last_ops, mut last_bytes) = (0u64, 0u64);
    loop {
        tick.tick().await;
        let ops = shared.finished.load(Ordering::Relaxed);
        let bytes = shared.bytes.load(Ordering::Relaxed);
        let elapsed = begin.elapsed();
        eprint!(
            "\r[{:>4}s{}] {:>12} ops {:>10} ops/s {:>9.1} MB/s {:>6} errors   ",
            elapsed.as_secs(),
            if elapsed < warmup { " warm-up" } else { "" },
            report::grouped(ops),
            report::grouped(ops - last_ops),
            (bytes - last_bytes) as f64 / 1e6,
            shared.errors.load(Ordering::Relaxed),
        );
        (last_ops, last_bytes) = (ops, bytes);
    }
}
