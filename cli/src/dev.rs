//! `fastdata dev`: one broker and one node in one process on loopback, data under `./data`.
//!
//! Until the broker lands (the next issue) there is nothing to serve: the command says so and
//! exits with status 2, so no script mistakes it for a running server.

use std::process::ExitCode;

use clap::Args;

/// Exit status of `dev` while there is nothing to serve.
const NOTHING_TO_SERVE: u8 = 2;

/// Options of `fastdata dev` (none yet; listen addresses and the data directory join them with
/// the broker).
#[derive(Debug, Args)]
pub struct DevArgs {}

/// Runs `fastdata dev`.
pub fn run(_args: DevArgs) -> anyhow::Result<ExitCode> {
    eprintln!(
        "fastdata dev: nothing to serve yet.\n\
         \n\
         The broker (Kafka protocol on 127.0.0.1:9092) and the node (CQL on 127.0.0.1:9042)\n\
         arrive in later issues. What exists today is the log's storage engine, as a library\n\
         (crate fastdata-log); `bash scripts/test.sh` exercises it. See README.md."
    );
    Ok(ExitCode::from(NOTHING_TO_SERVE))
}
