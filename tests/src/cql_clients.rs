//! The CQL clients of the node's tests, each run as a [`Process`] against one node: cqlsh 6.2
//! and cassandra-driver 3.30 (PyPI, in the test virtualenv that `bash scripts/setup.sh --test`
//! makes), and our shell `fastdata cql`.
//!
//! [`CqlClients`] runs them against one contact point with their logs in one directory, each
//! run bounded in time ([`CQL_CLIENT_TIMEOUT`]). A run's result is a [`CqlOutput`]: exit
//! status, stdout and stderr. The driver's runs go through `tests/clients/
//! cassandra_driver_client.py` (its command line and the JSON it prints are described there):
//! [`CqlClients::driver_info`] is what the driver learnt on connecting, and
//! [`CqlClients::driver_run`] runs a list of steps (statements, optionally prepared, with
//! values and a page size) and returns a [`DriverStep`] per step.
//!
//! cqlsh is found as `FASTDATA_CQLSH` (default `~/.cache/fastdata-venv/bin/cqlsh`) and runs
//! with `HOME` set to a directory of the log dir, so its history and cqlshrc are the test's
//! own; `TZ` is removed so timestamps print in UTC, as they do in `fastdata cql`.

use std::ffi::OsString;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use crate::clients::{check_python, clients_dir, venv_program, SETUP_COMMAND};
use crate::{fastdata_bin, Process, ProcessBuilder};

/// The cqlsh program (default: `~/.cache/fastdata-venv/bin/cqlsh`).
pub const CQLSH_ENV: &str = "FASTDATA_CQLSH";

/// How long one client run may take before it is killed.
pub const CQL_CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

/// The request timeout cqlsh is given (its default, 10 s, is short for a debug build under a
/// parallel test run).
const CQLSH_REQUEST_TIMEOUT_S: &str = "60";

/// How many lines of output an error message quotes.
const ERROR_TAIL_LINES: usize = 40;

/// A CQL client of the tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CqlTool {
    /// cqlsh 6.2 (PyPI) on cassandra-driver.
    Cqlsh,
    /// Our shell, `fastdata cql`, on the scylla driver.
    FastdataCql,
}

impl CqlTool {
    /// The tool's usual name: `cqlsh`, `fastdata-cql`.
    pub fn name(self) -> &'static str {
        match self {
            CqlTool::Cqlsh => "cqlsh",
            CqlTool::FastdataCql => "fastdata-cql",
        }
    }
}

/// What a finished run printed.
#[derive(Clone, Debug)]
pub struct CqlOutput {
    /// The exit status.
    pub status: ExitStatus,
    /// Stdout (with stderr interleaved in order, for [`CqlClients::shell_merged`]).
    pub stdout: String,
    /// Stderr (empty for [`CqlClients::shell_merged`]).
    pub stderr: String,
    /// The command line, for messages.
    pub command: String,
}

impl CqlOutput {
    /// Fails, quoting the output, unless the run exited with status 0.
    pub fn success(self) -> Result<CqlOutput> {
        if !self.status.success() {
            bail!(
                "{} exited with {}\n{}",
                self.command,
                self.status,
                self.describe()
            );
        }
        Ok(self)
    }

    /// The tails of stdout and stderr, for messages.
    pub fn describe(&self) -> String {
        format!(
            "---- stdout:\n{}\n---- stderr:\n{}",
            tail(&self.stdout),
            tail(&self.stderr)
        )
    }
}

/// One step of a [`CqlClients::driver_run`]: what the driver got back.
#[derive(Clone, Debug, PartialEq)]
pub struct DriverStep {
    /// The result's column names (empty for statements without rows).
    pub columns: Vec<String>,
    /// Every row of every page, each value rendered as the driver script documents.
    pub rows: Vec<Vec<String>>,
    /// How many pages the rows came in.
    pub pages: usize,
    /// For a prepared step: the partition-key indexes of the bind markers, as the driver read
    /// them from the PREPARED result (`None` when it saw none).
    pub routing_key_indexes: Option<Vec<usize>>,
    /// For a prepared step with values: the token the driver computed for the bound key.
    pub routing_token: Option<i64>,
    /// The refusal, if the server refused the step: (driver exception class, error code,
    /// message).
    pub error: Option<(String, Option<i64>, String)>,
}

/// Runs CQL clients against one node; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct CqlClients {
    contact: SocketAddr,
    log_dir: PathBuf,
}

impl CqlClients {
    /// Clients of the node whose CQL listener is `contact`, logging to `log_dir` (normally the
    /// test's [`DataDir`](crate::DataDir)).
    pub fn new(contact: SocketAddr, log_dir: impl AsRef<Path>) -> CqlClients {
        CqlClients {
            contact,
            log_dir: log_dir.as_ref().to_owned(),
        }
    }

    /// The contact point.
    pub fn contact(&self) -> SocketAddr {
        self.contact
    }

    /// Runs `tool` connected to the node with `args` (`-e STATEMENTS`, `-f FILE`, `-k KS`, ...)
    /// and returns what it printed, whatever its exit status. The working directory is
    /// `cwd` if given (so `-f name.cql` and the `name.cql:LINE:` of its errors are relative).
    pub fn shell(&self, tool: CqlTool, args: &[&str], cwd: Option<&Path>) -> Result<CqlOutput> {
        self.run_shell(tool, args, cwd, false)
    }

    /// As [`CqlClients::shell`], with stderr merged into stdout in the order they were written
    /// (both tools flush stdout before each error message).
    pub fn shell_merged(
        &self,
        tool: CqlTool,
        args: &[&str],
        cwd: Option<&Path>,
    ) -> Result<CqlOutput> {
        self.run_shell(tool, args, cwd, true)
    }

    fn run_shell(
        &self,
        tool: CqlTool,
        args: &[&str],
        cwd: Option<&Path>,
        merged: bool,
    ) -> Result<CqlOutput> {
        let name = run_name(tool.name());
        let (program, mut tool_args): (PathBuf, Vec<OsString>) = match tool {
            CqlTool::Cqlsh => {
                let home = self.log_dir.join("cqlsh-home");
                fs::create_dir_all(&home)
                    .with_context(|| format!("creating {}", home.display()))?;
                let args = [
                    "--no-color",
                    "--request-timeout",
                    CQLSH_REQUEST_TIMEOUT_S,
                    "--connect-timeout",
                    CQLSH_REQUEST_TIMEOUT_S,
                ];
                let mut v: Vec<OsString> = args.iter().map(OsString::from).collect();
                v.push(self.contact.ip().to_string().into());
                v.push(self.contact.port().to_string().into());
                (cqlsh()?, v)
            }
            CqlTool::FastdataCql => (
                fastdata_bin(),
                vec![
                    "cql".into(),
                    "--host".into(),
                    self.contact.to_string().into(),
                ],
            ),
        };
        tool_args.extend(args.iter().map(OsString::from));
        let mut builder = if merged {
            ProcessBuilder::new("sh")
                .arg("-c")
                .arg("exec \"$0\" \"$@\" 2>&1")
                .arg(program)
        } else {
            ProcessBuilder::new(program)
        };
        builder = builder
            .args(tool_args)
            .name(&name)
            .env_remove("TZ")
            .env("HOME", self.log_dir.join("cqlsh-home"));
        if let Some(cwd) = cwd {
            builder = builder.current_dir(cwd);
        }
        self.finish(builder)
    }

    /// What cassandra-driver learnt on connecting with no special options: the JSON object of
    /// the driver script's `info` (protocol version, release version, keyspaces and tables of
    /// its schema metadata, ring size, hosts).
    pub fn driver_info(&self) -> Result<Value> {
        let out = self
            .finish(
                driver()?
                    .arg("info")
                    .arg("--contact")
                    .arg(self.contact.to_string())
                    .name(run_name("cassandra-driver-info")),
            )?
            .success()?;
        serde_json::from_str(out.stdout.trim())
            .with_context(|| format!("parsing the driver's info: {}", out.stdout))
    }

    /// Runs `steps` (a JSON list, see `tests/clients/cassandra_driver_client.py`) with
    /// cassandra-driver on one connection-pooled session; what each step got back.
    pub fn driver_run(&self, steps: &Value) -> Result<Vec<DriverStep>> {
        let name = run_name("cassandra-driver-run");
        let input = self.log_dir.join(format!("{name}.json"));
        fs::write(&input, steps.to_string())
            .with_context(|| format!("writing {}", input.display()))?;
        let out = self
            .finish(
                driver()?
                    .arg("run")
                    .arg("--contact")
                    .arg(self.contact.to_string())
                    .arg("--input")
                    .arg(&input)
                    .name(&name),
            )?
            .success()?;
        out.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| parse_step(l).with_context(|| format!("parsing the driver's line {l:?}")))
            .collect()
    }

    fn finish(&self, builder: ProcessBuilder) -> Result<CqlOutput> {
        let mut process = builder.spawn(&self.log_dir)?;
        let status = match process.wait_with_timeout(CQL_CLIENT_TIMEOUT) {
            Ok(status) => status,
            Err(_) => {
                let _ = process.kill();
                let out = output(&process, process.drain_lines(), None)?;
                bail!(
                    "{} did not finish within {CQL_CLIENT_TIMEOUT:?}; killed it\n{}",
                    out.command,
                    out.describe()
                );
            }
        };
        let lines = process.read_to_end(Duration::from_secs(5))?;
        output(&process, lines, Some(status))
    }
}

fn output(process: &Process, lines: Vec<String>, status: Option<ExitStatus>) -> Result<CqlOutput> {
    let stderr_log = fs::read_to_string(process.stderr_log_path())
        .with_context(|| format!("reading {}", process.stderr_log_path().display()))?;
    // The first line of each log is the header with the command line.
    let (command, stderr) = stderr_log.split_once('\n').unwrap_or((&stderr_log, ""));
    let mut stdout = lines.join("\n");
    if !lines.is_empty() {
        stdout.push('\n');
    }
    let status = match status {
        Some(status) => status,
        None => std::os::unix::process::ExitStatusExt::from_raw(libc::SIGKILL),
    };
    Ok(CqlOutput {
        status,
        stdout,
        stderr: stderr.to_owned(),
        command: command.trim_start_matches("==== ").to_owned(),
    })
}

fn parse_step(line: &str) -> Result<DriverStep> {
    let v: Value = serde_json::from_str(line)?;
    let strings = |v: &Value| -> Result<Vec<String>> {
        v.as_array()
            .ok_or_else(|| anyhow!("not a list: {v}"))?
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow!("not a string: {s}"))
            })
            .collect()
    };
    let error = match &v["error"] {
        Value::Null => None,
        e => Some((
            e["class"].as_str().unwrap_or_default().to_owned(),
            e["code"].as_i64(),
            e["message"].as_str().unwrap_or_default().to_owned(),
        )),
    };
    if error.is_some() {
        return Ok(DriverStep {
            columns: Vec::new(),
            rows: Vec::new(),
            pages: 0,
            routing_key_indexes: None,
            routing_token: None,
            error,
        });
    }
    let rows = v["rows"]
        .as_array()
        .ok_or_else(|| anyhow!("no rows"))?
        .iter()
        .map(strings)
        .collect::<Result<_>>()?;
    let routing_key_indexes = match &v["routing_key_indexes"] {
        Value::Array(a) => Some(
            a.iter()
                .map(|i| {
                    i.as_u64()
                        .and_then(|i| usize::try_from(i).ok())
                        .ok_or_else(|| anyhow!("bad index {i}"))
                })
                .collect::<Result<_>>()?,
        ),
        _ => None,
    };
    Ok(DriverStep {
        columns: strings(&v["columns"])?,
        rows,
        pages: v["pages"]
            .as_u64()
            .and_then(|p| usize::try_from(p).ok())
            .unwrap_or(0),
        routing_key_indexes,
        routing_token: v["routing_token"].as_i64(),
        error,
    })
}

/// cqlsh, checked (once per process) to run.
fn cqlsh() -> Result<PathBuf> {
    use std::sync::OnceLock;
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let cqlsh = venv_program(CQLSH_ENV, "cqlsh").map_err(|e| format!("{e:#}"))?;
            match std::process::Command::new(&cqlsh).arg("--version").output() {
                Ok(out) if out.status.success() => Ok(cqlsh),
                Ok(out) => Err(format!(
                    "`{} --version` failed ({}): {}; run `{SETUP_COMMAND}`",
                    cqlsh.display(),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                )),
                Err(err) => Err(format!(
                    "cqlsh is not installed (running `{} --version`: {err}); run \
                     `{SETUP_COMMAND}` ({CQLSH_ENV} overrides the path)",
                    cqlsh.display()
                )),
            }
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

/// The cassandra-driver script, with the virtualenv's Python checked (once) to import it.
fn driver() -> Result<ProcessBuilder> {
    use std::sync::OnceLock;
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let python = FOUND
        .get_or_init(|| {
            venv_program(crate::clients::PYTHON_ENV, "python")
                .and_then(|p| check_python("cassandra-driver", "cassandra.cluster", p))
                .map_err(|e| format!("{e:#}"))
        })
        .clone()
        .map_err(anyhow::Error::msg)?;
    let debug = std::env::var_os(crate::clients::CLIENT_DEBUG_ENV)
        .is_some_and(|v| !v.is_empty() && v != "0");
    let builder = ProcessBuilder::new(python)
        .arg(clients_dir().join("cassandra_driver_client.py"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    Ok(if debug {
        builder.arg("--debug")
    } else {
        builder
    })
}

/// A unique name for a run's logs: `<what>-<n>`.
fn run_name(what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{what}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(ERROR_TAIL_LINES)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_lines_parse() {
        let step = parse_step(
            r#"{"error": null, "columns": ["k", "v"], "rows": [["1", "'a'"]], "pages": 1,
                "routing_key_indexes": [0], "routing_token": -42}"#,
        )
        .unwrap();
        assert_eq!(step.columns, ["k", "v"]);
        assert_eq!(step.rows, [["1", "'a'"]]);
        assert_eq!(step.routing_key_indexes, Some(vec![0]));
        assert_eq!(step.routing_token, Some(-42));
        let refused =
            parse_step(r#"{"error": {"class": "InvalidRequest", "code": 8704, "message": "no"}}"#)
                .unwrap();
        assert_eq!(
            refused.error,
            Some(("InvalidRequest".to_owned(), Some(0x2200), "no".to_owned()))
        );
        assert!(parse_step(r#"{"error": null}"#).is_err());
    }
}
