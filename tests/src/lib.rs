//! fastdata-tests: the one process helper of fastdata's end-to-end tests, benchmarks and fault
//! runs.
//!
//! Everything that runs a real program as a child process goes through this crate, so every later
//! test, benchmark (`benches/`) and fault run (`jepsen/`) gets the same guarantees:
//!
//! - [`fastdata_bin`] finds the `fastdata` binary that the test command (`scripts/test.sh`) built
//!   just before the tests and passed in `FASTDATA_BIN`; without it, it finds the binary in the
//!   Cargo target directory and refuses it if it is older than its sources. No test runs a stale
//!   binary.
//! - [`DataDir`] is a per-test directory under `<target dir>/test-data/`, removed when the test
//!   passes and kept, with its path printed, when it fails.
//! - [`Process`] (built with [`ProcessBuilder`]) is a child process whose stdout and stderr go to
//!   log files in a directory of your choice (normally its [`DataDir`]), whose stdout lines can be
//!   read as they come, and which can be killed (SIGKILL), paused (SIGSTOP), resumed (SIGCONT) and
//!   terminated (SIGTERM, bounded wait). Dropping it kills it, so no test leaks processes; if the
//!   test is panicking, the tails of its logs are printed.
//!
//! What it owns: finding binaries, directories, spawning, signals, logs. What it does not own
//! (yet): starting a `fastdata` server, waiting for its readiness (`/ready` on the admin port) and
//! handing out its addresses; those join this crate with the broker issue, built on [`Process`].
//!
//! This crate is Linux-only (it reads `/proc` and uses Linux's parent-death signal).
//!
//! ```no_run
//! use std::time::Duration;
//! use fastdata_tests::{fastdata_bin, DataDir, Process};
//!
//! let dir = DataDir::new("example").unwrap();
//! let mut child = Process::builder(fastdata_bin()).arg("dev").spawn(&dir).unwrap();
//! let status = child.wait_with_timeout(Duration::from_secs(10)).unwrap();
//! assert_eq!(status.code(), Some(2));
//! ```

mod binary;
mod data_dir;
pub mod log_workload;
mod process;

pub use binary::{fastdata_bin, try_fastdata_bin, FASTDATA_BIN_ENV};
pub use data_dir::{test_data_root, DataDir, KEEP_TEST_DATA_ENV, TEST_DATA_DIR_ENV};
pub use process::{Process, ProcessBuilder};
