//! The sender task: drains ready batches into Produce requests, one per leader, and turns the
//! answers into record outcomes, retries or an epoch bump.
//!
//! A partition's first batch is ready when it is full, has waited `linger.ms`, is a retry past
//! its backoff, or a flush or close is under way (or `send` is waiting for buffer memory).
//! Each request carries at most one batch per partition (Kafka accepts no more), is bounded by
//! `max.request.size`, and goes out only if its connection has fewer than
//! `max.in.flight.requests.per.connection` requests outstanding. Requests are queued on the
//! connection in the order they are built, so a partition's batches reach the broker in order.
//!
//! With idempotence, the task owns the producer id and epoch (InitProducerId at start) and each
//! partition's sequence numbers: a batch gets its base sequence when first encoded and keeps its
//! bytes across retries, so the broker recognises a resend and answers with the original
//! offsets. At most five batches per partition are in flight, and a retried batch waits until
//! its partition has none in flight, so sequences reach the broker in order. As in the Java
//! client: OUT_OF_ORDER_SEQUENCE_NUMBER on the batch that follows the last acknowledged one
//! (a real gap) and UNKNOWN_PRODUCER_ID are retried after an epoch bump; OUT_OF_ORDER on a later
//! batch is retried as is (an earlier batch failed first); any batch that fails for good after
//! getting a sequence (non-retriable error, delivery timeout, INVALID_PRODUCER_EPOCH) leaves a
//! gap, so the epoch is bumped too. A bump waits for every request in flight to be answered,
//! calls InitProducerId with the current id and epoch (KIP-360), resets every partition's
//! sequences to 0 and re-encodes the batches still waiting, in their order. PRODUCER_FENCED and
//! authorization failures of the producer id are fatal.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fastdata_protocol::kafka::ResponseBody;
use fastdata_protocol::kafka_protocol::messages::produce_request::{
    PartitionProduceData, TopicProduceData,
};
use fastdata_protocol::kafka_protocol::messages::{
    ApiKey, InitProducerIdRequest, ProduceRequest, ProduceResponse, ProducerId,
};
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::conn::{lock, ApiRequest, TrySendError};
use crate::error::{check, Error, ErrorCode, KafkaError, Result};
use crate::metadata::Metadata;
use crate::producer::accumulator::{Accumulator, ProducerBatch};
use crate::producer::config::{Acks, ProducerConfig, MAX_IDEMPOTENT_IN_FLIGHT};
use crate::types::TopicPartition;
use crate::wire::{sleep_until, topic_name};

/// `transaction.timeout.ms` sent with InitProducerId (the Java default; unused without
/// transactions).
const TRANSACTION_TIMEOUT_MS: i32 = 60_000;

/// State shared by the producer handle and the sender task.
pub(crate) struct Shared {
    pub config: ProducerConfig,
    pub accumulator: Mutex<Accumulator>,
    pub wake: Arc<Notify>,
    pub memory: Arc<Semaphore>,
    /// `send` calls waiting for buffer memory (everything is ready while one waits).
    pub waiting_for_memory: AtomicUsize,
}

/// A Produce request's outcome, with its batches.
struct Done {
    node: i32,
    batches: Vec<ProducerBatch>,
    result: Result<Option<ResponseBody>>,
}

/// The batches of one Produce request to one leader.
struct NodeRequest {
    node: i32,
    address: String,
    batches: Vec<ProducerBatch>,
}

/// A partition's sequence numbers under the current epoch.
#[derive(Clone, Copy)]
struct Sequences {
    next: i32,
    last_acked: i32,
}

impl Default for Sequences {
    fn default() -> Self {
        Sequences {
            next: 0,
            last_acked: -1,
        }
    }
}

/// The idempotent producer's identity and sequences.
struct Idempotence {
    producer_id: i64,
    epoch: i16,
    sequences: HashMap<TopicPartition, Sequences>,
    /// No id yet, or a bump was requested.
    needs_init: bool,
}

/// Kafka's sequence arithmetic: wraps from `i32::MAX` to 0.
fn add_sequence(sequence: i32, n: i32) -> i32 {
    let sum = i64::from(sequence) + i64::from(n);
    if sum > i64::from(i32::MAX) {
        (sum - i64::from(i32::MAX) - 1) as i32
    } else {
        sum as i32
    }
}

/// Why a batch did not succeed.
enum Failure {
    /// The broker answered with a code.
    Kafka(KafkaError),
    /// No answer (network, timeout, a malformed response).
    Client(Error),
}

impl Failure {
    fn error(&self) -> Error {
        match self {
            Failure::Kafka(e) => Error::Kafka(e.clone()),
            Failure::Client(e) => e.clone(),
        }
    }
}

struct Sender {
    shared: Arc<Shared>,
    cluster: Arc<Cluster>,
    idempotence: Option<Idempotence>,
    in_flight: FuturesUnordered<BoxFuture<'static, Done>>,
    per_partition: HashMap<TopicPartition, usize>,
    per_node: HashMap<i32, usize>,
    init: FuturesUnordered<BoxFuture<'static, Result<(i64, i16)>>>,
    metadata: watch::Receiver<Arc<Metadata>>,
}

/// Runs the sender until the producer closes (every batch sent and answered) or the cluster
/// shuts down (what is left fails with [`Error::Closed`]).
pub(crate) async fn run(shared: Arc<Shared>, cluster: Arc<Cluster>) {
    let idempotence = shared.config.enable_idempotence.then(|| Idempotence {
        producer_id: -1,
        epoch: -1,
        sequences: HashMap::new(),
        needs_init: true,
    });
    let metadata = cluster.watch_metadata();
    let mut sender = Sender {
        shared,
        cluster,
        idempotence,
        in_flight: FuturesUnordered::new(),
        per_partition: HashMap::new(),
        per_node: HashMap::new(),
        init: FuturesUnordered::new(),
        metadata,
    };
    sender.run().await;
}

impl Sender {
    async fn run(&mut self) {
        let shutdown = self.cluster.shutdown_token();
        let wake = self.shared.wake.clone();
        loop {
            self.maybe_start_init();
            let next = self.drain(Instant::now());
            if self.finished() {
                break;
            }
            tokio::select! {
                Some(done) = self.in_flight.next(), if !self.in_flight.is_empty() => self.handle(done),
                Some(init) = self.init.next(), if !self.init.is_empty() => self.handle_init(init),
                _ = wake.notified() => {}
                _ = self.metadata.changed() => {}
                _ = sleep_until(next) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        let mut acc = lock(&self.shared.accumulator);
        let queued: Vec<ProducerBatch> =
            acc.queues.values_mut().flat_map(|q| q.drain(..)).collect();
        for batch in queued {
            acc.finished(batch.id);
            batch.fail(|| Error::Closed);
        }
    }

    /// Closing, and nothing left to send or wait for.
    fn finished(&self) -> bool {
        let acc = lock(&self.shared.accumulator);
        acc.closing && acc.is_empty() && self.in_flight.is_empty() && self.init.is_empty()
    }

    fn maybe_start_init(&mut self) {
        let Some(idem) = &self.idempotence else {
            return;
        };
        if !idem.needs_init || !self.in_flight.is_empty() || !self.init.is_empty() {
            return;
        }
        let current = (idem.producer_id >= 0).then_some((idem.producer_id, idem.epoch));
        let cluster = self.cluster.clone();
        let backoff = Duration::from_millis(self.shared.config.retry_backoff_ms);
        self.init
            .push(Box::pin(init_producer_id(cluster, current, backoff)));
    }

    fn handle_init(&mut self, result: Result<(i64, i16)>) {
        let Some(idem) = &mut self.idempotence else {
            return;
        };
        match result {
            Ok((producer_id, epoch)) => {
                tracing::debug!(producer_id, epoch, "producer id assigned");
                idem.producer_id = producer_id;
                idem.epoch = epoch;
                idem.sequences.clear();
                idem.needs_init = false;
            }
            Err(e) => self.fatal(format!("InitProducerId failed: {e}")),
        }
    }

    /// Fails every waiting batch and every later send with `reason`.
    fn fatal(&mut self, reason: String) {
        tracing::error!(%reason, "producer failed fatally");
        let mut acc = lock(&self.shared.accumulator);
        acc.fatal = Some(reason.clone());
        let queued: Vec<ProducerBatch> =
            acc.queues.values_mut().flat_map(|q| q.drain(..)).collect();
        for batch in queued {
            acc.finished(batch.id);
            batch.fail(|| Error::Fatal(reason.clone()));
        }
    }

    /// Expires old batches and sends what is ready; returns when to look again.
    fn drain(&mut self, now: Instant) -> Option<Instant> {
        let mut next_wake = self.expire(now);
        if self
            .idempotence
            .as_ref()
            .is_some_and(|i| i.needs_init || !self.init.is_empty())
        {
            return next_wake;
        }
        loop {
            let (requests, wake) = self.collect(now);
            next_wake = earliest(next_wake, wake);
            if requests.is_empty() {
                return next_wake;
            }
            let mut sent_any = false;
            for r in requests {
                sent_any |= self.send_request(r.node, &r.address, r.batches);
            }
            if !sent_any {
                return next_wake;
            }
        }
    }

    /// Fails batches past `delivery.timeout.ms`; returns the next expiry.
    fn expire(&mut self, now: Instant) -> Option<Instant> {
        let timeout = Duration::from_millis(self.shared.config.delivery_timeout_ms);
        let mut expired = Vec::new();
        let mut next = None;
        {
            let mut acc = lock(&self.shared.accumulator);
            for queue in acc.queues.values_mut() {
                let mut i = 0;
                while i < queue.len() {
                    let deadline = queue[i].created + timeout;
                    if deadline <= now {
                        if let Some(batch) = queue.remove(i) {
                            expired.push(batch);
                        }
                    } else {
                        next = earliest(next, Some(deadline));
                        i += 1;
                    }
                }
            }
            for batch in &expired {
                acc.finished(batch.id);
            }
        }
        for batch in expired {
            self.leaves_gap(&batch);
            let tp = batch.tp.clone();
            batch.fail(|| Error::Timeout {
                operation: format!("delivering records to {tp}"),
                timeout_ms: timeout.as_millis() as u64,
            });
        }
        next
    }

    /// A batch that got a sequence under the current epoch will never be written: the
    /// partition's sequences have a gap, so the epoch must be bumped.
    fn leaves_gap(&mut self, batch: &ProducerBatch) {
        if let (Some(idem), Some(built)) = (&mut self.idempotence, &batch.built) {
            if built.producer_id == idem.producer_id && built.producer_epoch == idem.epoch {
                idem.needs_init = true;
            }
        }
    }

    /// Takes at most one ready batch per partition, grouped by leader, for one request per
    /// leader; encodes them. Returns the requests and when to look again.
    fn collect(&mut self, now: Instant) -> (Vec<NodeRequest>, Option<Instant>) {
        let config = &self.shared.config;
        let linger = Duration::from_millis(config.linger_ms);
        let max_in_flight = config.max_in_flight_requests_per_connection;
        let metadata = self.cluster.metadata();
        let mut next_wake = None;
        let mut need_refresh = false;
        let mut requests: HashMap<i32, (String, usize, Vec<ProducerBatch>)> = HashMap::new();
        let mut unreachable: HashMap<i32, bool> = HashMap::new();
        {
            let mut acc = lock(&self.shared.accumulator);
            let all_ready = acc.flushes > 0
                || acc.closing
                || self.shared.waiting_for_memory.load(Ordering::Relaxed) > 0;
            for (tp, queue) in acc.queues.iter_mut() {
                let Some(front) = queue.front() else {
                    continue;
                };
                if let Some(at) = front.retry_at.filter(|&at| at > now) {
                    next_wake = earliest(next_wake, Some(at));
                    continue;
                }
                let ready =
                    all_ready || queue.len() > 1 || front.closed || now >= front.created + linger;
                if !ready {
                    next_wake = earliest(next_wake, Some(front.created + linger));
                    continue;
                }
                let in_flight = self.per_partition.get(tp).copied().unwrap_or(0);
                let ordered = if self.idempotence.is_some() {
                    in_flight < MAX_IDEMPOTENT_IN_FLIGHT && (front.attempts == 0 || in_flight == 0)
                } else {
                    max_in_flight > 1 || in_flight == 0
                };
                if !ordered {
                    continue;
                }
                let Some(leader) = metadata.leader(&tp.topic, tp.partition) else {
                    need_refresh = true;
                    continue;
                };
                let node = leader.node_id;
                if self.per_node.get(&node).copied().unwrap_or(0) >= max_in_flight {
                    continue;
                }
                let reachable = *unreachable.entry(node).or_insert_with(|| {
                    let address = leader.address();
                    if self.cluster.ready_connection(&address).is_some() {
                        true
                    } else {
                        self.cluster
                            .connect_in_background(address, self.shared.wake.clone());
                        false
                    }
                });
                if !reachable {
                    continue;
                }
                let entry = requests
                    .entry(node)
                    .or_insert_with(|| (leader.address(), 0, Vec::new()));
                let size = front.size_bytes;
                if !entry.2.is_empty() && entry.1 + size > config.max_request_size {
                    continue;
                }
                if let Some(batch) = queue.pop_front() {
                    entry.1 += size;
                    entry.2.push(batch);
                }
            }
        }
        if need_refresh {
            self.cluster.request_metadata_refresh();
        }
        let mut out = Vec::new();
        for (node, (address, _, batches)) in requests {
            let mut ready = Vec::with_capacity(batches.len());
            for mut batch in batches {
                match self.encode(&mut batch) {
                    Ok(()) => ready.push(batch),
                    Err(e) => {
                        lock(&self.shared.accumulator).finished(batch.id);
                        batch.fail(|| e.clone());
                    }
                }
            }
            if !ready.is_empty() {
                out.push(NodeRequest {
                    node,
                    address,
                    batches: ready,
                });
            }
        }
        (out, next_wake)
    }

    /// Encodes a batch if it has no bytes yet or its bytes carry a stale producer epoch,
    /// assigning the partition's next sequence.
    fn encode(&mut self, batch: &mut ProducerBatch) -> Result<()> {
        let compression = self.shared.config.compression;
        match &mut self.idempotence {
            None => {
                if batch.built.is_none() {
                    batch.build(compression, None)?;
                }
            }
            Some(idem) => {
                let current = batch.built.as_ref().is_some_and(|b| {
                    b.producer_id == idem.producer_id && b.producer_epoch == idem.epoch
                });
                if !current {
                    let sequences = idem.sequences.entry(batch.tp.clone()).or_default();
                    let base = sequences.next;
                    batch.build(compression, Some((idem.producer_id, idem.epoch, base)))?;
                    sequences.next = add_sequence(base, batch.record_count());
                }
            }
        }
        Ok(())
    }

    /// Queues one Produce request; returns whether it went out (else its batches are back in
    /// their queues).
    fn send_request(&mut self, node: i32, address: &str, mut batches: Vec<ProducerBatch>) -> bool {
        let config = &self.shared.config;
        let Some(conn) = self.cluster.ready_connection(address) else {
            self.requeue_all(batches);
            return false;
        };
        let version = match conn.version(ApiKey::Produce) {
            Ok(version) => version,
            Err(e) => {
                let mut acc = lock(&self.shared.accumulator);
                for batch in batches {
                    acc.finished(batch.id);
                    batch.fail(|| e.clone());
                }
                return false;
            }
        };
        let mut topics: Vec<TopicProduceData> = Vec::new();
        for batch in &batches {
            let data = PartitionProduceData::default()
                .with_index(batch.tp.partition)
                .with_records(batch.built.as_ref().map(|b| b.bytes.clone()));
            match topics
                .iter_mut()
                .find(|t| t.name.0.as_str() == batch.tp.topic)
            {
                Some(topic) => topic.partition_data.push(data),
                None => topics.push(
                    TopicProduceData::default()
                        .with_name(topic_name(&batch.tp.topic))
                        .with_partition_data(vec![data]),
                ),
            }
        }
        let request = ProduceRequest::default()
            .with_transactional_id(None)
            .with_acks(config.acks.value())
            .with_timeout_ms(config.request_timeout_ms.min(i32::MAX as u64) as i32)
            .with_topic_data(topics);
        let expect_response = config.acks != Acks::None;
        let rx = match conn.try_send(
            version,
            request.into_body(),
            expect_response,
            config.request_timeout(),
        ) {
            Ok(rx) => rx,
            Err(TrySendError::Busy) => {
                self.requeue_all(batches);
                return false;
            }
            Err(TrySendError::Closed) => {
                self.cluster.request_metadata_refresh();
                self.requeue_all(batches);
                return false;
            }
        };
        for batch in &mut batches {
            batch.attempts += 1;
            *self.per_partition.entry(batch.tp.clone()).or_default() += 1;
        }
        *self.per_node.entry(node).or_default() += 1;
        self.in_flight.push(Box::pin(async move {
            let result = conn.receive(rx).await;
            Done {
                node,
                batches,
                result,
            }
        }));
        true
    }

    fn requeue_all(&self, batches: Vec<ProducerBatch>) {
        let mut acc = lock(&self.shared.accumulator);
        for batch in batches {
            acc.requeue(batch);
        }
    }

    fn handle(&mut self, done: Done) {
        if let Some(n) = self.per_node.get_mut(&done.node) {
            *n = n.saturating_sub(1);
        }
        for batch in &done.batches {
            if let Some(n) = self.per_partition.get_mut(&batch.tp) {
                *n = n.saturating_sub(1);
            }
        }
        let response = match done.result {
            Err(e) => {
                self.cluster.request_metadata_refresh();
                for batch in done.batches {
                    self.failed(batch, Failure::Client(e.clone()));
                }
                return;
            }
            Ok(None) => {
                for batch in done.batches {
                    self.succeeded(batch, -1, -1);
                }
                return;
            }
            Ok(Some(ResponseBody::Produce(response))) => response,
            Ok(Some(_)) => {
                let e = Error::InvalidResponse {
                    broker: format!("node {}", done.node),
                    api: ApiKey::Produce,
                    reason: "not a Produce response".to_owned(),
                };
                for batch in done.batches {
                    self.failed(batch, Failure::Client(e.clone()));
                }
                return;
            }
        };
        let mut by_partition = index_response(response);
        for batch in done.batches {
            let key = (batch.tp.topic.clone(), batch.tp.partition);
            match by_partition.remove(&key) {
                None => {
                    let e = Error::InvalidResponse {
                        broker: format!("node {}", done.node),
                        api: ApiKey::Produce,
                        reason: format!("no answer for {}", batch.tp),
                    };
                    self.failed(batch, Failure::Client(e));
                }
                Some(p) => {
                    let code = ErrorCode(p.error_code);
                    if code.is_ok() {
                        self.succeeded(batch, p.base_offset, p.log_append_time_ms);
                    } else if code == ErrorCode::DUPLICATE_SEQUENCE_NUMBER {
                        // The broker has the batch but no longer its offsets (Java's behaviour:
                        // success without an offset).
                        self.succeeded(batch, -1, -1);
                    } else {
                        let message = p
                            .record_errors
                            .iter()
                            .filter_map(|r| {
                                r.batch_index_error_message
                                    .as_ref()
                                    .map(|m| format!("record {}: {m}", r.batch_index))
                            })
                            .chain(p.error_message.as_ref().map(|m| m.to_string()))
                            .collect::<Vec<_>>();
                        let error = KafkaError::new(ApiKey::Produce, code)
                            .topic(batch.tp.topic.clone())
                            .partition(batch.tp.partition)
                            .message((!message.is_empty()).then(|| message.join("; ")));
                        self.failed(batch, Failure::Kafka(error));
                    }
                }
            }
        }
    }

    fn succeeded(&mut self, batch: ProducerBatch, base_offset: i64, log_append_time_ms: i64) {
        if let (Some(idem), Some(built)) = (&mut self.idempotence, &batch.built) {
            if built.producer_id == idem.producer_id && built.producer_epoch == idem.epoch {
                let last = add_sequence(built.base_sequence, batch.record_count() - 1);
                idem.sequences
                    .entry(batch.tp.clone())
                    .or_default()
                    .last_acked = last;
            }
        }
        lock(&self.shared.accumulator).finished(batch.id);
        batch.complete(base_offset, log_append_time_ms);
    }

    fn failed(&mut self, mut batch: ProducerBatch, failure: Failure) {
        let config = &self.shared.config;
        let now = Instant::now();
        let code = match &failure {
            Failure::Kafka(e) => Some(e.code),
            Failure::Client(_) => None,
        };
        if let Some(code) = code {
            if code.is_stale_metadata() {
                self.cluster.request_metadata_refresh();
            }
            // Fatal for the producer id: nothing it sends can succeed any more.
            if matches!(code.0, 90 | 31 | 53) {
                let reason = failure.error().to_string();
                lock(&self.shared.accumulator).finished(batch.id);
                batch.fail(|| Error::Fatal(reason.clone()));
                self.fatal(reason);
                return;
            }
        }
        let idempotent_retry = self.idempotence.is_some()
            && matches!(
                code,
                Some(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER | ErrorCode::UNKNOWN_PRODUCER_ID)
            );
        let retriable = match code {
            Some(code) => code.is_retriable() || idempotent_retry,
            None => failure.error().is_retriable(),
        };
        let within_timeout =
            now < batch.created + Duration::from_millis(config.delivery_timeout_ms);
        if retriable && batch.attempts < config.retries && within_timeout {
            if let (Some(idem), Some(built)) = (&mut self.idempotence, &batch.built) {
                let current =
                    built.producer_id == idem.producer_id && built.producer_epoch == idem.epoch;
                let sequences = idem.sequences.get(&batch.tp).copied().unwrap_or_default();
                let is_next = built.base_sequence == add_sequence(sequences.last_acked, 1);
                match code {
                    Some(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER) if current && is_next => {
                        tracing::warn!(tp = %batch.tp, sequence = built.base_sequence, "sequence gap: bumping the producer epoch");
                        idem.needs_init = true;
                    }
                    Some(ErrorCode::UNKNOWN_PRODUCER_ID) if current => {
                        tracing::warn!(tp = %batch.tp, "broker lost the producer state: bumping the producer epoch");
                        idem.needs_init = true;
                    }
                    _ => {}
                }
            }
            tracing::debug!(tp = %batch.tp, attempts = batch.attempts, error = %failure.error(), "retrying batch");
            batch.retry_at = Some(now + Duration::from_millis(config.retry_backoff_ms));
            lock(&self.shared.accumulator).requeue(batch);
            return;
        }
        self.leaves_gap(&batch);
        lock(&self.shared.accumulator).finished(batch.id);
        let error = failure.error();
        batch.fail(|| error.clone());
    }
}

type PartitionResponse =
    fastdata_protocol::kafka_protocol::messages::produce_response::PartitionProduceResponse;

fn index_response(response: ProduceResponse) -> HashMap<(String, i32), PartitionResponse> {
    let mut out = HashMap::new();
    for topic in response.responses {
        let name = topic.name.0.to_string();
        for p in topic.partition_responses {
            out.insert((name.clone(), p.index), p);
        }
    }
    out
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// InitProducerId until it succeeds, retrying retriable errors; `current` asks for an epoch
/// bump of that id and epoch (InitProducerId v3+), else for a new id.
async fn init_producer_id(
    cluster: Arc<Cluster>,
    mut current: Option<(i64, i16)>,
    backoff: Duration,
) -> Result<(i64, i16)> {
    loop {
        let attempt = async {
            let conn = cluster.any_connection().await?;
            let bump = current;
            let response = cluster
                .send(&conn, Duration::ZERO, |version| {
                    let request = InitProducerIdRequest::default()
                        .with_transactional_id(None)
                        .with_transaction_timeout_ms(TRANSACTION_TIMEOUT_MS);
                    match bump {
                        Some((id, epoch)) if version >= 3 => request
                            .with_producer_id(ProducerId(id))
                            .with_producer_epoch(epoch),
                        _ => request,
                    }
                })
                .await?;
            check(response.error_code, |code| {
                KafkaError::new(ApiKey::InitProducerId, code)
            })?;
            Ok::<_, Error>((response.producer_id.0, response.producer_epoch))
        };
        match attempt.await {
            Ok(identity) => return Ok(identity),
            Err(Error::Closed) => return Err(Error::Closed),
            Err(e) if e.is_retriable() => {
                tracing::debug!(error = %e, "InitProducerId failed, retrying");
            }
            Err(e)
                if current.is_some()
                    && matches!(
                        e.code(),
                        Some(ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED)
                    ) =>
            {
                // The broker will not bump this epoch: start over with a new producer id.
                current = None;
                continue;
            }
            Err(e) => return Err(e),
        }
        if cluster.is_shut_down() {
            return Err(Error::Closed);
        }
        tokio::time::sleep(backoff).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_wrap_as_kafkas() {
        assert_eq!(add_sequence(0, 5), 5);
        assert_eq!(add_sequence(i32::MAX, 1), 0);
        assert_eq!(add_sequence(i32::MAX - 1, 3), 1);
        assert_eq!(add_sequence(-1, 1), 0);
    }
}
