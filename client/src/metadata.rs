//! What a Metadata response says about the cluster: brokers with their advertised addresses,
//! topics with their ids and partitions, each partition's leader and epoch.
//!
//! `Metadata::from_response` checks the response before anyone relies on it (partition
//! indexes contiguous from 0, no duplicates, leaders among the brokers or -1), so the
//! partitioner and the fetcher can index partitions without further checks.

use std::collections::{BTreeMap, HashMap};

use fastdata_protocol::kafka_protocol::messages::{ApiKey, MetadataResponse};
use tokio::time::Instant;
use uuid::Uuid;

use crate::error::{Error, ErrorCode, Result};

/// A broker as Metadata (or FindCoordinator) advertises it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerInfo {
    /// The broker's node id.
    pub node_id: i32,
    /// The advertised host.
    pub host: String,
    /// The advertised port.
    pub port: i32,
    /// The broker's rack, if it has one.
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// `host:port`, as a socket address string.
    pub fn address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One partition of a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// The partition index.
    pub partition: i32,
    /// The leader's node id, -1 if there is none right now.
    pub leader: i32,
    /// The leader epoch, -1 if unknown.
    pub leader_epoch: i32,
    /// The replicas' node ids.
    pub replicas: Vec<i32>,
    /// The in-sync replicas' node ids.
    pub isr: Vec<i32>,
    /// The partition-level error (LEADER_NOT_AVAILABLE while a leader is elected).
    pub error: ErrorCode,
}

/// One topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicMetadata {
    /// The topic's name.
    pub name: String,
    /// The topic id (zero before Metadata v10, or if the broker has none).
    pub topic_id: Uuid,
    /// Whether it is an internal topic (`__consumer_offsets`).
    pub is_internal: bool,
    /// The topic-level error (UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE while it is
    /// being created).
    pub error: ErrorCode,
    /// Partitions, index `i` at position `i`.
    pub partitions: Vec<PartitionMetadata>,
}

impl TopicMetadata {
    /// The number of partitions.
    pub fn partition_count(&self) -> i32 {
        self.partitions.len() as i32
    }

    /// Partitions that have a leader now.
    pub fn available_partitions(&self) -> Vec<i32> {
        self.partitions
            .iter()
            .filter(|p| p.leader >= 0)
            .map(|p| p.partition)
            .collect()
    }
}

/// A snapshot of the cluster.
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    /// The cluster id, if the broker sent one.
    pub cluster_id: Option<String>,
    /// The controller's node id (-1 if unknown).
    pub controller_id: i32,
    /// Brokers by node id.
    pub brokers: BTreeMap<i32, BrokerInfo>,
    /// Topics by name (those asked for; all of them for an "all topics" request).
    pub topics: HashMap<String, TopicMetadata>,
    /// When the snapshot was taken (`None` for the empty one before the first fetch).
    pub(crate) fetched_at: Option<Instant>,
}

impl Metadata {
    /// Reads and checks a Metadata response from `broker`.
    pub(crate) fn from_response(broker: &str, response: MetadataResponse) -> Result<Metadata> {
        let invalid = |reason: String| Error::InvalidResponse {
            broker: broker.to_owned(),
            api: ApiKey::Metadata,
            reason,
        };
        let mut brokers = BTreeMap::new();
        for b in response.brokers {
            let node_id = b.node_id.0;
            if !(0..=65_535).contains(&b.port) {
                return Err(invalid(format!("broker {node_id} has port {}", b.port)));
            }
            let info = BrokerInfo {
                node_id,
                host: b.host.to_string(),
                port: b.port,
                rack: b.rack.map(|r| r.to_string()),
            };
            if brokers.insert(node_id, info).is_some() {
                return Err(invalid(format!("broker {node_id} is listed twice")));
            }
        }
        let mut topics = HashMap::new();
        for t in response.topics {
            let Some(name) = t.name.map(|n| n.0.to_string()) else {
                // Topics asked for by id only; we never ask that way.
                continue;
            };
            let count = t.partitions.len();
            let mut partitions: Vec<Option<PartitionMetadata>> = vec![None; count];
            for p in t.partitions {
                let index = usize::try_from(p.partition_index)
                    .ok()
                    .filter(|&i| i < count)
                    .ok_or_else(|| {
                        invalid(format!(
                            "{name} lists partition {} among {count}",
                            p.partition_index
                        ))
                    })?;
                let leader = p.leader_id.0;
                if leader >= 0 && !brokers.contains_key(&leader) {
                    return Err(invalid(format!(
                        "{name}-{index} has leader {leader}, which is not among the brokers"
                    )));
                }
                let slot = &mut partitions[index];
                if slot.is_some() {
                    return Err(invalid(format!("{name}-{index} is listed twice")));
                }
                *slot = Some(PartitionMetadata {
                    partition: p.partition_index,
                    leader,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.iter().map(|n| n.0).collect(),
                    isr: p.isr_nodes.iter().map(|n| n.0).collect(),
                    error: ErrorCode(p.error_code),
                });
            }
            let partitions = partitions.into_iter().flatten().collect();
            topics.insert(
                name.clone(),
                TopicMetadata {
                    name,
                    topic_id: t.topic_id,
                    is_internal: t.is_internal,
                    error: ErrorCode(t.error_code),
                    partitions,
                },
            );
        }
        Ok(Metadata {
            cluster_id: response.cluster_id.map(|c| c.to_string()),
            controller_id: response.controller_id.0,
            brokers,
            topics,
            fetched_at: Some(Instant::now()),
        })
    }

    /// The topic, if the snapshot has it without a topic-level error.
    pub fn topic(&self, name: &str) -> Option<&TopicMetadata> {
        self.topics
            .get(name)
            .filter(|t| t.error.is_ok() && !t.partitions.is_empty())
    }

    /// The leader of `topic`-`partition`, if known.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<&BrokerInfo> {
        let p = self
            .topic(topic)?
            .partitions
            .get(usize::try_from(partition).ok()?)?;
        self.brokers.get(&p.leader)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastdata_protocol::kafka_protocol::messages::metadata_response::*;
    use fastdata_protocol::kafka_protocol::messages::{BrokerId, TopicName};
    use fastdata_protocol::kafka_protocol::protocol::StrBytes;

    fn response(partitions: &[(i32, i32)]) -> MetadataResponse {
        MetadataResponse::default()
            .with_brokers(vec![MetadataResponseBroker::default()
                .with_node_id(BrokerId(0))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(9092)])
            .with_topics(vec![MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("t"))))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|&(index, leader)| {
                            MetadataResponsePartition::default()
                                .with_partition_index(index)
                                .with_leader_id(BrokerId(leader))
                        })
                        .collect(),
                )])
    }

    #[test]
    fn partitions_are_indexed_by_their_number() {
        let m = Metadata::from_response("b", response(&[(1, 0), (0, -1), (2, 0)])).unwrap();
        let t = m.topic("t").unwrap();
        assert_eq!(t.partition_count(), 3);
        assert_eq!(
            t.partitions.iter().map(|p| p.partition).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(t.available_partitions(), [1, 2]);
        assert_eq!(m.leader("t", 1).unwrap().address(), "127.0.0.1:9092");
        assert!(m.leader("t", 0).is_none());
        assert!(m.leader("t", 3).is_none());
        assert!(m.leader("u", 0).is_none());
    }

    #[test]
    fn holes_duplicates_and_unknown_leaders_are_rejected() {
        for bad in [
            &[(0, 0), (2, 0)][..],
            &[(0, 0), (0, 0)],
            &[(0, 7)],
            &[(-1, 0)],
        ] {
            let err = Metadata::from_response("b", response(bad)).unwrap_err();
            assert!(
                matches!(err, Error::InvalidResponse { .. }),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn ipv6_hosts_get_brackets() {
        let b = BrokerInfo {
            node_id: 1,
            host: "::1".to_owned(),
            port: 9092,
            rack: None,
        };
        assert_eq!(b.address(), "[::1]:9092");
    }
}
