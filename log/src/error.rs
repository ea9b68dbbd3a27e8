//! The crate's one error type. Variants are what a caller can act on: which resource, and whether
//! retrying can help. The broker maps them to Kafka error codes at its edge, once.

use std::io;
use std::path::PathBuf;

use crate::batch::BatchError;

/// Result alias for the log engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the log engine can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O call failed. `path` names the file or directory it was made on.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A record batch failed validation; the reason names the field and its position.
    #[error("invalid record batch: {0}")]
    InvalidBatch(#[from] BatchError),
    /// A batch is larger than the topic's `max.message.bytes`.
    #[error("record batch of {size} bytes exceeds max.message.bytes ({max})")]
    BatchTooLarge { size: usize, max: usize },
    /// A read asked for an offset outside `[log_start_offset, log_end_offset]`.
    #[error("offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },
    /// The idempotent producer sent a sequence number that does not follow the last one stored.
    #[error(
        "out-of-order sequence for producer {producer_id} (epoch {producer_epoch}): \
         expected {expected_sequence}, got {received_sequence}"
    )]
    OutOfOrderSequence {
        producer_id: i64,
        producer_epoch: i16,
        expected_sequence: i32,
        received_sequence: i32,
    },
    /// The producer's epoch is older than the one stored: a newer instance has fenced it.
    #[error(
        "producer {producer_id} is fenced: epoch {producer_epoch} is older than {current_epoch}"
    )]
    ProducerFenced {
        producer_id: i64,
        producer_epoch: i16,
        current_epoch: i16,
    },
    /// A truncation removed appended offsets before they became durable (a follower truncating
    /// to its leader while appending); they are not in the log.
    #[error(
        "offsets up to {last_offset} were truncated away before they became durable \
         (log end {log_end_offset})"
    )]
    TruncatedBeforeDurable {
        last_offset: i64,
        log_end_offset: i64,
    },
    /// A leader epoch went backwards (the log only ever moves to newer epochs).
    #[error("leader epoch {epoch} is older than the latest epoch {latest_epoch} in this log")]
    StaleLeaderEpoch { epoch: i32, latest_epoch: i32 },
    /// An earlier write or fsync failed; the log refuses further work until it is reopened
    /// (after an fsync error the page cache can no longer be trusted).
    #[error("log {} is offline after an I/O failure: {reason}", dir.display())]
    LogOffline { dir: PathBuf, reason: String },
    /// A file the engine owns is malformed (a checkpoint, snapshot or file name).
    #[error("corrupt {}: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },
    /// A configuration value is out of its allowed range.
    #[error("invalid configuration {key}: {detail}")]
    Config { key: &'static str, detail: String },
}

impl Error {
    /// Wrap an `io::Error` with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A malformed file the engine owns.
    pub fn corrupt(path: impl Into<PathBuf>, detail: impl Into<String>) -> Self {
        Error::Corrupt {
            path: path.into(),
            detail: detail.into(),
        }
    }
}

/// Attach a path to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}
