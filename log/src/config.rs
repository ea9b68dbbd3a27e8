//! Per-partition log configuration, under Kafka's topic-config names, with Kafka's defaults.
//!
//! The broker maps topic configs (`segment.bytes`, `retention.ms`, ...) onto [`LogConfig`]; the
//! engine reads nothing from the environment.

/// What happens to old data (`cleanup.policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CleanupPolicy {
    /// `delete`: whole closed segments are deleted by `retention.ms` / `retention.bytes`.
    pub delete: bool,
    /// `compact`: the cleaner keeps the newest record per key.
    pub compact: bool,
}

impl CleanupPolicy {
    /// `cleanup.policy=delete`, Kafka's default.
    pub const DELETE: Self = CleanupPolicy {
        delete: true,
        compact: false,
    };
    /// `cleanup.policy=compact`.
    pub const COMPACT: Self = CleanupPolicy {
        delete: false,
        compact: true,
    };
}

/// Configuration of one partition log. Field names follow Kafka's keys with units in the name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// `segment.bytes`: roll the active segment before it would grow past this size.
    pub segment_bytes: u64,
    /// `segment.ms`: roll the active segment once it is this old (checked on append).
    pub segment_ms: i64,
    /// `segment.index.bytes`: size the offset and time indexes are preallocated to.
    pub segment_index_bytes: usize,
    /// `index.interval.bytes`: bytes of log between two offset-index entries.
    pub index_interval_bytes: usize,
    /// `retention.bytes`: delete closed segments while the log is larger than this (-1: no limit).
    pub retention_bytes: i64,
    /// `retention.ms`: delete closed segments whose newest record is older than this (-1: keep).
    pub retention_ms: i64,
    /// `max.message.bytes`: the largest record batch accepted.
    pub max_message_bytes: usize,
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
    /// `delete.retention.ms`: how long the cleaner keeps tombstones after it first sees them.
    pub delete_retention_ms: i64,
    /// `flush.messages`: fsync once this many messages are unflushed (`u64::MAX`: never).
    pub flush_messages: u64,
    /// `flush.ms`: fsync once the oldest unflushed append is this old (`i64::MAX`: never); applied
    /// by [`crate::PartitionLog::flush_if_due`], which the owner calls periodically.
    pub flush_ms: i64,
    /// `producer.id.expiration.ms`: drop idempotent-producer state idle for this long.
    pub producer_id_expiration_ms: i64,
    /// The cleaner's bound on the bytes of keys it holds in memory in one pass
    /// (Kafka's `log.cleaner.dedupe.buffer.size`).
    pub cleaner_dedupe_buffer_bytes: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            segment_index_bytes: 10 * 1024 * 1024,
            index_interval_bytes: 4096,
            retention_bytes: -1,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            max_message_bytes: 1024 * 1024 + 12,
            cleanup_policy: CleanupPolicy::DELETE,
            delete_retention_ms: 24 * 60 * 60 * 1000,
            flush_messages: u64::MAX,
            flush_ms: i64::MAX,
            producer_id_expiration_ms: 24 * 60 * 60 * 1000,
            cleaner_dedupe_buffer_bytes: 128 * 1024 * 1024,
        }
    }
}

impl LogConfig {
    /// Check the values a partition cannot work with.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |key, detail: String| Err(crate::Error::Config { key, detail });
        if self.segment_bytes < 64 {
            return bad(
                "segment.bytes",
                format!("{} is below 64", self.segment_bytes),
            );
        }
        if self.segment_index_bytes < 24 {
            return bad(
                "segment.index.bytes",
                format!("{} is below 24", self.segment_index_bytes),
            );
        }
        if self.segment_ms <= 0 {
            return bad("segment.ms", format!("{} is not positive", self.segment_ms));
        }
        if self.max_message_bytes < crate::batch::HEADER_LEN {
            return bad(
                "max.message.bytes",
                format!("{} is smaller than a batch header", self.max_message_bytes),
            );
        }
        if self.flush_messages == 0 {
            return bad(
                "flush.messages",
                "0 is not allowed (use 1 for every message)".into(),
            );
        }
        Ok(())
    }
}
