//! Kafka RecordBatch v2: the one format of the log on the wire, on disk and between replicas.

mod header;

pub use header::*;

/// What is wrong with a record batch, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("truncated: needed {needed} bytes, {available} available")]
    Truncated { needed: usize, available: usize },
    #[error("unsupported magic {0} (only record batch v2 is supported)")]
    UnsupportedMagic(i8),
    #[error("unknown compression codec {0}")]
    UnknownCompression(u8),
}

/// The codecs Kafka clients send, by their attribute value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    None = 0,
    Gzip = 1,
    Snappy = 2,
    Lz4 = 3,
    Zstd = 4,
}

impl Compression {
    /// The codec for an attribute value (bits 0-2).
    pub fn from_attribute(value: u8) -> Result<Self, BatchError> {
        Ok(match value {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            other => return Err(BatchError::UnknownCompression(other)),
        })
    }
}
