//! `fastdata bench`: the load generator. `bench log produce` and `bench log consume` drive any
//! Kafka-compatible broker with our client; `bench store` runs YCSB's workloads against any
//! CQL node with the `scylla` driver. Closed loop by default (maximum throughput), open loop
//! with `--rate` (latencies corrected for coordinated omission); a progress line on stderr,
//! a table at the end and, with `--json`, the same report as JSON for the side-by-side runner.
//! Exits 1 if any operation failed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use fastdata_benches::kafka_load::{self, ProduceSettings};
use fastdata_benches::load::keys::KeyDistribution;
use fastdata_benches::load::LoadConfig;
use fastdata_benches::ycsb::{self, StoreSettings, YcsbWorkload};
use fastdata_client::producer::{parse_compression, Acks};

use crate::client_args::{runtime, Bootstrap};
use crate::cql::{consistency_name, parse_consistency};

/// `fastdata bench ...`
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    target: Target,
}

#[derive(Debug, Subcommand)]
enum Target {
    /// The log, over the Kafka protocol with our client.
    Log {
        #[command(subcommand)]
        action: LogAction,
    },
    /// The store: YCSB workloads over CQL with the scylla driver.
    Store(StoreArgs),
}

#[derive(Debug, Subcommand)]
enum LogAction {
    /// Produce records and report records/s, MB/s and acknowledgement latencies.
    Produce(ProduceArgs),
    /// Read a topic from the beginning to its end offsets and report records/s and MB/s.
    Consume(ConsumeArgs),
}

/// How the load is paced and reported (every workload's flags).
#[derive(Debug, Args)]
struct LoadArgs {
    /// Concurrent workers.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Operations in flight per worker.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Open loop at this many operations per second in all (default: closed loop).
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds of warm-up (not counted).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds counted.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Write the report as JSON to this file too.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
}

impl LoadArgs {
    fn config(&self) -> anyhow::Result<LoadConfig> {
        LoadConfig::from_flags(
            self.workers,
            self.window,
            self.rate,
            self.warmup,
            self.duration,
            !self.quiet,
        )
        .map_err(|e| anyhow!(e))
    }
}

#[derive(Debug, Args)]
struct ProduceArgs {
    #[command(flatten)]
    bootstrap: Bootstrap,
    /// The topic (created if missing, with --partitions and --flush-messages).
    #[arg(long, default_value = "bench")]
    topic: String,
    /// Partitions of a topic this creates.
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// flush.messages of a topic this creates (1: fsync before every acknowledgement).
    #[arg(long)]
    flush_messages: Option<u64>,
    /// Bytes of each record's value.
    #[arg(long, default_value_t = 1024)]
    record_size: usize,
    /// batch.size in bytes.
    #[arg(long, default_value_t = 65_536)]
    batch_size: usize,
    /// linger.ms.
    #[arg(long, default_value_t = 5)]
    linger_ms: u64,
    /// acks: 0, 1 or all.
    #[arg(long, default_value = "1")]
    acks: String,
    /// Compression: none, gzip, snappy, lz4 or zstd.
    #[arg(long, default_value = "none")]
    compression: String,
    /// Producers (clients with their own connections); workers are spread over them.
    #[arg(long, default_value_t = 1)]
    producers: usize,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Debug, Args)]
struct ConsumeArgs {
    #[command(flatten)]
    bootstrap: Bootstrap,
    /// The topic to read.
    #[arg(long, default_value = "bench")]
    topic: String,
    /// Stop after this many seconds even if the end is not reached.
    #[arg(long, default_value_t = 60.0)]
    max_seconds: f64,
    /// Write the report as JSON to this file too.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct StoreArgs {
    /// A node's HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:9042")]
    contact: String,
    /// load (insert every record), or YCSB's workload a, b, c, d or f.
    #[arg(long, default_value = "a")]
    workload: YcsbWorkload,
    /// Records in the table.
    #[arg(long, default_value_t = 100_000)]
    records: u64,
    /// Fields per record.
    #[arg(long, default_value_t = 10)]
    fields: usize,
    /// Bytes per field.
    #[arg(long, default_value_t = 100)]
    field_size: usize,
    /// Request distribution: uniform, zipfian or latest (default: the workload's).
    #[arg(long)]
    distribution: Option<KeyDistribution>,
    /// Consistency level of every statement.
    #[arg(long, default_value = "ONE")]
    consistency: String,
    /// The keyspace of the table.
    #[arg(long, default_value = "ycsb")]
    keyspace: String,
    #[command(flatten)]
    load: LoadArgs,
}

/// Runs `fastdata bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    match args.target {
        Target::Log {
            action: LogAction::Produce(p),
        } => {
            let settings = ProduceSettings {
                bootstrap: p.bootstrap.bootstrap.clone(),
                topic: p.topic.clone(),
                partitions: p.partitions,
                flush_messages: p.flush_messages,
                record_bytes: p.record_size,
                batch_bytes: p.batch_size,
                linger_ms: p.linger_ms,
                acks: Acks::parse(&p.acks)?,
                compression: parse_compression(&p.compression)?,
                producers: p.producers.max(1),
            };
            let config = p.load.config()?;
            let report = rt
                .block_on(kafka_load::produce(&settings, &config))
                .map_err(|e| anyhow!("bench log produce: {e}"))?;
            Ok(report.print_and_save(p.load.json.as_deref())?)
        }
        Target::Log {
            action: LogAction::Consume(c),
        } => {
            let limit = Duration::try_from_secs_f64(c.max_seconds).map_err(|_| {
                anyhow!("--max-seconds {} is not a number of seconds", c.max_seconds)
            })?;
            let report = rt
                .block_on(kafka_load::consume(&c.bootstrap.bootstrap, &c.topic, limit))
                .map_err(|e| anyhow!("bench log consume: {e}"))?;
            Ok(report.print_and_save(c.json.as_deref())?)
        }
        Target::Store(s) => {
            let consistency = parse_consistency(&s.consistency).ok_or_else(|| {
                anyhow!(
                    "--consistency {:?} is not a consistency level",
                    s.consistency
                )
            })?;
            let settings = StoreSettings {
                contact: s.contact.clone(),
                keyspace: s.keyspace.clone(),
                records: s.records.max(1),
                fields: s.fields.max(1),
                field_bytes: s.field_size,
                workload: s.workload,
                distribution: s.distribution,
                consistency,
            };
            let config = s.load.config()?;
            let report = rt
                .block_on(ycsb::run(&settings, &config))
                .map_err(|e| anyhow!("bench store: {e}"))?
                .with("consistency", consistency_name(consistency));
            Ok(report.print_and_save(s.load.json.as_deref())?)
        }
    }
}
