//! Produce and InitProducerId.
//!
//! A produce request is handled in two steps. First its batches are appended, partition by
//! partition, on a blocking thread: the log validates them (header, CRC-32C, lengths, offsets,
//! `max.message.bytes`, the records of uncompressed batches), checks the idempotent producer's
//! sequence and writes them to the segment file as they came. Before that, the broker checks
//! what the log does not know about: the topic exists and is not internal, the batch is not
//! transactional, and its timestamps lie within `message.timestamp.{before,after}.max.ms`.
//! Then, for a topic whose flush policy asks it (`flush.messages=1`), the answer waits until
//! the appended offsets are fsynced; concurrent waits on one partition share an fdatasync
//! (group commit), and partitions flush in parallel. `acks=1` and `acks=all` are the same on one
//! broker: the answer goes out once the batch is in its segment file (and fsynced if the topic
//! asks). `acks=0` gets no answer; if anything failed, the connection is closed instead.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use fastdata_log::batch::{BatchHeader, HEADER_LEN};
use fastdata_protocol::kafka_protocol::error::ResponseError;
use fastdata_protocol::kafka_protocol::messages::produce_response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use fastdata_protocol::kafka_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse, TopicName,
};
use fastdata_protocol::kafka_protocol::protocol::StrBytes;
use tokio::sync::oneshot;
use tracing::warn;

use super::errors::{self, KafkaError};
use super::{blocking, Reply, RequestContext};
use crate::broker::Broker;
use crate::topics::{Partition, Topic};

/// One partition's part of a produce request, once appended.
struct Outcome {
    result: Result<fastdata_log::AppendInfo, KafkaError>,
    /// The offset the flush policy wants durable before the answer.
    flush_until: Option<i64>,
    partition: Option<Arc<Partition>>,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Check what the log engine does not: no transactional batches (not supported yet), and
/// timestamps within the topic's bounds. Walks the batch headers only.
fn precheck(topic: &Topic, records: &Bytes) -> Result<(), KafkaError> {
    let now = now_ms();
    let before = topic.settings.timestamp_before_max_ms;
    let after = topic.settings.timestamp_after_max_ms;
    let mut position = 0usize;
    while position + HEADER_LEN <= records.len() {
        let Ok(header) = BatchHeader::parse(&records[position..]) else {
            // The log reports malformed batches, with the reason.
            return Ok(());
        };
        if header.is_transactional() {
            return Err(KafkaError::new(
                ResponseError::InvalidRecord,
                "transactional batches are not supported by fastdata yet",
            ));
        }
        let too_new = header.max_timestamp > now.saturating_add(after);
        let too_old =
            header.base_timestamp >= 0 && header.base_timestamp < now.saturating_sub(before);
        if too_new || too_old {
            return Err(KafkaError::new(
                ResponseError::InvalidTimestamp,
                format!(
                    "batch at offset delta 0 has timestamp {} (max {}), outside [now - message.timestamp.before.max.ms, now + message.timestamp.after.max.ms] = [{}, {}]",
                    header.base_timestamp,
                    header.max_timestamp,
                    now.saturating_sub(before),
                    now.saturating_add(after)
                ),
            ));
        }
        position = position.saturating_add(header.total_size());
    }
    Ok(())
}

fn append_one(broker: &Broker, topic_name: &str, index: i32, records: Option<Bytes>) -> Outcome {
    let fail = |e: ResponseError, message: String| Outcome {
        result: Err(KafkaError::new(e, message)),
        flush_until: None,
        partition: None,
    };
    let Some(topic) = broker.topics.get(topic_name) else {
        return fail(
            ResponseError::UnknownTopicOrPartition,
            format!("This server does not host this topic-partition: {topic_name}-{index}"),
        );
    };
    if topic.is_internal() {
        return fail(
            ResponseError::InvalidTopicException,
            format!("Cannot append to internal topic {topic_name}"),
        );
    }
    let Some(partition) = topic.partition(index).cloned() else {
        return fail(
            ResponseError::UnknownTopicOrPartition,
            format!("This server does not host this topic-partition: {topic_name}-{index}"),
        );
    };
    let records = records.unwrap_or_default();
    if let Err(e) = precheck(&topic, &records) {
        return Outcome {
            result: Err(e),
            flush_until: None,
            partition: None,
        };
    }
    let bytes = records.len() as u64;
    match partition
        .log
        .append_deferred(records, broker.leader_epoch())
    {
        Ok(appended) => {
            if !appended.info.duplicate {
                let count =
                    u64::try_from(appended.info.last_offset - appended.info.first_offset + 1)
                        .unwrap_or(0);
                broker.metrics.produced(bytes, count);
                partition.advance_high_watermark();
            }
            Outcome {
                result: Ok(appended.info),
                flush_until: appended.flush_until,
                partition: Some(partition),
            }
        }
        Err(e) => {
            if matches!(
                e,
                fastdata_log::Error::LogOffline { .. } | fastdata_log::Error::Io { .. }
            ) {
                warn!(topic = topic_name, partition = index, %e, "append failed");
            }
            Outcome {
                result: Err(errors::from_log(&e)),
                flush_until: None,
                partition: Some(partition),
            }
        }
    }
}

/// Produce: see the module documentation. `appended` is dropped once this request's appends
/// are done, letting the connection's next produce request append.
pub(crate) async fn handle_produce(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: ProduceRequest,
    appended: oneshot::Sender<()>,
) -> Reply {
    let acks = req.acks;
    let valid_acks = matches!(acks, -1..=1);
    let mut layout: Vec<(String, Vec<i32>)> = Vec::new();
    let mut work: Vec<(String, i32, Option<Bytes>)> = Vec::new();
    for topic in req.topic_data {
        let name = topic.name.0.to_string();
        let indexes = topic.partition_data.iter().map(|p| p.index).collect();
        for p in topic.partition_data {
            work.push((name.clone(), p.index, p.records));
        }
        layout.push((name, indexes));
    }
    let failed_all = |count: usize, error: KafkaError| -> Vec<Outcome> {
        (0..count)
            .map(|_| Outcome {
                result: Err(error.clone()),
                flush_until: None,
                partition: None,
            })
            .collect()
    };
    let count = work.len();
    let mut outcomes: Vec<Outcome> = if !valid_acks {
        let error = KafkaError::new(
            ResponseError::InvalidRequiredAcks,
            format!("acks must be -1, 0 or 1, not {acks}"),
        );
        failed_all(count, error)
    } else {
        let b = broker.clone();
        blocking(move || {
            work.into_iter()
                .map(|(topic, index, records)| append_one(&b, &topic, index, records))
                .collect()
        })
        .await
        .unwrap_or_else(|| {
            let error =
                KafkaError::new(ResponseError::UnknownServerError, "the append task failed");
            failed_all(count, error)
        })
    };
    drop(appended);

    // Durability the topics' flush policies ask for, every partition in parallel.
    let waits: Vec<_> = outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, o)| Some((i, o.partition.clone()?, o.flush_until?)))
        .collect();
    if !waits.is_empty() {
        let flushes = waits.into_iter().map(|(i, partition, end)| async move {
            let result = blocking(move || partition.log.flush_until(end)).await;
            (i, end, result)
        });
        for (i, end, result) in futures::future::join_all(flushes).await {
            let failure = match result {
                Some(Ok(flushed)) if flushed >= end => None,
                Some(Ok(flushed)) => Some(errors::from_log(
                    &fastdata_log::Error::TruncatedBeforeDurable {
                        last_offset: end - 1,
                        log_end_offset: flushed,
                    },
                )),
                Some(Err(e)) => Some(errors::from_log(&e)),
                None => Some(KafkaError::new(
                    ResponseError::UnknownServerError,
                    "flush task failed",
                )),
            };
            if let Some(e) = failure {
                outcomes[i].result = Err(e);
            }
        }
    }

    let mut failed = false;
    let mut outcomes = outcomes.into_iter();
    let mut responses = Vec::with_capacity(layout.len());
    for (name, indexes) in layout {
        let mut partition_responses = Vec::with_capacity(indexes.len());
        for index in indexes {
            let Some(outcome) = outcomes.next() else {
                break;
            };
            let mut response = PartitionProduceResponse::default().with_index(index);
            match outcome.result {
                Ok(info) => {
                    response.base_offset = info.first_offset;
                    if ctx.api_version >= 5 {
                        response.log_start_offset = info.log_start_offset;
                    }
                }
                Err(e) => {
                    failed = true;
                    broker.metrics.error("Produce", e.code);
                    response.error_code = e.code;
                    response.base_offset = -1;
                    if ctx.api_version >= 8 {
                        response.error_message = Some(StrBytes::from_string(e.message));
                    }
                }
            }
            partition_responses.push(response);
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(TopicName(StrBytes::from_string(name)))
                .with_partition_responses(partition_responses),
        );
    }
    if acks == 0 {
        return if failed { Reply::Close } else { Reply::Nothing };
    }
    Reply::Body(ProduceResponse::default().with_responses(responses).into())
}

/// InitProducerId: a new producer id (epoch 0) for an idempotent producer. Transactional
/// producers are refused until transactions exist.
pub(crate) async fn handle_init_producer_id(
    broker: &Arc<Broker>,
    req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let response = InitProducerIdResponse::default();
    if req
        .transactional_id
        .as_ref()
        .is_some_and(|t| !t.0.is_empty())
    {
        broker.metrics.error(
            "InitProducerId",
            ResponseError::UnsupportedForMessageFormat.code(),
        );
        return response
            .with_error_code(ResponseError::UnsupportedForMessageFormat.code())
            .with_producer_id((-1).into())
            .with_producer_epoch(-1);
    }
    let b = broker.clone();
    match blocking(move || b.producer_ids.next_id()).await {
        Some(Ok(id)) => response.with_producer_id(id.into()).with_producer_epoch(0),
        Some(Err(e)) => {
            warn!(%e, "cannot reserve producer ids");
            broker
                .metrics
                .error("InitProducerId", ResponseError::KafkaStorageError.code());
            response
                .with_error_code(ResponseError::KafkaStorageError.code())
                .with_producer_id((-1).into())
                .with_producer_epoch(-1)
        }
        None => response
            .with_error_code(ResponseError::UnknownServerError.code())
            .with_producer_id((-1).into())
            .with_producer_epoch(-1),
    }
}
