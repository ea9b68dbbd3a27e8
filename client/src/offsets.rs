//! Offset requests the consumer and the admin client share: ListOffsets to partition leaders
//! (earliest, latest, by timestamp), FindCoordinator for a group, OffsetFetch and OffsetCommit
//! to the group coordinator. Each builds the request for the version the connection negotiated
//! and turns per-partition error codes into [`Error::Kafka`] with the topic and partition.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use fastdata_protocol::kafka_protocol::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsTopic,
};
use fastdata_protocol::kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use fastdata_protocol::kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use fastdata_protocol::kafka_protocol::messages::{
    ApiKey, BrokerId, FindCoordinatorRequest, ListOffsetsRequest, OffsetCommitRequest,
    OffsetFetchRequest,
};
use fastdata_protocol::kafka_protocol::protocol::StrBytes;

use crate::cluster::Cluster;
use crate::conn::Connection;
use crate::error::{check, Error, ErrorCode, KafkaError, Result};
use crate::metadata::BrokerInfo;
use crate::types::{OffsetAndMetadata, TopicPartition};
use crate::wire::{group_id, str_bytes, topic_name};

/// ListOffsets timestamp for the log start offset.
pub(crate) const EARLIEST_TIMESTAMP: i64 = -2;
/// ListOffsets timestamp for the high watermark (last stable offset with read_committed).
pub(crate) const LATEST_TIMESTAMP: i64 = -1;

/// An offset ListOffsets found, with its timestamp and leader epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ListedOffset {
    pub offset: i64,
    pub timestamp: i64,
    pub leader_epoch: Option<i32>,
}

fn epoch(e: i32) -> Option<i32> {
    (e >= 0).then_some(e)
}

/// ListOffsets for each partition at its timestamp, each sent to the partition's leader.
/// Partitions whose answer is an error come back as errors.
pub(crate) async fn list_offsets(
    cluster: &Cluster,
    requests: &BTreeMap<TopicPartition, i64>,
    isolation_level: i8,
) -> Result<HashMap<TopicPartition, Result<ListedOffset>>> {
    let metadata = cluster.metadata();
    let mut by_leader: BTreeMap<String, Vec<(&TopicPartition, i64)>> = BTreeMap::new();
    let mut out = HashMap::new();
    for (tp, &timestamp) in requests {
        match metadata.leader(&tp.topic, tp.partition) {
            Some(leader) => by_leader
                .entry(leader.address())
                .or_default()
                .push((tp, timestamp)),
            None => {
                cluster.request_metadata_refresh();
                out.insert(
                    tp.clone(),
                    Err(Error::Kafka(
                        KafkaError::new(ApiKey::ListOffsets, ErrorCode::LEADER_NOT_AVAILABLE)
                            .topic(tp.topic.clone())
                            .partition(tp.partition),
                    )),
                );
            }
        }
    }
    for (address, partitions) in by_leader {
        let conn = cluster.connection(&address).await?;
        let mut topics: Vec<ListOffsetsTopic> = Vec::new();
        let response = cluster
            .send(&conn, Duration::ZERO, |version| {
                for (tp, timestamp) in &partitions {
                    let p = ListOffsetsPartition::default()
                        .with_partition_index(tp.partition)
                        .with_timestamp(*timestamp);
                    match topics.iter_mut().find(|t| t.name.0.as_str() == tp.topic) {
                        Some(t) => t.partitions.push(p),
                        None => topics.push(
                            ListOffsetsTopic::default()
                                .with_name(topic_name(&tp.topic))
                                .with_partitions(vec![p]),
                        ),
                    }
                }
                let request = ListOffsetsRequest::default()
                    .with_replica_id(BrokerId(-1))
                    .with_topics(topics);
                if version >= 2 {
                    request.with_isolation_level(isolation_level)
                } else {
                    request
                }
            })
            .await?;
        for topic in response.topics {
            for p in topic.partitions {
                let tp = TopicPartition::new(topic.name.0.to_string(), p.partition_index);
                if !requests.contains_key(&tp) {
                    continue;
                }
                let result = check(p.error_code, |code| {
                    KafkaError::new(ApiKey::ListOffsets, code)
                        .topic(tp.topic.clone())
                        .partition(tp.partition)
                })
                .map(|()| ListedOffset {
                    offset: p.offset,
                    timestamp: p.timestamp,
                    leader_epoch: epoch(p.leader_epoch),
                });
                if let Err(e) = &result {
                    if e.code().is_some_and(ErrorCode::is_stale_metadata) {
                        cluster.request_metadata_refresh();
                    }
                }
                out.insert(tp, result);
            }
        }
        for (tp, _) in partitions {
            out.entry(tp.clone()).or_insert_with(|| {
                Err(Error::InvalidResponse {
                    broker: address.clone(),
                    api: ApiKey::ListOffsets,
                    reason: format!("no answer for {tp}"),
                })
            });
        }
    }
    Ok(out)
}

/// The coordinator of `group` (FindCoordinator to any broker), at the address it advertises.
pub(crate) async fn find_coordinator(cluster: &Cluster, group: &str) -> Result<BrokerInfo> {
    let conn = cluster.any_connection().await?;
    let response = cluster
        .send(&conn, Duration::ZERO, |_| {
            FindCoordinatorRequest::default().with_key(str_bytes(group))
        })
        .await?;
    check(response.error_code, |code| {
        KafkaError::new(ApiKey::FindCoordinator, code)
            .group(group)
            .message(response.error_message.as_ref().map(|m| m.to_string()))
    })?;
    if response.node_id.0 < 0 || !(0..=65_535).contains(&response.port) {
        return Err(Error::InvalidResponse {
            broker: conn.address().to_owned(),
            api: ApiKey::FindCoordinator,
            reason: format!(
                "coordinator {} at {}:{}",
                response.node_id.0, response.host, response.port
            ),
        });
    }
    Ok(BrokerInfo {
        node_id: response.node_id.0,
        host: response.host.to_string(),
        port: response.port,
        rack: None,
    })
}

/// The committed offsets of `partitions` (all of the group's if `None`) from the group's
/// coordinator; `None` where nothing is committed.
pub(crate) async fn fetch_committed(
    cluster: &Cluster,
    coordinator: &Arc<Connection>,
    group: &str,
    partitions: Option<&[TopicPartition]>,
) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions.unwrap_or_default() {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    let response = cluster
        .send(coordinator, Duration::ZERO, |version| {
            if version >= 8 {
                let topics = partitions.map(|_| {
                    by_topic
                        .iter()
                        .map(|(t, ps)| {
                            OffsetFetchRequestTopics::default()
                                .with_name(topic_name(t))
                                .with_partition_indexes(ps.clone())
                        })
                        .collect()
                });
                OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
                    .with_group_id(group_id(group))
                    .with_topics(topics)])
            } else {
                let topics = partitions.map(|_| {
                    by_topic
                        .iter()
                        .map(|(t, ps)| {
                            OffsetFetchRequestTopic::default()
                                .with_name(topic_name(t))
                                .with_partition_indexes(ps.clone())
                        })
                        .collect()
                });
                OffsetFetchRequest::default()
                    .with_group_id(group_id(group))
                    .with_topics(topics)
            }
        })
        .await?;
    let group_error = |code| KafkaError::new(ApiKey::OffsetFetch, code).group(group);
    check(response.error_code, group_error)?;
    let mut out = BTreeMap::new();
    let mut take = |topic: String,
                    partition: i32,
                    code: i16,
                    offset: i64,
                    leader_epoch: i32,
                    metadata: Option<StrBytes>| {
        check(code, |code| {
            KafkaError::new(ApiKey::OffsetFetch, code)
                .group(group)
                .topic(topic.clone())
                .partition(partition)
        })?;
        let committed = (offset >= 0).then(|| OffsetAndMetadata {
            offset,
            leader_epoch: epoch(leader_epoch),
            metadata: metadata.map(|m| m.to_string()).unwrap_or_default(),
        });
        out.insert(TopicPartition::new(topic, partition), committed);
        Ok::<(), Error>(())
    };
    for g in response.groups {
        check(g.error_code, group_error)?;
        for t in g.topics {
            for p in t.partitions {
                take(
                    t.name.0.to_string(),
                    p.partition_index,
                    p.error_code,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata,
                )?;
            }
        }
    }
    for t in response.topics {
        for p in t.partitions {
            take(
                t.name.0.to_string(),
                p.partition_index,
                p.error_code,
                p.committed_offset,
                p.committed_leader_epoch,
                p.metadata,
            )?;
        }
    }
    if let Some(partitions) = partitions {
        for tp in partitions {
            out.entry(tp.clone()).or_insert(None);
        }
    }
    Ok(out)
}

/// Who commits: the group generation and member id (-1 and "" outside group management).
#[derive(Clone, Debug)]
pub(crate) struct Committer {
    pub group: String,
    pub generation: i32,
    pub member_id: String,
}

/// Builds the OffsetCommit request for `offsets` at `version`.
pub(crate) fn commit_request(
    committer: &Committer,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    version: i16,
) -> OffsetCommitRequest {
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for (tp, o) in offsets {
        let mut p = OffsetCommitRequestPartition::default()
            .with_partition_index(tp.partition)
            .with_committed_offset(o.offset)
            .with_committed_metadata(Some(str_bytes(&o.metadata)));
        if version >= 6 {
            p = p.with_committed_leader_epoch(o.leader_epoch.unwrap_or(-1));
        }
        match topics.iter_mut().find(|t| t.name.0.as_str() == tp.topic) {
            Some(t) => t.partitions.push(p),
            None => topics.push(
                OffsetCommitRequestTopic::default()
                    .with_name(topic_name(&tp.topic))
                    .with_partitions(vec![p]),
            ),
        }
    }
    OffsetCommitRequest::default()
        .with_group_id(group_id(&committer.group))
        .with_generation_id_or_member_epoch(committer.generation)
        .with_member_id(str_bytes(&committer.member_id))
        .with_topics(topics)
}

/// The first per-partition error of an OffsetCommit response, if any.
pub(crate) fn commit_result(
    group: &str,
    response: fastdata_protocol::kafka_protocol::messages::OffsetCommitResponse,
) -> Result<()> {
    for t in response.topics {
        for p in t.partitions {
            check(p.error_code, |code| {
                KafkaError::new(ApiKey::OffsetCommit, code)
                    .group(group)
                    .topic(t.name.0.to_string())
                    .partition(p.partition_index)
            })?;
        }
    }
    Ok(())
}

/// Commits `offsets` through `coordinator` and waits for the answer.
pub(crate) async fn commit(
    cluster: &Cluster,
    coordinator: &Connection,
    committer: &Committer,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
) -> Result<()> {
    let response = cluster
        .send(coordinator, Duration::ZERO, |version| {
            commit_request(committer, offsets, version)
        })
        .await?;
    commit_result(&committer.group, response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_requests_group_partitions_by_topic_and_gate_the_epoch() {
        let committer = Committer {
            group: "g".into(),
            generation: 4,
            member_id: "m".into(),
        };
        let mut offsets = BTreeMap::new();
        offsets.insert(
            TopicPartition::new("a", 1),
            OffsetAndMetadata {
                offset: 10,
                leader_epoch: Some(3),
                metadata: "x".into(),
            },
        );
        offsets.insert(TopicPartition::new("a", 0), OffsetAndMetadata::new(5));
        offsets.insert(TopicPartition::new("b", 0), OffsetAndMetadata::new(7));
        let r = commit_request(&committer, &offsets, 8);
        assert_eq!(r.generation_id_or_member_epoch, 4);
        assert_eq!(r.topics.len(), 2);
        assert_eq!(r.topics[0].partitions.len(), 2);
        assert_eq!(r.topics[0].partitions[1].committed_leader_epoch, 3);
        let r = commit_request(&committer, &offsets, 5);
        assert_eq!(
            r.topics[0].partitions[1].committed_leader_epoch, -1,
            "no epoch before v6"
        );
    }
}
