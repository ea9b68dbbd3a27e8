//! The consumer: `subscribe` (a group assigns the partitions) or `assign` (you pick them),
//! then `poll`.
//!
//! Each assigned partition has a position, the offset of the next record `poll` returns. A
//! partition without one gets it from the group's committed offset, else from
//! `auto.offset.reset` through ListOffsets (also when a fetch answers OFFSET_OUT_OF_RANGE).
//! `poll` runs the group protocol when a rebalance is due (see `group`), sends at most one
//! Fetch per leader for the partitions that have no buffered records, and returns up to
//! `max.poll.records` buffered records, advancing positions. Fetches run in background tasks,
//! so the next records are on their way while the caller works (prefetch is bounded: one
//! answer of at most `fetch.max.bytes` per broker).
//!
//! Commits store positions (or offsets you give) in the group: [`Consumer::commit_sync`] waits
//! and retries within `default.api.timeout.ms`; [`Consumer::commit_async`] sends at once and
//! returns a future of the outcome; with `enable.auto.commit`, `poll` commits the positions of
//! what earlier polls returned every `auto.commit.interval.ms`, and a rebalance or
//! [`Consumer::close`] commits before partitions are given up.
//!
//! With the eager protocol (the default assignor list includes `range`), every partition is
//! given up before a rebalance; with only `cooperative-sticky`, a member keeps what stays
//! assigned and gives up only what moves, then rejoins so the next round can assign it.

mod config;
mod fetcher;
mod group;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use fastdata_protocol::kafka::ResponseBody;
use fastdata_protocol::kafka_protocol::messages::{ApiKey, OffsetCommitRequest};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use config::{ConsumerConfig, IsolationLevel, OffsetReset};
pub use fetcher::{ConsumerRecord, TimestampType, MAX_DECOMPRESSED_BATCH_BYTES};

use crate::cluster::Cluster;
use crate::conn::{ApiRequest, Connection};
use crate::error::{Error, ErrorCode, Result};
use crate::offsets::{
    self, commit_request, commit_result, fetch_committed, Committer, EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
};
use crate::types::{OffsetAndMetadata, TopicPartition};
use fetcher::{fetch_request, parse_partition, Outcome};
use group::{Group, GroupSettings, Protocol};

/// The position of an assigned partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Position {
    offset: i64,
    leader_epoch: Option<i32>,
}

/// What the consumer knows of one assigned partition.
#[derive(Clone, Debug, Default)]
struct PartitionState {
    position: Option<Position>,
    /// A reset to apply (from `auto.offset.reset` or a `seek_to_*`).
    reset: Option<OffsetReset>,
    high_watermark: Option<i64>,
}

/// Records fetched for one partition, waiting to be returned.
struct Buffered {
    tp: TopicPartition,
    /// The position these records continue from.
    position: i64,
    records: VecDeque<ConsumerRecord>,
    next_fetch_offset: i64,
}

/// A finished Fetch.
struct FetchDone {
    node: i32,
    partitions: Vec<(TopicPartition, i64)>,
    result: Result<Vec<(TopicPartition, i64, Outcome)>>,
}

/// How partitions are chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Mode {
    None,
    Subscribed(BTreeSet<String>),
    Assigned,
}

/// The outcome of [`Consumer::commit_async`]: await it, or drop it to ignore the result.
#[must_use = "a commit future reports whether the offsets were stored"]
pub struct CommitFuture {
    rx: oneshot::Receiver<Result<()>>,
}

impl Future for CommitFuture {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(Error::Closed)))
    }
}

/// A Kafka consumer; see the module documentation. Not shareable between tasks (its methods
/// take `&mut self`), as the Java consumer.
pub struct Consumer {
    config: Arc<ConsumerConfig>,
    cluster: Arc<Cluster>,
    group: Option<Group>,
    mode: Mode,
    partitions: BTreeMap<TopicPartition, PartitionState>,
    buffered: VecDeque<Buffered>,
    fetches: JoinSet<FetchDone>,
    fetching_nodes: HashSet<i32>,
    fetching: HashSet<TopicPartition>,
    node_backoff: HashMap<i32, Instant>,
    commits: JoinSet<()>,
    next_auto_commit: Instant,
    pending_error: Option<Error>,
    closed: bool,
}

impl Consumer {
    /// A consumer for `config` (checked with [`ConsumerConfig::validate`]). Connects lazily.
    /// Must be called inside a Tokio runtime.
    pub fn new(config: ConsumerConfig) -> Result<Consumer> {
        config.validate()?;
        let cluster = Cluster::new(config.network()?)?;
        let group = config.group_id.clone().map(|group_id| {
            Group::new(
                GroupSettings {
                    group_id,
                    session_timeout: Duration::from_millis(config.session_timeout_ms),
                    rebalance_timeout: Duration::from_millis(config.max_poll_interval_ms),
                    heartbeat_interval: Duration::from_millis(config.heartbeat_interval_ms),
                    max_poll_interval: Duration::from_millis(config.max_poll_interval_ms),
                    assignors: config.partition_assignment_strategy.clone(),
                },
                cluster.clone(),
            )
        });
        let next_auto_commit =
            Instant::now() + Duration::from_millis(config.auto_commit_interval_ms);
        Ok(Consumer {
            config: Arc::new(config),
            cluster,
            group,
            mode: Mode::None,
            partitions: BTreeMap::new(),
            buffered: VecDeque::new(),
            fetches: JoinSet::new(),
            fetching_nodes: HashSet::new(),
            fetching: HashSet::new(),
            node_backoff: HashMap::new(),
            commits: JoinSet::new(),
            next_auto_commit,
            pending_error: None,
            closed: false,
        })
    }

    fn check_open(&self) -> Result<()> {
        if self.closed {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// Subscribes to `topics` through the group (`group.id` is required): partitions are
    /// assigned at the next `poll`. Replaces an earlier subscription.
    pub fn subscribe<I, S>(&mut self, topics: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.check_open()?;
        let Some(group) = &self.group else {
            return Err(Error::IllegalState("subscribe needs a group.id".to_owned()));
        };
        if self.mode == Mode::Assigned {
            return Err(Error::IllegalState(
                "subscribe and assign are mutually exclusive; unsubscribe first".to_owned(),
            ));
        }
        let topics: BTreeSet<String> = topics.into_iter().map(Into::into).collect();
        if topics.is_empty() {
            return Err(Error::IllegalState(
                "subscribe needs at least one topic".to_owned(),
            ));
        }
        if self.mode != Mode::Subscribed(topics.clone()) {
            group.request_rejoin();
        }
        self.cluster.set_tracked_topics(topics.iter().cloned());
        self.cluster.request_metadata_refresh();
        self.mode = Mode::Subscribed(topics);
        Ok(())
    }

    /// Assigns `partitions` directly, without group management (commits still go to the group
    /// if a `group.id` is set). Replaces an earlier assignment.
    pub fn assign(&mut self, partitions: impl IntoIterator<Item = TopicPartition>) -> Result<()> {
        self.check_open()?;
        if matches!(self.mode, Mode::Subscribed(_)) {
            return Err(Error::IllegalState(
                "subscribe and assign are mutually exclusive; unsubscribe first".to_owned(),
            ));
        }
        let wanted: BTreeSet<TopicPartition> = partitions.into_iter().collect();
        self.partitions.retain(|tp, _| wanted.contains(tp));
        for tp in &wanted {
            self.partitions.entry(tp.clone()).or_default();
        }
        self.buffered.retain(|b| wanted.contains(&b.tp));
        self.cluster
            .set_tracked_topics(wanted.iter().map(|tp| tp.topic.clone()));
        self.cluster.request_metadata_refresh();
        self.mode = if wanted.is_empty() {
            Mode::None
        } else {
            Mode::Assigned
        };
        Ok(())
    }

    /// Drops the subscription or assignment; a group member commits (with auto-commit) and
    /// leaves the group.
    pub async fn unsubscribe(&mut self) -> Result<()> {
        self.check_open()?;
        if matches!(self.mode, Mode::Subscribed(_)) {
            self.commit_before_giving_up().await;
            if let Some(group) = &mut self.group {
                group.leave().await;
            }
        }
        self.partitions.clear();
        self.buffered.clear();
        self.mode = Mode::None;
        Ok(())
    }

    /// The partitions assigned now.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.partitions.keys().cloned().collect()
    }

    /// The subscribed topics.
    pub fn subscription(&self) -> Vec<String> {
        match &self.mode {
            Mode::Subscribed(topics) => topics.iter().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Returns up to `max.poll.records` records, waiting at most `timeout` for some (a
    /// rebalance, if one is due, may take longer). An empty result means none came in time.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        self.check_open()?;
        if self.mode == Mode::None {
            return Err(Error::IllegalState(
                "poll needs a subscription or an assignment".to_owned(),
            ));
        }
        let deadline = Instant::now() + timeout;
        if let Some(group) = &self.group {
            group.polled();
        }
        while self.commits.try_join_next().is_some() {}
        self.maybe_auto_commit();
        loop {
            if let Some(e) = self.pending_error.take() {
                return Err(e);
            }
            if matches!(self.mode, Mode::Subscribed(_)) && !self.ensure_group(deadline).await? {
                return Ok(Vec::new());
            }
            self.resolve_positions().await?;
            let records = self.drain_buffered();
            self.send_fetches();
            if !records.is_empty() {
                return Ok(records);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let wake_at = if self.fetches.is_empty() {
                deadline.min(now + self.retry_backoff())
            } else {
                deadline
            };
            let wake = self.group.as_ref().map(Group::wake);
            let group_event = async {
                match &wake {
                    Some(w) => w.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(done) = self.fetches.join_next(), if !self.fetches.is_empty() => {
                    if let Ok(done) = done {
                        self.handle_fetch(done);
                    }
                }
                _ = group_event => {}
                _ = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    fn retry_backoff(&self) -> Duration {
        Duration::from_millis(self.config.retry_backoff_ms)
    }

    /// Runs rebalances until the member is stable; `Ok(false)` if `deadline` passed first.
    async fn ensure_group(&mut self, deadline: Instant) -> Result<bool> {
        let Mode::Subscribed(topics) = self.mode.clone() else {
            return Ok(true);
        };
        loop {
            let Some(group) = &mut self.group else {
                return Ok(true);
            };
            if let Some(e) = group.take_fatal() {
                return Err(e);
            }
            if !group.needs_join() && group.leader_metadata_changed(&topics) {
                tracing::info!(
                    group = group.group_id(),
                    "subscribed topics changed: rejoining"
                );
                group.request_rejoin();
            }
            if !group.needs_join() {
                match tokio::time::timeout_at(deadline, group.coordinator()).await {
                    Ok(Ok(_)) => group.ensure_heartbeat(),
                    Ok(Err(e)) if !e.is_retriable() => return Err(e),
                    // Keep fetching what is assigned; heartbeats resume with the coordinator.
                    _ => tracing::debug!(group = group.group_id(), "coordinator unavailable"),
                }
                return Ok(true);
            } else {
                self.prepare_rebalance().await;
                let Some(group) = &mut self.group else {
                    return Ok(true);
                };
                let owned: Vec<TopicPartition> = match group.protocol() {
                    Protocol::Cooperative => self.partitions.keys().cloned().collect(),
                    Protocol::Eager => Vec::new(),
                };
                if let Some(joined) = group.join(&topics, &owned).await? {
                    self.complete_rebalance(joined);
                    continue;
                }
                if group.retry_now() {
                    continue;
                }
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(
                self.retry_backoff()
                    .min(deadline.saturating_duration_since(Instant::now())),
            )
            .await;
        }
    }

    /// Before JoinGroup: commit (with auto-commit) while the generation is valid; give up
    /// every partition with the eager protocol, or all of them if the generation was lost.
    async fn prepare_rebalance(&mut self) {
        let Some(group) = &self.group else {
            return;
        };
        let lost = group.generation() < 0;
        let eager = group.protocol() == Protocol::Eager;
        if !lost && !self.partitions.is_empty() {
            self.commit_before_giving_up().await;
        }
        if lost || eager {
            self.partitions.clear();
            self.buffered.clear();
        }
    }

    /// After SyncGroup: take the new assignment; with the cooperative protocol, give up what
    /// moved and rejoin if anything did.
    fn complete_rebalance(&mut self, joined: group::Joined) {
        let assigned: BTreeSet<TopicPartition> = joined.assignment.partitions.into_iter().collect();
        let revoked: Vec<TopicPartition> = self
            .partitions
            .keys()
            .filter(|tp| !assigned.contains(*tp))
            .cloned()
            .collect();
        for tp in &revoked {
            self.partitions.remove(tp);
        }
        self.buffered.retain(|b| assigned.contains(&b.tp));
        for tp in assigned {
            self.partitions.entry(tp).or_default();
        }
        if let Some(group) = &self.group {
            if !revoked.is_empty() && group.protocol() == Protocol::Cooperative {
                group.request_rejoin();
            }
        }
        tracing::debug!(
            generation = joined.generation,
            assigned = self.partitions.len(),
            revoked = revoked.len(),
            "assignment applied"
        );
    }

    /// Gives every assigned partition without a position one: the committed offset, else
    /// `auto.offset.reset` (or a pending `seek_to_*`) through ListOffsets. Partitions whose
    /// lookup fails transiently are tried again at the next call.
    async fn resolve_positions(&mut self) -> Result<()> {
        let missing: Vec<TopicPartition> = self
            .partitions
            .iter()
            .filter(|(_, s)| s.position.is_none() && s.reset.is_none())
            .map(|(tp, _)| tp.clone())
            .collect();
        if !missing.is_empty() {
            match self.fetch_committed_once(&missing).await {
                Ok(committed) => {
                    for (tp, offset) in committed {
                        if let Some(state) = self.partitions.get_mut(&tp) {
                            match offset {
                                Some(o) => {
                                    state.position = Some(Position {
                                        offset: o.offset,
                                        leader_epoch: o.leader_epoch,
                                    })
                                }
                                None => state.reset = Some(self.config.auto_offset_reset),
                            }
                        }
                    }
                }
                Err(e) if e.is_retriable() => {
                    tracing::debug!(error = %e, "committed offsets not available yet");
                }
                Err(e) => return Err(e),
            }
        }
        let mut wanted = BTreeMap::new();
        for (tp, state) in &self.partitions {
            if state.position.is_some() {
                continue;
            }
            match state.reset {
                Some(OffsetReset::Earliest) => {
                    wanted.insert(tp.clone(), EARLIEST_TIMESTAMP);
                }
                Some(OffsetReset::Latest) => {
                    wanted.insert(tp.clone(), LATEST_TIMESTAMP);
                }
                Some(OffsetReset::None) => {
                    return Err(Error::NoOffsetForPartition {
                        topic: tp.topic.clone(),
                        partition: tp.partition,
                    })
                }
                None => {}
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let listed = match offsets::list_offsets(
            &self.cluster,
            &wanted,
            self.config.isolation_level.value(),
        )
        .await
        {
            Ok(listed) => listed,
            Err(e) if e.is_retriable() => return Ok(()),
            Err(e) => return Err(e),
        };
        for (tp, result) in listed {
            match result {
                Ok(found) => {
                    if let Some(state) = self.partitions.get_mut(&tp) {
                        tracing::debug!(%tp, offset = found.offset, "position reset");
                        state.position = Some(Position {
                            offset: found.offset,
                            leader_epoch: found.leader_epoch,
                        });
                        state.reset = None;
                    }
                }
                Err(e) if e.is_retriable() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Committed offsets from the group (none without a group id).
    async fn fetch_committed_once(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
        let Some(group) = &mut self.group else {
            return Ok(partitions.iter().map(|tp| (tp.clone(), None)).collect());
        };
        let conn = group.coordinator().await?;
        let result =
            fetch_committed(&self.cluster, &conn, group.group_id(), Some(partitions)).await;
        if let Err(e) = &result {
            if e.is_retriable()
                && (matches!(e, Error::Network { .. } | Error::RequestTimeout { .. })
                    || e.code().is_some_and(ErrorCode::is_coordinator_error))
            {
                group.coordinator_dead();
            }
        }
        result
    }

    /// Moves buffered records out, up to `max.poll.records`, advancing positions.
    fn drain_buffered(&mut self) -> Vec<ConsumerRecord> {
        let max = self.config.max_poll_records;
        let mut out = Vec::new();
        while out.len() < max {
            let Some(front) = self.buffered.front_mut() else {
                break;
            };
            let state = self.partitions.get_mut(&front.tp);
            let current = state.as_ref().and_then(|s| s.position).map(|p| p.offset);
            let Some(state) = state.filter(|_| current == Some(front.position)) else {
                // Revoked or seeked since the fetch.
                self.buffered.pop_front();
                continue;
            };
            while out.len() < max {
                let Some(record) = front.records.pop_front() else {
                    break;
                };
                let position = Position {
                    offset: record.offset + 1,
                    leader_epoch: record.leader_epoch,
                };
                state.position = Some(position);
                front.position = position.offset;
                out.push(record);
            }
            if front.records.is_empty() {
                if let Some(p) = &mut state.position {
                    p.offset = p.offset.max(front.next_fetch_offset);
                }
                self.buffered.pop_front();
            }
        }
        out
    }

    /// Starts a Fetch to each leader without one in flight, for the partitions with a
    /// position, no buffered records and no fetch in flight.
    fn send_fetches(&mut self) {
        let metadata = self.cluster.metadata();
        let buffered: HashSet<&TopicPartition> = self.buffered.iter().map(|b| &b.tp).collect();
        let now = Instant::now();
        let mut by_node: BTreeMap<i32, (String, Vec<(TopicPartition, i64)>)> = BTreeMap::new();
        let mut need_refresh = false;
        for (tp, state) in &self.partitions {
            let Some(position) = state.position else {
                continue;
            };
            if buffered.contains(tp) || self.fetching.contains(tp) {
                continue;
            }
            let Some(leader) = metadata.leader(&tp.topic, tp.partition) else {
                need_refresh = true;
                continue;
            };
            if self.fetching_nodes.contains(&leader.node_id)
                || self
                    .node_backoff
                    .get(&leader.node_id)
                    .is_some_and(|&until| until > now)
            {
                continue;
            }
            by_node
                .entry(leader.node_id)
                .or_insert_with(|| (leader.address(), Vec::new()))
                .1
                .push((tp.clone(), position.offset));
        }
        if need_refresh {
            self.cluster.request_metadata_refresh();
        }
        for (node, (address, partitions)) in by_node {
            self.fetching_nodes.insert(node);
            self.fetching
                .extend(partitions.iter().map(|(tp, _)| tp.clone()));
            let cluster = self.cluster.clone();
            let config = self.config.clone();
            self.fetches.spawn(async move {
                let result = fetch(&cluster, &config, &address, &partitions).await;
                FetchDone {
                    node,
                    partitions,
                    result,
                }
            });
        }
    }

    fn handle_fetch(&mut self, done: FetchDone) {
        self.fetching_nodes.remove(&done.node);
        for (tp, _) in &done.partitions {
            self.fetching.remove(tp);
        }
        let outcomes = match done.result {
            Ok(outcomes) => outcomes,
            Err(e) if e.is_retriable() => {
                tracing::debug!(node = done.node, error = %e, "fetch failed");
                self.cluster.request_metadata_refresh();
                self.node_backoff
                    .insert(done.node, Instant::now() + self.retry_backoff());
                return;
            }
            Err(e) => {
                self.pending_error = Some(e);
                return;
            }
        };
        for (tp, fetch_offset, outcome) in outcomes {
            let Some(state) = self.partitions.get_mut(&tp) else {
                continue;
            };
            if state.position.map(|p| p.offset) != Some(fetch_offset) {
                continue;
            }
            match outcome {
                Outcome::Records {
                    parsed,
                    high_watermark,
                } => {
                    state.high_watermark = Some(high_watermark);
                    if parsed.records.is_empty() {
                        if let Some(p) = &mut state.position {
                            p.offset = p.offset.max(parsed.next_fetch_offset);
                        }
                    } else {
                        self.buffered.push_back(Buffered {
                            tp,
                            position: fetch_offset,
                            records: parsed.records,
                            next_fetch_offset: parsed.next_fetch_offset,
                        });
                    }
                }
                Outcome::OutOfRange => match self.config.auto_offset_reset {
                    OffsetReset::None => {
                        self.pending_error = Some(Error::OffsetOutOfRange {
                            topic: tp.topic.clone(),
                            partition: tp.partition,
                            offset: fetch_offset,
                        });
                    }
                    reset => {
                        tracing::info!(%tp, offset = fetch_offset, ?reset, "fetch offset out of range: resetting");
                        state.position = None;
                        state.reset = Some(reset);
                    }
                },
                Outcome::Retry(code) => {
                    tracing::debug!(%tp, %code, "fetch will be retried");
                    self.cluster.request_metadata_refresh();
                    self.node_backoff
                        .insert(done.node, Instant::now() + self.retry_backoff());
                }
                Outcome::Fail(e) => self.pending_error = Some(e),
            }
        }
    }

    /// Sets the position of `tp` (assigned) to `offset`.
    pub fn seek(&mut self, tp: &TopicPartition, offset: i64) -> Result<()> {
        let state = self.state_mut(tp)?;
        state.position = Some(Position {
            offset,
            leader_epoch: None,
        });
        state.reset = None;
        self.buffered.retain(|b| b.tp != *tp);
        Ok(())
    }

    /// Moves the positions of `partitions` to their log start offsets (at the next `poll` or
    /// `position`).
    pub fn seek_to_beginning(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        self.seek_reset(partitions, OffsetReset::Earliest)
    }

    /// Moves the positions of `partitions` to their high watermarks (at the next `poll` or
    /// `position`).
    pub fn seek_to_end(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        self.seek_reset(partitions, OffsetReset::Latest)
    }

    fn seek_reset(&mut self, partitions: &[TopicPartition], reset: OffsetReset) -> Result<()> {
        for tp in partitions {
            let state = self.state_mut(tp)?;
            state.position = None;
            state.reset = Some(reset);
        }
        self.buffered.retain(|b| !partitions.contains(&b.tp));
        Ok(())
    }

    fn state_mut(&mut self, tp: &TopicPartition) -> Result<&mut PartitionState> {
        self.partitions
            .get_mut(tp)
            .ok_or_else(|| Error::IllegalState(format!("{tp} is not assigned to this consumer")))
    }

    /// The position of `tp` (assigned): the offset of the next record `poll` returns, looked
    /// up (committed offset or `auto.offset.reset`) if needed, within `default.api.timeout.ms`.
    pub async fn position(&mut self, tp: &TopicPartition) -> Result<i64> {
        self.check_open()?;
        self.state_mut(tp)?;
        let timeout = Duration::from_millis(self.config.default_api_timeout_ms);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(p) = self.partitions.get(tp).and_then(|s| s.position) {
                return Ok(p.offset);
            }
            self.resolve_positions().await?;
            if self.partitions.get(tp).and_then(|s| s.position).is_some() {
                continue;
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    operation: format!("looking up the position of {tp}"),
                    timeout_ms: timeout.as_millis() as u64,
                });
            }
            tokio::time::sleep(self.retry_backoff()).await;
        }
    }

    /// The high watermark of `tp` as of the last fetch, if any.
    pub fn high_watermark(&self, tp: &TopicPartition) -> Option<i64> {
        self.partitions.get(tp).and_then(|s| s.high_watermark)
    }

    /// The group's committed offsets for `partitions` (`None` where nothing is committed),
    /// within `default.api.timeout.ms`.
    pub async fn committed(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
        self.check_open()?;
        if self.group.is_none() {
            return Err(Error::IllegalState(
                "committed offsets need a group.id".to_owned(),
            ));
        }
        let timeout = Duration::from_millis(self.config.default_api_timeout_ms);
        let deadline = Instant::now() + timeout;
        loop {
            match self.fetch_committed_once(partitions).await {
                Ok(found) => return Ok(found),
                Err(e) if e.is_retriable() && Instant::now() < deadline => {
                    tokio::time::sleep(self.retry_backoff()).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The positions of every assigned partition, as offsets to commit.
    fn positions(&self) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        self.partitions
            .iter()
            .filter_map(|(tp, s)| {
                s.position.map(|p| {
                    (
                        tp.clone(),
                        OffsetAndMetadata {
                            offset: p.offset,
                            leader_epoch: p.leader_epoch,
                            metadata: String::new(),
                        },
                    )
                })
            })
            .collect()
    }

    fn committer(&self) -> Result<Committer> {
        let group = self
            .group
            .as_ref()
            .ok_or_else(|| Error::IllegalState("commits need a group.id".to_owned()))?;
        Ok(match self.mode {
            Mode::Subscribed(_) => group.committer(),
            _ => Committer {
                group: group.group_id().to_owned(),
                generation: -1,
                member_id: String::new(),
            },
        })
    }

    /// Commits the positions of every assigned partition (what `poll` has returned) and waits.
    pub async fn commit_sync(&mut self) -> Result<()> {
        let offsets = self.positions();
        self.commit_offsets_sync(offsets).await
    }

    /// Commits `offsets` (each the next offset to consume) and waits, retrying transient
    /// errors within `default.api.timeout.ms`. A commit refused because the group rebalanced
    /// (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID) fails; the next `poll`
    /// rejoins.
    pub async fn commit_offsets_sync(
        &mut self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<()> {
        self.check_open()?;
        let committer = self.committer()?;
        if offsets.is_empty() {
            return Ok(());
        }
        let timeout = Duration::from_millis(self.config.default_api_timeout_ms);
        let deadline = Instant::now() + timeout;
        loop {
            let Some(group) = &mut self.group else {
                return Err(Error::IllegalState("commits need a group.id".to_owned()));
            };
            let result = match group.coordinator().await {
                Ok(conn) => offsets::commit(&self.cluster, &conn, &committer, &offsets).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let code = e.code();
                    if matches!(
                        code,
                        Some(
                            ErrorCode::REBALANCE_IN_PROGRESS
                                | ErrorCode::ILLEGAL_GENERATION
                                | ErrorCode::UNKNOWN_MEMBER_ID
                        )
                    ) {
                        group.request_rejoin();
                        return Err(e);
                    }
                    if !e.is_retriable() || Instant::now() >= deadline {
                        return Err(e);
                    }
                    if code.is_none_or(ErrorCode::is_coordinator_error) {
                        group.coordinator_dead();
                    }
                    tokio::time::sleep(self.retry_backoff()).await;
                }
            }
        }
    }

    /// Commits the positions of every assigned partition without waiting; commits are sent in
    /// the order of the calls. The future reports the outcome (no retries).
    pub fn commit_async(&mut self) -> CommitFuture {
        let offsets = self.positions();
        self.commit_offsets_async(offsets)
    }

    /// Commits `offsets` without waiting; see [`Consumer::commit_async`].
    pub fn commit_offsets_async(
        &mut self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> CommitFuture {
        let (tx, rx) = oneshot::channel();
        let committer = match self.check_open().and_then(|()| self.committer()) {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.send(Err(e));
                return CommitFuture { rx };
            }
        };
        if offsets.is_empty() {
            let _ = tx.send(Ok(()));
            return CommitFuture { rx };
        }
        let cluster = self.cluster.clone();
        let group_id = committer.group.clone();
        // Queue at once on a known coordinator connection, so commits keep their order.
        let ready: Option<Arc<Connection>> =
            self.group.as_ref().and_then(|g| g.ready_coordinator());
        let queued = ready.and_then(|conn| {
            let version = conn.version(ApiKey::OffsetCommit).ok()?;
            let request: OffsetCommitRequest = commit_request(&committer, &offsets, version);
            conn.try_send(version, request.into_body(), true, conn.request_timeout())
                .ok()
                .map(|rx| (conn, rx))
        });
        self.commits.spawn(async move {
            let result = match queued {
                Some((conn, rx)) => match conn.receive(rx).await {
                    Ok(Some(ResponseBody::OffsetCommit(r))) => commit_result(&group_id, r),
                    Ok(_) => Err(Error::InvalidResponse {
                        broker: conn.address().to_owned(),
                        api: ApiKey::OffsetCommit,
                        reason: "not an OffsetCommit response".to_owned(),
                    }),
                    Err(e) => Err(e),
                },
                None => {
                    async {
                        let coordinator = offsets::find_coordinator(&cluster, &group_id).await?;
                        let conn = cluster.connection(&coordinator.address()).await?;
                        offsets::commit(&cluster, &conn, &committer, &offsets).await
                    }
                    .await
                }
            };
            if let Err(e) = &result {
                tracing::debug!(group = %group_id, error = %e, "asynchronous commit failed");
            }
            let _ = tx.send(result);
        });
        CommitFuture { rx }
    }

    fn maybe_auto_commit(&mut self) {
        if !self.config.auto_commit() || Instant::now() < self.next_auto_commit {
            return;
        }
        self.next_auto_commit =
            Instant::now() + Duration::from_millis(self.config.auto_commit_interval_ms);
        let stable = match (&self.mode, &self.group) {
            (Mode::Subscribed(_), Some(group)) => !group.needs_join(),
            (Mode::Assigned, Some(_)) => true,
            _ => false,
        };
        if stable {
            // The outcome is logged by the commit task.
            drop(self.commit_async());
        }
    }

    /// With auto-commit, commits positions before partitions are given up (rebalance,
    /// unsubscribe, close); a failure is logged, as the Java client does.
    async fn commit_before_giving_up(&mut self) {
        if !self.config.auto_commit() {
            return;
        }
        if let Err(e) = self.commit_sync().await {
            tracing::warn!(error = %e, "commit before giving up partitions failed");
        }
    }

    /// Commits (with auto-commit), leaves the group and closes every connection.
    pub async fn close(mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.fetches.abort_all();
        if self.mode != Mode::None {
            self.commit_before_giving_up().await;
        }
        while let Some(done) = self.commits.join_next().await {
            drop(done);
        }
        if matches!(self.mode, Mode::Subscribed(_)) {
            if let Some(group) = &mut self.group {
                group.leave().await;
            }
        }
        self.closed = true;
        self.cluster.shutdown();
        Ok(())
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.cluster.shutdown();
    }
}

/// One Fetch to `address` and the outcome for each partition.
async fn fetch(
    cluster: &Cluster,
    config: &ConsumerConfig,
    address: &str,
    partitions: &[(TopicPartition, i64)],
) -> Result<Vec<(TopicPartition, i64, Outcome)>> {
    let conn = cluster.connection(address).await?;
    let max_wait = Duration::from_millis(config.fetch_max_wait_ms);
    let response = cluster
        .send(&conn, max_wait, |_| fetch_request(config, partitions))
        .await?;
    crate::error::check(response.error_code, |code| {
        crate::error::KafkaError::new(ApiKey::Fetch, code)
    })?;
    let offsets: HashMap<&TopicPartition, i64> =
        partitions.iter().map(|(tp, o)| (tp, *o)).collect();
    let mut out = Vec::with_capacity(partitions.len());
    for topic in response.responses {
        let name = topic.topic.0.to_string();
        for data in topic.partitions {
            let tp = TopicPartition::new(name.clone(), data.partition_index);
            let Some(&fetch_offset) = offsets.get(&tp) else {
                continue;
            };
            let outcome = parse_partition(&tp, fetch_offset, data);
            out.push((tp, fetch_offset, outcome));
        }
    }
    Ok(out)
}
