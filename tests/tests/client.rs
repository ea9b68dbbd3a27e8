//! End-to-end tests of `fastdata-client` (producer, consumer, groups, admin) against a real
//! `fastdata broker` process on a loopback address of its own, started through
//! `fastdata_tests::Broker`. No mocks: what these tests see is what an application using the
//! client would see.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::time::{Duration, Instant};

use fastdata_client::admin::{Admin, AdminConfig, AlterConfigOp, NewTopic};
use fastdata_client::assignor::Assignor;
use fastdata_client::consumer::{Consumer, ConsumerConfig, ConsumerRecord, OffsetReset};
use fastdata_client::error::{Error, ErrorCode};
use fastdata_client::partitioner::partition_for_key;
use fastdata_client::producer::{Acks, Compression, Producer, ProducerConfig, ProducerRecord};
use fastdata_client::types::{OffsetAndMetadata, TopicPartition};
use fastdata_tests::{loopback_host, Broker, DataDir};

/// A broker for one test, with group rebalances immediate and short sessions allowed.
struct TestBroker {
    broker: Broker,
    _dir: DataDir,
}

impl TestBroker {
    fn start(name: &str, extra: &[(&str, &str)]) -> TestBroker {
        let dir = DataDir::new(name).unwrap();
        let mut builder = Broker::builder(&dir)
            .host(loopback_host())
            .config("group.initial.rebalance.delay.ms", "0")
            .config("group.min.session.timeout.ms", "1000");
        for (k, v) in extra {
            builder = builder.config(*k, *v);
        }
        let broker = builder.start().expect("broker starts");
        TestBroker { broker, _dir: dir }
    }

    fn bootstrap(&self) -> String {
        self.broker.bootstrap()
    }
}

fn run<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn consumer_config(bootstrap: &str, group: Option<&str>) -> ConsumerConfig {
    ConsumerConfig {
        group_id: group.map(str::to_owned),
        auto_offset_reset: OffsetReset::Earliest,
        session_timeout_ms: 3000,
        heartbeat_interval_ms: 300,
        fetch_max_wait_ms: 100,
        ..ConsumerConfig::new(bootstrap)
    }
}

/// Polls until `count` records came or `timeout` passed.
async fn poll_until(consumer: &mut Consumer, count: usize, timeout: Duration) -> Vec<ConsumerRecord> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < count && Instant::now() < deadline {
        out.extend(consumer.poll(Duration::from_millis(200)).await.unwrap());
    }
    out
}

#[test]
fn keyed_and_unkeyed_records_round_trip_with_lz4_and_idempotence() {
    let broker = TestBroker::start("client-roundtrip", &[("num.partitions", "4")]);
    run(async {
        let producer = Producer::new(ProducerConfig {
            compression: Compression::Lz4,
            ..ProducerConfig::new(broker.bootstrap())
        })
        .unwrap();
        let mut deliveries = Vec::new();
        for i in 0..100 {
            let record = ProducerRecord::new("rt", format!("value-{i}")).with_header("i", Some(i.to_string()));
            let record = if i % 2 == 0 { record.with_key(format!("key-{}", i % 10)) } else { record };
            deliveries.push(producer.send(record).await.unwrap());
        }
        let mut placed = HashMap::new();
        for (i, d) in deliveries.into_iter().enumerate() {
            let m = d.await.unwrap();
            assert!(m.offset >= 0);
            if i % 2 == 0 {
                let key = format!("key-{}", i % 10);
                assert_eq!(m.partition, partition_for_key(key.as_bytes(), 4), "keyed records land where a Java producer puts them");
            }
            placed.insert(format!("value-{i}"), (m.partition, m.offset));
        }
        producer.close().await.unwrap();

        let mut consumer = Consumer::new(consumer_config(&broker.bootstrap(), None)).unwrap();
        consumer.assign((0..4).map(|p| TopicPartition::new("rt", p))).unwrap();
        let records = poll_until(&mut consumer, 100, Duration::from_secs(10)).await;
        assert_eq!(records.len(), 100);
        for r in &records {
            let value = text(r);
            assert_eq!(placed[&value], (r.partition, r.offset), "{value}");
            let i: usize = value.trim_start_matches("value-").parse().unwrap();
            assert_eq!(r.headers[0].key, "i");
            assert_eq!(r.headers[0].value.as_deref(), Some(i.to_string().as_bytes()));
            assert_eq!(r.key.is_some(), i % 2 == 0);
        }
        consumer.close().await.unwrap();
    });
}

fn text(r: &ConsumerRecord) -> String {
    String::from_utf8(r.value.clone().unwrap_or_default().to_vec()).unwrap()
}

fn admin(bootstrap: &str) -> Admin {
    Admin::new(AdminConfig::new(bootstrap)).unwrap()
}

async fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    let admin = admin(bootstrap);
    admin.create_topic(NewTopic::new(name, partitions)).await.unwrap();
    admin.close();
}

#[test]
fn hundred_thousand_records_across_eight_partitions_are_consumed_exactly_once_in_order() {
    const RECORDS: usize = 100_000;
    let broker = TestBroker::start("client-100k", &[]);
    run(async {
        create_topic(&broker.bootstrap(), "big", 8).await;
        let producer = Producer::new(ProducerConfig {
            compression: Compression::Lz4,
            linger_ms: 10,
            ..ProducerConfig::new(broker.bootstrap())
        })
        .unwrap();
        // Keyed by i % 5000: each partition receives an ordered subsequence of 0..RECORDS.
        let mut deliveries = Vec::with_capacity(RECORDS);
        for i in 0..RECORDS {
            let record = ProducerRecord::new("big", i.to_string()).with_key(format!("k{}", i % 5000));
            deliveries.push(producer.send(record).await.unwrap());
        }
        producer.flush().await.unwrap();
        let mut sent: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
        for (i, d) in deliveries.into_iter().enumerate() {
            let m = d.await.unwrap();
            sent.entry(m.partition).or_default().push(i);
        }
        producer.close().await.unwrap();
        assert_eq!(sent.len(), 8, "all eight partitions get records");

        let mut consumer = Consumer::new(ConsumerConfig {
            max_poll_records: 2000,
            ..consumer_config(&broker.bootstrap(), Some("big-group"))
        })
        .unwrap();
        consumer.subscribe(["big"]).unwrap();
        let records = poll_until(&mut consumer, RECORDS, Duration::from_secs(60)).await;
        // Nothing more arrives: exactly once.
        let extra = consumer.poll(Duration::from_millis(500)).await.unwrap();
        assert!(extra.is_empty(), "{} records delivered twice", extra.len());
        assert_eq!(records.len(), RECORDS);
        let mut got: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
        let mut last_offset: HashMap<i32, i64> = HashMap::new();
        for r in &records {
            if let Some(&previous) = last_offset.get(&r.partition) {
                assert_eq!(r.offset, previous + 1, "offsets in order, no gap, partition {}", r.partition);
            }
            last_offset.insert(r.partition, r.offset);
            got.entry(r.partition).or_default().push(text(r).parse().unwrap());
        }
        assert_eq!(got, sent, "each partition holds its records once, in the order sent");
        consumer.commit_sync().await.unwrap();
        consumer.close().await.unwrap();
    });
}
