//! `fastdata`: the one binary of fastdata.
//!
//! A thin command line over the workspace's libraries. Each subcommand lives in its own module
//! and is one variant of [`Command`]; `main` parses, dispatches and turns the outcome into an
//! exit status, nothing more: `dev`, `broker` and `node` serve; `topic`, `produce`, `consume`
//! and `group` are clients (on `fastdata-client`) in the manner of Kafka's console tools, and
//! `cql` is a shell in the manner of cqlsh; `bench` is the load generator (on
//! `fastdata-benches`). Subcommands grow issue by issue (`cluster` and
//! `framework` are to come, see DESIGN.md).
//!
//! Exit statuses: 0 on success, 1 on an error (printed with its causes), 2 on a usage error
//! (clap's convention).

mod bench;
mod broker;
mod client_args;
mod consume;
mod cql;
mod dev;
mod group;
mod node;
mod produce;
mod service;
mod topic;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fastdata_protocol::alloc::{LazyHugeAllocator, HUGE_ALLOCATION_BYTES};

/// kafka-protocol 0.18 reserves an array's declared length before reading it; this allocator
/// serves such huge reservations from untouched address space (see fastdata_protocol::alloc),
/// and everything else from mimalloc (glibc's malloc cost the servers 10-17% of their CPU).
#[global_allocator]
static ALLOCATOR: LazyHugeAllocator<mimalloc::MiMalloc> =
    LazyHugeAllocator::on(mimalloc::MiMalloc, HUGE_ALLOCATION_BYTES);

/// fastdata: a partitioned, replicated log (Kafka protocol) and a wide-column store (CQL), in Rust.
#[derive(Debug, Parser)]
#[command(name = "fastdata", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start everything on loopback in one process, data under ./data: a broker and a node.
    Dev(dev::DevArgs),
    /// Run a broker (Kafka protocol) until SIGTERM.
    Broker(broker::BrokerArgs),
    /// Run a node of the store (CQL native protocol v4) until SIGTERM.
    Node(node::NodeArgs),
    /// A CQL shell in the manner of cqlsh.
    Cql(cql::CqlArgs),
    /// Create, list, describe, alter and delete topics.
    Topic(topic::TopicArgs),
    /// Write records: lines of stdin, or generated ones with a throughput summary.
    Produce(produce::ProduceArgs),
    /// Print records, optionally as a member of a consumer group.
    Consume(consume::ConsumeArgs),
    /// List and describe consumer groups (members, offsets, lag).
    Group(group::GroupArgs),
    /// The load generator: produce and consume (Kafka protocol), YCSB workloads (CQL).
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Dev(args) => dev::run(args),
        Command::Broker(args) => broker::run(args),
        Command::Node(args) => node::run(args),
        Command::Cql(args) => cql::run(args),
        Command::Topic(args) => topic::run(args),
        Command::Produce(args) => produce::run(args),
        Command::Consume(args) => consume::run(args),
        Command::Group(args) => group::run(args),
        Command::Bench(args) => bench::run(args),
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
