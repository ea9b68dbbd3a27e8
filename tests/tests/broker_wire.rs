//! Wire-level tests of `fastdata broker`: raw TCP, requests framed by our protocol crate
//! (`encode_request` / `decode_response`), batches from `fastdata_log::batch::BatchBuilder`,
//! against a real broker process started through `fastdata_tests::Broker`.
//!
//! What a client would notice, without any client library's retries or workarounds in between:
//! idempotent produce (duplicates, sequence gaps, stale epochs, producer ids across restarts),
//! what bad input gets (an error code or a closed connection, nothing appended, the broker still
//! serving others), pipelining and acks=0, and Fetch's long poll and KIP-74.
//!
//! Every test starts its own broker on a loopback address of its own.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use fastdata_log::batch::{split_batches, BatchBuilder, Compression};
use fastdata_protocol::kafka::{
    decode_response, encode_request, FrameDecoder, Request, RequestBody, ResponseBody,
};
use fastdata_protocol::kafka_protocol::messages::create_topics_request::{
    CreatableTopic, CreatableTopicConfig,
};
use fastdata_protocol::kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use fastdata_protocol::kafka_protocol::messages::fetch_response::PartitionData;
use fastdata_protocol::kafka_protocol::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsTopic,
};
use fastdata_protocol::kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use fastdata_protocol::kafka_protocol::messages::produce_request::{
    PartitionProduceData, TopicProduceData,
};
use fastdata_protocol::kafka_protocol::messages::produce_response::PartitionProduceResponse;
use fastdata_protocol::kafka_protocol::messages::*;
use fastdata_protocol::kafka_protocol::protocol::StrBytes;
use fastdata_tests::{loopback_host, Broker, DataDir};

/// How long any one read or write on a test connection may block.
const IO_TIMEOUT: Duration = Duration::from_secs(15);

/// Largest response frame a test accepts.
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// Peak resident memory the broker may reach in these tests (a debug build serving a few
/// requests needs some tens of MiB).
const BROKER_PEAK_RSS_LIMIT_BYTES: u64 = 256 << 20;

// Kafka error codes the tests expect.
const NONE: i16 = 0;
const OFFSET_OUT_OF_RANGE: i16 = 1;
const CORRUPT_MESSAGE: i16 = 2;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const MESSAGE_TOO_LARGE: i16 = 10;
const INVALID_TOPIC_EXCEPTION: i16 = 17;
const INVALID_REQUIRED_ACKS: i16 = 21;
const UNSUPPORTED_VERSION: i16 = 35;
const UNSUPPORTED_FOR_MESSAGE_FORMAT: i16 = 43;
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const INVALID_RECORD: i16 = 87;

// The versions the tests speak (all served, see protocol/src/kafka/versions.rs).
const PRODUCE_VERSION: i16 = 9;
const FETCH_VERSION: i16 = 12;
const LIST_OFFSETS_VERSION: i16 = 7;
const METADATA_VERSION: i16 = 12;
const CREATE_TOPICS_VERSION: i16 = 5;
const INIT_PRODUCER_ID_VERSION: i16 = 4;
const API_VERSIONS_VERSION: i16 = 3;

fn start_broker(dir: &DataDir) -> Broker {
    Broker::builder(dir)
        .host(loopback_host())
        .start()
        .expect("broker starts")
}

/// One client connection speaking raw Kafka frames.
struct Connection {
    stream: TcpStream,
    buf: BytesMut,
    next_correlation_id: i32,
    /// Requests sent and not yet answered: (correlation id, api, version).
    pending: VecDeque<(i32, ApiKey, i16)>,
}

impl Connection {
    fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Connection {
            stream,
            buf: BytesMut::new(),
            next_correlation_id: 1,
            pending: VecDeque::new(),
        }
    }

    /// The frame of the next request (correlation ids count up), recorded as pending: write it
    /// with [`Connection::write`], alone or with others.
    fn frame(&mut self, version: i16, body: RequestBody) -> (i32, Bytes) {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id += 1;
        let api_key = body.api_key();
        let frame = encode_request(&Request {
            api_key,
            api_version: version,
            correlation_id,
            client_id: Some(StrBytes::from_static_str("broker-wire-test")),
            body,
        })
        .expect("request encodes");
        self.pending.push_back((correlation_id, api_key, version));
        (correlation_id, frame)
    }

    fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the broker");
    }

    /// Sends one request; returns its correlation id.
    fn send(&mut self, version: i16, body: RequestBody) -> i32 {
        let (correlation_id, frame) = self.frame(version, body);
        self.write(&frame);
        correlation_id
    }

    /// The next response frame's payload, or `None` if the broker closed the connection.
    fn read_frame(&mut self) -> Option<Bytes> {
        let decoder = FrameDecoder::new(MAX_RESPONSE_BYTES);
        loop {
            if let Some(frame) = decoder
                .decode(&mut self.buf)
                .expect("a valid response frame")
            {
                return Some(frame);
            }
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    assert!(
                        self.buf.is_empty(),
                        "connection closed inside a response frame"
                    );
                    return None;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("reading a response: {e} (no response within {IO_TIMEOUT:?}?)"),
            }
        }
    }

    /// The next response, decoded for the pending request it names: (correlation id, body).
    fn receive(&mut self) -> (i32, ResponseBody) {
        let frame = self
            .read_frame()
            .expect("a response, not a closed connection");
        let correlation_id = i32::from_be_bytes(frame[..4].try_into().unwrap());
        let position = self
            .pending
            .iter()
            .position(|(id, _, _)| *id == correlation_id)
            .unwrap_or_else(|| panic!("response to unknown correlation id {correlation_id}"));
        let (_, api_key, version) = self.pending.remove(position).unwrap();
        let (decoded_id, body) =
            decode_response(api_key, version, frame).expect("a well-formed response");
        assert_eq!(decoded_id, correlation_id);
        (correlation_id, body)
    }

    /// Sends one request and returns its response.
    fn call(&mut self, version: i16, body: RequestBody) -> ResponseBody {
        let correlation_id = self.send(version, body);
        let (answered, body) = self.receive();
        assert_eq!(answered, correlation_id, "a response to another request");
        body
    }

    /// Asserts that the broker closes the connection without sending anything (more).
    fn assert_closed_by_broker(&mut self, what: &str) {
        let mut rest = Vec::new();
        loop {
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => rest.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
                Err(e) => panic!("{what}: the broker kept the connection open ({e})"),
            }
        }
        assert!(
            rest.is_empty() && self.buf.is_empty(),
            "{what}: the broker answered {} bytes before closing",
            rest.len() + self.buf.len()
        );
    }
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

/// CreateTopics of one topic; returns its error code.
fn create_topic(
    conn: &mut Connection,
    name: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> i16 {
    let body = CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(topic_name(name))
            .with_num_partitions(partitions)
            .with_replication_factor(1)
            .with_configs(
                configs
                    .iter()
                    .map(|(key, value)| {
                        CreatableTopicConfig::default()
                            .with_name(StrBytes::from_string((*key).to_owned()))
                            .with_value(Some(StrBytes::from_string((*value).to_owned())))
                    })
                    .collect(),
            )]);
    let ResponseBody::CreateTopics(response) =
        conn.call(CREATE_TOPICS_VERSION, RequestBody::CreateTopics(body))
    else {
        unreachable!("decoded for CreateTopics")
    };
    assert_eq!(response.topics.len(), 1, "{response:?}");
    let result = &response.topics[0];
    assert_eq!(result.name.as_str(), name);
    result.error_code
}

fn create_ok(conn: &mut Connection, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    assert_eq!(
        create_topic(conn, name, partitions, configs),
        NONE,
        "create {name}"
    );
}

fn produce_request(topic: &str, partition: i32, acks: i16, records: Bytes) -> RequestBody {
    RequestBody::Produce(
        ProduceRequest::default()
            .with_acks(acks)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic_name(topic))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(records))])]),
    )
}

/// Produce of one record set to one partition; returns the partition's answer.
fn produce(
    conn: &mut Connection,
    topic: &str,
    partition: i32,
    acks: i16,
    records: Bytes,
) -> PartitionProduceResponse {
    let ResponseBody::Produce(response) = conn.call(
        PRODUCE_VERSION,
        produce_request(topic, partition, acks, records),
    ) else {
        unreachable!("decoded for Produce")
    };
    assert_eq!(response.responses.len(), 1, "{response:?}");
    let topic_response = &response.responses[0];
    assert_eq!(topic_response.name.as_str(), topic);
    assert_eq!(topic_response.partition_responses.len(), 1, "{response:?}");
    let answer = topic_response.partition_responses[0].clone();
    assert_eq!(answer.index, partition);
    answer
}

/// A plain batch of `count` records with `value_bytes`-byte values.
fn batch(count: usize, value_bytes: usize) -> Bytes {
    let mut builder = BatchBuilder::new(Compression::None);
    fill(&mut builder, count, value_bytes);
    builder.build().unwrap()
}

/// An idempotent producer's batch of `count` records.
fn idempotent_batch(producer_id: i64, epoch: i16, base_sequence: i32, count: usize) -> Bytes {
    let mut builder =
        BatchBuilder::new(Compression::None).producer(producer_id, epoch, base_sequence);
    fill(&mut builder, count, 16);
    builder.build().unwrap()
}

fn fill(builder: &mut BatchBuilder, count: usize, value_bytes: usize) {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for i in 0..count {
        let key = format!("key-{i}");
        let value = vec![b'a' + (i % 26) as u8; value_bytes];
        builder.append(now_ms, Some(key.as_bytes()), Some(&value), &[]);
    }
}

/// The partition's latest offset (ListOffsets, timestamp -1): its log end on a single broker.
fn log_end_offset(conn: &mut Connection, topic: &str, partition: i32) -> i64 {
    let body = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(partition)
                .with_timestamp(-1)])]);
    let ResponseBody::ListOffsets(response) =
        conn.call(LIST_OFFSETS_VERSION, RequestBody::ListOffsets(body))
    else {
        unreachable!("decoded for ListOffsets")
    };
    let answer = &response.topics[0].partitions[0];
    assert_eq!(answer.error_code, NONE, "ListOffsets {topic}-{partition}");
    answer.offset
}

fn fetch_request(
    topic: &str,
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
    min_bytes: i32,
    partition_max_bytes: i32,
) -> RequestBody {
    RequestBody::Fetch(
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(max_wait_ms)
            .with_min_bytes(min_bytes)
            .with_max_bytes(partition_max_bytes)
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(topic_name(topic))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(partition)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(partition_max_bytes)])]),
    )
}

/// Fetch of one partition; returns its answer.
fn fetch(
    conn: &mut Connection,
    topic: &str,
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
    partition_max_bytes: i32,
) -> PartitionData {
    let body = fetch_request(
        topic,
        partition,
        offset,
        max_wait_ms,
        1,
        partition_max_bytes,
    );
    fetched_partition(conn.call(FETCH_VERSION, body))
}

fn fetched_partition(body: ResponseBody) -> PartitionData {
    let ResponseBody::Fetch(response) = body else {
        unreachable!("decoded for Fetch")
    };
    assert_eq!(response.error_code, NONE, "{response:?}");
    assert_eq!(response.responses.len(), 1, "{response:?}");
    assert_eq!(response.responses[0].partitions.len(), 1, "{response:?}");
    response.responses[0].partitions[0].clone()
}

fn init_producer_id(
    conn: &mut Connection,
    transactional_id: Option<&str>,
) -> InitProducerIdResponse {
    let body = InitProducerIdRequest::default()
        .with_transactional_id(
            transactional_id.map(|id| TransactionalId(StrBytes::from_string(id.to_owned()))),
        )
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let ResponseBody::InitProducerId(response) =
        conn.call(INIT_PRODUCER_ID_VERSION, RequestBody::InitProducerId(body))
    else {
        unreachable!("decoded for InitProducerId")
    };
    response
}

/// A new producer id and its epoch.
fn new_producer(conn: &mut Connection) -> (i64, i16) {
    let response = init_producer_id(conn, None);
    assert_eq!(response.error_code, NONE, "{response:?}");
    assert!(response.producer_id.0 >= 0, "{response:?}");
    (response.producer_id.0, response.producer_epoch)
}

/// The broker answers ApiVersions and Metadata on a fresh connection.
fn assert_still_serving(broker: &Broker) {
    let mut conn = Connection::open(broker.kafka_addr());
    let ResponseBody::ApiVersions(versions) = conn.call(
        API_VERSIONS_VERSION,
        RequestBody::ApiVersions(ApiVersionsRequest::default()),
    ) else {
        unreachable!("decoded for ApiVersions")
    };
    assert_eq!(versions.error_code, NONE);
    assert!(!versions.api_keys.is_empty());
    let ResponseBody::Metadata(metadata) = conn.call(
        METADATA_VERSION,
        RequestBody::Metadata(MetadataRequest::default().with_topics(None)),
    ) else {
        unreachable!("decoded for Metadata")
    };
    assert_eq!(metadata.brokers.len(), 1, "{metadata:?}");
}

/// A frame with this exact payload (any bytes after the length prefix).
fn raw_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = (payload.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(payload);
    frame
}

/// Request header v1 (non-flexible): api key, version, correlation id, null client id.
fn header_v1(api_key: i16, version: i16, correlation_id: i32) -> BytesMut {
    let mut buf = BytesMut::new();
    buf.put_i16(api_key);
    buf.put_i16(version);
    buf.put_i32(correlation_id);
    buf.put_i16(-1);
    buf
}

/// Peak resident memory of process `pid` (VmHWM in `/proc/<pid>/status`).
fn peak_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

// ---- Idempotent producer ----

#[test]
fn duplicate_batch_is_stored_once_and_both_answers_carry_its_base_offset() {
    let dir = DataDir::new("wire-duplicate").unwrap();
    let broker = start_broker(&dir);
    let mut conn = Connection::open(broker.kafka_addr());
    create_ok(&mut conn, "dup", 1, &[]);
    // Two plain records first, so the idempotent batch does not start at offset 0.
    assert_eq!(
        produce(&mut conn, "dup", 0, -1, batch(2, 10)).error_code,
        NONE
    );

    let (producer_id, epoch) = new_producer(&mut conn);
    let records = idempotent_batch(producer_id, epoch, 0, 3);
    let first = produce(&mut conn, "dup", 0, -1, records.clone());
    assert_eq!(first.error_code, NONE, "{first:?}");
    assert_eq!(first.base_offset, 2);
    let retry = produce(&mut conn, "dup", 0, -1, records);
    assert_eq!(
        retry.error_code, NONE,
        "a duplicate is acknowledged: {retry:?}"
    );
    assert_eq!(retry.base_offset, first.base_offset, "the original offset");
    assert_eq!(log_end_offset(&mut conn, "dup", 0), 5, "stored once");

    // The producer continues where it was.
    let next = produce(
        &mut conn,
        "dup",
        0,
        -1,
        idempotent_batch(producer_id, epoch, 3, 1),
    );
    assert_eq!((next.error_code, next.base_offset), (NONE, 5));
}

#[test]
fn sequence_gap_is_out_of_order_sequence_number_and_appends_nothing() {
    let dir = DataDir::new("wire-gap").unwrap();
    let broker = start_broker(&dir);
    let mut conn = Connection::open(broker.kafka_addr());
    create_ok(&mut conn, "gap", 1, &[]);
    let (producer_id, epoch) = new_producer(&mut conn);
    let first = produce(
        &mut conn,
        "gap",
        0,
        -1,
        idempotent_batch(producer_id, epoch, 0, 3),
    );
    assert_eq!(first.error_code, NONE, "{first:?}");
    // Sequences 0..=2 are written; 5 leaves a gap.
    let gap = produce(
        &mut conn,
        "gap",
        0,
        -1,
        idempotent_batch(producer_id, epoch, 5, 1),
    );
    assert_eq!(gap.error_code, OUT_OF_ORDER_SEQUENCE_NUMBER, "{gap:?}");
    assert_eq!(log_end_offset(&mut conn, "gap", 0), 3);
    // The expected sequence is still accepted.
    let next = produce(
        &mut conn,
        "gap",
        0,
        -1,
        idempotent_batch(producer_id, epoch, 3, 1),
    );
    assert_eq!((next.error_code, next.base_offset), (NONE, 3));
}

#[test]
fn older_epoch_after_a_newer_one_is_fenced_with_invalid_producer_epoch() {
    let dir = DataDir::new("wire-fenced").unwrap();
    let broker = start_broker(&dir);
    let mut conn = Connection::open(broker.kafka_addr());
    create_ok(&mut conn, "fence", 1, &[]);
    let (producer_id, epoch) = new_producer(&mut conn);
    let old = produce(
        &mut conn,
        "fence",
        0,
        -1,
        idempotent_batch(producer_id, epoch, 0, 2),
    );
    assert_eq!(old.error_code, NONE, "{old:?}");
    // A newer instance of the producer (its epoch bumped) starts at sequence 0.
    let newer = produce(
        &mut conn,
        "fence",
        0,
        -1,
        idempotent_batch(producer_id, epoch + 1, 0, 1),
    );
    assert_eq!(
        (newer.error_code, newer.base_offset),
        (NONE, 2),
        "{newer:?}"
    );
    // The old instance, continuing its own sequence, is fenced (Kafka 2.7+ answers a produce
    // with INVALID_PRODUCER_EPOCH, KIP-588; PRODUCER_FENCED is for InitProducerId and
    // transactions).
    let stale = produce(
        &mut conn,
        "fence",
        0,
        -1,
        idempotent_batch(producer_id, epoch, 2, 1),
    );
    assert_eq!(stale.error_code, INVALID_PRODUCER_EPOCH, "{stale:?}");
    assert_eq!(log_end_offset(&mut conn, "fence", 0), 3);
}

#[test]
fn producer_ids_are_never_reused_across_restarts() {
    let dir = DataDir::new("wire-producer-ids").unwrap();
    let mut broker = start_broker(&dir);
    let mut ids = Vec::new();
    let take = |broker: &Broker, ids: &mut Vec<i64>| {
        let mut conn = Connection::open(broker.kafka_addr());
        for _ in 0..3 {
            ids.push(new_producer(&mut conn).0);
        }
    };
    take(&broker, &mut ids);
    broker.terminate().unwrap(); // SIGTERM: a clean shutdown
    broker.restart().unwrap();
    take(&broker, &mut ids);
    broker.kill().unwrap(); // SIGKILL: a crash
    broker.restart().unwrap();
    take(&broker, &mut ids);
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "an id was handed out twice: {ids:?}"
    );
    // Each run's ids come after every earlier run's.
    for run in 1..3 {
        let before = ids[..3 * run].iter().max().unwrap();
        let after = ids[3 * run..3 * run + 3].iter().min().unwrap();
        assert!(after > before, "run {run} went back: {ids:?}");
    }
}

// ---- Bad input ----

/// Runs `bad` on a fresh connection against a broker with topic `t` holding one record, then
/// checks that nothing was appended to `t` and that the broker serves another client.
fn with_one_record_topic(name: &str, bad: impl FnOnce(&mut Connection)) {
    let dir = DataDir::new(name).unwrap();
    let broker = start_broker(&dir);
    let mut setup = Connection::open(broker.kafka_addr());
    create_ok(&mut setup, "t", 1, &[]);
    assert_eq!(
        produce(&mut setup, "t", 0, -1, batch(1, 10)).error_code,
        NONE
    );
    let mut conn = Connection::open(broker.kafka_addr());
    bad(&mut conn);
    assert_eq!(log_end_offset(&mut setup, "t", 0), 1, "nothing appended");
    assert_still_serving(&broker);
}

#[test]
fn oversized_frame_length_closes_the_connection() {
    with_one_record_topic("wire-oversized", |conn| {
        // 200 MiB announced (socket.request.max.bytes is 100 MiB), and a produce header.
        let mut bytes = (200i32 << 20).to_be_bytes().to_vec();
        bytes.extend_from_slice(&header_v1(0, 3, 1));
        conn.write(&bytes);
        conn.assert_closed_by_broker("a 200 MiB frame length");
    });
}

#[test]
fn a_non_produce_frame_over_its_limit_closes_the_connection_before_it_is_read() {
    with_one_record_topic("wire-nonproduce-limit", |conn| {
        // 2 MiB announced for a Metadata request (nonproduce.request.max.bytes is 1 MiB): the
        // broker closes on the header alone, without waiting for the body.
        let mut bytes = (2i32 << 20).to_be_bytes().to_vec();
        bytes.extend_from_slice(&header_v1(3, 12, 1));
        conn.write(&bytes);
        conn.assert_closed_by_broker("a 2 MiB Metadata frame");
    });
}

#[test]
fn negative_frame_length_closes_the_connection() {
    with_one_record_topic("wire-negative", |conn| {
        conn.write(&(-5i32).to_be_bytes());
        conn.assert_closed_by_broker("a negative frame length");
    });
}

#[test]
fn truncated_produce_frame_then_close_appends_nothing() {
    with_one_record_topic("wire-truncated", |conn| {
        let (_, frame) = conn.frame(PRODUCE_VERSION, produce_request("t", 0, -1, batch(5, 100)));
        conn.write(&frame[..frame.len() - 20]);
        conn.stream.shutdown(Shutdown::Write).unwrap();
        conn.assert_closed_by_broker("a truncated frame and end of stream");
    });
}

#[test]
fn garbage_bytes_close_the_connection() {
    // An HTTP request (its first 4 bytes read as a 1.1 GB length).
    with_one_record_topic("wire-garbage-http", |conn| {
        conn.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        conn.assert_closed_by_broker("an HTTP request");
    });
    // A well-framed Produce header followed by garbage where the body should be.
    with_one_record_topic("wire-garbage-body", |conn| {
        let mut payload = header_v1(0, 7, 1);
        payload.put_slice(&[0xff, 0x13, 0x37, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef, 0x42]);
        conn.write(&raw_frame(&payload));
        conn.assert_closed_by_broker("a produce frame with a garbage body");
    });
}

#[test]
fn unknown_api_key_closes_the_connection() {
    with_one_record_topic("wire-unknown-key", |conn| {
        // 1000 is no API; 17 (SaslHandshake) is one the broker does not serve.
        let mut payload = header_v1(1000, 0, 1);
        payload.put_slice(b"whatever");
        conn.write(&raw_frame(&payload));
        conn.assert_closed_by_broker("api key 1000");
    });
    with_one_record_topic("wire-unserved-key", |conn| {
        let mut payload = header_v1(17, 1, 1);
        payload.put_slice(&[0x00, 0x05]);
        payload.put_slice(b"PLAIN");
        conn.write(&raw_frame(&payload));
        conn.assert_closed_by_broker("SaslHandshake");
    });
}

#[test]
fn unsupported_version_of_produce_closes_the_connection() {
    with_one_record_topic("wire-produce-v2", |conn| {
        // Produce v2 (message sets v0/v1): advertised from 0 for librdkafka, served from 3.
        let mut payload = header_v1(0, 2, 1);
        payload.put_i16(-1);
        payload.put_i32(30_000);
        payload.put_i32(0);
        conn.write(&raw_frame(&payload));
        conn.assert_closed_by_broker("Produce v2");
    });
}

#[test]
fn unsupported_api_versions_version_is_answered_with_35_and_the_key_list() {
    with_one_record_topic("wire-api-versions-v4", |conn| {
        for (correlation_id, version) in [(7, 4), (8, i16::MAX)] {
            // ApiVersions at a version the broker does not serve (kafka-python 3 starts at
            // v4), with a header and body it must not try to parse.
            let mut payload = BytesMut::new();
            payload.put_i16(ApiKey::ApiVersions as i16);
            payload.put_i16(version);
            payload.put_i32(correlation_id);
            payload.put_slice(&[0x00, 0x00, 0x00, 0x03, 0x61, 0x62, 0x00, 0xfe]);
            conn.write(&raw_frame(&payload));
            let frame = conn
                .read_frame()
                .expect("an answer, not a closed connection");
            // The answer is a v0 body whatever the request's version.
            let (answered, body) =
                decode_response(ApiKey::ApiVersions, 0, frame).expect("a v0 ApiVersions body");
            assert_eq!(answered, correlation_id);
            let ResponseBody::ApiVersions(response) = body else {
                unreachable!("decoded for ApiVersions")
            };
            assert_eq!(response.error_code, UNSUPPORTED_VERSION);
            let api_versions = response
                .api_keys
                .iter()
                .find(|key| key.api_key == ApiKey::ApiVersions as i16)
                .expect("ApiVersions in the key list");
            assert_eq!((api_versions.min_version, api_versions.max_version), (0, 3));
            assert!(response.api_keys.len() >= 20, "{response:?}");
        }
        // The connection goes on: the client retries at a version from the list.
        let ResponseBody::ApiVersions(response) = conn.call(
            API_VERSIONS_VERSION,
            RequestBody::ApiVersions(ApiVersionsRequest::default()),
        ) else {
            unreachable!("decoded for ApiVersions")
        };
        assert_eq!(response.error_code, NONE);
    });
}

#[test]
fn corrupt_crc_is_corrupt_message() {
    with_one_record_topic("wire-crc", |conn| {
        let mut corrupt = batch(3, 50).to_vec();
        let last = corrupt.len() - 1;
        corrupt[last] ^= 0x01;
        let answer = produce(conn, "t", 0, -1, Bytes::from(corrupt));
        assert_eq!(answer.error_code, CORRUPT_MESSAGE, "{answer:?}");
    });
}

#[test]
fn batch_over_max_message_bytes_is_message_too_large() {
    let dir = DataDir::new("wire-too-large").unwrap();
    let broker = start_broker(&dir);
    let mut conn = Connection::open(broker.kafka_addr());
    create_ok(&mut conn, "small", 1, &[("max.message.bytes", "2048")]);
    let fits = produce(&mut conn, "small", 0, -1, batch(1, 1000));
    assert_eq!(fits.error_code, NONE, "{fits:?}");
    let too_large = batch(1, 4000);
    assert!(too_large.len() > 2048);
    let answer = produce(&mut conn, "small", 0, -1, too_large);
    assert_eq!(answer.error_code, MESSAGE_TOO_LARGE, "{answer:?}");
    assert_eq!(log_end_offset(&mut conn, "small", 0), 1, "nothing appended");
    assert_still_serving(&broker);
}

#[test]
fn invalid_topic_names_are_invalid_topic_exception_in_create_topics_and_metadata() {
    let dir = DataDir::new("wire-topic-names").unwrap();
    let broker = start_broker(&dir);
    let mut conn = Connection::open(broker.kafka_addr());
    let too_long = "x".repeat(250);
    let invalid = [
        "",
        ".",
        "..",
        "has space",
        "slash/ed",
        "bang!",
        too_long.as_str(),
    ];
    for name in invalid {
        assert_eq!(
            create_topic(&mut conn, name, 1, &[]),
            INVALID_TOPIC_EXCEPTION,
            "CreateTopics {name:?}"
        );
    }
    // Metadata with auto-creation on: each invalid name gets the error, none is created.
    let body = MetadataRequest::default()
        .with_allow_auto_topic_creation(true)
        .with_topics(Some(
            invalid[1..]
                .iter()
                .map(|name| MetadataRequestTopic::default().with_name(Some(topic_name(name))))
                .collect(),
        ));
    let ResponseBody::Metadata(metadata) = conn.call(METADATA_VERSION, RequestBody::Metadata(body))
    else {
        unreachable!("decoded for Metadata")
    };
    assert_eq!(metadata.topics.len(), invalid.len() - 1, "{metadata:?}");
    for topic in &metadata.topics {
        assert_eq!(topic.error_code, INVALID_TOPIC_EXCEPTION, "{topic:?}");
    }
    let ResponseBody::Metadata(all) = conn.call(
        METADATA_VERSION,
        RequestBody::Metadata(MetadataRequest::default().with_topics(None)),
    ) else {
        unreachable!("decoded for Metadata")
    };
    assert!(all.topics.is_empty(), "no topic was created: {all:?}");
    // A valid name next to them works.
    create_ok(&mut conn, "valid.name_with-all-3", 1, &[]);
}

#[test]
fn unknown_partition_is_unknown_topic_or_partition() {
    with_one_record_topic("wire-unknown-partition", |conn| {
        let answer = produce(conn, "t", 3, -1, batch(1, 10));
        assert_eq!(answer.error_code, UNKNOWN_TOPIC_OR_PARTITION, "{answer:?}");
        let fetched = fetch(conn, "t", 3, 0, 0, 1 << 20);
        assert_eq!(
            fetched.error_code, UNKNOWN_TOPIC_OR_PARTITION,
            "{fetched:?}"
        );
    });
}

#[test]
fn fetch_beyond_the_log_end_is_offset_out_of_range() {
    with_one_record_topic("wire-out-of-range", |conn| {
        let fetched = fetch(conn, "t", 0, 5, 0, 1 << 20);
        assert_eq!(fetched.error_code, OFFSET_OUT_OF_RANGE, "{fetched:?}");
        // At the log end itself: no error, nothing to return.
        let at_end = fetch(conn, "t", 0, 1, 0, 1 << 20);
        assert_eq!(at_end.error_code, NONE, "{at_end:?}");
        assert_eq!(at_end.high_watermark, 1);
    });
}

#[test]
fn acks_other_than_minus_one_zero_one_are_invalid_required_acks() {
    with_one_record_topic("wire-acks", |conn| {
        for acks in [2, -2, 5] {
            let answer = produce(conn, "t", 0, acks, batch(1, 10));
            assert_eq!(
                answer.error_code, INVALID_REQUIRED_ACKS,
                "acks={acks}: {answer:?}"
            );
        }
    });
}

#[test]
fn transactional_batch_is_invalid_record() {
    with_one_record_topic("wire-transactional-batch", |conn| {
        let (producer_id, epoch) = new_producer(conn);
        let mut builder = BatchBuilder::new(Compression::None)
            .producer(producer_id, epoch, 0)
            .transactional(true);
        fill(&mut builder, 2, 10);
        let answer = produce(conn, "t", 0, -1, builder.build().unwrap());
        assert_eq!(answer.error_code, INVALID_RECORD, "{answer:?}");
    });
}

#[test]
fn transactional_init_producer_id_is_unsupported_for_message_format() {
    let dir = DataDir::new("wire-transactional-init").unwrap();
    let broker = start_broker(&dir);
    let mut conn = Connection::open(broker.kafka_addr());
    let response = init_producer_id(&mut conn, Some("my-transaction"));
    assert_eq!(
        response.error_code, UNSUPPORTED_FOR_MESSAGE_FORMAT,
        "{response:?}"
    );
    // The connection and idempotent producers go on.
    new_producer(&mut conn);
}

#[test]
fn hostile_array_counts_cost_the_broker_no_memory() {
    let dir = DataDir::new("wire-hostile-counts").unwrap();
    let mut broker = start_broker(&dir);
    let pid = broker.process().pid();
    let hostile: [&[u8]; 3] = [
        // Metadata v0 declaring 54 million topics in 8 bytes (kafka-protocol-rs #152).
        &[
            0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0x03, 0x3c, 0x0c, 0x00,
            0xb6,
        ],
        // Metadata v9: a compact count of 2^32 - 2 topics.
        &[
            0x00, 0x03, 0x00, 0x09, 0x00, 0x00, 0x00, 0x02, 0xff, 0xff, 0x00, 0xff, 0xff, 0xff,
            0xff, 0x0f,
        ],
        // CreateTopics v5: one topic "t" with one assignment declaring 2^32 - 2 broker ids.
        &[
            0x00, 0x13, 0x00, 0x05, 0x00, 0x00, 0x00, 0x03, 0xff, 0xff, 0x00, 0x02, 0x02, 0x74,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
            0xff, 0x0f,
        ],
    ];
    for payload in hostile {
        for _ in 0..20 {
            let mut conn = Connection::open(broker.kafka_addr());
            conn.write(&raw_frame(payload));
            // Answering is not required; a malformed request closes the connection.
            conn.assert_closed_by_broker("a request with a hostile array count");
            drop(conn);
            // An abort (a refused allocation: no LazyHugeAllocator in the binary?) closes the
            // connection too; the process must still be there.
            thread::sleep(Duration::from_millis(10));
            assert!(
                broker.is_running().unwrap(),
                "the broker died on {payload:02x?}\n{}",
                broker.log_tails()
            );
        }
    }
    assert_still_serving(&broker);
    let peak = peak_rss_bytes(pid);
    assert!(
        peak < BROKER_PEAK_RSS_LIMIT_BYTES,
        "broker peak RSS {} MiB",
        peak >> 20
    );
}

// ---- Pipelining ----

#[test]
fn pipelined_requests_are_answered_in_request_order() {
    let dir = DataDir::new("wire-pipelining").unwrap();
    let broker = start_broker(&dir);
    let mut conn = Connection::open(broker.kafka_addr());
    create_ok(&mut conn, "p", 1, &[]);
    // A slow request (a long poll on an empty partition) first, quick ones after it, all in
    // one write.
    let mut bytes = Vec::new();
    let mut sent = Vec::new();
    let requests = [
        (FETCH_VERSION, fetch_request("p", 0, 0, 500, 1, 1 << 20)),
        (
            API_VERSIONS_VERSION,
            RequestBody::ApiVersions(ApiVersionsRequest::default()),
        ),
        (PRODUCE_VERSION, produce_request("p", 0, 1, batch(2, 10))),
        (
            METADATA_VERSION,
            RequestBody::Metadata(MetadataRequest::default().with_topics(None)),
        ),
        (PRODUCE_VERSION, produce_request("p", 0, -1, batch(1, 10))),
    ];
    for (version, body) in requests {
        let (correlation_id, frame) = conn.frame(version, body);
        sent.push(correlation_id);
        bytes.extend_from_slice(&frame);
    }
    conn.write(&bytes);
    let mut answered = Vec::new();
    let mut produce_offsets = Vec::new();
    for _ in 0..sent.len() {
        let (correlation_id, body) = conn.receive();
        answered.push(correlation_id);
        if let ResponseBody::Produce(response) = body {
            let partition = &response.responses[0].partition_responses[0];
            assert_eq!(partition.error_code, NONE);
            produce_offsets.push(partition.base_offset);
        }
    }
    assert_eq!(answered, sent, "responses in request order");
    assert_eq!(produce_offsets, [0, 2]);
}

#[test]
fn acks_0_produce_gets_no_response_and_the_next_request_still_does() {
    let dir = DataDir::new("wire-acks-0").unwrap();
    let broker = start_broker(&dir);
    let mut conn = Connection::open(broker.kafka_addr());
    create_ok(&mut conn, "fire", 1, &[]);
    let (_, produce_frame) =
        conn.frame(PRODUCE_VERSION, produce_request("fire", 0, 0, batch(3, 10)));
    // No response is coming for it.
    conn.pending.pop_back();
    let (metadata_id, metadata_frame) = conn.frame(
        METADATA_VERSION,
        RequestBody::Metadata(MetadataRequest::default().with_topics(None)),
    );
    conn.write(&[produce_frame, metadata_frame].concat());
    let (answered, body) = conn.receive();
    assert_eq!(
        answered, metadata_id,
        "the metadata answer comes first and alone"
    );
    assert!(matches!(body, ResponseBody::Metadata(_)));
    // The records were appended all the same (acks=0 does not wait, so poll briefly).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let end = log_end_offset(&mut conn, "fire", 0);
        if end == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "log end {end}, expected 3");
        thread::sleep(Duration::from_millis(20));
    }
}

// ---- Fetch ----

#[test]
fn fetch_long_poll_returns_as_soon_as_a_record_is_produced() {
    let dir = DataDir::new("wire-long-poll").unwrap();
    let broker = start_broker(&dir);
    let mut conn = Connection::open(broker.kafka_addr());
    create_ok(&mut conn, "lp", 1, &[]);
    let start = Instant::now();
    conn.send(FETCH_VERSION, fetch_request("lp", 0, 0, 2000, 1, 1 << 20));
    thread::sleep(Duration::from_millis(300));
    let mut producer = Connection::open(broker.kafka_addr());
    let produced = produce(&mut producer, "lp", 0, 1, batch(1, 10));
    assert_eq!(produced.error_code, NONE);
    let (_, body) = conn.receive();
    let waited = start.elapsed();
    let fetched = fetched_partition(body);
    assert_eq!(fetched.error_code, NONE);
    let records = fetched.records.unwrap_or_default();
    assert_eq!(split_batches(&records).count(), 1, "the produced batch");
    assert!(
        waited < Duration::from_millis(1500),
        "answered after {waited:?}, not as soon as the record came"
    );
}

#[test]
fn fetch_long_poll_returns_empty_after_max_wait_when_nothing_comes() {
    let dir = DataDir::new("wire-long-poll-empty").unwrap();
    let broker = start_broker(&dir);
    let mut conn = Connection::open(broker.kafka_addr());
    create_ok(&mut conn, "quiet", 1, &[]);
    let start = Instant::now();
    let fetched = fetch(&mut conn, "quiet", 0, 0, 2000, 1 << 20);
    let waited = start.elapsed();
    assert_eq!(fetched.error_code, NONE);
    assert!(fetched.records.unwrap_or_default().is_empty());
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_millis(4000),
        "answered after {waited:?}, MaxWaitMs is 2000"
    );
}

#[test]
fn batch_larger_than_partition_max_bytes_is_returned_whole() {
    let dir = DataDir::new("wire-kip-74").unwrap();
    let broker = start_broker(&dir);
    let mut conn = Connection::open(broker.kafka_addr());
    create_ok(&mut conn, "big", 1, &[]);
    let big = batch(10, 1000);
    assert_eq!(
        produce(&mut conn, "big", 0, 1, big.clone()).error_code,
        NONE
    );
    assert_eq!(
        produce(&mut conn, "big", 0, 1, batch(1, 10)).error_code,
        NONE
    );
    // Partition and response limits of 1 KiB, a batch of ~10 KiB: KIP-74 returns the first
    // batch whole so the consumer can make progress.
    let fetched = fetch(&mut conn, "big", 0, 0, 0, 1024);
    assert_eq!(fetched.error_code, NONE);
    let records = fetched.records.unwrap_or_default();
    let batches: Vec<_> = split_batches(&records).map(|b| b.unwrap()).collect();
    assert!(!batches.is_empty(), "nothing returned");
    assert_eq!(batches[0].header().records_count, 10);
    assert_eq!(batches[0].total_size(), big.len(), "the whole batch");
}

/// ListOffsets of one partition at `timestamp`: (offset, timestamp, leader epoch).
fn list_offset(conn: &mut Connection, topic: &str, timestamp: i64) -> (i64, i64, i32) {
    let body = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(timestamp)])]);
    let ResponseBody::ListOffsets(response) =
        conn.call(LIST_OFFSETS_VERSION, RequestBody::ListOffsets(body))
    else {
        unreachable!("decoded for ListOffsets")
    };
    let answer = &response.topics[0].partitions[0];
    assert_eq!(
        answer.error_code, NONE,
        "ListOffsets {topic} at {timestamp}"
    );
    (answer.offset, answer.timestamp, answer.leader_epoch)
}

fn batch_at(timestamp: i64, value: &str) -> Bytes {
    let mut builder = BatchBuilder::new(Compression::None);
    builder.append(timestamp, None, Some(value.as_bytes()), &[]);
    builder.build().unwrap()
}

#[test]
fn list_offsets_answers_earliest_latest_max_timestamp_and_by_time() {
    let dir = DataDir::new("wire-list-offsets").unwrap();
    let broker = start_broker(&dir);
    let mut conn = Connection::open(broker.kafka_addr());
    create_ok(&mut conn, "times", 1, &[]);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 60_000;
    for (ts, v) in [(t, "a"), (t + 10, "b"), (t + 5, "c")] {
        assert_eq!(
            produce(&mut conn, "times", 0, -1, batch_at(ts, v)).error_code,
            NONE
        );
    }
    assert_eq!(list_offset(&mut conn, "times", -2).0, 0, "earliest");
    assert_eq!(list_offset(&mut conn, "times", -1), (3, -1, 0), "latest");
    assert_eq!(
        list_offset(&mut conn, "times", -3),
        (1, t + 10, 0),
        "max timestamp"
    );
    assert_eq!(
        list_offset(&mut conn, "times", t + 6),
        (1, t + 10, 0),
        "first at or after"
    );
    assert_eq!(list_offset(&mut conn, "times", t), (0, t, 0));
    assert_eq!(
        list_offset(&mut conn, "times", t + 100),
        (-1, -1, -1),
        "none that late"
    );
}

#[test]
fn offset_for_leader_epoch_answers_from_the_epoch_cache_and_checks_the_current_epoch() {
    let dir = DataDir::new("wire-epochs").unwrap();
    let broker = start_broker(&dir);
    let mut conn = Connection::open(broker.kafka_addr());
    create_ok(&mut conn, "epochs", 1, &[]);
    assert_eq!(
        produce(&mut conn, "epochs", 0, -1, batch(4, 10)).error_code,
        NONE
    );
    let ask = |conn: &mut Connection, current: i32, epoch: i32| {
        let body = OffsetForLeaderEpochRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![
                offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                    .with_topic(topic_name("epochs"))
                    .with_partitions(vec![
                        offset_for_leader_epoch_request::OffsetForLeaderPartition::default()
                            .with_partition(0)
                            .with_current_leader_epoch(current)
                            .with_leader_epoch(epoch),
                    ]),
            ]);
        let ResponseBody::OffsetForLeaderEpoch(response) =
            conn.call(4, RequestBody::OffsetForLeaderEpoch(body))
        else {
            unreachable!("decoded for OffsetForLeaderEpoch")
        };
        let p = &response.topics[0].partitions[0];
        (p.error_code, p.leader_epoch, p.end_offset)
    };
    // Epoch 0 is the latest: its end is the log end (KIP-279).
    assert_eq!(ask(&mut conn, 0, 0), (NONE, 0, 4));
    assert_eq!(
        ask(&mut conn, -1, 0),
        (NONE, 0, 4),
        "no current epoch: not checked"
    );
    // A client that believes in a newer leader epoch than the broker's: UNKNOWN_LEADER_EPOCH.
    assert_eq!(ask(&mut conn, 3, 0).0, 75);
}

#[test]
fn retention_bytes_set_by_alter_configs_deletes_old_segments() {
    let dir = DataDir::new("wire-retention").unwrap();
    let broker = Broker::builder(&dir)
        .host(loopback_host())
        .config("log.retention.check.interval.ms", "100")
        .start()
        .unwrap();
    let mut conn = Connection::open(broker.kafka_addr());
    create_ok(&mut conn, "kept", 1, &[("segment.bytes", "1024")]);
    for _ in 0..20 {
        assert_eq!(
            produce(&mut conn, "kept", 0, -1, batch(1, 400)).error_code,
            NONE
        );
    }
    thread::sleep(Duration::from_millis(400));
    assert_eq!(
        list_offset(&mut conn, "kept", -2).0,
        0,
        "no retention limit yet"
    );
    let body = IncrementalAlterConfigsRequest::default().with_resources(vec![
        incremental_alter_configs_request::AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(StrBytes::from_static_str("kept"))
            .with_configs(vec![
                incremental_alter_configs_request::AlterableConfig::default()
                    .with_name(StrBytes::from_static_str("retention.bytes"))
                    .with_config_operation(0)
                    .with_value(Some(StrBytes::from_static_str("2048"))),
            ]),
    ]);
    let ResponseBody::IncrementalAlterConfigs(response) =
        conn.call(1, RequestBody::IncrementalAlterConfigs(body))
    else {
        unreachable!("decoded for IncrementalAlterConfigs")
    };
    assert_eq!(response.responses[0].error_code, NONE, "{response:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let start = loop {
        let start = list_offset(&mut conn, "kept", -2).0;
        if start > 0 || Instant::now() > deadline {
            break start;
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert!(
        start >= 14,
        "old segments deleted down to about 2 KiB: log start {start}"
    );
    assert_eq!(
        list_offset(&mut conn, "kept", -1).0,
        20,
        "the log end stays"
    );
    // Fetching below the new log start is out of range.
    let below =
        fetched_partition(conn.call(FETCH_VERSION, fetch_request("kept", 0, 0, 0, 1, 1 << 20)));
    assert_eq!(below.error_code, OFFSET_OUT_OF_RANGE);
}

#[test]
fn clients_may_not_write_or_delete_the_internal_offsets_topic() {
    let dir = DataDir::new("wire-internal").unwrap();
    let broker = start_broker(&dir);
    let mut conn = Connection::open(broker.kafka_addr());
    // FindCoordinator creates __consumer_offsets.
    let body = FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g"));
    let ResponseBody::FindCoordinator(found) = conn.call(3, RequestBody::FindCoordinator(body))
    else {
        unreachable!("decoded for FindCoordinator")
    };
    assert_eq!(found.error_code, NONE);
    assert_eq!(found.port, i32::from(broker.kafka_addr().port()));
    let answer = produce(&mut conn, "__consumer_offsets", 0, -1, batch(1, 10));
    assert_eq!(answer.error_code, INVALID_TOPIC_EXCEPTION);
    let body = DeleteTopicsRequest::default()
        .with_topic_names(vec![topic_name("__consumer_offsets")])
        .with_timeout_ms(1000);
    let ResponseBody::DeleteTopics(deleted) = conn.call(5, RequestBody::DeleteTopics(body)) else {
        unreachable!("decoded for DeleteTopics")
    };
    let result = &deleted.responses[0];
    assert_eq!(result.error_code, 42, "INVALID_REQUEST: {result:?}");
    assert!(result
        .error_message
        .as_deref()
        .is_some_and(|m| m.contains("internal")));
}
