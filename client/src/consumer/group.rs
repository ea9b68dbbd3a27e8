//! Group membership, the classic protocol: find the coordinator, JoinGroup (protocol type
//! `consumer`, one protocol per configured assignor), the leader's assignment, SyncGroup,
//! heartbeats from a background task, LeaveGroup.
//!
//! The consumer drives a rebalance from `poll` ([`Group::join`], one round; the caller loops
//! while it asks for another); a heartbeat task keeps the member alive between rebalances and
//! records what the coordinator says into the shared [`MemberState`]: REBALANCE_IN_PROGRESS asks
//! for a rejoin (and heartbeats go on until `poll` rejoins, so a member busy with its records
//! keeps its session, as with the Java client), UNKNOWN_MEMBER_ID forgets the member id and
//! generation, ILLEGAL_GENERATION the generation, coordinator errors mark the coordinator
//! unknown. The task also leaves the group
//! when `poll` has not been called for `max.poll.interval.ms`, as the Java client's heartbeat
//! thread does. JoinGroup answers MEMBER_ID_REQUIRED (KIP-394) with a member id to join with.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fastdata_protocol::kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use fastdata_protocol::kafka_protocol::messages::leave_group_request::MemberIdentity;
use fastdata_protocol::kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use fastdata_protocol::kafka_protocol::messages::{
    ApiKey, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    SyncGroupRequest,
};
use fastdata_protocol::kafka_protocol::protocol::StrBytes;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::assignor::{
    decode_assignment, decode_subscription, encode_assignment, encode_subscription, Assignment,
    Assignor, Subscription, NO_GENERATION, PROTOCOL_TYPE,
};
use crate::cluster::Cluster;
use crate::conn::{lock, Connection};
use crate::error::{Error, ErrorCode, KafkaError, Result};
use crate::offsets::{find_coordinator, Committer};
use crate::types::TopicPartition;
use crate::wire::{group_id, millis_i32, str_bytes};

/// How long JoinGroup may take beyond the rebalance timeout (Java's
/// `JOIN_GROUP_TIMEOUT_LAPSE`).
const JOIN_GROUP_TIMEOUT_LAPSE: Duration = Duration::from_secs(5);

/// The rebalance protocol: cooperative only if every configured assignor supports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// Revoke everything before joining.
    Eager,
    /// Keep what stays assigned; revoke only what moves, then rejoin.
    Cooperative,
}

/// Group settings taken from the consumer's configuration.
#[derive(Clone, Debug)]
pub(crate) struct GroupSettings {
    pub group_id: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub max_poll_interval: Duration,
    pub assignors: Vec<Assignor>,
}

/// What the consumer and the heartbeat task know about the membership.
#[derive(Debug)]
pub(crate) struct MemberState {
    pub member_id: String,
    pub generation: i32,
    pub rejoin_needed: bool,
    pub coordinator_unknown: bool,
    pub fatal: Option<Error>,
    pub last_poll: Instant,
}

/// A finished rebalance.
pub(crate) struct Joined {
    pub generation: i32,
    pub assignment: Assignment,
}

/// One consumer's membership of its group.
pub(crate) struct Group {
    settings: GroupSettings,
    cluster: Arc<Cluster>,
    coordinator: Option<Arc<Connection>>,
    state: Arc<Mutex<MemberState>>,
    wake: Arc<Notify>,
    heartbeat: Option<JoinHandle<()>>,
    /// Partition counts the last assignment (as leader) was computed from.
    leader_snapshot: Option<BTreeMap<String, i32>>,
    /// The last round failed in a way that calls for another at once (MEMBER_ID_REQUIRED,
    /// REBALANCE_IN_PROGRESS), not after a backoff.
    retry_now: bool,
}

impl Group {
    pub(crate) fn new(settings: GroupSettings, cluster: Arc<Cluster>) -> Group {
        Group {
            settings,
            cluster,
            coordinator: None,
            state: Arc::new(Mutex::new(MemberState {
                member_id: String::new(),
                generation: NO_GENERATION,
                rejoin_needed: true,
                coordinator_unknown: true,
                fatal: None,
                last_poll: Instant::now(),
            })),
            wake: Arc::new(Notify::new()),
            heartbeat: None,
            leader_snapshot: None,
            retry_now: false,
        }
    }

    pub(crate) fn group_id(&self) -> &str {
        &self.settings.group_id
    }

    /// The rebalance protocol the configured assignors allow.
    pub(crate) fn protocol(&self) -> Protocol {
        if self
            .settings
            .assignors
            .iter()
            .all(|a| a.supports_cooperative())
        {
            Protocol::Cooperative
        } else {
            Protocol::Eager
        }
    }

    /// Woken when the heartbeat task learns something `poll` must act on.
    pub(crate) fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Records a call of `poll` (for `max.poll.interval.ms`).
    pub(crate) fn polled(&self) {
        lock(&self.state).last_poll = Instant::now();
    }

    /// The current generation (-1 when none).
    pub(crate) fn generation(&self) -> i32 {
        lock(&self.state).generation
    }

    /// Whether a JoinGroup is due.
    pub(crate) fn needs_join(&self) -> bool {
        let state = lock(&self.state);
        state.rejoin_needed || state.generation < 0
    }

    /// Whether the last rebalance round asked to be repeated at once.
    pub(crate) fn retry_now(&self) -> bool {
        self.retry_now
    }

    /// Asks for a rejoin at the next `poll`.
    pub(crate) fn request_rejoin(&self) {
        lock(&self.state).rejoin_needed = true;
    }

    /// The fatal error the heartbeat task recorded, if any.
    pub(crate) fn take_fatal(&self) -> Option<Error> {
        lock(&self.state).fatal.take()
    }

    /// Who commits offsets now.
    pub(crate) fn committer(&self) -> Committer {
        let state = lock(&self.state);
        Committer {
            group: self.settings.group_id.clone(),
            generation: state.generation,
            member_id: state.member_id.clone(),
        }
    }

    /// Forgets the coordinator (it moved or its connection broke).
    pub(crate) fn coordinator_dead(&mut self) {
        self.coordinator = None;
        lock(&self.state).coordinator_unknown = true;
    }

    /// The coordinator's connection if it is known and open (never looks it up).
    pub(crate) fn ready_coordinator(&self) -> Option<Arc<Connection>> {
        let known = !lock(&self.state).coordinator_unknown;
        self.coordinator.clone().filter(|c| known && !c.is_closed())
    }

    /// The coordinator's connection, finding the coordinator if needed.
    pub(crate) async fn coordinator(&mut self) -> Result<Arc<Connection>> {
        let known = !lock(&self.state).coordinator_unknown;
        if let Some(conn) = self.coordinator.clone().filter(|c| known && !c.is_closed()) {
            return Ok(conn);
        }
        self.coordinator = None;
        let broker = find_coordinator(&self.cluster, &self.settings.group_id).await?;
        let conn = self.cluster.connection(&broker.address()).await?;
        self.coordinator = Some(conn.clone());
        lock(&self.state).coordinator_unknown = false;
        Ok(conn)
    }

    /// Whether the leader's last assignment used other partition counts than the metadata
    /// now shows for `topics` (a topic appeared or grew): then the leader rejoins.
    pub(crate) fn leader_metadata_changed(&self, topics: &BTreeSet<String>) -> bool {
        let Some(snapshot) = &self.leader_snapshot else {
            return false;
        };
        let metadata = self.cluster.metadata();
        topics.iter().any(|t| {
            let now = metadata.topic(t).map_or(0, |m| m.partition_count());
            snapshot.get(t).copied().unwrap_or(0) != now
        })
    }

    /// One JoinGroup + SyncGroup round for `topics`, declaring `owned` partitions. `Ok(None)`:
    /// try again (the state says why); `Err`: a fatal error.
    pub(crate) async fn join(
        &mut self,
        topics: &BTreeSet<String>,
        owned: &[TopicPartition],
    ) -> Result<Option<Joined>> {
        self.stop_heartbeat();
        self.retry_now = false;
        let conn = match self.coordinator().await {
            Ok(conn) => conn,
            Err(e) if e.is_retriable() => return Ok(None),
            Err(e) => return Err(e),
        };
        let (member_id, generation) = {
            let state = lock(&self.state);
            (state.member_id.clone(), state.generation)
        };
        let mut protocols = Vec::new();
        for assignor in &self.settings.assignors {
            let subscription = Subscription {
                topics: topics.iter().cloned().collect(),
                user_data: assignor.subscription_user_data(generation),
                owned_partitions: owned.to_vec(),
                generation_id: generation,
                rack_id: None,
                group_instance_id: None,
            };
            protocols.push(
                JoinGroupRequestProtocol::default()
                    .with_name(StrBytes::from_static_str(assignor.name()))
                    .with_metadata(encode_subscription(&subscription)?),
            );
        }
        let settings = self.settings.clone();
        let extra = settings.rebalance_timeout + JOIN_GROUP_TIMEOUT_LAPSE;
        let response = self
            .cluster
            .send(&conn, extra, |version| {
                let request = JoinGroupRequest::default()
                    .with_group_id(group_id(&settings.group_id))
                    .with_session_timeout_ms(millis_i32(settings.session_timeout))
                    .with_member_id(str_bytes(&member_id))
                    .with_protocol_type(StrBytes::from_static_str(PROTOCOL_TYPE))
                    .with_protocols(protocols);
                if version >= 1 {
                    request.with_rebalance_timeout_ms(millis_i32(settings.rebalance_timeout))
                } else {
                    request
                }
            })
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => return self.transport_error(e),
        };
        let code = ErrorCode(response.error_code);
        if !code.is_ok() {
            return self.join_error(ApiKey::JoinGroup, code, Some(&response.member_id));
        }
        {
            let mut state = lock(&self.state);
            state.member_id = response.member_id.to_string();
            state.generation = response.generation_id;
        }
        let protocol = response
            .protocol_name
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default();
        let assignor = self
            .settings
            .assignors
            .iter()
            .copied()
            .find(|a| a.name() == protocol)
            .ok_or_else(|| {
                Error::Assignment(format!(
                    "the coordinator chose unknown protocol {protocol:?}"
                ))
            })?;
        let leader = response.leader == response.member_id;
        let assignments = if leader {
            match self.assign(assignor, &response).await {
                Ok(a) => a,
                Err(e) if e.is_retriable() => {
                    self.request_rejoin();
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        } else {
            self.leader_snapshot = None;
            Vec::new()
        };
        let generation = response.generation_id;
        let member_id = response.member_id.clone();
        let response = self
            .cluster
            .send(&conn, Duration::ZERO, |version| {
                let request = SyncGroupRequest::default()
                    .with_group_id(group_id(&settings.group_id))
                    .with_generation_id(generation)
                    .with_member_id(member_id.clone())
                    .with_assignments(assignments);
                if version >= 5 {
                    request
                        .with_protocol_type(Some(StrBytes::from_static_str(PROTOCOL_TYPE)))
                        .with_protocol_name(Some(StrBytes::from_static_str(assignor.name())))
                } else {
                    request
                }
            })
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => return self.transport_error(e),
        };
        let code = ErrorCode(response.error_code);
        if !code.is_ok() {
            return self.join_error(ApiKey::SyncGroup, code, None);
        }
        let assignment = decode_assignment(response.assignment)?;
        lock(&self.state).rejoin_needed = false;
        tracing::info!(
            group = %self.settings.group_id,
            generation,
            protocol = assignor.name(),
            leader,
            partitions = assignment.partitions.len(),
            "joined group"
        );
        Ok(Some(Joined {
            generation,
            assignment,
        }))
    }

    /// The leader's work: decode the members' subscriptions, get metadata for every topic
    /// they subscribe to, run the assignor, encode one assignment per member.
    async fn assign(
        &mut self,
        assignor: Assignor,
        response: &JoinGroupResponse,
    ) -> Result<Vec<SyncGroupRequestAssignment>> {
        let mut members = BTreeMap::new();
        for m in &response.members {
            let mut subscription = decode_subscription(m.metadata.clone())?;
            subscription.group_instance_id = m.group_instance_id.as_ref().map(|i| i.to_string());
            members.insert(m.member_id.to_string(), subscription);
        }
        let topics: BTreeSet<String> = members
            .values()
            .flat_map(|s| s.topics.iter().cloned())
            .collect();
        self.cluster.track_topics(topics.iter().map(String::as_str));
        let metadata = self.cluster.refresh_metadata().await?;
        let partitions: BTreeMap<String, i32> = topics
            .iter()
            .filter_map(|t| metadata.topic(t).map(|m| (t.clone(), m.partition_count())))
            .collect();
        let result = assignor.assign(&partitions, &members)?;
        let mut out = Vec::with_capacity(members.len());
        for member_id in members.keys() {
            let assignment = Assignment {
                partitions: result.get(member_id).cloned().unwrap_or_default(),
                user_data: None,
            };
            out.push(
                SyncGroupRequestAssignment::default()
                    .with_member_id(str_bytes(member_id))
                    .with_assignment(encode_assignment(&assignment)?),
            );
        }
        self.leader_snapshot = Some(partitions);
        Ok(out)
    }

    /// A request that got no answer: the coordinator may have moved.
    fn transport_error(&mut self, e: Error) -> Result<Option<Joined>> {
        if e.is_retriable() {
            self.coordinator_dead();
            Ok(None)
        } else {
            Err(e)
        }
    }

    /// What a JoinGroup or SyncGroup error code means for the next round.
    fn join_error(
        &mut self,
        api: ApiKey,
        code: ErrorCode,
        member_id: Option<&StrBytes>,
    ) -> Result<Option<Joined>> {
        tracing::debug!(group = %self.settings.group_id, ?api, %code, "rebalance round failed");
        self.retry_now = matches!(
            code,
            ErrorCode::MEMBER_ID_REQUIRED | ErrorCode::REBALANCE_IN_PROGRESS
        );
        let mut state = lock(&self.state);
        state.rejoin_needed = true;
        match code {
            ErrorCode::MEMBER_ID_REQUIRED => {
                state.member_id = member_id.map(|m| m.to_string()).unwrap_or_default();
                Ok(None)
            }
            ErrorCode::UNKNOWN_MEMBER_ID => {
                state.member_id.clear();
                state.generation = NO_GENERATION;
                Ok(None)
            }
            ErrorCode::ILLEGAL_GENERATION => {
                state.generation = NO_GENERATION;
                Ok(None)
            }
            ErrorCode::REBALANCE_IN_PROGRESS | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => Ok(None),
            ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR => {
                drop(state);
                self.coordinator_dead();
                Ok(None)
            }
            code => Err(Error::Kafka(
                KafkaError::new(api, code).group(self.settings.group_id.clone()),
            )),
        }
    }

    /// Starts the heartbeat task if the member is stable and none runs.
    pub(crate) fn ensure_heartbeat(&mut self) {
        if self.heartbeat.as_ref().is_some_and(|h| !h.is_finished()) || self.needs_join() {
            return;
        }
        let Some(conn) = self.coordinator.clone() else {
            return;
        };
        self.heartbeat = Some(tokio::spawn(heartbeat_loop(
            self.cluster.clone(),
            conn,
            self.settings.clone(),
            self.state.clone(),
            self.wake.clone(),
        )));
    }

    fn stop_heartbeat(&mut self) {
        if let Some(task) = self.heartbeat.take() {
            task.abort();
        }
    }

    /// Leaves the group (LeaveGroup), forgetting member id and generation.
    pub(crate) async fn leave(&mut self) {
        self.stop_heartbeat();
        let member_id = {
            let mut state = lock(&self.state);
            state.generation = NO_GENERATION;
            state.rejoin_needed = true;
            std::mem::take(&mut state.member_id)
        };
        if member_id.is_empty() {
            return;
        }
        let Some(conn) = self.coordinator.clone() else {
            return;
        };
        if let Err(e) = send_leave(
            &self.cluster,
            &conn,
            &self.settings.group_id,
            &member_id,
            "the consumer is closing",
        )
        .await
        {
            tracing::debug!(group = %self.settings.group_id, error = %e, "LeaveGroup failed");
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop_heartbeat();
    }
}

async fn send_leave(
    cluster: &Cluster,
    conn: &Connection,
    group: &str,
    member_id: &str,
    reason: &'static str,
) -> Result<()> {
    let response = cluster
        .send(conn, Duration::ZERO, |version| {
            let request = LeaveGroupRequest::default().with_group_id(group_id(group));
            if version >= 3 {
                let member = MemberIdentity::default().with_member_id(str_bytes(member_id));
                let member = if version >= 5 {
                    member.with_reason(Some(StrBytes::from_static_str(reason)))
                } else {
                    member
                };
                request.with_members(vec![member])
            } else {
                request.with_member_id(str_bytes(member_id))
            }
        })
        .await?;
    crate::error::check(response.error_code, |code| {
        KafkaError::new(ApiKey::LeaveGroup, code).group(group)
    })
}

/// Heartbeats every `heartbeat.interval.ms` until the coordinator asks for a rejoin, the
/// member is fenced, or `poll` went quiet for `max.poll.interval.ms` (then it leaves).
async fn heartbeat_loop(
    cluster: Arc<Cluster>,
    conn: Arc<Connection>,
    settings: GroupSettings,
    state: Arc<Mutex<MemberState>>,
    wake: Arc<Notify>,
) {
    let shutdown = cluster.shutdown_token();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(settings.heartbeat_interval) => {}
        }
        let (member_id, generation, last_poll) = {
            let s = lock(&state);
            if s.generation < 0 || s.coordinator_unknown {
                return;
            }
            (s.member_id.clone(), s.generation, s.last_poll)
        };
        if last_poll.elapsed() > settings.max_poll_interval {
            tracing::warn!(group = %settings.group_id, "poll not called within max.poll.interval.ms: leaving the group");
            let _ = send_leave(
                &cluster,
                &conn,
                &settings.group_id,
                &member_id,
                "consumer poll timeout has expired",
            )
            .await;
            let mut s = lock(&state);
            s.member_id.clear();
            s.generation = NO_GENERATION;
            s.rejoin_needed = true;
            drop(s);
            wake.notify_one();
            return;
        }
        let response = cluster
            .send(&conn, Duration::ZERO, |_| {
                HeartbeatRequest::default()
                    .with_group_id(group_id(&settings.group_id))
                    .with_generation_id(generation)
                    .with_member_id(str_bytes(&member_id))
            })
            .await;
        let code = match response {
            Ok(r) => ErrorCode(r.error_code),
            Err(e) => {
                tracing::debug!(group = %settings.group_id, error = %e, "heartbeat failed");
                lock(&state).coordinator_unknown = true;
                wake.notify_one();
                return;
            }
        };
        let mut s = lock(&state);
        if s.generation != generation {
            return;
        }
        match code {
            ErrorCode::NONE | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => continue,
            ErrorCode::REBALANCE_IN_PROGRESS => {
                // Keep heartbeating until `poll` rejoins: the coordinator keeps the member for
                // the rebalance timeout as long as its session stays alive.
                let first = !s.rejoin_needed;
                s.rejoin_needed = true;
                drop(s);
                if first {
                    tracing::debug!(group = %settings.group_id, "heartbeat: rebalance in progress");
                    wake.notify_one();
                }
                continue;
            }
            ErrorCode::UNKNOWN_MEMBER_ID => {
                s.member_id.clear();
                s.generation = NO_GENERATION;
                s.rejoin_needed = true;
            }
            ErrorCode::ILLEGAL_GENERATION => {
                s.generation = NO_GENERATION;
                s.rejoin_needed = true;
            }
            ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR => {
                s.coordinator_unknown = true
            }
            code => {
                s.fatal = Some(Error::Kafka(
                    KafkaError::new(ApiKey::Heartbeat, code).group(settings.group_id.clone()),
                ));
            }
        }
        tracing::debug!(group = %settings.group_id, %code, "heartbeat answered");
        drop(s);
        wake.notify_one();
        return;
    }
}
