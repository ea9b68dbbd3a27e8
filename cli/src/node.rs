//! `fastdata node`: one node serving CQL native protocol v4, until SIGTERM or SIGINT.
//!
//! Every key of the node's configuration (`fastdata_server::node::config`: Cassandra's
//! cassandra.yaml names with dots) is a flag (`--native-transport-port 9042`), over
//! `FASTDATA_*` variables, over `--config FILE`, over the defaults. Once serving, it prints
//! `cql listening on HOST:PORT` and `admin listening on HOST:PORT` on stdout.

use std::process::ExitCode;

use fastdata_server::config::{ConfigTable, KeyInfo};
use fastdata_server::node::{start_node, NodeConfig, RunningNode};

use crate::service::{serve_one, ConfigArgs, FlagSet, Started};

/// The node's keys.
#[derive(Debug, Clone)]
pub struct NodeFlags;

impl FlagSet for NodeFlags {
    fn keys() -> Vec<&'static KeyInfo> {
        NodeConfig::KEYS.iter().collect()
    }
}

/// `fastdata node`'s flags.
pub type NodeArgs = ConfigArgs<NodeFlags>;

/// What a started node contributes to the process: its line and its stop.
pub fn node_started(running: RunningNode, started: &mut Started) {
    let node = running.node().clone();
    started.add("cql", running.cql_addr, node, move || running.shutdown());
}

/// Runs `fastdata node`.
pub fn run(args: NodeArgs) -> anyhow::Result<ExitCode> {
    serve_one(
        &args,
        NodeConfig::default(),
        NodeConfig::validate,
        |config| config.admin_listener.clone(),
        |config| async move {
            let mut started = Started::default();
            node_started(start_node(config).await?, &mut started);
            Ok(started)
        },
    )
}
