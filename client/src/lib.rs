//! fastdata-client: a pure-Rust, async (Tokio) Kafka client speaking the Kafka wire protocol,
//! for fastdata's broker and for any Kafka-compatible one.
//!
//! It owns the client side of the protocol:
//! - [`producer::Producer`]: batching by size and `linger.ms`, the Java client's partitioner
//!   (murmur2 for keys, sticky for keyless records), any codec (none, gzip, snappy, lz4, zstd),
//!   `acks` 0/1/all, retries within `delivery.timeout.ms`, and the idempotent producer (on by
//!   default: producer id, sequence numbers, epoch bump);
//! - [`consumer::Consumer`]: `subscribe` with consumer groups (the classic protocol and the
//!   `range`, `roundrobin` and `cooperative-sticky` assignors, compatible with Java's,
//!   librdkafka's and kafka-python's) or `assign`; `poll`, commits (sync, async, automatic),
//!   `seek`, `position`, `auto.offset.reset`;
//! - [`admin::Admin`]: topics (create, delete, list, describe with configs, alter configs, add
//!   partitions) and groups (list, describe, committed offsets with lag);
//! - underneath, one pipelined connection per broker with API version negotiation, and a
//!   metadata cache.
//!
//! Settings use the Java client's names and defaults (`linger.ms` is
//! [`producer::ProducerConfig::linger_ms`]). Every call returns the one [`error::Error`] type.
//! It does not own the wire formats (`fastdata-protocol` frames and types the messages,
//! `fastdata-log` builds and parses record batches) nor anything of the broker; transactions are
//! not implemented.
//!
//! ```no_run
//! use std::time::Duration;
//! use fastdata_client::consumer::{Consumer, ConsumerConfig, OffsetReset};
//! use fastdata_client::producer::{Compression, Producer, ProducerConfig, ProducerRecord};
//!
//! # async fn example() -> Result<(), fastdata_client::error::Error> {
//! let producer = Producer::new(ProducerConfig {
//!     compression: Compression::Lz4,
//!     ..ProducerConfig::new("127.0.0.1:9092")
//! })?;
//! let delivery = producer.send(ProducerRecord::new("orders", "42 pizzas").with_key("alice")).await?;
//! let written = delivery.await?;
//! println!("written to {}-{} at offset {}", written.topic, written.partition, written.offset);
//! producer.close().await?;
//!
//! let mut consumer = Consumer::new(ConsumerConfig {
//!     auto_offset_reset: OffsetReset::Earliest,
//!     ..ConsumerConfig::new("127.0.0.1:9092").with_group("kitchen")
//! })?;
//! consumer.subscribe(["orders"])?;
//! for record in consumer.poll(Duration::from_secs(1)).await? {
//!     println!("{}-{}@{}: {:?}", record.topic, record.partition, record.offset, record.value);
//! }
//! consumer.close().await?;
//! # Ok(())
//! # }
//! ```

pub mod admin;
pub mod assignor;
mod cluster;
mod conn;
pub mod consumer;
pub mod error;
pub mod metadata;
mod offsets;
pub mod partitioner;
pub mod producer;
pub mod types;
mod wire;

#[cfg(test)]
mod tests {
    fn shareable<T: Send + Sync>() {}
    fn movable<T: Send>() {}

    #[test]
    fn clients_can_move_between_tasks() {
        shareable::<crate::producer::Producer>();
        shareable::<crate::admin::Admin>();
        movable::<crate::consumer::Consumer>();
        movable::<crate::producer::DeliveryFuture>();
        movable::<crate::consumer::CommitFuture>();
    }
}
