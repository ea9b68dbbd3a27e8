//! fastdata-log: the storage engine of the log.
//!
//! Owns record batches (Kafka's RecordBatch v2), segments with their offset and time indexes, the
//! partition log (append, read, truncate, retention, recovery), group commit, the idempotent
//! producer's state, the leader-epoch cache and compaction, plus the storage fault layer that lets
//! tests cut power. It does no networking and knows nothing of topics, brokers or replication
//! protocols: those sit above it, and call into [`PartitionLog`] from their own threads.
//!
//! Map of the modules, bottom up:
//! - [`storage`]: the file and directory trait every I/O goes through, the real filesystem and
//!   the simulated one that models power loss.
//! - [`batch`]: RecordBatch v2 encode, decode, validate, records, codecs, builder.
//! - `index`, `segment`: a `<base>.log` file with its mmapped offset and time indexes.
//! - [`producer`], [`epoch`]: idempotent-producer state and the leader-epoch cache, both rebuilt
//!   from batch headers and checkpointed beside the segments.
//! - [`partition`]: the partition log itself; [`cleaner`]: compaction; [`checkpoint`]: the small
//!   offset files.

pub mod batch;
pub mod checkpoint;
pub mod cleaner;
pub mod clock;
pub mod config;
pub mod epoch;
pub mod error;
mod index;
pub mod partition;
pub mod producer;
mod segment;
pub mod storage;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{CleanupPolicy, LogConfig};
pub use error::{Error, Result};
pub use partition::{AppendInfo, Appended, PartitionLog, ReadResult, RecoveryReport};
