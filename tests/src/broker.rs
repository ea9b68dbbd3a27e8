//! A `fastdata broker` process for tests: started on loopback with any free ports, ready when
//! [`BrokerBuilder::start`] returns, and restartable on the same data and the same ports (see
//! [`Broker`]); and [`http_get`], the small HTTP/1.0 client that asks its admin port.

use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::{fastdata_bin, Process};

/// How long a start (or restart) may take, from spawning to `/ready` answering 200.
pub const BROKER_START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a clean shutdown (SIGTERM) may take before it counts as hung.
pub const BROKER_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one admin HTTP request may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// The most bytes an admin HTTP response may have.
const HTTP_MAX_RESPONSE_BYTES: u64 = 64 << 20;

/// How often `/ready` is asked while waiting for it.
const READY_POLL_INTERVAL: Duration = Duration::from_millis(20);

/// How many times a restart tries again when the broker exits before listening (its old port
/// was, for a moment, someone else's).
const RESTART_ATTEMPTS: usize = 5;

/// The config keys the builder sets itself.
const OWN_KEYS: [&str; 3] = ["listeners", "admin.listener", "data.dir"];

/// How many log lines an error message quotes.
const ERROR_TAIL_LINES: usize = 20;

const KAFKA_LINE: &str = "kafka listening on ";
const ADMIN_LINE: &str = "admin listening on ";

/// Builds and starts a [`Broker`].
#[derive(Debug, Clone)]
pub struct BrokerBuilder {
    dir: PathBuf,
    host: String,
    config: Vec<(String, String)>,
    name: String,
    program: Option<OsString>,
}

impl BrokerBuilder {
    /// Listens on `host` (a loopback address such as `127.0.0.5`; default `127.0.0.1`), on
    /// ports the kernel picks.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// Sets a broker config key (Kafka's dotted name) to `value`, passed as the flag
    /// `--KEY-WITH-DASHES VALUE`: `.config("group.initial.rebalance.delay.ms", "0")` becomes
    /// `--group-initial-rebalance-delay-ms 0`. `listeners`, `admin.listener` and `data.dir` are
    /// the builder's own and refused by [`BrokerBuilder::start`].
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.push((key.into(), value.into()));
        self
    }

    /// Names the broker in its log file names (default `broker`), for several brokers in one
    /// directory.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Runs `program` instead of [`fastdata_bin`] (a release build, for benchmarks), with the
    /// same arguments.
    pub fn program(mut self, program: impl Into<OsString>) -> Self {
        self.program = Some(program.into());
        self
    }

    /// Starts the broker and waits until it is ready (see [`Broker`]).
    pub fn start(self) -> Result<Broker> {
        let flags = config_flags(&self.config)?;
        let program = match &self.program {
            Some(program) => program.clone(),
            None => fastdata_bin().into_os_string(),
        };
        let mut broker = Broker {
            program,
            flags,
            dir: self.dir,
            name: self.name,
            host: self.host,
            process: None,
            kafka_addr: None,
            admin_addr: None,
        };
        broker.spawn_and_wait(None)?;
        Ok(broker)
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
    program: OsString,
    flags: Vec<String>,
    dir: PathBuf,
    name: String,
    host: String,
    process: Option<Process>,
    kafka_addr: Option<SocketAddr>,
    admin_addr: Option<SocketAddr>,
}

impl Broker {
    /// A builder for a broker whose data (`<dir>/data`) and logs live in `dir`, normally the
    /// test's [`DataDir`](crate::DataDir), which must outlive the broker.
    pub fn builder(dir: impl AsRef<Path>) -> BrokerBuilder {
        BrokerBuilder {
            dir: dir.as_ref().to_owned(),
            host: "127.0.0.1".to_owned(),
            config: Vec::new(),
            name: "broker".to_owned(),
            program: None,
        }
    }

    /// The Kafka listener's address (the one clients bootstrap from).
    pub fn kafka_addr(&self) -> SocketAddr {
        self.kafka_addr
            .unwrap_or_else(|| unreachable!("a Broker exists only once it has listened"))
    }

    /// The admin HTTP listener's address (`/health`, `/ready`, `/metrics`).
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
            .unwrap_or_else(|| unreachable!("a Broker exists only once it has listened"))
    }

    /// The bootstrap string clients take: `"HOST:PORT"` of the Kafka listener.
    pub fn bootstrap(&self) -> String {
        self.kafka_addr().to_string()
    }

    /// The directory the broker keeps its data in (`<dir>/data`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The path of the broker's stdout log.
    pub fn stdout_log_path(&self) -> PathBuf {
        self.dir.join(format!("{}.stdout.log", self.name))
    }

    /// The path of the broker's stderr log (its tracing output).
    pub fn stderr_log_path(&self) -> PathBuf {
        self.dir.join(format!("{}.stderr.log", self.name))
    }

    /// The process, for what this type does not wrap (pause, resume, other signals).
    pub fn process(&mut self) -> &mut Process {
        self.process
            .as_mut()
            .unwrap_or_else(|| unreachable!("a Broker always has a process once started"))
    }

    /// Whether the broker process is still running.
    pub fn is_running(&mut self) -> Result<bool> {
        self.process().is_running()
    }

    /// SIGKILLs the broker (a crash: nothing is flushed or closed) and reaps it.
    pub fn kill(&mut self) -> Result<()> {
        self.process().kill().map(drop)
    }

    /// SIGTERMs the broker and waits (up to [`BROKER_STOP_TIMEOUT`]) for it to exit with status
    /// 0, as a clean shutdown must; anything else is an error quoting its stderr.
    pub fn terminate(&mut self) -> Result<()> {
        let status = self.process().terminate(BROKER_STOP_TIMEOUT)?;
        if !status.success() {
            bail!(
                "{} exited with {status} after SIGTERM, not 0\n{}",
                self.name,
                self.log_tails()
            );
        }
        Ok(())
    }

    /// Starts the stopped broker again on the same data dir and the same ports, so clients that
    /// retry find it again, and waits until it is ready. Fails if it is still running
    /// ([`Broker::kill`] or [`Broker::terminate`] it first).
    pub fn restart(&mut self) -> Result<()> {
        if self.is_running()? {
            bail!(
                "{} is still running; kill() or terminate() it before restart()",
                self.name
            );
        }
        let ports = (self.kafka_addr(), self.admin_addr());
        self.spawn_and_wait(Some(ports))
    }

    /// `GET /metrics` on the admin port: the Prometheus text (status 200 required).
    pub fn metrics(&self) -> Result<String> {
        let response = http_get(self.admin_addr(), "/metrics")?;
        if response.status != 200 {
            bail!(
                "GET /metrics on {} answered {}: {}",
                self.admin_addr(),
                response.status,
                response.body
            );
        }
        Ok(response.body)
    }

    /// The last lines of the broker's stdout and stderr logs, for error messages.
    pub fn log_tails(&self) -> String {
        let mut out = String::new();
        for path in [self.stdout_log_path(), self.stderr_log_path()] {
            let text = std::fs::read(&path)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|err| format!("(cannot read: {err})"));
            out.push_str(&format!(
                "---- last lines of {}:\n{}\n",
                path.display(),
                tail(&text, ERROR_TAIL_LINES)
            ));
        }
        out
    }

    /// Spawns the broker (on `ports` if given, else on port 0) and waits for its two listening
    /// lines and for `/ready`.
    fn spawn_and_wait(&mut self, ports: Option<(SocketAddr, SocketAddr)>) -> Result<()> {
        let attempts = if ports.is_some() { RESTART_ATTEMPTS } else { 1 };
        let deadline = Instant::now() + BROKER_START_TIMEOUT;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.spawn_once(ports, deadline) {
                Ok(()) => return Ok(()),
                Err(err) => {
                    let exited = self
                        .process
                        .as_mut()
                        .is_some_and(|p| matches!(p.try_wait(), Ok(Some(_))));
                    if !exited || attempt >= attempts || Instant::now() >= deadline {
                        return Err(err.context(format!(
                            "starting {}\n{}",
                            self.name,
                            self.log_tails()
                        )));
                    }
                    thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    fn spawn_once(
        &mut self,
        ports: Option<(SocketAddr, SocketAddr)>,
        deadline: Instant,
    ) -> Result<()> {
        let (kafka, admin) = match ports {
            Some((kafka, admin)) => (kafka.to_string(), admin.to_string()),
            None => (format!("{}:0", self.host), format!("{}:0", self.host)),
        };
        let data_dir = self.data_dir();
        let process = Process::builder(&self.program)
            .name(self.name.clone())
            .arg("broker")
            .arg("--listeners")
            .arg(&kafka)
            .arg("--admin-listener")
            .arg(&admin)
            .arg("--data-dir")
            .arg(&data_dir)
            .args(&self.flags)
            .spawn(&self.dir)?;
        // The previous process (if any) has exited; replacing it reaps nothing new.
        self.process = Some(process);
        let process = self.process();
        let left = deadline.saturating_duration_since(Instant::now());
        let kafka_line = process.wait_for_line(left, |l| l.starts_with(KAFKA_LINE))?;
        let left = deadline.saturating_duration_since(Instant::now());
        let admin_line = process.wait_for_line(left, |l| l.starts_with(ADMIN_LINE))?;
        let kafka_addr = parse_listening_line(&kafka_line, KAFKA_LINE)?;
        let admin_addr = parse_listening_line(&admin_line, ADMIN_LINE)?;
        if let Some((want_kafka, want_admin)) = ports {
            if (kafka_addr, admin_addr) != (want_kafka, want_admin) {
                bail!(
                    "restarted on {kafka_addr} and {admin_addr}, not on the ports it had \
                     ({want_kafka}, {want_admin})"
                );
            }
        }
        self.kafka_addr = Some(kafka_addr);
        self.admin_addr = Some(admin_addr);
        self.wait_ready(deadline)
    }

    /// Polls `GET /ready` until it answers 200; fails if the broker exits or the deadline passes.
    fn wait_ready(&mut self, deadline: Instant) -> Result<()> {
        let admin = self.admin_addr();
        loop {
            let last = match http_get(admin, "/ready") {
                Ok(response) if response.status == 200 => return Ok(()),
                Ok(response) => format!("answered {}: {}", response.status, response.body.trim()),
                Err(err) => format!("{err:#}"),
            };
            if !self.is_running()? {
                bail!("exited before GET /ready on {admin} answered 200 (last: {last})");
            }
            if Instant::now() >= deadline {
                bail!("GET /ready on {admin} did not answer 200 in time (last: {last})");
            }
            thread::sleep(READY_POLL_INTERVAL);
        }
    }
}

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broker")
            .field("name", &self.name)
            .field("kafka_addr", &self.kafka_addr)
            .field("admin_addr", &self.admin_addr)
            .field("dir", &self.dir)
            .field("process", &self.process)
            .finish()
    }
}

/// The flags for `config` keys: `("a.b.c", "v")` becomes `["--a-b-c", "v"]`.
fn config_flags(config: &[(String, String)]) -> Result<Vec<String>> {
    let mut flags = Vec::with_capacity(config.len() * 2);
    for (key, value) in config {
        if OWN_KEYS.contains(&key.as_str()) {
            bail!("the broker builder sets `{key}` itself; use .host() for the address");
        }
        let valid = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_');
        if !valid {
            bail!("`{key}` is not a broker config key (Kafka's dotted lower-case names)");
        }
        flags.push(format!("--{}", key.replace('.', "-")));
        flags.push(value.clone());
    }
    Ok(flags)
}

/// The address in a `<prefix>H:P` line.
fn parse_listening_line(line: &str, prefix: &str) -> Result<SocketAddr> {
    let addr = line
        .strip_prefix(prefix)
        .ok_or_else(|| anyhow!("expected a line starting with {prefix:?}, got {line:?}"))?;
    addr.trim()
        .parse()
        .with_context(|| format!("parsing the address in {line:?}"))
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// An HTTP response: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code (200, 503, ...).
    pub status: u16,
    /// The body, as text (invalid UTF-8 replaced).
    pub body: String,
}

/// `GET path` on `addr` over HTTP/1.0 (one request, the server closes the connection), bounded
/// in time and size: enough for an admin port, with no HTTP library.
pub fn http_get(addr: SocketAddr, path: &str) -> Result<HttpResponse> {
    let what = || format!("GET {path} on {addr}");
    let mut stream = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT).with_context(what)?;
    stream
        .set_read_timeout(Some(HTTP_TIMEOUT))
        .with_context(what)?;
    stream
        .set_write_timeout(Some(HTTP_TIMEOUT))
        .with_context(what)?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .with_context(what)?;
    let mut raw = Vec::new();
    stream
        .take(HTTP_MAX_RESPONSE_BYTES)
        .read_to_end(&mut raw)
        .with_context(what)?;
    parse_http_response(&raw).with_context(what)
}

fn parse_http_response(raw: &[u8]) -> Result<HttpResponse> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("no end of headers in a {}-byte response", raw.len()))?;
    let status_line = head.lines().next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/") {
        bail!("not an HTTP status line: {status_line:?}");
    }
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("no status code in {status_line:?}"))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    Ok(HttpResponse { status, body })
}

/// Undoes chunked transfer encoding (a server may use it even for HTTP/1.0 requests).
fn dechunk(mut body: &str) -> Result<String> {
    let mut out = String::new();
    loop {
        let (size_line, rest) = body
            .split_once("\r\n")
            .ok_or_else(|| anyhow!("truncated chunked body"))?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .with_context(|| format!("bad chunk size {size_line:?}"))?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = rest
            .get(..size)
            .ok_or_else(|| anyhow!("truncated chunk of {size} bytes"))?;
        out.push_str(chunk);
        body = rest[size..].strip_prefix("\r\n").unwrap_or(&rest[size..]);
    }
}

/// A loopback address of its own for each call in this process (`127.0.0.2`, `127.0.0.3`, ...,
/// wrapping after `127.0.0.254`), so each test's broker and clients see only each other.
pub fn loopback_host() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % 253;
    format!("127.0.0.{}", n + 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataDir;
    use std::fs;
    use std::net::TcpListener;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// A tiny admin server: answers `/ready` with 503 for the first `not_ready` requests, then
    /// 200, and `/metrics` with a line of Prometheus text; stops when `stop` is set.
    fn admin_server(not_ready: usize, stop: Arc<AtomicBool>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        thread::spawn(move || {
            let mut asked = 0;
            while !stop.load(Ordering::Relaxed) {
                let Ok((mut conn, _)) = listener.accept() else {
                    thread::sleep(Duration::from_millis(5));
                    continue;
                };
                conn.set_nonblocking(false).unwrap();
                let mut buf = [0u8; 1024];
                let n = conn.read(&mut buf).unwrap();
                let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                let (status, body) = if request.starts_with("GET /ready ") {
                    asked += 1;
                    if asked > not_ready {
                        ("200 OK", "ready\n")
                    } else {
                        ("503 Service Unavailable", "starting\n")
                    }
                } else if request.starts_with("GET /metrics ") {
                    ("200 OK", "fastdata_up 1\n")
                } else {
                    ("404 Not Found", "")
                };
                let _ = write!(
                    conn,
                    "HTTP/1.0 {status}\r\nContent-Type: text/plain\r\n\r\n{body}"
                );
            }
        });
        addr
    }

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

    #[test]
    fn own_and_malformed_config_keys_are_refused() {
        let flags = config_flags(&[("log.segment.bytes".into(), "1024".into())]).unwrap();
        assert_eq!(flags, ["--log-segment-bytes", "1024"]);
        for key in [
            "listeners",
            "admin.listener",
            "data.dir",
            "",
            "Bad Key",
            "--x",
        ] {
            assert!(
                config_flags(&[(key.into(), "1".into())]).is_err(),
                "{key:?}"
            );
        }
    }

    #[test]
    fn listening_lines() {
        assert_eq!(
            parse_listening_line("kafka listening on 127.0.0.3:4012", KAFKA_LINE).unwrap(),
            "127.0.0.3:4012".parse::<SocketAddr>().unwrap()
        );
        assert!(parse_listening_line("kafka listening on nowhere", KAFKA_LINE).is_err());
        assert!(parse_listening_line("admin listening on 127.0.0.1:1", KAFKA_LINE).is_err());
    }

    #[test]
    fn http_responses() {
        let plain = parse_http_response(b"HTTP/1.1 503 Service Unavailable\r\nA: b\r\n\r\nnot yet")
            .unwrap();
        assert_eq!(
            plain,
            HttpResponse {
                status: 503,
                body: "not yet".into()
            }
        );
        let chunked = parse_http_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked.body, "hello world");
        assert!(parse_http_response(b"garbage").is_err());
        assert!(parse_http_response(b"SSH-2.0\r\n\r\n").is_err());
    }

    #[test]
    fn loopback_hosts_differ() {
        let a = loopback_host();
        let b = loopback_host();
        assert_ne!(a, b);
        assert!(a.starts_with("127.0.0."), "{a}");
    }
}
