//! Reading a stream from the start as fast as a client can, as `fastdata bench log consume`
//! does: a throughput-only report of records and payload bytes per second.

use std::time::{Duration, Instant};

use fastdata_benches::load::Report;

/// How a read goes.
pub struct Limits {
    /// Stop after this long even if the end is not reached.
    pub max: Duration,
    /// Print a progress line on stderr every second.
    pub progress: bool,
}

/// Records read so far.
#[derive(Clone, Copy, Debug, Default)]
pub struct Read {
    pub records: u64,
    /// Payload bytes (values, not keys or ids).
    pub bytes: u64,
}

/// Something read batch after batch.
pub(crate) trait BatchSource {
    /// Reads the next records, at most `want` of them; none read means the source has ended.
    async fn next_batch(&mut self, want: u64) -> anyhow::Result<Read>;
}

/// Reads `total` records from `source` (or what it has until it ends or `limits.max` passes,
/// even in the middle of a batch) and reports records/s and MB/s.
pub(crate) async fn read_all<S: BatchSource>(
    name: &str,
    source: &mut S,
    total: u64,
    limits: &Limits,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let deadline = tokio::time::Instant::from_std(started + limits.max);
    let mut done = Read::default();
    let mut shown = (started, done);
    while done.records < total {
        // A source with nothing to send blocks; the deadline ends the wait.
        let Ok(batch) =
            tokio::time::timeout_at(deadline, source.next_batch(total - done.records)).await
        else {
            break;
        };
        let batch = batch?;
        if batch.records == 0 {
            break;
        }
        done.records += batch.records;
        done.bytes += batch.bytes;
        if limits.progress && shown.0.elapsed() >= Duration::from_secs(1) {
            let seconds = shown.0.elapsed().as_secs_f64();
            eprint!(
                "\r[{:>4}s] {:>12} records {:>10.0} records/s {:>9.1} MB/s   ",
                started.elapsed().as_secs(),
                done.records,
                (done.records - shown.1.records) as f64 / seconds,
                (done.bytes - shown.1.bytes) as f64 / seconds / 1e6,
            );
            shown = (Instant::now(), done);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    if limits.progress {
        eprintln!();
    }
    let mean = done.bytes.checked_div(done.records).unwrap_or(0);
    Ok(Report::throughput(name, done.records, done.bytes, seconds)
        .with("source", "from the start to the end at the start")
        .with("records", format!("{} of {total}", done.records))
        .with("record size", format!("{mean} B (mean payload)")))
}
