//! Requests that declare huge array counts, decoded with the allocator the broker installs.
//!
//! `kafka-protocol` 0.18.0 allocates an array's declared count before it reads an element
//! (`Vec::with_capacity(n)`), so these few-byte requests ask for gigabytes to terabytes; without
//! [`LazyHugeAllocator`] the compact counts (2^32 - 2 elements) make the allocation fail and
//! abort this process. With it, each must come back as a `MalformedBody` error, quickly, having
//! gone through a lazy mapping (the allocator's counter proves the count was reached), while the
//! process's peak resident memory stays small. Assumes `vm.overcommit_memory` 0 or 1 (see
//! `fastdata_protocol::alloc`).

use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use fastdata_protocol::alloc::{overcommit_warning, LazyHugeAllocator};
use fastdata_protocol::kafka::{decode_request, SUPPORTED_APIS};
use fastdata_protocol::ProtocolError;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};

#[global_allocator]
static ALLOCATOR: LazyHugeAllocator = LazyHugeAllocator::new();

/// Peak resident memory this test process may reach (its normal peak is a few MiB).
const PEAK_RSS_LIMIT_BYTES: u64 = 256 << 20;

/// How long one hostile decode may take.
const DECODE_LIMIT: Duration = Duration::from_secs(1);

/// A request frame written field by field, as the spec lays it out.
struct Frame(BytesMut);

impl Frame {
    /// The request header for `api_key` at `version` (correlation id 1, null client id, and
    /// empty tagged fields in header v2).
    fn request(api_key: ApiKey, version: i16) -> Self {
        let mut buf = BytesMut::new();
        buf.put_i16(api_key as i16);
        buf.put_i16(version);
        buf.put_i32(1);
        buf.put_i16(-1);
        if api_key.request_header_version(version) >= 2 {
            buf.put_u8(0);
        }
        Self(buf)
    }

    fn i8(mut self, value: i8) -> Self {
        self.0.put_i8(value);
        self
    }

    fn i16(mut self, value: i16) -> Self {
        self.0.put_i16(value);
        self
    }

    fn i32(mut self, value: i32) -> Self {
        self.0.put_i32(value);
        self
    }

    fn varint(mut self, mut value: u32) -> Self {
        while value >= 0x80 {
            self.0.put_u8(value as u8 | 0x80);
            value >>= 7;
        }
        self.0.put_u8(value as u8);
        self
    }

    /// A non-compact string (i16 length).
    fn string(self, value: &str) -> Self {
        let mut frame = self.i16(value.len() as i16);
        frame.0.put_slice(value.as_bytes());
        frame
    }

    /// A compact string (varint length + 1).
    fn compact_string(self, value: &str) -> Self {
        let mut frame = self.varint(value.len() as u32 + 1);
        frame.0.put_slice(value.as_bytes());
        frame
    }

    /// A non-compact array count (i32).
    fn count(self, count: i32) -> Self {
        self.i32(count)
    }

    /// A compact array count (varint count + 1).
    fn compact_count(self, count: u32) -> Self {
        self.varint(count + 1)
    }

    /// The largest non-compact count: 2^31 - 1 elements.
    fn huge_count(self) -> Self {
        self.count(i32::MAX)
    }

    /// The largest compact count: 2^32 - 2 elements.
    fn huge_compact_count(self) -> Self {
        self.varint(u32::MAX)
    }

    fn done(self) -> Bytes {
        self.0.freeze()
    }
}

/// Peak resident set size of this process, from `/proc/self/status`.
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .unwrap();
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

fn assert_peak_rss_small() {
    let peak = peak_rss_bytes();
    assert!(
        peak < PEAK_RSS_LIMIT_BYTES,
        "peak RSS {} MiB (limit {} MiB)",
        peak >> 20,
        PEAK_RSS_LIMIT_BYTES >> 20
    );
}

/// `frame` declares a huge count: decoding it is a quick `MalformedBody` error for `api_key`
/// that went through a lazy mapping, and memory stays small.
fn assert_refused_lazily(frame: Bytes, api_key: ApiKey) {
    assert_eq!(
        overcommit_warning(),
        None,
        "these tests assume vm.overcommit_memory 0 or 1"
    );
    let mappings = ALLOCATOR.mappings();
    let start = Instant::now();
    let result = decode_request(frame);
    let elapsed = start.elapsed();
    assert!(
        matches!(&result, Err(ProtocolError::MalformedBody { api_key: key, .. }) if *key == api_key),
        "{api_key:?}: {result:?}"
    );
    assert!(elapsed < DECODE_LIMIT, "{api_key:?} took {elapsed:?}");
    assert!(
        ALLOCATOR.mappings() > mappings,
        "{api_key:?}: the decoder never reached the huge count"
    );
    assert_peak_rss_small();
}

#[test]
fn metadata_v0_declaring_54_million_topics_in_8_bytes_is_an_error() {
    // kafka-protocol-rs #152's repro: the count 0x033c0c00 and one byte of a topic name length.
    let frame = [
        0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0x03, 0x3c, 0x0c, 0x00, 0xb6,
    ];
    assert_refused_lazily(Bytes::copy_from_slice(&frame), ApiKey::Metadata);
}

#[test]
fn top_level_counts_compact_and_not() {
    assert_refused_lazily(
        Frame::request(ApiKey::Metadata, 1).huge_count().done(),
        ApiKey::Metadata,
    );
    assert_refused_lazily(
        Frame::request(ApiKey::Metadata, 9)
            .huge_compact_count()
            .done(),
        ApiKey::Metadata,
    );
    // JoinGroup v7: group id, session and rebalance timeouts, member id, null group instance
    // id, protocol type, then the protocols.
    assert_refused_lazily(
        Frame::request(ApiKey::JoinGroup, 7)
            .compact_string("g")
            .i32(10_000)
            .i32(60_000)
            .compact_string("")
            .varint(0)
            .compact_string("consumer")
            .huge_compact_count()
            .done(),
        ApiKey::JoinGroup,
    );
}

#[test]
fn second_level_counts_in_produce_fetch_and_offset_commit() {
    // Produce v3: null transactional id, acks, timeout, one topic, then its partitions.
    assert_refused_lazily(
        Frame::request(ApiKey::Produce, 3)
            .i16(-1)
            .i16(-1)
            .i32(30_000)
            .count(1)
            .string("t")
            .huge_count()
            .done(),
        ApiKey::Produce,
    );
    // Produce v9, flexible.
    assert_refused_lazily(
        Frame::request(ApiKey::Produce, 9)
            .varint(0)
            .i16(-1)
            .i32(30_000)
            .compact_count(1)
            .compact_string("t")
            .huge_compact_count()
            .done(),
        ApiKey::Produce,
    );
    // Fetch v12: replica id, max wait, min bytes, max bytes, isolation level, session id and
    // epoch, one topic, then its partitions.
    let fetch_prefix = || {
        Frame::request(ApiKey::Fetch, 12)
            .i32(-1)
            .i32(500)
            .i32(1)
            .i32(52_428_800)
            .i8(0)
            .i32(0)
            .i32(-1)
    };
    assert_refused_lazily(
        fetch_prefix()
            .compact_count(1)
            .compact_string("t")
            .huge_compact_count()
            .done(),
        ApiKey::Fetch,
    );
    // The same prefix, no topics, one forgotten topic with a huge list of partition indexes
    // (an array of i32, not of structs).
    assert_refused_lazily(
        fetch_prefix()
            .compact_count(0)
            .compact_count(1)
            .compact_string("t")
            .huge_compact_count()
            .done(),
        ApiKey::Fetch,
    );
    // OffsetCommit v2: group id, generation, member id, retention, one topic, its partitions.
    assert_refused_lazily(
        Frame::request(ApiKey::OffsetCommit, 2)
            .string("g")
            .i32(1)
            .string("m")
            .i32(-1)
            .i32(-1)
            .count(1)
            .string("t")
            .huge_count()
            .done(),
        ApiKey::OffsetCommit,
    );
}

#[test]
fn third_level_counts_in_create_topics() {
    // CreateTopics v2 and v5: one topic (name, partitions, replication factor), one manual
    // assignment (partition index), then its broker ids.
    assert_refused_lazily(
        Frame::request(ApiKey::CreateTopics, 2)
            .count(1)
            .string("t")
            .i32(-1)
            .i16(-1)
            .count(1)
            .i32(0)
            .huge_count()
            .done(),
        ApiKey::CreateTopics,
    );
    assert_refused_lazily(
        Frame::request(ApiKey::CreateTopics, 5)
            .compact_count(1)
            .compact_string("t")
            .i32(-1)
            .i16(-1)
            .compact_count(1)
            .i32(0)
            .huge_compact_count()
            .done(),
        ApiKey::CreateTopics,
    );
}

#[test]
fn nullable_string_arrays_in_describe_configs() {
    // DescribeConfigs v4: one resource (type, name), then its configuration keys.
    assert_refused_lazily(
        Frame::request(ApiKey::DescribeConfigs, 4)
            .compact_count(1)
            .i8(2)
            .compact_string("t")
            .huge_compact_count()
            .done(),
        ApiKey::DescribeConfigs,
    );
}

/// Overwrites every position of `payload` (after the fixed header) with the largest
/// non-compact and compact counts and decodes each result: whichever of them lands on an array
/// count, at any depth, must not abort or take long. Returns at how many overwrites the decoder
/// made a lazy mapping (a huge count reached).
fn sweep(payload: &Bytes) -> usize {
    const COUNTS: [&[u8]; 2] = [&[0x7f, 0xff, 0xff, 0xff], &[0xff, 0xff, 0xff, 0xff, 0x0f]];
    let mut mapped = 0;
    for count in COUNTS {
        for at in 8..payload.len().saturating_sub(count.len() - 1) {
            let mut frame = payload.to_vec();
            frame[at..at + count.len()].copy_from_slice(count);
            let mappings = ALLOCATOR.mappings();
            let start = Instant::now();
            let _ = decode_request(Bytes::from(frame));
            assert!(
                start.elapsed() < DECODE_LIMIT,
                "overwrite at {at} took long"
            );
            if ALLOCATOR.mappings() > mappings {
                mapped += 1;
            }
        }
    }
    mapped
}

/// Header and body of a request as a client encodes them, without the length prefix.
fn payload(api_key: ApiKey, body: &impl Encodable, version: i16) -> Bytes {
    let header = RequestHeader::default()
        .with_request_api_key(api_key as i16)
        .with_request_api_version(version)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("sweep")));
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, api_key.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    buf.freeze()
}

fn name(value: &'static str) -> StrBytes {
    StrBytes::from_static_str(value)
}

#[test]
fn every_count_of_nested_requests_overwritten_with_a_huge_one() {
    use kafka_protocol::messages::create_topics_request::*;
    use kafka_protocol::messages::fetch_request::*;
    use kafka_protocol::messages::produce_request::*;

    let produce = ProduceRequest::default().with_topic_data(vec![TopicProduceData::default()
        .with_name(TopicName(name("t")))
        .with_partition_data(vec![
            PartitionProduceData::default().with_records(Some(Bytes::from_static(b"records")))
        ])]);
    let fetch = FetchRequest::default()
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(name("t")))
            .with_partitions(vec![FetchPartition::default()])])
        .with_forgotten_topics_data(vec![ForgottenTopic::default()
            .with_topic(TopicName(name("u")))
            .with_partitions(vec![1])]);
    let create_topics = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(TopicName(name("t")))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
        .with_assignments(vec![
            CreatableReplicaAssignment::default().with_broker_ids(vec![BrokerId(0)])
        ])
        .with_configs(vec![CreatableTopicConfig::default().with_name(name("k"))])]);
    // (api, version, payload, arrays in it)
    let cases = [
        (ApiKey::Produce, 3, payload(ApiKey::Produce, &produce, 3), 2),
        (ApiKey::Produce, 9, payload(ApiKey::Produce, &produce, 9), 2),
        (ApiKey::Fetch, 7, payload(ApiKey::Fetch, &fetch, 7), 4),
        (ApiKey::Fetch, 12, payload(ApiKey::Fetch, &fetch, 12), 4),
        (
            ApiKey::CreateTopics,
            2,
            payload(ApiKey::CreateTopics, &create_topics, 2),
            4,
        ),
        (
            ApiKey::CreateTopics,
            5,
            payload(ApiKey::CreateTopics, &create_topics, 5),
            4,
        ),
    ];
    for (api_key, version, payload, arrays) in cases {
        // The overwrite of the version's own count encoding, exactly at a count, reaches it;
        // other overwrites may too, by chance.
        let mapped = sweep(&payload);
        assert!(
            mapped >= arrays,
            "{api_key:?} v{version}: {mapped} huge counts reached, expected at least {arrays}"
        );
    }
    assert_peak_rss_small();
}

#[test]
fn every_served_api_and_version_survives_huge_top_level_counts() {
    for api in &SUPPORTED_APIS {
        for version in api.min_served..=api.max {
            sweep(&default_payload(api.api_key, version));
        }
    }
    assert_peak_rss_small();
}

/// The payload of a default request body of a served API.
fn default_payload(api_key: ApiKey, version: i16) -> Bytes {
    macro_rules! by_key {
        ($($variant:ident => $request:ident,)*) => {
            match api_key {
                $(ApiKey::$variant => payload(api_key, &$request::default(), version),)*
                other => panic!("{other:?} is not served"),
            }
        };
    }
    by_key! {
        Produce => ProduceRequest,
        Fetch => FetchRequest,
        ListOffsets => ListOffsetsRequest,
        Metadata => MetadataRequest,
        OffsetCommit => OffsetCommitRequest,
        OffsetFetch => OffsetFetchRequest,
        FindCoordinator => FindCoordinatorRequest,
        JoinGroup => JoinGroupRequest,
        Heartbeat => HeartbeatRequest,
        LeaveGroup => LeaveGroupRequest,
        SyncGroup => SyncGroupRequest,
        DescribeGroups => DescribeGroupsRequest,
        ListGroups => ListGroupsRequest,
        ApiVersions => ApiVersionsRequest,
        CreateTopics => CreateTopicsRequest,
        DeleteTopics => DeleteTopicsRequest,
        InitProducerId => InitProducerIdRequest,
        OffsetForLeaderEpoch => OffsetForLeaderEpochRequest,
        DescribeConfigs => DescribeConfigsRequest,
        AlterConfigs => AlterConfigsRequest,
        CreatePartitions => CreatePartitionsRequest,
        IncrementalAlterConfigs => IncrementalAlterConfigsRequest,
    }
}
