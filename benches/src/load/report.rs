//! What a run measured: counts, throughput and latency percentiles per kind of operation,
//! printed as a table or serialized as JSON (the side-by-side runner reads the JSON).

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::Path;
use std::process::ExitCode;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::{LoadConfig, Pace};

/// Latency percentiles of one kind of operation, in microseconds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LatencyRow {
    /// The kind of operation (`produce`, `read`, `update`, ...).
    pub kind: String,
    /// Operations of this kind that finished after the warm-up.
    pub count: u64,
    /// Mean latency.
    pub mean_us: f64,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// The slowest.
    pub max_us: u64,
}

/// The result of one run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// What ran, e.g. `log produce` or `store workload a`.
    pub name: String,
    /// Settings that shaped the figure (record size, acks, consistency, pace, ...).
    pub settings: BTreeMap<String, String>,
    /// Operations counted (finished inside the measured interval).
    pub ops: u64,
    /// Failed operations (the warm-up included).
    pub errors: u64,
    /// The first failure's message.
    pub first_error: Option<String>,
    /// Length of the measured interval.
    pub seconds: f64,
    /// `ops / seconds`.
    pub ops_per_sec: f64,
    /// Payload bytes per second (decimal MB/s = this / 10⁶).
    pub bytes_per_sec: f64,
    /// One row per kind of operation that happened.
    pub latency: Vec<LatencyRow>,
}

impl Report {
    /// Adds one latency row per kind of operation that happened (`histograms[i]` holds the
    /// latencies of `kinds[i]`).
    pub(super) fn with_latencies(
        mut self,
        kinds: &[&str],
        histograms: &[Histogram<u64>],
    ) -> Report {
        self.latency = kinds
            .iter()
            .zip(histograms)
            .filter(|(_, h)| !h.is_empty())
            .map(|(kind, h)| LatencyRow {
                kind: kind.to_string(),
                count: h.len(),
                mean_us: h.mean(),
                p50_us: h.value_at_quantile(0.50),
                p99_us: h.value_at_quantile(0.99),
                p999_us: h.value_at_quantile(0.999),
                max_us: h.max(),
            })
            .collect();
        self
    }

    /// Adds how the load was paced and how much was in flight.
    pub(super) fn with_pace(self, config: &LoadConfig) -> Report {
        let pace = match config.pace {
            Pace::Closed => "closed loop".to_string(),
            Pace::Open { rate } => format!("open loop at {rate} ops/s"),
        };
        self.with("pace", pace).with(
            "in flight",
            format!("{} workers x {}", config.workers, config.window),
        )
    }

    /// Prints the report as a table and, given a path, writes it there as JSON. The exit code
    /// of a load run: failure if any operation failed.
    pub fn print_and_save(&self, json: Option<&Path>) -> io::Result<ExitCode> {
        println!("{self}");
        if let Some(path) = json {
            let text = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
            std::fs::write(path, text + "\n").map_err(|e| {
                io::Error::new(e.kind(), format!("writing {}: {e}", path.display()))
            })?;
        }
        Ok(if self.errors == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }

    /// A report of a run that measured only throughput (no per-operation latency), e.g. a
    /// consumer reading as fast as it can.
    pub fn throughput(name: &str, ops: u64, bytes: u64, seconds: f64) -> Report {
        let per_sec = |n: u64| {
            if seconds > 0.0 {
                n as f64 / seconds
            } else {
                0.0
            }
        };
        Report {
            name: name.to_string(),
            settings: BTreeMap::new(),
            ops,
            errors: 0,
            first_error: None,
            seconds,
            ops_per_sec: per_sec(ops),
            bytes_per_sec: per_sec(bytes),
            latency: Vec::new(),
        }
    }

    /// Adds a setting to print with the figure.
    pub fn with(mut self, key: &str, value: impl fmt::Display) -> Report {
        self.settings.insert(key.to_string(), value.to_string());
        self
    }
}

/// `1234567` as `1,234,567`.
pub(super) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Microseconds as `850 µs`, `12.3 ms` or `1.20 s`.
fn duration_us(us: u64) -> String {
    match us {
        0..=9_999 => format!("{us} µs"),
        10_000..=999_999 => format!("{:.1} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", us as f64 / 1e6),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.name)?;
        for (key, value) in &self.settings {
            writeln!(f, "  {key:<14} {value}")?;
        }
        writeln!(
            f,
            "  {} ops in {:.1} s: {} ops/s, {:.1} MB/s, {} errors",
            grouped(self.ops),
            self.seconds,
            grouped(self.ops_per_sec.round() as u64),
            self.bytes_per_sec / 1e6,
            self.errors,
        )?;
        if let Some(error) = &self.first_error {
            writeln!(f, "  first error: {error}")?;
        }
        if self.latency.is_empty() {
            return Ok(());
        }
        writeln!(
            f,
            "  {:<10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "latency", "count", "mean", "p50", "p99", "p99.9", "max"
        )?;
        for row in &self.latency {
            writeln!(
                f,
                "  {:<10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
                row.kind,
                grouped(row.count),
                duration_us(row.mean_us.round() as u64),
                duration_us(row.p50_us),
                duration_us(row.p99_us),
                duration_us(row.p999_us),
                duration_us(row.max_us),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration_us(850), "850 µs");
        assert_eq!(duration_us(12_345), "12.3 ms");
        assert_eq!(duration_us(1_200_000), "1.20 s");
    }
}
