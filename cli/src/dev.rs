//! `fastdata dev`: everything on loopback in one process, data under `./data`, no setup.
//!
//! One broker (Kafka protocol on 127.0.0.1:9092, data in `./data/broker`) and one node of the
//! store (CQL on 127.0.0.1:9042, data in `./data/node`), with one admin HTTP port for both
//! (127.0.0.1:9644: `/ready` once both serve, `/metrics` of both). It takes the broker's and
//! the node's flags (`fastdata dev --help`); a key both have (`data.dir`, `admin.listener`,
//! `shutdown.timeout.ms`) is one flag for both, and `--data-dir` names the root under which
//! each service keeps its directory. Once serving it prints where, and how to use it with our
//! CLI, kcat and cqlsh.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use fastdata_server::config::{ConfigTable, KeyInfo};
use fastdata_server::node::{start_node, NodeConfig};
use fastdata_server::{start_broker, BrokerConfig};

use crate::broker::broker_started;
use crate::node::node_started;
use crate::service::{init_logging, serve, ConfigArgs, FlagSet, Started};

/// The broker's keys, then the node's that the broker does not have.
#[derive(Debug, Clone)]
pub struct DevFlags;

impl FlagSet for DevFlags {
    fn keys() -> Vec<&'static KeyInfo> {
        let mut keys: Vec<&'static KeyInfo> = BrokerConfig::KEYS.iter().collect();
        for key in NodeConfig::KEYS {
            if !keys.iter().any(|k| k.name == key.name) {
                keys.push(key);
            }
        }
        keys
    }
}

/// Options of `fastdata dev`: the broker's and the node's.
#[derive(Debug, Args)]
pub struct DevArgs {
    #[command(flatten)]
    config: ConfigArgs<DevFlags>,
}

/// `root/name`, as a string for a configuration.
fn under(root: &str, name: &str) -> String {
    Path::new(root).join(name).display().to_string()
}

/// Runs `fastdata dev`.
pub fn run(args: DevArgs) -> anyhow::Result<ExitCode> {
    let mut broker = args.config.resolve(BrokerConfig::default())?;
    let mut node = args.config.resolve(NodeConfig::default())?;
    if args.config.print_config() {
        // What --config reads back: the node's keys the broker shares are printed once.
        print!("{}", broker.to_toml_string());
        print!(
            "{}",
            node.to_toml_string_of(|key| !BrokerConfig::KEYS.iter().any(|k| k.name == key))
        );
        return Ok(ExitCode::SUCCESS);
    }
    broker.data_dir = under(&broker.data_dir, "broker");
    node.data_dir = under(&node.data_dir, "node");
    // One admin port serves both: the broker's key (the node's default differs).
    node.admin_listener = broker.admin_listener.clone();
    broker.validate()?;
    node.validate()?;
    init_logging();
    let broker_dir = broker.data_dir.clone();
    let node_dir = node.data_dir.clone();
    let admin = broker.admin_listener.clone();
    serve(
        admin,
        || async move {
            let mut started = Started::default();
            broker_started(start_broker(broker).await?, &mut started);
            node_started(start_node(node).await?, &mut started);
            Ok(started)
        },
        |addresses, admin| {
            let kafka = addresses.get("kafka").cloned().unwrap_or_default();
            let cql = addresses.get("cql").cloned().unwrap_or_default();
            let (cql_host, cql_port) = cql.rsplit_once(':').unwrap_or((&cql, ""));
            println!(
                "\nfastdata dev is serving (Ctrl-C stops it):\n\
                 \x20 broker  Kafka protocol on {kafka}, data in {broker_dir}\n\
                 \x20 node    CQL native protocol v4 on {cql}, data in {node_dir}\n\
                 \x20 admin   http://{admin}/ready, /metrics\n\
                 \n\
                 Try the log:\n\
                 \x20 fastdata topic create demo --partitions 3\n\
                 \x20 printf 'k1:hello\\nk2:world\\n' | fastdata produce --topic demo --key-separator :\n\
                 \x20 fastdata consume --topic demo --group demo-group --from-beginning --max 2\n\
                 \x20 fastdata group describe demo-group\n\
                 \x20 kcat -b {kafka} -L\n\
                 \x20 kcat -b {kafka} -C -t demo -e -f '%p %o %k %s\\n'\n\
                 Try the store:\n\
                 \x20 fastdata cql --host {cql} -e \"CREATE KEYSPACE demo WITH replication = \
                 {{'class': 'SimpleStrategy', 'replication_factor': 1}}\"\n\
                 \x20 fastdata cql --host {cql} -e \"CREATE TABLE demo.kv (k text PRIMARY KEY, v int)\"\n\
                 \x20 fastdata cql --host {cql} -e \"INSERT INTO demo.kv (k, v) VALUES ('a', 1)\"\n\
                 \x20 fastdata cql --host {cql} -e \"SELECT * FROM demo.kv\"\n\
                 \x20 cqlsh {cql_host} {cql_port}"
            );
        },
    )
}
