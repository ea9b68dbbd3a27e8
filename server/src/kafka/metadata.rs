//! Metadata, ListOffsets and OffsetForLeaderEpoch: where partitions are and what offsets they
//! hold.
//!
//! Metadata advertises this broker (node id, advertised host and port) as leader and only
//! replica of every partition, with leader epoch 0 and the topic's stable id. A request for a
//! topic that does not exist creates it when `auto.create.topics.enable` is on and the client
//! allows it (v4+), with `num.partitions` partitions. In v0 an empty topic list means every
//! topic; from v1 a null list does.

use std::sync::Arc;

use fastdata_protocol::kafka_protocol::error::ResponseError;
use fastdata_protocol::kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use fastdata_protocol::kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use fastdata_protocol::kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use fastdata_protocol::kafka_protocol::messages::{
    BrokerId, ListOffsetsRequest, ListOffsetsResponse, MetadataRequest, MetadataResponse,
    OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, TopicName,
};
use fastdata_protocol::kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::errors::{self, KafkaError};
use super::{blocking, RequestContext};
use crate::broker::Broker;
use crate::topics::{validate_topic_name, Topic, TopicError, CONSUMER_OFFSETS};

/// ListOffsets special timestamps.
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;

fn describe_topic(broker: &Broker, topic: &Topic) -> MetadataResponseTopic {
    let node = BrokerId(broker.config.node_id);
    let partitions = topic
        .partitions
        .iter()
        .map(|p| {
            MetadataResponsePartition::default()
                .with_partition_index(p.index)
                .with_leader_id(node)
                .with_leader_epoch(broker.leader_epoch())
                .with_replica_nodes(vec![node])
                .with_isr_nodes(vec![node])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(
            topic.name.to_string(),
        ))))
        .with_topic_id(topic.id)
        .with_is_internal(topic.is_internal())
        .with_partitions(partitions)
}

fn topic_error(name: Option<TopicName>, id: Uuid, error: &KafkaError) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_name(name)
        .with_topic_id(id)
        .with_error_code(error.code)
}

/// Metadata: see the module documentation.
pub(crate) async fn handle_metadata(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: MetadataRequest,
) -> MetadataResponse {
    let version = ctx.api_version;
    let requested = match req.topics {
        None => None,
        Some(list) if version == 0 && list.is_empty() => None,
        Some(list) => Some(list),
    };
    let allow_create =
        broker.config.auto_create_topics_enable && (version < 4 || req.allow_auto_topic_creation);
    let topics: Vec<MetadataResponseTopic> = match requested {
        None => broker
            .topics
            .list()
            .iter()
            .map(|t| describe_topic(broker, t))
            .collect(),
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for wanted in list {
                let topic = match &wanted.name {
                    Some(name) => {
                        let name = name.0.to_string();
                        lookup_or_create(broker, &name, allow_create).await
                    }
                    None => broker
                        .topics
                        .list()
                        .into_iter()
                        .find(|t| t.id == wanted.topic_id)
                        .ok_or_else(|| KafkaError::new(ResponseError::UnknownTopicId, "")),
                };
                out.push(match topic {
                    Ok(t) => describe_topic(broker, &t),
                    Err(e) => {
                        broker.metrics.error("Metadata", e.code);
                        topic_error(wanted.name.clone(), wanted.topic_id, &e)
                    }
                });
            }
            out
        }
    };
    let (host, port) = broker.advertised();
    let mut response = MetadataResponse::default()
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(BrokerId(broker.config.node_id))
            .with_host(StrBytes::from_string(host.to_string()))
            .with_port(port)])
        .with_topics(topics);
    if version >= 1 {
        response.controller_id = BrokerId(broker.config.node_id);
    }
    if version >= 2 {
        response.cluster_id = Some(StrBytes::from_string(broker.cluster_id.clone()));
    }
    response
}

async fn lookup_or_create(
    broker: &Arc<Broker>,
    name: &str,
    allow_create: bool,
) -> Result<Arc<Topic>, KafkaError> {
    if let Err(e) = validate_topic_name(name) {
        return Err(errors::from_topic(&e));
    }
    if let Some(topic) = broker.topics.get(name) {
        return Ok(topic);
    }
    if !allow_create || name == CONSUMER_OFFSETS {
        return Err(KafkaError::new(
            ResponseError::UnknownTopicOrPartition,
            format!("Unknown topic {name}"),
        ));
    }
    let b = broker.clone();
    let owned = name.to_string();
    let created = blocking(move || b.topics.create(&owned, -1, -1, Default::default())).await;
    match created {
        Some(Ok(topic)) => Ok(topic),
        // Another request created it meanwhile.
        Some(Err(TopicError::AlreadyExists(_))) => broker
            .topics
            .get(name)
            .ok_or_else(|| KafkaError::new(ResponseError::UnknownTopicOrPartition, "")),
        Some(Err(e)) => Err(errors::from_topic(&e)),
        None => Err(KafkaError::new(
            ResponseError::UnknownServerError,
            "topic creation failed",
        )),
    }
}

/// Check a request's `current_leader_epoch` (KIP-320; -1: not checked).
fn check_leader_epoch(broker: &Broker, current_leader_epoch: i32) -> Result<(), ResponseError> {
    let epoch = broker.leader_epoch();
    if current_leader_epoch < 0 || current_leader_epoch == epoch {
        Ok(())
    } else if current_leader_epoch > epoch {
        Err(ResponseError::UnknownLeaderEpoch)
    } else {
        Err(ResponseError::FencedLeaderEpoch)
    }
}

/// ListOffsets: latest (the high watermark; the same for read_committed without
/// transactions), earliest (the log start), the offset of the largest timestamp (v7), or the
/// first offset at or after a timestamp (-1 when there is none).
pub(crate) async fn handle_list_offsets(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let b = broker.clone();
    let version = ctx.api_version;
    let topics = blocking(move || {
        req.topics
            .into_iter()
            .map(|t| {
                let topic = b.topics.get(t.name.0.as_str());
                let partitions = t
                    .partitions
                    .into_iter()
                    .map(|p| {
                        let mut out = ListOffsetsPartitionResponse::default()
                            .with_partition_index(p.partition_index);
                        let partition = topic.as_ref().and_then(|t| t.partition(p.partition_index));
                        let result = match partition {
                            None => Err(ResponseError::UnknownTopicOrPartition),
                            Some(partition) => check_leader_epoch(&b, p.current_leader_epoch)
                                .and_then(|()| {
                                    let found = match p.timestamp {
                                        LATEST => Ok(Some((partition.high_watermark(), -1))),
                                        EARLIEST => {
                                            Ok(Some((partition.log.log_start_offset(), -1)))
                                        }
                                        MAX_TIMESTAMP => partition.log.max_timestamp(),
                                        ts => partition.log.offset_for_timestamp(ts),
                                    };
                                    found.map_err(|e| {
                                        let code = errors::from_log(&e).code;
                                        ResponseError::try_from_code(code)
                                            .unwrap_or(ResponseError::UnknownServerError)
                                    })
                                }),
                        };
                        match result {
                            Ok(found) => {
                                let (offset, timestamp) = found.unwrap_or((-1, -1));
                                out.offset = offset;
                                out.timestamp = timestamp;
                                if version >= 4 {
                                    out.leader_epoch =
                                        if offset >= 0 { b.leader_epoch() } else { -1 };
                                }
                            }
                            Err(e) => {
                                b.metrics.error("ListOffsets", e.code());
                                out.error_code = e.code();
                                out.offset = -1;
                                out.timestamp = -1;
                            }
                        }
                        out
                    })
                    .collect();
                ListOffsetsTopicResponse::default()
                    .with_name(t.name)
                    .with_partitions(partitions)
            })
            .collect()
    })
    .await
    .unwrap_or_default();
    ListOffsetsResponse::default().with_topics(topics)
}

/// OffsetForLeaderEpoch (KIP-101/279): the end offset of the largest epoch at or below the one
/// asked, from the partition's leader-epoch cache.
pub(crate) fn handle_offset_for_leader_epoch(
    broker: &Broker,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let topic = broker.topics.get(t.topic.0.as_str());
            let partitions = t
                .partitions
                .into_iter()
                .map(|p| {
                    let out = EpochEndOffset::default().with_partition(p.partition);
                    let Some(partition) = topic.as_ref().and_then(|t| t.partition(p.partition))
                    else {
                        return out.with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    if let Err(e) = check_leader_epoch(broker, p.current_leader_epoch) {
                        return out.with_error_code(e.code());
                    }
                    let (epoch, end_offset) = partition.log.end_offset_for_epoch(p.leader_epoch);
                    out.with_leader_epoch(epoch).with_end_offset(end_offset)
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
