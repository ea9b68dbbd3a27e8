//! Writing batches: [`BatchBuilder`] for clients and tests, and [`encode_batch`], the lower-level
//! encoder the log cleaner uses to re-encode the records it keeps from a batch.

use bytes::Bytes;

use super::header::attributes;
use super::records::{Record, RecordHeader};
use super::{
    compute_crc, BatchError, BatchHeader, Compression, CRC_OFFSET, HEADER_LEN, LOG_OVERHEAD,
    MAGIC_V2, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE,
};

/// Builds one batch from appended records: `base_offset` 0, `partitionLeaderEpoch` -1,
/// `baseTimestamp` the first record's timestamp, `maxTimestamp` the largest, offsets 0..n-1.
///
/// ```
/// use fastdata_log::batch::{BatchBuilder, Compression, RecordBatch};
/// let mut b = BatchBuilder::new(Compression::Lz4).producer(7, 0, 0);
/// b.append(1_700_000_000_000, Some(b"k"), Some(b"v"), &[(b"h", None)]);
/// let batch = RecordBatch::validate(b.build().unwrap()).unwrap();
/// assert_eq!(batch.records(1 << 20).unwrap().len(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct BatchBuilder {
    compression: Compression,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    records: Vec<(i64, Record)>,
}

impl BatchBuilder {
    /// An empty builder for batches compressed with `compression`, without a producer id.
    pub fn new(compression: Compression) -> Self {
        BatchBuilder {
            compression,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            transactional: false,
            records: Vec::new(),
        }
    }

    /// Mark the batch as written by an idempotent producer.
    pub fn producer(mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Set or clear the transactional attribute.
    pub fn transactional(mut self, transactional: bool) -> Self {
        self.transactional = transactional;
        self
    }

    /// Append a record with an absolute timestamp (ms); its offset delta is its position.
    pub fn append(
        &mut self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&[u8], Option<&[u8]>)],
    ) -> &mut Self {
        let record = Record {
            offset_delta: i32::try_from(self.records.len()).unwrap_or(i32::MAX),
            timestamp_delta: 0,
            key: key.map(Bytes::copy_from_slice),
            value: value.map(Bytes::copy_from_slice),
            headers: headers
                .iter()
                .map(|(k, v)| RecordHeader {
                    key: Bytes::copy_from_slice(k),
                    value: v.map(Bytes::copy_from_slice),
                })
                .collect(),
        };
        self.records.push((timestamp_ms, record));
        self
    }

    /// Records appended so far.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Encode the batch (CRC computed). Fails on an empty builder or a field too large to encode.
    pub fn build(&self) -> Result<Bytes, BatchError> {
        let Some(&(base_timestamp, _)) = self.records.first() else {
            return Err(BatchError::EmptyBatch);
        };
        let n =
            i32::try_from(self.records.len()).map_err(|_| BatchError::TooLarge("records count"))?;
        let max_timestamp = self
            .records
            .iter()
            .map(|(ts, _)| *ts)
            .max()
            .unwrap_or(base_timestamp);
        let mut attrs = self.compression.attribute();
        if self.transactional {
            attrs |= attributes::TRANSACTIONAL;
        }
        let header = BatchHeader {
            base_offset: 0,
            batch_length: 0,
            partition_leader_epoch: -1,
            magic: MAGIC_V2,
            crc: 0,
            attributes: attrs,
            last_offset_delta: n - 1,
            base_timestamp,
            max_timestamp,
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            base_sequence: self.base_sequence,
            records_count: n,
        };
        let mut payload = Vec::new();
        for (ts, r) in &self.records {
            let mut r = r.clone();
            r.timestamp_delta = ts.wrapping_sub(base_timestamp);
            r.encode(&mut payload)?;
        }
        finish(&header, &payload)
    }
}

/// Re-encode `records` under `template`'s header, for the log cleaner. Kept from the template:
/// `base_offset`, `partition_leader_epoch`, `last_offset_delta`, producer id/epoch and
/// `base_sequence`, `attributes` (codec, timestamp type, transactional, control, delete horizon),
/// `base_timestamp` and — deliberately — `max_timestamp` (as Kafka's cleaner keeps it, so the time
/// index and `LogAppendTime` batches stay consistent). Each record keeps its `offset_delta` and
/// `timestamp_delta`; `records_count`, `batch_length` and the CRC are recomputed. Offset deltas
/// must be strictly increasing and within `0..=last_offset_delta`; an empty `records` is allowed
/// (Kafka keeps such batches to preserve producer state).
pub fn encode_batch(template: &BatchHeader, records: &[Record]) -> Result<Bytes, BatchError> {
    encode(*template, records, 0)
}

/// [`encode_batch`] that also sets the KIP-534 delete horizon: attribute bit 6 on and
/// `base_timestamp = delete_horizon_ms`. Record timestamps are unchanged: each `timestamp_delta`
/// (relative to `template.base_timestamp`) is rebased onto the horizon, as Kafka's builder does.
pub fn encode_batch_with_delete_horizon(
    template: &BatchHeader,
    records: &[Record],
    delete_horizon_ms: i64,
) -> Result<Bytes, BatchError> {
    let mut header = *template;
    header.attributes |= attributes::DELETE_HORIZON;
    header.base_timestamp = delete_horizon_ms;
    let shift = template.base_timestamp.wrapping_sub(delete_horizon_ms);
    encode(header, records, shift)
}

fn encode(mut header: BatchHeader, records: &[Record], ts_shift: i64) -> Result<Bytes, BatchError> {
    header.compression()?;
    header.records_count =
        i32::try_from(records.len()).map_err(|_| BatchError::TooLarge("records count"))?;
    let mut payload = Vec::new();
    let mut prev = None;
    for (index, r) in records.iter().enumerate() {
        if r.offset_delta < 0
            || prev.is_some_and(|p| r.offset_delta <= p)
            || r.offset_delta > header.last_offset_delta
        {
            return Err(BatchError::InvalidRecord {
                index,
                reason: "offsetDelta must increase strictly within 0..=lastOffsetDelta",
            });
        }
        prev = Some(r.offset_delta);
        if ts_shift == 0 {
            r.encode(&mut payload)?;
        } else {
            let mut r = r.clone();
            r.timestamp_delta = r.timestamp_delta.wrapping_add(ts_shift);
            r.encode(&mut payload)?;
        }
    }
    finish(&header, &payload)
}

/// Compress `payload` with the header's codec and write header + payload with `batch_length`
/// and the CRC filled in.
pub(super) fn finish(header: &BatchHeader, payload: &[u8]) -> Result<Bytes, BatchError> {
    let body = header.compression()?.compress(payload)?;
    let total = HEADER_LEN + body.len();
    let batch_length =
        i32::try_from(total - LOG_OVERHEAD).map_err(|_| BatchError::TooLarge("batch"))?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&header.base_offset.to_be_bytes());
    out.extend_from_slice(&batch_length.to_be_bytes());
    out.extend_from_slice(&header.partition_leader_epoch.to_be_bytes());
    out.push(MAGIC_V2 as u8);
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&header.attributes.to_be_bytes());
    out.extend_from_slice(&header.last_offset_delta.to_be_bytes());
    out.extend_from_slice(&header.base_timestamp.to_be_bytes());
    out.extend_from_slice(&header.max_timestamp.to_be_bytes());
    out.extend_from_slice(&header.producer_id.to_be_bytes());
    out.extend_from_slice(&header.producer_epoch.to_be_bytes());
    out.extend_from_slice(&header.base_sequence.to_be_bytes());
    out.extend_from_slice(&header.records_count.to_be_bytes());
    debug_assert_eq!(out.len(), HEADER_LEN);
    out.extend_from_slice(&body);
    let crc = compute_crc(&out);
    if let Some(field) = out.get_mut(CRC_OFFSET..CRC_OFFSET + 4) {
        field.copy_from_slice(&crc.to_be_bytes());
    }
    Ok(Bytes::from(out))
}
