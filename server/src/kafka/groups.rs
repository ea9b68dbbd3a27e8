//! The group APIs (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
//! OffsetFetch, DescribeGroups, ListGroups): requests in, [`crate::group`] calls, responses out,
//! with each version's fields.

use std::sync::Arc;

use fastdata_protocol::kafka_protocol::error::ResponseError;
use fastdata_protocol::kafka_protocol::messages::describe_groups_response::{
    DescribedGroup, DescribedGroupMember,
};
use fastdata_protocol::kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use fastdata_protocol::kafka_protocol::messages::leave_group_response::MemberResponse;
use fastdata_protocol::kafka_protocol::messages::list_groups_response::ListedGroup;
use fastdata_protocol::kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use fastdata_protocol::kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use fastdata_protocol::kafka_protocol::messages::*;
use fastdata_protocol::kafka_protocol::protocol::StrBytes;
use tracing::warn;

use super::{blocking, RequestContext};
use crate::broker::Broker;
use crate::group::{CommittedOffset, JoinRequest, OffsetToCommit, SyncRequest};

fn s(value: impl Into<String>) -> StrBytes {
    StrBytes::from_string(value.into())
}

/// Kafka's key types of FindCoordinator.
const KEY_TYPE_GROUP: i8 = 0;

/// FindCoordinator: this broker coordinates every group (and would every transaction).
pub(crate) async fn handle_find_coordinator(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let (host, port) = broker.advertised();
    let mut response = FindCoordinatorResponse::default()
        .with_node_id(BrokerId(broker.config.node_id))
        .with_host(s(host))
        .with_port(port);
    if req.key_type == KEY_TYPE_GROUP {
        let b = broker.clone();
        let created = blocking(move || b.groups.offsets_topic().map(|_| ())).await;
        if !matches!(created, Some(Ok(()))) {
            warn!(?created, "cannot create __consumer_offsets");
            response = response
                .with_error_code(ResponseError::CoordinatorNotAvailable.code())
                .with_node_id(BrokerId(-1))
                .with_host(s(""))
                .with_port(-1);
            if ctx.api_version >= 1 {
                response.error_message = Some(s("the offsets topic could not be created"));
            }
        }
    }
    response
}

/// JoinGroup: answered when the rebalance completes.
pub(crate) async fn handle_join_group(
    broker: &Broker,
    ctx: &RequestContext,
    req: JoinGroupRequest,
) -> JoinGroupResponse {
    let rebalance_timeout_ms = if ctx.api_version >= 1 {
        req.rebalance_timeout_ms
    } else {
        req.session_timeout_ms
    };
    let outcome = broker
        .groups
        .join_group(JoinRequest {
            group_id: req.group_id.0.to_string(),
            member_id: req.member_id.to_string(),
            group_instance_id: req.group_instance_id.map(|i| i.to_string()),
            client_id: ctx.client_id.clone(),
            client_host: format!("/{}", ctx.peer.ip()),
            session_timeout_ms: req.session_timeout_ms,
            rebalance_timeout_ms,
            protocol_type: req.protocol_type.to_string(),
            protocols: req
                .protocols
                .into_iter()
                .map(|p| (p.name.to_string(), p.metadata))
                .collect(),
            require_known_member_id: ctx.api_version >= 4,
        })
        .await;
    if outcome.error_code != 0 {
        broker.metrics.error("JoinGroup", outcome.error_code);
    }
    let mut response = JoinGroupResponse::default()
        .with_error_code(outcome.error_code)
        .with_generation_id(outcome.generation_id)
        .with_leader(s(outcome.leader))
        .with_member_id(s(outcome.member_id))
        .with_members(
            outcome
                .members
                .into_iter()
                .map(|(id, instance, metadata)| {
                    let member = JoinGroupResponseMember::default()
                        .with_member_id(s(id))
                        .with_metadata(metadata);
                    if ctx.api_version >= 5 {
                        member.with_group_instance_id(instance.map(s))
                    } else {
                        member
                    }
                })
                .collect(),
        );
    response.protocol_name = Some(s(outcome.protocol_name.unwrap_or_default()));
    if ctx.api_version >= 7 {
        response.protocol_type = outcome.protocol_type.map(s);
    }
    response
}

/// SyncGroup: the member's assignment once the leader's arrived.
pub(crate) async fn handle_sync_group(
    broker: &Broker,
    ctx: &RequestContext,
    req: SyncGroupRequest,
) -> SyncGroupResponse {
    let outcome = broker
        .groups
        .sync_group(SyncRequest {
            group_id: req.group_id.0.to_string(),
            generation_id: req.generation_id,
            member_id: req.member_id.to_string(),
            protocol_type: req.protocol_type.map(|p| p.to_string()),
            protocol_name: req.protocol_name.map(|p| p.to_string()),
            assignments: req
                .assignments
                .into_iter()
                .map(|a| (a.member_id.to_string(), a.assignment))
                .collect(),
        })
        .await;
    if outcome.error_code != 0 {
        broker.metrics.error("SyncGroup", outcome.error_code);
    }
    let mut response = SyncGroupResponse::default()
        .with_error_code(outcome.error_code)
        .with_assignment(outcome.assignment);
    if ctx.api_version >= 5 {
        response.protocol_type = outcome.protocol_type.map(s);
        response.protocol_name = outcome.protocol_name.map(s);
    }
    response
}

/// Heartbeat.
pub(crate) fn handle_heartbeat(broker: &Broker, req: HeartbeatRequest) -> HeartbeatResponse {
    let code = broker.groups.heartbeat(
        req.group_id.0.as_str(),
        req.member_id.as_str(),
        req.generation_id,
    );
    if code != 0 && code != ResponseError::RebalanceInProgress.code() {
        broker.metrics.error("Heartbeat", code);
    }
    HeartbeatResponse::default().with_error_code(code)
}

/// LeaveGroup: one member (v0–2) or several (v3+).
pub(crate) fn handle_leave_group(
    broker: &Broker,
    ctx: &RequestContext,
    req: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let group = req.group_id.0.to_string();
    if ctx.api_version < 3 {
        let code = broker
            .groups
            .leave_group(&group, &[req.member_id.to_string()])[0];
        return LeaveGroupResponse::default().with_error_code(code);
    }
    let ids: Vec<String> = req
        .members
        .iter()
        .map(|m| m.member_id.to_string())
        .collect();
    let codes = broker.groups.leave_group(&group, &ids);
    let members = req
        .members
        .into_iter()
        .zip(codes)
        .map(|(m, code)| {
            MemberResponse::default()
                .with_member_id(m.member_id)
                .with_group_instance_id(m.group_instance_id)
                .with_error_code(code)
        })
        .collect();
    LeaveGroupResponse::default().with_members(members)
}

/// OffsetCommit: appended to `__consumer_offsets` before the answer.
pub(crate) async fn handle_offset_commit(
    broker: &Arc<Broker>,
    req: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let commits: Vec<OffsetToCommit> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| OffsetToCommit {
                topic: t.name.0.to_string(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: p.committed_leader_epoch,
                metadata: p
                    .committed_metadata
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
            })
        })
        .collect();
    let b = broker.clone();
    let group = req.group_id.0.to_string();
    let member = req.member_id.to_string();
    let generation = req.generation_id_or_member_epoch;
    let count = commits.len();
    let codes = blocking(move || {
        b.groups
            .commit_offsets(&group, generation, &member, &commits)
    })
    .await
    .unwrap_or_else(|| vec![ResponseError::UnknownServerError.code(); count]);
    let mut codes = codes.into_iter();
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let code = codes
                        .next()
                        .unwrap_or(ResponseError::UnknownServerError.code());
                    if code != 0 {
                        broker.metrics.error("OffsetCommit", code);
                    }
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

type Fetched = Vec<((String, i32), Option<CommittedOffset>)>;

fn fetch_group(broker: &Broker, group: &str, topics: Option<Vec<(String, Vec<i32>)>>) -> Fetched {
    let wanted = topics.map(|ts| {
        ts.into_iter()
            .flat_map(|(t, ps)| ps.into_iter().map(move |p| (t.clone(), p)))
            .collect()
    });
    broker.groups.fetch_offsets(group, wanted)
}

/// The committed offsets grouped by topic, each partition built by `partition`.
fn by_topic<T>(
    fetched: Fetched,
    mut partition: impl FnMut(i32, Option<CommittedOffset>) -> T,
) -> Vec<(String, Vec<T>)> {
    super::group_by_topic(
        fetched
            .into_iter()
            .map(|((topic, index), offset)| (topic, partition(index, offset))),
    )
}

/// OffsetFetch: v1–7 for one group, v8 for several. Nothing committed reads as offset -1
/// with no error, as in Kafka.
pub(crate) fn handle_offset_fetch(
    broker: &Broker,
    ctx: &RequestContext,
    req: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let version = ctx.api_version;
    if version >= 8 {
        let groups = req
            .groups
            .into_iter()
            .map(|g| {
                let topics = g.topics.map(|ts| {
                    ts.into_iter()
                        .map(|t| (t.name.0.to_string(), t.partition_indexes))
                        .collect()
                });
                let fetched = fetch_group(broker, g.group_id.0.as_str(), topics);
                let topics = by_topic(fetched, |index, offset| {
                    let (offset, epoch, metadata) = offset.map_or((-1, -1, String::new()), |o| {
                        (o.offset, o.leader_epoch, o.metadata)
                    });
                    OffsetFetchResponsePartitions::default()
                        .with_partition_index(index)
                        .with_committed_offset(offset)
                        .with_committed_leader_epoch(epoch)
                        .with_metadata(Some(s(metadata)))
                })
                .into_iter()
                .map(|(name, partitions)| {
                    OffsetFetchResponseTopics::default()
                        .with_name(TopicName(s(name)))
                        .with_partitions(partitions)
                })
                .collect();
                OffsetFetchResponseGroup::default()
                    .with_group_id(g.group_id)
                    .with_topics(topics)
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let topics = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes))
            .collect()
    });
    let fetched = fetch_group(broker, req.group_id.0.as_str(), topics);
    let topics = by_topic(fetched, |index, offset| {
        let (offset, epoch, metadata) = offset.map_or((-1, -1, String::new()), |o| {
            (o.offset, o.leader_epoch, o.metadata)
        });
        let p = OffsetFetchResponsePartition::default()
            .with_partition_index(index)
            .with_committed_offset(offset)
            .with_metadata(Some(s(metadata)));
        if version >= 5 {
            p.with_committed_leader_epoch(epoch)
        } else {
            p
        }
    })
    .into_iter()
    .map(|(name, partitions)| {
        OffsetFetchResponseTopic::default()
            .with_name(TopicName(s(name)))
            .with_partitions(partitions)
    })
    .collect();
    OffsetFetchResponse::default().with_topics(topics)
}

/// DescribeGroups: an unknown group is reported `Dead` with no error, as Kafka does up to v5.
pub(crate) fn handle_describe_groups(
    broker: &Broker,
    ctx: &RequestContext,
    req: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let groups = req
        .groups
        .into_iter()
        .map(|id| {
            let described = DescribedGroup::default().with_group_id(id.clone());
            match broker.groups.describe(id.0.as_str()) {
                None => described.with_group_state(s("Dead")),
                Some(g) => described
                    .with_group_state(s(g.state))
                    .with_protocol_type(s(g.protocol_type))
                    .with_protocol_data(s(g.protocol))
                    .with_members(
                        g.members
                            .into_iter()
                            .map(|m| {
                                let member = DescribedGroupMember::default()
                                    .with_member_id(s(m.member_id))
                                    .with_client_id(s(m.client_id))
                                    .with_client_host(s(m.client_host))
                                    .with_member_metadata(m.metadata)
                                    .with_member_assignment(m.assignment);
                                if ctx.api_version >= 4 {
                                    member.with_group_instance_id(m.group_instance_id.map(s))
                                } else {
                                    member
                                }
                            })
                            .collect(),
                    ),
            }
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}

/// ListGroups, filtered by state from v4.
pub(crate) fn handle_list_groups(broker: &Broker, req: ListGroupsRequest) -> ListGroupsResponse {
    let filter: Vec<String> = req
        .states_filter
        .iter()
        .map(|st| st.to_ascii_lowercase())
        .collect();
    let groups = broker
        .groups
        .list()
        .into_iter()
        .filter(|g| filter.is_empty() || filter.contains(&g.state.to_ascii_lowercase()))
        .map(|g| {
            ListedGroup::default()
                .with_group_id(GroupId(s(g.group_id)))
                .with_protocol_type(s(g.protocol_type))
                .with_group_state(s(g.state))
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}
