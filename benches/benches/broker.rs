//! Criterion benchmark of the broker through the Kafka protocol: our producer sending 1 KiB
//! records with `acks=1` to a broker started in this process (no fsync per message: the default
//! topic), beside a plain-file baseline measured in the same run (64 KiB `write_all`s, the raw
//! sequential write rate of the same disk). Client and broker share the machine's two cores,
//! as they share the process. After the group its figure is printed as a ratio of the baseline,
//! with the process's peak RSS (broker and client together). `docs/benchmarks.md` has results.
//!
//! `cargo bench -p fastdata-benches --bench broker` measures; `cargo test -p fastdata-benches
//! --benches` runs each benchmark once (criterion's test mode).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fastdata_benches::{
    bench_root, is_bench_mode, rss_line, timed_writes, BaselineWriter, Tally, BATCH_BYTES,
    RECORD_VALUE_BYTES,
};
use fastdata_client::producer::{Acks, Producer, ProducerConfig, ProducerRecord};
use fastdata_server::config::ConfigTable;
use fastdata_server::{start_broker, BrokerConfig};

/// Criterion samples per benchmark.
const SAMPLES: usize = 10;
/// Disk budget of the baseline file before it starts over.
const BASELINE_BUDGET: u64 = 128 * 1024 * 1024;
/// The topic's segments and retention keep the broker's disk use near 320 MiB.
const SEGMENT_BYTES: &str = "67108864";
const RETENTION_BYTES: &str = "268435456";
const TOPIC: &str = "bench-1k";
const GROUP: &str = "broker";

fn produce_benches(c: &mut Criterion) {
    let root = bench_root().expect("create the benchmark data directory");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut config = BrokerConfig {
        data_dir: root.path().join("broker").display().to_string(),
        listeners: "127.0.0.1:0".to_string(),
        log_retention_check_interval_ms: 1000,
        ..BrokerConfig::default()
    };
    config
        .set("log.segment.bytes", SEGMENT_BYTES, "bench")
        .and_then(|()| config.set("log.retention.bytes", RETENTION_BYTES, "bench"))
        .expect("bench config");
    let broker = runtime
        .block_on(start_broker(config))
        .expect("start the broker");
    let bootstrap = broker.kafka_addr.to_string();
    let producer = runtime.block_on(async {
        Producer::new(ProducerConfig {
            acks: Acks::Leader,
            enable_idempotence: false,
            linger_ms: 5,
            batch_size: BATCH_BYTES,
            ..ProducerConfig::new(bootstrap.clone())
        })
        .expect("a producer")
    });
    let value = Bytes::from(
        (0..RECORD_VALUE_BYTES)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    // The topic is created (auto-creation, one partition) before anything is timed.
    runtime
        .block_on(async {
            producer
                .send(ProducerRecord::new(TOPIC, value.clone()))
                .await?
                .await
        })
        .expect("the first record");

    let tally = Arc::new(Tally::new());
    let mut group = c.benchmark_group(GROUP);
    group
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));

    let mut baseline = BaselineWriter::new(
        root.path().join("baseline"),
        BATCH_BYTES,
        false,
        BASELINE_BUDGET,
    )
    .expect("the baseline file");
    group.throughput(Throughput::BytesDecimal(BATCH_BYTES as u64));
    let t = tally.clone();
    group.bench_function("baseline-write_all", move |b| {
        b.iter_custom(|iters| {
            let took = timed_writes(&mut baseline, iters).expect("baseline writes");
            t.record(
                "broker/baseline-write_all",
                iters * BATCH_BYTES as u64,
                took,
            );
            took
        })
    });

    group.throughput(Throughput::BytesDecimal(RECORD_VALUE_BYTES as u64));
    let t = tally.clone();
    let producer = Arc::new(producer);
    let p = producer.clone();
    let rt = &runtime;
    group.bench_function("produce-1KiB-acks1", move |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            rt.block_on(async {
                let mut pending = Vec::with_capacity(usize::try_from(iters).unwrap_or(0));
                for _ in 0..iters {
                    pending.push(
                        p.send(ProducerRecord::new(TOPIC, value.clone()))
                            .await
                            .expect("send"),
                    );
                }
                for delivery in pending {
                    delivery.await.expect("acknowledged");
                }
            });
            let took = start.elapsed();
            t.record(
                "broker/produce-1KiB-acks1",
                iters * RECORD_VALUE_BYTES as u64,
                took,
            );
            took
        })
    });
    group.finish();

    let last = if is_bench_mode() { SAMPLES } else { 1 };
    let note = if is_bench_mode() {
        ""
    } else {
        "  (test mode: one run each, not a measurement)"
    };
    println!("\n== broker summary{note}");
    println!(
        "  {}",
        tally.ratio_line(
            "broker/produce-1KiB-acks1",
            "broker/baseline-write_all",
            last
        )
    );
    if let Some(rate) = tally.median("broker/produce-1KiB-acks1", last) {
        println!(
            "  produce-1KiB-acks1: {:.0} records/s",
            rate / RECORD_VALUE_BYTES as f64
        );
    }
    println!("  {} (broker and client in this process)\n", rss_line());
    runtime.block_on(async {
        if let Ok(p) = Arc::try_unwrap(producer) {
            let _ = p.close().await;
        }
        broker.shutdown().await;
    });
}

criterion_group!(benches, produce_benches);
criterion_main!(benches);
