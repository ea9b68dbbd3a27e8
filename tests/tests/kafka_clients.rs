//! The broker against real third-party Kafka clients: Debian's kcat (librdkafka 2.0.2, with its
//! old version probing), confluent-kafka (the librdkafka in its wheel) and kafka-python; our own
//! client (fastdata-client) joins them in the matrix of who reads whose records.
//!
//! Each test starts its own broker on a loopback address of its own (port 0), with the
//! rebalance delay at 0, and drives the clients through `fastdata_tests::clients` (installed by
//! `bash scripts/setup.sh --test`; a missing client fails the test, naming that command). What
//! they show, for every client: keyed and unkeyed records, in lz4 and one more codec (gzip,
//! snappy and zstd across the clients), idempotence on and acks=all, are acknowledged, stored in
//! the codec they came in and read back intact by every client, ours included (values with
//! spaces, quotes and multi-byte UTF-8, keys, headers); a consumer group of two rebalances when a member leaves and
//! the survivor resumes from the committed offsets; a consumer with a group resumes after what it
//! committed. And `kcat -L` shows the advertised broker and the topics.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fastdata_client::consumer::{Consumer, ConsumerConfig, OffsetReset};
use fastdata_client::producer::{
    parse_compression, Acks, Producer, ProducerConfig, ProducerRecord,
};
use fastdata_client::types::TopicPartition;
use fastdata_tests::clients::{
    wait_for_members, Clients, Compression, Consumed, Delivered, GroupMember, KafkaClient,
    MemberEvent, Record, CLIENT_TIMEOUT,
};
use fastdata_tests::{loopback_host, Broker, DataDir};

use KafkaClient::{ConfluentKafka, KafkaPython, Kcat};

/// How long a group may take to settle after a member joins or leaves: a heartbeat interval
/// (a sixth of the 6 s session timeout) to notice, then the join and sync rounds; for a killed
/// member, the session timeout first.
const REBALANCE_TIMEOUT: Duration = Duration::from_secs(20);

/// Partitions of every topic the tests create (by producing to it).
const PARTITIONS: i32 = 3;

/// A client of the matrix: a third-party one (a process), or ours (fastdata-client, in this
/// process, on a runtime of its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    Third(KafkaClient),
    Fastdata,
}

impl Client {
    const ALL: [Client; 4] = [
        Client::Third(Kcat),
        Client::Third(ConfluentKafka),
        Client::Third(KafkaPython),
        Client::Fastdata,
    ];

    fn name(self) -> &'static str {
        match self {
            Client::Third(client) => client.name(),
            Client::Fastdata => "fastdata-client",
        }
    }

    fn headers_per_record(self) -> bool {
        match self {
            Client::Third(client) => client.headers_per_record(),
            Client::Fastdata => true,
        }
    }

    /// Produces `records` (idempotence on, acks=all, batches in `codec`): where each went.
    fn produce(
        self,
        clients: &Clients,
        topic: &str,
        codec: Compression,
        records: &[Record],
    ) -> anyhow::Result<Vec<Delivered>> {
        let Client::Third(client) = self else {
            return runtime().block_on(our_produce(clients.bootstrap(), topic, codec, records));
        };
        clients.produce(client, topic, codec, records)
    }

    /// Reads `n` records of `topic` (all its partitions, from the beginning, no group).
    fn consume(self, clients: &Clients, topic: &str, n: usize) -> anyhow::Result<Vec<Consumed>> {
        let Client::Third(client) = self else {
            return runtime().block_on(our_consume(clients.bootstrap(), topic, n));
        };
        clients.consume(client, topic, None, n)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn our_produce(
    bootstrap: &str,
    topic: &str,
    codec: Compression,
    records: &[Record],
) -> anyhow::Result<Vec<Delivered>> {
    let producer = Producer::new(ProducerConfig {
        compression: parse_compression(codec.name())?,
        acks: Acks::All,
        enable_idempotence: true,
        request_timeout_ms: 10_000,
        delivery_timeout_ms: 30_000,
        ..ProducerConfig::new(bootstrap)
    })?;
    let mut deliveries = Vec::new();
    for r in records {
        let mut record = ProducerRecord::new(topic, Bytes::new());
        record.key = r.key.clone().map(Bytes::from);
        record.value = r.value.clone().map(Bytes::from);
        for (name, value) in &r.headers {
            record = record.with_header(name.clone(), Some(value.clone()));
        }
        deliveries.push(producer.send(record).await?);
    }
    let mut delivered = Vec::new();
    for d in deliveries {
        let m = d.await?;
        delivered.push(Delivered {
            partition: m.partition,
            offset: m.offset,
        });
    }
    producer.close().await?;
    Ok(delivered)
}

async fn our_consume(bootstrap: &str, topic: &str, n: usize) -> anyhow::Result<Vec<Consumed>> {
    let mut consumer = Consumer::new(ConsumerConfig {
        auto_offset_reset: OffsetReset::Earliest,
        fetch_max_wait_ms: 100,
        ..ConsumerConfig::new(bootstrap)
    })?;
    consumer.assign((0..PARTITIONS).map(|p| TopicPartition::new(topic, p)))?;
    let text = |b: Option<&Bytes>| b.map(|b| String::from_utf8_lossy(b).into_owned());
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let mut consumed = Vec::new();
    while consumed.len() < n && Instant::now() < deadline {
        for r in consumer.poll(Duration::from_millis(200)).await? {
            consumed.push(Consumed {
                partition: r.partition,
                offset: r.offset,
                record: Record {
                    key: text(r.key.as_ref()),
                    value: text(r.value.as_ref()),
                    headers: r
                        .headers
                        .iter()
                        .map(|h| (h.key.clone(), text(h.value.as_ref()).unwrap_or_default()))
                        .collect(),
                },
            });
        }
    }
    consumer.close().await?;
    Ok(consumed)
}

fn start_broker(dir: &DataDir, partitions: i32) -> Broker {
    Broker::builder(dir)
        .host(loopback_host())
        .config("group.initial.rebalance.delay.ms", "0")
        .config("num.partitions", partitions.to_string())
        .start()
        .unwrap()
}

/// `n` records written by `writer`: half keyed (five keys, so each key has several records),
/// half unkeyed; values with spaces, quotes, a backslash and multi-byte UTF-8 (no newline and,
/// unkeyed, no ':', which kcat's input format cannot carry) and a compressible tail (a client
/// may send a batch uncompressed when compressing does not shrink it, as kafka-python does);
/// headers where the client can put them on each record.
fn records(writer: Client, tag: &str, n: usize) -> Vec<Record> {
    let tail = "0123456789".repeat(10);
    (0..n)
        .map(|i| {
            let key = format!("{}-{tag}-key{}", writer.name(), i % 5);
            let value = format!(
                "{} {tag} #{i} \"quoted\" back\\slash ünïcødé € 🦀 {tail}",
                writer.name()
            );
            let record = Record::new((i % 2 == 0).then_some(key.as_str()), &value)
                .header("writer", writer.name());
            if writer.headers_per_record() {
                record.header("seq", &i.to_string())
            } else {
                record
            }
        })
        .collect()
}

/// The codecs of the record batches in a partition's segment files, read from the broker's data
/// dir (Kafka's layout: `<topic>-<partition>/<base offset>.log`, record batches v2, the codec in
/// bits 0-2 of the attributes at byte 21 of each batch).
fn stored_codecs(data_dir: &Path, topic: &str, partition: i32) -> Vec<u8> {
    let dir = data_dir.join(format!("{topic}-{partition}"));
    let mut segments: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("reading {}: {err}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    segments.sort();
    let mut codecs = Vec::new();
    for segment in segments {
        let bytes = fs::read(&segment).unwrap();
        let mut at = 0;
        while at + 23 <= bytes.len() {
            let length = i32::from_be_bytes(bytes[at + 8..at + 12].try_into().unwrap());
            assert_eq!(
                bytes[at + 16],
                2,
                "magic of the batch at byte {at} of {segment:?}"
            );
            codecs.push(bytes[at + 22] & 0x07);
            at += 12 + usize::try_from(length).unwrap();
        }
    }
    codecs
}

/// Checks that `consumed` is exactly `produced` (as `delivered` says it was written), each record
/// intact and at its offset, and that each key stayed in one partition, in order.
fn assert_read_intact(
    reader: Client,
    writer: Client,
    produced: &[Record],
    delivered: &[Delivered],
    consumed: &[Consumed],
) {
    let context = format!("{} reading what {} wrote", reader.name(), writer.name());
    assert_eq!(
        consumed.len(),
        produced.len(),
        "{context}: {} records instead of {}: {consumed:#?}",
        consumed.len(),
        produced.len()
    );
    let got: BTreeMap<Delivered, &Record> = consumed
        .iter()
        .map(|c| {
            let at = Delivered {
                partition: c.partition,
                offset: c.offset,
            };
            (at, &c.record)
        })
        .collect();
    assert_eq!(
        got.len(),
        consumed.len(),
        "{context}: an offset read twice: {consumed:#?}"
    );
    if writer == Client::Third(Kcat) {
        // kcat's delivery reports do not say which record went where: compare as sets.
        let want: BTreeSet<&Record> = produced.iter().collect();
        let have: BTreeSet<&Record> = got.values().copied().collect();
        assert_eq!(have, want, "{context}: records differ");
        let at: BTreeSet<&Delivered> = delivered.iter().collect();
        assert_eq!(
            got.keys().collect::<BTreeSet<_>>(),
            at,
            "{context}: offsets differ"
        );
    } else {
        for (record, at) in produced.iter().zip(delivered) {
            assert_eq!(
                got.get(at).copied(),
                Some(record),
                "{context}: the record acknowledged at {at:?} does not read back intact"
            );
        }
    }
    let mut partition_of_key: BTreeMap<&str, i32> = BTreeMap::new();
    for c in consumed {
        if let Some(key) = &c.record.key {
            let p = *partition_of_key.entry(key).or_insert(c.partition);
            assert_eq!(p, c.partition, "{context}: key {key} is in two partitions");
        }
    }
}

/// `writer` produces to two topics (lz4 and `other` codec); every client reads both back.
fn records_are_read_intact_by_every_client(writer: Client, other: Compression) {
    let dir = DataDir::new(&format!("clients-from-{}", writer.name())).unwrap();
    let broker = start_broker(&dir, PARTITIONS);
    let clients = Clients::new(broker.bootstrap(), &dir);
    for codec in [Compression::Lz4, other] {
        let topic = format!("from-{}-{}", writer.name(), codec.name());
        let produced = records(writer, codec.name(), 24);
        let delivered = writer.produce(&clients, &topic, codec, &produced).unwrap();
        for partition in 0..PARTITIONS {
            let codecs = stored_codecs(&broker.data_dir(), &topic, partition);
            assert!(
                codecs.iter().all(|&c| c == codec.attribute()),
                "{topic}-{partition}: {} sent {} batches, stored with codecs {codecs:?}",
                writer.name(),
                codec.name()
            );
        }
        thread::scope(|s| {
            let readers: Vec<_> = Client::ALL
                .iter()
                .map(|&reader| {
                    let (clients, topic, n) = (&clients, &topic, produced.len());
                    s.spawn(move || (reader, reader.consume(clients, topic, n)))
                })
                .collect();
            for reader in readers {
                let (reader, consumed) = reader.join().unwrap();
                let consumed = consumed.unwrap();
                assert_read_intact(reader, writer, &produced, &delivered, &consumed);
            }
        });
    }
}

#[test]
fn records_from_kcat_are_read_intact_by_every_client() {
    records_are_read_intact_by_every_client(Client::Third(Kcat), Compression::Gzip);
}

#[test]
fn records_from_confluent_kafka_are_read_intact_by_every_client() {
    records_are_read_intact_by_every_client(Client::Third(ConfluentKafka), Compression::Zstd);
}

#[test]
fn records_from_kafka_python_are_read_intact_by_every_client() {
    records_are_read_intact_by_every_client(Client::Third(KafkaPython), Compression::Snappy);
}

#[test]
fn records_from_our_client_are_read_intact_by_every_client() {
    records_are_read_intact_by_every_client(Client::Fastdata, Compression::Snappy);
}

/// The records of `member` that it read after its last assignment event that contained
/// `partition`, per partition: the first offset it read there.
fn first_offsets_after_takeover(member: &GroupMember) -> BTreeMap<i32, i64> {
    let last_assignment = member
        .events()
        .iter()
        .rposition(|e| matches!(e, MemberEvent::Assignment(_)))
        .unwrap_or(0);
    let mut first = BTreeMap::new();
    for event in &member.events()[last_assignment..] {
        if let MemberEvent::Record(c) = event {
            first.entry(c.partition).or_insert(c.offset);
        }
    }
    first
}

fn owns(member: &GroupMember, partitions: &[i32]) -> bool {
    member.assignment() == Some(partitions)
}

/// How the second member of a group goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leave {
    /// SIGTERM: it commits what it read and sends LeaveGroup.
    Clean,
    /// SIGKILL: the group notices when its session times out; what it read after its last
    /// commit is read again.
    Killed,
}

/// Two members of one group (both `client`) on a 4-partition topic: the second joining splits
/// the partitions, the second leaving (`how`) gives them all back to the first, which resumes
/// each of the leaver's partitions at the offset the leaver committed: nothing lost, and
/// nothing read again that was committed.
/// Most rounds of records written after a member leaves (see below).
const AFTER_ROUNDS: usize = 8;

fn group_rebalances_when_a_member_leaves(client: KafkaClient, how: Leave) {
    const GROUP_PARTITIONS: i32 = 4;
    let all: Vec<i32> = (0..GROUP_PARTITIONS).collect();
    let dir = DataDir::new(&format!("clients-group-{}-{how:?}", client.name())).unwrap();
    let broker = start_broker(&dir, GROUP_PARTITIONS);
    let clients = Clients::new(broker.bootstrap(), &dir);
    let topic = "group-topic";
    let group = format!("group-of-{}", client.name());

    let mut produced = records(Client::Third(client), "before", 40);
    clients
        .produce(client, topic, Compression::Lz4, &produced)
        .unwrap();
    let mut a = clients.member(client, topic, &group).unwrap();
    wait_for_members(
        &mut [&mut a],
        REBALANCE_TIMEOUT,
        "the first member owns all",
        |m| owns(m[0], &all) && m[0].records().len() >= 40,
    )
    .unwrap();

    let mut b = clients.member(client, topic, &group).unwrap();
    wait_for_members(
        &mut [&mut a, &mut b],
        REBALANCE_TIMEOUT,
        "the second member joins and the partitions are split",
        |m| {
            let (a, b) = (m[0].assignment(), m[1].assignment());
            match (a, b) {
                (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => {
                    let mut both: Vec<i32> = a.iter().chain(b).copied().collect();
                    both.sort_unstable();
                    both == all
                }
                _ => false,
            }
        },
    )
    .unwrap();
    let b_owned = b.assignment().unwrap().to_vec();

    let during = records(Client::Third(client), "during", 40);
    clients
        .produce(client, topic, Compression::Lz4, &during)
        .unwrap();
    produced.extend(during);
    let values_seen = |members: &[&mut GroupMember]| -> BTreeSet<String> {
        members
            .iter()
            .flat_map(|m| m.records())
            .filter_map(|c| c.record.value.clone())
            .collect()
    };
    let want: BTreeSet<String> = produced.iter().filter_map(|r| r.value.clone()).collect();
    wait_for_members(
        &mut [&mut a, &mut b],
        REBALANCE_TIMEOUT,
        "the two members read the new records",
        |m| values_seen(m).is_superset(&want),
    )
    .unwrap();
    b.poll().unwrap();
    assert!(
        !b.records().is_empty(),
        "the second member read nothing of its partitions {b_owned:?}"
    );

    match how {
        Leave::Clean => b.stop().unwrap(),
        Leave::Killed => b.kill().unwrap(),
    }
    // What the leaver is known to have committed, and the offset after the last record it read.
    let b_committed = b.committed();
    let mut b_read_to: BTreeMap<i32, i64> = BTreeMap::new();
    for c in b.records() {
        let next = b_read_to.entry(c.partition).or_insert(0);
        *next = (*next).max(c.offset + 1);
    }
    wait_for_members(
        &mut [&mut a],
        REBALANCE_TIMEOUT,
        "the first member owns all partitions again",
        |m| owns(m[0], &all),
    )
    .unwrap();
    // Records after the leave, in rounds until one lands on a partition the leaver had
    // committed (each round's keys differ, and keyless batches go where the sticky partitioner
    // picks), so that the resumption below has a partition to check.
    let mut want: BTreeSet<String> = BTreeSet::new();
    for round in 0..AFTER_ROUNDS {
        let after = records(Client::Third(client), &format!("after{round}"), 40);
        clients
            .produce(client, topic, Compression::Lz4, &after)
            .unwrap();
        produced.extend(after);
        want = produced.iter().filter_map(|r| r.value.clone()).collect();
        wait_for_members(
            &mut [&mut a, &mut b],
            REBALANCE_TIMEOUT,
            "the survivor reads the records written after the leave",
            |m| values_seen(m).is_superset(&want) || !owns(m[0], &all),
        )
        .unwrap();
        let resumed = first_offsets_after_takeover(&a);
        if b_committed.keys().any(|p| resumed.contains_key(p)) || !owns(&a, &all) {
            break;
        }
    }
    assert!(
        owns(&a, &all),
        "the survivor lost partitions: {:?}",
        a.events()
    );

    // Nothing lost: every record was read by one of them.
    let seen = values_seen(&[&mut a, &mut b]);
    let missing: Vec<&String> = want.difference(&seen).collect();
    assert!(missing.is_empty(), "records never read: {missing:#?}");

    // The survivor resumed each partition the leaver had at what the leaver committed. The
    // leaver committed everything it read before closing (what a failed commit covered excepted),
    // so a record below that offset read again would mean the commit was lost or ignored, and a
    // first offset above it would be a gap.
    let resumed = first_offsets_after_takeover(&a);
    let mut checked = 0;
    for p in &b_owned {
        let Some(&committed) = b_committed.get(p) else {
            continue;
        };
        if let Some(&first) = resumed.get(p) {
            let read_to = b_read_to.get(p).copied().unwrap_or(committed);
            match how {
                Leave::Clean => assert_eq!(
                    first, committed,
                    "partition {p}: the survivor resumed at offset {first}, but the leaver had \
                     committed {committed} when it left (below: duplicates of committed records; \
                     above: a gap)"
                ),
                // A commit may have reached the broker without the killed member printing it:
                // the survivor may start anywhere from the last commit it printed to the end of
                // what it read; records in between are read twice, as they were not committed.
                Leave::Killed => assert!(
                    (committed..=read_to).contains(&first),
                    "partition {p}: the survivor resumed at offset {first}; the killed member had \
                     committed {committed} and read up to {read_to} (below the commit: \
                     duplicates of committed records; above what it read: a gap)"
                ),
            }
            checked += 1;
        }
    }
    assert!(
        checked > 0,
        "no partition of the leaver ({b_owned:?}, committed {b_committed:?}) got records after \
         the takeover, so the resumption was not checked (resumed at {resumed:?})"
    );
}

#[test]
fn kcat_group_rebalances_when_a_member_leaves_and_resumes_from_commits() {
    group_rebalances_when_a_member_leaves(Kcat, Leave::Clean);
}

#[test]
fn confluent_kafka_group_rebalances_when_a_member_leaves_and_resumes_from_commits() {
    group_rebalances_when_a_member_leaves(ConfluentKafka, Leave::Clean);
}

#[test]
fn kafka_python_group_rebalances_when_a_member_leaves_and_resumes_from_commits() {
    group_rebalances_when_a_member_leaves(KafkaPython, Leave::Clean);
}

// kcat prints none of its commits, so what a killed kcat had committed is unknown: only the
// Python members are killed.

#[test]
fn confluent_kafka_group_takes_over_a_killed_members_partitions_from_its_commits() {
    group_rebalances_when_a_member_leaves(ConfluentKafka, Leave::Killed);
}

#[test]
fn kafka_python_group_takes_over_a_killed_members_partitions_from_its_commits() {
    group_rebalances_when_a_member_leaves(KafkaPython, Leave::Killed);
}

/// A consumer with a group that stops after 4 of 10 records commits them; the next consumer of
/// the group starts at the fifth.
fn consumer_resumes_after_what_its_group_committed(client: KafkaClient) {
    let dir = DataDir::new(&format!("clients-resume-{}", client.name())).unwrap();
    let broker = start_broker(&dir, 1);
    let clients = Clients::new(broker.bootstrap(), &dir);
    let topic = "resume";
    let produced = records(Client::Third(client), "resume", 10);
    clients
        .produce(client, topic, Compression::Lz4, &produced)
        .unwrap();
    let first = clients.consume(client, topic, Some("resumers"), 4).unwrap();
    let offsets: Vec<i64> = first.iter().map(|c| c.offset).collect();
    assert_eq!(offsets, [0, 1, 2, 3], "{first:#?}");
    let rest = clients.consume(client, topic, Some("resumers"), 6).unwrap();
    let offsets: Vec<i64> = rest.iter().map(|c| c.offset).collect();
    assert_eq!(
        offsets,
        [4, 5, 6, 7, 8, 9],
        "the second consumer of the group did not start after the 4 committed records: {rest:#?}"
    );
    let values: Vec<&Record> = first.iter().chain(&rest).map(|c| &c.record).collect();
    assert_eq!(values, produced.iter().collect::<Vec<_>>());
}

#[test]
fn kcat_consumer_resumes_after_what_its_group_committed() {
    consumer_resumes_after_what_its_group_committed(Kcat);
}

#[test]
fn confluent_kafka_consumer_resumes_after_what_its_group_committed() {
    consumer_resumes_after_what_its_group_committed(ConfluentKafka);
}

#[test]
fn kafka_python_consumer_resumes_after_what_its_group_committed() {
    consumer_resumes_after_what_its_group_committed(KafkaPython);
}

/// One group of a kcat, a confluent-kafka and a kafka-python member (each naming the range
/// assignor as Kafka does): whichever leads, the assignment it computes reaches the others
/// through the broker, every partition has one owner and every record is read.
#[test]
fn one_group_mixes_kcat_confluent_kafka_and_kafka_python_members() {
    const GROUP_PARTITIONS: i32 = 6;
    let all: Vec<i32> = (0..GROUP_PARTITIONS).collect();
    let dir = DataDir::new("clients-group-mixed").unwrap();
    let broker = start_broker(&dir, GROUP_PARTITIONS);
    let clients = Clients::new(broker.bootstrap(), &dir);
    let produced = records(Client::Third(ConfluentKafka), "mixed", 60);
    clients
        .produce(ConfluentKafka, "mixed", Compression::Lz4, &produced)
        .unwrap();
    let mut members: Vec<GroupMember> = KafkaClient::ALL
        .iter()
        .map(|&client| clients.member(client, "mixed", "mixed-group").unwrap())
        .collect();
    let want: BTreeSet<String> = produced.iter().filter_map(|r| r.value.clone()).collect();
    let mut refs: Vec<&mut GroupMember> = members.iter_mut().collect();
    wait_for_members(
        &mut refs,
        REBALANCE_TIMEOUT,
        "the three members split the partitions and read every record",
        |m| {
            let mut owned: Vec<i32> = Vec::new();
            for member in m {
                match member.assignment() {
                    Some(p) if !p.is_empty() => owned.extend(p),
                    _ => return false,
                }
            }
            owned.sort_unstable();
            let seen: BTreeSet<String> = m
                .iter()
                .flat_map(|member| member.records())
                .filter_map(|c| c.record.value.clone())
                .collect();
            owned == all && seen.is_superset(&want)
        },
    )
    .unwrap();
    for member in refs.iter_mut() {
        member.stop().unwrap();
    }
}

/// What our consumer, as a group member in a thread of its own, has seen.
#[derive(Default)]
struct OurMember {
    assignment: Vec<i32>,
    values: BTreeSet<String>,
}

/// One group of our consumer (range and cooperative-sticky, our default), a confluent-kafka
/// and a kafka-python member (range and roundrobin, theirs): the broker picks range, the one
/// they share; whichever member leads, every partition has one owner and every record is read.
#[test]
fn one_group_mixes_our_consumer_with_librdkafka_and_kafka_python_members() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    const GROUP_PARTITIONS: i32 = 6;
    let all: Vec<i32> = (0..GROUP_PARTITIONS).collect();
    let dir = DataDir::new("clients-group-mixed-ours").unwrap();
    let broker = start_broker(&dir, GROUP_PARTITIONS);
    let clients = Clients::new(broker.bootstrap(), &dir);
    let produced = records(Client::Third(KafkaPython), "mixed-ours", 60);
    clients
        .produce(KafkaPython, "mixed-ours", Compression::Gzip, &produced)
        .unwrap();

    let ours = Arc::new(Mutex::new(OurMember::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (ours, stop, bootstrap) = (ours.clone(), stop.clone(), broker.bootstrap());
        thread::spawn(move || {
            runtime().block_on(async move {
                let mut consumer = Consumer::new(ConsumerConfig {
                    group_id: Some("mixed-ours-group".into()),
                    auto_offset_reset: OffsetReset::Earliest,
                    session_timeout_ms: 6000,
                    heartbeat_interval_ms: 500,
                    ..ConsumerConfig::new(bootstrap)
                })
                .unwrap();
                consumer.subscribe(["mixed-ours"]).unwrap();
                while !stop.load(Ordering::SeqCst) {
                    let records = consumer.poll(Duration::from_millis(200)).await.unwrap();
                    let mut state = ours.lock().unwrap();
                    state.assignment = consumer
                        .assignment()
                        .iter()
                        .map(|tp| tp.partition)
                        .collect();
                    for r in records {
                        state.values.insert(
                            String::from_utf8_lossy(&r.value.unwrap_or_default()).into_owned(),
                        );
                    }
                }
                consumer.close().await.unwrap();
            })
        })
    };
    let mut members: Vec<GroupMember> = [ConfluentKafka, KafkaPython]
        .iter()
        .map(|&client| {
            clients
                .member(client, "mixed-ours", "mixed-ours-group")
                .unwrap()
        })
        .collect();
    let want: BTreeSet<String> = produced.iter().filter_map(|r| r.value.clone()).collect();
    let mut refs: Vec<&mut GroupMember> = members.iter_mut().collect();
    let result = wait_for_members(
        &mut refs,
        REBALANCE_TIMEOUT,
        "our consumer and the two others split the partitions and read every record",
        |m| {
            let state = ours.lock().unwrap();
            if state.assignment.is_empty() {
                return false;
            }
            let mut owned = state.assignment.clone();
            let mut seen = state.values.clone();
            for member in m {
                match member.assignment() {
                    Some(p) if !p.is_empty() => owned.extend(p),
                    _ => return false,
                }
                seen.extend(
                    member
                        .records()
                        .iter()
                        .filter_map(|c| c.record.value.clone()),
                );
            }
            owned.sort_unstable();
            owned == all && seen.is_superset(&want)
        },
    );
    stop.store(true, Ordering::SeqCst);
    thread.join().unwrap();
    for member in refs.iter_mut() {
        member.stop().unwrap();
    }
    result.unwrap();
}

#[test]
fn kcat_lists_the_advertised_broker_and_the_topics() {
    let dir = DataDir::new("clients-kcat-list").unwrap();
    let broker = start_broker(&dir, PARTITIONS);
    let clients = Clients::new(broker.bootstrap(), &dir);
    for topic in ["listed-a", "listed-b"] {
        clients
            .produce(Kcat, topic, Compression::None, &[Record::new(None, "x")])
            .unwrap();
    }
    let listing = clients.kcat(&["-L"]).unwrap().join("\n");
    let broker_line = format!("broker 0 at {}", broker.bootstrap());
    assert!(
        listing.contains(&broker_line),
        "no `{broker_line}` in:\n{listing}"
    );
    for topic in ["listed-a", "listed-b"] {
        let line = format!("topic \"{topic}\" with {PARTITIONS} partitions:");
        assert!(listing.contains(&line), "no `{line}` in:\n{listing}");
    }
    for p in 0..PARTITIONS {
        let line = format!("partition {p}, leader 0, replicas: 0, isrs: 0");
        assert!(listing.contains(&line), "no `{line}` in:\n{listing}");
    }
}

/// librdkafka 2.0.2 enables features by matching single API versions in the broker's
/// ApiVersions answer: without Produce v0-2 it sends uncompressed batches, without JoinGroup
/// (and friends) v0 it has no consumer groups. kcat must end up with all it needs, and its lz4
/// batch must reach the disk as lz4. (MsgVer1 and ThrottleTime stay off: they need Fetch v2,
/// below the broker's Fetch 4-12, and MsgVer2 supersedes them.)
#[test]
fn kcat_on_librdkafka_2_0_2_enables_compression_groups_and_idempotence() {
    let dir = DataDir::new("clients-kcat-features").unwrap();
    let broker = start_broker(&dir, 1);
    let clients = Clients::new(broker.bootstrap(), &dir);
    let input = dir.join("lz4-input");
    // Compressible: librdkafka sends a batch uncompressed when compressing does not shrink it.
    let value = format!("compressed value {}", "0123456789".repeat(10));
    fs::write(&input, format!("k:{value}\n")).unwrap();
    let input = input.to_string_lossy().into_owned();
    let output = clients
        .kcat(&[
            "-P",
            "-t",
            "lz4-topic",
            "-z",
            "lz4",
            "-K",
            ":",
            "-d",
            "broker,feature,protocol",
            "-X",
            "enable.idempotence=true",
            "-l",
            &input,
        ])
        .unwrap()
        .join("\n");
    // librdkafka logs `Enabling feature X` / `Disabling feature X` for each broker connection
    // once the ApiVersions answer is in.
    let changed = |verb: &str| -> BTreeSet<&str> {
        output
            .lines()
            .filter_map(|l| l.split_once(verb).map(|(_, f)| f.trim()))
            .collect()
    };
    let (enabled, disabled) = (changed("Enabling feature "), changed("Disabling feature "));
    for feature in [
        "ApiVersion",
        "MsgVer2",
        "LZ4",
        "ZSTD",
        "BrokerBalancedConsumer",
        "BrokerGroupCoordinator",
        "IdempotentProducer",
        "OffsetTime",
    ] {
        assert!(
            enabled.contains(feature) && !disabled.contains(feature),
            "librdkafka 2.0.2 did not enable {feature} (enabled {enabled:?}, disabled \
             {disabled:?}):\n{output}"
        );
    }
    assert!(
        !output.contains("not compressing"),
        "kcat fell back to uncompressed batches:\n{output}"
    );
    assert_eq!(
        stored_codecs(&broker.data_dir(), "lz4-topic", 0),
        [Compression::Lz4.attribute()],
        "the lz4 batch is not stored as lz4"
    );
    let consumed = clients.consume(Kcat, "lz4-topic", None, 1).unwrap();
    assert_eq!(
        consumed.first().map(|c| &c.record),
        Some(&Record::new(Some("k"), &value))
    );
}

/// The value of the Prometheus sample `name` (with its labels, as printed) in `metrics`.
fn metric(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// A broker crash as a kcat user sees it: what was acknowledged before the SIGKILL is there
/// after the restart, on the same bootstrap address, with offsets continuing; a clean stop
/// (SIGTERM) exits 0.
#[test]
fn kcat_finds_its_records_at_the_same_address_after_the_broker_is_killed_and_restarted() {
    let dir = DataDir::new("clients-kcat-restart").unwrap();
    let mut broker = start_broker(&dir, 1);
    let bootstrap = broker.bootstrap();
    let clients = Clients::new(&bootstrap, &dir);
    let before = records(Client::Third(Kcat), "before-crash", 5);
    let delivered = clients
        .produce(Kcat, "durable", Compression::Lz4, &before)
        .unwrap();
    let produces = metric(
        &broker.metrics().unwrap(),
        "fastdata_kafka_requests_total{api=\"Produce\"}",
    );
    assert!(
        produces.is_some_and(|n| n >= 1.0),
        "the broker's metrics count no Produce request: {produces:?}"
    );

    broker.kill().unwrap();
    broker.restart().unwrap();
    assert_eq!(broker.bootstrap(), bootstrap);
    let consumed = clients.consume(Kcat, "durable", None, 5).unwrap();
    assert_read_intact(
        Client::Third(Kcat),
        Client::Third(Kcat),
        &before,
        &delivered,
        &consumed,
    );
    let after = clients
        .produce(
            Kcat,
            "durable",
            Compression::Lz4,
            &[Record::new(None, "after the crash")],
        )
        .unwrap();
    assert_eq!(
        after,
        [Delivered {
            partition: 0,
            offset: 5
        }],
        "offsets do not continue after the restart"
    );
    broker.terminate().unwrap();
}
