//! The group coordinator: consumer groups on the classic protocol every Kafka client speaks
//! (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), and the groups' committed offsets.
//!
//! Each group is a state machine, as in Kafka's `GroupCoordinator`:
//!
//! ```text
//!  Empty ──join──► PreparingRebalance ──all joined / rebalance timeout──► CompletingRebalance
//!    ▲                  ▲    │                                                  │
//!    └── last member ───┘    └──── member joins, leaves, expires ◄──────────────┤
//!        leaves                                                      leader's SyncGroup
//!                                                                               ▼
//!                                                                            Stable
//! ```
//!
//! A JoinGroup is answered only when the rebalance completes: every known member has rejoined,
//! or the rebalance timeout (the largest of the members' `rebalance.timeout.ms`) passed and the
//! members that did not rejoin were removed. A new group waits `group.initial.rebalance.delay.ms`
//! for more members first. The leader receives every member's subscription and runs the
//! client-side assignor; its SyncGroup carries the assignments, which the coordinator hands out
//! as opaque bytes. Members that stop heartbeating for `session.timeout.ms` are removed, and each
//! membership change starts a rebalance; stale generations are fenced with ILLEGAL_GENERATION.
//! Timers are driven by [`GroupCoordinator::tick`], which the broker calls every 100 ms.
//!
//! Committed offsets are appended to `__consumer_offsets` ([`offsets`]) before they are
//! acknowledged, and rebuilt from it on start ([`GroupCoordinator::load`]). Offsets of a group
//! without members expire after `offsets.retention.minutes` (KIP-211: counted from when the
//! group became empty, or from the commit for groups that never had members).
//!
//! Not supported yet: static membership (`group.instance.id` is accepted and ignored) and
//! persistence of group metadata (members rejoin after a restart).

pub mod offsets;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use fastdata_log::batch::{split_batches, BatchBuilder, Compression};
use fastdata_protocol::kafka_protocol::error::ResponseError;
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use crate::config::BrokerConfig;
use crate::topics::{Topic, TopicError, TopicRegistry, CONSUMER_OFFSETS};
pub use offsets::CommittedOffset;

const NONE: i16 = 0;

/// Kafka's name of each group state, as DescribeGroups and ListGroups report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl GroupState {
    /// Kafka's name for the state.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

/// What a JoinGroup is answered with.
#[derive(Debug, Clone, Default)]
pub struct JoinOutcome {
    pub error_code: i16,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// For the leader only: every member's id and metadata for the chosen protocol.
    pub members: Vec<(String, Option<String>, Bytes)>,
}

impl JoinOutcome {
    fn error(code: i16, member_id: &str) -> Self {
        JoinOutcome {
            error_code: code,
            generation_id: -1,
            member_id: member_id.to_string(),
            ..JoinOutcome::default()
        }
    }
}

/// What a SyncGroup is answered with.
#[derive(Debug, Clone, Default)]
pub struct SyncOutcome {
    pub error_code: i16,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncOutcome {
    fn error(code: i16) -> Self {
        SyncOutcome {
            error_code: code,
            ..SyncOutcome::default()
        }
    }
}

/// A JoinGroup request, as the coordinator needs it.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub group_id: String,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: an empty member id is first answered MEMBER_ID_REQUIRED (KIP-394).
    pub require_known_member_id: bool,
}

/// A SyncGroup request.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignments: Vec<(String, Bytes)>,
}

/// One member of a described group.
#[derive(Debug, Clone)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

/// DescribeGroups' view of a group.
#[derive(Debug, Clone)]
pub struct GroupDescription {
    pub state: &'static str,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<MemberDescription>,
}

/// ListGroups' view of a group.
#[derive(Debug, Clone)]
pub struct GroupListing {
    pub group_id: String,
    pub protocol_type: String,
    pub state: &'static str,
}

/// An offset to commit for one partition.
#[derive(Debug, Clone)]
pub struct OffsetToCommit {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
}

struct Member {
    group_instance_id: Option<String>,
    client_id: String,
    client_host: String,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    protocols: Vec<(String, Bytes)>,
    assignment: Bytes,
    last_heartbeat: Instant,
    join_waiter: Option<oneshot::Sender<JoinOutcome>>,
    sync_waiter: Option<oneshot::Sender<SyncOutcome>>,
}

impl Member {
    fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|(name, _)| name == protocol)
    }
}

struct Group {
    id: String,
    state: GroupState,
    /// When the group entered its state (ms since the epoch).
    state_since_ms: i64,
    protocol_type: Option<String>,
    protocol: Option<String>,
    generation: i32,
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, awaiting their rejoin, and until when.
    pending_members: HashMap<String, Instant>,
    /// PreparingRebalance: members not rejoined by then are removed.
    rebalance_deadline: Option<Instant>,
    /// A new group's initial delay: the rebalance does not complete before this.
    initial_delay_until: Option<Instant>,
    /// When the initial delay started (it is extended up to the rebalance timeout).
    initial_delay_started: Option<Instant>,
    /// CompletingRebalance: the leader's SyncGroup is due by then.
    sync_deadline: Option<Instant>,
    offsets: HashMap<(String, i32), CommittedOffset>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn duration_ms(ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl Group {
    fn new(id: &str) -> Group {
        Group {
            id: id.to_string(),
            state: GroupState::Empty,
            state_since_ms: now_ms(),
            protocol_type: None,
            protocol: None,
            generation: 0,
            leader: None,
            members: BTreeMap::new(),
            pending_members: HashMap::new(),
            rebalance_deadline: None,
            initial_delay_until: None,
            initial_delay_started: None,
            sync_deadline: None,
            offsets: HashMap::new(),
        }
    }

    fn transition(&mut self, state: GroupState) {
        debug!(group = %self.id, from = self.state.name(), to = state.name(), generation = self.generation, "group state");
        self.state = state;
        self.state_since_ms = now_ms();
    }

    fn max_rebalance_timeout(&self) -> Duration {
        self.members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default()
    }

    /// The protocols every member supports, chosen by the members' votes (each votes for its
    /// most preferred candidate; ties go to the earlier vote), as Kafka's `selectProtocol`.
    fn select_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let candidates: Vec<&String> = first
            .protocols
            .iter()
            .map(|(name, _)| name)
            .filter(|name| self.members.values().all(|m| m.supports(name)))
            .collect();
        let mut votes: Vec<(&String, usize)> = candidates.iter().map(|c| (*c, 0)).collect();
        for member in self.members.values() {
            if let Some((vote, _)) = member
                .protocols
                .iter()
                .find(|(n, _)| candidates.contains(&n))
            {
                if let Some(entry) = votes.iter_mut().find(|(c, _)| *c == vote) {
                    entry.1 += 1;
                }
            }
        }
        let best = votes.iter().map(|(_, n)| *n).max()?;
        votes
            .into_iter()
            .find(|(_, n)| *n == best)
            .map(|(c, _)| c.clone())
    }

    /// Whether a joining member's protocols fit the group's (type, and at least one protocol
    /// every current member supports too).
    fn accepts_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            return true;
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        protocols
            .iter()
            .any(|(name, _)| self.members.values().all(|m| m.supports(name)))
    }

    fn join_outcome_for(&self, member_id: &str) -> JoinOutcome {
        let protocol = self.protocol.clone().unwrap_or_default();
        let leader = self.leader.clone().unwrap_or_default();
        let members = if leader == member_id {
            self.members
                .iter()
                .map(|(id, m)| {
                    (
                        id.clone(),
                        m.group_instance_id.clone(),
                        m.metadata_for(&protocol),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinOutcome {
            error_code: NONE,
            generation_id: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            leader,
            member_id: member_id.to_string(),
            members,
        }
    }

    /// Start a rebalance: PreparingRebalance, with the deadline for members to rejoin. Members
    /// waiting for their SyncGroup answer learn of it (REBALANCE_IN_PROGRESS).
    fn prepare_rebalance(&mut self, initial_delay: Duration) {
        for member in self.members.values_mut() {
            if let Some(waiter) = member.sync_waiter.take() {
                let _ = waiter.send(SyncOutcome::error(
                    ResponseError::RebalanceInProgress.code(),
                ));
            }
        }
        let now = Instant::now();
        if self.state == GroupState::Empty && !initial_delay.is_zero() {
            self.initial_delay_until = Some(now + initial_delay);
            self.initial_delay_started = Some(now);
        }
        self.sync_deadline = None;
        self.rebalance_deadline = Some(now + self.max_rebalance_timeout());
        self.transition(GroupState::PreparingRebalance);
    }

    /// The ids of the members `pick` selects.
    fn members_where(&self, pick: impl Fn(&Member) -> bool) -> Vec<String> {
        self.members
            .iter()
            .filter(|(_, m)| pick(m))
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn all_members_joined(&self) -> bool {
        self.pending_members.is_empty() && self.members.values().all(|m| m.join_waiter.is_some())
    }

    /// Complete the join phase if every member is in and no initial delay holds it back.
    fn maybe_complete_join(&mut self, now: Instant) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        if self.initial_delay_until.is_some_and(|t| now < t) {
            return;
        }
        if self.all_members_joined() {
            self.complete_join();
        }
    }

    /// A new generation: choose the protocol and leader, answer every waiting JoinGroup.
    fn complete_join(&mut self) {
        self.initial_delay_until = None;
        self.initial_delay_started = None;
        self.rebalance_deadline = None;
        self.generation = self.generation.wrapping_add(1).max(1);
        if self.members.is_empty() {
            self.protocol = None;
            self.leader = None;
            self.transition(GroupState::Empty);
            info!(group = %self.id, generation = self.generation, "group is empty");
            return;
        }
        self.protocol = self.select_protocol();
        if !self
            .leader
            .as_ref()
            .is_some_and(|l| self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        let now = Instant::now();
        self.sync_deadline = Some(now + self.max_rebalance_timeout());
        self.transition(GroupState::CompletingRebalance);
        info!(group = %self.id, generation = self.generation, members = self.members.len(), protocol = ?self.protocol, leader = ?self.leader, "rebalance: join complete");
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let outcome = self.join_outcome_for(&id);
            if let Some(member) = self.members.get_mut(&id) {
                member.last_heartbeat = now;
                if let Some(waiter) = member.join_waiter.take() {
                    let _ = waiter.send(outcome);
                }
            }
        }
    }

    /// Remove a member (left, expired, or did not rejoin in time) and rebalance.
    fn remove_member(&mut self, member_id: &str, reason: &str, initial_delay: Duration) {
        let Some(mut member) = self.members.remove(member_id) else {
            return;
        };
        info!(group = %self.id, member = member_id, reason, "member removed");
        if let Some(waiter) = member.join_waiter.take() {
            let _ = waiter.send(JoinOutcome::error(
                ResponseError::UnknownMemberId.code(),
                member_id,
            ));
        }
        if let Some(waiter) = member.sync_waiter.take() {
            let _ = waiter.send(SyncOutcome::error(ResponseError::UnknownMemberId.code()));
        }
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(initial_delay);
                self.maybe_complete_join(Instant::now());
            }
            GroupState::PreparingRebalance => {
                if self.members.is_empty() {
                    self.complete_join();
                } else {
                    self.maybe_complete_join(Instant::now());
                }
            }
            GroupState::Empty => {}
        }
    }
}

/// The coordinator of every group on this broker.
pub struct GroupCoordinator {
    config: Arc<BrokerConfig>,
    topics: Arc<TopicRegistry>,
    groups: Mutex<HashMap<String, Arc<Mutex<Group>>>>,
}

impl std::fmt::Debug for GroupCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCoordinator").finish_non_exhaustive()
    }
}

fn relock<G>(r: std::sync::LockResult<G>) -> G {
    r.unwrap_or_else(|e| e.into_inner())
}

fn lock(group: &Mutex<Group>) -> MutexGuard<'_, Group> {
    relock(group.lock())
}

impl GroupCoordinator {
    /// A coordinator with no groups; [`GroupCoordinator::load`] rebuilds committed offsets.
    pub fn new(config: Arc<BrokerConfig>, topics: Arc<TopicRegistry>) -> GroupCoordinator {
        GroupCoordinator {
            config,
            topics,
            groups: Mutex::new(HashMap::new()),
        }
    }

    fn initial_delay(&self) -> Duration {
        Duration::from_millis(
            u64::try_from(self.config.group_initial_rebalance_delay_ms).unwrap_or(0),
        )
    }

    fn group(&self, id: &str) -> Option<Arc<Mutex<Group>>> {
        relock(self.groups.lock()).get(id).cloned()
    }

    /// The group `id`, created (Empty) if it does not exist and the group limit allows.
    fn group_or_create(&self, id: &str) -> Option<Arc<Mutex<Group>>> {
        let mut groups = relock(self.groups.lock());
        if let Some(g) = groups.get(id) {
            return Some(g.clone());
        }
        if groups.len() >= usize::try_from(self.config.group_max_count).unwrap_or(usize::MAX) {
            warn!(
                group = id,
                limit = self.config.group_max_count,
                "group.max.count reached; refusing a new group"
            );
            return None;
        }
        let g = Arc::new(Mutex::new(Group::new(id)));
        groups.insert(id.to_string(), g.clone());
        Some(g)
    }

    /// The `__consumer_offsets` topic, created on first use with
    /// `offsets.topic.num.partitions` partitions, compacted.
    pub fn offsets_topic(&self) -> Result<Arc<Topic>, TopicError> {
        if let Some(topic) = self.topics.get(CONSUMER_OFFSETS) {
            return Ok(topic);
        }
        let configs = [
            ("cleanup.policy".to_string(), "compact".to_string()),
            (
                "segment.bytes".to_string(),
                self.config.offsets_topic_segment_bytes.to_string(),
            ),
        ]
        .into();
        match self.topics.create(
            CONSUMER_OFFSETS,
            self.config.offsets_topic_num_partitions,
            1,
            configs,
        ) {
            Ok(topic) => Ok(topic),
            Err(TopicError::AlreadyExists(_)) => self
                .topics
                .get(CONSUMER_OFFSETS)
                .ok_or_else(|| TopicError::Unknown(CONSUMER_OFFSETS.to_string())),
            Err(e) => Err(e),
        }
    }

    /// Rebuild committed offsets from `__consumer_offsets` (blocking: reads every partition).
    pub fn load(&self) -> Result<usize, TopicError> {
        let Some(topic) = self.topics.get(CONSUMER_OFFSETS) else {
            return Ok(0);
        };
        let mut records = 0usize;
        let limit = topic.settings.log.max_message_bytes.saturating_mul(64);
        for partition in &topic.partitions {
            let mut offset = partition.log.log_start_offset();
            let end = partition.log.log_end_offset();
            while offset < end {
                let read = partition.log.read(offset, 1 << 20, None, true)?;
                if read.records.is_empty() {
                    break;
                }
                for batch in split_batches(&read.records) {
                    let batch = match batch {
                        Ok(b) => b,
                        Err(e) => {
                            warn!(partition = partition.index, %e, "skipping the rest of an unreadable __consumer_offsets read");
                            break;
                        }
                    };
                    let header = *batch.header();
                    offset = offset.max(header.next_offset());
                    let decoded = batch
                        .records(limit)
                        .map_err(|e| TopicError::Storage(e.to_string()))?;
                    for record in decoded {
                        let Some(key) = record.key.as_deref() else {
                            continue;
                        };
                        match offsets::decode(key, record.value.as_deref()) {
                            Ok(offsets::OffsetRecord::Offset {
                                group,
                                topic,
                                partition,
                                value,
                            }) => {
                                records += 1;
                                self.apply_loaded(&group, topic, partition, value);
                            }
                            Ok(offsets::OffsetRecord::Other) => {}
                            Err(e) => warn!(%e, "skipping a malformed __consumer_offsets record"),
                        }
                    }
                }
            }
        }
        // A loaded group has no members; its offsets expire counted from its newest commit.
        for group in relock(self.groups.lock()).values() {
            let mut g = lock(group);
            g.state_since_ms = g
                .offsets
                .values()
                .map(|o| o.commit_timestamp_ms)
                .max()
                .unwrap_or(g.state_since_ms);
            g.protocol_type = Some("consumer".to_string());
        }
        info!(
            records,
            groups = relock(self.groups.lock()).len(),
            "loaded committed offsets"
        );
        Ok(records)
    }

    fn apply_loaded(
        &self,
        group: &str,
        topic: String,
        partition: i32,
        value: Option<CommittedOffset>,
    ) {
        let mut groups = relock(self.groups.lock());
        let g = groups
            .entry(group.to_string())
            .or_insert_with(|| Arc::new(Mutex::new(Group::new(group))))
            .clone();
        drop(groups);
        let mut g = lock(&g);
        match value {
            Some(v) => {
                g.offsets.insert((topic, partition), v);
            }
            None => {
                g.offsets.remove(&(topic, partition));
            }
        }
    }

    /// JoinGroup: answered when the rebalance completes (or at once, for errors and for a member
    /// rejoining a stable group unchanged).
    pub async fn join_group(&self, req: JoinRequest) -> JoinOutcome {
        let receiver = match self.join_group_locked(&req) {
            Ok(outcome) => return outcome,
            Err(receiver) => receiver,
        };
        receiver.await.unwrap_or_else(|_| {
            JoinOutcome::error(ResponseError::RebalanceInProgress.code(), &req.member_id)
        })
    }

    fn join_group_locked(
        &self,
        req: &JoinRequest,
    ) -> Result<JoinOutcome, oneshot::Receiver<JoinOutcome>> {
        let fail = |code: ResponseError| Ok(JoinOutcome::error(code.code(), &req.member_id));
        if req.group_id.is_empty() {
            return fail(ResponseError::InvalidGroupId);
        }
        if req.session_timeout_ms < self.config.group_min_session_timeout_ms
            || req.session_timeout_ms > self.config.group_max_session_timeout_ms
        {
            return fail(ResponseError::InvalidSessionTimeout);
        }
        if req.protocol_type.is_empty() || req.protocols.is_empty() {
            return fail(ResponseError::InconsistentGroupProtocol);
        }
        let Some(group) = self.group_or_create(&req.group_id) else {
            return fail(ResponseError::CoordinatorNotAvailable);
        };
        let mut g = lock(&group);
        let now = Instant::now();
        let known = !req.member_id.is_empty() && g.members.contains_key(&req.member_id);
        let pending = !req.member_id.is_empty() && g.pending_members.contains_key(&req.member_id);
        if !req.member_id.is_empty() && !known && !pending {
            return fail(ResponseError::UnknownMemberId);
        }
        if !known && !g.accepts_protocols(&req.protocol_type, &req.protocols) {
            return fail(ResponseError::InconsistentGroupProtocol);
        }
        if !known
            && g.members.len() >= usize::try_from(self.config.group_max_size).unwrap_or(usize::MAX)
        {
            return fail(ResponseError::GroupMaxSizeReached);
        }
        if req.member_id.is_empty() && req.require_known_member_id {
            let member_id = format!("{}-{}", req.client_id, uuid::Uuid::new_v4());
            let deadline = now + duration_ms(req.session_timeout_ms);
            g.pending_members.insert(member_id.clone(), deadline);
            return Ok(JoinOutcome::error(
                ResponseError::MemberIdRequired.code(),
                &member_id,
            ));
        }
        let member_id = if req.member_id.is_empty() {
            format!("{}-{}", req.client_id, uuid::Uuid::new_v4())
        } else {
            req.member_id.clone()
        };
        g.pending_members.remove(&member_id);

        if known {
            let unchanged = g
                .members
                .get(&member_id)
                .is_some_and(|m| m.protocols == req.protocols);
            let is_leader = g.leader.as_deref() == Some(member_id.as_str());
            match g.state {
                GroupState::CompletingRebalance if unchanged => {
                    return Ok(g.join_outcome_for(&member_id));
                }
                GroupState::Stable if unchanged && !is_leader => {
                    if let Some(m) = g.members.get_mut(&member_id) {
                        m.last_heartbeat = now;
                    }
                    return Ok(g.join_outcome_for(&member_id));
                }
                _ => {}
            }
        }

        let (sender, receiver) = oneshot::channel();
        let previous = g.members.remove(&member_id);
        let assignment = previous
            .as_ref()
            .map(|m| m.assignment.clone())
            .unwrap_or_default();
        if let Some(waiter) = previous.and_then(|mut m| m.join_waiter.take()) {
            let _ = waiter.send(JoinOutcome::error(
                ResponseError::RebalanceInProgress.code(),
                &member_id,
            ));
        }
        g.members.insert(
            member_id.clone(),
            Member {
                group_instance_id: req.group_instance_id.clone(),
                client_id: req.client_id.clone(),
                client_host: req.client_host.clone(),
                session_timeout: duration_ms(req.session_timeout_ms),
                rebalance_timeout: duration_ms(req.rebalance_timeout_ms),
                protocols: req.protocols.clone(),
                assignment,
                last_heartbeat: now,
                join_waiter: Some(sender),
                sync_waiter: None,
            },
        );
        if g.protocol_type.is_none() || g.members.len() == 1 {
            g.protocol_type = Some(req.protocol_type.clone());
        }
        match g.state {
            GroupState::Empty | GroupState::Stable | GroupState::CompletingRebalance => {
                g.prepare_rebalance(self.initial_delay());
            }
            GroupState::PreparingRebalance => {
                // A member joining during the initial delay extends it, up to the rebalance
                // timeout (Kafka's InitialDelayedJoin).
                if let (Some(_), Some(started)) = (g.initial_delay_until, g.initial_delay_started) {
                    let cap = started + g.max_rebalance_timeout();
                    g.initial_delay_until = Some((now + self.initial_delay()).min(cap));
                }
                let deadline = now + g.max_rebalance_timeout();
                if g.rebalance_deadline.is_some_and(|d| d < deadline) {
                    g.rebalance_deadline = Some(deadline);
                }
            }
        }
        g.maybe_complete_join(now);
        Err(receiver)
    }

    /// SyncGroup: the leader's call carries the assignments; every member's call is answered
    /// with its own once the leader's arrived.
    pub async fn sync_group(&self, req: SyncRequest) -> SyncOutcome {
        let receiver = match self.sync_group_locked(&req) {
            Ok(outcome) => return outcome,
            Err(receiver) => receiver,
        };
        receiver
            .await
            .unwrap_or_else(|_| SyncOutcome::error(ResponseError::RebalanceInProgress.code()))
    }

    fn sync_group_locked(
        &self,
        req: &SyncRequest,
    ) -> Result<SyncOutcome, oneshot::Receiver<SyncOutcome>> {
        let fail = |code: ResponseError| Ok(SyncOutcome::error(code.code()));
        let Some(group) = self.group(&req.group_id) else {
            return fail(ResponseError::UnknownMemberId);
        };
        let mut g = lock(&group);
        if !g.members.contains_key(&req.member_id) {
            return fail(ResponseError::UnknownMemberId);
        }
        if req.generation_id != g.generation {
            return fail(ResponseError::IllegalGeneration);
        }
        if req
            .protocol_type
            .as_ref()
            .is_some_and(|t| Some(t) != g.protocol_type.as_ref())
            || req
                .protocol_name
                .as_ref()
                .is_some_and(|p| Some(p) != g.protocol.as_ref())
        {
            return fail(ResponseError::InconsistentGroupProtocol);
        }
        let outcome_of = |g: &Group, assignment: Bytes| SyncOutcome {
            error_code: NONE,
            protocol_type: g.protocol_type.clone(),
            protocol_name: g.protocol.clone(),
            assignment,
        };
        match g.state {
            GroupState::Empty => fail(ResponseError::UnknownMemberId),
            GroupState::PreparingRebalance => fail(ResponseError::RebalanceInProgress),
            GroupState::Stable => {
                let assignment = g
                    .members
                    .get(&req.member_id)
                    .map(|m| m.assignment.clone())
                    .unwrap_or_default();
                Ok(outcome_of(&g, assignment))
            }
            GroupState::CompletingRebalance => {
                let (sender, receiver) = oneshot::channel();
                if let Some(m) = g.members.get_mut(&req.member_id) {
                    m.sync_waiter = Some(sender);
                    m.last_heartbeat = Instant::now();
                }
                if g.leader.as_deref() == Some(req.member_id.as_str()) {
                    let assignments: HashMap<&String, &Bytes> =
                        req.assignments.iter().map(|(id, a)| (id, a)).collect();
                    let ids: Vec<String> = g.members.keys().cloned().collect();
                    for id in &ids {
                        let assignment = assignments
                            .get(id)
                            .map(|a| (*a).clone())
                            .unwrap_or_default();
                        if let Some(m) = g.members.get_mut(id) {
                            m.assignment = assignment;
                        }
                    }
                    g.sync_deadline = None;
                    g.transition(GroupState::Stable);
                    info!(group = %g.id, generation = g.generation, "rebalance complete: group stable");
                    for id in &ids {
                        let outcome = outcome_of(
                            &g,
                            g.members
                                .get(id)
                                .map(|m| m.assignment.clone())
                                .unwrap_or_default(),
                        );
                        if let Some(waiter) =
                            g.members.get_mut(id).and_then(|m| m.sync_waiter.take())
                        {
                            let _ = waiter.send(outcome);
                        }
                    }
                }
                Err(receiver)
            }
        }
    }

    /// Heartbeat: keeps the member's session alive; REBALANCE_IN_PROGRESS tells it to rejoin.
    pub fn heartbeat(&self, group_id: &str, member_id: &str, generation_id: i32) -> i16 {
        let Some(group) = self.group(group_id) else {
            return ResponseError::UnknownMemberId.code();
        };
        let mut g = lock(&group);
        if g.state == GroupState::Empty || !g.members.contains_key(member_id) {
            return ResponseError::UnknownMemberId.code();
        }
        if generation_id != g.generation {
            return ResponseError::IllegalGeneration.code();
        }
        if let Some(m) = g.members.get_mut(member_id) {
            m.last_heartbeat = Instant::now();
        }
        match g.state {
            GroupState::PreparingRebalance => ResponseError::RebalanceInProgress.code(),
            _ => NONE,
        }
    }

    /// LeaveGroup for each of `member_ids`: their errors, in order.
    pub fn leave_group(&self, group_id: &str, member_ids: &[String]) -> Vec<i16> {
        let Some(group) = self.group(group_id) else {
            return vec![ResponseError::UnknownMemberId.code(); member_ids.len()];
        };
        let mut g = lock(&group);
        member_ids
            .iter()
            .map(|id| {
                if g.pending_members.remove(id).is_some() {
                    NONE
                } else if g.members.contains_key(id) {
                    g.remove_member(id, "left the group", self.initial_delay());
                    NONE
                } else {
                    ResponseError::UnknownMemberId.code()
                }
            })
            .collect()
    }

    /// Drive the timers: expire sessions, end overdue rebalances, drop stale pending members.
    pub fn tick(&self) {
        let groups: Vec<Arc<Mutex<Group>>> = relock(self.groups.lock()).values().cloned().collect();
        let now = Instant::now();
        for group in groups {
            let mut g = lock(&group);
            g.pending_members.retain(|_, deadline| *deadline > now);
            let expired = g.members_where(|m| {
                m.join_waiter.is_none()
                    && m.sync_waiter.is_none()
                    && now.duration_since(m.last_heartbeat) > m.session_timeout
            });
            for id in expired {
                g.remove_member(&id, "session timeout", self.initial_delay());
            }
            match g.state {
                GroupState::PreparingRebalance => {
                    if g.rebalance_deadline.is_some_and(|d| now >= d) {
                        let late = g.members_where(|m| m.join_waiter.is_none());
                        for id in &late {
                            info!(group = %g.id, member = %id, "member did not rejoin within the rebalance timeout");
                            g.members.remove(id);
                        }
                        g.pending_members.clear();
                        g.complete_join();
                    } else {
                        g.maybe_complete_join(now);
                    }
                }
                GroupState::CompletingRebalance => {
                    if g.sync_deadline.is_some_and(|d| now >= d) {
                        let late = g.members_where(|m| m.sync_waiter.is_none());
                        for id in late {
                            g.remove_member(
                                &id,
                                "no SyncGroup within the rebalance timeout",
                                self.initial_delay(),
                            );
                        }
                    }
                }
                GroupState::Empty | GroupState::Stable => {}
            }
        }
    }

    /// Check an OffsetCommit's group, member and generation: `Ok(group)` if it may commit.
    fn check_commit(
        &self,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
    ) -> Result<Arc<Mutex<Group>>, i16> {
        if group_id.is_empty() {
            return Err(ResponseError::InvalidGroupId.code());
        }
        let group = match self.group(group_id) {
            Some(g) => g,
            None if generation_id < 0 => self
                .group_or_create(group_id)
                .ok_or(ResponseError::CoordinatorNotAvailable.code())?,
            None => return Err(ResponseError::IllegalGeneration.code()),
        };
        {
            let mut g = lock(&group);
            // Kafka 4's order (ClassicGroup.validateOffsetCommit): a simple commit to an empty
            // group; else the member and its generation; only then the rebalance state, so a
            // stale member learns it is stale rather than that a rebalance runs.
            if generation_id < 0 && g.state == GroupState::Empty {
                return Ok(group.clone());
            }
            if !g.members.contains_key(member_id) {
                return Err(ResponseError::UnknownMemberId.code());
            }
            if generation_id != g.generation {
                return Err(ResponseError::IllegalGeneration.code());
            }
            if g.state == GroupState::CompletingRebalance {
                return Err(ResponseError::RebalanceInProgress.code());
            }
            if let Some(m) = g.members.get_mut(member_id) {
                m.last_heartbeat = Instant::now();
            }
        }
        Ok(group)
    }

    /// OffsetCommit (blocking: appends to `__consumer_offsets`). Returns one error code per
    /// offset, in order; the group-level checks give every offset the same code.
    pub fn commit_offsets(
        &self,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
        commits: &[OffsetToCommit],
    ) -> Vec<i16> {
        let group = match self.check_commit(group_id, generation_id, member_id) {
            Ok(g) => g,
            Err(code) => return vec![code; commits.len()],
        };
        let offsets_topic = match self.offsets_topic() {
            Ok(t) => t,
            Err(e) => {
                warn!(%e, "cannot create __consumer_offsets");
                return vec![ResponseError::CoordinatorNotAvailable.code(); commits.len()];
            }
        };
        let max_metadata = usize::try_from(self.config.offset_metadata_max_bytes).unwrap_or(0);
        let now = now_ms();
        let mut codes = Vec::with_capacity(commits.len());
        let mut accepted = Vec::new();
        for c in commits {
            let known = self
                .topics
                .get(&c.topic)
                .is_some_and(|t| t.partition(c.partition).is_some());
            codes.push(if c.metadata.len() > max_metadata {
                ResponseError::OffsetMetadataTooLarge.code()
            } else if !known {
                ResponseError::UnknownTopicOrPartition.code()
            } else {
                accepted.push(c);
                NONE
            });
        }
        if accepted.is_empty() {
            return codes;
        }
        let mut builder = BatchBuilder::new(Compression::None);
        let values: Vec<CommittedOffset> = accepted
            .iter()
            .map(|c| CommittedOffset {
                offset: c.offset,
                leader_epoch: c.leader_epoch,
                metadata: c.metadata.clone(),
                commit_timestamp_ms: now,
            })
            .collect();
        for (c, v) in accepted.iter().zip(&values) {
            let key = offsets::encode_key(group_id, &c.topic, c.partition);
            let value = offsets::encode_value(v);
            builder.append(now, Some(&key), Some(&value), &[]);
        }
        // The group's lock is held across the append so commits of one group reach the log in
        // the order they update the in-memory offsets.
        let mut g = lock(&group);
        if let Err(e) = self.append_to_offsets_topic(&offsets_topic, group_id, &builder) {
            warn!(group = group_id, %e, "writing committed offsets failed");
            let code = ResponseError::CoordinatorNotAvailable.code();
            return codes
                .iter()
                .map(|&c| if c == NONE { code } else { c })
                .collect();
        }
        for (c, v) in accepted.iter().zip(values) {
            g.offsets.insert((c.topic.clone(), c.partition), v);
        }
        codes
    }

    fn append_to_offsets_topic(
        &self,
        topic: &Topic,
        group_id: &str,
        builder: &BatchBuilder,
    ) -> Result<(), String> {
        let partitions = i32::try_from(topic.partitions.len()).unwrap_or(i32::MAX);
        let index = offsets::partition_for(group_id, partitions);
        let partition = topic
            .partition(index)
            .ok_or_else(|| format!("no partition {index} of {CONSUMER_OFFSETS}"))?;
        let batch = builder.build().map_err(|e| e.to_string())?;
        partition.log.append(batch, 0).map_err(|e| e.to_string())?;
        partition.advance_high_watermark();
        Ok(())
    }

    /// OffsetFetch: the committed offset of each requested partition (`None`: every partition
    /// the group committed), `None` where nothing is committed.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<Vec<(String, i32)>>,
    ) -> Vec<((String, i32), Option<CommittedOffset>)> {
        let group = self.group(group_id);
        let g = group.as_ref().map(|g| lock(g));
        match partitions {
            Some(wanted) => wanted
                .into_iter()
                .map(|tp| {
                    let found = g.as_ref().and_then(|g| g.offsets.get(&tp).cloned());
                    (tp, found)
                })
                .collect(),
            None => {
                let mut all: Vec<_> = g
                    .map(|g| {
                        g.offsets
                            .iter()
                            .map(|(tp, o)| (tp.clone(), Some(o.clone())))
                            .collect()
                    })
                    .unwrap_or_default();
                all.sort_by(|a, b| a.0.cmp(&b.0));
                all
            }
        }
    }

    /// DescribeGroups' view of `group_id`; `None` if the coordinator does not know it.
    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        let group = self.group(group_id)?;
        let g = lock(&group);
        let stable = g.state == GroupState::Stable;
        let protocol = g.protocol.clone().unwrap_or_default();
        Some(GroupDescription {
            state: g.state.name(),
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol: if stable {
                protocol.clone()
            } else {
                String::new()
            },
            members: g
                .members
                .iter()
                .map(|(id, m)| MemberDescription {
                    member_id: id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata_for(&protocol)
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
        })
    }

    /// ListGroups: every group, sorted by id.
    pub fn list(&self) -> Vec<GroupListing> {
        let groups: Vec<Arc<Mutex<Group>>> = relock(self.groups.lock()).values().cloned().collect();
        let mut listed: Vec<GroupListing> = groups
            .iter()
            .map(|g| {
                let g = lock(g);
                GroupListing {
                    group_id: g.id.clone(),
                    protocol_type: g.protocol_type.clone().unwrap_or_default(),
                    state: g.state.name(),
                }
            })
            .collect();
        listed.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        listed
    }

    /// The broker is stopping: answer every JoinGroup and SyncGroup still waiting with
    /// COORDINATOR_NOT_AVAILABLE, so clients look for the coordinator again instead of waiting
    /// for a rebalance that will not complete here.
    pub fn shutdown(&self) {
        let code = ResponseError::CoordinatorNotAvailable.code();
        let groups: Vec<Arc<Mutex<Group>>> = relock(self.groups.lock()).values().cloned().collect();
        for group in groups {
            let mut g = lock(&group);
            for (id, member) in g.members.iter_mut() {
                if let Some(waiter) = member.join_waiter.take() {
                    let _ = waiter.send(JoinOutcome::error(code, id));
                }
                if let Some(waiter) = member.sync_waiter.take() {
                    let _ = waiter.send(SyncOutcome::error(code));
                }
            }
        }
    }

    /// How many groups the coordinator holds (for metrics).
    pub fn group_count(&self) -> usize {
        relock(self.groups.lock()).len()
    }

    /// Remove expired offsets of groups without members (blocking: writes tombstones), and
    /// groups left with neither members nor offsets. Returns the offsets removed.
    pub fn expire_offsets(&self) -> usize {
        self.expire_offsets_at(now_ms())
    }

    fn expire_offsets_at(&self, now: i64) -> usize {
        let retention_ms = i64::from(self.config.offsets_retention_minutes).saturating_mul(60_000);
        let groups: Vec<(String, Arc<Mutex<Group>>)> = relock(self.groups.lock())
            .iter()
            .map(|(id, g)| (id.clone(), g.clone()))
            .collect();
        let mut removed = 0;
        for (id, group) in groups {
            let mut g = lock(&group);
            if g.state != GroupState::Empty {
                continue;
            }
            let standalone = g.protocol_type.is_none();
            let group_expired = now.saturating_sub(g.state_since_ms) >= retention_ms;
            let doomed: Vec<(String, i32)> = g
                .offsets
                .iter()
                .filter(|(_, o)| {
                    if standalone {
                        now.saturating_sub(o.commit_timestamp_ms) >= retention_ms
                    } else {
                        group_expired
                    }
                })
                .map(|(tp, _)| tp.clone())
                .collect();
            if !doomed.is_empty() {
                let mut builder = BatchBuilder::new(Compression::None);
                for (topic, partition) in &doomed {
                    let key = offsets::encode_key(&id, topic, *partition);
                    builder.append(now, Some(&key), None, &[]);
                }
                let written = self
                    .offsets_topic()
                    .map_err(|e| e.to_string())
                    .and_then(|t| self.append_to_offsets_topic(&t, &id, &builder));
                if let Err(e) = written {
                    warn!(group = %id, %e, "writing offset tombstones failed; retrying at the next check");
                    continue;
                }
                for tp in &doomed {
                    g.offsets.remove(tp);
                }
                removed += doomed.len();
                info!(group = %id, offsets = doomed.len(), "expired committed offsets");
            }
            if g.offsets.is_empty() && g.members.is_empty() && g.pending_members.is_empty() {
                drop(g);
                relock(self.groups.lock()).remove(&id);
            }
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastdata_log::SystemClock;

    struct Fixture {
        _dir: tempfile::TempDir,
        config: Arc<BrokerConfig>,
        topics: Arc<TopicRegistry>,
        groups: Arc<GroupCoordinator>,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let config = Arc::new(BrokerConfig {
            group_initial_rebalance_delay_ms: 0,
            group_min_session_timeout_ms: 10,
            offsets_topic_num_partitions: 3,
            ..BrokerConfig::default()
        });
        let topics = Arc::new(
            TopicRegistry::open(dir.path(), config.clone(), Arc::new(SystemClock)).unwrap(),
        );
        topics.create("t", 4, 1, BTreeMap::new()).unwrap();
        let groups = Arc::new(GroupCoordinator::new(config.clone(), topics.clone()));
        Fixture {
            _dir: dir,
            config,
            topics,
            groups,
        }
    }

    fn join_request(member_id: &str, session_ms: i32) -> JoinRequest {
        JoinRequest {
            group_id: "g".into(),
            member_id: member_id.into(),
            group_instance_id: None,
            client_id: "client".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: session_ms,
            rebalance_timeout_ms: 5000,
            protocol_type: "consumer".into(),
            protocols: vec![
                ("range".into(), Bytes::from_static(b"sub")),
                ("roundrobin".into(), Bytes::new()),
            ],
            require_known_member_id: true,
        }
    }

    /// A v4+ client's first JoinGroup: MEMBER_ID_REQUIRED with the id to join with.
    async fn member_id(groups: &GroupCoordinator) -> String {
        let first = groups.join_group(join_request("", 1000)).await;
        assert_eq!(first.error_code, ResponseError::MemberIdRequired.code());
        assert!(first.member_id.starts_with("client-"));
        first.member_id
    }

    /// A JoinGroup running in the background (it is answered when the rebalance completes).
    fn join(
        groups: &Arc<GroupCoordinator>,
        id: &str,
        session_ms: i32,
    ) -> tokio::task::JoinHandle<JoinOutcome> {
        let groups = groups.clone();
        let request = join_request(id, session_ms);
        tokio::spawn(async move { groups.join_group(request).await })
    }

    fn sync(
        groups: &Arc<GroupCoordinator>,
        member: &str,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
    ) -> tokio::task::JoinHandle<SyncOutcome> {
        let groups = groups.clone();
        let request = SyncRequest {
            group_id: "g".into(),
            generation_id: generation,
            member_id: member.into(),
            protocol_type: Some("consumer".into()),
            protocol_name: Some("range".into()),
            assignments,
        };
        tokio::spawn(async move { groups.sync_group(request).await })
    }

    /// Two members joined and synced: (member a, member b, generation).
    async fn stable_pair(groups: &Arc<GroupCoordinator>) -> (String, String, i32) {
        let a = member_id(groups).await;
        let b = member_id(groups).await;
        let (ja, jb) = (join(groups, &a, 1000), join(groups, &b, 1000));
        let (ja, jb) = (ja.await.unwrap(), jb.await.unwrap());
        assert_eq!((ja.error_code, jb.error_code), (0, 0));
        assert_eq!(ja.generation_id, jb.generation_id);
        assert_eq!(ja.protocol_name.as_deref(), Some("range"));
        let (leader, follower) = if ja.leader == a { (ja, jb) } else { (jb, ja) };
        assert_eq!(
            leader.members.len(),
            2,
            "the leader sees every subscription"
        );
        assert!(follower.members.is_empty());
        let generation = leader.generation_id;
        let follower_sync = sync(groups, &follower.member_id, generation, vec![]);
        let assignments = vec![
            (leader.member_id.clone(), Bytes::from_static(b"for-leader")),
            (
                follower.member_id.clone(),
                Bytes::from_static(b"for-follower"),
            ),
        ];
        let leader_sync = sync(groups, &leader.member_id, generation, assignments)
            .await
            .unwrap();
        assert_eq!(leader_sync.assignment, Bytes::from_static(b"for-leader"));
        assert_eq!(
            follower_sync.await.unwrap().assignment,
            Bytes::from_static(b"for-follower")
        );
        assert_eq!(groups.describe("g").unwrap().state, "Stable");
        (leader.member_id, follower.member_id, generation)
    }

    #[tokio::test]
    async fn two_members_join_sync_and_get_their_assignments() {
        let f = fixture();
        let (a, b, generation) = stable_pair(&f.groups).await;
        assert_eq!(f.groups.heartbeat("g", &a, generation), 0);
        assert_eq!(
            f.groups.heartbeat("g", &b, generation - 1),
            ResponseError::IllegalGeneration.code()
        );
        assert_eq!(
            f.groups.heartbeat("g", "stranger", generation),
            ResponseError::UnknownMemberId.code()
        );
        let described = f.groups.describe("g").unwrap();
        assert_eq!(
            (
                described.protocol_type.as_str(),
                described.protocol.as_str()
            ),
            ("consumer", "range")
        );
        assert_eq!(described.members.len(), 2);
    }

    #[tokio::test]
    async fn a_leaving_member_triggers_a_rebalance_the_other_completes_alone() {
        let f = fixture();
        let (a, b, generation) = stable_pair(&f.groups).await;
        assert_eq!(f.groups.leave_group("g", std::slice::from_ref(&b)), vec![0]);
        assert_eq!(
            f.groups.heartbeat("g", &a, generation),
            ResponseError::RebalanceInProgress.code()
        );
        let rejoined = join(&f.groups, &a, 1000).await.unwrap();
        assert_eq!(rejoined.error_code, 0);
        assert_eq!(rejoined.generation_id, generation + 1);
        assert_eq!(rejoined.leader, a);
        assert_eq!(rejoined.members.len(), 1);
        // A commit with the old generation is fenced.
        let commit = |generation| {
            f.groups.commit_offsets(
                "g",
                generation,
                &a,
                &[OffsetToCommit {
                    topic: "t".into(),
                    partition: 0,
                    offset: 5,
                    leader_epoch: 0,
                    metadata: String::new(),
                }],
            )
        };
        // Stale first, then the rebalance: the old generation is fenced, the new one must
        // wait for its SyncGroup.
        assert_eq!(
            commit(generation),
            vec![ResponseError::IllegalGeneration.code()]
        );
        assert_eq!(
            commit(generation + 1),
            vec![ResponseError::RebalanceInProgress.code()]
        );
        sync(
            &f.groups,
            &a,
            generation + 1,
            vec![(a.clone(), Bytes::new())],
        )
        .await
        .unwrap();
        assert_eq!(
            commit(generation),
            vec![ResponseError::IllegalGeneration.code()]
        );
        assert_eq!(commit(generation + 1), vec![0]);
    }

    #[tokio::test]
    async fn a_member_that_stops_heartbeating_is_removed_after_its_session_timeout() {
        let f = fixture();
        let a = member_id(&f.groups).await;
        let b = member_id(&f.groups).await;
        let (ja, jb) = (join(&f.groups, &a, 5000), join(&f.groups, &b, 200));
        let generation = ja.await.unwrap().generation_id;
        jb.await.unwrap();
        let leader = f.groups.describe("g").unwrap();
        assert_eq!(leader.members.len(), 2);
        let all = vec![(a.clone(), Bytes::new()), (b.clone(), Bytes::new())];
        let (sa, sb) = (
            sync(&f.groups, &a, generation, all.clone()),
            sync(&f.groups, &b, generation, all),
        );
        sa.await.unwrap();
        sb.await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(f.groups.heartbeat("g", &a, generation), 0);
        f.groups.tick();
        assert_eq!(
            f.groups.describe("g").unwrap().members.len(),
            1,
            "b expired"
        );
        assert_eq!(
            f.groups.heartbeat("g", &a, generation),
            ResponseError::RebalanceInProgress.code()
        );
    }

    #[tokio::test]
    async fn bad_joins_get_kafkas_errors() {
        let f = fixture();
        let mut r = join_request("", 1);
        assert_eq!(
            f.groups.join_group(r.clone()).await.error_code,
            ResponseError::InvalidSessionTimeout.code()
        );
        r.session_timeout_ms = 1000;
        r.member_id = "never-issued".into();
        assert_eq!(
            f.groups.join_group(r.clone()).await.error_code,
            ResponseError::UnknownMemberId.code()
        );
        r.member_id = String::new();
        r.protocols.clear();
        assert_eq!(
            f.groups.join_group(r.clone()).await.error_code,
            ResponseError::InconsistentGroupProtocol.code()
        );
        r.group_id = String::new();
        assert_eq!(
            f.groups.join_group(r).await.error_code,
            ResponseError::InvalidGroupId.code()
        );
        // A member whose protocols share nothing with the group's is refused.
        let (_a, _b, _) = stable_pair(&f.groups).await;
        let mut other = join_request("", 1000);
        other.protocols = vec![("cooperative-sticky".into(), Bytes::new())];
        other.require_known_member_id = false;
        assert_eq!(
            f.groups.join_group(other).await.error_code,
            ResponseError::InconsistentGroupProtocol.code()
        );
    }

    #[tokio::test]
    async fn committed_offsets_survive_a_restart_and_expire_when_the_group_is_empty() {
        let f = fixture();
        let commits = vec![
            OffsetToCommit {
                topic: "t".into(),
                partition: 1,
                offset: 42,
                leader_epoch: 0,
                metadata: "m".into(),
            },
            OffsetToCommit {
                topic: "nope".into(),
                partition: 0,
                offset: 1,
                leader_epoch: 0,
                metadata: String::new(),
            },
        ];
        let codes = f.groups.commit_offsets("standalone", -1, "", &commits);
        assert_eq!(
            codes,
            vec![0, ResponseError::UnknownTopicOrPartition.code()]
        );
        let too_much = OffsetToCommit {
            metadata: "x".repeat(5000),
            ..commits[0].clone()
        };
        assert_eq!(
            f.groups.commit_offsets("standalone", -1, "", &[too_much]),
            vec![ResponseError::OffsetMetadataTooLarge.code()]
        );
        assert_eq!(
            f.groups.commit_offsets("unknown", 3, "m", &commits[..1]),
            vec![ResponseError::IllegalGeneration.code()]
        );

        let reloaded = GroupCoordinator::new(f.config.clone(), f.topics.clone());
        assert!(reloaded.load().unwrap() >= 1);
        let fetched =
            reloaded.fetch_offsets("standalone", Some(vec![("t".into(), 1), ("t".into(), 2)]));
        assert_eq!(
            fetched[0]
                .1
                .as_ref()
                .map(|o| (o.offset, o.metadata.as_str())),
            Some((42, "m"))
        );
        assert_eq!(fetched[1].1, None);
        assert_eq!(reloaded.fetch_offsets("standalone", None).len(), 1);

        // Past offsets.retention.minutes the offsets go, by tombstone, and the group with them.
        let later = now_ms() + i64::from(f.config.offsets_retention_minutes) * 60_000 + 1;
        assert_eq!(reloaded.expire_offsets_at(now_ms()), 0);
        assert_eq!(reloaded.expire_offsets_at(later), 1);
        assert!(reloaded.describe("standalone").is_none());
        let again = GroupCoordinator::new(f.config.clone(), f.topics.clone());
        again.load().unwrap();
        assert_eq!(again.fetch_offsets("standalone", None).len(), 0);
    }

    #[tokio::test]
    async fn shutdown_answers_waiting_joins() {
        let f = fixture();
        let a = member_id(&f.groups).await;
        // A second member was given an id and has not joined with it: the rebalance waits.
        let _pending = member_id(&f.groups).await;
        let waiting = join(&f.groups, &a, 1000);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "the rebalance waits for the pending member"
        );
        f.groups.shutdown();
        assert_eq!(
            waiting.await.unwrap().error_code,
            ResponseError::CoordinatorNotAvailable.code()
        );
    }
}
