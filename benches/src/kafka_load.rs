//! `fastdata bench log`: produce and consume over the Kafka protocol with our client, against
//! any Kafka-compatible broker (ours, Tansu, ...).
//!
//! Produce: `producers` producers (each with its own connections), the engine's workers
//! spread over them, each operation one record sent and its delivery awaited; so a worker's
//! window is how many of its records may wait for acknowledgement at once, and batching comes
//! from many records being in flight. Values are random uppercase letters, as
//! `kafka-producer-perf-test.sh` writes them ([`load::letters`]), without keys (the sticky partitioner spreads
//! batches over the partitions). The topic is created with the given partitions and flush
//! policy if it does not exist; if it exists it is used as it is.
//!
//! Consume: one consumer without a group assigned every partition, from the beginning to the
//! log end offsets taken at the start, as fast as it can poll.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fastdata_client::admin::{Admin, AdminConfig, NewTopic};
use fastdata_client::consumer::{Consumer, ConsumerConfig};
use fastdata_client::error::ErrorCode;
use fastdata_client::producer::{Acks, Producer, ProducerConfig, ProducerRecord};
use fastdata_client::types::TopicPartition;
use fastdata_log::batch::Compression;
use futures::future::BoxFuture;
use futures::FutureExt;
use rand::rngs::SmallRng;

use crate::load::{self, letters, BoxError, Done, LoadConfig, Report, Workload};

/// Where and what to produce.
#[derive(Clone, Debug)]
pub struct ProduceSettings {
    /// `bootstrap.servers`.
    pub bootstrap: String,
    /// The topic.
    pub topic: String,
    /// Partitions of the topic if it is created.
    pub partitions: i32,
    /// `flush.messages` of the topic if it is created (None: the broker's default).
    pub flush_messages: Option<u64>,
    /// Bytes of each record's value.
    pub record_bytes: usize,
    /// `batch.size`.
    pub batch_bytes: usize,
    /// `linger.ms`.
    pub linger_ms: u64,
    /// `acks`.
    pub acks: Acks,
    /// `compression.type`.
    pub compression: Compression,
    /// Producers (clients), each with its own connections.
    pub producers: usize,
}

struct ProduceLoad {
    producers: Vec<Arc<Producer>>,
    topic: String,
    value: Bytes,
}

impl Workload for ProduceLoad {
    fn kinds(&self) -> &'static [&'static str] {
        &["produce"]
    }

    fn start(
        &self,
        worker: usize,
        _seq: u64,
        _rng: &mut SmallRng,
    ) -> BoxFuture<'static, Result<Done, BoxError>> {
        let producer = self.producers[worker % self.producers.len()].clone();
        let record = ProducerRecord::new(self.topic.clone(), self.value.clone());
        let bytes = self.value.len() as u64;
        async move {
            producer.send(record).await?.await?;
            Ok(Done { kind: 0, bytes })
        }
        .boxed()
    }
}

/// Creates `topic` with `partitions` partitions (and `flush.messages` when given) unless it
/// exists.
pub async fn ensure_topic(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    flush_messages: Option<u64>,
) -> Result<(), BoxError> {
    let admin = Admin::new(AdminConfig::new(bootstrap))?;
    let mut new = NewTopic::new(topic, partitions);
    if let Some(n) = flush_messages {
        new = new.with_config("flush.messages", n.to_string());
    }
    match admin.create_topic(new).await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => Ok(()),
        Err(e) => Err(format!("creating topic {topic}: {e}").into()),
    }
}

/// Produces as `load` paces it and reports records/s, MB/s and acknowledgement latencies.
pub async fn produce(settings: &ProduceSettings, load: &LoadConfig) -> Result<Report, BoxError> {
    ensure_topic(
        &settings.bootstrap,
        &settings.topic,
        settings.partitions,
        settings.flush_messages,
    )
    .await?;
    let mut producers = Vec::with_capacity(settings.producers.max(1));
    for i in 0..settings.producers.max(1) {
        producers.push(Arc::new(Producer::new(ProducerConfig {
            acks: settings.acks,
            compression: settings.compression,
            linger_ms: settings.linger_ms,
            batch_size: settings.batch_bytes,
            enable_idempotence: false,
            client_id: format!("fastdata-bench-{i}"),
            ..ProducerConfig::new(settings.bootstrap.clone())
        })?));
    }
    let workload = Arc::new(ProduceLoad {
        producers,
        topic: settings.topic.clone(),
        value: letters(settings.record_bytes, 1),
    });
    let report = load::run("log produce", workload.clone(), load).await;
    for producer in &workload.producers {
        producer.flush().await?;
    }
    Ok(report
        .with("topic", &settings.topic)
        .with("record size", format!("{} B", settings.record_bytes))
        .with("batch.size", settings.batch_bytes)
        .with("linger.ms", settings.linger_ms)
        .with("acks", settings.acks.value())
        .with("compression", settings.compression.name())
        .with("producers", settings.producers)
        .with(
            "flush",
            match settings.flush_messages {
                Some(n) => format!("flush.messages={n} (topic created here)"),
                None => "topic default".to_string(),
            },
        ))
}

/// Reads `topic` from the beginning to the end offsets it had when the run started, or until
/// `limit` passes, and reports records/s and MB/s (values and keys).
pub async fn consume(bootstrap: &str, topic: &str, limit: Duration) -> Result<Report, BoxError> {
    let admin = Admin::new(AdminConfig::new(bootstrap))?;
    let description = admin
        .describe_topics(&[topic])
        .await?
        .remove(topic)
        .ok_or_else(|| format!("topic {topic} was not described"))??;
    let partitions: Vec<TopicPartition> = description
        .partitions
        .iter()
        .map(|p| TopicPartition {
            topic: topic.to_string(),
            partition: p.partition,
        })
        .collect();
    let mut consumer = Consumer::new(ConsumerConfig {
        client_id: "fastdata-bench-consume".to_string(),
        fetch_max_bytes: 64 << 20,
        max_partition_fetch_bytes: 16 << 20,
        max_poll_records: 1 << 20,
        ..ConsumerConfig::new(bootstrap)
    })?;
    consumer.assign(partitions.clone())?;
    consumer.seek_to_end(&partitions)?;
    // One topic: the end offsets by partition.
    let mut ends = BTreeMap::new();
    for tp in &partitions {
        ends.insert(tp.partition, consumer.position(tp).await?);
    }
    consumer.seek_to_beginning(&partitions)?;
    let started = Instant::now();
    let (mut records, mut bytes) = (0u64, 0u64);
    let mut remaining: u64 = ends.values().map(|&e| e.max(0) as u64).sum();
    while remaining > 0 && started.elapsed() < limit {
        for record in consumer.poll(Duration::from_millis(500)).await? {
            if ends
                .get(&record.partition)
                .is_some_and(|&end| record.offset < end)
            {
                remaining -= 1;
                records += 1;
                bytes += record.value.as_ref().map_or(0, |v| v.len() as u64)
                    + record.key.as_ref().map_or(0, |k| k.len() as u64);
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    consumer.close().await?;
    Ok(Report::throughput("log consume", records, bytes, seconds)
        .with("topic", topic)
        .with(
            "source",
            "from the beginning to the end offsets at the start",
        )
        .with("partitions", partitions.len()))
}
