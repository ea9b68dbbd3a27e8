//! The admin client: topics (create, delete, list, describe with configs, alter configs, add
//! partitions) and consumer groups (list, describe with decoded assignments, committed offsets
//! with lag).
//!
//! Topic changes go to the controller Metadata names; group calls to the group's coordinator
//! (FindCoordinator); ListGroups to every broker. Calls retry transient errors (a moved
//! coordinator or controller, a broken connection) within `default.api.timeout.ms`; errors
//! about one topic or group come back per topic or group, so one bad name does not hide the
//! other answers.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use fastdata_protocol::kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use fastdata_protocol::kafka_protocol::messages::create_topics_request::{
    CreatableTopic, CreatableTopicConfig,
};
use fastdata_protocol::kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use fastdata_protocol::kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use fastdata_protocol::kafka_protocol::messages::{
    ApiKey, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest,
    DescribeConfigsRequest, DescribeGroupsRequest, IncrementalAlterConfigsRequest,
    ListGroupsRequest,
};
use tokio::time::Instant;
use uuid::Uuid;

use crate::assignor::{decode_assignment, PROTOCOL_TYPE};
use crate::cluster::{parse_bootstrap, Cluster, NetworkConfig};
use crate::conn::{Connection, ConnectionConfig};
use crate::error::{check, Error, ErrorCode, KafkaError, Result};
use crate::metadata::PartitionMetadata;
use crate::offsets::{self, fetch_committed, find_coordinator, LATEST_TIMESTAMP};
use crate::types::TopicPartition;
use crate::wire::{group_id, millis_i32, str_bytes, topic_name};

/// DescribeConfigs / IncrementalAlterConfigs resource type of a topic.
const RESOURCE_TOPIC: i8 = 2;
/// Kafka's NOT_CONTROLLER.
const NOT_CONTROLLER: ErrorCode = ErrorCode(41);

/// The admin client's configuration (the Java `AdminClient`'s names and defaults).
#[derive(Clone, Debug)]
pub struct AdminConfig {
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// `client.id`.
    pub client_id: String,
    /// `request.timeout.ms` (default 30000).
    pub request_timeout_ms: u64,
    /// `default.api.timeout.ms`: the bound on one admin call with its retries (default 60000).
    pub default_api_timeout_ms: u64,
    /// `retry.backoff.ms` (default 100).
    pub retry_backoff_ms: u64,
    /// `metadata.max.age.ms` (default 300000).
    pub metadata_max_age_ms: u64,
    /// `reconnect.backoff.ms` (default 50).
    pub reconnect_backoff_ms: u64,
    /// `reconnect.backoff.max.ms` (default 1000).
    pub reconnect_backoff_max_ms: u64,
    /// `socket.connection.setup.timeout.ms` (default 10000).
    pub socket_connection_setup_timeout_ms: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            bootstrap_servers: "127.0.0.1:9092".to_owned(),
            client_id: "fastdata-admin".to_owned(),
            request_timeout_ms: 30_000,
            default_api_timeout_ms: 60_000,
            retry_backoff_ms: 100,
            metadata_max_age_ms: 300_000,
            reconnect_backoff_ms: 50,
            reconnect_backoff_max_ms: 1000,
            socket_connection_setup_timeout_ms: 10_000,
        }
    }
}

impl AdminConfig {
    /// A configuration for `bootstrap_servers` with every other setting at its default.
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        AdminConfig {
            bootstrap_servers: bootstrap_servers.into(),
            ..AdminConfig::default()
        }
    }

    fn network(&self) -> Result<NetworkConfig> {
        Ok(NetworkConfig {
            bootstrap: parse_bootstrap(&self.bootstrap_servers)?,
            connection: ConnectionConfig {
                client_id: self.client_id.clone(),
                request_timeout: Duration::from_millis(self.request_timeout_ms),
                connect_timeout: Duration::from_millis(self.socket_connection_setup_timeout_ms),
                max_in_flight: 100,
                max_frame_bytes: 100 * 1024 * 1024,
            },
            metadata_max_age: Duration::from_millis(self.metadata_max_age_ms),
            reconnect_backoff: Duration::from_millis(self.reconnect_backoff_ms),
            reconnect_backoff_max: Duration::from_millis(self.reconnect_backoff_max_ms),
            allow_auto_create_topics: false,
        })
    }
}

/// A topic to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTopic {
    /// The name.
    pub name: String,
    /// Partitions (-1: the broker's `num.partitions`).
    pub partitions: i32,
    /// Replication factor (-1: the broker's default).
    pub replication_factor: i16,
    /// Topic configs (`retention.ms`, `cleanup.policy`, ...).
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    /// `name` with `partitions` partitions, the default replication factor, no configs.
    pub fn new(name: impl Into<String>, partitions: i32) -> Self {
        NewTopic {
            name: name.into(),
            partitions,
            replication_factor: -1,
            configs: BTreeMap::new(),
        }
    }

    /// With config `key` = `value`.
    pub fn with_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.insert(key.into(), value.into());
        self
    }
}

/// What CreateTopics reports for a created topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedTopic {
    /// The topic id (zero before CreateTopics v7).
    pub topic_id: Uuid,
    /// Partitions (-1 before v5).
    pub partitions: i32,
}

/// A topic in [`Admin::list_topics`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicListing {
    /// The name.
    pub name: String,
    /// The topic id.
    pub topic_id: Uuid,
    /// Whether it is internal (`__consumer_offsets`).
    pub is_internal: bool,
    /// The number of partitions.
    pub partitions: i32,
}

/// One topic config as DescribeConfigs reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    /// The key.
    pub name: String,
    /// The value (`None` if sensitive or unset).
    pub value: Option<String>,
    /// Kafka's `ConfigSource` (1 a topic override, 4 a broker setting, 5 a default, ...).
    pub source: i8,
    /// Whether it cannot be altered.
    pub read_only: bool,
    /// Whether the value is hidden.
    pub is_sensitive: bool,
}

impl ConfigEntry {
    /// Whether the value is a topic-level override (`DYNAMIC_TOPIC_CONFIG`).
    pub fn is_topic_override(&self) -> bool {
        self.source == 1
    }
}

/// A topic in [`Admin::describe_topics`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicDescription {
    /// The name.
    pub name: String,
    /// The topic id.
    pub topic_id: Uuid,
    /// Whether it is internal.
    pub is_internal: bool,
    /// Partitions with leaders, replicas and in-sync replicas.
    pub partitions: Vec<PartitionMetadata>,
    /// Its configs, with their sources.
    pub configs: Vec<ConfigEntry>,
}

/// A change to a topic config (IncrementalAlterConfigs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlterConfigOp {
    /// Set `key` to `value`.
    Set(String, String),
    /// Remove the override of `key` (back to the default).
    Delete(String),
}

/// A group in [`Admin::list_groups`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupListing {
    /// The group id.
    pub group_id: String,
    /// The protocol type (`consumer` for consumer groups).
    pub protocol_type: String,
    /// The state (`Stable`, `Empty`, ...; empty before ListGroups v4).
    pub state: String,
}

/// A member in [`GroupDescription`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberDescription {
    /// The member id.
    pub member_id: String,
    /// The static member id, if any.
    pub group_instance_id: Option<String>,
    /// The member's `client.id`.
    pub client_id: String,
    /// The member's host, as the broker saw it.
    pub client_host: String,
    /// Its assigned partitions (decoded for consumer groups).
    pub assignment: Vec<TopicPartition>,
}

/// A group in [`Admin::describe_groups`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group id.
    pub group_id: String,
    /// The state (`Stable`, `PreparingRebalance`, `CompletingRebalance`, `Empty`, `Dead`).
    pub state: String,
    /// The protocol type.
    pub protocol_type: String,
    /// The protocol (the assignor, for consumer groups).
    pub protocol: String,
    /// The members.
    pub members: Vec<MemberDescription>,
}

/// One partition's committed offset in a group, with the partition's end and the lag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupOffset {
    /// The partition.
    pub partition: TopicPartition,
    /// The committed offset (`None`: nothing committed).
    pub committed: Option<i64>,
    /// The metadata committed with it.
    pub metadata: String,
    /// The high watermark (`None` if it could not be read).
    pub log_end_offset: Option<i64>,
    /// `log_end_offset - committed`, when both are known.
    pub lag: Option<i64>,
}

/// The admin client; see the module documentation.
pub struct Admin {
    config: AdminConfig,
    cluster: Arc<Cluster>,
}

impl Admin {
    /// An admin client for `config`. Connects lazily. Must be called inside a Tokio runtime.
    pub fn new(config: AdminConfig) -> Result<Admin> {
        let cluster = Cluster::new(config.network()?)?;
        Ok(Admin { config, cluster })
    }

    fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.config.request_timeout_ms)
    }

    /// Runs `attempt` until it succeeds, fails for good, or `default.api.timeout.ms` passes.
    async fn retrying<T, F, Fut>(&self, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let deadline = Instant::now() + Duration::from_millis(self.config.default_api_timeout_ms);
        loop {
            match attempt().await {
                Err(e) if e.is_retriable() && Instant::now() < deadline => {
                    tracing::debug!(error = %e, "admin call failed, retrying");
                    tokio::time::sleep(Duration::from_millis(self.config.retry_backoff_ms)).await;
                }
                result => return result,
            }
        }
    }

    /// The controller's connection (any broker if Metadata names none).
    async fn controller(&self) -> Result<Arc<Connection>> {
        let metadata = self.cluster.refresh_metadata().await?;
        match metadata.brokers.get(&metadata.controller_id) {
            Some(b) => self.cluster.connection(&b.address()).await,
            None => self.cluster.any_connection().await,
        }
    }

    /// A controller error that means "ask again" (retriable to [`Admin::retrying`]).
    fn controller_moved(api: ApiKey) -> Error {
        Error::Kafka(
            KafkaError::new(api, ErrorCode::NOT_COORDINATOR).message(Some("the controller moved")),
        )
    }

    /// Creates `topics`; each topic's outcome separately (TOPIC_ALREADY_EXISTS included).
    pub async fn create_topics(
        &self,
        topics: &[NewTopic],
    ) -> Result<BTreeMap<String, Result<CreatedTopic>>> {
        let timeout = self.request_timeout();
        self.retrying(|| async {
            let conn = self.controller().await?;
            let response = self
                .cluster
                .send(&conn, Duration::ZERO, |_| {
                    CreateTopicsRequest::default()
                        .with_timeout_ms(millis_i32(timeout))
                        .with_topics(
                            topics
                                .iter()
                                .map(|t| {
                                    CreatableTopic::default()
                                        .with_name(topic_name(&t.name))
                                        .with_num_partitions(t.partitions)
                                        .with_replication_factor(t.replication_factor)
                                        .with_configs(
                                            t.configs
                                                .iter()
                                                .map(|(k, v)| {
                                                    CreatableTopicConfig::default()
                                                        .with_name(str_bytes(k))
                                                        .with_value(Some(str_bytes(v)))
                                                })
                                                .collect(),
                                        )
                                })
                                .collect(),
                        )
                })
                .await?;
            let mut out = BTreeMap::new();
            for t in response.topics {
                let name = t.name.0.to_string();
                if ErrorCode(t.error_code) == NOT_CONTROLLER {
                    return Err(Self::controller_moved(ApiKey::CreateTopics));
                }
                let result = check(t.error_code, |code| {
                    KafkaError::new(ApiKey::CreateTopics, code)
                        .topic(name.clone())
                        .message(t.error_message.as_ref().map(|m| m.to_string()))
                })
                .map(|()| CreatedTopic {
                    topic_id: t.topic_id,
                    partitions: t.num_partitions,
                });
                out.insert(name, result);
            }
            Ok(out)
        })
        .await
    }

    /// Creates one topic; an error if it exists or cannot be created.
    pub async fn create_topic(&self, topic: NewTopic) -> Result<CreatedTopic> {
        let name = topic.name.clone();
        let mut results = self.create_topics(&[topic]).await?;
        results.remove(&name).unwrap_or_else(|| {
            Err(Error::InvalidResponse {
                broker: "controller".to_owned(),
                api: ApiKey::CreateTopics,
                reason: format!("no answer for topic {name}"),
            })
        })
    }

    /// Deletes `topics`; each topic's outcome separately.
    pub async fn delete_topics(&self, topics: &[&str]) -> Result<BTreeMap<String, Result<()>>> {
        let timeout = self.request_timeout();
        self.retrying(|| async {
            let conn = self.controller().await?;
            let response = self
                .cluster
                .send(&conn, Duration::ZERO, |version| {
                    let request = DeleteTopicsRequest::default().with_timeout_ms(millis_i32(timeout));
                    if version >= 6 {
                        request.with_topics(
                            topics
                                .iter()
                                .map(|t| {
                                    fastdata_protocol::kafka_protocol::messages::delete_topics_request::DeleteTopicState::default()
                                        .with_name(Some(topic_name(t)))
                                })
                                .collect(),
                        )
                    } else {
                        request.with_topic_names(topics.iter().map(|t| topic_name(t)).collect())
                    }
                })
                .await?;
            let mut out = BTreeMap::new();
            for r in response.responses {
                let name = r.name.map(|n| n.0.to_string()).unwrap_or_default();
                if ErrorCode(r.error_code) == NOT_CONTROLLER {
                    return Err(Self::controller_moved(ApiKey::DeleteTopics));
                }
                let result = check(r.error_code, |code| {
                    KafkaError::new(ApiKey::DeleteTopics, code)
                        .topic(name.clone())
                        .message(r.error_message.as_ref().map(|m| m.to_string()))
                });
                out.insert(name, result);
            }
            Ok(out)
        })
        .await
    }

    /// Every topic (internal ones only if `include_internal`).
    pub async fn list_topics(&self, include_internal: bool) -> Result<Vec<TopicListing>> {
        let metadata = self
            .retrying(|| self.cluster.fetch_metadata(None, false))
            .await?;
        let mut out: Vec<TopicListing> = metadata
            .topics
            .into_values()
            .filter(|t| t.error.is_ok() && (include_internal || !t.is_internal))
            .map(|t| TopicListing {
                partitions: t.partition_count(),
                name: t.name,
                topic_id: t.topic_id,
                is_internal: t.is_internal,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Partitions and configs of `topics`; a missing topic is an UNKNOWN_TOPIC_OR_PARTITION
    /// error for it.
    pub async fn describe_topics(
        &self,
        topics: &[&str],
    ) -> Result<BTreeMap<String, Result<TopicDescription>>> {
        let names: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        let metadata = self
            .retrying(|| self.cluster.fetch_metadata(Some(names.clone()), false))
            .await?;
        let mut out = BTreeMap::new();
        for name in &names {
            let Some(t) = metadata.topics.get(name) else {
                out.insert(
                    name.clone(),
                    Err(Error::Kafka(
                        KafkaError::new(ApiKey::Metadata, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
                            .topic(name.clone()),
                    )),
                );
                continue;
            };
            if !t.error.is_ok() {
                out.insert(
                    name.clone(),
                    Err(Error::Kafka(
                        KafkaError::new(ApiKey::Metadata, t.error).topic(name.clone()),
                    )),
                );
                continue;
            }
            let configs = self.describe_topic_configs(name).await;
            out.insert(
                name.clone(),
                configs.map(|configs| TopicDescription {
                    name: t.name.clone(),
                    topic_id: t.topic_id,
                    is_internal: t.is_internal,
                    partitions: t.partitions.clone(),
                    configs,
                }),
            );
        }
        Ok(out)
    }

    /// The configs of `topic` (DescribeConfigs), sorted by name.
    pub async fn describe_topic_configs(&self, topic: &str) -> Result<Vec<ConfigEntry>> {
        self.retrying(|| async {
            let conn = self.cluster.any_connection().await?;
            let response = self
                .cluster
                .send(&conn, Duration::ZERO, |_| {
                    DescribeConfigsRequest::default().with_resources(vec![
                        DescribeConfigsResource::default()
                            .with_resource_type(RESOURCE_TOPIC)
                            .with_resource_name(str_bytes(topic))
                            .with_configuration_keys(None),
                    ])
                })
                .await?;
            let Some(result) = response
                .results
                .into_iter()
                .find(|r| r.resource_name.as_str() == topic)
            else {
                return Err(Error::InvalidResponse {
                    broker: conn.address().to_owned(),
                    api: ApiKey::DescribeConfigs,
                    reason: format!("no answer for topic {topic}"),
                });
            };
            check(result.error_code, |code| {
                KafkaError::new(ApiKey::DescribeConfigs, code)
                    .topic(topic)
                    .message(result.error_message.as_ref().map(|m| m.to_string()))
            })?;
            let mut configs: Vec<ConfigEntry> = result
                .configs
                .into_iter()
                .map(|c| ConfigEntry {
                    name: c.name.to_string(),
                    value: c.value.map(|v| v.to_string()),
                    source: c.config_source,
                    read_only: c.read_only,
                    is_sensitive: c.is_sensitive,
                })
                .collect();
            configs.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(configs)
        })
        .await
    }

    /// Changes configs of `topic` (IncrementalAlterConfigs), leaving the others as they are.
    pub async fn alter_topic_configs(&self, topic: &str, ops: &[AlterConfigOp]) -> Result<()> {
        self.retrying(|| async {
            let conn = self.controller().await?;
            let response = self
                .cluster
                .send(&conn, Duration::ZERO, |_| {
                    let configs = ops
                        .iter()
                        .map(|op| match op {
                            AlterConfigOp::Set(k, v) => AlterableConfig::default()
                                .with_name(str_bytes(k))
                                .with_config_operation(0)
                                .with_value(Some(str_bytes(v))),
                            AlterConfigOp::Delete(k) => AlterableConfig::default()
                                .with_name(str_bytes(k))
                                .with_config_operation(1)
                                .with_value(None),
                        })
                        .collect();
                    IncrementalAlterConfigsRequest::default().with_resources(vec![
                        AlterConfigsResource::default()
                            .with_resource_type(RESOURCE_TOPIC)
                            .with_resource_name(str_bytes(topic))
                            .with_configs(configs),
                    ])
                })
                .await?;
            for r in response.responses {
                check(r.error_code, |code| {
                    KafkaError::new(ApiKey::IncrementalAlterConfigs, code)
                        .topic(topic)
                        .message(r.error_message.as_ref().map(|m| m.to_string()))
                })?;
            }
            Ok(())
        })
        .await
    }

    /// Grows `topic` to `total_partitions` partitions.
    pub async fn create_partitions(&self, topic: &str, total_partitions: i32) -> Result<()> {
        let timeout = self.request_timeout();
        self.retrying(|| async {
            let conn = self.controller().await?;
            let response = self
                .cluster
                .send(&conn, Duration::ZERO, |_| {
                    CreatePartitionsRequest::default()
                        .with_timeout_ms(millis_i32(timeout))
                        .with_topics(vec![CreatePartitionsTopic::default()
                            .with_name(topic_name(topic))
                            .with_count(total_partitions)
                            .with_assignments(None)])
                })
                .await?;
            for r in response.results {
                if ErrorCode(r.error_code) == NOT_CONTROLLER {
                    return Err(Self::controller_moved(ApiKey::CreatePartitions));
                }
                check(r.error_code, |code| {
                    KafkaError::new(ApiKey::CreatePartitions, code)
                        .topic(topic)
                        .message(r.error_message.as_ref().map(|m| m.to_string()))
                })?;
            }
            Ok(())
        })
        .await
    }

    /// Every group on every broker.
    pub async fn list_groups(&self) -> Result<Vec<GroupListing>> {
        let metadata = self.retrying(|| self.cluster.refresh_metadata()).await?;
        let mut addresses: BTreeSet<String> =
            metadata.brokers.values().map(|b| b.address()).collect();
        if addresses.is_empty() {
            addresses.extend(self.cluster.config().bootstrap.iter().cloned());
        }
        let mut out = Vec::new();
        for address in addresses {
            let listed = self
                .retrying(|| async {
                    let conn = self.cluster.connection(&address).await?;
                    let response = self
                        .cluster
                        .send(&conn, Duration::ZERO, |_| ListGroupsRequest::default())
                        .await?;
                    check(response.error_code, |code| {
                        KafkaError::new(ApiKey::ListGroups, code)
                    })?;
                    Ok(response.groups)
                })
                .await?;
            out.extend(listed.into_iter().map(|g| GroupListing {
                group_id: g.group_id.0.to_string(),
                protocol_type: g.protocol_type.to_string(),
                state: g.group_state.to_string(),
            }));
        }
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok(out)
    }

    /// The coordinator connection of `group`.
    async fn coordinator(&self, group: &str) -> Result<Arc<Connection>> {
        let coordinator = find_coordinator(&self.cluster, group).await?;
        self.cluster.connection(&coordinator.address()).await
    }

    /// State, protocol and members (with decoded assignments) of each group.
    pub async fn describe_groups(
        &self,
        groups: &[&str],
    ) -> Result<BTreeMap<String, Result<GroupDescription>>> {
        let mut out = BTreeMap::new();
        for &group in groups {
            let described = self
                .retrying(|| async {
                    let conn = self.coordinator(group).await?;
                    let response = self
                        .cluster
                        .send(&conn, Duration::ZERO, |_| {
                            DescribeGroupsRequest::default().with_groups(vec![group_id(group)])
                        })
                        .await?;
                    let g = response
                        .groups
                        .into_iter()
                        .find(|g| g.group_id.0.as_str() == group)
                        .ok_or_else(|| Error::InvalidResponse {
                            broker: conn.address().to_owned(),
                            api: ApiKey::DescribeGroups,
                            reason: format!("no answer for group {group}"),
                        })?;
                    check(g.error_code, |code| {
                        KafkaError::new(ApiKey::DescribeGroups, code)
                            .group(group)
                            .message(g.error_message.as_ref().map(|m| m.to_string()))
                    })?;
                    let consumer = g.protocol_type.as_str() == PROTOCOL_TYPE;
                    let mut members = Vec::with_capacity(g.members.len());
                    for m in g.members {
                        let assignment = if consumer {
                            decode_assignment(m.member_assignment)?.partitions
                        } else {
                            Vec::new()
                        };
                        members.push(MemberDescription {
                            member_id: m.member_id.to_string(),
                            group_instance_id: m.group_instance_id.map(|i| i.to_string()),
                            client_id: m.client_id.to_string(),
                            client_host: m.client_host.to_string(),
                            assignment,
                        });
                    }
                    Ok(GroupDescription {
                        group_id: group.to_owned(),
                        state: g.group_state.to_string(),
                        protocol_type: g.protocol_type.to_string(),
                        protocol: g.protocol_data.to_string(),
                        members,
                    })
                })
                .await;
            out.insert(group.to_owned(), described);
        }
        Ok(out)
    }

    /// The group's committed offsets, each with its partition's high watermark and the lag.
    pub async fn list_group_offsets(&self, group: &str) -> Result<Vec<GroupOffset>> {
        let committed = self
            .retrying(|| async {
                let conn = self.coordinator(group).await?;
                fetch_committed(&self.cluster, &conn, group, None).await
            })
            .await?;
        let topics: BTreeSet<&str> = committed.keys().map(|tp| tp.topic.as_str()).collect();
        self.cluster.track_topics(topics.iter().copied());
        let _ = self.cluster.refresh_metadata().await;
        let wanted: BTreeMap<TopicPartition, i64> = committed
            .keys()
            .map(|tp| (tp.clone(), LATEST_TIMESTAMP))
            .collect();
        let ends = offsets::list_offsets(&self.cluster, &wanted, 0).await?;
        Ok(committed
            .into_iter()
            .map(|(tp, c)| {
                let log_end_offset = ends
                    .get(&tp)
                    .and_then(|r| r.as_ref().ok())
                    .map(|l| l.offset);
                let committed = c.as_ref().map(|c| c.offset);
                GroupOffset {
                    lag: committed.zip(log_end_offset).map(|(c, e)| (e - c).max(0)),
                    metadata: c.map(|c| c.metadata).unwrap_or_default(),
                    partition: tp,
                    committed,
                    log_end_offset,
                }
            })
            .collect())
    }

    /// Closes the admin client's connections.
    pub fn close(self) {
        self.cluster.shutdown();
    }
}

impl Drop for Admin {
    fn drop(&mut self) {
        self.cluster.shutdown();
    }
}
