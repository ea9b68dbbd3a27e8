//! Compacted topics end to end: a consumer reading a `cleanup.policy=compact` topic from the
//! start gets the newest value of every key, once the broker's cleaner has run over the closed
//! segments, with the superseded records gone.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fastdata_client::admin::{Admin, AdminConfig, NewTopic};
use fastdata_client::consumer::{Consumer, ConsumerConfig, OffsetReset};
use fastdata_client::producer::{Compression, Producer, ProducerConfig, ProducerRecord};
use fastdata_client::types::TopicPartition;
use fastdata_tests::{loopback_host, Broker, DataDir};

const KEYS: usize = 20;
const ROUNDS: usize = 50;
const TOPIC: &str = "compacted";

/// Every record of the topic from its start, in order: (key, value).
async fn read_from_start(bootstrap: &str) -> Vec<(String, Option<String>)> {
    let mut consumer = Consumer::new(ConsumerConfig {
        auto_offset_reset: OffsetReset::Earliest,
        fetch_max_wait_ms: 50,
        ..ConsumerConfig::new(bootstrap)
    })
    .expect("a consumer");
    let tp = TopicPartition::new(TOPIC, 0);
    consumer.assign([tp.clone()]).expect("assign");
    consumer
        .seek_to_beginning(std::slice::from_ref(&tp))
        .expect("seek");
    let text = |b: Option<bytes::Bytes>| b.map(|b| String::from_utf8_lossy(&b).into_owned());
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for r in consumer
            .poll(Duration::from_millis(100))
            .await
            .expect("poll")
        {
            out.push((text(r.key).expect("a key"), text(r.value)));
        }
        let position = consumer.position(&tp).await.expect("position");
        if consumer
            .high_watermark(&tp)
            .is_some_and(|hw| position >= hw)
        {
            break;
        }
        assert!(Instant::now() < deadline, "not read to the end in time");
    }
    consumer.close().await.expect("close");
    out
}

#[test]
fn a_compacted_topic_read_from_the_start_yields_the_newest_value_of_each_key() {
    let dir = DataDir::new("compaction").unwrap();
    let broker = Broker::builder(&dir)
        .host(loopback_host())
        .config("log.cleaner.backoff.ms", "200")
        .start()
        .unwrap();
    let bootstrap = broker.bootstrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let admin = Admin::new(AdminConfig::new(bootstrap.clone())).unwrap();
        admin
            .create_topic(
                NewTopic::new(TOPIC, 1)
                    .with_config("cleanup.policy", "compact")
                    .with_config("segment.bytes", "2048"),
            )
            .await
            .unwrap();
        admin.close();

        // lz4 batches: a compacted topic's cleaner decodes compressed batches too.
        let producer = Producer::new(ProducerConfig {
            compression: Compression::Lz4,
            linger_ms: 0,
            ..ProducerConfig::new(bootstrap.clone())
        })
        .unwrap();
        let mut newest: BTreeMap<String, Option<String>> = BTreeMap::new();
        for round in 0..ROUNDS {
            for k in 0..KEYS {
                let (key, value) = (
                    format!("key-{k:02}"),
                    format!("value-{k:02}-round-{round:02}"),
                );
                producer
                    .send(ProducerRecord::new(TOPIC, value.clone()).with_key(key.clone()))
                    .await
                    .unwrap()
                    .await
                    .unwrap();
                newest.insert(key, Some(value));
            }
        }
        // A tombstone: within delete.retention.ms it stays, as the key's newest record.
        producer
            .send(
                ProducerRecord::new(TOPIC, "")
                    .with_key("key-07")
                    .with_null_value(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        newest.insert("key-07".to_string(), None);
        producer.close().await.unwrap();
        let written = KEYS * ROUNDS + 1;

        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let records = read_from_start(&bootstrap).await;
            let mut last: BTreeMap<String, Option<String>> = BTreeMap::new();
            for (key, value) in &records {
                last.insert(key.clone(), value.clone());
            }
            assert_eq!(last, newest, "the newest value of every key, in every read");
            // Only the active segment may still hold superseded records.
            if records.len() < written / 4 {
                eprintln!(
                    "{written} records written, {} left after compaction",
                    records.len()
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the cleaner did not compact the topic in time: {} of {written} records left",
                records.len()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
}
