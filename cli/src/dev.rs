//! `fastdata dev`: everything on loopback in one process, data under `./data`, no setup.
//!
//! Today that is one broker (Kafka protocol on 127.0.0.1:9092, admin HTTP on 127.0.0.1:9644,
//! data in `./data/broker`); the store's node (CQL on 127.0.0.1:9042) joins it with the next
//! issue. It takes the broker's flags (`fastdata dev --help`); `--data-dir` names the root
//! under which each service keeps its directory. Once serving it prints where, and how to use
//! it with our CLI and with kcat.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use fastdata_server::config::ConfigTable;
use fastdata_server::{start_broker, BrokerConfig};

use crate::broker::{broker_started, BrokerFlags};
use crate::service::{init_logging, serve, ConfigArgs, Started};

/// Options of `fastdata dev`: the broker's.
#[derive(Debug, Args)]
pub struct DevArgs {
    #[command(flatten)]
    config: ConfigArgs<BrokerFlags>,
}

/// Runs `fastdata dev`.
pub fn run(args: DevArgs) -> anyhow::Result<ExitCode> {
    let mut config = args.config.resolve(BrokerConfig::default())?;
    config.data_dir = Path::new(&config.data_dir)
        .join("broker")
        .display()
        .to_string();
    config.validate()?;
    if args.config.print_config() {
        print!("{}", config.to_toml_string());
        return Ok(ExitCode::SUCCESS);
    }
    init_logging();
    let data_dir = config.data_dir.clone();
    let admin = config.admin_listener.clone();
    serve(
        admin,
        || async move {
            let mut started = Started::default();
            broker_started(start_broker(config).await?, &mut started);
            Ok(started)
        },
        |addresses, admin| {
            let kafka = addresses.get("kafka").cloned().unwrap_or_default();
            println!(
                "\nfastdata dev is serving (Ctrl-C stops it):\n\
                 \x20 broker  Kafka protocol on {kafka}, data in {data_dir}\n\
                 \x20 admin   http://{admin}/ready, /metrics\n\
                 \x20 (the store's node, CQL on 127.0.0.1:9042, arrives with the next issue)\n\
                 \n\
                 Try it:\n\
                 \x20 fastdata topic create demo --partitions 3\n\
                 \x20 printf 'k1:hello\\nk2:world\\n' | fastdata produce --topic demo --key-separator :\n\
                 \x20 fastdata consume --topic demo --group demo-group --from-beginning --max 2\n\
                 \x20 fastdata group describe demo-group\n\
                 \x20 kcat -b {kafka} -L\n\
                 \x20 kcat -b {kafka} -C -t demo -e -f '%p %o %k %s\\n'"
            );
        },
    )
}
