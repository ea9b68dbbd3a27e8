//! What a `fastdata` serving process is to a test, whatever it serves: spawned on loopback with
//! ports the kernel picks, ready once it has printed its listening lines and `GET /ready`
//! answers 200, killed, terminated (exit status 0 required), restarted on the same data and
//! ports, asked for `/metrics`. [`Broker`](crate::Broker) and [`Node`](crate::Node) are this
//! one [`Server`] with a [`ServiceSpec`] each (subcommand, listener flags, listening line).
//!
//! Also here: [`http_get`], the small HTTP/1.0 client that asks an admin port, and
//! [`loopback_host`], a 127.0.0.x address of its own for each test.

use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::{fastdata_bin, Process};

/// How long one admin HTTP request may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// The most bytes an admin HTTP response may have.
const HTTP_MAX_RESPONSE_BYTES: u64 = 64 << 20;

/// How often `/ready` is asked while waiting for it.
const READY_POLL_INTERVAL: Duration = Duration::from_millis(20);

/// How many times a restart tries again when the server exits before listening (its old port
/// was, for a moment, someone else's).
const RESTART_ATTEMPTS: usize = 5;

/// How many log lines an error message quotes.
const ERROR_TAIL_LINES: usize = 20;

const ADMIN_LINE: &str = "admin listening on ";

/// The config keys every service's builder sets itself.
const COMMON_OWN_KEYS: [&str; 2] = ["admin.listener", "data.dir"];

/// What differs between the serving subcommands.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServiceSpec {
    /// The subcommand (`broker`, `node`), also the default log name.
    pub subcommand: &'static str,
    /// The start of the line that announces the service's own listener (`kafka listening on `).
    pub listening_line: &'static str,
    /// The config keys for its listener, which the builder sets itself (besides the admin
    /// listener and the data dir).
    pub listener_keys: &'static [&'static str],
    /// The flags that bind its listener to `addr` (port 0: any free one).
    pub listener_flags: fn(host: &str, port: u16) -> Vec<String>,
    /// How long a start (or restart) may take, from spawning to `/ready` answering 200.
    pub start_timeout: Duration,
    /// How long a clean shutdown (SIGTERM) may take before it counts as hung.
    pub stop_timeout: Duration,
}

/// Builds and starts a [`Server`] of one [`ServiceSpec`].
#[derive(Debug, Clone)]
pub(crate) struct ServerBuilder {
    spec: ServiceSpec,
    dir: PathBuf,
    host: String,
    config: Vec<(String, String)>,
    name: String,
    program: Option<OsString>,
}

impl ServerBuilder {
    pub fn new(spec: ServiceSpec, dir: &Path) -> ServerBuilder {
        ServerBuilder {
            spec,
            dir: dir.to_owned(),
            host: "127.0.0.1".to_owned(),
            config: Vec::new(),
            name: spec.subcommand.to_owned(),
            program: None,
        }
    }

    pub fn host(&mut self, host: String) {
        self.host = host;
    }

    pub fn config(&mut self, key: String, value: String) {
        self.config.push((key, value));
    }

    pub fn name(&mut self, name: String) {
        self.name = name;
    }

    pub fn program(&mut self, program: OsString) {
        self.program = Some(program);
    }

    pub fn start(self) -> Result<Server> {
        let flags = config_flags(&self.spec, &self.config)?;
        let program = match &self.program {
            Some(program) => program.clone(),
            None => fastdata_bin().into_os_string(),
        };
        let mut server = Server {
            spec: self.spec,
            program,
            flags,
            dir: self.dir,
            name: self.name,
            host: self.host,
            process: None,
            service_addr: None,
            admin_addr: None,
        };
        server.spawn_and_wait(None)?;
        Ok(server)
    }
}

/// A running (or stopped) serving process; see [`Broker`](crate::Broker) for the contract.
pub(crate) struct Server {
    spec: ServiceSpec,
    program: OsString,
    flags: Vec<String>,
    dir: PathBuf,
    name: String,
    host: String,
    process: Option<Process>,
    service_addr: Option<SocketAddr>,
    admin_addr: Option<SocketAddr>,
}

impl Server {
    pub fn service_addr(&self) -> SocketAddr {
        self.service_addr
            .unwrap_or_else(|| unreachable!("a Server exists only once it has listened"))
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
            .unwrap_or_else(|| unreachable!("a Server exists only once it has listened"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn stdout_log_path(&self) -> PathBuf {
        self.dir.join(format!("{}.stdout.log", self.name))
    }

    pub fn stderr_log_path(&self) -> PathBuf {
        self.dir.join(format!("{}.stderr.log", self.name))
    }

    pub fn process(&mut self) -> &mut Process {
        self.process
            .as_mut()
            .unwrap_or_else(|| unreachable!("a Server always has a process once started"))
    }

    pub fn is_running(&mut self) -> Result<bool> {
        self.process().is_running()
    }

    pub fn kill(&mut self) -> Result<()> {
        self.process().kill().map(drop)
    }

    pub fn terminate(&mut self) -> Result<()> {
        let timeout = self.spec.stop_timeout;
        let status = self.process().terminate(timeout)?;
        if !status.success() {
            bail!(
                "{} exited with {status} after SIGTERM, not 0\n{}",
                self.name,
                self.log_tails()
            );
        }
        Ok(())
    }

    pub fn restart(&mut self) -> Result<()> {
        if self.is_running()? {
            bail!(
                "{} is still running; kill() or terminate() it before restart()",
                self.name
            );
        }
        let ports = (self.service_addr(), self.admin_addr());
        self.spawn_and_wait(Some(ports))
    }

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

    /// Spawns the server (on `ports` if given, else on port 0) and waits for its two listening
    /// lines and for `/ready`.
    fn spawn_and_wait(&mut self, ports: Option<(SocketAddr, SocketAddr)>) -> Result<()> {
        let attempts = if ports.is_some() { RESTART_ATTEMPTS } else { 1 };
        let deadline = Instant::now() + self.spec.start_timeout;
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
        let (listener, admin) = match ports {
            Some((service, admin)) => (
                (self.spec.listener_flags)(&service.ip().to_string(), service.port()),
                admin.to_string(),
            ),
            None => (
                (self.spec.listener_flags)(&self.host, 0),
                format!("{}:0", self.host),
            ),
        };
        let data_dir = self.data_dir();
        let process = Process::builder(&self.program)
            .name(self.name.clone())
            .arg(self.spec.subcommand)
            .args(&listener)
            .arg("--admin-listener")
            .arg(&admin)
            .arg("--data-dir")
            .arg(&data_dir)
            .args(&self.flags)
            .spawn(&self.dir)?;
        // The previous process (if any) has exited; replacing it reaps nothing new.
        self.process = Some(process);
        let service_line = self.spec.listening_line;
        let process = self.process();
        let left = deadline.saturating_duration_since(Instant::now());
        let line = process.wait_for_line(left, |l| l.starts_with(service_line))?;
        let left = deadline.saturating_duration_since(Instant::now());
        let admin_line = process.wait_for_line(left, |l| l.starts_with(ADMIN_LINE))?;
        let service_addr = parse_listening_line(&line, service_line)?;
        let admin_addr = parse_listening_line(&admin_line, ADMIN_LINE)?;
        if let Some((want_service, want_admin)) = ports {
            if (service_addr, admin_addr) != (want_service, want_admin) {
                bail!(
                    "restarted on {service_addr} and {admin_addr}, not on the ports it had \
                     ({want_service}, {want_admin})"
                );
            }
        }
        self.service_addr = Some(service_addr);
        self.admin_addr = Some(admin_addr);
        self.wait_ready(deadline)
    }

    /// Polls `GET /ready` until it answers 200; fails if the server exits or the deadline passes.
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

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(self.spec.subcommand)
            .field("name", &self.name)
            .field("service_addr", &self.service_addr)
            .field("admin_addr", &self.admin_addr)
            .field("dir", &self.dir)
            .field("process", &self.process)
            .finish()
    }
}

/// The flags for `config` keys: `("a.b.c", "v")` becomes `["--a-b-c", "v"]`; the keys the
/// builder sets itself are refused.
fn config_flags(spec: &ServiceSpec, config: &[(String, String)]) -> Result<Vec<String>> {
    let mut flags = Vec::with_capacity(config.len() * 2);
    for (key, value) in config {
        if COMMON_OWN_KEYS.contains(&key.as_str()) || spec.listener_keys.contains(&key.as_str()) {
            bail!(
                "the {} builder sets `{key}` itself; use .host() for the address",
                spec.subcommand
            );
        }
        let valid = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_');
        if !valid {
            bail!(
                "`{key}` is not a {} config key (dotted lower-case names)",
                spec.subcommand
            );
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
/// wrapping after `127.0.0.254`), so each test's servers and clients see only each other.
pub fn loopback_host() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % 253;
    format!("127.0.0.{}", n + 2)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// A tiny admin server: answers `/ready` with 503 for the first `not_ready` requests, then
    /// 200, and `/metrics` with a line of Prometheus text; stops when `stop` is set.
    pub(crate) fn admin_server(not_ready: usize, stop: Arc<AtomicBool>) -> SocketAddr {
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

    const SPEC: ServiceSpec = ServiceSpec {
        subcommand: "thing",
        listening_line: "thing listening on ",
        listener_keys: &["thing.listener"],
        listener_flags: |host, port| vec!["--thing-listener".into(), format!("{host}:{port}")],
        start_timeout: Duration::from_secs(10),
        stop_timeout: Duration::from_secs(10),
    };

    #[test]
    fn own_and_malformed_config_keys_are_refused() {
        let flags = config_flags(&SPEC, &[("log.segment.bytes".into(), "1024".into())]).unwrap();
        assert_eq!(flags, ["--log-segment-bytes", "1024"]);
        for key in [
            "thing.listener",
            "admin.listener",
            "data.dir",
            "",
            "Bad Key",
            "--x",
        ] {
            assert!(
                config_flags(&SPEC, &[(key.into(), "1".into())]).is_err(),
                "{key:?}"
            );
        }
    }

    #[test]
    fn listening_lines() {
        let prefix = "kafka listening on ";
        assert_eq!(
            parse_listening_line("kafka listening on 127.0.0.3:4012", prefix).unwrap(),
            "127.0.0.3:4012".parse::<SocketAddr>().unwrap()
        );
        assert!(parse_listening_line("kafka listening on nowhere", prefix).is_err());
        assert!(parse_listening_line("admin listening on 127.0.0.1:1", prefix).is_err());
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
