//! Idempotent producer state: Kafka's `ProducerStateManager` for one partition.
//!
//! For every producer id that wrote to the partition the log keeps the producer epoch and the
//! metadata of its last [`NUM_BATCHES_TO_RETAIN`] (5) batches. That is what makes produce retries
//! exactly-once: a retried batch whose `(producer_epoch, base_sequence, last_sequence)` matches a
//! cached one is a duplicate and is acknowledged with the offsets it got the first time, without
//! writing anything; any other batch must continue the producer's sequence exactly, or it is
//! rejected with `OUT_OF_ORDER_SEQUENCE_NUMBER` (stale epochs with `PRODUCER_FENCED`).
//!
//! How the partition log uses it:
//!
//! - **Leader append** (client produce): stamp offsets into the batch headers, call
//!   [`ProducerStateManager::prepare`]. On [`Prepared::Duplicate`] answer with the original
//!   offsets and write nothing; on [`Prepared::Append`] write the batches, then
//!   [`ProducerStateManager::apply`] the staged update. Nothing changes if the write fails.
//! - **Follower append, recovery, rebuild after truncation**: the state is derived from the log
//!   itself (producer id, epoch and base sequence sit in every v2 batch header), so these call
//!   [`ProducerStateManager::replay`] for each batch, which updates without checking.
//! - **Snapshots**: the state captured at a segment roll (written by the next flush pass) and at
//!   a clean shutdown goes to [`ProducerStateManager::write_snapshot`] as
//!   `<20-digit offset>.snapshot` in the partition directory. Opening loads the latest readable
//!   snapshot at or below the log end (a corrupt one is deleted and the next older one tried)
//!   ([`ProducerStateManager::latest_snapshot_at_or_below`],
//!   [`ProducerStateManager::load_snapshot`]) and replays the batches from that offset on.
//!   Truncation deletes the snapshots above the new end
//!   ([`ProducerStateManager::delete_snapshots_above`]) and rebuilds the state the same way;
//!   retention deletes old ones ([`ProducerStateManager::delete_snapshots_below`]).
//! - **Expiration**: the log calls [`ProducerStateManager::expire`] periodically so the state
//!   stays bounded (`producer.id.expiration.ms`, default one day).
//!
//! Transactions are not implemented yet: transactional data batches update the state like
//! idempotent ones, and control batches (transaction markers) are skipped entirely — no sequence
//! check, no state change — because they carry no sequence (Kafka updates the epoch and the
//! transaction state from them, which comes with transactions).
//!
//! Snapshot file format (big-endian), version 1:
//!
//! ```text
//! version        i16   = 1
//! crc            u32   CRC-32C (Castagnoli) of every byte after this field
//! producer_count i32
//! producer_count × {
//!     producer_id        i64
//!     producer_epoch     i16
//!     last_timestamp_ms  i64
//!     batch_count        i8     0..=5, oldest first
//!     batch_count × { first_sequence i32, last_sequence i32,
//!                     first_offset i64, last_offset i64, max_timestamp i64 }
//! }
//! ```
//!
//! Unlike Kafka's snapshot, which keeps only the last batch of each producer, all cached batches
//! are stored, so retries are still recognised as duplicates after a restart.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use crate::batch::BatchHeader;
use crate::error::{Error, IoContext, Result};
use crate::storage::{read_file, remove_if_exists, write_atomically, Storage};

/// Batches remembered per producer for duplicate detection (Kafka's
/// `ProducerStateEntry.NUM_BATCHES_TO_RETAIN`; clients keep at most 5 requests in flight).
pub const NUM_BATCHES_TO_RETAIN: usize = 5;
/// Kafka's default `producer.id.expiration.ms` (one day).
pub const DEFAULT_PRODUCER_ID_EXPIRATION_MS: i64 = 86_400_000;
/// File name suffix of producer-state snapshots.
pub const SNAPSHOT_SUFFIX: &str = ".snapshot";
/// Version of the snapshot format written by [`ProducerStateManager::write_snapshot`].
pub const SNAPSHOT_VERSION: i16 = 1;

const SNAPSHOT_HEADER_LEN: usize = 2 + 4;
const ENTRY_HEADER_LEN: usize = 8 + 2 + 8 + 1;
const BATCH_LEN: usize = 4 + 4 + 8 + 8 + 8;

/// The name of the snapshot of the state as of `offset`: `00000000000000001234.snapshot`.
pub fn snapshot_file_name(offset: i64) -> String {
    format!("{offset:020}{SNAPSHOT_SUFFIX}")
}

/// What the log remembers of one appended batch of a producer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BatchMetadata {
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
}

impl BatchMetadata {
    /// The metadata of a batch whose header already carries its assigned base offset.
    pub fn of(header: &BatchHeader) -> Self {
        BatchMetadata {
            first_sequence: header.base_sequence,
            last_sequence: header.last_sequence(),
            first_offset: header.base_offset,
            last_offset: header.last_offset(),
            max_timestamp: header.max_timestamp,
        }
    }
}

/// The state of one producer id in this partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerEntry {
    pub producer_epoch: i16,
    /// At most [`NUM_BATCHES_TO_RETAIN`] batches of `producer_epoch`, newest last.
    pub batches: VecDeque<BatchMetadata>,
    /// `max_timestamp` of the newest batch; expiration is measured from it.
    pub last_timestamp_ms: i64,
}

impl ProducerEntry {
    fn new(producer_epoch: i16) -> Self {
        ProducerEntry {
            producer_epoch,
            batches: VecDeque::with_capacity(NUM_BATCHES_TO_RETAIN),
            last_timestamp_ms: -1,
        }
    }

    /// The last sequence number written, if any batch of the current epoch is cached.
    pub fn last_sequence(&self) -> Option<i32> {
        self.batches.back().map(|b| b.last_sequence)
    }

    /// The last offset written, if any batch of the current epoch is cached.
    pub fn last_offset(&self) -> Option<i64> {
        self.batches.back().map(|b| b.last_offset)
    }

    /// The cached batch a retry of `(epoch, first_sequence, last_sequence)` duplicates (Kafka's
    /// `findDuplicateBatch`).
    pub fn find_duplicate(
        &self,
        producer_epoch: i16,
        first_sequence: i32,
        last_sequence: i32,
    ) -> Option<&BatchMetadata> {
        if producer_epoch != self.producer_epoch {
            return None;
        }
        self.batches
            .iter()
            .find(|b| b.first_sequence == first_sequence && b.last_sequence == last_sequence)
    }

    /// Record a batch (Kafka's `ProducerStateEntry.addBatch`): a different epoch clears the
    /// cached batches; only the newest [`NUM_BATCHES_TO_RETAIN`] are kept.
    fn add_batch(&mut self, producer_epoch: i16, batch: BatchMetadata) {
        if producer_epoch != self.producer_epoch {
            self.producer_epoch = producer_epoch;
            self.batches.clear();
        }
        if self.batches.len() >= NUM_BATCHES_TO_RETAIN {
            self.batches.pop_front();
        }
        self.batches.push_back(batch);
        self.last_timestamp_ms = batch.max_timestamp;
    }
}

/// The outcome of validating an append.
#[derive(Debug)]
pub enum Prepared {
    /// A retry of a batch already in the log: answer with these original offsets (and
    /// timestamp) and write nothing.
    Duplicate(BatchMetadata),
    /// The batches are valid; write them, then [`ProducerStateManager::apply`] this.
    Append(ProducerUpdate),
}

/// Producer state changes staged by [`ProducerStateManager::prepare`], applied with
/// [`ProducerStateManager::apply`] once the batches are written. The log must not change the
/// state between the two (it holds its append lock across both).
#[derive(Debug, Default)]
#[must_use = "a staged producer update does nothing until it is applied"]
pub struct ProducerUpdate {
    /// The new entry of every producer the append touched, in first-touched order.
    updated: Vec<(i64, ProducerEntry)>,
}

impl ProducerUpdate {
    /// Whether the append touched no producer (no batch had a producer id).
    pub fn is_empty(&self) -> bool {
        self.updated.is_empty()
    }
}

/// The idempotent-producer state of one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
    producer_id_expiration_ms: i64,
}

impl ProducerStateManager {
    /// Empty state; producers idle for `producer_id_expiration_ms` are dropped by [`Self::expire`].
    pub fn new(producer_id_expiration_ms: i64) -> Self {
        ProducerStateManager {
            producers: HashMap::new(),
            producer_id_expiration_ms,
        }
    }

    /// Change `producer.id.expiration.ms` (a topic config was altered).
    pub fn set_expiration_ms(&mut self, producer_id_expiration_ms: i64) {
        self.producer_id_expiration_ms = producer_id_expiration_ms;
    }

    /// The configured `producer.id.expiration.ms`.
    pub fn producer_id_expiration_ms(&self) -> i64 {
        self.producer_id_expiration_ms
    }

    /// The state of one producer.
    pub fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// All producers, in no particular order.
    pub fn producers(&self) -> impl Iterator<Item = (i64, &ProducerEntry)> {
        self.producers.iter().map(|(&id, e)| (id, e))
    }

    /// Number of producers tracked.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Whether no producer is tracked.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Forget every producer (before rebuilding from a snapshot and the log).
    pub fn clear(&mut self) {
        self.producers.clear();
    }

    /// Validate the batches of one client append, in order, without changing anything (Kafka's
    /// `UnifiedLog.analyzeAndValidateProducerState` with `ProducerAppendInfo`). Each header must
    /// already carry its assigned `base_offset`.
    ///
    /// Batches without a producer id and control batches are skipped. For the others:
    ///
    /// 1. If the stored state of the producer (as before this append) has the batch's epoch and a
    ///    cached batch with the same `(first_sequence, last_sequence)`, the whole append is
    ///    [`Prepared::Duplicate`] of it (as Kafka does).
    /// 2. Otherwise the sequence is checked against the producer's state *including the batches
    ///    before it in this append* (Kafka's `checkSequence`):
    ///    - unknown producer (never seen or expired): any sequence is accepted;
    ///    - older epoch: [`Error::ProducerFenced`];
    ///    - newer epoch: `base_sequence` must be 0;
    ///    - same epoch: `base_sequence` must be `last_sequence + 1`, or 0 after `i32::MAX`;
    ///
    ///    violations are [`Error::OutOfOrderSequence`] with the expected and received sequence.
    ///    A retry of a batch older than the 5 cached ones therefore fails as out of order.
    pub fn prepare(&self, batches: &[BatchHeader]) -> Result<Prepared> {
        let mut updated: Vec<(i64, ProducerEntry)> = Vec::new();
        for header in batches {
            if !header.has_producer_id() || header.is_control() {
                continue;
            }
            let producer_id = header.producer_id;
            let stored = self.producers.get(&producer_id);
            if let Some(duplicate) = stored.and_then(|e| {
                e.find_duplicate(
                    header.producer_epoch,
                    header.base_sequence,
                    header.last_sequence(),
                )
            }) {
                return Ok(Prepared::Duplicate(*duplicate));
            }
            let staged = updated.iter().position(|(id, _)| *id == producer_id);
            let current = staged.map(|i| &updated[i].1).or(stored);
            check_sequence(producer_id, current, header)?;
            let mut entry = current
                .cloned()
                .unwrap_or_else(|| ProducerEntry::new(header.producer_epoch));
            entry.add_batch(header.producer_epoch, BatchMetadata::of(header));
            match staged {
                Some(i) => updated[i].1 = entry,
                None => updated.push((producer_id, entry)),
            }
        }
        Ok(Prepared::Append(ProducerUpdate { updated }))
    }

    /// Apply the update [`Self::prepare`] staged, once its batches are in the log.
    pub fn apply(&mut self, update: ProducerUpdate) {
        for (producer_id, entry) in update.updated {
            self.producers.insert(producer_id, entry);
        }
    }

    /// Record a batch already in the log without any check (recovery, follower appends, rebuild
    /// after truncation; Kafka's `AppendOrigin.REPLICATION`): the producer takes the batch's
    /// epoch, and the batch becomes its newest. Batches without a producer id and control batches
    /// are ignored.
    pub fn replay(&mut self, header: &BatchHeader) {
        if !header.has_producer_id() || header.is_control() {
            return;
        }
        self.producers
            .entry(header.producer_id)
            .or_insert_with(|| ProducerEntry::new(header.producer_epoch))
            .add_batch(header.producer_epoch, BatchMetadata::of(header));
    }

    /// Drop the producers whose newest batch's `max_timestamp` is `producer_id_expiration_ms` or
    /// more before `now_ms` (Kafka's `isProducerExpired`: `now - lastTimestamp >= expiration`).
    /// Their next batch will be accepted with any sequence. Returns how many were dropped.
    pub fn expire(&mut self, now_ms: i64) -> usize {
        let before = self.producers.len();
        let expiration = self.producer_id_expiration_ms;
        self.producers
            .retain(|_, e| now_ms.saturating_sub(e.last_timestamp_ms) < expiration);
        before - self.producers.len()
    }

    // ---------------------------------------------------------------------------------------
    // Snapshots

    /// The path of the snapshot as of `offset` in partition directory `dir`.
    pub fn snapshot_path(dir: &Path, offset: i64) -> PathBuf {
        dir.join(snapshot_file_name(offset))
    }

    /// Write the state as of log offset `offset` (every batch below `offset` applied, none at or
    /// above) to `dir/<offset>.snapshot`, atomically and durably.
    pub fn write_snapshot(&self, storage: &dyn Storage, dir: &Path, offset: i64) -> Result<()> {
        let path = Self::snapshot_path(dir, offset);
        write_atomically(storage, &path, &self.encode_snapshot()).at(&path)
    }

    /// Load the state from `dir/<offset>.snapshot`. A missing file is an I/O `NotFound` error; a
    /// bad version, CRC or layout is [`Error::Corrupt`] naming the file.
    pub fn load_snapshot(
        storage: &dyn Storage,
        dir: &Path,
        offset: i64,
        producer_id_expiration_ms: i64,
    ) -> Result<Self> {
        let path = Self::snapshot_path(dir, offset);
        let bytes = read_file(storage, &path).at(&path)?.ok_or_else(|| {
            Error::io(
                &path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "snapshot not found"),
            )
        })?;
        let producers = decode_snapshot(&bytes).map_err(|detail| Error::corrupt(&path, detail))?;
        Ok(ProducerStateManager {
            producers,
            producer_id_expiration_ms,
        })
    }

    /// The offsets of the snapshot files in `dir`, ascending. Files that end in `.snapshot` but
    /// whose name is not an offset are skipped with a warning.
    pub fn list_snapshots(storage: &dyn Storage, dir: &Path) -> Result<Vec<i64>> {
        let names = storage.list_dir(dir).at(dir)?;
        let mut offsets: Vec<i64> = names
            .iter()
            .filter_map(|name| {
                let stem = name.strip_suffix(SNAPSHOT_SUFFIX)?;
                match stem.parse::<i64>() {
                    Ok(offset) if offset >= 0 && stem.bytes().all(|b| b.is_ascii_digit()) => {
                        Some(offset)
                    }
                    _ => {
                        tracing::warn!(
                            dir = %dir.display(),
                            file = %name,
                            "ignoring snapshot file whose name is not an offset"
                        );
                        None
                    }
                }
            })
            .collect();
        offsets.sort_unstable();
        Ok(offsets)
    }

    /// The newest snapshot at or below `offset`, the one recovery starts from.
    pub fn latest_snapshot_at_or_below(
        storage: &dyn Storage,
        dir: &Path,
        offset: i64,
    ) -> Result<Option<i64>> {
        let snapshots = Self::list_snapshots(storage, dir)?;
        Ok(snapshots.into_iter().rev().find(|&s| s <= offset))
    }

    /// Delete the snapshots strictly above `offset` (the log was truncated to end at `offset`;
    /// they describe batches that no longer exist). Durable on return.
    pub fn delete_snapshots_above(storage: &dyn Storage, dir: &Path, offset: i64) -> Result<()> {
        let doomed: Vec<i64> = Self::list_snapshots(storage, dir)?
            .into_iter()
            .filter(|&s| s > offset)
            .collect();
        Self::delete_snapshots(storage, dir, &doomed)
    }

    /// Retention: delete the snapshots below `offset` except the newest one at or below it, which
    /// recovery still needs to start from (nothing is deleted if there is none). Durable on
    /// return.
    pub fn delete_snapshots_below(storage: &dyn Storage, dir: &Path, offset: i64) -> Result<()> {
        let snapshots = Self::list_snapshots(storage, dir)?;
        let Some(keep) = snapshots.iter().rev().copied().find(|&s| s <= offset) else {
            return Ok(());
        };
        let doomed: Vec<i64> = snapshots.into_iter().filter(|&s| s < keep).collect();
        Self::delete_snapshots(storage, dir, &doomed)
    }

    fn delete_snapshots(storage: &dyn Storage, dir: &Path, offsets: &[i64]) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        for &offset in offsets {
            let path = Self::snapshot_path(dir, offset);
            remove_if_exists(storage, &path).at(&path)?;
        }
        storage.sync_dir(dir).at(dir)
    }

    fn encode_snapshot(&self) -> Vec<u8> {
        let mut ids: Vec<i64> = self.producers.keys().copied().collect();
        ids.sort_unstable();
        let mut body = Vec::with_capacity(
            4 + ids.len() * (ENTRY_HEADER_LEN + NUM_BATCHES_TO_RETAIN * BATCH_LEN),
        );
        body.extend_from_slice(&(ids.len() as i32).to_be_bytes());
        for id in ids {
            let entry = &self.producers[&id];
            body.extend_from_slice(&id.to_be_bytes());
            body.extend_from_slice(&entry.producer_epoch.to_be_bytes());
            body.extend_from_slice(&entry.last_timestamp_ms.to_be_bytes());
            // At most NUM_BATCHES_TO_RETAIN (5): add_batch enforces it.
            body.push(entry.batches.len() as u8);
            for b in &entry.batches {
                body.extend_from_slice(&b.first_sequence.to_be_bytes());
                body.extend_from_slice(&b.last_sequence.to_be_bytes());
                body.extend_from_slice(&b.first_offset.to_be_bytes());
                body.extend_from_slice(&b.last_offset.to_be_bytes());
                body.extend_from_slice(&b.max_timestamp.to_be_bytes());
            }
        }
        let mut out = Vec::with_capacity(SNAPSHOT_HEADER_LEN + body.len());
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }
}

/// Kafka's `checkSequence` for one data batch against the producer's current (possibly staged)
/// state.
fn check_sequence(
    producer_id: i64,
    current: Option<&ProducerEntry>,
    header: &BatchHeader,
) -> Result<()> {
    // Unknown producer: its state expired or was removed with the log's head; accept any sequence.
    let Some(current) = current else {
        return Ok(());
    };
    let out_of_order = |expected_sequence: i32| Error::OutOfOrderSequence {
        producer_id,
        producer_epoch: header.producer_epoch,
        expected_sequence,
        received_sequence: header.base_sequence,
    };
    if header.producer_epoch < current.producer_epoch {
        return Err(Error::ProducerFenced {
            producer_id,
            producer_epoch: header.producer_epoch,
            current_epoch: current.producer_epoch,
        });
    }
    if header.producer_epoch != current.producer_epoch {
        // A new epoch (after InitProducerId / KIP-360 bump) restarts the sequence at 0.
        return match header.base_sequence {
            0 => Ok(()),
            _ => Err(out_of_order(0)),
        };
    }
    let expected = match current.last_sequence() {
        Some(i32::MAX) => 0,
        Some(last) => last.wrapping_add(1),
        // Same epoch but nothing cached (Kafka: lastSeq = NO_SEQUENCE, so 0 is next).
        None => 0,
    };
    if header.base_sequence == expected {
        Ok(())
    } else {
        Err(out_of_order(expected))
    }
}

/// A bounds-checked big-endian reader over snapshot bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self, what: &str) -> std::result::Result<[u8; N], String> {
        let end = self.pos.checked_add(N).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return Err(format!(
                "truncated at byte {} reading {what}: needed {N} bytes, {} left",
                self.pos,
                self.buf.len() - self.pos
            ));
        };
        let mut out = [0u8; N];
        out.copy_from_slice(&self.buf[self.pos..end]);
        self.pos = end;
        Ok(out)
    }
    fn i8(&mut self, what: &str) -> std::result::Result<i8, String> {
        self.take::<1>(what).map(i8::from_be_bytes)
    }
    fn i16(&mut self, what: &str) -> std::result::Result<i16, String> {
        self.take::<2>(what).map(i16::from_be_bytes)
    }
    fn i32(&mut self, what: &str) -> std::result::Result<i32, String> {
        self.take::<4>(what).map(i32::from_be_bytes)
    }
    fn u32(&mut self, what: &str) -> std::result::Result<u32, String> {
        self.take::<4>(what).map(u32::from_be_bytes)
    }
    fn i64(&mut self, what: &str) -> std::result::Result<i64, String> {
        self.take::<8>(what).map(i64::from_be_bytes)
    }
}

/// Decode a snapshot; the error is the detail of an [`Error::Corrupt`].
fn decode_snapshot(bytes: &[u8]) -> std::result::Result<HashMap<i64, ProducerEntry>, String> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let version = r.i16("version")?;
    if version != SNAPSHOT_VERSION {
        return Err(format!(
            "unsupported producer snapshot version {version} (expected {SNAPSHOT_VERSION})"
        ));
    }
    let stored_crc = r.u32("crc")?;
    let body = &bytes[SNAPSHOT_HEADER_LEN..];
    let actual_crc = crc32c::crc32c(body);
    if stored_crc != actual_crc {
        return Err(format!(
            "CRC mismatch: stored {stored_crc:#010x}, computed {actual_crc:#010x}"
        ));
    }
    let count = r.i32("producer count")?;
    let count = usize::try_from(count).map_err(|_| format!("negative producer count {count}"))?;
    // Every entry takes at least ENTRY_HEADER_LEN bytes: reject absurd counts before allocating.
    if count > body.len() / ENTRY_HEADER_LEN {
        return Err(format!(
            "producer count {count} does not fit in {} bytes",
            body.len()
        ));
    }
    let mut producers = HashMap::with_capacity(count);
    for i in 0..count {
        let producer_id = r.i64("producer id")?;
        if producer_id < 0 {
            return Err(format!("entry {i}: invalid producer id {producer_id}"));
        }
        let producer_epoch = r.i16("producer epoch")?;
        let last_timestamp_ms = r.i64("last timestamp")?;
        let batch_count = r.i8("batch count")?;
        let batch_count = usize::try_from(batch_count)
            .ok()
            .filter(|&n| n <= NUM_BATCHES_TO_RETAIN)
            .ok_or_else(|| {
                format!(
                    "entry {i} (producer {producer_id}): batch count {batch_count} \
                     outside 0..={NUM_BATCHES_TO_RETAIN}"
                )
            })?;
        let mut batches = VecDeque::with_capacity(NUM_BATCHES_TO_RETAIN);
        for _ in 0..batch_count {
            batches.push_back(BatchMetadata {
                first_sequence: r.i32("first sequence")?,
                last_sequence: r.i32("last sequence")?,
                first_offset: r.i64("first offset")?,
                last_offset: r.i64("last offset")?,
                max_timestamp: r.i64("max timestamp")?,
            });
        }
        let entry = ProducerEntry {
            producer_epoch,
            batches,
            last_timestamp_ms,
        };
        match producers.entry(producer_id) {
            Entry::Occupied(_) => {
                return Err(format!("entry {i}: producer {producer_id} appears twice"))
            }
            Entry::Vacant(v) => {
                v.insert(entry);
            }
        }
    }
    if r.pos != bytes.len() {
        return Err(format!(
            "{} trailing bytes after {count} producers",
            bytes.len() - r.pos
        ));
    }
    Ok(producers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{MAGIC_V2, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE};
    use crate::storage::RealStorage;

    const EXPIRATION: i64 = 1_000;

    /// A data batch of `count` records.
    fn batch(pid: i64, epoch: i16, seq: i32, count: i32, base_offset: i64, ts: i64) -> BatchHeader {
        BatchHeader {
            base_offset,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: MAGIC_V2,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: ts,
            max_timestamp: ts,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            records_count: count,
        }
    }

    fn append(m: &mut ProducerStateManager, batches: &[BatchHeader]) -> Result<Prepared> {
        let prepared = m.prepare(batches)?;
        match prepared {
            Prepared::Append(update) => {
                m.apply(update);
                Ok(Prepared::Append(ProducerUpdate::default()))
            }
            dup => Ok(dup),
        }
    }

    fn assert_appended(r: Result<Prepared>) {
        match r {
            Ok(Prepared::Append(_)) => {}
            other => panic!("expected Append, got {other:?}"),
        }
    }

    fn assert_out_of_order(r: Result<Prepared>, expected: i32, received: i32) {
        match r {
            Err(Error::OutOfOrderSequence {
                expected_sequence,
                received_sequence,
                ..
            }) => assert_eq!((expected_sequence, received_sequence), (expected, received)),
            other => panic!("expected OutOfOrderSequence({expected}, {received}), got {other:?}"),
        }
    }

    #[test]
    fn first_batch_of_an_unknown_producer_is_accepted_with_any_sequence() {
        let mut m = ProducerStateManager::new(EXPIRATION);
        assert!(m.is_empty());
        assert_appended(append(&mut m, &[batch(7, 0, 42, 3, 100, 10)]));
        let e = m.entry(7).unwrap();
        assert_eq!(e.producer_epoch, 0);
        assert_eq!(e.last_sequence(), Some(44));
        assert_eq!(e.last_offset(), Some(102));
        assert_eq!(e.last_timestamp_ms, 10);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn prepare_changes_nothing_until_apply() {
        let mut m = ProducerStateManager::new(EXPIRATION);
        let Prepared::Append(update) = m.prepare(&[batch(1, 0, 0, 2, 0, 1)]).unwrap() else {
            panic!("expected Append")
        };
        assert!(!update.is_empty());
        assert!(m.entry(1).is_none(), "prepare must not change the state");
        // Dropping the update (the write failed) leaves the state as it was.
        drop(update);
        assert!(m.is_empty());
        let Prepared::Append(update) = m.prepare(&[batch(1, 0, 0, 2, 0, 1)]).unwrap() else {
            panic!("expected Append")
        };
        m.apply(update);
        assert_eq!(m.entry(1).unwrap().last_sequence(), Some(1));
    }

    #[test]
    fn batches_without_producer_id_and_control_batches_are_ignored() {
        let mut m = ProducerStateManager::new(EXPIRATION);
        let plain = batch(NO_PRODUCER_ID, NO_PRODUCER_EPOCH, NO_SEQUENCE, 3, 0, 1);
        let Prepared::Append(update) = m.prepare(&[plain]).unwrap() else {
            panic!("expected Append")
        };
        assert!(update.is_empty());
        m.apply(update);
        m.replay(&plain);
        assert!(m.is_empty());

        assert_appended(append(&mut m, &[batch(1, 0, 0, 1, 0, 1)]));
        let mut marker = batch(1, 0, NO_SEQUENCE, 1, 1, 2);
        marker.attributes =
            crate::batch::attributes::CONTROL | crate::batch::attributes::TRANSACTIONAL;
        assert_appended(append(&mut m, &[marker]));
        m.replay(&marker);
        assert_eq!(m.entry(1).unwrap().batches.len(), 1);
        assert_eq!(m.entry(1).unwrap().last_sequence(), Some(0));
    }

    #[test]
    fn transactional_batches_update_the_state_like_idempotent_ones() {
        let mut m = ProducerStateManager::new(EXPIRATION);
        let mut b = batch(1, 0, 0, 2, 0, 1);
        b.attributes = crate::batch::attributes::TRANSACTIONAL;
        assert!(b.is_transactional());
        assert_appended(append(&mut m, &[b]));
        assert_out_of_order(append(&mut m, &[batch(1, 0, 5, 1, 2, 1)]), 2, 5);
    }

    #[test]
    fn duplicate_returns_the_original_offsets_and_is_not_appended() {
        let mut m = ProducerStateManager::new(EXPIRATION);
        assert_appended(append(&mut m, &[batch(1, 0, 0, 3, 100, 50)]));
        assert_appended(append(&mut m, &[batch(1, 0, 3, 2, 103, 60)]));
        let before = m.clone();
        // The retry got new offsets stamped (200..) but must be answered with the original ones.
        match m.prepare(&[batch(1, 0, 0, 3, 200, 70)]).unwrap() {
            Prepared::Duplicate(meta) => assert_eq!(
                meta,
                BatchMetadata {
                    first_sequence: 0,
                    last_sequence: 2,
                    first_offset: 100,
                    last_offset: 102,
                    max_timestamp: 50
                }
            ),
            other => panic!("expected Duplicate, got {other:?}"),
        }
        match m.prepare(&[batch(1, 0, 3, 2, 200, 70)]).unwrap() {
            Prepared::Duplicate(meta) => {
                assert_eq!((meta.first_offset, meta.last_offset), (103, 104))
            }
            other => panic!("expected Duplicate, got {other:?}"),
        }
        assert_eq!(m, before, "a duplicate changes nothing");
        // Same first sequence, different length: not a duplicate, and out of order.
        assert_out_of_order(m.prepare(&[batch(1, 0, 0, 2, 200, 70)]), 5, 0);
        // Same sequences under a newer epoch: not a duplicate (and seq 0 starts the new epoch).
        assert_appended(append(&mut m, &[batch(1, 1, 0, 3, 200, 70)]));
        assert_eq!(
            m.entry(1).unwrap().batches.len(),
            1,
            "a new epoch clears the cache"
        );
    }

    #[test]
    fn gap_is_out_of_order_with_expected_and_received() {
        let mut m = ProducerStateManager::new(EXPIRATION);
        assert_appended(append(&mut m, &[batch(1, 0, 0, 5, 0, 1)]));
        assert_out_of_order(m.prepare(&[batch(1, 0, 6, 1, 5, 1)]), 5, 6);
        assert_out_of_order(m.prepare(&[batch(1, 0, 3, 1, 5, 1)]), 5, 3);
        match m.prepare(&[batch(1, 0, 9, 1, 5, 1)]) {
            Err(e @ Error::OutOfOrderSequence { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains("producer 1") && text.contains("expected 5, got 9"),
                    "{text}"
                );
            }
            other => panic!("expected OutOfOrderSequence, got {other:?}"),
        }
        assert_appended(append(&mut m, &[batch(1, 0, 5, 1, 5, 1)]));
    }

    #[test]
    fn older_epoch_is_fenced() {
        let mut m = ProducerStateManager::new(EXPIRATION);
        assert_appended(append(&mut m, &[batch(1, 3, 0, 1, 0, 1)]));
        match m.prepare(&[batch(1, 2, 1, 1, 1, 1)]) {
            Err(Error::ProducerFenced {
                producer_id: 1,
                producer_epoch: 2,
                current_epoch: 3,
            }) => {}
            other => panic!("expected ProducerFenced, got {other:?}"),
        }
        // Even a batch that matches an old cached sequence range is fenced, not a duplicate.
        assert!(matches!(
            m.prepare(&[batch(1, 2, 0, 1, 1, 1)]),
            Err(Error::ProducerFenced { .. })
        ));
    }

    #[test]
    fn newer_epoch_must_start_at_sequence_zero() {
        let mut m = ProducerStateManager::new(EXPIRATION);
        assert_appended(append(&mut m, &[batch(1, 0, 0, 10, 0, 1)]));
        assert_out_of_order(m.prepare(&[batch(1, 1, 5, 1, 10, 1)]), 0, 5);
        assert_appended(append(&mut m, &[batch(1, 1, 0, 1, 10, 1)]));
        let e = m.entry(1).unwrap();
        assert_eq!((e.producer_epoch, e.last_sequence()), (1, Some(0)));
        // The old epoch is now fenced.
        assert!(matches!(
            m.prepare(&[batch(1, 0, 10, 1, 11, 1)]),
            Err(Error::ProducerFenced { .. })
        ));
    }

    #[test]
    fn sequence_wraps_at_i32_max() {
        let mut m = ProducerStateManager::new(EXPIRATION);
        assert_appended(append(&mut m, &[batch(1, 0, i32::MAX - 1, 2, 0, 1)]));
        assert_eq!(m.entry(1).unwrap().last_sequence(), Some(i32::MAX));
        assert_out_of_order(m.prepare(&[batch(1, 0, 1, 1, 2, 1)]), 0, 1);
        assert_appended(append(&mut m, &[batch(1, 0, 0, 1, 2, 1)]));
        // A batch spanning the wrap: MAX, 0, 1.
        let mut m = ProducerStateManager::new(EXPIRATION);
        assert_appended(append(&mut m, &[batch(1, 0, i32::MAX, 3, 0, 1)]));
        assert_eq!(m.entry(1).unwrap().last_sequence(), Some(1));
        assert_appended(append(&mut m, &[batch(1, 0, 2, 1, 3, 1)]));
        assert!(matches!(
            m.prepare(&[batch(1, 0, i32::MAX, 3, 9, 1)]).unwrap(),
            Prepared::Duplicate(BatchMetadata {
                first_offset: 0,
                ..
            })
        ));
    }

    #[test]
    fn only_the_last_five_batches_are_cached() {
        let mut m = ProducerStateManager::new(EXPIRATION);
        for i in 0..6 {
            assert_appended(append(
                &mut m,
                &[batch(1, 0, i * 2, 2, i64::from(i) * 2, 1)],
            ));
        }
        let e = m.entry(1).unwrap();
        assert_eq!(e.batches.len(), NUM_BATCHES_TO_RETAIN);
        assert_eq!(e.batches.front().unwrap().first_sequence, 2);
        // The oldest batch (seq 0..=1) fell out of the window: its retry is out of order.
        assert_out_of_order(m.prepare(&[batch(1, 0, 0, 2, 12, 1)]), 12, 0);
        // The five newest are still duplicates.
        for i in 1..6 {
            match m.prepare(&[batch(1, 0, i * 2, 2, 12, 1)]).unwrap() {
                Prepared::Duplicate(meta) => assert_eq!(meta.first_offset, i64::from(i) * 2),
                other => panic!("expected Duplicate, got {other:?}"),
            }
        }
    }

    #[test]
    fn several_batches_in_one_append_chain() {
        let mut m = ProducerStateManager::new(EXPIRATION);
        assert_appended(append(
            &mut m,
            &[
                batch(1, 0, 0, 2, 0, 1),
                batch(2, 0, 7, 1, 2, 1),
                batch(1, 0, 2, 3, 3, 2),
                batch(NO_PRODUCER_ID, NO_PRODUCER_EPOCH, NO_SEQUENCE, 1, 6, 2),
                batch(1, 0, 5, 1, 7, 3),
            ],
        ));
        let e = m.entry(1).unwrap();
        assert_eq!(e.batches.len(), 3);
        assert_eq!((e.last_sequence(), e.last_offset()), (Some(5), Some(7)));
        assert_eq!(e.last_timestamp_ms, 3);
        assert_eq!(m.entry(2).unwrap().last_sequence(), Some(7));

        // The second batch is checked against the first, and a failure stages nothing.
        let before = m.clone();
        assert_out_of_order(
            m.prepare(&[batch(1, 0, 6, 2, 8, 4), batch(1, 0, 9, 1, 10, 4)]),
            8,
            9,
        );
        assert_eq!(m, before);
        // A new epoch in the first batch: the second continues it.
        assert_appended(append(
            &mut m,
            &[batch(1, 1, 0, 2, 8, 4), batch(1, 1, 2, 1, 10, 4)],
        ));
        assert_out_of_order(
            m.prepare(&[batch(2, 1, 0, 2, 11, 4), batch(2, 1, 5, 1, 13, 4)]),
            2,
            5,
        );
    }

    #[test]
    fn replay_updates_without_checks() {
        let mut m = ProducerStateManager::new(EXPIRATION);
        m.replay(&batch(1, 5, 10, 1, 0, 1));
        m.replay(&batch(1, 5, 30, 1, 1, 1)); // a gap: accepted
        m.replay(&batch(1, 4, 0, 1, 2, 1)); // an older epoch: taken as is
        let e = m.entry(1).unwrap();
        assert_eq!(e.producer_epoch, 4);
        assert_eq!(e.batches.len(), 1);
        assert_eq!(e.last_offset(), Some(2));
    }

    #[test]
    fn expiration_drops_idle_producers() {
        let mut m = ProducerStateManager::new(EXPIRATION);
        assert_appended(append(&mut m, &[batch(1, 0, 0, 1, 0, 1_000)]));
        assert_appended(append(&mut m, &[batch(2, 0, 0, 1, 1, 1_500)]));
        assert_eq!(m.expire(1_999), 0);
        assert_eq!(
            m.expire(2_000),
            1,
            "now - last = expiration: expired, as Kafka"
        );
        assert!(m.entry(1).is_none());
        assert!(m.entry(2).is_some());
        // An expired producer is unknown again: any sequence is accepted.
        assert_appended(append(&mut m, &[batch(1, 0, 77, 1, 2, 2_100)]));
        assert_eq!(m.expire(i64::MAX), 2);
        m.replay(&batch(3, 0, 0, 1, 3, i64::MIN));
        assert_eq!(
            m.expire(i64::MIN + 1),
            0,
            "no overflow on extreme timestamps"
        );
        assert_eq!(m.len(), 1);
    }

    fn sample_state() -> ProducerStateManager {
        let mut m = ProducerStateManager::new(EXPIRATION);
        for i in 0..7 {
            m.replay(&batch(
                1,
                2,
                i * 3,
                3,
                i64::from(i) * 10,
                100 + i64::from(i),
            ));
        }
        m.replay(&batch(9_000_000_000, 0, i32::MAX, 4, 100, -1));
        m.replay(&batch(5, i16::MAX, 0, 1, 101, 7));
        m
    }

    #[test]
    fn snapshot_round_trip_and_listing() {
        let dir = tempfile::tempdir().unwrap();
        let storage = RealStorage;
        assert_eq!(snapshot_file_name(1234), "00000000000000001234.snapshot");
        assert_eq!(
            ProducerStateManager::list_snapshots(&storage, dir.path()).unwrap(),
            vec![]
        );

        let m = sample_state();
        m.write_snapshot(&storage, dir.path(), 102).unwrap();
        let loaded =
            ProducerStateManager::load_snapshot(&storage, dir.path(), 102, EXPIRATION).unwrap();
        assert_eq!(loaded, m);
        assert_eq!(
            loaded.entry(1).unwrap().batches.len(),
            NUM_BATCHES_TO_RETAIN
        );
        // Deterministic bytes (sorted by producer id).
        let bytes = std::fs::read(dir.path().join(snapshot_file_name(102))).unwrap();
        assert_eq!(bytes, m.encode_snapshot());

        ProducerStateManager::new(EXPIRATION)
            .write_snapshot(&storage, dir.path(), 0)
            .unwrap();
        assert!(
            ProducerStateManager::load_snapshot(&storage, dir.path(), 0, EXPIRATION)
                .unwrap()
                .is_empty()
        );
        for offset in [50, 7, 200] {
            m.write_snapshot(&storage, dir.path(), offset).unwrap();
        }
        std::fs::write(dir.path().join("00000000000000000000.log"), b"").unwrap();
        std::fs::write(dir.path().join("junk.snapshot"), b"").unwrap();
        std::fs::write(dir.path().join("00000000000000000300.snapshot.tmp"), b"").unwrap();
        let list = ProducerStateManager::list_snapshots(&storage, dir.path()).unwrap();
        assert_eq!(list, vec![0, 7, 50, 102, 200]);

        let at =
            |o| ProducerStateManager::latest_snapshot_at_or_below(&storage, dir.path(), o).unwrap();
        assert_eq!(at(-1), None);
        assert_eq!(at(0), Some(0));
        assert_eq!(at(101), Some(50));
        assert_eq!(at(102), Some(102));
        assert_eq!(at(i64::MAX), Some(200));

        // Missing snapshot: an I/O NotFound naming the file.
        match ProducerStateManager::load_snapshot(&storage, dir.path(), 1, EXPIRATION) {
            Err(Error::Io { path, source }) => {
                assert_eq!(path, dir.path().join(snapshot_file_name(1)));
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected Io NotFound, got {other:?}"),
        }
    }

    #[test]
    fn snapshot_deletion_above_and_below() {
        let dir = tempfile::tempdir().unwrap();
        let storage = RealStorage;
        let m = sample_state();
        for offset in [10, 20, 30, 40] {
            m.write_snapshot(&storage, dir.path(), offset).unwrap();
        }
        let list = || ProducerStateManager::list_snapshots(&storage, dir.path()).unwrap();
        ProducerStateManager::delete_snapshots_above(&storage, dir.path(), 40).unwrap();
        assert_eq!(list(), vec![10, 20, 30, 40]);
        ProducerStateManager::delete_snapshots_above(&storage, dir.path(), 30).unwrap();
        assert_eq!(list(), vec![10, 20, 30]);
        ProducerStateManager::delete_snapshots_above(&storage, dir.path(), 21).unwrap();
        assert_eq!(list(), vec![10, 20]);

        m.write_snapshot(&storage, dir.path(), 30).unwrap();
        ProducerStateManager::delete_snapshots_below(&storage, dir.path(), 5).unwrap();
        assert_eq!(list(), vec![10, 20, 30], "nothing at or below 5: keep all");
        ProducerStateManager::delete_snapshots_below(&storage, dir.path(), 25).unwrap();
        assert_eq!(
            list(),
            vec![20, 30],
            "20 is the latest at or below 25: kept"
        );
        ProducerStateManager::delete_snapshots_below(&storage, dir.path(), 30).unwrap();
        assert_eq!(list(), vec![30]);
        ProducerStateManager::delete_snapshots_above(&storage, dir.path(), -1).unwrap();
        assert_eq!(list(), Vec::<i64>::new());
    }

    #[test]
    fn corrupt_snapshots_are_detected_and_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let storage = RealStorage;
        let m = sample_state();
        m.write_snapshot(&storage, dir.path(), 5).unwrap();
        let path = dir.path().join(snapshot_file_name(5));
        let good = std::fs::read(&path).unwrap();

        let expect_corrupt = |bytes: &[u8], what: &str| {
            std::fs::write(&path, bytes).unwrap();
            match ProducerStateManager::load_snapshot(&storage, dir.path(), 5, EXPIRATION) {
                Err(Error::Corrupt { path: p, detail }) => {
                    assert_eq!(p, path);
                    assert!(detail.contains(what), "wanted {what:?}, got {detail:?}");
                }
                other => panic!("expected Corrupt ({what}), got {other:?}"),
            }
        };
        // Every single flipped bit in the body fails the CRC.
        for i in SNAPSHOT_HEADER_LEN..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            expect_corrupt(&bad, "CRC mismatch");
        }
        let mut bad = good.clone();
        bad[3] ^= 1;
        expect_corrupt(&bad, "CRC mismatch");
        let mut bad = good.clone();
        bad[1] = 9;
        expect_corrupt(&bad, "unsupported producer snapshot version 9");
        expect_corrupt(&[], "truncated at byte 0 reading version");
        expect_corrupt(&good[..4], "truncated");
        expect_corrupt(&good[..good.len() - 1], "CRC mismatch");

        // Structurally bad bodies with a valid CRC.
        let with_body = |body: &[u8]| {
            let mut out = SNAPSHOT_VERSION.to_be_bytes().to_vec();
            out.extend_from_slice(&crc32c::crc32c(body).to_be_bytes());
            out.extend_from_slice(body);
            out
        };
        expect_corrupt(&with_body(&[]), "truncated");
        expect_corrupt(
            &with_body(&(-1i32).to_be_bytes()),
            "negative producer count",
        );
        expect_corrupt(&with_body(&i32::MAX.to_be_bytes()), "does not fit");
        let entry = |pid: i64, batches: i8| {
            let mut e = pid.to_be_bytes().to_vec();
            e.extend_from_slice(&0i16.to_be_bytes());
            e.extend_from_slice(&0i64.to_be_bytes());
            e.push(batches as u8);
            e
        };
        let mut body = 1i32.to_be_bytes().to_vec();
        body.extend(entry(1, 6));
        expect_corrupt(&with_body(&body), "batch count 6");
        let mut body = 1i32.to_be_bytes().to_vec();
        body.extend(entry(-3, 0));
        expect_corrupt(&with_body(&body), "invalid producer id -3");
        let mut body = 1i32.to_be_bytes().to_vec();
        body.extend(entry(1, 1));
        expect_corrupt(&with_body(&body), "truncated");
        let mut body = 2i32.to_be_bytes().to_vec();
        body.extend(entry(1, 0));
        body.extend(entry(1, 0));
        expect_corrupt(&with_body(&body), "appears twice");
        let mut body = 1i32.to_be_bytes().to_vec();
        body.extend(entry(1, 0));
        body.push(0);
        expect_corrupt(&with_body(&body), "1 trailing bytes");
    }

    mod model {
        //! Random appends against a simple model that keeps every producer's whole history.

        use super::*;
        use proptest::prelude::*;

        #[derive(Clone, Debug)]
        struct Op {
            pid: i64,
            epoch: i16,
            /// 0: next sequence, 1: retry of a recent batch, 2: arbitrary sequence.
            kind: u8,
            back: usize,
            seq: i32,
            count: i32,
            /// Append a second batch of the same producer continuing this one.
            chained: bool,
        }

        fn op() -> impl Strategy<Value = Op> {
            (
                0i64..3,
                0i16..3,
                0u8..3,
                0usize..8,
                0i32..20,
                1i32..4,
                any::<bool>(),
            )
                .prop_map(|(pid, epoch, kind, back, seq, count, chained)| Op {
                    pid,
                    epoch,
                    kind,
                    back,
                    seq,
                    count,
                    chained,
                })
        }

        /// Every batch a producer got into the log, with its epoch.
        #[derive(Default, Clone)]
        struct History(Vec<(i16, BatchMetadata)>);

        #[derive(Debug, PartialEq)]
        enum Outcome {
            Appended,
            Duplicate(BatchMetadata),
            OutOfOrder,
            Fenced,
        }

        /// The cached batch (one of the last five of the current epoch) a batch duplicates.
        fn model_duplicate(
            h: &History,
            epoch: i16,
            first: i32,
            last: i32,
        ) -> Option<BatchMetadata> {
            let &(cur_epoch, _) = h.0.last()?;
            if epoch != cur_epoch {
                return None;
            }
            h.0.iter()
                .rev()
                .take_while(|(e, _)| *e == cur_epoch)
                .take(5)
                .map(|(_, b)| *b)
                .find(|b| b.first_sequence == first && b.last_sequence == last)
        }

        /// The sequence/epoch verdict on a batch that is not a duplicate.
        fn model_sequence(h: &History, epoch: i16, first: i32) -> Outcome {
            let Some(&(cur_epoch, last_batch)) = h.0.last() else {
                return Outcome::Appended;
            };
            let next = if last_batch.last_sequence == i32::MAX {
                0
            } else {
                last_batch.last_sequence + 1
            };
            match epoch.cmp(&cur_epoch) {
                std::cmp::Ordering::Less => Outcome::Fenced,
                std::cmp::Ordering::Greater if first == 0 => Outcome::Appended,
                std::cmp::Ordering::Equal if first == next => Outcome::Appended,
                _ => Outcome::OutOfOrder,
            }
        }

        fn check_against_model(ops: Vec<Op>) -> std::result::Result<(), TestCaseError> {
            let dir = tempfile::tempdir().unwrap();
            let mut m = ProducerStateManager::new(i64::MAX);
            let mut histories: HashMap<i64, History> = HashMap::new();
            let mut log: Vec<BatchHeader> = Vec::new();
            let mut next_offset = 0i64;
            for op in ops {
                let h = histories.entry(op.pid).or_default().clone();
                let (first, count) = match (op.kind, h.0.len()) {
                    (1, n) if n > 0 => {
                        let (_, b) = h.0[n - 1 - op.back % n];
                        (
                            b.first_sequence,
                            b.last_sequence.wrapping_sub(b.first_sequence) + 1,
                        )
                    }
                    (0, _) => (h.0.last().map_or(0, |(_, b)| b.last_sequence + 1), op.count),
                    _ => (op.seq, op.count),
                };
                let b1 = batch(op.pid, op.epoch, first, count, next_offset, next_offset);
                let mut batches = vec![b1];
                if op.chained {
                    batches.push(batch(
                        op.pid,
                        op.epoch,
                        b1.last_sequence() + 1,
                        1,
                        b1.next_offset(),
                        next_offset,
                    ));
                }
                // Model: duplicates are looked up in the stored state (as Kafka), the
                // sequence is checked against the batches before it in the append.
                let mut staged = h.clone();
                let mut expected = Outcome::Appended;
                for b in &batches {
                    if let Some(dup) =
                        model_duplicate(&h, b.producer_epoch, b.base_sequence, b.last_sequence())
                    {
                        expected = Outcome::Duplicate(dup);
                        break;
                    }
                    match model_sequence(&staged, b.producer_epoch, b.base_sequence) {
                        Outcome::Appended => {
                            staged.0.push((b.producer_epoch, BatchMetadata::of(b)))
                        }
                        other => {
                            expected = other;
                            break;
                        }
                    }
                }
                let actual = match m.prepare(&batches) {
                    Ok(Prepared::Append(update)) => {
                        m.apply(update);
                        log.extend_from_slice(&batches);
                        next_offset = batches.last().unwrap().next_offset();
                        histories.insert(op.pid, staged);
                        Outcome::Appended
                    }
                    Ok(Prepared::Duplicate(meta)) => Outcome::Duplicate(meta),
                    Err(Error::OutOfOrderSequence { .. }) => Outcome::OutOfOrder,
                    Err(Error::ProducerFenced { .. }) => Outcome::Fenced,
                    Err(e) => panic!("unexpected error {e}"),
                };
                prop_assert_eq!(actual, expected);
            }

            // The state equals the model's last five batches per producer...
            for (pid, h) in &histories {
                let e = m.entry(*pid).unwrap();
                let (epoch, _) = *h.0.last().unwrap();
                let want: Vec<_> =
                    h.0.iter()
                        .rev()
                        .take_while(|(ep, _)| *ep == epoch)
                        .take(5)
                        .map(|(_, b)| *b)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect();
                prop_assert_eq!(e.producer_epoch, epoch);
                prop_assert_eq!(e.batches.iter().copied().collect::<Vec<_>>(), want);
            }
            // ...replaying the log (follower, recovery) rebuilds exactly the leader's state...
            let mut replayed = ProducerStateManager::new(i64::MAX);
            for b in &log {
                replayed.replay(b);
            }
            prop_assert_eq!(&replayed, &m);
            // ...and a snapshot round-trips it.
            m.write_snapshot(&RealStorage, dir.path(), next_offset)
                .unwrap();
            let loaded = ProducerStateManager::load_snapshot(
                &RealStorage,
                dir.path(),
                next_offset,
                i64::MAX,
            )
            .unwrap();
            prop_assert_eq!(&loaded, &m);
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn random_appends_match_the_model(ops in proptest::collection::vec(op(), 1..60)) {
                check_against_model(ops)?;
            }
        }
    }
}
