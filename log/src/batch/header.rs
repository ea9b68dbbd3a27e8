//! The fixed 61-byte header of a Kafka RecordBatch v2 (big-endian). Layout, with the CRC-32C
//! covering bytes 21..end:
//!
//! | off | field                | type | notes                                    |
//! |-----|----------------------|------|------------------------------------------|
//! | 0   | baseOffset           | i64  | stamped by the leader, outside the CRC   |
//! | 8   | batchLength          | i32  | bytes after this field                   |
//! | 12  | partitionLeaderEpoch | i32  | stamped by the leader, outside the CRC   |
//! | 16  | magic                | i8   | 2                                        |
//! | 17  | crc                  | u32  | CRC-32C of bytes 21..end                 |
//! | 21  | attributes           | i16  | codec, timestamp type, txn, control, ... |
//! | 23  | lastOffsetDelta      | i32  |                                          |
//! | 27  | baseTimestamp        | i64  |                                          |
//! | 35  | maxTimestamp         | i64  |                                          |
//! | 43  | producerId           | i64  | -1 if none                               |
//! | 51  | producerEpoch        | i16  | -1 if none                               |
//! | 53  | baseSequence         | i32  | -1 if none                               |
//! | 57  | recordsCount         | i32  | records (possibly compressed) follow     |

use super::{BatchError, Compression};

/// Size of the batch header in bytes.
pub const HEADER_LEN: usize = 61;
/// Bytes before `batchLength`'s count starts: a batch occupies `LOG_OVERHEAD + batch_length` bytes.
pub const LOG_OVERHEAD: usize = 12;
/// The only magic value this engine reads and writes.
pub const MAGIC_V2: i8 = 2;
/// Offset of the first byte covered by the CRC.
pub const CRC_START: usize = 21;
/// Offset of the CRC field.
pub const CRC_OFFSET: usize = 17;
/// `producer_id` of a batch sent without an idempotent producer.
pub const NO_PRODUCER_ID: i64 = -1;
/// `producer_epoch` of a batch sent without an idempotent producer.
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// `base_sequence` of a batch sent without an idempotent producer.
pub const NO_SEQUENCE: i32 = -1;

const ATTR_COMPRESSION_MASK: i16 = 0x07;
const ATTR_LOG_APPEND_TIME: i16 = 0x08;
const ATTR_TRANSACTIONAL: i16 = 0x10;
const ATTR_CONTROL: i16 = 0x20;
const ATTR_DELETE_HORIZON: i16 = 0x40;

/// The decoded fixed header of one batch. Parsing it checks only that the bytes are there and the
/// magic is 2; [`super::RecordBatch::validate`] checks the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}
fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

impl BatchHeader {
    /// Parse the header at the start of `buf`. Fails if fewer than [`HEADER_LEN`] bytes are given
    /// or the magic byte is not 2.
    pub fn parse(buf: &[u8]) -> Result<Self, BatchError> {
        if buf.len() < HEADER_LEN {
            return Err(BatchError::Truncated {
                needed: HEADER_LEN,
                available: buf.len(),
            });
        }
        let magic = buf[16] as i8;
        if magic != MAGIC_V2 {
            return Err(BatchError::UnsupportedMagic(magic));
        }
        Ok(BatchHeader {
            base_offset: be_i64(buf, 0),
            batch_length: be_i32(buf, 8),
            partition_leader_epoch: be_i32(buf, 12),
            magic,
            crc: be_i32(buf, CRC_OFFSET) as u32,
            attributes: be_i16(buf, 21),
            last_offset_delta: be_i32(buf, 23),
            base_timestamp: be_i64(buf, 27),
            max_timestamp: be_i64(buf, 35),
            producer_id: be_i64(buf, 43),
            producer_epoch: be_i16(buf, 51),
            base_sequence: be_i32(buf, 53),
            records_count: be_i32(buf, 57),
        })
    }

    /// Read only `baseOffset` and `batchLength` (the first 12 bytes): enough to walk a segment.
    pub fn peek_offset_and_length(buf: &[u8]) -> Option<(i64, i32)> {
        if buf.len() < LOG_OVERHEAD {
            return None;
        }
        Some((be_i64(buf, 0), be_i32(buf, 8)))
    }

    /// Total size of the batch on disk and on the wire.
    pub fn total_size(&self) -> usize {
        LOG_OVERHEAD + self.batch_length.max(0) as usize
    }

    /// The offset of the batch's last record (records occupy `base_offset..=last_offset`).
    pub fn last_offset(&self) -> i64 {
        // Saturating: the base offset is outside the CRC, so a corrupt one must not overflow.
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    /// The offset after the batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// The sequence number of the batch's last record, wrapping at `i32::MAX` as Kafka does.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence == NO_SEQUENCE {
            return NO_SEQUENCE;
        }
        let last = i64::from(self.base_sequence) + i64::from(self.last_offset_delta);
        if last > i64::from(i32::MAX) {
            (last - i64::from(i32::MAX) - 1) as i32
        } else {
            last as i32
        }
    }

    /// The codec in attribute bits 0-2.
    pub fn compression(&self) -> Result<Compression, BatchError> {
        Compression::from_attribute((self.attributes & ATTR_COMPRESSION_MASK) as u8)
    }

    /// Whether the broker set the timestamps (`LogAppendTime`) rather than the producer.
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & ATTR_LOG_APPEND_TIME != 0
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    /// Whether the batch holds control records (transaction markers).
    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    /// Whether `base_timestamp` holds the delete horizon set by the cleaner (KIP-534).
    pub fn has_delete_horizon(&self) -> bool {
        self.attributes & ATTR_DELETE_HORIZON != 0
    }

    /// Whether the batch was written by an idempotent producer.
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }
}

/// The bits of `attributes`, for code that builds or rewrites batches (builder, cleaner,
/// transaction markers).
pub mod attributes {
    /// Bits 0-2: the codec.
    pub const COMPRESSION_MASK: i16 = super::ATTR_COMPRESSION_MASK;
    /// Bit 3: timestamps are `LogAppendTime`.
    pub const LOG_APPEND_TIME: i16 = super::ATTR_LOG_APPEND_TIME;
    /// Bit 4: the batch belongs to a transaction.
    pub const TRANSACTIONAL: i16 = super::ATTR_TRANSACTIONAL;
    /// Bit 5: the batch holds control records.
    pub const CONTROL: i16 = super::ATTR_CONTROL;
    /// Bit 6: `base_timestamp` is the delete horizon (KIP-534).
    pub const DELETE_HORIZON: i16 = super::ATTR_DELETE_HORIZON;
}

/// The first 17 bytes of a batch with a new base offset and leader epoch stamped in, for writing in
/// front of the unchanged rest of the batch (bytes 17..) — both fields sit outside the CRC, so the
/// batch stays valid and its payload is never copied. Panics if `batch` is shorter than 17 bytes.
pub fn stamped_prefix(batch: &[u8], base_offset: i64, leader_epoch: i32) -> [u8; CRC_OFFSET] {
    let mut prefix = [0u8; CRC_OFFSET];
    prefix.copy_from_slice(&batch[..CRC_OFFSET]);
    prefix[0..8].copy_from_slice(&base_offset.to_be_bytes());
    prefix[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
    prefix
}

/// Stamp base offset and leader epoch into a batch held in a mutable buffer (no CRC change).
/// Panics if `batch` is shorter than 16 bytes (callers pass validated batches).
pub fn stamp(batch: &mut [u8], base_offset: i64, leader_epoch: i32) {
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
    batch[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
}
