//! Criterion benchmark of the node through the CQL native protocol: the `scylla` driver writing
//! and reading 100-byte values by key at consistency ONE (prepared statements, 64 requests in
//! flight on one connection pool) against a node started in this process, beside raw RocksDB
//! puts and gets of the same keys and value sizes through the same crate and options as the
//! node (`fastdata_kv::engine::open_plain`: its block cache, memtable budget, compression and
//! bloom filters, without its cell semantics), measured in the same run. Driver and node share
//! the machine's two cores, as they share the process. After the group each figure is printed
//! as a ratio of its baseline, with the process's peak RSS. `docs/benchmarks.md` has results.
//!
//! `cargo bench -p fastdata-benches --bench node` measures; `cargo test -p fastdata-benches
//! --benches` runs each benchmark once (criterion's test mode).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use fastdata_benches::{bench_root, is_bench_mode, rss_line, Tally};
use fastdata_kv::api::CommitlogSync;
use fastdata_kv::engine::{open_plain, EngineConfig};
use fastdata_server::node::{start_node, NodeConfig};
use futures::stream::{FuturesUnordered, StreamExt};
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;

/// Criterion samples per benchmark.
const SAMPLES: usize = 10;
/// Bytes of each value.
const VALUE_BYTES: usize = 100;
/// Keys written before reads are timed (reads pick among them).
const KEYS: u64 = 100_000;
/// Requests in flight from the driver.
const IN_FLIGHT: usize = 64;
const GROUP: &str = "node";

/// The `i`th key's value: `VALUE_BYTES` bytes that differ per key.
fn value_of(i: u64) -> Vec<u8> {
    (0..VALUE_BYTES as u64)
        .map(|j| ((i + j) % 251) as u8)
        .collect()
}

/// A key from a counter: consecutive samples spread over the whole key space.
fn key_of(n: u64) -> i64 {
    (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) % KEYS) as i64
}

/// Runs `iters` executions of `statement` (one per key from `next`), `IN_FLIGHT` at a time.
async fn run_prepared(
    session: &Session,
    statement: &PreparedStatement,
    next: &AtomicU64,
    iters: u64,
    with_value: bool,
) {
    let mut pending = FuturesUnordered::new();
    for _ in 0..iters {
        if pending.len() >= IN_FLIGHT {
            pending.next().await;
        }
        let n = next.fetch_add(1, Ordering::Relaxed);
        let key = key_of(n);
        pending.push(async move {
            let outcome = if with_value {
                session.execute_unpaged(statement, (key, value_of(n))).await
            } else {
                session.execute_unpaged(statement, (key,)).await
            };
            outcome.expect("a request of the benchmark");
        });
    }
    while pending.next().await.is_some() {}
}

/// Benchmarks `run` (which makes `iters` requests) as `name` in `group`, tallied as `node/name`.
fn timed(
    group: &mut BenchmarkGroup<'_, WallTime>,
    tally: &Tally,
    name: &str,
    mut run: impl FnMut(u64),
) {
    let full = format!("{GROUP}/{name}");
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            run(iters);
            let took = start.elapsed();
            tally.record(&full, iters * VALUE_BYTES as u64, took);
            took
        })
    });
}

fn node_benches(c: &mut Criterion) {
    let root = bench_root().expect("create the benchmark data directory");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let config = NodeConfig {
        data_dir: root.path().join("node").display().to_string(),
        native_transport_port: 0,
        ..NodeConfig::default()
    };
    let plain_config = EngineConfig {
        data_dir: root.path().join("plain"),
        commitlog_sync: CommitlogSync::Periodic,
        commitlog_sync_period_ms: 10_000,
        commitlog_sync_group_window_ms: 0,
        block_cache_size_bytes: usize::try_from(config.block_cache_size_bytes).unwrap_or(0),
        memtable_total_size_bytes: usize::try_from(config.memtable_total_size_bytes).unwrap_or(0),
    };
    let plain = open_plain(&plain_config).expect("open the baseline RocksDB");
    let node = runtime
        .block_on(start_node(config))
        .expect("start the node");
    let (session, insert, select) = runtime.block_on(async {
        let session = SessionBuilder::new()
            .known_node(node.cql_addr.to_string())
            .build()
            .await
            .expect("connect");
        for ddl in [
            "CREATE KEYSPACE bench WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
            "CREATE TABLE bench.kv (k bigint PRIMARY KEY, v blob)",
        ] {
            session.query_unpaged(ddl, ()).await.expect(ddl);
        }
        let mut insert = session
            .prepare("INSERT INTO bench.kv (k, v) VALUES (?, ?)")
            .await
            .expect("prepare the insert");
        insert.set_consistency(Consistency::One);
        let mut select = session
            .prepare("SELECT v FROM bench.kv WHERE k = ?")
            .await
            .expect("prepare the select");
        select.set_consistency(Consistency::One);
        (session, insert, select)
    });
    // Every key exists on both sides before reads are timed.
    let keys = if is_bench_mode() { KEYS } else { 1_000 };
    runtime.block_on(async {
        let next = AtomicU64::new(0);
        run_prepared(&session, &insert, &next, keys, true).await;
    });
    for i in 0..keys {
        plain
            .put(key_of(i).to_be_bytes(), value_of(i))
            .expect("a baseline put");
    }

    let tally = Tally::new();
    let mut group = c.benchmark_group(GROUP);
    group
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(1));

    let counter = AtomicU64::new(0);
    timed(&mut group, &tally, "baseline-rocksdb-put", |iters| {
        for _ in 0..iters {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            plain
                .put(key_of(n).to_be_bytes(), value_of(n))
                .expect("a baseline put");
        }
    });
    timed(&mut group, &tally, "insert-100B-one", |iters| {
        runtime.block_on(run_prepared(&session, &insert, &counter, iters, true));
    });
    timed(&mut group, &tally, "baseline-rocksdb-get", |iters| {
        for _ in 0..iters {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let got = plain.get(key_of(n).to_be_bytes()).expect("a baseline get");
            assert!(got.is_some(), "the baseline holds every key");
        }
    });
    timed(&mut group, &tally, "select-100B-one", |iters| {
        runtime.block_on(run_prepared(&session, &select, &counter, iters, false));
    });
    group.finish();

    let last = if is_bench_mode() { SAMPLES } else { 1 };
    let note = if is_bench_mode() {
        ""
    } else {
        "  (test mode: one run each, not a measurement)"
    };
    println!("\n== node summary{note}");
    for (ours, baseline) in [
        ("node/insert-100B-one", "node/baseline-rocksdb-put"),
        ("node/select-100B-one", "node/baseline-rocksdb-get"),
    ] {
        println!("  {}", tally.ratio_line(ours, baseline, last));
        if let Some(rate) = tally.median(ours, last) {
            println!("    {:.0} requests/s", rate / VALUE_BYTES as f64);
        }
    }
    println!("  {} (node and driver in this process)\n", rss_line());
    drop(session);
    runtime.block_on(node.shutdown());
}

criterion_group!(benches, node_benches);
criterion_main!(benches);
