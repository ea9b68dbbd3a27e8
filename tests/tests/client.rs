//! End-to-end tests of `fastdata-client` (producer, consumer, groups, admin) against a real
//! `fastdata broker` process on a loopback address of its own, started through
//! `fastdata_tests::Broker`. No mocks: what these tests see is what an application using the
//! client would see.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
async fn poll_until(
    consumer: &mut Consumer,
    count: usize,
    timeout: Duration,
) -> Vec<ConsumerRecord> {
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
            let record = ProducerRecord::new("rt", format!("value-{i}"))
                .with_header("i", Some(i.to_string()));
            let record = if i % 2 == 0 {
                record.with_key(format!("key-{}", i % 10))
            } else {
                record
            };
            deliveries.push(producer.send(record).await.unwrap());
        }
        let mut placed = HashMap::new();
        for (i, d) in deliveries.into_iter().enumerate() {
            let m = d.await.unwrap();
            assert!(m.offset >= 0);
            if i % 2 == 0 {
                let key = format!("key-{}", i % 10);
                assert_eq!(
                    m.partition,
                    partition_for_key(key.as_bytes(), 4),
                    "keyed records land where a Java producer puts them"
                );
            }
            placed.insert(format!("value-{i}"), (m.partition, m.offset));
        }
        producer.close().await.unwrap();

        let mut consumer = Consumer::new(consumer_config(&broker.bootstrap(), None)).unwrap();
        consumer
            .assign((0..4).map(|p| TopicPartition::new("rt", p)))
            .unwrap();
        let records = poll_until(&mut consumer, 100, Duration::from_secs(10)).await;
        assert_eq!(records.len(), 100);
        for r in &records {
            let value = text(r);
            assert_eq!(placed[&value], (r.partition, r.offset), "{value}");
            let i: usize = value.trim_start_matches("value-").parse().unwrap();
            assert_eq!(r.headers[0].key, "i");
            assert_eq!(
                r.headers[0].value.as_deref(),
                Some(i.to_string().as_bytes())
            );
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
    admin
        .create_topic(NewTopic::new(name, partitions))
        .await
        .unwrap();
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
            let record =
                ProducerRecord::new("big", i.to_string()).with_key(format!("k{}", i % 5000));
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
                assert_eq!(
                    r.offset,
                    previous + 1,
                    "offsets in order, no gap, partition {}",
                    r.partition
                );
            }
            last_offset.insert(r.partition, r.offset);
            got.entry(r.partition)
                .or_default()
                .push(text(r).parse().unwrap());
        }
        assert_eq!(
            got, sent,
            "each partition holds its records once, in the order sent"
        );
        consumer.commit_sync().await.unwrap();
        consumer.close().await.unwrap();
    });
}

/// Produces `per_partition` records to each of `partitions` partitions of `topic` (value
/// `"<partition>:<n>"`), waiting for every acknowledgement.
async fn produce_each(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    range: std::ops::Range<usize>,
) {
    let producer = Producer::new(ProducerConfig::new(bootstrap)).unwrap();
    let mut deliveries = Vec::new();
    for p in 0..partitions {
        for n in range.clone() {
            let record = ProducerRecord::new(topic, format!("{p}:{n}")).with_partition(p);
            deliveries.push(producer.send(record).await.unwrap());
        }
    }
    for d in deliveries {
        d.await.unwrap();
    }
    producer.close().await.unwrap();
}

fn group_member(bootstrap: &str, group: &str, assignors: &[Assignor]) -> Consumer {
    Consumer::new(ConsumerConfig {
        partition_assignment_strategy: assignors.to_vec(),
        ..consumer_config(bootstrap, Some(group))
    })
    .unwrap()
}

/// Every (partition, offset) seen, failing on a duplicate.
fn record_all(seen: &mut BTreeSet<(i32, i64)>, records: &[ConsumerRecord]) {
    for r in records {
        assert!(
            seen.insert((r.partition, r.offset)),
            "{}-{} delivered twice",
            r.partition,
            r.offset
        );
    }
}

/// What a member task reports after each poll.
struct Polled {
    member: usize,
    records: Vec<ConsumerRecord>,
    assignment: Vec<TopicPartition>,
}

/// Runs a group member in a task of its own, as an application would: poll, commit, report,
/// until told to stop; hands the consumer back.
fn spawn_member(
    member: usize,
    mut consumer: Consumer,
    events: tokio::sync::mpsc::UnboundedSender<Polled>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Consumer> {
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let records = consumer.poll(Duration::from_millis(200)).await.unwrap();
            if let Err(e) = consumer.commit_sync().await {
                // A commit racing a rebalance may be refused; the rebalance commits first.
                assert_eq!(e.code(), Some(ErrorCode::REBALANCE_IN_PROGRESS), "{e}");
            }
            let assignment = consumer.assignment();
            if events
                .send(Polled {
                    member,
                    records,
                    assignment,
                })
                .is_err()
            {
                break;
            }
        }
        consumer
    })
}

/// Runs two members, each in its own task, until `done` holds for their latest assignments
/// and every record seen; then stops them and gives them back.
async fn run_pair(
    a: Consumer,
    b: Consumer,
    seen: &mut BTreeSet<(i32, i64)>,
    timeout: Duration,
    done: impl Fn(&[Vec<TopicPartition>; 2], &BTreeSet<(i32, i64)>) -> bool,
) -> (Consumer, Consumer) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let ha = spawn_member(0, a, tx.clone(), stop.clone());
    let hb = spawn_member(1, b, tx, stop.clone());
    let mut assignments = [Vec::new(), Vec::new()];
    let deadline = Instant::now() + timeout;
    while !done(&assignments, seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(polled)) = tokio::time::timeout(left, rx.recv()).await else {
            panic!("no progress: {assignments:?}, {} records seen", seen.len());
        };
        record_all(seen, &polled.records);
        assignments[polled.member] = polled.assignment;
    }
    stop.store(true, Ordering::Relaxed);
    drop(rx);
    (ha.await.unwrap(), hb.await.unwrap())
}

fn split_evenly(assignments: &[Vec<TopicPartition>; 2]) -> bool {
    let [x, y] = assignments;
    x.len() == 4 && y.len() == 4 && x.iter().all(|tp| !y.contains(tp))
}

fn group_scenario(name: &str, assignors: &[Assignor], leave: bool) {
    let broker = TestBroker::start(name, &[]);
    let bootstrap = broker.bootstrap();
    run(async {
        create_topic(&bootstrap, "split", 8).await;
        produce_each(&bootstrap, "split", 8, 0..50).await;
        let mut a = group_member(&bootstrap, "splitters", assignors);
        let mut b = group_member(&bootstrap, "splitters", assignors);
        a.subscribe(["split"]).unwrap();
        b.subscribe(["split"]).unwrap();
        let mut seen = BTreeSet::new();
        let (mut a, mut b) = run_pair(
            a,
            b,
            &mut seen,
            Duration::from_secs(30),
            |assignments, seen| split_evenly(assignments) && seen.len() == 400,
        )
        .await;
        let b_partitions = b.assignment();
        let committed = b.committed(&b_partitions).await.unwrap();
        for tp in &b_partitions {
            assert_eq!(
                committed[tp].as_ref().map(|o| o.offset),
                Some(50),
                "{tp} committed"
            );
        }

        let started = Instant::now();
        if leave {
            b.close().await.unwrap();
        } else {
            // Gone without a word (a crash): the coordinator expires it after the session.
            drop(b);
        }
        produce_each(&bootstrap, "split", 8, 50..100).await;
        let mut later = Vec::new();
        while a.assignment().len() < 8 || later.len() < 400 {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "survivor has {:?}",
                a.assignment()
            );
            let records = a.poll(Duration::from_millis(200)).await.unwrap();
            record_all(&mut seen, &records);
            later.extend(records);
            a.commit_sync().await.unwrap();
        }
        if !leave {
            assert!(
                started.elapsed() < Duration::from_millis(3000 + 5000),
                "took over within session.timeout.ms and a rebalance"
            );
        }
        assert_eq!(a.assignment().len(), 8);
        assert_eq!(seen.len(), 800, "nothing lost, nothing twice");
        // The survivor resumed the departed member's partitions at its committed offsets.
        for tp in &b_partitions {
            let first = later
                .iter()
                .filter(|r| r.partition == tp.partition)
                .map(|r| r.offset)
                .min();
            assert_eq!(first, Some(50), "{tp}");
        }
        a.close().await.unwrap();
    });
}

#[test]
fn two_members_split_eight_partitions_and_the_one_left_takes_all_from_committed_offsets() {
    group_scenario(
        "client-group-leave",
        &[Assignor::Range, Assignor::CooperativeSticky],
        true,
    );
}

#[test]
fn a_crashed_member_is_replaced_within_the_session_timeout() {
    group_scenario(
        "client-group-crash",
        &[Assignor::Range, Assignor::CooperativeSticky],
        false,
    );
}

#[test]
fn cooperative_sticky_members_split_and_rebalance_incrementally() {
    group_scenario(
        "client-group-cooperative",
        &[Assignor::CooperativeSticky],
        true,
    );
}

#[test]
fn roundrobin_members_split_and_rebalance() {
    group_scenario("client-group-roundrobin", &[Assignor::RoundRobin], true);
}

fn offsets_of(records: &[ConsumerRecord]) -> Vec<i64> {
    records.iter().map(|r| r.offset).collect()
}

#[test]
fn seek_position_and_commits_follow_the_java_semantics() {
    let broker = TestBroker::start("client-seek", &[]);
    let bootstrap = broker.bootstrap();
    run(async {
        create_topic(&bootstrap, "seek", 1).await;
        produce_each(&bootstrap, "seek", 1, 0..10).await;
        let tp = TopicPartition::new("seek", 0);

        // Commits only when asked (with auto-commit, close would commit the position).
        let mut c = Consumer::new(ConsumerConfig {
            enable_auto_commit: false,
            ..consumer_config(&bootstrap, Some("seekers"))
        })
        .unwrap();
        c.assign([tp.clone()]).unwrap();
        assert_eq!(
            c.position(&tp).await.unwrap(),
            0,
            "no commit: auto.offset.reset=earliest"
        );
        let records = poll_until(&mut c, 10, Duration::from_secs(10)).await;
        assert_eq!(offsets_of(&records), (0..10).collect::<Vec<_>>());
        assert_eq!(c.position(&tp).await.unwrap(), 10);
        assert_eq!(c.high_watermark(&tp), Some(10));

        let mut offsets = BTreeMap::new();
        offsets.insert(
            tp.clone(),
            OffsetAndMetadata {
                offset: 4,
                leader_epoch: None,
                metadata: "note".into(),
            },
        );
        c.commit_offsets_sync(offsets).await.unwrap();
        let committed = c.committed(std::slice::from_ref(&tp)).await.unwrap();
        assert_eq!(
            committed[&tp]
                .as_ref()
                .map(|o| (o.offset, o.metadata.as_str())),
            Some((4, "note"))
        );

        c.seek(&tp, 7).unwrap();
        assert_eq!(c.position(&tp).await.unwrap(), 7);
        assert_eq!(
            offsets_of(&poll_until(&mut c, 3, Duration::from_secs(10)).await),
            [7, 8, 9]
        );
        c.seek_to_beginning(std::slice::from_ref(&tp)).unwrap();
        assert_eq!(
            offsets_of(&poll_until(&mut c, 10, Duration::from_secs(10)).await)[0],
            0
        );
        c.seek_to_end(std::slice::from_ref(&tp)).unwrap();
        assert_eq!(c.position(&tp).await.unwrap(), 10);

        // An asynchronous commit, awaited.
        c.seek(&tp, 6).unwrap();
        c.commit_async().await.unwrap();
        assert_eq!(
            c.committed(std::slice::from_ref(&tp)).await.unwrap()[&tp]
                .as_ref()
                .map(|o| o.offset),
            Some(6)
        );

        // A position outside the log is reset by auto.offset.reset.
        c.seek(&tp, 1000).unwrap();
        let records = poll_until(&mut c, 10, Duration::from_secs(10)).await;
        assert_eq!(
            records.first().map(|r| r.offset),
            Some(0),
            "reset to earliest after OFFSET_OUT_OF_RANGE"
        );
        c.close().await.unwrap();

        // A new member of the group starts at the committed offset.
        let mut c = Consumer::new(consumer_config(&bootstrap, Some("seekers"))).unwrap();
        c.assign([tp.clone()]).unwrap();
        assert_eq!(c.position(&tp).await.unwrap(), 6);
        assert_eq!(
            offsets_of(&poll_until(&mut c, 4, Duration::from_secs(10)).await),
            [6, 7, 8, 9]
        );
        c.close().await.unwrap();

        // auto.offset.reset=none with nothing committed is an error the caller sees.
        let mut c = Consumer::new(ConsumerConfig {
            auto_offset_reset: OffsetReset::None,
            ..consumer_config(&bootstrap, Some("strict"))
        })
        .unwrap();
        c.assign([tp.clone()]).unwrap();
        let err = c.poll(Duration::from_secs(2)).await.unwrap_err();
        assert!(
            matches!(err, Error::NoOffsetForPartition { partition: 0, .. }),
            "{err}"
        );
        // And reset=latest starts after what is there.
        let mut c = Consumer::new(ConsumerConfig {
            auto_offset_reset: OffsetReset::Latest,
            ..consumer_config(&bootstrap, None)
        })
        .unwrap();
        c.assign([tp.clone()]).unwrap();
        assert_eq!(c.position(&tp).await.unwrap(), 10);
        assert!(c.commit_sync().await.is_err(), "no group id, no commits");
    });
}

#[test]
fn admin_manages_topics_configs_partitions_and_groups() {
    let broker = TestBroker::start("client-admin", &[]);
    let bootstrap = broker.bootstrap();
    run(async {
        let admin = admin(&bootstrap);
        let created = admin
            .create_topic(
                NewTopic::new("managed", 3)
                    .with_config("retention.ms", "1000000")
                    .with_config("cleanup.policy", "compact"),
            )
            .await
            .unwrap();
        assert_eq!(created.partitions, 3);
        let again = admin
            .create_topic(NewTopic::new("managed", 3))
            .await
            .unwrap_err();
        assert_eq!(
            again.code(),
            Some(ErrorCode::TOPIC_ALREADY_EXISTS),
            "{again}"
        );
        let bad = admin
            .create_topic(NewTopic::new("bad/name", 1))
            .await
            .unwrap_err();
        assert!(bad.code().is_some(), "{bad}");

        let listed = admin.list_topics(false).await.unwrap();
        let managed = listed.iter().find(|t| t.name == "managed").expect("listed");
        assert_eq!(managed.partitions, 3);
        assert!(
            !managed.topic_id.is_nil(),
            "Metadata v10+ carries topic ids"
        );

        let described = admin
            .describe_topics(&["managed", "missing"])
            .await
            .unwrap();
        let d = described["managed"].as_ref().unwrap();
        assert_eq!(d.partitions.len(), 3);
        assert!(d.partitions.iter().all(|p| p.leader == 0 && p.isr == [0]));
        let config = |d: &fastdata_client::admin::TopicDescription, key: &str| {
            d.configs
                .iter()
                .find(|c| c.name == key)
                .cloned()
                .unwrap_or_else(|| panic!("{key} described"))
        };
        let retention = config(d, "retention.ms");
        assert_eq!(retention.value.as_deref(), Some("1000000"));
        assert!(retention.is_topic_override());
        assert_eq!(
            config(d, "cleanup.policy").value.as_deref(),
            Some("compact")
        );
        assert_eq!(
            described["missing"].as_ref().unwrap_err().code(),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        );

        admin
            .alter_topic_configs(
                "managed",
                &[
                    AlterConfigOp::Set("retention.ms".into(), "2000000".into()),
                    AlterConfigOp::Delete("cleanup.policy".into()),
                ],
            )
            .await
            .unwrap();
        let configs = admin.describe_topic_configs("managed").await.unwrap();
        let get = |key: &str| configs.iter().find(|c| c.name == key).cloned().unwrap();
        assert_eq!(get("retention.ms").value.as_deref(), Some("2000000"));
        assert_eq!(get("cleanup.policy").value.as_deref(), Some("delete"));
        assert!(!get("cleanup.policy").is_topic_override());

        admin.create_partitions("managed", 5).await.unwrap();
        let described = admin.describe_topics(&["managed"]).await.unwrap();
        assert_eq!(described["managed"].as_ref().unwrap().partitions.len(), 5);

        // A group with committed offsets and lag.
        produce_each(&bootstrap, "managed", 5, 0..10).await;
        let mut c = group_member(&bootstrap, "admin-group", &[Assignor::Range]);
        c.subscribe(["managed"]).unwrap();
        let records = poll_until(&mut c, 50, Duration::from_secs(10)).await;
        assert_eq!(records.len(), 50);
        let mut offsets = BTreeMap::new();
        for p in 0..5 {
            offsets.insert(TopicPartition::new("managed", p), OffsetAndMetadata::new(7));
        }
        c.commit_offsets_sync(offsets).await.unwrap();
        let groups = admin.list_groups().await.unwrap();
        let g = groups
            .iter()
            .find(|g| g.group_id == "admin-group")
            .expect("listed");
        assert_eq!(g.protocol_type, "consumer");
        let described = admin.describe_groups(&["admin-group"]).await.unwrap();
        let d = described["admin-group"].as_ref().unwrap();
        assert_eq!((d.state.as_str(), d.protocol.as_str()), ("Stable", "range"));
        assert_eq!(d.members.len(), 1);
        assert_eq!(d.members[0].assignment.len(), 5);
        let lag = admin.list_group_offsets("admin-group").await.unwrap();
        assert_eq!(lag.len(), 5);
        for o in &lag {
            assert_eq!(
                (o.committed, o.log_end_offset, o.lag),
                (Some(7), Some(10), Some(3)),
                "{o:?}"
            );
        }
        c.close().await.unwrap();
        let described = admin.describe_groups(&["admin-group"]).await.unwrap();
        assert_eq!(described["admin-group"].as_ref().unwrap().state, "Empty");

        let deleted = admin.delete_topics(&["managed", "missing"]).await.unwrap();
        assert!(deleted["managed"].is_ok());
        assert_eq!(
            deleted["missing"].as_ref().unwrap_err().code(),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        );
        assert!(!admin
            .list_topics(false)
            .await
            .unwrap()
            .iter()
            .any(|t| t.name == "managed"));
        admin.close();
    });
}

#[test]
fn acks_and_codecs_all_round_trip() {
    let broker = TestBroker::start("client-acks", &[]);
    let bootstrap = broker.bootstrap();
    run(async {
        create_topic(&bootstrap, "acks", 1).await;
        let mut expected = Vec::new();
        for (acks, compression) in [
            (Acks::None, Compression::None),
            (Acks::Leader, Compression::Gzip),
            (Acks::Leader, Compression::Snappy),
            (Acks::All, Compression::Zstd),
            (Acks::All, Compression::Lz4),
        ] {
            let producer = Producer::new(ProducerConfig {
                acks,
                compression,
                enable_idempotence: acks == Acks::All,
                ..ProducerConfig::new(&bootstrap)
            })
            .unwrap();
            let mut deliveries = Vec::new();
            for i in 0..20 {
                let value = format!("{acks:?}-{compression:?}-{i}");
                expected.push(value.clone());
                deliveries.push(
                    producer
                        .send(ProducerRecord::new("acks", value))
                        .await
                        .unwrap(),
                );
            }
            for d in deliveries {
                let m = d.await.unwrap();
                if acks == Acks::None {
                    assert_eq!(m.offset, -1, "acks=0 reports no offset");
                } else {
                    assert!(m.offset >= 0);
                }
            }
            producer.close().await.unwrap();
        }
        let mut c = Consumer::new(consumer_config(&bootstrap, None)).unwrap();
        c.assign([TopicPartition::new("acks", 0)]).unwrap();
        let records = poll_until(&mut c, expected.len(), Duration::from_secs(10)).await;
        assert_eq!(records.iter().map(text).collect::<Vec<_>>(), expected);
    });
}

#[test]
fn an_idempotent_producer_rides_out_a_broker_restart_without_duplicates() {
    let mut broker = TestBroker::start("client-restart", &[]);
    let bootstrap = broker.bootstrap();
    run(async {
        create_topic(&bootstrap, "durable", 2).await;
        let producer = Producer::new(ProducerConfig {
            linger_ms: 1,
            request_timeout_ms: 3000,
            delivery_timeout_ms: 60_000,
            ..ProducerConfig::new(&bootstrap)
        })
        .unwrap();
        let mut deliveries = Vec::new();
        for i in 0..2000 {
            if i == 1000 {
                tokio::task::block_in_place(|| {
                    broker.broker.kill().unwrap();
                    broker.broker.restart().unwrap();
                });
            }
            deliveries.push(
                producer
                    .send(
                        ProducerRecord::new("durable", i.to_string()).with_key((i % 7).to_string()),
                    )
                    .await
                    .unwrap(),
            );
        }
        let mut acked = BTreeMap::new();
        for (i, d) in deliveries.into_iter().enumerate() {
            let m = d.await.unwrap_or_else(|e| panic!("record {i}: {e}"));
            acked.insert(i, (m.partition, m.offset));
        }
        producer.close().await.unwrap();
        let mut c = Consumer::new(consumer_config(&bootstrap, None)).unwrap();
        c.assign([
            TopicPartition::new("durable", 0),
            TopicPartition::new("durable", 1),
        ])
        .unwrap();
        let records = poll_until(&mut c, 2000, Duration::from_secs(20)).await;
        let extra = c.poll(Duration::from_millis(500)).await.unwrap();
        let mut seen = BTreeMap::new();
        for r in records.iter().chain(&extra) {
            let i: usize = text(r).parse().unwrap();
            assert!(
                seen.insert(i, (r.partition, r.offset)).is_none(),
                "record {i} is in the log twice"
            );
        }
        assert_eq!(
            seen, acked,
            "every acknowledged record, where it was acknowledged"
        );
    });
}

#[test]
fn fetch_limits_smaller_than_a_batch_still_make_progress() {
    // KIP-74: the broker returns the first batch whole even when it exceeds the limits, and
    // the consumer drops partial batches at the end of an answer.
    let broker = TestBroker::start("client-small-fetch", &[]);
    let bootstrap = broker.bootstrap();
    run(async {
        create_topic(&bootstrap, "small", 1).await;
        let producer = Producer::new(ProducerConfig {
            linger_ms: 50,
            ..ProducerConfig::new(&bootstrap)
        })
        .unwrap();
        let mut deliveries = Vec::new();
        for i in 0..500 {
            deliveries.push(
                producer
                    .send(ProducerRecord::new("small", format!("{i:0>100}")))
                    .await
                    .unwrap(),
            );
        }
        for d in deliveries {
            d.await.unwrap();
        }
        producer.close().await.unwrap();
        let mut c = Consumer::new(ConsumerConfig {
            fetch_max_bytes: 64,
            max_partition_fetch_bytes: 64,
            ..consumer_config(&bootstrap, None)
        })
        .unwrap();
        c.assign([TopicPartition::new("small", 0)]).unwrap();
        let records = poll_until(&mut c, 500, Duration::from_secs(20)).await;
        assert_eq!(offsets_of(&records), (0..500).collect::<Vec<_>>());
    });
}
