//! Child processes for tests: logs to files, stdout lines as they come, signals, no leaks.
//!
//! A [`Process`] is its own process-group leader, and every signal it is sent (SIGKILL, SIGSTOP,
//! SIGCONT, SIGTERM) goes to its whole group, so helpers it spawned (`sh -c '...'` pipelines, for
//! instance) are stopped and killed with it. By default it is also given Linux's parent-death
//! signal (SIGKILL), so it dies if the test process dies without running destructors; note that
//! Linux sends that signal when the *thread* that spawned the child exits, so a child meant to
//! outlive the thread that spawned it must be built with
//! [`ProcessBuilder::kill_with_parent`]`(false)`.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// How many lines of each log a panicking test prints.
const TAIL_LINES: usize = 30;

/// How long `kill` and `Drop` wait for a SIGKILLed child to be reaped.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// Builds a [`Process`]: program, arguments, environment, working directory, name.
#[derive(Debug, Clone)]
pub struct ProcessBuilder {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, Option<OsString>)>,
    current_dir: Option<PathBuf>,
    name: Option<String>,
    kill_with_parent: bool,
}

impl ProcessBuilder {
    /// A builder for running `program` (a path, or a name looked up in `PATH`).
    pub fn new(program: impl AsRef<OsStr>) -> ProcessBuilder {
        ProcessBuilder {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
            current_dir: None,
            name: None,
            kill_with_parent: true,
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable (the rest of the environment is inherited).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Removes an inherited environment variable.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.envs.push((key.as_ref().to_owned(), None));
        self
    }

    /// Runs the child in `dir` (default: the test's working directory).
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.current_dir = Some(dir.as_ref().to_owned());
        self
    }

    /// Names the child in log file names and messages (default: the program's file name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Whether the child gets SIGKILL when the thread that spawns it exits (default: true). Linux
    /// delivers the parent-death signal when the spawning *thread* ends, so a child meant to
    /// outlive the thread that spawned it needs `false`.
    pub fn kill_with_parent(mut self, yes: bool) -> Self {
        self.kill_with_parent = yes;
        self
    }

    /// Spawns the child with stdin from `/dev/null`, stdout to `<log_dir>/<name>.stdout.log`
    /// (and readable line by line, see [`Process::read_line`]) and stderr to
    /// `<log_dir>/<name>.stderr.log`. `log_dir` is created if needed; the logs are appended to,
    /// so a restarted child with the same name keeps one log, with a header line per start.
    pub fn spawn(&self, log_dir: impl AsRef<Path>) -> Result<Process> {
        let log_dir = log_dir.as_ref();
        let name = match &self.name {
            Some(name) => name.clone(),
            None => Path::new(&self.program)
                .file_name()
                .unwrap_or(self.program.as_os_str())
                .to_string_lossy()
                .into_owned(),
        };
        fs::create_dir_all(log_dir)
            .with_context(|| format!("creating log dir {}", log_dir.display()))?;
        let stdout_log = log_dir.join(format!("{name}.stdout.log"));
        let stderr_log = log_dir.join(format!("{name}.stderr.log"));
        let header = format!("==== {name}: {}\n", self.command_line());
        let mut stdout_file = open_log(&stdout_log, &header)?;
        let stderr_file = open_log(&stderr_log, &header)?;

        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr_file))
            .process_group(0);
        for (key, value) in &self.envs {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        if self.kill_with_parent {
            // SAFETY: the closure runs between fork and exec and only makes one
            // async-signal-safe system call.
            unsafe {
                command.pre_exec(|| {
                    if libc::prctl(
                        libc::PR_SET_PDEATHSIG,
                        libc::SIGKILL as libc::c_ulong,
                        0 as libc::c_ulong,
                        0 as libc::c_ulong,
                        0 as libc::c_ulong,
                    ) == -1
                    {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("spawning {name}: {}", self.command_line()))?;
        let pid = child.id();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("spawning {name}: stdout was not captured"))?;
        let (sender, lines) = mpsc::channel();
        let reader = thread::Builder::new()
            .name(format!("{name}-stdout"))
            .spawn(move || pump_stdout(stdout, &mut stdout_file, &sender));
        let reader = match reader {
            Ok(handle) => handle,
            Err(err) => {
                let _ = kill_group(pid, libc::SIGKILL);
                let _ = child.wait();
                return Err(err).context("starting the stdout reader thread");
            }
        };
        Ok(Process {
            name,
            child,
            pid,
            status: None,
            lines,
            reader: Some(reader),
            stdout_log,
            stderr_log,
        })
    }

    fn command_line(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|s| s.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn open_log(path: &Path, header: &str) -> Result<File> {
    let mut file = File::options()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening log {}", path.display()))?;
    file.write_all(header.as_bytes())
        .with_context(|| format!("writing log {}", path.display()))?;
    Ok(file)
}

/// Copies the child's stdout to its log file and, line by line, to the channel, until EOF.
fn pump_stdout(stdout: ChildStdout, log: &mut File, sender: &Sender<String>) {
    let mut reader = BufReader::new(stdout);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        // The log is best effort: a full disk must not stop the lines from flowing.
        let _ = log.write_all(&buf);
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']).to_owned();
        // The receiver may be gone (the Process was dropped); keep draining so the child never
        // blocks on a full pipe.
        let _ = sender.send(line);
    }
}

fn kill_group(pid: u32, signal: libc::c_int) -> io::Result<()> {
    let pgid = libc::pid_t::try_from(pid).map_err(|_| io::Error::other("pid out of range"))?;
    // SAFETY: kill(2) has no memory-safety preconditions.
    if unsafe { libc::kill(-pgid, signal) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A running (or exited) child process, spawned by [`ProcessBuilder::spawn`].
///
/// It leads its own process group, and every signal it is sent goes to the whole group, so
/// helpers it spawned (`sh -c '...'` pipelines, for instance) are stopped and killed with it.
/// Signalling a child that has already exited is an error, never a signal to a recycled pid.
///
/// Dropping it SIGKILLs its process group if it is still running and reaps it; if the thread is
/// panicking, the last lines of its stdout and stderr logs are printed first.
///
/// Stdout lines are queued, unbounded, until read; a child that prints a lot and whose lines are
/// never read costs memory (its log file gets everything either way).
pub struct Process {
    name: String,
    child: Child,
    pid: u32,
    status: Option<ExitStatus>,
    lines: Receiver<String>,
    reader: Option<JoinHandle<()>>,
    stdout_log: PathBuf,
    stderr_log: PathBuf,
}

impl Process {
    /// A [`ProcessBuilder`] for `program`.
    pub fn builder(program: impl AsRef<OsStr>) -> ProcessBuilder {
        ProcessBuilder::new(program)
    }

    /// The child's name (see [`ProcessBuilder::name`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The child's pid, which is also its process group id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The path of the stdout log.
    pub fn stdout_log_path(&self) -> &Path {
        &self.stdout_log
    }

    /// The path of the stderr log.
    pub fn stderr_log_path(&self) -> &Path {
        &self.stderr_log
    }

    /// The stdout log so far. Once the child has exited, waits (up to a second) for its last
    /// output to reach the file.
    pub fn stdout_log(&mut self) -> Result<String> {
        if self.status.is_some() {
            self.join_reader(Duration::from_secs(1));
        }
        read_log(&self.stdout_log)
    }

    /// The stderr log so far.
    pub fn stderr_log(&self) -> Result<String> {
        read_log(&self.stderr_log)
    }

    /// The exit status if the child has exited (reaping it), `None` if it is still running.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self
                .child
                .try_wait()
                .with_context(|| format!("waiting for {}", self.describe()))?;
        }
        Ok(self.status)
    }

    /// Whether the child is still running (a paused child is running).
    pub fn is_running(&mut self) -> Result<bool> {
        Ok(self.try_wait()?.is_none())
    }

    /// Waits for the child to exit; fails, leaving it running, if it has not within `timeout`.
    pub fn wait_with_timeout(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            let now = Instant::now();
            if now >= deadline {
                bail!("{} still running after {timeout:?}", self.describe());
            }
            thread::sleep((deadline - now).min(Duration::from_millis(10)));
        }
    }

    /// SIGKILLs the child's process group and reaps the child; returns its exit status (the
    /// earlier one, without signalling, if it had already exited).
    pub fn kill(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.try_wait()? {
            return Ok(status);
        }
        self.signal(libc::SIGKILL, "SIGKILL")?;
        self.wait_with_timeout(KILL_WAIT)
    }

    /// Sends SIGTERM (and SIGCONT, in case it is paused) and waits up to `timeout` for the child
    /// to exit. If it does not, it is SIGKILLed and an error is returned: a server that ignores
    /// SIGTERM is a bug the test should see.
    pub fn terminate(&mut self, timeout: Duration) -> Result<ExitStatus> {
        if let Some(status) = self.try_wait()? {
            return Ok(status);
        }
        self.signal(libc::SIGTERM, "SIGTERM")?;
        // In case it is paused. A child that the SIGTERM ended at once has nothing to
        // continue: its status is kept, and the wait below returns it.
        if let Err(e) = self.signal(libc::SIGCONT, "SIGCONT") {
            if self.status.is_none() {
                return Err(e);
            }
        }
        match self.wait_with_timeout(timeout) {
            Ok(status) => Ok(status),
            Err(_) => {
                let killed = self.kill();
                bail!(
                    "{} did not exit within {timeout:?} of SIGTERM; SIGKILLed it ({killed:?})",
                    self.describe()
                )
            }
        }
    }

    /// Stops the child's process group (SIGSTOP), as a hung or partitioned server would look.
    /// The stop takes effect asynchronously; [`Process::state`] shows `'T'` once it has.
    pub fn pause(&mut self) -> Result<()> {
        self.signal(libc::SIGSTOP, "SIGSTOP")
    }

    /// Continues a paused child's process group (SIGCONT).
    pub fn resume(&mut self) -> Result<()> {
        self.signal(libc::SIGCONT, "SIGCONT")
    }

    /// Sends `signal` (e.g. `libc::SIGHUP`) to the child's process group; fails if the child has
    /// exited (its pid may since belong to someone else).
    pub fn send_signal(&mut self, signal: libc::c_int) -> Result<()> {
        self.signal(signal, &format!("signal {signal}"))
    }

    /// The child's scheduler state from `/proc/<pid>/stat` (`'R'` running, `'S'` sleeping, `'T'`
    /// stopped, `'Z'` exited but not yet reaped, ...), or `None` once it has been reaped.
    pub fn state(&self) -> Option<char> {
        if self.status.is_some() {
            return None;
        }
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // The command name in parentheses may contain anything; the state follows the last ')'.
        let rest = &stat[stat.rfind(')')? + 1..];
        rest.trim_start().chars().next()
    }

    /// The next stdout line, waiting up to `timeout`: `Some(line)` (without its newline), `None`
    /// once stdout is closed and every line has been read, an error on timeout.
    pub fn read_line(&self, timeout: Duration) -> Result<Option<String>> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => Ok(Some(line)),
            Err(RecvTimeoutError::Disconnected) => Ok(None),
            Err(RecvTimeoutError::Timeout) => {
                bail!("{}: no stdout line within {timeout:?}", self.describe())
            }
        }
    }

    /// Reads stdout lines until one satisfies `matches` and returns it; lines before it are
    /// consumed (they stay in the log). Fails on timeout or if stdout closes first.
    pub fn wait_for_line(
        &self,
        timeout: Duration,
        mut matches: impl FnMut(&str) -> bool,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if matches(&line) => return Ok(line),
                Ok(_) => {}
                Err(RecvTimeoutError::Disconnected) => bail!(
                    "{} closed stdout before printing the expected line (logs: {}, {})",
                    self.describe(),
                    self.stdout_log.display(),
                    self.stderr_log.display()
                ),
                Err(RecvTimeoutError::Timeout) => bail!(
                    "{} did not print the expected line within {timeout:?} (logs: {}, {})",
                    self.describe(),
                    self.stdout_log.display(),
                    self.stderr_log.display()
                ),
            }
        }
    }

    /// The stdout lines already received, without waiting.
    pub fn drain_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            match self.lines.try_recv() {
                Ok(line) => lines.push(line),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return lines,
            }
        }
    }

    /// Every remaining stdout line up to EOF (typically after the child exited or was killed);
    /// fails if stdout is still open after `timeout`.
    pub fn read_to_end(&self, timeout: Duration) -> Result<Vec<String>> {
        let deadline = Instant::now() + timeout;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(RecvTimeoutError::Disconnected) => return Ok(lines),
                Err(RecvTimeoutError::Timeout) => bail!(
                    "{}: stdout still open after {timeout:?} ({} lines read)",
                    self.describe(),
                    lines.len()
                ),
            }
        }
    }

    fn signal(&mut self, signal: libc::c_int, what: &str) -> Result<()> {
        if let Some(status) = self.try_wait()? {
            bail!(
                "cannot send {what} to {}: it already exited ({status})",
                self.describe()
            );
        }
        kill_group(self.pid, signal)
            .with_context(|| format!("sending {what} to {}", self.describe()))
    }

    fn describe(&self) -> String {
        format!("{} (pid {})", self.name, self.pid)
    }

    fn join_reader(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while let Some(handle) = &self.reader {
            if handle.is_finished() {
                if let Some(handle) = self.reader.take() {
                    let _ = handle.join();
                }
                return;
            }
            if Instant::now() >= deadline {
                return;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    fn print_tails(&mut self) {
        self.join_reader(Duration::from_millis(500));
        let status = match self.status {
            Some(status) => status.to_string(),
            None => "still running".to_owned(),
        };
        eprintln!("---- fastdata-tests: {} [{status}]", self.describe());
        for path in [&self.stdout_log, &self.stderr_log] {
            match read_log(path) {
                Ok(text) => {
                    let lines: Vec<&str> = text.lines().collect();
                    let from = lines.len().saturating_sub(TAIL_LINES);
                    eprintln!(
                        "---- last {} lines of {}:",
                        lines.len() - from,
                        path.display()
                    );
                    for line in &lines[from..] {
                        eprintln!("    {line}");
                    }
                }
                Err(err) => eprintln!("---- {err:#}"),
            }
        }
    }
}

fn read_log(path: &Path) -> Result<String> {
    let bytes = fs::read(path).with_context(|| format!("reading log {}", path.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

impl Drop for Process {
    fn drop(&mut self) {
        let running = matches!(self.try_wait(), Ok(None));
        if running {
            let _ = kill_group(self.pid, libc::SIGKILL);
            let _ = self.wait_with_timeout(KILL_WAIT);
        }
        if thread::panicking() {
            self.print_tails();
        }
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.name)
            .field("pid", &self.pid)
            .field("status", &self.status)
            .field("stdout_log", &self.stdout_log)
            .field("stderr_log", &self.stderr_log)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataDir;
    use std::os::unix::process::ExitStatusExt;

    const SHORT: Duration = Duration::from_secs(10);

    fn sh(script: &str) -> ProcessBuilder {
        Process::builder("sh").arg("-c").arg(script)
    }

    /// Polls the child's state until `want` or the timeout.
    fn wait_state(child: &Process, want: char) -> Option<char> {
        let deadline = Instant::now() + SHORT;
        loop {
            let state = child.state();
            if state == Some(want) || Instant::now() >= deadline {
                return state;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn output_goes_to_lines_and_logs() {
        let dir = DataDir::new("proc-output").unwrap();
        let mut child = sh("echo hello; echo world; echo oops >&2; exit 3")
            .name("echoer")
            .spawn(&dir)
            .unwrap();
        assert_eq!(child.read_line(SHORT).unwrap().as_deref(), Some("hello"));
        assert_eq!(child.read_line(SHORT).unwrap().as_deref(), Some("world"));
        assert_eq!(child.read_line(SHORT).unwrap(), None);
        let status = child.wait_with_timeout(SHORT).unwrap();
        assert_eq!(status.code(), Some(3));
        assert_eq!(child.stdout_log_path(), dir.join("echoer.stdout.log"));
        let stdout = child.stdout_log().unwrap();
        assert!(stdout.contains("hello\nworld\n"), "{stdout}");
        let stderr = child.stderr_log().unwrap();
        assert!(stderr.contains("oops"), "{stderr}");
        // Signalling an exited child is refused rather than hitting a recycled pid.
        assert!(child.pause().is_err());
        assert_eq!(child.kill().unwrap().code(), Some(3));
    }

    #[test]
    fn env_and_current_dir() {
        let dir = DataDir::new("proc-env").unwrap();
        let child = sh("echo \"$FD_TEST_VAR\"; pwd")
            .env("FD_TEST_VAR", "forty-two")
            .current_dir(dir.path())
            .spawn(&dir)
            .unwrap();
        let lines = child.read_to_end(SHORT).unwrap();
        let cwd = fs::canonicalize(dir.path()).unwrap();
        assert_eq!(
            lines,
            vec!["forty-two".to_owned(), cwd.display().to_string()]
        );
    }

    #[test]
    fn pause_resume_kill() {
        let dir = DataDir::new("proc-pause").unwrap();
        let mut child = Process::builder("sleep").arg("30").spawn(&dir).unwrap();
        assert_eq!(wait_state(&child, 'S'), Some('S'));
        child.pause().unwrap();
        assert_eq!(wait_state(&child, 'T'), Some('T'));
        assert!(child.is_running().unwrap());
        child.resume().unwrap();
        assert_eq!(wait_state(&child, 'S'), Some('S'));
        let status = child.kill().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert_eq!(child.state(), None);
    }

    #[test]
    fn terminate_even_when_paused() {
        let dir = DataDir::new("proc-term").unwrap();
        let mut child = Process::builder("sleep").arg("30").spawn(&dir).unwrap();
        child.pause().unwrap();
        assert_eq!(wait_state(&child, 'T'), Some('T'));
        let status = child.terminate(SHORT).unwrap();
        assert_eq!(status.signal(), Some(libc::SIGTERM));
    }

    #[test]
    fn terminate_kills_a_child_that_ignores_sigterm() {
        let dir = DataDir::new("proc-term-ignored").unwrap();
        // `exec` keeps the trap's SIG_IGN disposition in sleep.
        let mut child = sh("trap '' TERM; echo ready; exec sleep 30")
            .spawn(&dir)
            .unwrap();
        child.wait_for_line(SHORT, |l| l == "ready").unwrap();
        let err = child.terminate(Duration::from_millis(300)).unwrap_err();
        assert!(format!("{err:#}").contains("did not exit"), "{err:#}");
        assert!(!child.is_running().unwrap());
    }

    #[test]
    fn wait_and_read_time_out() {
        let dir = DataDir::new("proc-timeout").unwrap();
        let mut child = Process::builder("sleep").arg("30").spawn(&dir).unwrap();
        assert!(child.read_line(Duration::from_millis(50)).is_err());
        assert!(child.wait_with_timeout(Duration::from_millis(50)).is_err());
        assert!(child.is_running().unwrap());
    }

    #[test]
    fn lines_as_they_come_then_sigkill_the_group() {
        let dir = DataDir::new("proc-acked").unwrap();
        let mut child = sh("i=0; while :; do echo \"acked $i\"; i=$((i+1)); sleep 0.01; done")
            .name("appender")
            .spawn(&dir)
            .unwrap();
        let mut lines = vec![child.wait_for_line(SHORT, |l| l == "acked 5").unwrap()];
        child.kill().unwrap();
        // Killing the group (sh and its sleep) closes stdout, so this reaches EOF.
        lines.extend(child.read_to_end(SHORT).unwrap());
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(line, &format!("acked {}", i + 5));
        }
        let log = child.stdout_log().unwrap();
        assert!(log.contains("acked 0\n"), "{log}");
    }

    #[test]
    fn drop_kills_and_reaps() {
        let dir = DataDir::new("proc-drop").unwrap();
        let child = Process::builder("sleep").arg("30").spawn(&dir).unwrap();
        let proc_dir = PathBuf::from(format!("/proc/{}", child.pid()));
        assert!(proc_dir.exists());
        drop(child);
        assert!(!proc_dir.exists(), "child still exists after drop");
    }

    #[test]
    fn logs_kept_and_printed_on_failure() {
        let (tx, rx) = mpsc::channel();
        let joined = thread::spawn(move || {
            let dir = DataDir::new("proc-kept").unwrap();
            let child = sh("echo last words; echo on stderr >&2; exec sleep 30")
                .name("doomed")
                .spawn(&dir)
                .unwrap();
            child.wait_for_line(SHORT, |l| l == "last words").unwrap();
            tx.send((dir.path().to_path_buf(), child.pid())).unwrap();
            panic!("deliberate failure to check that logs are kept");
        })
        .join();
        assert!(joined.is_err());
        let (path, pid) = rx.recv().unwrap();
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
        let stdout = fs::read_to_string(path.join("doomed.stdout.log")).unwrap();
        assert!(stdout.contains("last words"), "{stdout}");
        let stderr = fs::read_to_string(path.join("doomed.stderr.log")).unwrap();
        assert!(stderr.contains("on stderr"), "{stderr}");
        fs::remove_dir_all(path).unwrap();
    }

    #[test]
    fn restart_appends_to_the_same_logs() {
        let dir = DataDir::new("proc-restart").unwrap();
        for i in 0..2 {
            let mut child = sh(&format!("echo run {i}"))
                .name("server")
                .spawn(&dir)
                .unwrap();
            child.wait_with_timeout(SHORT).unwrap();
        }
        let log = fs::read_to_string(dir.join("server.stdout.log")).unwrap();
        assert!(log.contains("run 0\n") && log.contains("run 1\n"), "{log}");
        assert_eq!(log.matches("==== server:").count(), 2, "{log}");
    }

    #[test]
    fn spawn_failure_names_the_program() {
        let dir = DataDir::new("proc-missing").unwrap();
        let err = Process::builder("/nonexistent/fastdata-nope")
            .spawn(&dir)
            .unwrap_err();
        assert!(format!("{err:#}").contains("fastdata-nope"), "{err:#}");
    }
}
