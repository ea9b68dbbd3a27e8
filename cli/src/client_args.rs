//! What every client command shares: `--bootstrap`, a runtime to run the client on, and the
//! wait for Ctrl-C (or SIGTERM) that the long-running ones stop on.

use anyhow::Context as _;
use clap::Args;

/// The dev broker's address, every client command's default.
pub const DEFAULT_BOOTSTRAP: &str = "127.0.0.1:9092";

/// Where the brokers are.
#[derive(Debug, Clone, Args)]
pub struct Bootstrap {
    /// Broker addresses to start from, HOST:PORT[,HOST:PORT...]
    #[arg(long, value_name = "HOST:PORT[,...]", default_value = DEFAULT_BOOTSTRAP)]
    pub bootstrap: String,
}

/// A current-thread runtime for one command (the client needs a Tokio runtime).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn interrupted() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Parses `key=value`.
pub fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("'{s}' is not KEY=VALUE")),
    }
}

/// Print rows as aligned columns (the first row is the header).
pub fn print_table(rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| format!("{cell:<width$}", width = widths[c]))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_split_at_the_first_equals() {
        assert_eq!(
            key_value("retention.ms=1000"),
            Ok(("retention.ms".into(), "1000".into()))
        );
        assert_eq!(key_value("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(key_value("novalue").is_err());
        assert!(key_value("=x").is_err());
    }
}
