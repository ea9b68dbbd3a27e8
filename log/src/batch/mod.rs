//! Kafka RecordBatch v2: the one format of the log on the wire, on disk and between replicas.
//!
//! * [`RecordBatch`] is a validated batch over `Bytes` (zero-copy): header, length and CRC checks
//!   in [`RecordBatch::validate`], the records themselves in [`RecordBatch::validate_records`]
//!   (and, for producer batches, [`RecordBatch::validate_client_records`]).
//! * [`split_batches`] walks concatenated batches (a Produce record set, a segment read).
//! * [`Record`] / [`RecordHeader`] are the parsed records; [`Compression`] the five codecs.
//! * [`BatchBuilder`] builds batches (clients, tests); [`encode_batch`] re-encodes kept records
//!   for the log cleaner.
//!
//! Nothing here panics on input bytes, and a hostile length never causes an allocation larger than
//! the bytes at hand or the caller's decompression limit.

mod builder;
mod compression;
mod header;
mod records;
pub mod varint;

use bytes::Bytes;

pub use builder::{encode_batch, encode_batch_with_delete_horizon, BatchBuilder};
pub use compression::{Compression, XERIAL_MAGIC};
pub use header::*;
use records::Fields;
pub use records::{Record, RecordHeader, RecordIter, MIN_RECORD_LEN};

/// `batch_length` of a batch with no records: the header minus [`LOG_OVERHEAD`].
pub const MIN_BATCH_LENGTH: i32 = (HEADER_LEN - LOG_OVERHEAD) as i32;

/// What is wrong with a record batch, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("truncated: needed {needed} bytes, {available} available")]
    Truncated { needed: usize, available: usize },
    #[error("unsupported magic {0} (only record batch v2 is supported)")]
    UnsupportedMagic(i8),
    #[error("unknown compression codec {0}")]
    UnknownCompression(u8),
    /// `batchLength` is below the 49 bytes of a header.
    #[error("batchLength {0} is smaller than the minimum {MIN_BATCH_LENGTH}")]
    InvalidBatchLength(i32),
    /// The buffer holds more than the one batch its `batchLength` describes.
    #[error("{available} bytes given for one batch of {batch_size} bytes")]
    TrailingBytes { batch_size: usize, available: usize },
    /// The CRC-32C over bytes 21..end does not match the `crc` field.
    #[error("CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch { stored: u32, computed: u32 },
    /// `recordsCount` is negative.
    #[error("recordsCount {0} is negative")]
    InvalidRecordsCount(i32),
    /// `lastOffsetDelta` is negative or leaves no room for `recordsCount` records.
    #[error("lastOffsetDelta {last_offset_delta} cannot hold recordsCount {records_count}")]
    InvalidLastOffsetDelta {
        last_offset_delta: i32,
        records_count: i32,
    },
    /// The codec failed to compress or decompress.
    #[error("{codec:?} codec error: {detail}")]
    Codec { codec: Compression, detail: String },
    /// Decompressed records would exceed the caller's limit.
    #[error("decompressed records exceed the limit of {limit} bytes")]
    DecompressedTooLarge { limit: usize },
    /// Record `index` (0-based, in batch order) is malformed.
    #[error("record {index}: {reason}")]
    InvalidRecord { index: usize, reason: &'static str },
    /// The records ran out before `recordsCount`.
    #[error("recordsCount is {expected} but the batch holds {actual} records")]
    RecordCountMismatch { expected: usize, actual: usize },
    /// Bytes remain after the last of `recordsCount` records.
    #[error("{count} bytes after the last record")]
    TrailingRecordBytes { count: usize },
    /// A batch from a producer breaks a rule Kafka's `LogValidator` applies to client batches.
    #[error("invalid client batch: {0}")]
    InvalidClientBatch(&'static str),
    /// A batch from a producer must number its records 0..n-1.
    #[error("record {index} has offsetDelta {actual}, expected {expected}")]
    ClientOffsetDelta {
        index: usize,
        expected: i32,
        actual: i32,
    },
    /// A batch must hold at least one record to be built.
    #[error("cannot build a batch with no records")]
    EmptyBatch,
    /// A field to encode does not fit its wire type.
    #[error("{0} is too large to encode")]
    TooLarge(&'static str),
    /// The batch starting at byte `position` of a larger buffer is invalid.
    #[error("batch at byte {position}: {source}")]
    At {
        position: usize,
        #[source]
        source: Box<BatchError>,
    },
}

impl BatchError {
    pub(crate) fn codec(codec: Compression, e: std::io::Error) -> Self {
        BatchError::Codec {
            codec,
            detail: e.to_string(),
        }
    }

    /// Wrap with the byte position of the batch in a larger buffer.
    pub fn at(self, position: usize) -> Self {
        BatchError::At {
            position,
            source: Box::new(self),
        }
    }

    /// The error without its [`BatchError::At`] position wrappers.
    pub fn root(&self) -> &BatchError {
        match self {
            BatchError::At { source, .. } => source.root(),
            other => other,
        }
    }
}

/// CRC-32C of the bytes the batch CRC covers (`batch[21..]`).
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(batch.get(CRC_START..).unwrap_or_default())
}

/// One validated batch over shared bytes. Construction checked the header, the length and the
/// CRC; the records are checked on demand (they may be compressed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordBatch {
    header: BatchHeader,
    bytes: Bytes,
}

impl RecordBatch {
    /// Validate `bytes` as exactly one batch: header present, `batchLength` ≥ 49 and equal to the
    /// buffer, magic 2, CRC-32C, `recordsCount` ≥ 0, `lastOffsetDelta` ≥ 0 and
    /// `recordsCount ≤ lastOffsetDelta + 1` (compacted batches may have gaps), known codec.
    pub fn validate(bytes: Bytes) -> Result<RecordBatch, BatchError> {
        let (_, batch_length) =
            BatchHeader::peek_offset_and_length(&bytes).ok_or(BatchError::Truncated {
                needed: LOG_OVERHEAD,
                available: bytes.len(),
            })?;
        if batch_length < MIN_BATCH_LENGTH {
            return Err(BatchError::InvalidBatchLength(batch_length));
        }
        let batch_size = LOG_OVERHEAD + batch_length as usize;
        if bytes.len() < batch_size {
            return Err(BatchError::Truncated {
                needed: batch_size,
                available: bytes.len(),
            });
        }
        if bytes.len() > batch_size {
            return Err(BatchError::TrailingBytes {
                batch_size,
                available: bytes.len(),
            });
        }
        let header = BatchHeader::parse(&bytes)?;
        let computed = compute_crc(&bytes);
        if computed != header.crc {
            return Err(BatchError::CrcMismatch {
                stored: header.crc,
                computed,
            });
        }
        if header.records_count < 0 {
            return Err(BatchError::InvalidRecordsCount(header.records_count));
        }
        if header.last_offset_delta < 0
            || i64::from(header.records_count) > i64::from(header.last_offset_delta) + 1
        {
            return Err(BatchError::InvalidLastOffsetDelta {
                last_offset_delta: header.last_offset_delta,
                records_count: header.records_count,
            });
        }
        header.compression()?;
        Ok(RecordBatch { header, bytes })
    }

    /// The decoded header.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// The whole batch, as received.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The whole batch, as received.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// Size of the batch in bytes (`12 + batchLength`).
    pub fn total_size(&self) -> usize {
        self.bytes.len()
    }

    /// The codec (validated at construction).
    pub fn compression(&self) -> Compression {
        self.header.compression().unwrap_or(Compression::None)
    }

    /// The records section as stored (compressed if the batch is), zero-copy.
    pub fn raw_records(&self) -> Bytes {
        self.bytes.slice(HEADER_LEN..)
    }

    /// The records section, decompressed if needed (at most `max_decompressed_bytes`). For an
    /// uncompressed batch this is a zero-copy slice and the limit does not apply.
    pub fn decompressed_records(&self, max_decompressed_bytes: usize) -> Result<Bytes, BatchError> {
        match self.compression() {
            Compression::None => Ok(self.raw_records()),
            codec => codec
                .decompress(
                    self.bytes.get(HEADER_LEN..).unwrap_or_default(),
                    max_decompressed_bytes,
                )
                .map(Bytes::from),
        }
    }

    /// An iterator over the records (decompressing first, bounded by `max_decompressed_bytes`).
    pub fn records_iter(&self, max_decompressed_bytes: usize) -> Result<RecordIter, BatchError> {
        self.walk(max_decompressed_bytes, Fields::Build)
    }

    fn walk(
        &self,
        max_decompressed_bytes: usize,
        fields: Fields,
    ) -> Result<RecordIter, BatchError> {
        let payload = self.decompressed_records(max_decompressed_bytes)?;
        Ok(RecordIter::new(
            payload,
            self.header.records_count.max(0) as usize,
            fields,
        ))
    }

    /// All records, parsed. Keys, values and headers share the batch's (or the decompressed)
    /// bytes. Does the checks of [`RecordBatch::validate_records`] on the way.
    pub fn records(&self, max_decompressed_bytes: usize) -> Result<Vec<Record>, BatchError> {
        let iter = self.records_iter(max_decompressed_bytes)?;
        let cap = self
            .header
            .records_count
            .max(0)
            .unsigned_abs()
            .min((iter.payload().len() / MIN_RECORD_LEN) as u32) as usize;
        let mut out = Vec::with_capacity(cap);
        let mut prev = None;
        for r in iter {
            let r = r?;
            self.check_offset_delta(out.len(), prev, r.offset_delta)?;
            prev = Some(r.offset_delta);
            out.push(r);
        }
        Ok(out)
    }

    fn check_offset_delta(
        &self,
        index: usize,
        prev: Option<i32>,
        delta: i32,
    ) -> Result<(), BatchError> {
        if delta < 0 || prev.is_some_and(|p| delta <= p) {
            return Err(BatchError::InvalidRecord {
                index,
                reason: "offsetDelta is not strictly increasing from 0",
            });
        }
        if delta > self.header.last_offset_delta {
            return Err(BatchError::InvalidRecord {
                index,
                reason: "offsetDelta exceeds lastOffsetDelta",
            });
        }
        Ok(())
    }

    /// Walk every record (decompressing, bounded by `max_decompressed_bytes`) and check: exactly
    /// `recordsCount` records, each record's length within the batch and fully used, offset deltas
    /// strictly increasing and ≤ `lastOffsetDelta`, key/value/header lengths in bounds, no bytes
    /// after the last record.
    pub fn validate_records(&self, max_decompressed_bytes: usize) -> Result<(), BatchError> {
        let mut prev = None;
        for (index, r) in self
            .walk(max_decompressed_bytes, Fields::Check)?
            .enumerate()
        {
            let r = r?;
            self.check_offset_delta(index, prev, r.offset_delta)?;
            prev = Some(r.offset_delta);
        }
        Ok(())
    }

    /// What Kafka's `LogValidator` demands of a producer batch's header, checkable without
    /// decompressing: at least one record, `lastOffsetDelta == recordsCount - 1`, no control
    /// batch, and a `baseSequence` ≥ 0 when a producer id is set.
    pub fn validate_client_header(&self) -> Result<(), BatchError> {
        let h = &self.header;
        if h.records_count <= 0 {
            return Err(BatchError::InvalidClientBatch(
                "recordsCount must be positive",
            ));
        }
        if i64::from(h.last_offset_delta) != i64::from(h.records_count) - 1 {
            return Err(BatchError::InvalidClientBatch(
                "lastOffsetDelta must equal recordsCount - 1",
            ));
        }
        if h.is_control() {
            return Err(BatchError::InvalidClientBatch(
                "clients may not write control batches",
            ));
        }
        if h.has_producer_id() && h.base_sequence < 0 {
            return Err(BatchError::InvalidClientBatch(
                "baseSequence must be set with a producer id",
            ));
        }
        Ok(())
    }

    /// [`RecordBatch::validate_client_header`] and [`RecordBatch::validate_records`], with offset
    /// deltas exactly `0..n-1`: everything Kafka's `LogValidator` checks of a producer's batch.
    pub fn validate_client_records(&self, max_decompressed_bytes: usize) -> Result<(), BatchError> {
        self.validate_client_header()?;
        for (index, r) in self
            .walk(max_decompressed_bytes, Fields::Check)?
            .enumerate()
        {
            let r = r?;
            let expected = i32::try_from(index).unwrap_or(i32::MAX);
            if r.offset_delta != expected {
                return Err(BatchError::ClientOffsetDelta {
                    index,
                    expected,
                    actual: r.offset_delta,
                });
            }
        }
        Ok(())
    }
}

/// Iterator over concatenated batches; see [`split_batches`].
#[derive(Debug, Clone)]
pub struct SplitBatches {
    bytes: Bytes,
    pos: usize,
    failed: bool,
}

impl Iterator for SplitBatches {
    type Item = Result<RecordBatch, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.bytes.len() {
            return None;
        }
        let position = self.pos;
        let rest = self.bytes.get(position..).unwrap_or_default();
        let result = match BatchHeader::peek_offset_and_length(rest) {
            None => Err(BatchError::Truncated {
                needed: LOG_OVERHEAD,
                available: rest.len(),
            }),
            Some((_, len)) if len < MIN_BATCH_LENGTH => Err(BatchError::InvalidBatchLength(len)),
            Some((_, len)) => {
                let size = LOG_OVERHEAD + len as usize;
                if size > rest.len() {
                    Err(BatchError::Truncated {
                        needed: size,
                        available: rest.len(),
                    })
                } else {
                    self.pos += size;
                    RecordBatch::validate(self.bytes.slice(position..position + size))
                }
            }
        };
        if result.is_err() {
            // Without a trustworthy length there is no next batch to find.
            self.failed = true;
        }
        Some(result.map_err(|e| e.at(position)))
    }
}

/// Split concatenated batches (a Produce request's record set, a segment read) into validated
/// batches, zero-copy. Errors are [`BatchError::At`] with the byte position of the bad batch; the
/// iterator ends after the first error. A truncated last batch is an error
/// ([`BatchError::Truncated`] inside `At`): a caller reading a fetch or a torn segment tail may
/// treat it as the end.
pub fn split_batches(bytes: &Bytes) -> SplitBatches {
    SplitBatches {
        bytes: bytes.clone(),
        pos: 0,
        failed: false,
    }
}

#[cfg(test)]
mod tests;
