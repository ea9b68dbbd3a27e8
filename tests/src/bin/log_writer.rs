//! `log_writer`: a child process for the log engine's process-crash tests
//! (`tests/tests/log_crash.rs`).
//!
//! It opens one partition log on the real filesystem with `flush.messages=1` (every append is
//! fdatasynced before it returns) and a small `segment.bytes` (so segments roll during a run), and
//! logs the engine's `tracing` output (recovery warnings included) to stderr.
//!
//! ```text
//! log_writer append  <dir> [--seed N] [--epoch E] [--value-bytes N] [--segment-bytes N]
//!                          [--batches N] [--close]
//! log_writer recover <dir> [--segment-bytes N]
//! ```
//!
//! `append` prints `opened <log end offset> clean=<bool> scanned=<n> truncated=<bytes>` once the
//! log is open, then appends batches of 1–20 records (a count drawn from `--seed`) and prints
//! `acked <first offset> <last offset>` after each append returns, that is once the batch is
//! durable. The record at offset `o` always has the key `key-<o>` and the value [`value_for`]`(o,
//! value_bytes)`, so a reader can check every record without knowing which run wrote it. Without
//! `--batches` it appends until it is killed; with it, it prints `done <log end offset>` after `N`
//! batches and then either closes the log cleanly and exits (`--close`) or waits to be killed (an
//! unclean shutdown).
//!
//! `recover` opens the log (running crash recovery if the last shutdown was unclean), prints
//! `recovered <log end offset> clean=<bool> scanned=<n> truncated=<bytes>` and exits without a
//! clean close.
//!
//! Every stdout line is flushed as it is written; the exit status is 0 on success, 1 on an engine
//! error and 2 on bad usage.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use fastdata_log::batch::{BatchBuilder, Compression};
use fastdata_log::storage::RealStorage;
use fastdata_log::{LogConfig, PartitionLog, RecoveryReport, SystemClock};
use fastdata_tests::log_workload::{value_for, MAX_BATCH_RECORDS};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

struct Args {
    command: String,
    dir: PathBuf,
    seed: u64,
    epoch: i32,
    value_bytes: usize,
    segment_bytes: u64,
    batches: Option<u64>,
    close: bool,
}

fn parse_args() -> Result<Args> {
    let mut it = std::env::args().skip(1);
    let command = it.next().context("missing command (append or recover)")?;
    if command != "append" && command != "recover" {
        bail!("unknown command {command:?} (append or recover)");
    }
    let dir = PathBuf::from(it.next().context("missing data dir")?);
    let mut args = Args {
        command,
        dir,
        seed: 1,
        epoch: 0,
        value_bytes: 100,
        segment_bytes: 256 * 1024,
        batches: None,
        close: false,
    };
    while let Some(flag) = it.next() {
        if flag == "--close" {
            args.close = true;
            continue;
        }
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        let bad = || format!("bad value {value:?} for {flag}");
        match flag.as_str() {
            "--seed" => args.seed = value.parse().with_context(bad)?,
            "--epoch" => args.epoch = value.parse().with_context(bad)?,
            "--value-bytes" => args.value_bytes = value.parse().with_context(bad)?,
            "--segment-bytes" => args.segment_bytes = value.parse().with_context(bad)?,
            "--batches" => args.batches = Some(value.parse().with_context(bad)?),
            _ => bail!("unknown flag {flag:?}"),
        }
    }
    Ok(args)
}

fn open(args: &Args) -> Result<PartitionLog> {
    let config = LogConfig {
        flush_messages: 1,
        segment_bytes: args.segment_bytes,
        // Small indexes: a segment of a few hundred KiB needs only a few entries.
        segment_index_bytes: 64 * 1024,
        ..LogConfig::default()
    };
    PartitionLog::open(
        &args.dir,
        config,
        Arc::new(RealStorage),
        Arc::new(SystemClock),
    )
    .with_context(|| format!("opening the partition log in {}", args.dir.display()))
}

fn describe(report: &RecoveryReport) -> String {
    format!(
        "clean={} scanned={} truncated={}",
        report.clean, report.segments_scanned, report.bytes_truncated
    )
}

/// Prints one line on stdout and flushes it, so the parent sees it before a SIGKILL can land.
fn say(line: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

fn append(args: &Args) -> Result<()> {
    let log = open(args)?;
    say(&format!(
        "opened {} {}",
        log.log_end_offset(),
        describe(log.recovery_report())
    ))?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut done = 0u64;
    while args.batches.is_none_or(|n| done < n) {
        // The only writer: the next offsets are known before the append.
        let first = log.log_end_offset();
        let count = rng.gen_range(1..=MAX_BATCH_RECORDS);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let mut builder = BatchBuilder::new(Compression::None);
        for offset in first..first + count as i64 {
            let key = format!("key-{offset}");
            builder.append(
                now,
                Some(key.as_bytes()),
                Some(&value_for(offset, args.value_bytes)),
                &[],
            );
        }
        let batch: Bytes = builder.build().context("building a batch")?;
        let info = log.append(batch, args.epoch).context("appending")?;
        if info.first_offset != first || info.last_offset != first + count as i64 - 1 {
            bail!(
                "append of {count} records at {first} got offsets {}..={}",
                info.first_offset,
                info.last_offset
            );
        }
        // flush.messages=1: the append returned only after its fdatasync.
        if log.flushed_offset() <= info.last_offset {
            bail!(
                "append returned before its flush: flushed offset {} <= last offset {}",
                log.flushed_offset(),
                info.last_offset
            );
        }
        say(&format!("acked {} {}", info.first_offset, info.last_offset))?;
        done += 1;
    }
    say(&format!("done {}", log.log_end_offset()))?;
    if args.close {
        log.close().context("closing the log")?;
        return Ok(());
    }
    // An unclean shutdown is the point: wait to be killed, never close.
    loop {
        std::thread::park();
    }
}

fn recover(args: &Args) -> Result<()> {
    let log = open(args)?;
    say(&format!(
        "recovered {} {}",
        log.log_end_offset(),
        describe(log.recovery_report())
    ))?;
    // Dropped without `close`: the next open is unclean again.
    drop(log);
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("log_writer: {err:#}");
            return ExitCode::from(2);
        }
    };
    let result = match args.command.as_str() {
        "append" => append(&args),
        _ => recover(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("log_writer: {err:#}");
            ExitCode::from(1)
        }
    }
}
