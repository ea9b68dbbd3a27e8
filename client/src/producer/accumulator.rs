//! The record accumulator: per-partition queues of batches that `send` appends to and the sender
//! task drains.
//!
//! A queue's last batch is open until it holds `batch.size` bytes (estimated, uncompressed) or
//! is taken by the sender; the batches before it are full. Batches put back for a retry keep
//! their place: the queue stays ordered by batch id, which is creation order and, for an
//! idempotent producer, sequence order. Every batch holds the `buffer.memory` permits of its
//! records and a watch sender that `flush` waits on; both are released when the batch is
//! dropped, which happens once each of its records has its outcome.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use fastdata_log::batch::{BatchBuilder, Compression};
use tokio::sync::{oneshot, watch, OwnedSemaphorePermit};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::partitioner::{partition_for_key, StickyPartitions};
use crate::producer::RecordMetadata;
use crate::types::{Header, TopicPartition};

/// Bytes of a v2 batch header.
pub(crate) const BATCH_OVERHEAD: usize = fastdata_log::batch::HEADER_LEN;

/// An upper bound of a record's encoded size inside a batch (length, attributes, deltas and
/// lengths as varints at their widest, plus the bytes).
pub(crate) fn record_size(key: Option<&[u8]>, value: Option<&[u8]>, headers: &[Header]) -> usize {
    let header_bytes: usize = headers
        .iter()
        .map(|h| 10 + h.key.len() + h.value.as_ref().map_or(0, Bytes::len))
        .sum();
    26 + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len) + header_bytes
}

/// One record waiting in a batch, with the sender of its outcome.
pub(crate) struct PendingRecord {
    pub timestamp_ms: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
    pub reply: oneshot::Sender<Result<RecordMetadata>>,
}

/// A batch's encoded bytes and the producer identity they carry.
pub(crate) struct Built {
    pub bytes: Bytes,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
}

/// A batch of records for one partition.
pub(crate) struct ProducerBatch {
    pub id: u64,
    pub tp: TopicPartition,
    pub records: Vec<PendingRecord>,
    pub size_bytes: usize,
    pub created: Instant,
    /// Times it was sent.
    pub attempts: u32,
    /// Not before this instant (retry backoff).
    pub retry_at: Option<Instant>,
    /// No more records may join it.
    pub closed: bool,
    /// Its bytes, once encoded (kept across retries so a resend is byte-identical).
    pub built: Option<Built>,
    _memory: OwnedSemaphorePermit,
    _done: watch::Sender<()>,
}

impl ProducerBatch {
    /// Records in the batch.
    pub fn record_count(&self) -> i32 {
        self.records.len() as i32
    }

    /// Encodes the batch, stamping `producer` (id, epoch, base sequence) if given.
    pub fn build(
        &mut self,
        compression: Compression,
        producer: Option<(i64, i16, i32)>,
    ) -> Result<()> {
        let mut builder = BatchBuilder::new(compression);
        if let Some((id, epoch, sequence)) = producer {
            builder = builder.producer(id, epoch, sequence);
        }
        for r in &self.records {
            let headers: Vec<(&[u8], Option<&[u8]>)> = r
                .headers
                .iter()
                .map(|h| (h.key.as_bytes(), h.value.as_deref()))
                .collect();
            builder.append(
                r.timestamp_ms,
                r.key.as_deref(),
                r.value.as_deref(),
                &headers,
            );
        }
        let bytes = builder.build().map_err(Error::BatchBuild)?;
        let (producer_id, producer_epoch, base_sequence) = producer.unwrap_or((-1, -1, -1));
        self.built = Some(Built {
            bytes,
            producer_id,
            producer_epoch,
            base_sequence,
        });
        Ok(())
    }

    /// Reports success: record `i` is at `base_offset + i` (every record at -1 when the offset
    /// is unknown: acks=0, or a duplicate the broker no longer has metadata for).
    pub fn complete(self, base_offset: i64, log_append_time_ms: i64) {
        for (i, r) in self.records.into_iter().enumerate() {
            let offset = if base_offset < 0 {
                -1
            } else {
                base_offset + i as i64
            };
            let timestamp_ms = if log_append_time_ms >= 0 {
                log_append_time_ms
            } else {
                r.timestamp_ms
            };
            let _ = r.reply.send(Ok(RecordMetadata {
                topic: self.tp.topic.clone(),
                partition: self.tp.partition,
                offset,
                timestamp_ms,
            }));
        }
    }

    /// Reports `error()` for every record.
    pub fn fail(self, error: impl Fn() -> Error) {
        for r in self.records {
            let _ = r.reply.send(Err(error()));
        }
    }
}

/// See the module documentation.
#[derive(Default)]
pub(crate) struct Accumulator {
    pub queues: HashMap<TopicPartition, VecDeque<ProducerBatch>>,
    sticky: StickyPartitions,
    /// Batches not yet completed, for `flush`.
    pub incomplete: HashMap<u64, watch::Receiver<()>>,
    next_id: u64,
    /// `flush` calls in progress: every batch is ready while one runs.
    pub flushes: usize,
    /// `close` was called: send everything, accept nothing.
    pub closing: bool,
    /// A fatal error: every send fails with it.
    pub fatal: Option<String>,
}

impl Accumulator {
    /// The partition for a record: the explicit one, the key's murmur2 partition, or the
    /// topic's sticky partition (moved on when appending would start a new batch there, as
    /// KIP-480's `onNewBatch`). `available` lists the partitions with a leader; it is called
    /// only when a sticky partition is chosen, not for every record.
    pub fn choose_partition(
        &mut self,
        topic: &str,
        partitions: i32,
        available: impl Fn() -> Vec<i32>,
        key: Option<&[u8]>,
        size: usize,
        batch_size: usize,
    ) -> i32 {
        if let Some(key) = key {
            return partition_for_key(key, partitions);
        }
        let sticky = self.sticky.partition(topic, partitions, &available);
        if self.has_room(&TopicPartition::new(topic, sticky), size, batch_size) {
            return sticky;
        }
        self.sticky.next(topic, sticky, partitions, &available);
        self.sticky.partition(topic, partitions, &available)
    }

    fn has_room(&self, tp: &TopicPartition, size: usize, batch_size: usize) -> bool {
        self.queues
            .get(tp)
            .and_then(VecDeque::back)
            .is_some_and(|b| !b.closed && b.size_bytes + size <= batch_size)
    }

    /// Appends a record to `tp`'s open batch, or to a new one. Returns whether the sender
    /// should look at the queues now (a batch filled up or was created).
    pub fn append(
        &mut self,
        tp: TopicPartition,
        record: PendingRecord,
        size: usize,
        memory: OwnedSemaphorePermit,
        batch_size: usize,
    ) -> bool {
        let room = self.has_room(&tp, size, batch_size);
        // The key is cloned only for a partition's first batch.
        let queue = match self.queues.get_mut(&tp) {
            Some(queue) => queue,
            None => self.queues.entry(tp.clone()).or_default(),
        };
        if room {
            if let Some(batch) = queue.back_mut() {
                batch._memory.merge(memory);
                batch.size_bytes += size;
                batch.records.push(record);
                let full = batch.size_bytes >= batch_size;
                if full {
                    batch.closed = true;
                }
                return full;
            }
        }
        if let Some(previous) = queue.back_mut() {
            previous.closed = true;
        }
        let id = self.next_id;
        self.next_id += 1;
        let (done, watcher) = watch::channel(());
        self.incomplete.insert(id, watcher);
        let size_bytes = BATCH_OVERHEAD + size;
        queue.push_back(ProducerBatch {
            id,
            tp,
            records: vec![record],
            size_bytes,
            created: Instant::now(),
            attempts: 0,
            retry_at: None,
            closed: size_bytes >= batch_size,
            built: None,
            _memory: memory,
            _done: done,
        });
        true
    }

    /// Puts a batch back for a retry, in id order among the queue's batches.
    pub fn requeue(&mut self, mut batch: ProducerBatch) {
        batch.closed = true;
        let queue = self.queues.entry(batch.tp.clone()).or_default();
        let at = queue
            .iter()
            .position(|b| b.id > batch.id)
            .unwrap_or(queue.len());
        queue.insert(at, batch);
    }

    /// Forgets a finished batch (its records have their outcome).
    pub fn finished(&mut self, id: u64) {
        self.incomplete.remove(&id);
    }

    /// Whether no batch is waiting.
    pub fn is_empty(&self) -> bool {
        self.queues.values().all(VecDeque::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::Semaphore;

    use super::*;

    fn record(value: &[u8]) -> (PendingRecord, oneshot::Receiver<Result<RecordMetadata>>) {
        let (reply, rx) = oneshot::channel();
        (
            PendingRecord {
                timestamp_ms: 1_700_000_000_000,
                key: None,
                value: Some(Bytes::copy_from_slice(value)),
                headers: vec![],
                reply,
            },
            rx,
        )
    }

    fn permit(memory: &Arc<Semaphore>, n: usize) -> OwnedSemaphorePermit {
        memory.clone().try_acquire_many_owned(n as u32).unwrap()
    }

    #[test]
    fn records_fill_a_batch_up_to_batch_size_then_start_another() {
        let memory = Arc::new(Semaphore::new(1 << 20));
        let mut acc = Accumulator::default();
        let tp = TopicPartition::new("t", 0);
        let size = record_size(None, Some(&[0; 100]), &[]);
        let batch_size = BATCH_OVERHEAD + 3 * size;
        let mut receivers = Vec::new();
        for i in 0..7 {
            let (r, rx) = record(&[i; 100]);
            receivers.push(rx);
            acc.append(tp.clone(), r, size, permit(&memory, size), batch_size);
        }
        let queue = &acc.queues[&tp];
        assert_eq!(
            queue.iter().map(|b| b.records.len()).collect::<Vec<_>>(),
            [3, 3, 1]
        );
        assert!(queue[0].closed && queue[1].closed && !queue[2].closed);
        assert_eq!(acc.incomplete.len(), 3);
        assert_eq!(memory.available_permits(), (1 << 20) - 7 * size);
        // Completing a batch gives its records consecutive offsets and frees its memory.
        let batch = acc.queues.get_mut(&tp).unwrap().pop_front().unwrap();
        acc.finished(batch.id);
        batch.complete(40, -1);
        for (i, rx) in receivers.iter_mut().take(3).enumerate() {
            let m = rx.try_recv().unwrap().unwrap();
            assert_eq!((m.partition, m.offset), (0, 40 + i as i64));
            assert_eq!(m.timestamp_ms, 1_700_000_000_000);
        }
        assert_eq!(memory.available_permits(), (1 << 20) - 4 * size);
    }

    #[test]
    fn a_record_larger_than_batch_size_gets_a_batch_of_its_own() {
        let memory = Arc::new(Semaphore::new(1 << 20));
        let mut acc = Accumulator::default();
        let tp = TopicPartition::new("t", 0);
        let (r, _rx) = record(b"small");
        acc.append(tp.clone(), r, 40, permit(&memory, 40), 1000);
        let (r, _rx2) = record(&[0; 5000]);
        assert!(acc.append(tp.clone(), r, 5026, permit(&memory, 5026), 1000));
        assert_eq!(acc.queues[&tp].len(), 2);
        assert!(
            acc.queues[&tp][1].closed,
            "an oversized batch is full at once"
        );
    }

    #[test]
    fn retried_batches_keep_their_order() {
        let memory = Arc::new(Semaphore::new(1 << 20));
        let mut acc = Accumulator::default();
        let tp = TopicPartition::new("t", 0);
        for _ in 0..4 {
            let (r, _rx) = record(b"x");
            acc.append(tp.clone(), r, 1000, permit(&memory, 1000), 1000);
        }
        let queue = acc.queues.get_mut(&tp).unwrap();
        let first = queue.pop_front().unwrap();
        let second = queue.pop_front().unwrap();
        // The second comes back first, then the first: ids stay sorted.
        acc.requeue(second);
        acc.requeue(first);
        let ids: Vec<u64> = acc.queues[&tp].iter().map(|b| b.id).collect();
        assert_eq!(ids, [0, 1, 2, 3]);
    }

    #[test]
    fn keyless_records_stick_to_a_partition_until_its_batch_closes() {
        let memory = Arc::new(Semaphore::new(1 << 20));
        let mut acc = Accumulator::default();
        let available: Vec<i32> = (0..8).collect();
        let mut chosen = Vec::new();
        for _ in 0..9 {
            let p = acc.choose_partition("t", 8, || available.clone(), None, 400, 1000);
            let (r, _rx) = record(&[0; 374]);
            acc.append(
                TopicPartition::new("t", p),
                r,
                400,
                permit(&memory, 400),
                1000,
            );
            chosen.push(p);
        }
        // 61 + 3 * 400 > 1000: two records per batch, then the topic moves on.
        for pair in chosen.chunks(2) {
            assert!(pair.iter().all(|&p| p == pair[0]), "{chosen:?}");
        }
        for w in chosen.chunks(2).collect::<Vec<_>>().windows(2) {
            assert_ne!(w[0][0], w[1][0], "{chosen:?}");
        }
        // Keyed records ignore stickiness.
        assert_eq!(
            acc.choose_partition("t", 8, || available.clone(), Some(b"foobar"), 10, 1000),
            partition_for_key(b"foobar", 8)
        );
    }

    #[test]
    fn built_batches_carry_the_producer_identity() {
        let memory = Arc::new(Semaphore::new(1 << 20));
        let mut acc = Accumulator::default();
        let tp = TopicPartition::new("t", 0);
        for i in 0..3u8 {
            let (r, _rx) = record(&[i]);
            acc.append(tp.clone(), r, 30, permit(&memory, 30), 1 << 14);
        }
        let batch = acc.queues.get_mut(&tp).unwrap().front_mut().unwrap();
        batch.build(Compression::Lz4, Some((42, 3, 17))).unwrap();
        let built = batch.built.as_ref().unwrap();
        let parsed = fastdata_log::batch::RecordBatch::validate(built.bytes.clone()).unwrap();
        let h = parsed.header();
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (42, 3, 17)
        );
        assert_eq!(h.records_count, 3);
        assert_eq!(parsed.compression(), Compression::Lz4);
        let values: Vec<_> = parsed
            .records(1 << 20)
            .unwrap()
            .into_iter()
            .map(|r| r.value.unwrap())
            .collect();
        assert_eq!(values, [&[0u8][..], &[1], &[2]]);
    }
}
