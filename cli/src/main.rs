//! `fastdata`: the one binary of fastdata.
//!
//! A thin command line over the workspace's libraries. Each subcommand lives in its own module
//! and is one variant of [`Command`]; `main` parses, dispatches and turns the outcome into an
//! exit status, nothing more. Subcommands grow issue by issue (`broker`, `node`, `topic`,
//! `produce`, `consume`, `group`, `cql`, `cluster`, `framework`, `bench`, see DESIGN.md); today
//! there is only `dev`, which says plainly that there is nothing to serve yet.
//!
//! Exit statuses: 0 on success, 1 on an error (printed with its causes), 2 on a usage error
//! (clap's convention) and from `dev` while it has nothing to serve.

mod dev;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// fastdata: a partitioned, replicated log (Kafka protocol) and a wide-column store (CQL), in Rust.
#[derive(Debug, Parser)]
#[command(name = "fastdata", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start one broker and one node in one process on loopback (not available yet).
    Dev(dev::DevArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Dev(args) => dev::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("fastdata: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn dev_parses() {
        let cli = Cli::try_parse_from(["fastdata", "dev"]).expect("dev parses");
        assert!(matches!(cli.command, Command::Dev(_)));
    }
}
