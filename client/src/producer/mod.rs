//! The producer: `send` a record, get a future of its partition and offset.
//!
//! [`Producer::send`] waits for the topic's metadata and for room in `buffer.memory` (at most
//! `max.block.ms`), picks the partition (explicit, murmur2 of the key, or sticky for keyless
//! records; see [`crate::partitioner`]), appends the record to that partition's open batch and
//! returns a [`DeliveryFuture`]. A background task (the sender, see `sender`) sends batches when
//! they fill up or have lingered `linger.ms`, retries within `delivery.timeout.ms`, and keeps the
//! idempotent producer's sequence numbers. [`Producer::flush`] waits for every record sent
//! before it; [`Producer::close`] flushes and stops. Dropping a producer without closing it
//! stops it at once; records not yet acknowledged then fail with [`Error::Closed`].

mod accumulator;
mod config;
mod sender;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::{oneshot, Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use config::{parse_compression, Acks, ProducerConfig};
pub use fastdata_log::batch::Compression;

use crate::cluster::Cluster;
use crate::conn::lock;
use crate::error::{Error, Result};
use crate::metadata::PartitionMetadata;
use crate::types::{Header, TopicPartition};
use accumulator::{record_size, Accumulator, PendingRecord, BATCH_OVERHEAD};
use sender::Shared;

/// A record to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerRecord {
    /// The topic.
    pub topic: String,
    /// The partition, or `None` to let the partitioner choose.
    pub partition: Option<i32>,
    /// The key (`None`: a null key, sticky-partitioned).
    pub key: Option<Bytes>,
    /// The value (`None`: a null value, a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// Headers, in order.
    pub headers: Vec<Header>,
    /// The timestamp in ms since the epoch (`None`: now).
    pub timestamp_ms: Option<i64>,
}

impl ProducerRecord {
    /// A record with `value` and no key, for `topic`.
    pub fn new(topic: impl Into<String>, value: impl Into<Bytes>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            partition: None,
            key: None,
            value: Some(value.into()),
            headers: Vec::new(),
            timestamp_ms: None,
        }
    }

    /// With `key`.
    pub fn with_key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// With a null value.
    pub fn with_null_value(mut self) -> Self {
        self.value = None;
        self
    }

    /// To `partition`.
    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// With one more header.
    pub fn with_header(mut self, key: impl Into<String>, value: Option<impl Into<Bytes>>) -> Self {
        self.headers.push(Header::new(key, value));
        self
    }

    /// With `timestamp_ms`.
    pub fn with_timestamp(mut self, timestamp_ms: i64) -> Self {
        self.timestamp_ms = Some(timestamp_ms);
        self
    }
}

/// Where an acknowledged record went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The record's offset (-1 with `acks=0`).
    pub offset: i64,
    /// The record's timestamp: its create time, or the broker's append time on
    /// `LogAppendTime` topics.
    pub timestamp_ms: i64,
}

/// The outcome of one `send`: resolves once the record is acknowledged or has failed for good.
#[must_use = "a delivery future reports whether the record was written"]
pub struct DeliveryFuture {
    rx: oneshot::Receiver<Result<RecordMetadata>>,
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(Error::Closed)))
    }
}

/// A Kafka producer. Share it between tasks by reference or in an `Arc`; see the module
/// documentation.
pub struct Producer {
    shared: Arc<Shared>,
    cluster: Arc<Cluster>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Producer {
    /// A producer for `config` (checked with [`ProducerConfig::validate`]). Connects lazily.
    /// Must be called inside a Tokio runtime.
    pub fn new(config: ProducerConfig) -> Result<Producer> {
        config.validate()?;
        let cluster = Cluster::new(config.network()?)?;
        let shared = Arc::new(Shared {
            memory: Arc::new(Semaphore::new(config.buffer_memory)),
            config,
            accumulator: Mutex::new(Accumulator::default()),
            wake: Arc::new(Notify::new()),
            waiting_for_memory: Default::default(),
        });
        let task = tokio::spawn(sender::run(shared.clone(), cluster.clone()));
        Ok(Producer {
            shared,
            cluster,
            task: Mutex::new(Some(task)),
        })
    }

    /// Enqueues `record`, waiting (at most `max.block.ms`) for its topic's metadata and for
    /// buffer memory; the returned future resolves to where it was written.
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        self.check_open()?;
        let config = &self.shared.config;
        let size = record_size(
            record.key.as_deref(),
            record.value.as_deref(),
            &record.headers,
        );
        if size + BATCH_OVERHEAD > config.max_request_size {
            return Err(Error::RecordTooLarge {
                size,
                limit: config.max_request_size,
                config: "max.request.size",
            });
        }
        let max_block = Duration::from_millis(config.max_block_ms);
        let deadline = Instant::now() + max_block;
        let metadata = match self.cluster.metadata().topic(&record.topic) {
            Some(_) => self.cluster.metadata(),
            None => {
                self.cluster
                    .wait_for_topic(&record.topic, max_block, false)
                    .await?
            }
        };
        let topic = metadata
            .topic(&record.topic)
            .ok_or_else(|| Error::Timeout {
                operation: format!("waiting for metadata of topic {}", record.topic),
                timeout_ms: config.max_block_ms,
            })?;
        let partitions = topic.partition_count();
        if let Some(p) = record.partition {
            if !(0..partitions).contains(&p) {
                return Err(Error::IllegalState(format!(
                    "partition {p} of topic {} does not exist ({partitions} partitions)",
                    record.topic
                )));
            }
        }
        let memory = self.reserve_memory(size, deadline).await?;
        let timestamp_ms = record.timestamp_ms.unwrap_or_else(now_ms);
        let (reply, rx) = oneshot::channel();
        let wake = {
            let mut acc = lock(&self.shared.accumulator);
            if let Some(reason) = &acc.fatal {
                return Err(Error::Fatal(reason.clone()));
            }
            if acc.closing {
                return Err(Error::Closed);
            }
            let partition = match record.partition {
                Some(p) => p,
                None => acc.choose_partition(
                    &record.topic,
                    partitions,
                    || topic.available_partitions(),
                    record.key.as_deref(),
                    size,
                    config.batch_size,
                ),
            };
            let pending = PendingRecord {
                timestamp_ms,
                key: record.key,
                value: record.value,
                headers: record.headers,
                reply,
            };
            let tp = TopicPartition::new(record.topic, partition);
            acc.append(
                tp,
                pending,
                size,
                memory,
                config.batch_size.min(config.max_request_size),
            )
        };
        if wake {
            self.shared.wake.notify_one();
        }
        Ok(DeliveryFuture { rx })
    }

    /// `size` bytes of `buffer.memory`, waiting until `deadline` if it is full.
    async fn reserve_memory(
        &self,
        size: usize,
        deadline: Instant,
    ) -> Result<tokio::sync::OwnedSemaphorePermit> {
        let permits = u32::try_from(size).map_err(|_| Error::RecordTooLarge {
            size,
            limit: u32::MAX as usize,
            config: "buffer.memory",
        })?;
        if size > self.shared.config.buffer_memory {
            return Err(Error::RecordTooLarge {
                size,
                limit: self.shared.config.buffer_memory,
                config: "buffer.memory",
            });
        }
        if let Ok(permit) = self.shared.memory.clone().try_acquire_many_owned(permits) {
            return Ok(permit);
        }
        struct Waiting<'a>(&'a Shared);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.waiting_for_memory.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.shared
            .waiting_for_memory
            .fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.shared);
        self.shared.wake.notify_one();
        match tokio::time::timeout_at(
            deadline,
            self.shared.memory.clone().acquire_many_owned(permits),
        )
        .await
        {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => Err(Error::Timeout {
                operation: "waiting for buffer.memory".to_owned(),
                timeout_ms: self.shared.config.max_block_ms,
            }),
        }
    }

    fn check_open(&self) -> Result<()> {
        let acc = lock(&self.shared.accumulator);
        if let Some(reason) = &acc.fatal {
            return Err(Error::Fatal(reason.clone()));
        }
        if acc.closing || self.cluster.is_shut_down() {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Sends everything enqueued so far at once (ignoring `linger.ms`) and waits until each
    /// of those records has its outcome. Outcomes themselves are reported by the delivery
    /// futures.
    pub async fn flush(&self) -> Result<()> {
        struct Flushing<'a>(&'a Shared);
        impl Drop for Flushing<'_> {
            fn drop(&mut self) {
                lock(&self.0.accumulator).flushes -= 1;
                self.0.wake.notify_one();
            }
        }
        let waiters: Vec<_> = {
            let mut acc = lock(&self.shared.accumulator);
            acc.flushes += 1;
            acc.incomplete.values().cloned().collect()
        };
        let _flushing = Flushing(&self.shared);
        self.shared.wake.notify_one();
        for mut waiter in waiters {
            // Never sent to: returns when the batch is dropped, i.e. finished.
            let _ = waiter.changed().await;
        }
        self.check_open_after_flush()
    }

    fn check_open_after_flush(&self) -> Result<()> {
        match &lock(&self.shared.accumulator).fatal {
            Some(reason) => Err(Error::Fatal(reason.clone())),
            None => Ok(()),
        }
    }

    /// The partitions of `topic` (waiting at most `max.block.ms` for its metadata).
    pub async fn partitions_for(&self, topic: &str) -> Result<Vec<PartitionMetadata>> {
        let max_block = Duration::from_millis(self.shared.config.max_block_ms);
        let metadata = self.cluster.wait_for_topic(topic, max_block, false).await?;
        Ok(metadata
            .topic(topic)
            .map(|t| t.partitions.clone())
            .unwrap_or_default())
    }

    /// Flushes, then stops the producer and closes its connections.
    pub async fn close(self) -> Result<()> {
        let flushed = self.flush().await;
        lock(&self.shared.accumulator).closing = true;
        self.shared.wake.notify_one();
        let task = lock(&self.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
        self.cluster.shutdown();
        flushed
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.cluster.shutdown();
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
