//! Fetch requests and the records in their answers.
//!
//! [`fetch_request`] asks one leader for a set of partitions from their positions, without a
//! fetch session (session id 0, epoch -1: a full fetch every time). [`parse_partition`] turns
//! one partition's answer into records at or after the fetch offset: batches that end before
//! the offset are skipped, control batches are skipped but advance the next fetch offset, and
//! a partial batch at the end of the answer (the broker cuts at the byte limit) is dropped, to
//! be fetched whole next time. A corrupt batch is an error once no record came before it.
//! Decompression is bounded by [`MAX_DECOMPRESSED_BATCH_BYTES`].

use std::collections::VecDeque;

use bytes::Bytes;
use fastdata_log::batch::{split_batches, BatchError};
use fastdata_protocol::kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use fastdata_protocol::kafka_protocol::messages::fetch_response::PartitionData;
use fastdata_protocol::kafka_protocol::messages::FetchRequest;

use crate::consumer::config::ConsumerConfig;
use crate::error::{Error, ErrorCode};
use crate::types::{Header, TopicPartition};
use crate::wire::topic_name;

/// The largest a batch may decompress to (a compressed batch is at most a few MiB; more is a
/// decompression bomb).
pub const MAX_DECOMPRESSED_BATCH_BYTES: usize = 128 * 1024 * 1024;

/// Which clock a record's timestamp is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampType {
    /// Set by the producer.
    CreateTime,
    /// Set by the broker when it appended the batch.
    LogAppendTime,
}

/// A consumed record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The timestamp in ms since the epoch.
    pub timestamp_ms: i64,
    /// Whose clock the timestamp is from.
    pub timestamp_type: TimestampType,
    /// The key, `None` for a null key.
    pub key: Option<Bytes>,
    /// The value, `None` for a null value.
    pub value: Option<Bytes>,
    /// The headers, in order.
    pub headers: Vec<Header>,
    /// The leader epoch of the batch, if the broker stamped one.
    pub leader_epoch: Option<i32>,
}

/// The records of one partition's answer.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub records: VecDeque<ConsumerRecord>,
    /// Where the next fetch starts once these records are consumed.
    pub next_fetch_offset: i64,
}

/// A fetch of `partitions` (each from its offset), as configured.
pub(crate) fn fetch_request(
    config: &ConsumerConfig,
    partitions: &[(TopicPartition, i64)],
) -> FetchRequest {
    let mut topics: Vec<FetchTopic> = Vec::new();
    for (tp, offset) in partitions {
        let p = FetchPartition::default()
            .with_partition(tp.partition)
            .with_fetch_offset(*offset)
            .with_partition_max_bytes(config.max_partition_fetch_bytes);
        match topics.iter_mut().find(|t| t.topic.0.as_str() == tp.topic) {
            Some(t) => t.partitions.push(p),
            None => topics.push(
                FetchTopic::default()
                    .with_topic(topic_name(&tp.topic))
                    .with_partitions(vec![p]),
            ),
        }
    }
    FetchRequest::default()
        .with_max_wait_ms(config.fetch_max_wait_ms.min(i32::MAX as u64) as i32)
        .with_min_bytes(config.fetch_min_bytes)
        .with_max_bytes(config.fetch_max_bytes)
        .with_isolation_level(config.isolation_level.value())
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(topics)
}

/// What one partition's answer means for the consumer.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Records (possibly none).
    Records { parsed: Parsed, high_watermark: i64 },
    /// The fetch offset is outside the log: apply `auto.offset.reset`.
    OutOfRange,
    /// Stale metadata or a transient broker error: refresh and fetch again later.
    Retry(ErrorCode),
    /// An error to hand to the caller of `poll`.
    Fail(Error),
}

/// Reads one partition of a Fetch response fetched from `fetch_offset`.
pub(crate) fn parse_partition(
    tp: &TopicPartition,
    fetch_offset: i64,
    data: PartitionData,
) -> Outcome {
    let code = ErrorCode(data.error_code);
    if code == ErrorCode::OFFSET_OUT_OF_RANGE {
        return Outcome::OutOfRange;
    }
    if !code.is_ok() {
        if code.is_retriable() || code.is_stale_metadata() {
            return Outcome::Retry(code);
        }
        return Outcome::Fail(Error::Kafka(
            crate::error::KafkaError::new(
                fastdata_protocol::kafka_protocol::messages::ApiKey::Fetch,
                code,
            )
            .topic(tp.topic.clone())
            .partition(tp.partition),
        ));
    }
    match parse_records(tp, fetch_offset, data.records.unwrap_or_default()) {
        Ok(parsed) => Outcome::Records {
            parsed,
            high_watermark: data.high_watermark,
        },
        Err(e) => Outcome::Fail(e),
    }
}

/// The records at or after `fetch_offset` in `bytes` (concatenated batches).
pub(crate) fn parse_records(
    tp: &TopicPartition,
    fetch_offset: i64,
    bytes: Bytes,
) -> Result<Parsed, Error> {
    let mut parsed = Parsed {
        next_fetch_offset: fetch_offset,
        ..Parsed::default()
    };
    for batch in split_batches(&bytes) {
        let batch = match batch {
            Ok(batch) => batch,
            // The broker cut the last batch at its byte limit.
            Err(e) if matches!(e.root(), BatchError::Truncated { .. }) => break,
            Err(e) => return corrupt(tp, parsed, e),
        };
        let header = *batch.header();
        if header.next_offset() <= fetch_offset {
            continue;
        }
        if header.is_control() {
            parsed.next_fetch_offset = header.next_offset();
            continue;
        }
        let records = match batch.records(MAX_DECOMPRESSED_BATCH_BYTES) {
            Ok(records) => records,
            Err(e) => return corrupt(tp, parsed, e),
        };
        let leader_epoch =
            (header.partition_leader_epoch >= 0).then_some(header.partition_leader_epoch);
        let (timestamp_type, append_time) = if header.is_log_append_time() {
            (TimestampType::LogAppendTime, Some(header.max_timestamp))
        } else {
            (TimestampType::CreateTime, None)
        };
        for r in records {
            let offset = r.offset(header.base_offset);
            if offset < fetch_offset {
                continue;
            }
            parsed.records.push_back(ConsumerRecord {
                topic: tp.topic.clone(),
                partition: tp.partition,
                offset,
                timestamp_ms: append_time.unwrap_or_else(|| r.timestamp(header.base_timestamp)),
                timestamp_type,
                key: r.key,
                value: r.value,
                headers: r
                    .headers
                    .into_iter()
                    .map(|h| Header {
                        key: String::from_utf8_lossy(&h.key).into_owned(),
                        value: h.value,
                    })
                    .collect(),
                leader_epoch,
            });
        }
        parsed.next_fetch_offset = header.next_offset();
    }
    Ok(parsed)
}

/// A corrupt batch: an error if nothing came before it, else the records before it (the next
/// fetch starts at the corrupt batch and reports it).
fn corrupt(tp: &TopicPartition, parsed: Parsed, source: BatchError) -> Result<Parsed, Error> {
    if parsed.records.is_empty() {
        Err(Error::CorruptBatch {
            topic: tp.topic.clone(),
            partition: tp.partition,
            source,
        })
    } else {
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use fastdata_log::batch::{stamp, BatchBuilder, Compression};

    use super::*;

    fn batch(base_offset: i64, values: &[&str], compression: Compression) -> Vec<u8> {
        let mut b = BatchBuilder::new(compression);
        for (i, v) in values.iter().enumerate() {
            b.append(
                1000 + i as i64,
                Some(b"k"),
                Some(v.as_bytes()),
                &[(b"h", Some(b"1"))],
            );
        }
        let mut bytes = b.build().unwrap().to_vec();
        stamp(&mut bytes, base_offset, 0);
        bytes
    }

    fn values(p: &Parsed) -> Vec<(i64, String)> {
        p.records
            .iter()
            .map(|r| {
                (
                    r.offset,
                    String::from_utf8_lossy(r.value.as_deref().unwrap()).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn records_before_the_fetch_offset_and_a_partial_tail_are_dropped() {
        let tp = TopicPartition::new("t", 0);
        let mut bytes = batch(10, &["a", "b", "c"], Compression::Lz4);
        bytes.extend(batch(13, &["d", "e"], Compression::None));
        let third = batch(15, &["f"], Compression::None);
        bytes.extend(&third[..third.len() - 3]);
        let parsed = parse_records(&tp, 11, Bytes::from(bytes)).unwrap();
        assert_eq!(
            values(&parsed),
            [
                (11, "b".into()),
                (12, "c".into()),
                (13, "d".into()),
                (14, "e".into())
            ]
        );
        assert_eq!(parsed.next_fetch_offset, 15);
        let r = &parsed.records[0];
        assert_eq!(
            (r.timestamp_ms, r.timestamp_type),
            (1001, TimestampType::CreateTime)
        );
        assert_eq!(r.headers, [Header::new("h", Some(&b"1"[..]))]);
        assert_eq!(r.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(r.leader_epoch, Some(0));
    }

    #[test]
    fn an_empty_answer_keeps_the_offset() {
        let parsed = parse_records(&TopicPartition::new("t", 0), 7, Bytes::new()).unwrap();
        assert!(parsed.records.is_empty());
        assert_eq!(parsed.next_fetch_offset, 7);
    }

    #[test]
    fn a_corrupt_first_batch_is_an_error_later_ones_cut_the_answer() {
        let tp = TopicPartition::new("t", 3);
        let mut bad = batch(0, &["a"], Compression::None);
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        let err = parse_records(&tp, 0, Bytes::from(bad.clone())).unwrap_err();
        assert!(
            matches!(err, Error::CorruptBatch { partition: 3, .. }),
            "{err}"
        );
        let mut bytes = batch(0, &["x"], Compression::None);
        let mut second = bad;
        stamp(&mut second, 1, 0);
        bytes.extend(second);
        let parsed = parse_records(&tp, 0, Bytes::from(bytes)).unwrap();
        assert_eq!(values(&parsed), [(0, "x".into())]);
        assert_eq!(
            parsed.next_fetch_offset, 1,
            "the next fetch reports the corrupt batch"
        );
    }

    #[test]
    fn every_codec_reads_back() {
        let tp = TopicPartition::new("t", 0);
        for codec in Compression::ALL {
            let parsed =
                parse_records(&tp, 0, Bytes::from(batch(0, &["one", "two"], codec))).unwrap();
            assert_eq!(
                values(&parsed),
                [(0, "one".into()), (1, "two".into())],
                "{codec:?}"
            );
        }
    }

    #[test]
    fn errors_map_to_outcomes() {
        let tp = TopicPartition::new("t", 0);
        let data = |code| PartitionData::default().with_error_code(code);
        assert!(matches!(
            parse_partition(&tp, 0, data(1)),
            Outcome::OutOfRange
        ));
        assert!(matches!(
            parse_partition(&tp, 0, data(6)),
            Outcome::Retry(ErrorCode::NOT_LEADER_OR_FOLLOWER)
        ));
        assert!(matches!(
            parse_partition(&tp, 0, data(3)),
            Outcome::Retry(_)
        ));
        assert!(matches!(
            parse_partition(&tp, 0, data(29)),
            Outcome::Fail(Error::Kafka(_))
        ));
        match parse_partition(
            &tp,
            0,
            data(0)
                .with_high_watermark(9)
                .with_records(Some(Bytes::new())),
        ) {
            Outcome::Records { high_watermark, .. } => assert_eq!(high_watermark, 9),
            other => panic!("{other:?}"),
        }
    }
}
