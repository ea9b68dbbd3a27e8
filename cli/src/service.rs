//! What the serving commands (`broker`, `node`, `dev`) share: their flags (one per
//! configuration key, from the servers' key tables), logging, and the life cycle: start the
//! services, bind the admin port, print where everything listens, serve until SIGTERM or
//! SIGINT, stop cleanly.
//!
//! Configuration sources, lowest to highest: defaults, `--config FILE` (TOML), `FASTDATA_*`
//! environment variables, flags. `--print-config` prints the effective configuration.

use std::future::Future;
use std::io::Write as _;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use fastdata_server::admin_http::{serve_admin, AdminService};
use fastdata_server::config::{flatten_toml, ConfigError, ConfigTable, KeyInfo};
use tokio_util::sync::CancellationToken;

/// The configuration keys a command takes as flags.
pub trait FlagSet {
    /// The keys, each once, in `--help` order.
    fn keys() -> Vec<&'static KeyInfo>;
}

/// `--config`, `--print-config`, and one flag per key of `F`.
#[derive(Debug, Clone)]
pub struct ConfigArgs<F> {
    config_file: Option<PathBuf>,
    print_config: bool,
    /// (key, value) for every key flag given, in key order.
    overrides: Vec<(&'static str, String)>,
    flags: PhantomData<F>,
}

impl<F: FlagSet> FromArgMatches for ConfigArgs<F> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let overrides = F::keys()
            .into_iter()
            .filter_map(|key| {
                matches
                    .get_one::<String>(key.name)
                    .map(|v| (key.name, v.clone()))
            })
            .collect();
        Ok(ConfigArgs {
            config_file: matches.get_one::<PathBuf>("config").cloned(),
            print_config: matches.get_flag("print-config"),
            overrides,
            flags: PhantomData,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl<F: FlagSet> Args for ConfigArgs<F> {
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
        F::keys().into_iter().fold(cmd, |cmd, key| {
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

impl<F: FlagSet> ConfigArgs<F> {
    /// Whether `--print-config` was given.
    pub fn print_config(&self) -> bool {
        self.print_config
    }

    /// The file's (key, value) pairs, each checked to be a key of `F`.
    fn file_entries(&self) -> anyhow::Result<Vec<(String, String)>> {
        let Some(path) = &self.config_file else {
            return Ok(Vec::new());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read configuration file {}", path.display()))?;
        let source = path.display().to_string();
        let entries = flatten_toml(&text, &source)?;
        let known = F::keys();
        for (key, _) in &entries {
            if !known.iter().any(|k| k.name == key) {
                bail!("unknown configuration key '{key}' (from {source})");
            }
        }
        Ok(entries)
    }

    /// The configuration of one table: its defaults, then the file's, the environment's and the
    /// flags' values of the keys it has (a key of another table of `F` is left to that table).
    pub fn resolve<T: ConfigTable>(&self, mut config: T) -> anyhow::Result<T> {
        let source = self
            .config_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let mine = |key: &str| T::KEYS.iter().any(|k| k.name == key);
        for (key, value) in self.file_entries()? {
            if mine(&key) {
                config.set(&key, &value, &source)?;
            }
        }
        config.apply_env(std::env::vars())?;
        for (key, value) in &self.overrides {
            if mine(key) {
                let flag = format!("--{}", key.replace('.', "-"));
                config.set(key, value, &flag)?;
            }
        }
        Ok(config)
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

/// SIGTERM and SIGINT, handled from the moment this returns (so a signal that comes while
/// the services start, or just after the listening lines are printed, is not the default
/// action's kill but a clean stop).
fn stop_signals() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// A stop that runs once, when the process is asked to stop.
pub type Stop = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// Services started and serving.
#[derive(Default)]
pub struct Started {
    /// What to print, one line each (`kafka listening on H:P`), once the admin port is bound.
    pub lines: Vec<String>,
    /// Where each service listens, by name (`kafka`), for what is printed after.
    pub addresses: std::collections::BTreeMap<&'static str, String>,
    /// The services the admin port reports on.
    pub services: Vec<Arc<dyn AdminService>>,
    /// Their clean stops, run in order.
    pub stops: Vec<Stop>,
}

impl Started {
    /// Adds a started service: its listening line (`NAME listening on ADDRESS`), its address
    /// under `name`, its admin service and its stop.
    pub fn add<Fut>(
        &mut self,
        name: &'static str,
        address: SocketAddr,
        service: Arc<dyn AdminService>,
        stop: impl FnOnce() -> Fut + Send + 'static,
    ) where
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.lines.push(format!("{name} listening on {address}"));
        self.addresses.insert(name, address.to_string());
        self.services.push(service);
        self.stops.push(Box::new(move || Box::pin(stop())));
    }
}

/// Runs a command that serves one service (`broker`, `node`): its configuration from `args`
/// over `defaults`, checked by `validate`; with `--print-config` printed instead; else logging
/// and [`serve`] of what `start` starts, with the admin port that `admin` reads from the
/// configuration.
pub fn serve_one<F, T, Fut>(
    args: &ConfigArgs<F>,
    defaults: T,
    validate: impl Fn(&T) -> Result<(), ConfigError>,
    admin: impl Fn(&T) -> String,
    start: impl FnOnce(T) -> Fut,
) -> anyhow::Result<ExitCode>
where
    F: FlagSet,
    T: ConfigTable,
    Fut: Future<Output = anyhow::Result<Started>>,
{
    let config = args.resolve(defaults)?;
    validate(&config)?;
    if args.print_config() {
        print!("{}", config.to_toml_string());
        return Ok(ExitCode::SUCCESS);
    }
    init_logging();
    let admin = admin(&config);
    serve(admin, move || start(config), |_, _| {})
}

/// Start the services, bind the admin port on `admin_address`, print where everything
/// listens (then what `after_ready` prints, given the services' addresses and the admin
/// port's), serve until a stop signal, then stop each service cleanly.
pub fn serve<S, Fut>(
    admin_address: String,
    start: S,
    after_ready: impl FnOnce(&std::collections::BTreeMap<&'static str, String>, &str),
) -> anyhow::Result<ExitCode>
where
    S: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<Started>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("fastdata")
        .build()
        .context("starting the async runtime")?;
    if let Some(warning) = fastdata_protocol::alloc::overcommit_warning() {
        tracing::warn!("{warning}");
    }
    runtime.block_on(async move {
        let stop_signal = stop_signals()?;
        let started = start().await?;
        let admin = fastdata_server::broker::bind(&admin_address, "admin.listener").await?;
        let admin_addr = admin.local_addr().context("reading the admin address")?;
        let stop_admin = CancellationToken::new();
        let admin_task = tokio::spawn(serve_admin(
            admin,
            started.services.clone(),
            stop_admin.clone(),
        ));
        {
            let mut out = std::io::stdout().lock();
            for line in &started.lines {
                writeln!(out, "{line}")?;
            }
            writeln!(out, "admin listening on {admin_addr}")?;
            out.flush()?;
        }
        after_ready(&started.addresses, &admin_addr.to_string());
        stop_signal.await;
        for stop in started.stops {
            stop().await;
        }
        stop_admin.cancel();
        let _ = admin_task.await;
        Ok(ExitCode::SUCCESS)
    })
}
