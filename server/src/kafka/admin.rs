//! The admin APIs: CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs, AlterConfigs
//! and IncrementalAlterConfigs. Topic changes go through [`crate::topics::TopicRegistry`] (on a
//! blocking thread: they create or remove files); configs through [`crate::topic_config`].
//!
//! Broker configs can be described (every key of [`crate::config::KEYS`], read-only) but not
//! altered: they are static, set by the file, environment or flags at start.

use std::collections::BTreeMap;
use std::sync::Arc;

use fastdata_protocol::kafka_protocol::error::ResponseError;
use fastdata_protocol::kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use fastdata_protocol::kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use fastdata_protocol::kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use fastdata_protocol::kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use fastdata_protocol::kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use fastdata_protocol::kafka_protocol::messages::incremental_alter_configs_response as incremental;
use fastdata_protocol::kafka_protocol::messages::*;
use fastdata_protocol::kafka_protocol::protocol::StrBytes;

use super::errors::{self, KafkaError};
use super::{blocking, RequestContext};
use crate::broker::Broker;
use crate::config::{ConfigTable, KEYS};
use crate::topic_config::{self, ConfigSource, ConfigType, TOPIC_KEYS};
use crate::topics::{TopicError, TopicRegistry};

/// DescribeConfigs resource types.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

/// IncrementalAlterConfigs operations.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

fn s(value: impl Into<String>) -> StrBytes {
    StrBytes::from_string(value.into())
}

/// Run a topic-registry operation on a blocking thread (it creates or removes files), its error
/// as the Kafka error clients act on.
async fn topic_op<T: Send + 'static>(
    broker: &Arc<Broker>,
    op: impl FnOnce(&TopicRegistry) -> Result<T, TopicError> + Send + 'static,
) -> Result<T, KafkaError> {
    let b = broker.clone();
    blocking(move || op(&b.topics))
        .await
        .unwrap_or_else(|| Err(TopicError::Storage("the operation's task failed".into())))
        .map_err(|e| errors::from_topic(&e))
}

/// Replica assignments must name this broker alone.
fn check_assignment(broker: &Broker, replicas: &[BrokerId]) -> Result<(), KafkaError> {
    if replicas != [BrokerId(broker.config.node_id)] {
        return Err(KafkaError::new(
            ResponseError::InvalidReplicaAssignment,
            format!(
                "replica assignment {:?} must be exactly this broker ({}): one broker serves replication factor 1",
                replicas.iter().map(|b| b.0).collect::<Vec<_>>(),
                broker.config.node_id
            ),
        ));
    }
    Ok(())
}

/// CreateTopics, one topic at a time; `validate_only` checks without creating.
pub(crate) async fn handle_create_topics(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let mut results = Vec::with_capacity(req.topics.len());
    for topic in req.topics {
        let name = topic.name.0.to_string();
        let overrides: BTreeMap<String, String> = topic
            .configs
            .iter()
            .filter_map(|c| Some((c.name.to_string(), c.value.as_ref()?.to_string())))
            .collect();
        let mut partitions = topic.num_partitions;
        let mut check = Ok(());
        if !topic.assignments.is_empty() {
            if partitions != -1 || topic.replication_factor != -1 {
                check = Err(KafkaError::new(
                    ResponseError::InvalidRequest,
                    "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.",
                ));
            }
            for a in &topic.assignments {
                check = check.and_then(|()| check_assignment(broker, &a.broker_ids));
            }
            partitions = i32::try_from(topic.assignments.len()).unwrap_or(i32::MAX);
        }
        let replication = if topic.assignments.is_empty() {
            topic.replication_factor
        } else {
            1
        };
        let validate_only = req.validate_only;
        let owned = name.clone();
        let created = match check {
            Err(e) => Err(e),
            Ok(()) => {
                topic_op(broker, move |topics| {
                    if validate_only {
                        topics
                            .check_create(&owned, partitions, replication, &overrides)
                            .map(|(n, _)| (n, None))
                    } else {
                        topics
                            .create(&owned, partitions, replication, overrides)
                            .map(|t| (t.partitions.len() as i32, Some(t)))
                    }
                })
                .await
            }
        };
        let mut result = CreatableTopicResult::default().with_name(topic.name);
        match created {
            Ok((count, created)) => {
                if ctx.api_version >= 5 {
                    result.num_partitions = count;
                    result.replication_factor = 1;
                    let overrides = created
                        .as_ref()
                        .map(|t| t.overrides.clone())
                        .unwrap_or_default();
                    result.configs = Some(
                        TOPIC_KEYS
                            .iter()
                            .map(|key| {
                                let (value, source) =
                                    topic_config::effective(&broker.config, &overrides, key);
                                CreatableTopicConfigs::default()
                                    .with_name(s(key.name))
                                    .with_value(Some(s(value)))
                                    .with_config_source(source as i8)
                            })
                            .collect(),
                    );
                }
            }
            Err(e) => {
                broker.metrics.error("CreateTopics", e.code);
                result.error_code = e.code;
                if ctx.api_version >= 1 {
                    result.error_message = Some(s(e.message));
                }
            }
        }
        results.push(result);
    }
    CreateTopicsResponse::default().with_topics(results)
}

/// DeleteTopics by name.
pub(crate) async fn handle_delete_topics(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let mut responses = Vec::with_capacity(req.topic_names.len());
    for name in req.topic_names {
        let owned = name.0.to_string();
        let deleted = topic_op(broker, move |topics| topics.delete(&owned)).await;
        let mut result = DeletableTopicResult::default().with_name(Some(name));
        if let Err(e) = deleted {
            broker.metrics.error("DeleteTopics", e.code);
            result.error_code = e.code;
            if ctx.api_version >= 5 {
                result.error_message = Some(s(e.message));
            }
        }
        responses.push(result);
    }
    DeleteTopicsResponse::default().with_responses(responses)
}

/// CreatePartitions: grow topics; `validate_only` checks without growing.
pub(crate) async fn handle_create_partitions(
    broker: &Arc<Broker>,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(req.topics.len());
    for topic in req.topics {
        let mut check = Ok(());
        for a in topic.assignments.iter().flatten() {
            check = check.and_then(|()| check_assignment(broker, &a.broker_ids));
        }
        let owned = topic.name.0.to_string();
        let count = topic.count;
        let validate_only = req.validate_only;
        let outcome = match check {
            Err(e) => Err(e),
            Ok(()) => {
                topic_op(broker, move |topics| {
                    if validate_only {
                        topics.check_add_partitions(&owned, count).map(|_| ())
                    } else {
                        topics.add_partitions(&owned, count).map(|_| ())
                    }
                })
                .await
            }
        };
        let mut result = CreatePartitionsTopicResult::default().with_name(topic.name);
        if let Err(e) = outcome {
            broker.metrics.error("CreatePartitions", e.code);
            result.error_code = e.code;
            result.error_message = Some(s(e.message));
        }
        results.push(result);
    }
    CreatePartitionsResponse::default().with_results(results)
}

fn wanted(keys: &Option<Vec<StrBytes>>, name: &str) -> bool {
    keys.as_ref()
        .is_none_or(|k| k.iter().any(|k| k.as_str() == name))
}

fn describe_topic_configs(
    broker: &Broker,
    ctx: &RequestContext,
    name: &str,
    keys: &Option<Vec<StrBytes>>,
    synonyms: bool,
    docs: bool,
) -> Result<Vec<DescribeConfigsResourceResult>, KafkaError> {
    let topic = broker.topics.get(name).ok_or_else(|| {
        KafkaError::new(
            ResponseError::UnknownTopicOrPartition,
            format!("Topic {name} does not exist"),
        )
    })?;
    Ok(TOPIC_KEYS
        .iter()
        .filter(|key| wanted(keys, key.name))
        .map(|key| {
            let (value, source) = topic_config::effective(&broker.config, &topic.overrides, key);
            let mut entry = DescribeConfigsResourceResult::default()
                .with_name(s(key.name))
                .with_value(Some(s(value)));
            if ctx.api_version >= 1 {
                entry.config_source = source as i8;
            }
            if synonyms && ctx.api_version >= 1 {
                let mut list = Vec::new();
                if let Some(v) = topic.overrides.get(key.name) {
                    list.push(
                        DescribeConfigsSynonym::default()
                            .with_name(s(key.name))
                            .with_value(Some(s(v.clone())))
                            .with_source(ConfigSource::DynamicTopic as i8),
                    );
                }
                let broker_value = broker.config.get(key.broker_key).unwrap_or_default();
                if broker.config.explicit.contains(key.broker_key) {
                    list.push(
                        DescribeConfigsSynonym::default()
                            .with_name(s(key.broker_key))
                            .with_value(Some(s(broker_value)))
                            .with_source(ConfigSource::StaticBroker as i8),
                    );
                }
                let default = crate::config::BrokerConfig::default()
                    .get(key.broker_key)
                    .unwrap_or_default();
                list.push(
                    DescribeConfigsSynonym::default()
                        .with_name(s(key.broker_key))
                        .with_value(Some(s(default)))
                        .with_source(ConfigSource::Default as i8),
                );
                entry.synonyms = list;
            }
            if ctx.api_version >= 3 {
                entry.config_type = key.config_type as i8;
                if docs {
                    entry.documentation = Some(s(key.doc));
                }
            }
            entry
        })
        .collect())
}

fn describe_broker_configs(
    broker: &Broker,
    ctx: &RequestContext,
    name: &str,
    keys: &Option<Vec<StrBytes>>,
    docs: bool,
) -> Result<Vec<DescribeConfigsResourceResult>, KafkaError> {
    if !name.is_empty() && name != broker.config.node_id.to_string() {
        return Err(KafkaError::new(
            ResponseError::InvalidRequest,
            format!("this is broker {}, not {name}", broker.config.node_id),
        ));
    }
    Ok(KEYS
        .iter()
        .filter(|key| wanted(keys, key.name))
        .map(|key| {
            let mut entry = DescribeConfigsResourceResult::default()
                .with_name(s(key.name))
                .with_value(broker.config.get(key.name).map(s))
                .with_read_only(true);
            if ctx.api_version >= 1 {
                entry.config_source = if broker.config.explicit.contains(key.name) {
                    ConfigSource::StaticBroker as i8
                } else {
                    ConfigSource::Default as i8
                };
            }
            if ctx.api_version >= 3 {
                entry.config_type = ConfigType::String as i8;
                if docs {
                    entry.documentation = Some(s(key.doc));
                }
            }
            entry
        })
        .collect())
}

/// DescribeConfigs of topics and of this broker.
pub(crate) fn handle_describe_configs(
    broker: &Broker,
    ctx: &RequestContext,
    req: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let results = req
        .resources
        .into_iter()
        .map(|r| {
            let name = r.resource_name.to_string();
            let described = match r.resource_type {
                RESOURCE_TOPIC => describe_topic_configs(
                    broker,
                    ctx,
                    &name,
                    &r.configuration_keys,
                    req.include_synonyms,
                    req.include_documentation,
                ),
                RESOURCE_BROKER => describe_broker_configs(
                    broker,
                    ctx,
                    &name,
                    &r.configuration_keys,
                    req.include_documentation,
                ),
                other => Err(KafkaError::new(
                    ResponseError::InvalidRequest,
                    format!("resource type {other} is not supported"),
                )),
            };
            let result = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name);
            match described {
                Ok(configs) => result.with_configs(configs),
                Err(e) => {
                    broker.metrics.error("DescribeConfigs", e.code);
                    result
                        .with_error_code(e.code)
                        .with_error_message(Some(s(e.message)))
                }
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

/// Apply a new complete set of overrides to a topic (or only check it).
async fn apply_topic_configs(
    broker: &Arc<Broker>,
    name: String,
    overrides: BTreeMap<String, String>,
    validate_only: bool,
) -> Result<(), KafkaError> {
    topic_op(broker, move |topics| {
        if validate_only {
            topics.check_configs(&name, &overrides).map(|_| ())
        } else {
            topics.set_configs(&name, overrides).map(|_| ())
        }
    })
    .await
}

fn broker_configs_are_static() -> KafkaError {
    KafkaError::new(
        ResponseError::InvalidRequest,
        "broker configs are static in fastdata: set them in the config file, environment or flags and restart",
    )
}

/// AlterConfigs: a topic's overrides become exactly the given set.
pub(crate) async fn handle_alter_configs(
    broker: &Arc<Broker>,
    req: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in req.resources {
        let outcome = match r.resource_type {
            RESOURCE_TOPIC => {
                let overrides = r
                    .configs
                    .iter()
                    .filter_map(|c| Some((c.name.to_string(), c.value.as_ref()?.to_string())))
                    .collect();
                apply_topic_configs(
                    broker,
                    r.resource_name.to_string(),
                    overrides,
                    req.validate_only,
                )
                .await
            }
            RESOURCE_BROKER => Err(broker_configs_are_static()),
            other => Err(KafkaError::new(
                ResponseError::InvalidRequest,
                format!("resource type {other} is not supported"),
            )),
        };
        let mut response = AlterConfigsResourceResponse::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name);
        if let Err(e) = outcome {
            broker.metrics.error("AlterConfigs", e.code);
            response.error_code = e.code;
            response.error_message = Some(s(e.message));
        }
        responses.push(response);
    }
    AlterConfigsResponse::default().with_responses(responses)
}

/// The overrides after one IncrementalAlterConfigs operation.
fn apply_operation(
    overrides: &mut BTreeMap<String, String>,
    broker: &Broker,
    name: &str,
    op: i8,
    value: Option<&str>,
) -> Result<(), KafkaError> {
    let invalid = |m: String| KafkaError::new(ResponseError::InvalidConfig, m);
    let key = topic_config::topic_key(name)
        .ok_or_else(|| invalid(format!("Unknown topic config name: {name}")))?;
    match op {
        OP_SET => {
            let value =
                value.ok_or_else(|| invalid(format!("Null value not supported for : {name}")))?;
            overrides.insert(name.to_string(), value.to_string());
        }
        OP_DELETE => {
            overrides.remove(name);
        }
        OP_APPEND | OP_SUBTRACT => {
            if key.config_type != ConfigType::List {
                return Err(invalid(format!(
                    "Config value append is not allowed for config key: {name}"
                )));
            }
            let (current, _) = topic_config::effective(&broker.config, overrides, key);
            let mut items: Vec<String> = current
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect();
            for item in value
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
            {
                if op == OP_APPEND {
                    if !items.iter().any(|i| i == item) {
                        items.push(item.to_string());
                    }
                } else {
                    items.retain(|i| i != item);
                }
            }
            overrides.insert(name.to_string(), items.join(","));
        }
        other => {
            return Err(KafkaError::new(
                ResponseError::InvalidRequest,
                format!("unknown config operation {other}"),
            ))
        }
    }
    Ok(())
}

/// IncrementalAlterConfigs: SET, DELETE, APPEND and SUBTRACT on a topic's overrides.
pub(crate) async fn handle_incremental_alter_configs(
    broker: &Arc<Broker>,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in req.resources {
        let name = r.resource_name.to_string();
        let outcome = match r.resource_type {
            RESOURCE_TOPIC => match broker.topics.get(&name) {
                None => Err(KafkaError::new(
                    ResponseError::UnknownTopicOrPartition,
                    format!("Topic {name} does not exist"),
                )),
                Some(topic) => {
                    let mut overrides = topic.overrides.clone();
                    let mut result = Ok(());
                    for c in &r.configs {
                        result = result.and_then(|()| {
                            apply_operation(
                                &mut overrides,
                                broker,
                                c.name.as_str(),
                                c.config_operation,
                                c.value.as_deref(),
                            )
                        });
                    }
                    match result {
                        Ok(()) => {
                            apply_topic_configs(broker, name, overrides, req.validate_only).await
                        }
                        Err(e) => Err(e),
                    }
                }
            },
            RESOURCE_BROKER => Err(broker_configs_are_static()),
            other => Err(KafkaError::new(
                ResponseError::InvalidRequest,
                format!("resource type {other} is not supported"),
            )),
        };
        let mut response = incremental::AlterConfigsResourceResponse::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name);
        if let Err(e) = outcome {
            broker.metrics.error("IncrementalAlterConfigs", e.code);
            response.error_code = e.code;
            response.error_message = Some(s(e.message));
        }
        responses.push(response);
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}
