//! `fastdata produce`: records from stdin (one per line, optionally `KEY<sep>VALUE`), in the
//! manner of `kafka-console-producer.sh`; or, with `--count N --size B`, N generated records of
//! B bytes with a progress bar and a closing summary in the manner of
//! `kafka-producer-perf-test.sh` (records/s, MB/s, acknowledgement latency p50, p99, p99.9).
//!
//! Every record is sent through our producer (batching, linger, idempotence by default); the
//! command exits non-zero if any record was not acknowledged. Latencies are measured from the
//! `send` call to the delivery, by a task that waits on deliveries while the main loop sends.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use clap::Args;
use fastdata_client::producer::{
    parse_compression, Acks, DeliveryFuture, Producer, ProducerConfig, ProducerRecord,
};
use futures::stream::{FuturesUnordered, StreamExt};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

use crate::client_args::{runtime, Bootstrap};

/// Deliveries waiting to be collected, at most (the producer's buffer bounds them first).
const MAX_PENDING_DELIVERIES: usize = 1 << 16;

/// `fastdata produce ...`
#[derive(Debug, Args)]
pub struct ProduceArgs {
    #[command(flatten)]
    bootstrap: Bootstrap,
    /// The topic to write to.
    #[arg(long)]
    topic: String,
    /// Split each line at the first SEP into key and value (no key otherwise).
    #[arg(long, value_name = "SEP")]
    key_separator: Option<String>,
    /// Write every record to this partition (default: by key, murmur2; sticky without a key).
    #[arg(long)]
    partition: Option<i32>,
    /// acks: 0, 1 or all.
    #[arg(long, default_value = "all")]
    acks: String,
    /// Compression: none, gzip, snappy, lz4 or zstd.
    #[arg(long, default_value = "none")]
    compression: String,
    /// linger.ms: how long a batch waits for more records.
    #[arg(long, default_value_t = 5)]
    linger_ms: u64,
    /// batch.size in bytes.
    #[arg(long, default_value_t = 16_384)]
    batch_size: usize,
    /// Turn idempotence off (it needs acks=all; it is off anyway with acks 0 or 1).
    #[arg(long)]
    no_idempotence: bool,
    /// Generate this many records instead of reading stdin.
    #[arg(long, requires = "size")]
    count: Option<u64>,
    /// Size in bytes of each generated record's value.
    #[arg(long, requires = "count")]
    size: Option<usize>,
}

/// What the delivery collector reports.
struct Deliveries {
    acknowledged: u64,
    failed: u64,
    first_error: Option<String>,
    latency_us: Histogram<u64>,
}

/// Wait on deliveries as they are handed over, recording each one's latency.
async fn collect(
    mut rx: mpsc::Receiver<(Instant, DeliveryFuture)>,
    bar: ProgressBar,
    latency_us: Histogram<u64>,
) -> Deliveries {
    let mut out = Deliveries {
        acknowledged: 0,
        failed: 0,
        first_error: None,
        latency_us,
    };
    let mut inflight = FuturesUnordered::new();
    let mut open = true;
    loop {
        tokio::select! {
            item = rx.recv(), if open => match item {
                Some((start, delivery)) => inflight.push(async move { (start, delivery.await) }),
                None => open = false,
            },
            Some((start, result)) = inflight.next() => {
                match result {
                    Ok(_) => {
                        out.acknowledged += 1;
                        let us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
                        let _ = out.latency_us.record(us.max(1));
                    }
                    Err(e) => {
                        out.failed += 1;
                        out.first_error.get_or_insert_with(|| e.to_string());
                    }
                }
                bar.inc(1);
            }
            else => break,
        }
    }
    out
}

/// Runs `fastdata produce`.
pub fn run(args: ProduceArgs) -> anyhow::Result<ExitCode> {
    let acks = Acks::parse(&args.acks)?;
    let config = ProducerConfig {
        acks,
        compression: parse_compression(&args.compression)?,
        linger_ms: args.linger_ms,
        batch_size: args.batch_size,
        enable_idempotence: acks == Acks::All && !args.no_idempotence,
        client_id: "fastdata-produce".to_string(),
        ..ProducerConfig::new(args.bootstrap.bootstrap.clone())
    };
    runtime()?.block_on(async move {
        let producer = Producer::new(config)?;
        let generated = args.count.zip(args.size);
        let bar = match generated {
            Some((count, _)) => {
                let bar = ProgressBar::new(count);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{bar:40} {pos}/{len} records, {per_sec}, eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar
            }
            None => ProgressBar::hidden(),
        };
        let (tx, rx) = mpsc::channel(MAX_PENDING_DELIVERIES);
        // 1 µs to 1 hour, 3 significant digits.
        let histogram = Histogram::new_with_bounds(1, 3_600_000_000, 3)
            .context("creating the latency histogram")?;
        let collector = tokio::spawn(collect(rx, bar.clone(), histogram));
        let started = Instant::now();
        let sent = match generated {
            Some((count, size)) => send_generated(&producer, &args, count, size, &tx).await,
            None => send_stdin(&producer, &args, &tx).await,
        };
        drop(tx);
        producer.flush().await.context("flushing the producer")?;
        let deliveries = collector.await.context("the delivery collector failed")?;
        let elapsed = started.elapsed();
        bar.finish_and_clear();
        producer.close().await.context("closing the producer")?;
        let sent = sent?;
        match generated {
            Some((_, size)) => print_summary(&deliveries, size, elapsed),
            None => eprintln!(
                "{} records produced to {}",
                deliveries.acknowledged, args.topic
            ),
        }
        if deliveries.failed > 0 {
            bail!(
                "{} of {sent} records were not acknowledged; the first error: {}",
                deliveries.failed,
                deliveries.first_error.unwrap_or_default()
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn record(args: &ProduceArgs, key: Option<Bytes>, value: Bytes) -> ProducerRecord {
    let mut record = ProducerRecord::new(args.topic.clone(), value);
    if let Some(key) = key {
        record = record.with_key(key);
    }
    if let Some(partition) = args.partition {
        record = record.with_partition(partition);
    }
    record
}

async fn send_one(
    producer: &Producer,
    record: ProducerRecord,
    tx: &mpsc::Sender<(Instant, DeliveryFuture)>,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let delivery = producer.send(record).await.context("sending a record")?;
    tx.send((start, delivery))
        .await
        .map_err(|_| anyhow::anyhow!("the delivery collector stopped"))
}

async fn send_stdin(
    producer: &Producer,
    args: &ProduceArgs,
    tx: &mpsc::Sender<(Instant, DeliveryFuture)>,
) -> anyhow::Result<u64> {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut sent = 0;
    while let Some(line) = lines.next_line().await.context("reading stdin")? {
        let (key, value) = match &args.key_separator {
            Some(sep) => match line.split_once(sep.as_str()) {
                Some((k, v)) => (Some(Bytes::from(k.to_string())), Bytes::from(v.to_string())),
                None => bail!("line {} has no key separator {sep:?}: {line}", sent + 1),
            },
            None => (None, Bytes::from(line)),
        };
        send_one(producer, record(args, key, value), tx).await?;
        sent += 1;
    }
    Ok(sent)
}

async fn send_generated(
    producer: &Producer,
    args: &ProduceArgs,
    count: u64,
    size: usize,
    tx: &mpsc::Sender<(Instant, DeliveryFuture)>,
) -> anyhow::Result<u64> {
    // One random buffer of twice the size; each record's value is a window into it, so values
    // differ without a random draw per record.
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let pool: Vec<u8> = (0..size.saturating_mul(2).max(1))
        .map(|_| rng.gen())
        .collect();
    let pool = Bytes::from(pool);
    for i in 0..count {
        let start = usize::try_from(i).unwrap_or(0) % size.max(1);
        let value = pool.slice(start..start + size);
        send_one(producer, record(args, None, value), tx).await?;
    }
    Ok(count)
}

fn print_summary(d: &Deliveries, size: usize, elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(f64::EPSILON);
    let records = d.acknowledged as f64 / secs;
    let mb = records * size as f64 / 1e6;
    let ms = |q: f64| d.latency_us.value_at_quantile(q) as f64 / 1000.0;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{} records acknowledged in {:.2} s: {records:.0} records/s ({mb:.2} MB/s), latency p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        d.acknowledged,
        secs,
        ms(0.5),
        ms(0.99),
        ms(0.999),
        d.latency_us.max() as f64 / 1000.0
    );
}
