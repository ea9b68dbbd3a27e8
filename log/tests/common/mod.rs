//! Shared by the partition-log integration tests: building client batches, decoding what a read
//! serves, and an in-memory model of the log (its batches and records) with the checks that a
//! read, a full scan and a truncation must pass against it.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use fastdata_log::batch::{split_batches, BatchBuilder, Compression};
use fastdata_log::storage::SimStorage;
use fastdata_log::{AppendInfo, ManualClock, PartitionLog};

/// The partition directory inside the simulated filesystem.
pub const DIR: &str = "/data/topic-0";

/// Decompression bound used when decoding served batches.
const MAX_DECOMPRESSED: usize = 64 << 20;

/// One record as the log holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rec {
    pub offset: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

/// One batch as the log holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MBatch {
    pub base: i64,
    pub last: i64,
    /// Bytes on disk (header included).
    pub size: usize,
    pub producer_id: i64,
    pub base_sequence: i32,
    pub records: Vec<Rec>,
}

/// Decode concatenated batches as served by a read. Panics on anything invalid: a read must only
/// ever return whole, valid batches.
pub fn decode(bytes: &Bytes) -> Vec<MBatch> {
    split_batches(bytes)
        .map(|b| {
            let b = b.unwrap_or_else(|e| panic!("read served an invalid batch: {e}"));
            let h = *b.header();
            let records = b
                .records(MAX_DECOMPRESSED)
                .expect("served batch has invalid records")
                .into_iter()
                .map(|r| Rec {
                    offset: r.offset(h.base_offset),
                    key: r.key,
                    value: r.value,
                })
                .collect();
            MBatch {
                base: h.base_offset,
                last: h.last_offset(),
                size: h.total_size(),
                producer_id: h.producer_id,
                base_sequence: h.base_sequence,
                records,
            }
        })
        .collect()
}

/// A record to put in a client batch.
#[derive(Clone, Debug)]
pub struct RecSpec {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

/// Build one client batch.
pub fn build_batch(
    codec: Compression,
    producer: Option<(i64, i16, i32)>,
    timestamp_ms: i64,
    records: &[RecSpec],
) -> Bytes {
    let mut b = BatchBuilder::new(codec);
    if let Some((id, epoch, seq)) = producer {
        b = b.producer(id, epoch, seq);
    }
    for r in records {
        b.append(timestamp_ms, r.key.as_deref(), r.value.as_deref(), &[]);
    }
    b.build().expect("build batch")
}

pub fn codec(n: u8) -> Compression {
    match n % 8 {
        0 => Compression::Gzip,
        1 => Compression::Snappy,
        2 => Compression::Lz4,
        3 => Compression::Zstd,
        _ => Compression::None,
    }
}

/// A value unique to `serial`, `len` bytes long: two records written at different times never
/// share a value, so resurrected or misplaced data cannot pass for the expected record.
pub fn unique_value(serial: u64, len: usize) -> Bytes {
    let tag = format!("<{serial}>");
    Bytes::from(
        tag.bytes()
            .cycle()
            .take(len.max(tag.len()))
            .collect::<Vec<u8>>(),
    )
}

pub fn open_sim(
    storage: &SimStorage,
    config: fastdata_log::LogConfig,
    clock: &Arc<ManualClock>,
) -> PartitionLog {
    PartitionLog::open(
        Path::new(DIR),
        config,
        Arc::new(storage.clone()),
        clock.clone(),
    )
    .expect("open partition log")
}

/// The model: the exact batches the log holds, in offset order, and its log end offset.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub batches: Vec<MBatch>,
    pub leo: i64,
}

impl Model {
    /// Record a successful (non-duplicate) append of the client batches in `request`.
    pub fn append(&mut self, request: &Bytes, info: &AppendInfo) {
        assert!(!info.duplicate, "unexpected duplicate: {info:?}");
        assert_eq!(
            info.first_offset, self.leo,
            "append must continue at the log end offset"
        );
        let mut next = info.first_offset;
        for mut b in decode(request) {
            let shift = next - b.base;
            b.base += shift;
            b.last += shift;
            for r in &mut b.records {
                r.offset += shift;
            }
            next = b.last + 1;
            self.batches.push(b);
        }
        assert_eq!(info.last_offset, next - 1, "append's last offset");
        self.leo = next;
    }

    pub fn records(&self) -> impl Iterator<Item = &Rec> {
        self.batches.iter().flat_map(|b| b.records.iter())
    }

    /// Check and apply `truncate_to(requested)`, which returned `new_leo`: the cut falls at a batch
    /// boundary, removes every batch holding or following `requested`, and keeps all before.
    pub fn truncate(&mut self, requested: i64, new_leo: i64) {
        if requested >= self.leo {
            assert_eq!(
                new_leo, self.leo,
                "truncate_to past the end changes nothing"
            );
            return;
        }
        assert!(
            new_leo <= requested,
            "truncate_to({requested}) returned {new_leo}, past the requested offset"
        );
        for b in &self.batches {
            if b.last < requested {
                assert!(
                    b.last < new_leo,
                    "truncate_to({requested}) -> {new_leo} removed batch {}..={} wholly below the cut",
                    b.base,
                    b.last
                );
            }
        }
        self.cut_at(new_leo);
    }

    /// Drop everything at and after `leo`, which must be a batch boundary of the model.
    pub fn cut_at(&mut self, leo: i64) {
        for b in &self.batches {
            assert!(
                !(b.base < leo && leo <= b.last),
                "log end offset {leo} falls inside batch {}..={}",
                b.base,
                b.last
            );
        }
        assert!(
            leo <= self.leo,
            "log end offset {leo} is past everything written ({})",
            self.leo
        );
        self.batches.retain(|b| b.base < leo);
        self.leo = leo;
    }

    /// The first batch a read from `offset` must start with.
    pub fn first_batch_from(&self, offset: i64) -> Option<(usize, &MBatch)> {
        self.batches
            .iter()
            .enumerate()
            .find(|(_, b)| b.last >= offset)
    }

    /// Check one read against the model: whole valid batches, starting with the model's first
    /// batch covering `offset` (or the first after it, across a compaction gap), consecutive model
    /// batches after it, none reaching `max_offset` or the log end, and within `max_bytes` unless
    /// `min_one_batch` let a single oversized first batch through. Also: a read past the log end
    /// is out of range. Returns what was served.
    pub fn check_read(
        &self,
        log: &PartitionLog,
        offset: i64,
        max_bytes: usize,
        max_offset: Option<i64>,
        min_one_batch: bool,
    ) -> Vec<MBatch> {
        let result = log
            .read(offset, max_bytes, max_offset, min_one_batch)
            .unwrap_or_else(|e| {
                panic!("read({offset}, {max_bytes}, {max_offset:?}, {min_one_batch}): {e}")
            });
        if offset < self.leo {
            let past = log.read(self.leo + 1, max_bytes, None, min_one_batch);
            assert!(
                matches!(past, Err(fastdata_log::Error::OffsetOutOfRange { .. })),
                "read past the log end: {past:?}"
            );
        }
        // Only whole batches below the upper bound (the high watermark) are served.
        let upper = max_offset.map_or(self.leo, |m| m.min(self.leo));
        assert_eq!(
            result.log_end_offset, self.leo,
            "read reports the log end offset"
        );
        let served = decode(&result.records);
        let sizes: usize = served.iter().map(|b| b.size).sum();
        assert_eq!(
            sizes,
            result.records.len(),
            "read served trailing partial bytes"
        );
        let Some((first_index, first)) = self
            .first_batch_from(offset)
            .filter(|(_, b)| b.last < upper)
        else {
            assert!(
                served.is_empty(),
                "read({offset}) served batches the log does not hold: {served:?}"
            );
            return served;
        };
        if served.is_empty() {
            assert!(
                first.size > max_bytes && !min_one_batch,
                "read({offset}, {max_bytes}, {min_one_batch}) served nothing, though batch \
                 {}..={} ({} bytes) is there",
                first.base,
                first.last,
                first.size
            );
            return served;
        }
        if result.records.len() > max_bytes {
            assert!(
                min_one_batch && served.len() == 1 && first.size > max_bytes,
                "read({offset}, {max_bytes}, {min_one_batch}) served {} bytes in {} batches",
                result.records.len(),
                served.len()
            );
        }
        for (i, got) in served.iter().enumerate() {
            let want = self.batches.get(first_index + i).unwrap_or_else(|| {
                panic!(
                    "read({offset}) served batch {}..={} past the log end",
                    got.base, got.last
                )
            });
            assert_eq!(
                got, want,
                "read({offset}) served batch #{i} differently from the model"
            );
            assert!(got.last < upper, "served past the upper bound {upper}");
        }
        served
    }

    /// Read the whole log from `log_start` to the end, batch run by batch run, and check it is
    /// exactly the model.
    pub fn check_full(&self, log: &PartitionLog) {
        assert_eq!(log.log_end_offset(), self.leo, "log end offset");
        let served = read_all(log);
        if served != self.batches {
            let got: Vec<(i64, i64)> = served.iter().map(|b| (b.base, b.last)).collect();
            let want: Vec<(i64, i64)> = self.batches.iter().map(|b| (b.base, b.last)).collect();
            assert_eq!(got, want, "full read: batch ranges differ from the model");
            assert_eq!(served, self.batches, "full read differs from the model");
        }
    }
}

/// Every batch from the log start to the log end, read in runs (min_one_batch, 16 KiB budget),
/// each read continuing after the last batch of the previous one. Panics if a read from below the
/// log end makes no progress while the log still holds data past that offset, or serves past it.
pub fn read_all(log: &PartitionLog) -> Vec<MBatch> {
    let leo = log.log_end_offset();
    let mut offset = log.log_start_offset();
    let mut out: Vec<MBatch> = Vec::new();
    while offset < leo {
        let result = log
            .read(offset, 16 * 1024, None, true)
            .unwrap_or_else(|e| panic!("read({offset}) below the log end {leo}: {e}"));
        let batches = decode(&result.records);
        let Some(last) = batches.last() else {
            // Only a compacted log may end with offsets that no batch holds any more.
            break;
        };
        assert!(
            batches[0].last >= offset,
            "read({offset}) served batch {}..={} entirely below the requested offset",
            batches[0].base,
            batches[0].last
        );
        assert!(
            last.last < leo,
            "read({offset}) served offset {} past the log end {leo}",
            last.last
        );
        offset = last.last + 1;
        out.extend(batches);
    }
    for pair in out.windows(2) {
        assert!(
            pair[0].last < pair[1].base,
            "batches out of order: {pair:?}"
        );
    }
    out
}
