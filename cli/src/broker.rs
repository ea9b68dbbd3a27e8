//! `fastdata broker`: one broker serving the Kafka protocol, until SIGTERM or SIGINT.
//!
//! Every key of the broker's configuration (`fastdata_server::config`) is a flag
//! (`--log-retention-ms 1000`; `--help` lists them), over `FASTDATA_*` variables, over
//! `--config FILE`, over the defaults. Once serving, it prints `kafka listening on HOST:PORT`
//! and `admin listening on HOST:PORT` on stdout (the actual ports when the configuration asks
//! for port 0), which scripts and tests wait for.

use std::process::ExitCode;

use fastdata_server::config::{ConfigTable, KeyInfo};
use fastdata_server::{start_broker, BrokerConfig, RunningBroker};

use crate::service::{serve_one, ConfigArgs, FlagSet, Started};

/// The broker's keys.
#[derive(Debug, Clone)]
pub struct BrokerFlags;

impl FlagSet for BrokerFlags {
    fn keys() -> Vec<&'static KeyInfo> {
        BrokerConfig::KEYS.iter().collect()
    }
}

/// `fastdata broker`'s flags.
pub type BrokerArgs = ConfigArgs<BrokerFlags>;

/// What a started broker contributes to the process: its line and its stop.
pub fn broker_started(running: RunningBroker, started: &mut Started) {
    let broker = running.broker().clone();
    started.add("kafka", running.kafka_addr, broker, move || {
        running.shutdown()
    });
}

/// Runs `fastdata broker`.
pub fn run(args: BrokerArgs) -> anyhow::Result<ExitCode> {
    serve_one(
        &args,
        BrokerConfig::default(),
        BrokerConfig::validate,
        |config| config.admin_listener.clone(),
        |config| async move {
            let mut started = Started::default();
            broker_started(start_broker(config).await?, &mut started);
            Ok(started)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        broker: BrokerArgs,
    }

    #[test]
    fn every_key_is_a_flag_and_flags_win() {
        let cli =
            Cli::try_parse_from(["x", "--num-partitions", "4", "--data-dir", "/tmp/d"]).unwrap();
        let config = cli.broker.resolve(BrokerConfig::default()).unwrap();
        assert_eq!(config.num_partitions, 4);
        assert_eq!(config.data_dir, "/tmp/d");
        let err = Cli::try_parse_from(["x", "--num-partitions", "four"])
            .unwrap()
            .broker
            .resolve(BrokerConfig::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--num-partitions") && err.contains("four"),
            "{err}"
        );
    }
}
