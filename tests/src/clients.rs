//! Third-party Kafka clients for the compatibility tests: Debian's `kcat` (librdkafka 2.0.2),
//! `confluent-kafka` (the librdkafka in its wheel) and `kafka-python`, each run as a [`Process`]
//! that produces, consumes or stays in a consumer group, with its output parsed into records.
//!
//! [`client_command`] is the one way to find a client: it checks, once per test process, that
//! the client is installed (`FASTDATA_KCAT`, default `kcat` on the `PATH`; `FASTDATA_PYTHON`,
//! default the virtualenv `~/.cache/fastdata-venv` that `bash scripts/setup.sh --test` makes and
//! `scripts/test.sh` exports) and fails naming that setup command when it is not. The Python
//! libraries are driven by the scripts in `tests/clients/` (their command line is described in
//! `tests/clients/driver_common.py`); kcat is driven directly, with its stderr merged into its
//! stdout so that its delivery reports and rebalances arrive in order with its records.
//!
//! [`Clients`] runs them against one bootstrap address, with logs (and the input files it writes)
//! in one directory, each run bounded in time; a failure quotes the command line and the tails
//! of its output. [`GroupMember`] is a long-running consumer group member whose assignments,
//! records and commits are read as they come. Set `FASTDATA_CLIENT_DEBUG=1` to turn on each
//! library's protocol logging (kcat `-d`, librdkafka `debug`, kafka-python's DEBUG logging).
//!
//! Keys, values and header values are text here, and the tests choose them to survive every
//! client's output format: kcat prints raw bytes in a format string, so its records may not
//! contain a newline, its keys and unkeyed values no `:` (its key delimiter), its header names and
//! values no `,` or `=`, and the headers must be the same on every record of one run (`-H`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use crate::{Process, ProcessBuilder};

/// The Python interpreter with the Kafka clients (default: `~/.cache/fastdata-venv/bin/python`).
pub const PYTHON_ENV: &str = "FASTDATA_PYTHON";

/// The kcat binary (default: `kcat` on the `PATH`).
pub const KCAT_ENV: &str = "FASTDATA_KCAT";

/// When set to anything but `0` or empty, every client logs its protocol exchanges.
pub const CLIENT_DEBUG_ENV: &str = "FASTDATA_CLIENT_DEBUG";

/// The command that installs every client.
pub const SETUP_COMMAND: &str = "bash scripts/setup.sh --test";

/// How long one client run may take: producers' delivery timeout, consumers' wait for their
/// records (a run still going 20 s later is killed).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a client run may take beyond its own timeout (start-up, closing) before it is killed.
const CLIENT_EXIT_MARGIN: Duration = Duration::from_secs(20);

/// How many lines of a client's output an error message quotes.
const ERROR_TAIL_LINES: usize = 40;

/// The consumer group session timeout of members (the broker's minimum by default is 6 s).
pub const MEMBER_SESSION_TIMEOUT_MS: u32 = 6000;

/// The format kcat prints records in: partition, offset, key length, value length (-1 for
/// NULL), then key and value bytes back to back, a space and the headers (`n=v,...`).
const KCAT_RECORD_FORMAT: &str = "record %p %o %K %S %k%s %h\\n";

/// The librdkafka debug contexts `FASTDATA_CLIENT_DEBUG` turns on in kcat.
const KCAT_DEBUG_CONTEXTS: &str = "broker,protocol,cgrp,fetch,topic,msg,eos";

/// A third-party Kafka client of the compatibility tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KafkaClient {
    /// Debian's kcat 1.7.1 on librdkafka 2.0.2 (old-librdkafka version probing).
    Kcat,
    /// confluent-kafka for Python, on the librdkafka its wheel bundles.
    ConfluentKafka,
    /// kafka-python, pure Python.
    KafkaPython,
}

impl KafkaClient {
    /// Every client, in a fixed order.
    pub const ALL: [KafkaClient; 3] = [
        KafkaClient::Kcat,
        KafkaClient::ConfluentKafka,
        KafkaClient::KafkaPython,
    ];

    /// The client's usual name: `kcat`, `confluent-kafka`, `kafka-python`.
    pub fn name(self) -> &'static str {
        match self {
            KafkaClient::Kcat => "kcat",
            KafkaClient::ConfluentKafka => "confluent-kafka",
            KafkaClient::KafkaPython => "kafka-python",
        }
    }

    /// Whether each record of one produce run may carry its own headers (kcat's `-H` puts the
    /// same headers on every record).
    pub fn headers_per_record(self) -> bool {
        self != KafkaClient::Kcat
    }

    fn python_module(self) -> Option<(&'static str, &'static str)> {
        match self {
            KafkaClient::Kcat => None,
            KafkaClient::ConfluentKafka => Some(("confluent_kafka", "confluent_client.py")),
            KafkaClient::KafkaPython => Some(("kafka", "kafka_python_client.py")),
        }
    }
}

/// The command that runs `client`, after checking (once per process) that it is installed; the
/// error names [`SETUP_COMMAND`]. For kcat, append kcat's arguments (its stderr is merged into
/// its stdout); for a Python library, the driver script's subcommand and options.
pub fn client_command(client: KafkaClient) -> Result<ProcessBuilder> {
    static FOUND: OnceLock<Vec<(KafkaClient, Result<PathBuf, String>)>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        KafkaClient::ALL
            .iter()
            .map(|&c| (c, locate(c).map_err(|err| format!("{err:#}"))))
            .collect()
    });
    let program = found
        .iter()
        .find(|(c, _)| *c == client)
        .map(|(_, path)| path.clone())
        .ok_or_else(|| anyhow!("{} is not a known client", client.name()))?
        .map_err(anyhow::Error::msg)?;
    let debug = std::env::var_os(CLIENT_DEBUG_ENV).is_some_and(|v| !v.is_empty() && v != "0");
    let builder = match client.python_module() {
        None => {
            // `exec` keeps kcat the process-group leader's only program, so signals reach it.
            let builder = ProcessBuilder::new("sh")
                .arg("-c")
                .arg("exec \"$0\" \"$@\" 2>&1")
                .arg(program);
            if debug {
                builder.arg("-d").arg(KCAT_DEBUG_CONTEXTS)
            } else {
                builder
            }
        }
        Some((_, script)) => {
            let builder = ProcessBuilder::new(program)
                .arg(clients_dir().join(script))
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .env("PYTHONUNBUFFERED", "1");
            if debug {
                builder.arg("--debug")
            } else {
                builder
            }
        }
    };
    Ok(builder.name(client.name()))
}

/// `tests/clients/`, where the Python drivers are.
pub(crate) fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// The client's program, checked to run: kcat with `-V`, Python with the library imported.
fn locate(client: KafkaClient) -> Result<PathBuf> {
    match client.python_module() {
        None => {
            let kcat = std::env::var_os(KCAT_ENV)
                .filter(|v| !v.is_empty())
                .map_or_else(|| PathBuf::from("kcat"), PathBuf::from);
            check_kcat(kcat)
        }
        Some((module, _)) => {
            check_python(client.name(), module, venv_program(PYTHON_ENV, "python")?)
        }
    }
}

/// A program of the test virtualenv: `$env_var` if set, else `~/.cache/fastdata-venv/bin/NAME`.
pub(crate) fn venv_program(env_var: &str, name: &str) -> Result<PathBuf> {
    std::env::var_os(env_var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| {
                PathBuf::from(home)
                    .join(".cache/fastdata-venv/bin")
                    .join(name)
            })
        })
        .ok_or_else(|| anyhow!("neither {env_var} nor HOME is set"))
}

fn check_kcat(kcat: PathBuf) -> Result<PathBuf> {
    match Command::new(&kcat).arg("-V").output() {
        Ok(out) if out.status.success() => Ok(kcat),
        Ok(out) => bail!(
            "`{} -V` failed ({}): {}; run `{SETUP_COMMAND}`, which installs Debian's kcat",
            kcat.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(err) => bail!(
            "kcat is not installed (running `{} -V`: {err}); run `{SETUP_COMMAND}`, which \
             installs Debian's kcat ({KCAT_ENV} overrides the path)",
            kcat.display()
        ),
    }
}

/// `python`, checked to import `module`; the error names `client` and [`SETUP_COMMAND`].
pub(crate) fn check_python(client: &str, module: &str, python: PathBuf) -> Result<PathBuf> {
    let output = Command::new(&python)
        .arg("-c")
        .arg(format!("import {module}"))
        .output();
    let why = match output {
        Ok(out) if out.status.success() => return Ok(python),
        Ok(out) => String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned(),
        Err(err) => err.to_string(),
    };
    bail!(
        "{} is not installed for {} ({why}); run `{SETUP_COMMAND}`, which installs it into \
         ~/.cache/fastdata-venv ({PYTHON_ENV} overrides the interpreter)",
        client,
        python.display()
    )
}

/// A compression codec of produced batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// No compression.
    None,
    /// gzip.
    Gzip,
    /// snappy (xerial-framed from Java-compatible clients).
    Snappy,
    /// LZ4 frames.
    Lz4,
    /// zstd.
    Zstd,
}

impl Compression {
    /// The name clients take (`none`, `gzip`, `snappy`, `lz4`, `zstd`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// The codec id in a record batch's attributes (bits 0-2).
    pub fn attribute(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }
}

/// A record as clients produce and consume it: key, value and headers, as text.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Record {
    /// The key (`None`: a null key).
    pub key: Option<String>,
    /// The value (`None`: a null value, a tombstone).
    pub value: Option<String>,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
}

impl Record {
    /// A record with `key` (if any) and `value`, without headers.
    pub fn new(key: Option<&str>, value: &str) -> Record {
        Record {
            key: key.map(str::to_owned),
            value: Some(value.to_owned()),
            headers: Vec::new(),
        }
    }

    /// The record with a header added.
    pub fn header(mut self, name: &str, value: &str) -> Record {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// An acknowledged record: where it was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Delivered {
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
}

/// A record read back, with where it was read from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Consumed {
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// The record.
    pub record: Record,
}

/// What a [`GroupMember`] reports, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberEvent {
    /// Its whole assignment (partition numbers, sorted) changed to this (empty while a
    /// rebalance has revoked everything).
    Assignment(Vec<i32>),
    /// It read (and printed) this record.
    Record(Consumed),
    /// It committed these offsets (partition → next offset to read), synchronously.
    Committed(BTreeMap<i32, i64>),
    /// A commit failed (a rebalance under way); what it covered will be read again.
    CommitFailed(String),
    /// It left the group cleanly and exited.
    Closed,
}

/// Runs clients against one broker, with their logs in one directory; see the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct Clients {
    bootstrap: String,
    log_dir: PathBuf,
}

impl Clients {
    /// Clients of the broker at `bootstrap` (`"HOST:PORT"`), logging to `log_dir` (normally the
    /// test's [`DataDir`](crate::DataDir)).
    pub fn new(bootstrap: impl Into<String>, log_dir: impl AsRef<Path>) -> Clients {
        Clients {
            bootstrap: bootstrap.into(),
            log_dir: log_dir.as_ref().to_owned(),
        }
    }

    /// The bootstrap address the clients use.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Produces `records` to `topic` with `client`: idempotence on, `acks=all`, batches in
    /// `compression`. Returns where each acknowledged record went: in input order for the Python
    /// clients, in delivery order for kcat (whose reports do not say which record). Fails if any
    /// record was not acknowledged.
    pub fn produce(
        &self,
        client: KafkaClient,
        topic: &str,
        compression: Compression,
        records: &[Record],
    ) -> Result<Vec<Delivered>> {
        let name = run_name(client, "produce");
        let input = self.log_dir.join(format!("{name}.input"));
        let mut args: Vec<OsString> = Vec::new();
        match client {
            KafkaClient::Kcat => {
                fs::write(&input, kcat_input(records)?)
                    .with_context(|| format!("writing {}", input.display()))?;
                push(
                    &mut args,
                    ["-b", &self.bootstrap, "-P", "-t", topic, "-v", "-v"],
                );
                push(&mut args, ["-z", compression.name(), "-K", ":"]);
                push(
                    &mut args,
                    ["-X", "enable.idempotence=true", "-X", "acks=all"],
                );
                let timeout_ms = CLIENT_TIMEOUT.as_millis().to_string();
                push(
                    &mut args,
                    ["-X", &format!("message.timeout.ms={timeout_ms}")],
                );
                push(
                    &mut args,
                    ["-m", &CLIENT_TIMEOUT.as_secs().max(1).to_string()],
                );
                if let Some(first) = records.first() {
                    for (name, value) in &first.headers {
                        push(&mut args, ["-H", &format!("{name}={value}")]);
                    }
                }
                args.push("-l".into());
                args.push(input.into_os_string());
            }
            _ => {
                let mut text = String::new();
                for r in records {
                    let line = json!({"key": r.key, "value": r.value, "headers": r.headers});
                    writeln!(text, "{line}").map_err(|e| anyhow!("{e}"))?;
                }
                fs::write(&input, text).with_context(|| format!("writing {}", input.display()))?;
                push(
                    &mut args,
                    ["produce", "--bootstrap", &self.bootstrap, "--topic", topic],
                );
                push(
                    &mut args,
                    ["--compression", compression.name(), "--acks", "all"],
                );
                push(
                    &mut args,
                    ["--timeout-s", &CLIENT_TIMEOUT.as_secs_f64().to_string()],
                );
                args.push("--input".into());
                args.push(input.into_os_string());
            }
        }
        let output = self.run(client, &name, args)?;
        let delivered: Vec<Delivered> = match client {
            KafkaClient::Kcat => output
                .lines
                .iter()
                .filter_map(|l| parse_kcat_delivery(l))
                .collect(),
            _ => output
                .lines
                .iter()
                .map(|l| {
                    parse_json_record(l).map(|c| Delivered {
                        partition: c.partition,
                        offset: c.offset,
                    })
                })
                .collect::<Result<_>>()
                .map_err(|err| output.error(&format!("{err:#}")))?,
        };
        if delivered.len() != records.len() {
            return Err(output.error(&format!(
                "{} of {} records were acknowledged",
                delivered.len(),
                records.len()
            )));
        }
        Ok(delivered)
    }

    /// Reads `max` records of `topic` with `client`: without a group, from the beginning of
    /// every partition (nothing committed); with `group`, from the group's committed offsets
    /// (else the beginning), committing what it read. Returns what it read once it has `max`
    /// records, or at the timeout (kcat: also when it reaches the end of every partition), in
    /// the order it read them.
    pub fn consume(
        &self,
        client: KafkaClient,
        topic: &str,
        group: Option<&str>,
        max: usize,
    ) -> Result<Vec<Consumed>> {
        let name = run_name(client, "consume");
        let mut args: Vec<OsString> = Vec::new();
        let max_text = max.to_string();
        match client {
            KafkaClient::Kcat => {
                push(
                    &mut args,
                    ["-b", &self.bootstrap, "-q", "-u", "-e", "-c", &max_text],
                );
                push(&mut args, ["-f", KCAT_RECORD_FORMAT, "-m", "10"]);
                match group {
                    None => push(&mut args, ["-C", "-t", topic, "-o", "beginning"]),
                    Some(group) => push(
                        &mut args,
                        ["-X", "auto.offset.reset=earliest", "-G", group, topic],
                    ),
                }
            }
            _ => {
                push(
                    &mut args,
                    ["consume", "--bootstrap", &self.bootstrap, "--topic", topic],
                );
                push(&mut args, ["--max", &max_text]);
                push(
                    &mut args,
                    ["--timeout-s", &CLIENT_TIMEOUT.as_secs_f64().to_string()],
                );
                if let Some(group) = group {
                    push(&mut args, ["--group", group]);
                }
            }
        }
        let output = self.run(client, &name, args)?;
        let mut consumed = Vec::new();
        for line in &output.lines {
            let record = match client {
                KafkaClient::Kcat if line.starts_with("record ") => parse_kcat_record(line),
                KafkaClient::Kcat => continue,
                _ => parse_json_record(line),
            };
            consumed.push(record.map_err(|err| output.error(&format!("{err:#}")))?);
        }
        Ok(consumed)
    }

    /// Starts `client` as a member of consumer group `group` on `topic` (range assignor,
    /// session timeout [`MEMBER_SESSION_TIMEOUT_MS`], from the beginning when nothing is
    /// committed). The Python members commit synchronously what they printed after each poll;
    /// kcat auto-commits every 100 ms what it printed and commits the rest when it closes.
    pub fn member(&self, client: KafkaClient, topic: &str, group: &str) -> Result<GroupMember> {
        let name = run_name(client, "member");
        let session = MEMBER_SESSION_TIMEOUT_MS.to_string();
        let mut args: Vec<OsString> = Vec::new();
        match client {
            KafkaClient::Kcat => {
                push(
                    &mut args,
                    ["-b", &self.bootstrap, "-u", "-f", KCAT_RECORD_FORMAT],
                );
                push(&mut args, ["-X", "auto.offset.reset=earliest"]);
                push(&mut args, ["-X", &format!("session.timeout.ms={session}")]);
                let heartbeat = (MEMBER_SESSION_TIMEOUT_MS / 6).to_string();
                push(
                    &mut args,
                    ["-X", &format!("heartbeat.interval.ms={heartbeat}")],
                );
                push(&mut args, ["-X", "auto.commit.interval.ms=100"]);
                push(&mut args, ["-X", "partition.assignment.strategy=range"]);
                push(&mut args, ["-G", group, topic]);
            }
            _ => {
                push(
                    &mut args,
                    ["member", "--bootstrap", &self.bootstrap, "--topic", topic],
                );
                push(
                    &mut args,
                    ["--group", group, "--session-timeout-ms", &session],
                );
                push(&mut args, ["--assignor", "range"]);
            }
        }
        let process = client_command(client)?
            .args(args)
            .name(name)
            .spawn(&self.log_dir)?;
        Ok(GroupMember {
            client,
            process,
            events: Vec::new(),
        })
    }

    /// Runs kcat with `args` (after `-b BOOTSTRAP`) and returns its output lines (stdout and
    /// stderr merged); fails unless it exits with status 0.
    pub fn kcat(&self, args: &[&str]) -> Result<Vec<String>> {
        let name = run_name(KafkaClient::Kcat, "run");
        let mut all: Vec<OsString> = vec!["-b".into(), self.bootstrap.clone().into()];
        all.extend(args.iter().map(OsString::from));
        Ok(self.run(KafkaClient::Kcat, &name, all)?.lines)
    }

    /// Runs a client to completion (bounded) and returns its output; fails unless it exits 0.
    fn run(&self, client: KafkaClient, name: &str, args: Vec<OsString>) -> Result<RunOutput> {
        let mut process = client_command(client)?
            .args(args)
            .name(name)
            .spawn(&self.log_dir)?;
        let bound = CLIENT_TIMEOUT + CLIENT_EXIT_MARGIN;
        let status = match process.wait_with_timeout(bound) {
            Ok(status) => status,
            Err(_) => {
                let _ = process.kill();
                let lines = process.drain_lines();
                return Err(RunOutput::new(name, process, lines)
                    .error(&format!("did not finish within {bound:?}; killed it")));
            }
        };
        let lines = process.read_to_end(Duration::from_secs(5))?;
        let output = RunOutput::new(name, process, lines);
        if !status.success() {
            return Err(output.error(&format!("exited with {status}")));
        }
        Ok(output)
    }
}

fn push<const N: usize>(args: &mut Vec<OsString>, items: [&str; N]) {
    args.extend(items.iter().map(OsString::from));
}

/// A unique name for a run's logs and input: `<client>-<what>-<n>`.
fn run_name(client: KafkaClient, what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{what}-{}",
        client.name(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// What a finished run printed, for parsing and for error messages.
struct RunOutput {
    name: String,
    lines: Vec<String>,
    stdout_log: PathBuf,
    stderr_log: PathBuf,
    command: String,
}

impl RunOutput {
    fn new(name: &str, process: Process, lines: Vec<String>) -> RunOutput {
        let stdout_log = process.stdout_log_path().to_owned();
        let stderr_log = process.stderr_log_path().to_owned();
        // The first line of each log is the header with the command line.
        let command = fs::read_to_string(&stdout_log)
            .ok()
            .and_then(|t| t.lines().next().map(str::to_owned))
            .unwrap_or_default();
        RunOutput {
            name: name.to_owned(),
            lines,
            stdout_log,
            stderr_log,
            command,
        }
    }

    fn error(&self, what: &str) -> anyhow::Error {
        anyhow!(
            "{}: {what}\n{}\n{}",
            self.name,
            self.command,
            output_tails(&self.stdout_log, &self.stderr_log)
        )
    }
}

/// The tails of a client's logs, for error messages.
fn output_tails(stdout_log: &Path, stderr_log: &Path) -> String {
    let mut out = String::new();
    for path in [stdout_log, stderr_log] {
        let text = fs::read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|err| format!("(cannot read: {err})"));
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(ERROR_TAIL_LINES);
        let _ = writeln!(
            out,
            "---- last {} lines of {}:",
            lines.len() - from,
            path.display()
        );
        for line in &lines[from..] {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

/// kcat's producer input (`key:value` or `value` lines), refusing what kcat cannot carry.
fn kcat_input(records: &[Record]) -> Result<String> {
    let mut text = String::new();
    let headers = records
        .first()
        .map(|r| r.headers.clone())
        .unwrap_or_default();
    for r in records {
        let value = r
            .value
            .as_deref()
            .ok_or_else(|| anyhow!("kcat cannot produce a null value here: {r:?}"))?;
        if value.contains('\n') || r.key.as_deref().is_some_and(|k| k.contains(['\n', ':'])) {
            bail!("kcat cannot carry a newline, or a ':' in a key: {r:?}");
        }
        if r.headers != headers {
            bail!("kcat puts the same headers on every record of a run: {r:?}");
        }
        if r.headers
            .iter()
            .any(|(n, v)| n.contains([',', '=']) || v.contains([',', '=']))
        {
            bail!("kcat prints headers as n=v,...: no ',' or '=' in them: {r:?}");
        }
        match &r.key {
            Some(key) => writeln!(text, "{key}:{value}"),
            None if value.contains(':') => bail!("an unkeyed kcat value cannot contain ':': {r:?}"),
            None => writeln!(text, "{value}"),
        }
        .map_err(|e| anyhow!("{e}"))?;
    }
    Ok(text)
}

/// `% Message delivered to partition P (offset O) on broker B`, kcat's report at `-v -v`.
fn parse_kcat_delivery(line: &str) -> Option<Delivered> {
    let rest = line.strip_prefix("% Message delivered to partition ")?;
    let (partition, rest) = rest.split_once(" (offset ")?;
    let (offset, _) = rest.split_once(')')?;
    Some(Delivered {
        partition: partition.parse().ok()?,
        offset: offset.parse().ok()?,
    })
}

/// A line in [`KCAT_RECORD_FORMAT`].
fn parse_kcat_record(line: &str) -> Result<Consumed> {
    let bad = || anyhow!("unexpected kcat record line {line:?}");
    let rest = line.strip_prefix("record ").ok_or_else(bad)?;
    let mut fields = rest.splitn(5, ' ');
    let mut number =
        || -> Result<i64> { fields.next().and_then(|f| f.parse().ok()).ok_or_else(bad) };
    let partition = i32::try_from(number()?).map_err(|_| bad())?;
    let offset = number()?;
    let key_len = number()?;
    let value_len = number()?;
    let rest = fields.next().unwrap_or_default();
    let key_bytes = usize::try_from(key_len.max(0)).map_err(|_| bad())?;
    let value_bytes = usize::try_from(value_len.max(0)).map_err(|_| bad())?;
    let key = rest.get(..key_bytes).ok_or_else(bad)?;
    let value = rest
        .get(key_bytes..key_bytes + value_bytes)
        .ok_or_else(bad)?;
    let headers = rest
        .get(key_bytes + value_bytes..)
        .and_then(|h| h.strip_prefix(' '))
        .ok_or_else(bad)?;
    let headers = if headers.is_empty() {
        Vec::new()
    } else {
        headers
            .split(',')
            .map(|h| {
                h.split_once('=')
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .ok_or_else(bad)
            })
            .collect::<Result<_>>()?
    };
    Ok(Consumed {
        partition,
        offset,
        record: Record {
            key: (key_len >= 0).then(|| key.to_owned()),
            value: (value_len >= 0).then(|| value.to_owned()),
            headers,
        },
    })
}

/// A JSON line of the Python drivers: `{"partition", "offset", "key", "value", "headers"?}`.
fn parse_json_record(line: &str) -> Result<Consumed> {
    let value: Value =
        serde_json::from_str(line).with_context(|| format!("not a JSON line: {line:?}"))?;
    json_record(&value).with_context(|| format!("not a record: {line:?}"))
}

fn json_record(v: &Value) -> Result<Consumed> {
    let text = |field: &str| -> Result<Option<String>> {
        match &v[field] {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => bail!("{field} is {other}, not a string or null"),
        }
    };
    let partition = v["partition"]
        .as_i64()
        .and_then(|p| i32::try_from(p).ok())
        .ok_or_else(|| anyhow!("no partition"))?;
    let offset = v["offset"].as_i64().ok_or_else(|| anyhow!("no offset"))?;
    let mut headers = Vec::new();
    if let Some(list) = v["headers"].as_array() {
        for h in list {
            match (h[0].as_str(), h[1].as_str()) {
                (Some(n), Some(value)) => headers.push((n.to_owned(), value.to_owned())),
                _ => bail!("header {h} is not [name, value]"),
            }
        }
    }
    Ok(Consumed {
        partition,
        offset,
        record: Record {
            key: text("key")?,
            value: text("value")?,
            headers,
        },
    })
}

/// A JSON event line of a Python member.
fn parse_json_event(line: &str) -> Result<Option<MemberEvent>> {
    let v: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        // Not ours (a library's print): the log keeps it.
        Err(_) => return Ok(None),
    };
    let event = match v["event"].as_str() {
        Some("assignment") => MemberEvent::Assignment(partitions(&v["partitions"])?),
        Some("record") => MemberEvent::Record(json_record(&v)?),
        Some("committed") => {
            let offsets = v["offsets"]
                .as_object()
                .ok_or_else(|| anyhow!("committed without offsets: {line}"))?
                .iter()
                .map(|(p, o)| {
                    let p = p.parse().map_err(|_| anyhow!("bad partition in {line}"))?;
                    let o = o.as_i64().ok_or_else(|| anyhow!("bad offset in {line}"))?;
                    Ok((p, o))
                })
                .collect::<Result<_>>()?;
            MemberEvent::Committed(offsets)
        }
        Some("commit_failed") => {
            MemberEvent::CommitFailed(v["error"].as_str().unwrap_or_default().to_owned())
        }
        Some("closed") => MemberEvent::Closed,
        _ => return Ok(None),
    };
    Ok(Some(event))
}

fn partitions(v: &Value) -> Result<Vec<i32>> {
    let mut out = v
        .as_array()
        .ok_or_else(|| anyhow!("partitions is {v}, not a list"))?
        .iter()
        .map(|p| {
            p.as_i64()
                .and_then(|p| i32::try_from(p).ok())
                .ok_or_else(|| anyhow!("bad partition {p}"))
        })
        .collect::<Result<Vec<_>>>()?;
    out.sort_unstable();
    Ok(out)
}

/// A kcat `-G` line: a record, or `% Group G rebalanced (memberid M): assigned: t [0], t [1]` /
/// `...: revoked: ...` (the eager protocol revokes everything, so that is an empty assignment).
fn parse_kcat_event(line: &str) -> Result<Option<MemberEvent>> {
    if line.starts_with("record ") {
        return parse_kcat_record(line).map(|c| Some(MemberEvent::Record(c)));
    }
    if !line.starts_with("% Group ") || !line.contains(" rebalanced ") {
        return Ok(None);
    }
    if line.contains("): revoked: ") {
        return Ok(Some(MemberEvent::Assignment(Vec::new())));
    }
    let Some((_, list)) = line.split_once("): assigned: ") else {
        return Ok(None);
    };
    let mut partitions = Vec::new();
    for part in list.split(", ").filter(|p| !p.trim().is_empty()) {
        let number = part
            .rsplit_once('[')
            .and_then(|(_, n)| n.strip_suffix(']'))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| anyhow!("unexpected kcat assignment {line:?}"))?;
        partitions.push(number);
    }
    partitions.sort_unstable();
    Ok(Some(MemberEvent::Assignment(partitions)))
}

/// A consumer group member started by [`Clients::member`]: its events are read as they come
/// ([`GroupMember::poll`]); [`GroupMember::stop`] asks it to leave (SIGTERM) and waits.
#[derive(Debug)]
pub struct GroupMember {
    client: KafkaClient,
    process: Process,
    events: Vec<MemberEvent>,
}

impl GroupMember {
    /// Reads the lines it printed since the last call into events; fails on a malformed event.
    pub fn poll(&mut self) -> Result<()> {
        for line in self.process.drain_lines() {
            self.push_line(&line)?;
        }
        Ok(())
    }

    fn push_line(&mut self, line: &str) -> Result<()> {
        let event = match self.client {
            KafkaClient::Kcat => parse_kcat_event(line),
            _ => parse_json_event(line),
        };
        if let Some(event) = event.map_err(|err| self.error(&format!("{err:#}")))? {
            self.events.push(event);
        }
        Ok(())
    }

    /// Every event so far (call [`GroupMember::poll`] first).
    pub fn events(&self) -> &[MemberEvent] {
        &self.events
    }

    /// Its current assignment: the last one it reported (`None` before its first).
    pub fn assignment(&self) -> Option<&[i32]> {
        self.events.iter().rev().find_map(|e| match e {
            MemberEvent::Assignment(p) => Some(p.as_slice()),
            _ => None,
        })
    }

    /// The records it read, in order.
    pub fn records(&self) -> Vec<&Consumed> {
        self.events
            .iter()
            .filter_map(|e| match e {
                MemberEvent::Record(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    /// What it is known to have committed: partition → next offset. The Python members report
    /// each commit; kcat reports none, but its clean close commits what it printed, so once it
    /// has [closed](MemberEvent::Closed) that is what it printed (before, nothing is known).
    pub fn committed(&self) -> BTreeMap<i32, i64> {
        let mut committed = BTreeMap::new();
        let kcat_closed =
            self.client == KafkaClient::Kcat && self.events.contains(&MemberEvent::Closed);
        for event in &self.events {
            match event {
                MemberEvent::Committed(offsets) => committed.extend(offsets),
                MemberEvent::Record(c) if kcat_closed => {
                    let next = committed.entry(c.partition).or_insert(0);
                    *next = (*next).max(c.offset + 1);
                }
                _ => {}
            }
        }
        committed
    }

    /// SIGTERMs it (it finishes its poll, commits, leaves the group and exits), waits for it to
    /// exit with status 0 and reads its last events.
    pub fn stop(&mut self) -> Result<()> {
        let status = self.process.terminate(CLIENT_TIMEOUT)?;
        for line in self.process.read_to_end(Duration::from_secs(5))? {
            self.push_line(&line)?;
        }
        if !status.success() {
            return Err(self.error(&format!("exited with {status} after SIGTERM, not 0")));
        }
        if self.client == KafkaClient::Kcat {
            self.events.push(MemberEvent::Closed);
        }
        if !self.events.contains(&MemberEvent::Closed) {
            return Err(self.error("exited without saying it closed"));
        }
        Ok(())
    }

    /// SIGKILLs it: it leaves nothing behind, the group notices when its session times out.
    pub fn kill(&mut self) -> Result<()> {
        self.process.kill()?;
        for line in self.process.read_to_end(Duration::from_secs(5))? {
            self.push_line(&line)?;
        }
        Ok(())
    }

    /// An error about this member, with the tails of its output.
    pub fn error(&self, what: &str) -> anyhow::Error {
        anyhow!(
            "{} (pid {}): {what}\n{}",
            self.process.name(),
            self.process.pid(),
            output_tails(
                self.process.stdout_log_path(),
                self.process.stderr_log_path()
            )
        )
    }
}

/// Polls `members` until `done` holds for them, or fails after `timeout` naming `what` and
/// quoting every member's output.
pub fn wait_for_members(
    members: &mut [&mut GroupMember],
    timeout: Duration,
    what: &str,
    mut done: impl FnMut(&[&mut GroupMember]) -> bool,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        for member in members.iter_mut() {
            member.poll()?;
        }
        if done(members) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let mut msg = format!("not within {timeout:?}: {what}");
            for member in members.iter() {
                let _ = write!(
                    msg,
                    "\n== {} assignment {:?}, {} records, committed {:?}\n{}",
                    member.process.name(),
                    member.assignment(),
                    member.records().len(),
                    member.committed(),
                    output_tails(
                        member.process.stdout_log_path(),
                        member.process.stderr_log_path()
                    )
                );
            }
            bail!(msg);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kcat_record_lines() {
        let c = parse_kcat_record("record 2 17 3 14 keyvalue with € h1=a,h2=b").unwrap();
        assert_eq!((c.partition, c.offset), (2, 17));
        assert_eq!(c.record.key.as_deref(), Some("key"));
        assert_eq!(c.record.value.as_deref(), Some("value with €"));
        assert_eq!(
            c.record.headers,
            vec![("h1".into(), "a".into()), ("h2".into(), "b".into())]
        );
        let c = parse_kcat_record("record 0 0 -1 0  ").unwrap();
        assert_eq!(
            c.record,
            Record {
                key: None,
                value: Some(String::new()),
                headers: vec![]
            }
        );
        let c = parse_kcat_record("record 0 5 0 -1  ").unwrap();
        assert_eq!(c.record.key.as_deref(), Some(""));
        assert_eq!(c.record.value, None);
        assert!(parse_kcat_record("record 0 x 0 0  ").is_err());
        // Lengths that do not match the bytes printed: a garbled line, not a record.
        assert!(parse_kcat_record("record 0 1 3 40 keyvalue ").is_err());
        assert!(parse_kcat_record("record 0 1 3 2 keyvalue ").is_err());
    }

    #[test]
    fn kcat_input_lines_and_what_kcat_cannot_carry() {
        let records = vec![
            Record::new(Some("k1"), "v: one").header("h", "1"),
            Record::new(None, "v two").header("h", "1"),
        ];
        assert_eq!(kcat_input(&records).unwrap(), "k1:v: one\nv two\n");
        for bad in [
            vec![Record::new(None, "a:b")],
            vec![Record::new(Some("a:b"), "v")],
            vec![Record::new(None, "two\nlines")],
            vec![
                Record::new(None, "a").header("h", "1"),
                Record::new(None, "b"),
            ],
            vec![Record::new(None, "a").header("h", "x,y")],
        ] {
            assert!(kcat_input(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn kcat_deliveries_and_rebalances() {
        assert_eq!(
            parse_kcat_delivery("% Message delivered to partition 3 (offset 42) on broker 0"),
            Some(Delivered {
                partition: 3,
                offset: 42
            })
        );
        assert_eq!(
            parse_kcat_delivery("% Delivery failed for message: x"),
            None
        );
        let assigned = "% Group g rebalanced (memberid rdkafka-1): assigned: t-1 [0], t-1 [3]";
        assert_eq!(
            parse_kcat_event(assigned).unwrap(),
            Some(MemberEvent::Assignment(vec![0, 3]))
        );
        let revoked = "% Group g rebalanced (memberid rdkafka-1): revoked: t-1 [0], t-1 [3]";
        assert_eq!(
            parse_kcat_event(revoked).unwrap(),
            Some(MemberEvent::Assignment(vec![]))
        );
        assert_eq!(
            parse_kcat_event("% Waiting for group rebalance").unwrap(),
            None
        );
    }

    #[test]
    fn json_lines_of_the_python_drivers() {
        let c = parse_json_record(
            r#"{"partition": 1, "offset": 9, "key": null, "value": "v", "headers": [["h", "x"]]}"#,
        )
        .unwrap();
        assert_eq!(c.record, Record::new(None, "v").header("h", "x"));
        assert!(parse_json_record(r#"{"partition": 1}"#).is_err());
        assert_eq!(
            parse_json_event(r#"{"event": "assignment", "partitions": [3, 1]}"#).unwrap(),
            Some(MemberEvent::Assignment(vec![1, 3]))
        );
        assert_eq!(
            parse_json_event(r#"{"event": "committed", "offsets": {"0": 5, "2": 7}}"#).unwrap(),
            Some(MemberEvent::Committed(BTreeMap::from([(0, 5), (2, 7)])))
        );
        assert_eq!(parse_json_event("some library print").unwrap(), None);
        assert!(parse_json_event(r#"{"event": "committed"}"#).is_err());
    }

    #[test]
    fn a_missing_client_names_the_setup_command() {
        let python = PathBuf::from("/nonexistent/fastdata-python");
        let err = check_python(KafkaClient::KafkaPython.name(), "kafka", python).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains(SETUP_COMMAND) && msg.contains("kafka-python"),
            "{msg}"
        );
        // An interpreter without the library: the import error is quoted.
        let err = check_python(
            KafkaClient::ConfluentKafka.name(),
            "fastdata_no_such_module",
            "sh".into(),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains(SETUP_COMMAND), "{err:#}");
        let err = check_kcat("/nonexistent/kcat".into()).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains(SETUP_COMMAND) && msg.contains("kcat"), "{msg}");
    }
}
