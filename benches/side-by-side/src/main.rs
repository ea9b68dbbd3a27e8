//! `side-by-side`: the side-by-side runner's drivers for everything that is not fastdata itself.
//! Each subcommand runs one measurement and prints a
//! [`Report`](fastdata_benches::load::Report) as `fastdata bench` does (a table on stdout, the
//! same JSON with `--json FILE`), so the runner sets the figures beside fastdata's:
//!
//! - the physical baselines: sequential 64 KiB writes to files, with or without an `fdatasync`
//!   after each, by one writer or by several at once (`files`); raw RocksDB puts and gets with
//!   the node's options (`rocksdb`);
//! - the peers, through their usual Rust clients: Redis streams (`redis`: XADD, XREAD) and NATS
//!   JetStream (`nats`: publish with acks, a pull consumer).
//!
//! Operations with a latency run through the load generator's engine
//! ([`fastdata_benches::load`]), paced by the same flags as `fastdata bench`; reads from the
//! start of a stream are throughput only
//! ([`Report::throughput`](fastdata_benches::load::Report::throughput)). Each report says how
//! durable the writes were. This crate owns the drivers only: it neither starts nor stops the
//! servers it measures, and fastdata's own figures come from `fastdata bench`.

mod blocking;
mod files;
mod nats;
mod read;
mod redis_streams;
mod rocks;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use clap::{Args, Parser, Subcommand, ValueEnum};
use fastdata_benches::load::LoadConfig;

/// The side-by-side runner's drivers: physical baselines and the peers' clients.
#[derive(Debug, Parser)]
#[command(name = "side-by-side", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sequential 64 KiB writes to files (one per writer), optionally fdatasync'ed: the disk's
    /// baseline.
    Files(FilesArgs),
    /// Raw RocksDB puts or gets with the node's options and WAL.
    Rocksdb(RocksArgs),
    /// Redis streams: XADD, or XREAD from the start.
    Redis(RedisArgs),
    /// NATS JetStream: publish awaiting each ack, or consume from the start with a pull consumer.
    Nats(NatsArgs),
}

/// How many operations are in flight (the subcommands' defaults differ).
#[derive(Debug, Args)]
struct Concurrency {
    /// Concurrent workers [default: the subcommand's].
    #[arg(long)]
    workers: Option<usize>,
    /// Operations in flight per worker [default: the subcommand's].
    #[arg(long)]
    window: Option<usize>,
}

impl Concurrency {
    /// Refuses the flags for a read from the start, which has no workers or windows.
    fn refuse_for_reads(&self, load: &LoadFlags, op: &str) -> anyhow::Result<()> {
        if self.workers.is_some() || self.window.is_some() || load.rate.is_some() {
            bail!("--workers, --window and --rate pace writes; {op} reads as fast as it can");
        }
        Ok(())
    }
}

/// How the load is paced and reported, as `fastdata bench` does.
#[derive(Debug, Args)]
struct LoadFlags {
    /// Open loop at this many operations per second in all (default: closed loop).
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds of warm-up (not counted).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds counted (a read from the start: the most it may take).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Write the report as JSON to this file too.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
}

fn seconds(flag: &str, s: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s).map_err(|_| anyhow!("--{flag} {s} is not a number of seconds"))
}

impl LoadFlags {
    /// The engine's configuration with `workers` workers of `window` operations each.
    fn config(&self, workers: usize, window: usize) -> anyhow::Result<LoadConfig> {
        LoadConfig::from_flags(
            workers,
            window,
            self.rate,
            self.warmup,
            self.duration,
            !self.quiet,
        )
        .map_err(|e| anyhow!(e))
    }

    /// The engine's configuration, `defaults` (workers, window) where the flags say nothing.
    fn config_with(
        &self,
        flags: &Concurrency,
        defaults: (usize, usize),
    ) -> anyhow::Result<LoadConfig> {
        self.config(
            flags.workers.unwrap_or(defaults.0),
            flags.window.unwrap_or(defaults.1),
        )
    }

    /// How a read from the start goes: at most `--duration`, with a progress line unless quiet.
    fn read_limits(&self) -> anyhow::Result<read::Limits> {
        Ok(read::Limits {
            max: seconds("duration", self.duration)?,
            progress: !self.quiet,
        })
    }
}

/// The engine's defaults for drivers of network peers: 4 workers of 16 operations in flight.
fn network_defaults() -> (usize, usize) {
    let d = LoadConfig::default();
    (d.workers, d.window)
}

#[derive(Debug, Args)]
struct FilesArgs {
    /// The directory the files are written in (on the disk to measure).
    #[arg(long)]
    dir: PathBuf,
    /// fdatasync after every write.
    #[arg(long)]
    sync: bool,
    /// Files written at once, each by its own worker with one write in flight.
    #[arg(long, default_value_t = 1)]
    writers: usize,
    #[command(flatten)]
    load: LoadFlags,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RocksOp {
    /// Puts of random keys (with the WAL, no sync per write).
    Put,
    /// Gets of random keys, after a put phase that writes every key.
    Get,
}

#[derive(Debug, Args)]
struct RocksArgs {
    /// The directory of the database (RocksDB lives in DIR/rocksdb, as in the node's data dir).
    #[arg(long)]
    dir: PathBuf,
    /// Keys: user0 .. user<N-1>.
    #[arg(long, default_value_t = 100_000)]
    records: u64,
    /// Bytes of each value.
    #[arg(long, default_value_t = 1000)]
    value_size: usize,
    /// The block cache in bytes [default: the node's, block.cache.size.bytes].
    #[arg(long)]
    block_cache_size_bytes: Option<usize>,
    #[arg(long, value_enum)]
    op: RocksOp,
    #[command(flatten)]
    concurrency: Concurrency,
    #[command(flatten)]
    load: LoadFlags,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RedisOp {
    /// `XADD <stream> * v <value>`, pipelined on one multiplexed connection.
    Xadd,
    /// XREAD the stream from the start to its length at the start.
    Xread,
}

#[derive(Debug, Args)]
struct RedisArgs {
    /// The server's HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:6379")]
    addr: String,
    /// The stream's key.
    #[arg(long, default_value = "bench")]
    stream: String,
    /// Bytes of each entry's value.
    #[arg(long, default_value_t = 1024)]
    record_size: usize,
    #[arg(long, value_enum)]
    op: RedisOp,
    /// Entries per XREAD (COUNT).
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    #[command(flatten)]
    concurrency: Concurrency,
    #[command(flatten)]
    load: LoadFlags,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum NatsOp {
    /// Publish to the subject, each operation awaiting its JetStream ack.
    Publish,
    /// Read the stream from the start to its last message at the start, with a pull consumer.
    Consume,
}

#[derive(Debug, Args)]
struct NatsArgs {
    /// The server's HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:4222")]
    addr: String,
    /// The JetStream stream (created with file storage on --subject if missing).
    #[arg(long, default_value = "BENCH")]
    stream: String,
    /// The subject published to.
    #[arg(long, default_value = "bench")]
    subject: String,
    /// Bytes of each message's payload.
    #[arg(long, default_value_t = 1024)]
    record_size: usize,
    #[arg(long, value_enum)]
    op: NatsOp,
    /// Messages the pull consumer asks for at once.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    #[command(flatten)]
    concurrency: Concurrency,
    #[command(flatten)]
    load: LoadFlags,
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Files(a) => {
            let config = a.load.config(a.writers, 1)?;
            let settings = files::Settings {
                dir: a.dir,
                sync: a.sync,
            };
            let report = files::run(&settings, &config).await.context("files")?;
            Ok(report.print_and_save(a.load.json.as_deref())?)
        }
        Command::Rocksdb(a) => {
            // Blocking calls: a second operation in a worker's window would only queue.
            let config = a.load.config_with(&a.concurrency, (2, 1))?;
            let settings = rocks::Settings {
                dir: a.dir,
                records: a.records.max(1),
                value_size: a.value_size,
                op: a.op,
                block_cache_size_bytes: a.block_cache_size_bytes,
            };
            let report = rocks::run(&settings, &config).await.context("rocksdb")?;
            Ok(report.print_and_save(a.load.json.as_deref())?)
        }
        Command::Redis(a) => {
            let settings = redis_streams::Settings {
                addr: a.addr,
                stream: a.stream,
                record_size: a.record_size,
                batch: a.batch.max(1),
            };
            let report = match a.op {
                RedisOp::Xadd => {
                    let config = a.load.config_with(&a.concurrency, network_defaults())?;
                    redis_streams::xadd(&settings, &config).await
                }
                RedisOp::Xread => {
                    a.concurrency.refuse_for_reads(&a.load, "xread")?;
                    redis_streams::xread(&settings, &a.load.read_limits()?).await
                }
            }
            .with_context(|| format!("redis at {}", settings.addr))?;
            Ok(report.print_and_save(a.load.json.as_deref())?)
        }
        Command::Nats(a) => {
            let settings = nats::Settings {
                addr: a.addr,
                stream: a.stream,
                subject: a.subject,
                record_size: a.record_size,
                batch: a.batch.max(1),
            };
            let report = match a.op {
                NatsOp::Publish => {
                    let config = a.load.config_with(&a.concurrency, network_defaults())?;
                    nats::publish(&settings, &config).await
                }
                NatsOp::Consume => {
                    a.concurrency.refuse_for_reads(&a.load, "consume")?;
                    nats::consume(&settings, &a.load.read_limits()?).await
                }
            }
            .with_context(|| format!("nats at {}", settings.addr))?;
            Ok(report.print_and_save(a.load.json.as_deref())?)
        }
    }
}

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    // Multi-threaded: the blocking drivers' `block_in_place` needs it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(run(cli.command))
}
