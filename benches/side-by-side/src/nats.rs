//! `nats`: NATS JetStream with the `async-nats` crate on one connection. Publish: the stream is
//! created with file storage on the subject if it is missing, and each operation is one
//! publish through the JetStream context awaiting its ack (the workers' publishes in flight
//! share the connection). Consume: an ephemeral pull consumer without acks reads the stream
//! from its first message to the count it had at the start, in big pull batches.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::stream::{self, StorageType};
use async_nats::jetstream::{self, Context};
use async_nats::Subject;
use bytes::Bytes;
use fastdata_benches::load::letters;
use fastdata_benches::load::{self, BoxError, Done, LoadConfig, Report, Workload};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use rand::rngs::SmallRng;

use crate::read::{read_all, BatchSource, Limits, Read};

/// Where and what.
pub struct Settings {
    /// The server's `HOST:PORT`.
    pub addr: String,
    /// The JetStream stream.
    pub stream: String,
    /// The subject published to (the stream's, if this creates it).
    pub subject: String,
    /// Bytes of each payload.
    pub record_size: usize,
    /// Messages per pull request.
    pub batch: usize,
}

async fn connect(addr: &str) -> anyhow::Result<(async_nats::Client, Context)> {
    let client = async_nats::connect(addr).await.context("connecting")?;
    Ok((client.clone(), jetstream::new(client)))
}

/// The report's settings describing the server and the stream's durability.
fn describe(report: Report, client: &async_nats::Client, info: &stream::Info) -> Report {
    let storage = match info.config.storage {
        StorageType::File => {
            "file storage: a publish is acked once written to the stream's files, \
                              with no fsync per message (the server syncs them on its own timer)"
        }
        StorageType::Memory => "memory storage",
    };
    report
        .with(
            "server",
            format!("nats-server {}", client.server_info().version),
        )
        .with(
            "durability",
            format!(
                "JetStream {storage}; {} replica(s)",
                info.config.num_replicas
            ),
        )
        .with("stream", &info.config.name)
}

struct Publish {
    jetstream: Context,
    subject: Subject,
    payload: Bytes,
}

impl Workload for Publish {
    fn kinds(&self) -> &'static [&'static str] {
        &["publish"]
    }

    fn start(
        &self,
        _worker: usize,
        _seq: u64,
        _rng: &mut SmallRng,
    ) -> BoxFuture<'static, Result<Done, BoxError>> {
        let (jetstream, subject, payload) = (
            self.jetstream.clone(),
            self.subject.clone(),
            self.payload.clone(),
        );
        let bytes = payload.len() as u64;
        async move {
            jetstream.publish(subject, payload).await?.await?;
            Ok(Done { kind: 0, bytes })
        }
        .boxed()
    }
}

/// Publishes as `config` paces it and reports messages/s, MB/s and ack latencies.
pub async fn publish(settings: &Settings, config: &LoadConfig) -> anyhow::Result<Report> {
    let (client, jetstream) = connect(&settings.addr).await?;
    let mut stream = jetstream
        .get_or_create_stream(stream::Config {
            name: settings.stream.clone(),
            subjects: vec![settings.subject.clone()],
            storage: StorageType::File,
            ..Default::default()
        })
        .await
        .with_context(|| format!("creating the stream {}", settings.stream))?;
    let workload = Arc::new(Publish {
        jetstream,
        subject: Subject::from(settings.subject.as_str()),
        payload: letters(settings.record_size, 1),
    });
    let report = load::run("nats publish", workload, config).await;
    let info = stream
        .info()
        .await
        .with_context(|| format!("describing the stream {}", settings.stream))?;
    Ok(describe(report, &client, info)
        .with("subject", &settings.subject)
        .with("record size", format!("{} B", settings.record_size))
        .with(
            "connection",
            "one connection (the publishes in flight share it)",
        ))
}

struct Pull {
    messages: pull::Stream,
}

impl BatchSource for Pull {
    async fn next_batch(&mut self, _want: u64) -> anyhow::Result<Read> {
        match self.messages.next().await {
            Some(message) => {
                let message = message.context("pulling messages")?;
                Ok(Read {
                    records: 1,
                    bytes: message.message.payload.len() as u64,
                })
            }
            None => Ok(Read::default()),
        }
    }
}

/// Reads the stream from its first message to the count it had at the start and reports
/// messages/s and MB/s (payloads).
pub async fn consume(settings: &Settings, limits: &Limits) -> anyhow::Result<Report> {
    let (client, jetstream) = connect(&settings.addr).await?;
    let mut stream = jetstream
        .get_stream(&settings.stream)
        .await
        .with_context(|| format!("finding the stream {}", settings.stream))?;
    let total = stream
        .info()
        .await
        .with_context(|| format!("describing the stream {}", settings.stream))?
        .state
        .messages;
    if total == 0 {
        bail!(
            "the stream {} is empty (run --op publish first)",
            settings.stream
        );
    }
    let consumer = stream
        .create_consumer(pull::Config {
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            // Removed by the server a minute after this stops pulling, even if the delete fails.
            inactive_threshold: Duration::from_secs(60),
            ..Default::default()
        })
        .await
        .context("creating a pull consumer")?;
    let name = consumer.cached_info().name.clone();
    let messages = consumer
        .stream()
        .max_messages_per_batch(settings.batch)
        .messages()
        .await
        .context("starting to pull")?;
    let report = read_all("nats consume", &mut Pull { messages }, total, limits).await?;
    stream
        .delete_consumer(&name)
        .await
        .with_context(|| format!("deleting the consumer {name}"))?;
    let info = stream
        .info()
        .await
        .with_context(|| format!("describing the stream {}", settings.stream))?;
    Ok(describe(report, &client, info)
        .with("consumer", "ephemeral pull consumer, no acks")
        .with("batch", format!("{} messages per pull", settings.batch)))
}
