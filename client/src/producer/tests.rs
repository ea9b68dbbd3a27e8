//! The idempotent producer's retry and epoch-bump rules, against a scripted in-process broker
//! that answers Produce with the error codes a test lists (a real broker cannot be made to lose
//! producer state or a leader on cue).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use fastdata_log::batch::RecordBatch;
use fastdata_protocol::kafka::{
    api_versions_response, decode_request, encode_response, FrameDecoder, RequestBody, ResponseBody,
};
use fastdata_protocol::kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use fastdata_protocol::kafka_protocol::messages::produce_response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use fastdata_protocol::kafka_protocol::messages::*;
use fastdata_protocol::kafka_protocol::protocol::StrBytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::error::ErrorCode;

/// What the fake broker saw.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    /// InitProducerId with the id and epoch the producer sent.
    Init { producer_id: i64, epoch: i16 },
    /// A produced batch: its producer id, epoch, base sequence, record count and bytes.
    Batch {
        producer_id: i64,
        epoch: i16,
        base_sequence: i32,
        records: i32,
        bytes: bytes::Bytes,
    },
}

struct Fake {
    /// Error codes for the next Produce answers (then NONE).
    answers: Mutex<VecDeque<i16>>,
    /// Never answer Produce.
    stall: bool,
    seen: Mutex<Vec<Seen>>,
    next_offset: Mutex<i64>,
    inits: Mutex<i16>,
}

async fn fake_broker(answers: &[i16]) -> (String, Arc<Fake>) {
    start_fake(answers, false).await
}

async fn start_fake(answers: &[i16], stall: bool) -> (String, Arc<Fake>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let fake = Arc::new(Fake {
        answers: Mutex::new(answers.iter().copied().collect()),
        stall,
        seen: Mutex::new(Vec::new()),
        next_offset: Mutex::new(0),
        inits: Mutex::new(0),
    });
    let state = fake.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let state = state.clone();
            tokio::spawn(async move {
                let decoder = FrameDecoder::new(1 << 24);
                let mut buf = BytesMut::new();
                loop {
                    let frame = loop {
                        if let Some(frame) = decoder.decode(&mut buf).unwrap() {
                            break frame;
                        }
                        if socket.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                            return;
                        }
                    };
                    let request = decode_request(frame).unwrap();
                    let (version, id) = (request.api_version, request.correlation_id);
                    let answer: Option<ResponseBody> = match request.body {
                        RequestBody::ApiVersions(_) => Some(api_versions_response().into()),
                        RequestBody::Metadata(_) => Some(
                            MetadataResponse::default()
                                .with_brokers(vec![MetadataResponseBroker::default()
                                    .with_node_id(BrokerId(0))
                                    .with_host(StrBytes::from_string(address.ip().to_string()))
                                    .with_port(address.port() as i32)])
                                .with_controller_id(BrokerId(0))
                                .with_topics(vec![MetadataResponseTopic::default()
                                    .with_name(Some(TopicName(StrBytes::from_static_str("t"))))
                                    .with_partitions(vec![MetadataResponsePartition::default()
                                        .with_partition_index(0)
                                        .with_leader_id(BrokerId(0))])])
                                .into(),
                        ),
                        RequestBody::InitProducerId(r) => {
                            state.seen.lock().unwrap().push(Seen::Init {
                                producer_id: r.producer_id.0,
                                epoch: r.producer_epoch,
                            });
                            let mut inits = state.inits.lock().unwrap();
                            let epoch = *inits;
                            *inits += 1;
                            Some(
                                InitProducerIdResponse::default()
                                    .with_producer_id(ProducerId(1000))
                                    .with_producer_epoch(epoch)
                                    .into(),
                            )
                        }
                        RequestBody::Produce(r) => {
                            let mut partitions = Vec::new();
                            for topic in &r.topic_data {
                                for p in &topic.partition_data {
                                    let bytes = p.records.clone().unwrap();
                                    let batch = RecordBatch::validate(bytes.clone()).unwrap();
                                    let h = *batch.header();
                                    state.seen.lock().unwrap().push(Seen::Batch {
                                        producer_id: h.producer_id,
                                        epoch: h.producer_epoch,
                                        base_sequence: h.base_sequence,
                                        records: h.records_count,
                                        bytes,
                                    });
                                    let code =
                                        state.answers.lock().unwrap().pop_front().unwrap_or(0);
                                    let mut offset = state.next_offset.lock().unwrap();
                                    let base = *offset;
                                    if code == 0 {
                                        *offset += i64::from(h.records_count);
                                    }
                                    partitions.push(
                                        PartitionProduceResponse::default()
                                            .with_index(p.index)
                                            .with_error_code(code)
                                            .with_base_offset(if code == 0 { base } else { -1 }),
                                    );
                                }
                            }
                            (r.acks != 0 && !state.stall).then(|| {
                                ProduceResponse::default()
                                    .with_responses(vec![TopicProduceResponse::default()
                                        .with_name(TopicName(StrBytes::from_static_str("t")))
                                        .with_partition_responses(partitions)])
                                    .into()
                            })
                        }
                        other => panic!("unexpected {other:?}"),
                    };
                    if let Some(answer) = answer {
                        let frame = encode_response(version, id, &answer).unwrap();
                        if socket.write_all(&frame).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (address.to_string(), fake)
}

fn config(bootstrap: &str) -> ProducerConfig {
    ProducerConfig {
        linger_ms: 0,
        retry_backoff_ms: 10,
        ..ProducerConfig::new(bootstrap)
    }
}

async fn send_one(producer: &Producer, value: &str) -> Result<RecordMetadata> {
    producer
        .send(ProducerRecord::new("t", value.to_owned()).with_partition(0))
        .await?
        .await
}

fn batches(fake: &Fake) -> Vec<(i64, i16, i32)> {
    fake.seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|s| match s {
            Seen::Batch {
                producer_id,
                epoch,
                base_sequence,
                ..
            } => Some((*producer_id, *epoch, *base_sequence)),
            Seen::Init { .. } => None,
        })
        .collect()
}

fn inits(fake: &Fake) -> Vec<(i64, i16)> {
    fake.seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|s| match s {
            Seen::Init { producer_id, epoch } => Some((*producer_id, *epoch)),
            Seen::Batch { .. } => None,
        })
        .collect()
}

#[tokio::test]
async fn sequences_advance_per_partition_under_one_producer_id() {
    let (address, fake) = fake_broker(&[]).await;
    let producer = Producer::new(config(&address)).unwrap();
    for i in 0..3 {
        let m = send_one(&producer, &format!("v{i}")).await.unwrap();
        assert_eq!((m.partition, m.offset), (0, i));
    }
    assert_eq!(inits(&fake), [(-1, -1)], "one InitProducerId, for a new id");
    assert_eq!(batches(&fake), [(1000, 0, 0), (1000, 0, 1), (1000, 0, 2)]);
    producer.close().await.unwrap();
}

#[tokio::test]
async fn a_retriable_error_resends_the_same_bytes_with_the_same_sequence() {
    let (address, fake) = fake_broker(&[
        ErrorCode::NOT_LEADER_OR_FOLLOWER.0,
        ErrorCode::REQUEST_TIMED_OUT.0,
    ])
    .await;
    let producer = Producer::new(config(&address)).unwrap();
    let m = send_one(&producer, "once").await.unwrap();
    assert_eq!(m.offset, 0);
    let seen = fake.seen.lock().unwrap().clone();
    let sent: Vec<&bytes::Bytes> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Batch { bytes, .. } => Some(bytes),
            Seen::Init { .. } => None,
        })
        .collect();
    assert_eq!(sent.len(), 3);
    assert!(
        sent.iter().all(|b| *b == sent[0]),
        "a resend is byte-identical"
    );
    assert_eq!(inits(&fake).len(), 1, "no epoch bump for a retriable error");
    producer.close().await.unwrap();
}

#[tokio::test]
async fn unknown_producer_id_bumps_the_epoch_and_restarts_sequences() {
    // The first two batches succeed, the third finds the broker without our state.
    let (address, fake) = fake_broker(&[0, 0, ErrorCode::UNKNOWN_PRODUCER_ID.0]).await;
    let producer = Producer::new(config(&address)).unwrap();
    for i in 0..3 {
        send_one(&producer, &format!("v{i}")).await.unwrap();
    }
    assert_eq!(
        inits(&fake),
        [(-1, -1), (1000, 0)],
        "the bump names the current id and epoch (KIP-360)"
    );
    assert_eq!(
        batches(&fake),
        [(1000, 0, 0), (1000, 0, 1), (1000, 0, 2), (1000, 1, 0)]
    );
    producer.close().await.unwrap();
}

#[tokio::test]
async fn a_real_sequence_gap_bumps_the_epoch_and_the_batch_is_not_lost() {
    let (address, fake) = fake_broker(&[0, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER.0]).await;
    let producer = Producer::new(config(&address)).unwrap();
    send_one(&producer, "a").await.unwrap();
    let m = send_one(&producer, "b").await.unwrap();
    assert_eq!(m.offset, 1);
    assert_eq!(batches(&fake), [(1000, 0, 0), (1000, 0, 1), (1000, 1, 0)]);
    producer.close().await.unwrap();
}

#[tokio::test]
async fn a_batch_that_fails_for_good_reports_its_error_and_the_next_gets_a_new_epoch() {
    let (address, fake) = fake_broker(&[ErrorCode::MESSAGE_TOO_LARGE.0]).await;
    let producer = Producer::new(config(&address)).unwrap();
    let err = send_one(&producer, "too big").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::MESSAGE_TOO_LARGE), "{err}");
    assert!(!err.is_retriable());
    let m = send_one(&producer, "next").await.unwrap();
    assert_eq!(m.offset, 0);
    // The failed batch used sequence 0 of epoch 0; reusing it would be a gap, so: a new epoch.
    assert_eq!(batches(&fake), [(1000, 0, 0), (1000, 1, 0)]);
    producer.close().await.unwrap();
}

#[tokio::test]
async fn acks_zero_gets_no_answer_and_reports_offset_minus_one() {
    let (address, fake) = fake_broker(&[]).await;
    let producer = Producer::new(ProducerConfig {
        acks: Acks::None,
        enable_idempotence: false,
        ..config(&address)
    })
    .unwrap();
    let m = tokio::time::timeout(
        Duration::from_secs(10),
        send_one(&producer, "fire and forget"),
    )
    .await
    .expect("an acks=0 record does not wait for an answer")
    .unwrap();
    assert_eq!(m.offset, -1, "resolved once written, without an answer");
    // The broker reads it a moment later.
    for _ in 0..100 {
        if !batches(&fake).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        batches(&fake),
        [(-1, -1, -1)],
        "no producer id without idempotence"
    );
    assert!(inits(&fake).is_empty());
    producer.close().await.unwrap();
}

#[tokio::test]
async fn send_gives_up_after_max_block_ms_without_metadata() {
    // Nobody listens: the topic's metadata never comes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let producer = Producer::new(ProducerConfig {
        max_block_ms: 300,
        ..config(&address)
    })
    .unwrap();
    let err = producer
        .send(ProducerRecord::new("t", "x"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            Error::Timeout {
                timeout_ms: 300,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn records_larger_than_max_request_size_are_refused_at_once() {
    let producer = Producer::new(ProducerConfig::new("127.0.0.1:9")).unwrap();
    let err = producer
        .send(ProducerRecord::new("t", vec![0u8; 2 << 20]))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            Error::RecordTooLarge {
                config: "max.request.size",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn flush_waits_for_everything_sent_before_it() {
    let (address, fake) = fake_broker(&[]).await;
    let producer = Producer::new(ProducerConfig {
        linger_ms: 60_000,
        delivery_timeout_ms: 120_000,
        ..config(&address)
    })
    .unwrap();
    let mut deliveries = Vec::new();
    for i in 0..10 {
        deliveries.push(
            producer
                .send(ProducerRecord::new("t", format!("{i}")).with_partition(0))
                .await
                .unwrap(),
        );
    }
    tokio::time::timeout(Duration::from_secs(10), producer.flush())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        batches(&fake).len(),
        1,
        "one lingering batch, sent by the flush"
    );
    for (i, d) in deliveries.into_iter().enumerate() {
        assert_eq!(d.await.unwrap().offset, i as i64);
    }
    // The wire bytes of the batch hold the ten records in order.
    let seen = fake.seen.lock().unwrap().clone();
    let Seen::Batch { bytes, records, .. } = &seen[1] else {
        panic!("{seen:?}")
    };
    assert_eq!(*records, 10);
    let parsed = RecordBatch::validate(bytes.clone())
        .unwrap()
        .records(1 << 20)
        .unwrap();
    let values: Vec<String> = parsed
        .iter()
        .map(|r| String::from_utf8(r.value.as_ref().unwrap().chunk().to_vec()).unwrap())
        .collect();
    assert_eq!(values, (0..10).map(|i| i.to_string()).collect::<Vec<_>>());
    producer.close().await.unwrap();
}

#[tokio::test]
async fn send_waits_for_buffer_memory_and_gives_up_after_max_block_ms() {
    // The broker never answers, so nothing leaves buffer.memory.
    let (address, _fake) = start_fake(&[], true).await;
    let producer = Producer::new(ProducerConfig {
        buffer_memory: 2048,
        max_request_size: 1024,
        batch_size: 1024,
        max_block_ms: 300,
        ..config(&address)
    })
    .unwrap();
    let value = vec![7u8; 600];
    let mut accepted = 0;
    let started = std::time::Instant::now();
    let err = loop {
        match producer
            .send(ProducerRecord::new("t", value.clone()).with_partition(0))
            .await
        {
            Ok(delivery) => {
                drop(delivery);
                accepted += 1;
                assert!(
                    accepted < 10,
                    "buffer.memory does not bound the records waiting"
                );
            }
            Err(e) => break e,
        }
    };
    assert_eq!(accepted, 3, "three 626-byte records fit in 2048 bytes");
    assert!(
        matches!(&err, Error::Timeout { operation, timeout_ms: 300 } if operation.contains("buffer.memory")),
        "{err}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_record_the_broker_never_acknowledges_fails_within_delivery_timeout() {
    let (address, fake) = start_fake(&[], true).await;
    let producer = Producer::new(ProducerConfig {
        request_timeout_ms: 200,
        delivery_timeout_ms: 800,
        ..config(&address)
    })
    .unwrap();
    let started = std::time::Instant::now();
    let err = send_one(&producer, "lost").await.unwrap_err();
    assert!(
        matches!(err, Error::Timeout { .. } | Error::RequestTimeout { .. }),
        "{err}"
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(600) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    // It was tried more than once, always as the same batch.
    let sent = batches(&fake);
    assert!(sent.len() >= 2, "{sent:?}");
    assert!(sent.iter().all(|b| *b == sent[0]), "{sent:?}");
}
