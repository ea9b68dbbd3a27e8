//! `fastdata broker`: one broker serving the Kafka protocol, until SIGTERM or SIGINT.
//!
//! Configuration comes from the key table of `fastdata_server::config`: defaults, then
//! `--config FILE` (TOML), then `FASTDATA_*` environment variables, then one flag per key
//! (`--log-retention-ms 1000`; every key is listed by `--help`). `--print-config` prints the
//! effective configuration as TOML and exits.
//!
//! Once serving, it prints `kafka listening on HOST:PORT` and `admin listening on HOST:PORT`
//! on stdout (the actual ports when the configuration asks for port 0), which scripts and
//! tests wait for.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use fastdata_server::admin_http::{serve_admin, AdminService};
use fastdata_server::config::KEYS;
use fastdata_server::{start_broker, BrokerConfig};
use tokio_util::sync::CancellationToken;

/// The broker's flags: `--config`, `--print-config`, and one per configuration key.
#[derive(Debug, Clone, Default)]
pub struct BrokerArgs {
    config_file: Option<PathBuf>,
    print_config: bool,
    /// (key, value) for every key flag given, in key order.
    overrides: Vec<(&'static str, String)>,
}

impl FromArgMatches for BrokerArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = BrokerArgs {
            config_file: matches.get_one::<PathBuf>("config").cloned(),
            print_config: matches.get_flag("print-config"),
            overrides: Vec::new(),
        };
        for key in KEYS {
            if let Some(value) = matches.get_one::<String>(key.name) {
                args.overrides.push((key.name, value.clone()));
            }
        }
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for BrokerArgs {
    fn augment_args(cmd: Command) -> Command {
        let cmd = cmd
            .arg(
                Arg::new("config")
                    .long("config")
                    .value_name("FILE")
                    .value_parser(clap::value_parser!(PathBuf))
                    .help("A TOML file of configuration keys (see --print-config)"),
            )
            .arg(
                Arg::new("print-config")
                    .long("print-config")
                    .action(ArgAction::SetTrue)
                    .help("Print the effective configuration as TOML and exit"),
            );
        KEYS.iter().fold(cmd, |cmd, key| {
            cmd.arg(
                Arg::new(key.name)
                    .long(key.flag())
                    .value_name("VALUE")
                    .help(format!("{} [{}, env {}]", key.doc, key.name, key.env_var())),
            )
        })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl BrokerArgs {
    /// The configuration these flags, the file and the environment give, over `defaults`.
    pub fn resolve(&self, mut config: BrokerConfig) -> anyhow::Result<BrokerConfig> {
        if let Some(path) = &self.config_file {
            config.apply_file(path)?;
        }
        config.apply_env(std::env::vars())?;
        for (key, value) in &self.overrides {
            let flag = format!("--{}", key.replace('.', "-"));
            config.set(key, value, &flag)?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Whether `--print-config` was given.
    pub fn print_config(&self) -> bool {
        self.print_config
    }
}

/// Log to stderr, `RUST_LOG` filtering (default: info).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Wait for SIGTERM or SIGINT.
async fn stop_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

/// Start a broker with `config`, print where it listens (and `after_ready`, for `dev`), serve
/// until a stop signal, then shut down cleanly.
pub fn serve(
    config: BrokerConfig,
    after_ready: impl FnOnce(&str, &str),
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("fastdata")
        .build()
        .context("starting the async runtime")?;
    if let Some(warning) = fastdata_protocol::alloc::overcommit_warning() {
        tracing::warn!("{warning}");
    }
    runtime.block_on(async move {
        let admin_address = config.admin_listener.clone();
        let running = start_broker(config).await?;
        let admin = fastdata_server::broker::bind(&admin_address, "admin.listener").await?;
        let admin_addr = admin.local_addr().context("reading the admin address")?;
        let stop_admin = CancellationToken::new();
        let services: Vec<Arc<dyn AdminService>> = vec![running.broker().clone()];
        let admin_task = tokio::spawn(serve_admin(admin, services, stop_admin.clone()));
        let kafka = running.kafka_addr.to_string();
        let admin_text = admin_addr.to_string();
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "kafka listening on {kafka}")?;
            writeln!(out, "admin listening on {admin_text}")?;
            out.flush()?;
        }
        after_ready(&kafka, &admin_text);
        stop_signal().await?;
        running.shutdown().await;
        stop_admin.cancel();
        let _ = admin_task.await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Runs `fastdata broker`.
pub fn run(args: BrokerArgs) -> anyhow::Result<ExitCode> {
    let config = args.resolve(BrokerConfig::default())?;
    if args.print_config() {
        print!("{}", config.to_toml_string());
        return Ok(ExitCode::SUCCESS);
    }
    init_logging();
    serve(config, |_, _| {})
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
