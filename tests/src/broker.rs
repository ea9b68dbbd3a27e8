//! A `fastdata broker` process for tests: started on loopback with any free ports, ready when
//! [`BrokerBuilder::start`] returns, and restartable on the same data and the same ports (see
//! [`Broker`]). The process handling is the one every server shares (`server.rs`).

use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use crate::server::{Server, ServerBuilder, ServiceSpec};
use crate::Process;

/// How long a start (or restart) may take, from spawning to `/ready` answering 200.
pub const BROKER_START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a clean shutdown (SIGTERM) may take before it counts as hung.
pub const BROKER_STOP_TIMEOUT: Duration = Duration::from_secs(30);

const BROKER: ServiceSpec = ServiceSpec {
    subcommand: "broker",
    listening_line: "kafka listening on ",
    listener_keys: &["listeners"],
    listener_flags: |host, port| vec!["--listeners".to_owned(), format!("{host}:{port}")],
    start_timeout: BROKER_START_TIMEOUT,
    stop_timeout: BROKER_STOP_TIMEOUT,
};

/// Builds and starts a [`Broker`].
#[derive(Debug, Clone)]
pub struct BrokerBuilder {
    inner: ServerBuilder,
}

impl BrokerBuilder {
    /// Listens on `host` (a loopback address such as `127.0.0.5`; default `127.0.0.1`), on
    /// ports the kernel picks.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.inner.host(host.into());
        self
    }

    /// Sets a broker config key (Kafka's dotted name) to `value`, passed as the flag
    /// `--KEY-WITH-DASHES VALUE`: `.config("group.initial.rebalance.delay.ms", "0")` becomes
    /// `--group-initial-rebalance-delay-ms 0`. `listeners`, `admin.listener` and `data.dir` are
    /// the builder's own and refused by [`BrokerBuilder::start`].
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.inner.config(key.into(), value.into());
        self
    }

    /// Names the broker in its log file names (default `broker`), for several brokers in one
    /// directory.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.inner.name(name.into());
        self
    }

    /// Runs `program` instead of [`fastdata_bin`](crate::fastdata_bin) (a release build, for
    /// benchmarks), with the same arguments.
    pub fn program(mut self, program: impl Into<OsString>) -> Self {
        self.inner.program(program.into());
        self
    }

    /// Starts the broker and waits until it is ready (see [`Broker`]).
    pub fn start(self) -> Result<Broker> {
        Ok(Broker {
            inner: self.inner.start()?,
        })
    }
}

/// A running (or stopped) `fastdata broker` process.
///
/// ```no_run
/// use fastdata_tests::{Broker, DataDir};
///
/// let dir = DataDir::new("example").unwrap();
/// let mut broker = Broker::builder(&dir)
///     .host("127.0.0.7")
///     .config("group.initial.rebalance.delay.ms", "0")
///     .start()
///     .unwrap();
/// println!("bootstrap {}", broker.bootstrap()); // "127.0.0.7:40123"
/// broker.kill().unwrap(); // SIGKILL: a crash
/// broker.restart().unwrap(); // same data dir, same ports
/// broker.terminate().unwrap(); // SIGTERM: a clean shutdown, exit status 0
/// ```
///
/// It runs as `fastdata broker --listeners HOST:0 --admin-listener HOST:0 --data-dir DIR/data`
/// plus a `--KEY VALUE` flag per config key (after a restart, with the ports it had). Start-up
/// is over when it has printed `kafka listening on H:P` and `admin listening on H:P` on stdout
/// (they carry the actual ports) and `GET /ready` on the admin port answers 200; both waits are
/// bounded by [`BROKER_START_TIMEOUT`]. Its stdout and stderr go to `DIR/NAME.stdout.log` and
/// `DIR/NAME.stderr.log` (NAME is `broker` unless [`BrokerBuilder::name`] says otherwise), which a
/// restart appends to. Dropping it SIGKILLs the process; in a panicking test, the tails of its
/// logs are printed first (see [`Process`]).
pub struct Broker {
    inner: Server,
}

impl Broker {
    /// A builder for a broker whose data (`<dir>/data`) and logs live in `dir`, normally the
    /// test's [`DataDir`](crate::DataDir), which must outlive the broker.
    pub fn builder(dir: impl AsRef<Path>) -> BrokerBuilder {
        BrokerBuilder {
            inner: ServerBuilder::new(BROKER, dir.as_ref()),
        }
    }

    /// The Kafka listener's address (the one clients bootstrap from).
    pub fn kafka_addr(&self) -> SocketAddr {
        self.inner.service_addr()
    }

    /// The admin HTTP listener's address (`/health`, `/ready`, `/metrics`).
    pub fn admin_addr(&self) -> SocketAddr {
        self.inner.admin_addr()
    }

    /// The bootstrap string clients take: `"HOST:PORT"` of the Kafka listener.
    pub fn bootstrap(&self) -> String {
        self.kafka_addr().to_string()
    }

    /// The directory the broker keeps its data in (`<dir>/data`).
    pub fn data_dir(&self) -> PathBuf {
        self.inner.data_dir()
    }

    /// The path of the broker's stdout log.
    pub fn stdout_log_path(&self) -> PathBuf {
        self.inner.stdout_log_path()
    }

    /// The path of the broker's stderr log (its tracing output).
    pub fn stderr_log_path(&self) -> PathBuf {
        self.inner.stderr_log_path()
    }

    /// The process, for what this type does not wrap (pause, resume, other signals).
    pub fn process(&mut self) -> &mut Process {
        self.inner.process()
    }

    /// Whether the broker process is still running.
    pub fn is_running(&mut self) -> Result<bool> {
        self.inner.is_running()
    }

    /// SIGKILLs the broker (a crash: nothing is flushed or closed) and reaps it.
    pub fn kill(&mut self) -> Result<()> {
        self.inner.kill()
    }

    /// SIGTERMs the broker and waits (up to [`BROKER_STOP_TIMEOUT`]) for it to exit with status
    /// 0, as a clean shutdown must; anything else is an error quoting its stderr.
    pub fn terminate(&mut self) -> Result<()> {
        self.inner.terminate()
    }

    /// Starts the stopped broker again on the same data dir and the same ports, so clients that
    /// retry find it again, and waits until it is ready. Fails if it is still running
    /// ([`Broker::kill`] or [`Broker::terminate`] it first).
    pub fn restart(&mut self) -> Result<()> {
        self.inner.restart()
    }

    /// `GET /metrics` on the admin port: the Prometheus text (status 200 required).
    pub fn metrics(&self) -> Result<String> {
        self.inner.metrics()
    }

    /// The last lines of the broker's stdout and stderr logs, for error messages.
    pub fn log_tails(&self) -> String {
        self.inner.log_tails()
    }
}

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::tests::admin_server;
    use crate::DataDir;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// A stand-in for `fastdata`: records its arguments, prints the two listening lines (the
    /// admin one pointing at `admin`), then sleeps.
    fn fake_broker(dir: &DataDir, admin: SocketAddr) -> PathBuf {
        let script = dir.join("fake-fastdata");
        fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$@\" >> '{}'\necho 'kafka listening on 127.0.0.1:19092'\n\
                 echo 'admin listening on {admin}'\nexec sleep 30\n",
                dir.join("args").display()
            ),
        )
        .unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        script
    }

    #[test]
    fn start_waits_for_ready_and_restarts_on_the_same_ports() {
        let dir = DataDir::new("broker-fake").unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let admin = admin_server(3, stop.clone());
        let mut broker = Broker::builder(&dir)
            .host("127.0.0.9")
            .config("group.initial.rebalance.delay.ms", "0")
            .config("num.partitions", "4")
            .program(fake_broker(&dir, admin))
            .start()
            .unwrap();
        assert_eq!(broker.bootstrap(), "127.0.0.1:19092");
        assert_eq!(broker.admin_addr(), admin);
        assert_eq!(broker.metrics().unwrap(), "fastdata_up 1\n");
        let data = dir.join("data");
        let first = format!(
            "broker --listeners 127.0.0.9:0 --admin-listener 127.0.0.9:0 --data-dir {} \
             --group-initial-rebalance-delay-ms 0 --num-partitions 4",
            data.display()
        );
        assert_eq!(
            fs::read_to_string(dir.join("args")).unwrap(),
            format!("{first}\n")
        );

        assert!(
            broker.restart().is_err(),
            "restart of a running broker must fail"
        );
        broker.kill().unwrap();
        assert!(!broker.is_running().unwrap());
        // The fake always prints the same ports, so the restart finds the ones it asked for.
        broker.restart().unwrap();
        assert_eq!(broker.bootstrap(), "127.0.0.1:19092");
        let args = fs::read_to_string(dir.join("args")).unwrap();
        let second = args.lines().nth(1).unwrap();
        assert!(
            second.starts_with(&format!(
                "broker --listeners 127.0.0.1:19092 --admin-listener {admin} "
            )),
            "{second}"
        );
        let log = fs::read_to_string(broker.stdout_log_path()).unwrap();
        assert_eq!(log.matches("==== broker:").count(), 2, "{log}");
        stop.store(true, Ordering::Relaxed);
    }

    #[test]
    fn a_broker_that_exits_early_is_a_clear_error_with_its_stderr() {
        let dir = DataDir::new("broker-exits").unwrap();
        let script = dir.join("failing-fastdata");
        fs::write(&script, "#!/bin/sh\necho 'error: bad config' >&2\nexit 1\n").unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        let err = Broker::builder(&dir).program(&script).start().unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("closed stdout"), "{msg}");
        assert!(msg.contains("error: bad config"), "{msg}");
    }

    #[test]
    fn terminate_requires_exit_status_zero() {
        let dir = DataDir::new("broker-term").unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let admin = admin_server(0, stop.clone());
        // The default disposition of SIGTERM: killed by the signal, which is not a clean exit.
        let mut broker = Broker::builder(&dir)
            .program(fake_broker(&dir, admin))
            .start()
            .unwrap();
        let err = broker.terminate().unwrap_err();
        assert!(format!("{err:#}").contains("not 0"), "{err:#}");
        stop.store(true, Ordering::Relaxed);
    }
}
