//! Criterion benchmarks of the log engine, each beside a plain-file baseline measured in the same
//! run: append (no flush; flush on every append with 1 and with 8 partitions), sequential read
//! from the page cache, and batch validation. After each group the figures are printed as ratios
//! of their baselines, with the process's peak RSS. `docs/benchmarks.md` has the results.
//!
//! `cargo bench -p fastdata-benches` measures; `cargo test -p fastdata-benches --benches` runs
//! every benchmark once (criterion's test mode) and prints the same lines from that single run.

use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use fastdata_benches::{
    bench_root, is_bench_mode, make_batch, open_log, rss_line, timed_parallel_writes, timed_writes,
    BaselineWriter, LogWriter, Sink, Tally, BATCH_BYTES, RECORD_VALUE_BYTES,
};
use fastdata_log::batch::{BatchHeader, RecordBatch, CRC_START, LOG_OVERHEAD};
use fastdata_log::PartitionLog;

/// Criterion samples per benchmark; the ratio lines use the median of the same samples.
const SAMPLES: usize = 10;
/// Disk budget of one single-writer benchmark before it starts over (two 64 MiB segments).
const SINGLE_BUDGET: u64 = 128 * 1024 * 1024;
/// Appenders (partitions, threads) of the concurrent benchmark.
const PARTITIONS: usize = 8;
/// Disk budget of each of the concurrent benchmark's writers (8 × 32 MiB in all).
const PARTITION_BUDGET: u64 = 32 * 1024 * 1024;
/// The largest read of the read benchmarks.
const READ_MAX_BYTES: usize = 1024 * 1024;

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// The group of the append benchmarks (criterion does not expose a group's name).
const APPEND: &str = "append";

/// How many of the tally's last samples are the measurement (1 in test mode).
fn measured_samples() -> usize {
    if is_bench_mode() {
        SAMPLES
    } else {
        1
    }
}

fn mode_note() -> &'static str {
    if is_bench_mode() {
        ""
    } else {
        "  (test mode: one run each, not a measurement)"
    }
}

fn configure(group: &mut Group<'_>, measurement: Duration) {
    group
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(measurement);
}

/// Benchmark `sink` (one write per iteration) under `name`, recording samples in `tally`.
fn bench_sink(group: &mut Group<'_>, tally: &Arc<Tally>, name: &str, mut sink: impl Sink) {
    group.throughput(Throughput::BytesDecimal(sink.bytes_per_write()));
    let full = format!("{APPEND}/{name}");
    let tally = Arc::clone(tally);
    group.bench_function(name, move |b| {
        b.iter_custom(|iters| {
            let took = timed_writes(&mut sink, iters).expect("benchmark writes failed");
            tally.record(&full, iters * sink.bytes_per_write(), took);
            took
        })
    });
}

/// Benchmark `sinks` writing concurrently (one iteration = one write on each) under `name`.
fn bench_parallel<S: Sink + Send>(
    group: &mut Group<'_>,
    tally: &Arc<Tally>,
    name: &str,
    mut sinks: Vec<S>,
) {
    let per_iter: u64 = sinks.iter().map(|s| s.bytes_per_write()).sum();
    group.throughput(Throughput::BytesDecimal(per_iter));
    let full = format!("{APPEND}/{name}");
    let tally = Arc::clone(tally);
    group.bench_function(name, move |b| {
        b.iter_custom(|iters| {
            let took = timed_parallel_writes(&mut sinks, iters)
                .expect("concurrent benchmark writes failed");
            tally.record(&full, iters * per_iter, took);
            took
        })
    });
}

/// Benchmark `ours` and `baseline` in alternation: every criterion sample times the baseline and
/// then ours for the same number of writes, so both see the same disk and the per-sample ratio
/// is not skewed by the disk's mood changing between two benchmarks. Criterion reports ours.
fn bench_paired(
    group: &mut Group<'_>,
    tally: &Arc<Tally>,
    name: &str,
    mut ours: impl Sink,
    mut baseline: impl Sink,
) {
    group.throughput(Throughput::BytesDecimal(ours.bytes_per_write()));
    let full = format!("{APPEND}/{name}");
    let tally = Arc::clone(tally);
    group.bench_function(name, move |b| {
        b.iter_custom(|iters| {
            let base = timed_writes(&mut baseline, iters).expect("baseline writes failed");
            let took = timed_writes(&mut ours, iters).expect("benchmark writes failed");
            tally.record_pair(&full, took, base);
            took
        })
    });
}

fn print_summary(title: &str, lines: &[String]) {
    println!("\n== {title} summary{}", mode_note());
    for l in lines {
        println!("  {l}");
    }
    println!("  {}\n", rss_line());
}

fn append_benches(c: &mut Criterion) {
    let root = bench_root().expect("create the benchmark data directory");
    let dir = root.path();
    let batch = make_batch(BATCH_BYTES, RECORD_VALUE_BYTES).expect("build the 64 KiB batch");
    let tally = Arc::new(Tally::new());
    let mut group = c.benchmark_group(APPEND);
    configure(&mut group, Duration::from_secs(5));

    let baseline = |name: &str, sync: bool, budget: u64| {
        BaselineWriter::new(dir.join(name), BATCH_BYTES, sync, budget)
            .expect("create the baseline file")
    };
    let log = |name: &str, flush: bool, budget: u64| {
        LogWriter::new(dir.join(name), batch.clone(), flush, budget).expect("open the bench log")
    };

    // (a) no flush.
    bench_sink(
        &mut group,
        &tally,
        "baseline-write_all",
        baseline("plain", false, SINGLE_BUDGET),
    );
    bench_sink(
        &mut group,
        &tally,
        "no-flush",
        log("no-flush", false, SINGLE_BUDGET),
    );

    // (a) again, each sample pairing ours with the baseline (ABAB).
    bench_paired(
        &mut group,
        &tally,
        "no-flush-paired",
        log("no-flush-paired", false, SINGLE_BUDGET),
        baseline("plain-paired", false, SINGLE_BUDGET),
    );

    // (b) flush on every append, one appender. fdatasync latency on a shared virtual disk
    // varies from second to second: measure longer.
    group.measurement_time(Duration::from_secs(8));
    bench_sink(
        &mut group,
        &tally,
        "baseline-write_all+fdatasync",
        baseline("plain-sync", true, SINGLE_BUDGET),
    );
    bench_sink(
        &mut group,
        &tally,
        "flush-each",
        log("flush-each", true, SINGLE_BUDGET),
    );

    // (c) flush on every append, 8 appenders on 8 partitions.
    let plains: Vec<_> = (0..PARTITIONS)
        .map(|i| baseline(&format!("plain-sync-{i}"), true, PARTITION_BUDGET))
        .collect();
    bench_parallel(
        &mut group,
        &tally,
        "baseline-8x-write_all+fdatasync",
        plains,
    );
    let logs: Vec<_> = (0..PARTITIONS)
        .map(|i| log(&format!("flush-each-{i}"), true, PARTITION_BUDGET))
        .collect();
    bench_parallel(&mut group, &tally, "flush-each-8-partitions", logs);
    group.finish();

    let n = measured_samples();
    let r = |ours: &str, base: &str| {
        tally.ratio_line(&format!("append/{ours}"), &format!("append/{base}"), n)
    };
    print_summary(
        "append (1 KiB records, 64 KiB batches)",
        &[
            r("no-flush", "baseline-write_all"),
            tally.paired_line("append/no-flush-paired", "write_all", n),
            r("flush-each", "baseline-write_all+fdatasync"),
            r("flush-each-8-partitions", "baseline-write_all+fdatasync"),
            r("flush-each-8-partitions", "baseline-8x-write_all+fdatasync"),
        ],
    );
}

/// Fill a fresh log in `dir` with `bytes` of 64 KiB batches and make it durable, so the reads
/// come from a clean page cache with no writeback running.
fn filled_log(dir: &Path, batch: &Bytes, bytes: u64) -> PartitionLog {
    let log = open_log(dir).expect("open the read log");
    let mut written = 0;
    while written < bytes {
        log.append(batch.clone(), 0).expect("fill the read log");
        written += batch.len() as u64;
    }
    log.flush_until(i64::MAX).expect("flush the read log");
    log
}

/// Read the whole log front to back in reads of at most `READ_MAX_BYTES`; returns the bytes read.
fn scan_log(log: &PartitionLog) -> u64 {
    let end = log.log_end_offset();
    let mut offset = log.log_start_offset();
    let mut total = 0u64;
    while offset < end {
        let r = log
            .read(offset, READ_MAX_BYTES, None, true)
            .expect("read the log");
        offset = next_offset(&r.records).expect("a read returned no batch");
        total += r.records.len() as u64;
        black_box(&r.records);
    }
    total
}

/// The offset after the last batch in `records`.
fn next_offset(records: &[u8]) -> Option<i64> {
    let mut position = 0;
    let mut last = None;
    while let Some((_, length)) = BatchHeader::peek_offset_and_length(&records[position..]) {
        last = Some(position);
        position += LOG_OVERHEAD + usize::try_from(length).ok()?;
        if position >= records.len() {
            break;
        }
    }
    BatchHeader::parse(&records[last?..])
        .ok()
        .map(|h| h.next_offset())
}

/// Read `file` front to back with `READ_MAX_BYTES` preads, each into a freshly allocated zeroed
/// buffer, as the engine's `read` does.
fn scan_file_fresh(file: &std::fs::File, len: u64) -> u64 {
    let mut position = 0;
    while position < len {
        let n = (len - position).min(READ_MAX_BYTES as u64) as usize;
        let mut buf = vec![0u8; n];
        file.read_exact_at(&mut buf, position)
            .expect("read the baseline file");
        black_box(&buf);
        position += n as u64;
    }
    position
}

/// Read `file` front to back with `READ_MAX_BYTES` preads into one reused buffer.
fn scan_file(file: &std::fs::File, len: u64, buf: &mut [u8]) -> u64 {
    let mut position = 0;
    while position < len {
        let n = (len - position).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], position)
            .expect("read the baseline file");
        black_box(&buf[..n]);
        position += n as u64;
    }
    position
}

fn read_benches(c: &mut Criterion) {
    let root = bench_root().expect("create the benchmark data directory");
    let batch = make_batch(BATCH_BYTES, RECORD_VALUE_BYTES).expect("build the 64 KiB batch");
    // Two full 64 MiB segments and a partial third in a measurement; less in test mode.
    let fill: u64 = if is_bench_mode() { 160 << 20 } else { 16 << 20 };
    let log = filled_log(&root.path().join("log"), &batch, fill);
    let log_bytes = log.size_bytes();

    let plain_path = root.path().join("plain");
    {
        // Written with writes the size of the log's batches, so that both files are laid out in
        // the page cache alike (large aligned writes get large folios, which read faster).
        let mut plain = BaselineWriter::new(plain_path.clone(), batch.len(), false, u64::MAX)
            .expect("create the baseline file");
        let chunks = log_bytes.div_ceil(batch.len() as u64);
        timed_writes(&mut plain, chunks).expect("fill the baseline file");
        std::fs::File::open(&plain_path)
            .and_then(|f| f.sync_all())
            .expect("sync the baseline file");
        // Keep the file: `BaselineWriter` deletes it on drop, so rename it out of the way first.
        std::fs::rename(&plain_path, root.path().join("plain-read")).expect("rename");
    }
    let plain = std::fs::File::open(root.path().join("plain-read")).expect("open the baseline");
    let plain_len = plain.metadata().expect("stat the baseline").len();
    // Warm the page cache for both.
    scan_log(&log);
    let mut buf = vec![0u8; READ_MAX_BYTES];
    scan_file(&plain, plain_len, &mut buf);

    let tally = Arc::new(Tally::new());
    let mut group = c.benchmark_group("read");
    configure(&mut group, Duration::from_secs(5));

    group.throughput(Throughput::BytesDecimal(plain_len));
    {
        let tally = Arc::clone(&tally);
        group.bench_function("baseline-pread-1MiB", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    scan_file(&plain, plain_len, &mut buf);
                }
                let took = start.elapsed();
                tally.record("read/baseline-pread-1MiB", iters * plain_len, took);
                took
            })
        });
    }
    {
        let tally = Arc::clone(&tally);
        group.bench_function("baseline-pread-1MiB-fresh-buffer", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    scan_file_fresh(&plain, plain_len);
                }
                let took = start.elapsed();
                tally.record(
                    "read/baseline-pread-1MiB-fresh-buffer",
                    iters * plain_len,
                    took,
                );
                took
            })
        });
    }
    group.throughput(Throughput::BytesDecimal(log_bytes));
    {
        let tally = Arc::clone(&tally);
        group.bench_function("sequential-1MiB", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                let mut bytes = 0;
                for _ in 0..iters {
                    bytes += scan_log(&log);
                }
                let took = start.elapsed();
                assert_eq!(bytes, iters * log_bytes, "a scan missed bytes");
                tally.record("read/sequential-1MiB", bytes, took);
                took
            })
        });
    }
    group.finish();
    drop(log);

    print_summary(
        &format!(
            "read ({} MiB log, 1 MiB max_bytes, page cache)",
            log_bytes >> 20
        ),
        &[
            tally.ratio_line(
                "read/sequential-1MiB",
                "read/baseline-pread-1MiB",
                measured_samples(),
            ),
            tally.ratio_line(
                "read/sequential-1MiB",
                "read/baseline-pread-1MiB-fresh-buffer",
                measured_samples(),
            ),
        ],
    );
}

fn validate_benches(c: &mut Criterion) {
    let batch = make_batch(BATCH_BYTES, RECORD_VALUE_BYTES).expect("build the 64 KiB batch");
    let len = batch.len() as u64;
    let tally = Arc::new(Tally::new());
    let mut group = c.benchmark_group("validate");
    configure(&mut group, Duration::from_secs(3));
    group.throughput(Throughput::BytesDecimal(len));

    let mut run = |name: &'static str, f: &dyn Fn(&Bytes)| {
        let tally = Arc::clone(&tally);
        let batch = batch.clone();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    f(black_box(&batch));
                }
                let took = start.elapsed();
                tally.record(&format!("validate/{name}"), iters * len, took);
                took
            })
        });
    };
    run("baseline-crc32c", &|b| {
        black_box(crc32c::crc32c(&b[CRC_START..]));
    });
    run("header+crc", &|b| {
        black_box(RecordBatch::validate(b.clone()).expect("valid batch"));
    });
    run("header+crc+client-records", &|b| {
        let v = RecordBatch::validate(b.clone()).expect("valid batch");
        v.validate_client_records(1 << 20)
            .expect("valid client records");
        black_box(v);
    });
    group.finish();

    let n = measured_samples();
    print_summary(
        "validate (one 64 KiB batch of 1 KiB records)",
        &[
            tally.ratio_line("validate/header+crc", "validate/baseline-crc32c", n),
            tally.ratio_line(
                "validate/header+crc+client-records",
                "validate/baseline-crc32c",
                n,
            ),
        ],
    );
}

criterion_group!(benches, append_benches, read_benches, validate_benches);
criterion_main!(benches);
