//! A `fastdata node` process for tests (the CQL store): started on loopback with any free ports,
//! ready when [`NodeBuilder::start`] returns, and restartable on the same data and the same
//! ports (see [`Node`]). The process handling is the one every server shares (`server.rs`).

use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use crate::server::{Server, ServerBuilder, ServiceSpec};
use crate::Process;

/// How long a start (or restart) may take, from spawning to `/ready` answering 200 (a restart
/// replays the RocksDB WAL first).
pub const NODE_START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a clean shutdown (SIGTERM) may take before it counts as hung.
pub const NODE_STOP_TIMEOUT: Duration = Duration::from_secs(30);

const NODE: ServiceSpec = ServiceSpec {
    subcommand: "node",
    listening_line: "cql listening on ",
    listener_keys: &["native.transport.address", "native.transport.port"],
    listener_flags: |host, port| {
        vec![
            "--native-transport-address".to_owned(),
            host.to_owned(),
            "--native-transport-port".to_owned(),
            port.to_string(),
        ]
    },
    start_timeout: NODE_START_TIMEOUT,
    stop_timeout: NODE_STOP_TIMEOUT,
};

/// Builds and starts a [`Node`].
#[derive(Debug, Clone)]
pub struct NodeBuilder {
    inner: ServerBuilder,
}

impl NodeBuilder {
    /// Listens on `host` (a loopback address such as `127.0.0.5`; default `127.0.0.1`), on
    /// ports the kernel picks.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.inner.host(host.into());
        self
    }

    /// Sets a node config key (cassandra.yaml's name with dots for underscores) to `value`,
    /// passed as the flag `--KEY-WITH-DASHES VALUE`: `.config("commitlog.sync", "batch")`
    /// becomes `--commitlog-sync batch`. `native.transport.address`, `native.transport.port`,
    /// `admin.listener` and `data.dir` are the builder's own and refused by
    /// [`NodeBuilder::start`].
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.inner.config(key.into(), value.into());
        self
    }

    /// Names the node in its log file names (default `node`), for several nodes in one
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

    /// Starts the node and waits until it is ready (see [`Node`]).
    pub fn start(self) -> Result<Node> {
        Ok(Node {
            inner: self.inner.start()?,
        })
    }
}

/// A running (or stopped) `fastdata node` process.
///
/// ```no_run
/// use fastdata_tests::{DataDir, Node};
///
/// let dir = DataDir::new("example").unwrap();
/// let mut node = Node::builder(&dir)
///     .host("127.0.0.8")
///     .config("commitlog.sync", "batch")
///     .start()
///     .unwrap();
/// println!("contact point {}", node.contact_point()); // "127.0.0.8:40125"
/// node.kill().unwrap(); // SIGKILL: a crash
/// node.restart().unwrap(); // same data dir, same ports
/// node.terminate().unwrap(); // SIGTERM: a clean shutdown, exit status 0
/// ```
///
/// It runs as `fastdata node --native-transport-address HOST --native-transport-port 0
/// --admin-listener HOST:0 --data-dir DIR/data` plus a `--KEY VALUE` flag per config key (after
/// a restart, with the ports it had). Start-up is over when it has printed `cql listening on
/// H:P` and `admin listening on H:P` on stdout (they carry the actual ports) and `GET /ready` on
/// the admin port answers 200; both waits are bounded by [`NODE_START_TIMEOUT`]. Its stdout and
/// stderr go to `DIR/NAME.stdout.log` and `DIR/NAME.stderr.log` (NAME is `node` unless
/// [`NodeBuilder::name`] says otherwise), which a restart appends to. Dropping it SIGKILLs the
/// process; in a panicking test, the tails of its logs are printed first (see [`Process`]).
pub struct Node {
    inner: Server,
}

impl Node {
    /// A builder for a node whose data (`<dir>/data`) and logs live in `dir`, normally the
    /// test's [`DataDir`](crate::DataDir), which must outlive the node.
    pub fn builder(dir: impl AsRef<Path>) -> NodeBuilder {
        NodeBuilder {
            inner: ServerBuilder::new(NODE, dir.as_ref()),
        }
    }

    /// The CQL native-protocol listener's address.
    pub fn cql_addr(&self) -> SocketAddr {
        self.inner.service_addr()
    }

    /// The contact point drivers take: `"HOST:PORT"` of the CQL listener.
    pub fn contact_point(&self) -> String {
        self.cql_addr().to_string()
    }

    /// The admin HTTP listener's address (`/health`, `/ready`, `/metrics`).
    pub fn admin_addr(&self) -> SocketAddr {
        self.inner.admin_addr()
    }

    /// The directory the node keeps its data in (`<dir>/data`).
    pub fn data_dir(&self) -> PathBuf {
        self.inner.data_dir()
    }

    /// The directory its logs are in (the `dir` it was built with).
    pub fn log_dir(&self) -> &Path {
        self.inner.dir()
    }

    /// The path of the node's stdout log.
    pub fn stdout_log_path(&self) -> PathBuf {
        self.inner.stdout_log_path()
    }

    /// The path of the node's stderr log (its tracing output).
    pub fn stderr_log_path(&self) -> PathBuf {
        self.inner.stderr_log_path()
    }

    /// The process, for what this type does not wrap (pause, resume, other signals).
    pub fn process(&mut self) -> &mut Process {
        self.inner.process()
    }

    /// Whether the node process is still running.
    pub fn is_running(&mut self) -> Result<bool> {
        self.inner.is_running()
    }

    /// SIGKILLs the node (a crash: nothing is flushed or closed) and reaps it.
    pub fn kill(&mut self) -> Result<()> {
        self.inner.kill()
    }

    /// SIGTERMs the node and waits (up to [`NODE_STOP_TIMEOUT`]) for it to exit with status 0,
    /// as a clean shutdown must; anything else is an error quoting its stderr.
    pub fn terminate(&mut self) -> Result<()> {
        self.inner.terminate()
    }

    /// Starts the stopped node again on the same data dir and the same ports, so drivers that
    /// reconnect find it again, and waits until it is ready. Fails if it is still running
    /// ([`Node::kill`] or [`Node::terminate`] it first).
    pub fn restart(&mut self) -> Result<()> {
        self.inner.restart()
    }

    /// `GET /metrics` on the admin port: the Prometheus text (status 200 required).
    pub fn metrics(&self) -> Result<String> {
        self.inner.metrics()
    }

    /// The last lines of the node's stdout and stderr logs, for error messages.
    pub fn log_tails(&self) -> String {
        self.inner.log_tails()
    }
}

impl fmt::Debug for Node {
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

    /// A stand-in for `fastdata`: records its arguments, prints a CQL line whose port is the
    /// `--native-transport-port` it was given (19042 for 0) and the admin line pointing at
    /// `admin`, then sleeps.
    fn fake_node(dir: &DataDir, admin: SocketAddr) -> PathBuf {
        let script = dir.join("fake-fastdata");
        fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$@\" >> '{}'\nport=19042\nhost=127.0.0.1\n\
                 while [ $# -gt 0 ]; do\n\
                 case \"$1\" in --native-transport-port) [ \"$2\" != 0 ] && port=$2;;\n\
                 --native-transport-address) host=$2;; esac; shift; done\n\
                 echo \"cql listening on $host:$port\"\n\
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
        let dir = DataDir::new("node-fake").unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let admin = admin_server(2, stop.clone());
        let mut node = Node::builder(&dir)
            .host("127.0.0.9")
            .config("commitlog.sync", "batch")
            .program(fake_node(&dir, admin))
            .start()
            .unwrap();
        assert_eq!(node.contact_point(), "127.0.0.9:19042");
        assert_eq!(node.admin_addr(), admin);
        assert_eq!(node.metrics().unwrap(), "fastdata_up 1\n");
        let data = dir.join("data");
        assert_eq!(
            fs::read_to_string(dir.join("args")).unwrap(),
            format!(
                "node --native-transport-address 127.0.0.9 --native-transport-port 0 \
                 --admin-listener 127.0.0.9:0 --data-dir {} --commitlog-sync batch\n",
                data.display()
            )
        );
        assert!(
            node.restart().is_err(),
            "restart of a running node must fail"
        );
        node.kill().unwrap();
        node.restart().unwrap();
        assert_eq!(node.contact_point(), "127.0.0.9:19042");
        let args = fs::read_to_string(dir.join("args")).unwrap();
        let second = args.lines().nth(1).unwrap();
        assert!(
            second.starts_with(&format!(
                "node --native-transport-address 127.0.0.9 --native-transport-port 19042 \
                 --admin-listener {admin} "
            )),
            "{second}"
        );
        assert!(node.stdout_log_path().starts_with(node.log_dir()));
        stop.store(true, Ordering::Relaxed);
    }

    #[test]
    fn the_listener_keys_are_the_builders() {
        let dir = DataDir::new("node-keys").unwrap();
        for key in [
            "native.transport.port",
            "native.transport.address",
            "data.dir",
        ] {
            let err = Node::builder(&dir).config(key, "1").start().unwrap_err();
            assert!(format!("{err:#}").contains("sets"), "{key}: {err:#}");
        }
    }
}
