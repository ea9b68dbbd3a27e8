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
//! - [`Broker`] (built with [`BrokerBuilder`]) is a `fastdata broker` process on loopback, on
//!   ports the kernel picks: started with its data under the test's [`DataDir`], ready (both
//!   listeners bound and `GET /ready` answering 200, bounded waits) when `start` returns; it hands
//!   out its addresses (`bootstrap()`, `kafka_addr()`, `admin_addr()`), its `/metrics` and its
//!   log paths, and can be killed (SIGKILL), terminated (SIGTERM, exit status 0 required) and
//!   restarted on the same data and the same ports. [`loopback_host`] gives each test a
//!   127.0.0.x address of its own; [`http_get`] is the small HTTP/1.0 client behind `/ready`.
//! - [`Node`] (built with [`NodeBuilder`]) is a `fastdata node` process (the CQL store), the
//!   same way: its CQL listener (`cql_addr()`, `contact_point()`) and admin port, kill,
//!   terminate, restart on the same data and ports, `/metrics`. Broker and node share one
//!   process life cycle (`server.rs`), each with its subcommand, listener flags and listening
//!   line.
//! - [`cql_clients`] runs the third-party CQL clients (cqlsh and cassandra-driver from the test
//!   virtualenv) and `fastdata cql` against a node, and parses what they print.
//! - [`clients`] runs the third-party Kafka clients (Debian's kcat, confluent-kafka,
//!   kafka-python) as [`Process`]es against a broker and parses what they print into records and
//!   group events; [`clients::client_command`] is the one place that finds them, and it fails
//!   naming `bash scripts/setup.sh --test` when one is missing.
//!
//! What it owns: finding binaries and clients, directories, spawning, signals, logs, starting
//! and stopping brokers and nodes, driving third-party clients. What it does not own (yet):
//! clusters of several servers (with replication).
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
mod broker;
pub mod clients;
pub mod cql_clients;
mod data_dir;
pub mod log_workload;
mod node;
mod process;
mod server;

pub use binary::{fastdata_bin, try_fastdata_bin, FASTDATA_BIN_ENV};
pub use broker::{Broker, BrokerBuilder, BROKER_START_TIMEOUT, BROKER_STOP_TIMEOUT};
pub use data_dir::{test_data_root, DataDir, KEEP_TEST_DATA_ENV, TEST_DATA_DIR_ENV};
pub use node::{Node, NodeBuilder, NODE_START_TIMEOUT, NODE_STOP_TIMEOUT};
pub use process::{Process, ProcessBuilder};
pub use server::{http_get, loopback_host, HttpResponse};
