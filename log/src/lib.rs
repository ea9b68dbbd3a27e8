//! fastdata-log: the storage engine of the log.
//!
//! Owns record batches (Kafka's RecordBatch v2), segments with their offset and time indexes, the
//! partition log (append, read, truncate, retention, recovery), group commit, the idempotent
//! producer's state, the leader-epoch cache and compaction, plus the storage fault layer that lets
//! tests cut power. It does no networking and knows nothing of topics, brokers or replication
//! protocols: those sit above it.

pub mod batch;
pub mod error;
pub mod storage;

pub use error::{Error, Result};
pub mod epoch;
pub mod producer;
