//! The partition log: an ordered sequence of segments with one writer, many readers, group
//! commit, retention, truncation and crash recovery.
//!
//! ```text
//!   append(batches) ──validate──► assign offsets, stamp epoch ──► producer-state check ──► pwritev
//!        │                                                                                  │
//!        └── returns offsets once the bytes are in the page cache ◄──────────────────────────┘
//!   flush_until(offset) ── one fdatasync per dirty segment serves every waiting appender
//! ```
//!
//! Concurrency: appends, truncation and retention take the state lock for writing; reads take it
//! for reading only to find positions, then read the file outside it. Flushing is a separate
//! protocol ([`PartitionLog::flush_until`]): one thread at a time syncs the segments written since
//! the last sync while others wait on a condition variable, so concurrent appenders share one
//! fdatasync (group commit). Partitions are independent and flush concurrently.
//!
//! Files in the partition directory: `<base>.log`, `<base>.index`, `<base>.timeindex`,
//! `<offset>.snapshot` (producer state at a segment roll and at close), `leader-epoch-checkpoint`,
//! `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint` and, between a clean close
//! and the next open, `.clean-shutdown`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use tracing::{info, warn};

use crate::batch::{self, BatchHeader, RecordBatch};
use crate::checkpoint::{self, CLEAN_SHUTDOWN, LOG_START_OFFSET, RECOVERY_POINT};
use crate::cleaner::{self, CleanParams, CleanStats, SegmentView};
use crate::clock::Clock;
use crate::config::LogConfig;
use crate::epoch::LeaderEpochCache;
use crate::error::{Error, IoContext, Result};
use crate::producer::{Prepared, ProducerStateManager};
use crate::segment::{self, Segment, SegmentPaths, StampedBatch, LOG_SUFFIX};
use crate::storage::{Storage, StorageFile};

/// What an append did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the first record appended (or of the original, for a duplicate).
    pub first_offset: i64,
    /// Offset of the last record appended (or of the original, for a duplicate).
    pub last_offset: i64,
    /// The largest timestamp among the appended batches.
    pub max_timestamp: i64,
    /// Whether the batch was a retry of one already in the log: nothing was written and the
    /// offsets are the original ones.
    pub duplicate: bool,
    /// The log start offset after the append.
    pub log_start_offset: i64,
}

/// What [`PartitionLog::append_deferred`] did, and what the flush policy still asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The append's offsets.
    pub info: AppendInfo,
    /// When set, `flush.messages` asks that every offset below this be durable before the
    /// append is acknowledged: call [`PartitionLog::flush_until`] with it.
    pub flush_until: Option<i64>,
}

/// What a read returned: whole batches, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadResult {
    /// Concatenated record batches (possibly empty).
    pub records: Bytes,
    /// The log start offset at the time of the read.
    pub log_start_offset: i64,
    /// The log end offset at the time of the read.
    pub log_end_offset: i64,
}

/// Statistics of one open, for logs and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Whether the previous close was clean.
    pub clean: bool,
    /// Segments whose batches were validated one by one.
    pub segments_scanned: usize,
    /// Segments whose indexes disagreed with the log and were rebuilt.
    pub indexes_rebuilt: usize,
    /// Bytes cut from the log (torn writes, corruption, and segments after them).
    pub bytes_truncated: u64,
}

struct State {
    config: LogConfig,
    segments: BTreeMap<i64, Segment>,
    log_start_offset: i64,
    log_end_offset: i64,
    producers: ProducerStateManager,
    epochs: LeaderEpochCache,
    /// Segment files written since the last flush pass took them.
    dirty: Vec<(PathBuf, Arc<dyn StorageFile>)>,
    unflushed_messages: u64,
    first_unflushed_ms: Option<i64>,
    /// New segments whose directory entries are not yet durable: the next flush pass syncs the
    /// directory after the data of the segments before them.
    directory_dirty: bool,
    /// Producer state captured at the last roll, written by the next flush pass.
    pending_snapshot: Option<PendingSnapshot>,
    /// Set after a failed write or fsync: the page cache can no longer be trusted.
    offline: Option<String>,
}

struct FlushState {
    /// Every offset below this is durable.
    flushed_offset: i64,
    in_progress: bool,
    /// The last recovery point persisted.
    recovery_point: i64,
    failed: Option<String>,
}

/// One partition's log. Thread-safe: share it in an `Arc`.
pub struct PartitionLog {
    dir: PathBuf,
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    state: RwLock<State>,
    flush: Mutex<FlushState>,
    flushed: Condvar,
    /// Held by a compaction pass from start to end, and by truncation: a pass that straddled a
    /// truncation could drop a record whose newer twin the truncation removed. It remembers
    /// the last pass, so passes over unchanged segments are skipped.
    cleaning: Mutex<CleanerState>,
    report: RecoveryReport,
}

impl std::fmt::Debug for PartitionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionLog")
            .field("dir", &self.dir)
            .finish()
    }
}

/// Keep the lock usable if a thread panicked while holding it: the state it protects is
/// updated only after the I/O it describes has succeeded.
fn relock<G>(r: std::sync::LockResult<G>) -> G {
    r.unwrap_or_else(|e| e.into_inner())
}

impl PartitionLog {
    /// Open the log in `dir` (creating it if needed), recovering from an unclean shutdown: the
    /// segments after the recovery point are validated batch by batch and cut at the first
    /// invalid one, indexes that disagree with the log are rebuilt, and producer state and the
    /// leader-epoch cache are brought up to the log end.
    pub fn open(
        dir: impl Into<PathBuf>,
        config: LogConfig,
        storage: Arc<dyn Storage>,
        clock: Arc<dyn Clock>,
    ) -> Result<PartitionLog> {
        config.validate()?;
        let dir = dir.into();
        storage.create_dir_all(&dir).at(&dir)?;
        let now = clock.now_ms();
        let names = storage.list_dir(&dir).at(&dir)?;
        cleaner::finish_interrupted_swaps(storage.as_ref(), &dir, &names)?;
        let names = storage.list_dir(&dir).at(&dir)?;
        remove_leftovers(storage.as_ref(), &dir, &names)?;
        let bases: Vec<i64> = names
            .iter()
            .filter_map(|n| segment::parse_base_offset(n, LOG_SUFFIX))
            .collect();

        let clean = storage.exists(&dir.join(CLEAN_SHUTDOWN));
        let mut report = RecoveryReport {
            clean,
            ..RecoveryReport::default()
        };
        let log_start_ckpt = checkpoint::read_offset(storage.as_ref(), &dir, LOG_START_OFFSET)?;
        let recovery_point =
            checkpoint::read_offset(storage.as_ref(), &dir, RECOVERY_POINT)?.unwrap_or(0);
        let mut epochs = LeaderEpochCache::load(storage.as_ref(), &dir)?;
        let epochs_before = epochs.clone();

        let scan_from = bases
            .iter()
            .copied()
            .filter(|&b| b <= recovery_point)
            .max()
            .unwrap_or(i64::MIN);
        let ctx = OpenContext {
            storage: storage.as_ref(),
            dir: &dir,
            config: &config,
            now,
        };
        let mut segments = load_segments(&ctx, &bases, scan_from, &mut epochs, &mut report)?;
        if segments.is_empty() {
            let base = log_start_ckpt.unwrap_or(0).max(0);
            segments.insert(
                base,
                Segment::create(storage.as_ref(), &dir, base, &config, now)?,
            );
        }
        let first_base = segments.keys().next().copied().unwrap_or(0);
        let log_end_offset = segments.values().next_back().map_or(0, |s| s.next_offset);
        let log_start_offset = log_start_ckpt
            .unwrap_or(first_base)
            .max(first_base)
            .min(log_end_offset);

        // A cut below the recovery point (corruption in data once fsynced) lowers it, so the
        // segments written after it are scanned if the next stop is unclean too.
        let recovery_point = if recovery_point > log_end_offset {
            checkpoint::write_offset(storage.as_ref(), &dir, RECOVERY_POINT, log_end_offset)?;
            log_end_offset
        } else {
            recovery_point
        };
        epochs.truncate_from_end(log_end_offset);
        epochs.truncate_from_start(log_start_offset);
        if epochs != epochs_before {
            epochs.persist(storage.as_ref(), &dir)?;
        }

        let mut state = State {
            producers: ProducerStateManager::new(config.producer_id_expiration_ms),
            config,
            segments,
            log_start_offset,
            log_end_offset,
            epochs,
            dirty: Vec::new(),
            unflushed_messages: 0,
            first_unflushed_ms: None,
            directory_dirty: false,
            pending_snapshot: None,
            offline: None,
        };
        load_producer_state(&mut state, storage.as_ref(), &dir)?;
        state.producers.expire(now);

        // The marker's removal is durable before anything is appended (a later crash must not
        // look clean), and so are the removals of segments after a cut, before the cut itself
        // (else a crash in between would bring them back behind a hole).
        if clean {
            storage.remove_file(&dir.join(CLEAN_SHUTDOWN)).at(&dir)?;
        }
        storage.sync_dir(&dir).at(&dir)?;
        if !clean {
            // What recovery read may still be only in the page cache: make it durable before
            // calling it flushed.
            for seg in state
                .segments
                .values()
                .filter(|s| s.base_offset >= scan_from)
            {
                seg.log.sync_data().at(&seg.log_path)?;
            }
        }
        if !clean && !bases.is_empty() {
            info!(dir = %dir.display(), log_end_offset, ?report, "recovered partition log after an unclean shutdown");
        }
        Ok(PartitionLog {
            dir,
            storage,
            clock,
            state: RwLock::new(state),
            flush: Mutex::new(FlushState {
                flushed_offset: log_end_offset,
                in_progress: false,
                recovery_point,
                failed: None,
            }),
            flushed: Condvar::new(),
            cleaning: Mutex::new(CleanerState::default()),
            report,
        })
    }

    fn read_state(&self) -> RwLockReadGuard<'_, State> {
        relock(self.state.read())
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        relock(self.state.write())
    }

    fn flush_state(&self) -> MutexGuard<'_, FlushState> {
        relock(self.flush.lock())
    }

    /// The directory the log lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What the last open found.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// The offset the next appended record will get.
    pub fn log_end_offset(&self) -> i64 {
        self.read_state().log_end_offset
    }

    /// The first offset a reader may ask for.
    pub fn log_start_offset(&self) -> i64 {
        self.read_state().log_start_offset
    }

    /// Every offset below this is durable (fsynced).
    pub fn flushed_offset(&self) -> i64 {
        self.flush_state().flushed_offset
    }

    /// The configuration in force.
    pub fn config(&self) -> LogConfig {
        self.read_state().config.clone()
    }

    /// Replace the configuration (a topic's configs were altered). Segment sizes, retention,
    /// flush policy and limits apply from the next operation on; existing segments and indexes
    /// keep their files. Switching a topic to `compact` makes its next appends decode compressed
    /// batches too (the cleaner reads every key).
    pub fn set_config(&self, config: LogConfig) -> Result<()> {
        config.validate()?;
        let mut st = self.write_state();
        st.producers
            .set_expiration_ms(config.producer_id_expiration_ms);
        st.config = config;
        Ok(())
    }

    /// The offset and timestamp of the first record carrying the largest timestamp in the log
    /// (Kafka's ListOffsets `MAX_TIMESTAMP`); `None` for an empty log.
    pub fn max_timestamp(&self) -> Result<Option<(i64, i64)>> {
        let max = {
            let st = self.read_state();
            st.segments.values().map(|s| s.max_timestamp).max()
        };
        match max {
            Some(ts) if ts >= 0 => self.offset_for_timestamp(ts),
            _ => Ok(None),
        }
    }

    /// Number of segments (for tests and metrics).
    pub fn segment_count(&self) -> usize {
        self.read_state().segments.len()
    }

    /// Total bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.read_state().segments.values().map(|s| s.size).sum()
    }

    /// The latest leader epoch and the leader-epoch cache's answer for `requested_epoch`
    /// (KIP-279): the largest epoch at or below it and the offset where the next epoch starts.
    pub fn end_offset_for_epoch(&self, requested_epoch: i32) -> (i32, i64) {
        let st = self.read_state();
        st.epochs.end_offset_for(requested_epoch, st.log_end_offset)
    }

    /// The latest leader epoch stamped into the log.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.read_state().epochs.latest_epoch()
    }

    /// Append the record batches in `records` (one or more, as a Kafka producer sends them),
    /// assigning offsets and stamping `leader_epoch`. Returns once the bytes are written to the
    /// file (the page cache); durability follows [`PartitionLog::flush_until`] or the
    /// `flush.messages` policy, which this call applies before returning.
    pub fn append(&self, records: Bytes, leader_epoch: i32) -> Result<AppendInfo> {
        let appended = self.append_deferred(records, leader_epoch)?;
        if let Some(end) = appended.flush_until {
            let flushed = self.flush_until(end)?;
            if flushed < end {
                return Err(Error::TruncatedBeforeDurable {
                    last_offset: end - 1,
                    log_end_offset: flushed,
                });
            }
        }
        Ok(appended.info)
    }

    /// [`PartitionLog::append`] without waiting for the flush policy: the caller must call
    /// [`PartitionLog::flush_until`]`(flush_until)` before acknowledging when
    /// [`Appended::flush_until`] is set. A server does that off its request path, so appends that
    /// arrive while one fdatasync runs share the next (group commit). A duplicate whose original
    /// is not durable yet asks for the same flush when the policy would have asked it of the
    /// original.
    pub fn append_deferred(&self, records: Bytes, leader_epoch: i32) -> Result<Appended> {
        let (max_message_bytes, max_decompressed, compacted) = {
            let st = self.read_state();
            (
                st.config.max_message_bytes,
                st.config.max_message_bytes.saturating_mul(64),
                st.config.cleanup_policy.compact,
            )
        };
        let batches =
            validate_client_batches(&records, max_message_bytes, max_decompressed, compacted)?;
        let now = self.clock.now_ms();

        let mut st = self.write_state();
        if let Some(reason) = &st.offline {
            return Err(self.offline_error(reason));
        }
        if let Some(latest) = st.epochs.latest_epoch() {
            if leader_epoch < latest {
                return Err(Error::StaleLeaderEpoch {
                    epoch: leader_epoch,
                    latest_epoch: latest,
                });
            }
        }
        let first_offset = st.log_end_offset;
        let mut next = first_offset;
        let mut stamped = Vec::with_capacity(batches.len());
        let mut incoming = 0usize;
        let mut messages = 0u64;
        let mut max_timestamp = -1;
        for b in &batches {
            let mut header = *b.header();
            header.base_offset = next;
            header.partition_leader_epoch = leader_epoch;
            next = header.next_offset();
            incoming += header.total_size();
            messages += header.records_count.max(0) as u64;
            max_timestamp = max_timestamp.max(header.max_timestamp);
            stamped.push(StampedBatch {
                batch: b,
                header,
                prefix: batch::stamped_prefix(b.bytes(), header.base_offset, leader_epoch),
            });
        }
        let headers: Vec<BatchHeader> = stamped.iter().map(|s| s.header).collect();
        let update = match st.producers.prepare(&headers)? {
            Prepared::Duplicate(original) => {
                let policy_flushes = st.config.flush_messages != u64::MAX;
                drop(st);
                let end = original.last_offset + 1;
                let flush_until = (policy_flushes && self.flushed_offset() < end).then_some(end);
                return Ok(Appended {
                    info: AppendInfo {
                        first_offset: original.first_offset,
                        last_offset: original.last_offset,
                        max_timestamp: original.max_timestamp,
                        duplicate: true,
                        log_start_offset: self.log_start_offset(),
                    },
                    flush_until,
                });
            }
            Prepared::Append(update) => update,
        };

        let needs_roll = st
            .segments
            .values()
            .next_back()
            .is_some_and(|s| s.should_roll(&st.config, incoming, next - 1, now));
        if needs_roll {
            self.roll(&mut st, now)
                .map_err(|e| self.go_offline(&mut st, e))?;
        }
        if leader_epoch >= 0 && st.epochs.assign(leader_epoch, first_offset)? {
            st.epochs
                .persist(self.storage.as_ref(), &self.dir)
                .map_err(|e| self.go_offline(&mut st, e))?;
        }
        let interval = st.config.index_interval_bytes;
        let written = match st.segments.values_mut().next_back() {
            Some(active) => active
                .append(&stamped, interval)
                .map(|()| (active.log_path.clone(), active.log.clone())),
            None => Err(Error::corrupt(&self.dir, "partition log has no segment")),
        };
        let (path, file) = written.map_err(|e| self.go_offline(&mut st, e))?;
        st.log_end_offset = next;
        st.producers.apply(update);
        if !st.dirty.iter().any(|(_, f)| Arc::ptr_eq(f, &file)) {
            st.dirty.push((path, file));
        }
        st.unflushed_messages += messages;
        st.first_unflushed_ms.get_or_insert(now);
        let flush_now = st.unflushed_messages >= st.config.flush_messages;
        let info = AppendInfo {
            first_offset,
            last_offset: next - 1,
            max_timestamp,
            duplicate: false,
            log_start_offset: st.log_start_offset,
        };
        Ok(Appended {
            info,
            flush_until: flush_now.then_some(next),
        })
    }

    /// Seal the active segment and start a new one at the log end. Nothing here waits for the
    /// disk: the sealed segment's data, the new segment's directory entry and the producer-state
    /// snapshot at the new base offset are made durable by the next flush pass, in that order.
    fn roll(&self, st: &mut State, now: i64) -> Result<()> {
        let base = st.log_end_offset;
        let mut previous_base = base;
        if let Some(active) = st.segments.values_mut().next_back() {
            active.seal()?;
            previous_base = active.base_offset;
        }
        let seg = Segment::create(self.storage.as_ref(), &self.dir, base, &st.config, now)?;
        st.segments.insert(base, seg);
        st.directory_dirty = true;
        st.pending_snapshot = Some(PendingSnapshot {
            offset: base,
            previous_base,
            producers: st.producers.clone(),
        });
        Ok(())
    }

    /// Wait for any flush pass to finish and keep others from starting until the guard drops.
    fn exclude_flush(&self) -> FlushExclusion<'_> {
        let mut fs = self.flush_state();
        while fs.in_progress {
            fs = relock(self.flushed.wait(fs));
        }
        fs.in_progress = true;
        FlushExclusion { log: self }
    }

    fn offline_error(&self, reason: &str) -> Error {
        Error::LogOffline {
            dir: self.dir.clone(),
            reason: reason.to_string(),
        }
    }

    /// Take the log offline after a failed write or fsync; returns the original error.
    fn go_offline(&self, st: &mut State, error: Error) -> Error {
        warn!(dir = %self.dir.display(), %error, "taking the partition log offline");
        st.offline = Some(error.to_string());
        let mut fs = self.flush_state();
        fs.failed = Some(error.to_string());
        self.flushed.notify_all();
        error
    }

    /// Block until every offset below `end_offset` (clamped to the log end) is durable, and
    /// return the flushed offset. It is below `end_offset` only if the log end is: when
    /// `end_offset` was past it, or a truncation removed offsets below it meanwhile. Concurrent callers share fsyncs: while one thread syncs, the
    /// others wait, and a sync covers everything appended before it started.
    pub fn flush_until(&self, end_offset: i64) -> Result<i64> {
        let mut end_offset = end_offset.min(self.log_end_offset());
        let mut fs = self.flush_state();
        loop {
            if let Some(reason) = &fs.failed {
                return Err(self.offline_error(reason));
            }
            if fs.flushed_offset >= end_offset {
                return Ok(fs.flushed_offset);
            }
            if fs.in_progress {
                fs = relock(self.flushed.wait(fs));
                continue;
            }
            fs.in_progress = true;
            let recovery_point = fs.recovery_point;
            drop(fs);
            let pass = self.flush_pass(recovery_point);
            fs = self.flush_state();
            fs.in_progress = false;
            self.flushed.notify_all();
            match pass {
                Ok(pass) => {
                    fs.flushed_offset = fs.flushed_offset.max(pass.target);
                    end_offset = end_offset.min(pass.target);
                    if let Some(point) = pass.recovery_point {
                        fs.recovery_point = fs.recovery_point.max(point);
                    }
                }
                Err(e) => {
                    drop(fs);
                    let mut st = self.write_state();
                    return Err(self.go_offline(&mut st, e));
                }
            }
        }
    }

    /// One group-commit pass: take the dirty files and fdatasync them; then make new segments'
    /// directory entries durable (only now, after the data before them: otherwise a power cut
    /// could keep a new segment and lose the tail of the one before it), write the producer-state
    /// snapshot of the last roll, and persist the recovery point once a sealed segment is durable.
    /// Truncation never runs during a pass (see [`PartitionLog::truncate_to`]).
    fn flush_pass(&self, recovery_point: i64) -> Result<FlushPass> {
        let storage = self.storage.as_ref();
        let (files, target, active_base, directory_dirty, snapshot) = {
            let mut st = self.write_state();
            if let Some(reason) = &st.offline {
                return Err(self.offline_error(reason));
            }
            st.unflushed_messages = 0;
            st.first_unflushed_ms = None;
            let active_base = st.segments.keys().next_back().copied().unwrap_or(0);
            (
                std::mem::take(&mut st.dirty),
                st.log_end_offset,
                active_base,
                std::mem::take(&mut st.directory_dirty),
                st.pending_snapshot.take(),
            )
        };
        for (path, file) in &files {
            file.sync_data().at(path)?;
        }
        if directory_dirty {
            storage.sync_dir(&self.dir).at(&self.dir)?;
        }
        if let Some(snapshot) = snapshot {
            snapshot
                .producers
                .write_snapshot(storage, &self.dir, snapshot.offset)?;
            // Older snapshots are only needed to truncate far back; one at or below the previous
            // segment's base is kept, so their number stays bounded.
            ProducerStateManager::delete_snapshots_below(
                storage,
                &self.dir,
                snapshot.previous_base,
            )?;
        }
        let recovery_point = if active_base > recovery_point {
            checkpoint::write_offset(storage, &self.dir, RECOVERY_POINT, active_base)?;
            Some(active_base)
        } else {
            None
        };
        Ok(FlushPass {
            target,
            recovery_point,
        })
    }

    /// Flush if `flush.ms` has passed since the oldest unflushed append. The owner calls this
    /// periodically (the broker from its scheduler).
    pub fn flush_if_due(&self) -> Result<()> {
        let due = {
            let st = self.read_state();
            st.first_unflushed_ms
                .is_some_and(|t| self.clock.now_ms().saturating_sub(t) >= st.config.flush_ms)
        };
        if due {
            self.flush_until(i64::MAX)?;
        }
        Ok(())
    }

    /// Read whole batches starting with the one that holds `offset`, up to `max_bytes`, never
    /// past `max_offset` (exclusive; the high watermark) or the log end. If the first batch is
    /// larger than `max_bytes`, it is returned alone when `min_one_batch` is set (KIP-74) and
    /// nothing is returned otherwise. Reads stay within one segment; the caller asks again from
    /// the next offset. Offsets below the log start or past the log end are out of range.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: Option<i64>,
        min_one_batch: bool,
    ) -> Result<ReadResult> {
        // A truncation between planning and reading can shorten the file: plan again once.
        let mut attempts = 2;
        loop {
            attempts -= 1;
            let (plan, mut result) = {
                let st = self.read_state();
                if offset < st.log_start_offset || offset > st.log_end_offset {
                    return Err(Error::OffsetOutOfRange {
                        offset,
                        log_start_offset: st.log_start_offset,
                        log_end_offset: st.log_end_offset,
                    });
                }
                let result = ReadResult {
                    records: Bytes::new(),
                    log_start_offset: st.log_start_offset,
                    log_end_offset: st.log_end_offset,
                };
                (plan_read(&st, offset, max_offset)?, result)
            };
            let Some(plan) = plan else {
                return Ok(result);
            };
            let len = if plan.available <= max_bytes {
                plan.available
            } else if plan.first_size <= max_bytes {
                max_bytes
            } else if min_one_batch {
                plan.first_size
            } else {
                return Ok(result);
            };
            let mut buf = bytes::BytesMut::zeroed(len);
            match plan.file.read_exact_at(&mut buf, plan.position) {
                Ok(()) => {
                    let whole = whole_batches_len(&buf);
                    result.records = buf.freeze().slice(..whole);
                    return Ok(result);
                }
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && attempts > 0 => {}
                Err(e) => return Err(Error::io(plan.path, e)),
            }
        }
    }

    /// The first offset whose record has a timestamp at or after `timestamp`, with that record's
    /// timestamp (Kafka's ListOffsets by time); `None` if every record is older.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>> {
        let st = self.read_state();
        let limit = st.config.max_message_bytes.saturating_mul(64);
        for seg in st.segments.values() {
            if seg.max_timestamp < timestamp {
                continue;
            }
            let start = seg
                .time_index
                .lookup_below(timestamp)
                .map_or(seg.base_offset, |e| {
                    seg.base_offset + i64::from(e.relative_offset)
                })
                .max(st.log_start_offset);
            let Some((mut position, _)) = seg.find_batch(start)? else {
                continue;
            };
            while let Some(header) = seg.header_at(position)? {
                if header.max_timestamp >= timestamp && header.last_offset() >= st.log_start_offset
                {
                    if header.is_log_append_time() {
                        let offset = header.base_offset.max(st.log_start_offset);
                        return Ok(Some((offset, header.max_timestamp)));
                    }
                    let bytes = seg.read_bytes(position, header.total_size())?;
                    let batch = RecordBatch::validate(bytes)?;
                    for record in batch.records(limit)? {
                        let offset = record.offset(header.base_offset);
                        let ts = record.timestamp(header.base_timestamp);
                        if ts >= timestamp && offset >= st.log_start_offset {
                            return Ok(Some((offset, ts)));
                        }
                    }
                }
                position += header.total_size() as u64;
            }
        }
        Ok(None)
    }

    /// Remove everything at and after `offset` (a follower diverging from its leader). The cut
    /// falls at a batch boundary: a batch holding `offset` is removed whole. Producer state and
    /// the leader-epoch cache are rolled back, and the result is made durable before returning.
    /// Returns the new log end offset.
    pub fn truncate_to(&self, offset: i64) -> Result<i64> {
        // A compaction pass that straddled the truncation could drop records it must keep; a
        // flush pass could call the new tail flushed, or write a snapshot of the removed history.
        let mut cleaning = relock(self.cleaning.lock());
        cleaning.last_pass = None;
        let _exclusive = self.exclude_flush();
        let mut st = self.write_state();
        if let Some(reason) = &st.offline {
            return Err(self.offline_error(reason));
        }
        if offset >= st.log_end_offset {
            return Ok(st.log_end_offset);
        }
        let result = self.truncate_locked(&mut st, offset);
        result.map_err(|e| self.go_offline(&mut st, e))
    }

    fn truncate_locked(&self, st: &mut State, offset: i64) -> Result<i64> {
        let storage = self.storage.as_ref();
        let now = self.clock.now_ms();
        let first_base = st.segments.keys().next().copied().unwrap_or(0);
        let doomed: Vec<i64> = if offset <= first_base || offset < st.log_start_offset {
            st.segments.keys().copied().collect()
        } else {
            st.segments.range(offset..).map(|(b, _)| *b).collect()
        };
        for base in doomed {
            if let Some(seg) = st.segments.remove(&base) {
                seg.delete_files(storage)?;
            }
        }
        // The removals are durable before the kept segment is cut, so a crash at any point leaves
        // a prefix of the old log, never a cut segment followed by resurrected ones.
        storage.sync_dir(&self.dir).at(&self.dir)?;
        let new_end = match st.segments.values_mut().next_back() {
            Some(seg) => {
                let end = seg.truncate_to(offset)?;
                seg.unseal(&st.config)?;
                seg.log.sync_data().at(&seg.log_path)?;
                end
            }
            None => {
                let start = offset.max(0);
                st.segments.insert(
                    start,
                    Segment::create(storage, &self.dir, start, &st.config, now)?,
                );
                st.log_start_offset = start;
                checkpoint::write_offset(storage, &self.dir, LOG_START_OFFSET, start)?;
                start
            }
        };
        for (path, file) in std::mem::take(&mut st.dirty) {
            file.sync_data().at(&path)?;
        }
        storage.sync_dir(&self.dir).at(&self.dir)?;
        st.log_end_offset = new_end;
        st.unflushed_messages = 0;
        st.first_unflushed_ms = None;
        if st
            .pending_snapshot
            .as_ref()
            .is_some_and(|p| p.offset > new_end)
        {
            st.pending_snapshot = None;
        }
        st.epochs.truncate_from_end(new_end);
        st.epochs.persist(storage, &self.dir)?;
        ProducerStateManager::delete_snapshots_above(storage, &self.dir, new_end)?;
        load_producer_state(st, storage, &self.dir)?;
        let mut fs = self.flush_state();
        fs.flushed_offset = new_end;
        if fs.recovery_point > new_end {
            fs.recovery_point = new_end;
            checkpoint::write_offset(storage, &self.dir, RECOVERY_POINT, new_end)?;
        }
        info!(dir = %self.dir.display(), offset, log_end_offset = new_end, "truncated partition log");
        Ok(new_end)
    }

    /// Apply `retention.ms` and `retention.bytes` (when `cleanup.policy` includes `delete`):
    /// delete the oldest closed segments that are past either limit, never the active one, and
    /// move the log start offset to the first remaining segment. Returns the segments deleted.
    pub fn delete_old_segments(&self) -> Result<usize> {
        let now = self.clock.now_ms();
        let mut st = self.write_state();
        if let Some(reason) = &st.offline {
            return Err(self.offline_error(reason));
        }
        if !st.config.cleanup_policy.delete {
            return Ok(0);
        }
        let (retention_ms, retention_bytes) = (st.config.retention_ms, st.config.retention_bytes);
        let mut excess = if retention_bytes >= 0 {
            st.segments.values().map(|s| s.size as i64).sum::<i64>() - retention_bytes
        } else {
            0
        };
        let closed = st.segments.len().saturating_sub(1);
        let mut doomed = Vec::new();
        for seg in st.segments.values().take(closed) {
            let expired = retention_ms >= 0 && seg.max_timestamp < now.saturating_sub(retention_ms);
            let oversized = retention_bytes >= 0 && excess >= seg.size as i64;
            if !(expired || oversized) {
                break;
            }
            excess -= seg.size as i64;
            doomed.push(seg.base_offset);
        }
        let Some(&last_doomed) = doomed.last() else {
            return Ok(0);
        };
        let new_start = st
            .segments
            .range(last_doomed + 1..)
            .next()
            .map_or(st.log_end_offset, |(b, _)| *b)
            .max(st.log_start_offset);
        let result = self.delete_segments_below(&mut st, &doomed, new_start);
        result
            .map(|()| doomed.len())
            .map_err(|e| self.go_offline(&mut st, e))
    }

    fn delete_segments_below(&self, st: &mut State, doomed: &[i64], new_start: i64) -> Result<()> {
        let storage = self.storage.as_ref();
        // The new start is durable before any file goes, so a crash never moves it back.
        checkpoint::write_offset(storage, &self.dir, LOG_START_OFFSET, new_start)?;
        st.log_start_offset = new_start;
        for base in doomed {
            if let Some(seg) = st.segments.remove(base) {
                st.dirty.retain(|(_, f)| !Arc::ptr_eq(f, &seg.log));
                seg.delete_files(storage)?;
            }
        }
        storage.sync_dir(&self.dir).at(&self.dir)?;
        st.epochs.truncate_from_start(new_start);
        st.epochs.persist(storage, &self.dir)?;
        ProducerStateManager::delete_snapshots_below(storage, &self.dir, new_start)?;
        info!(dir = %self.dir.display(), segments = doomed.len(), log_start_offset = new_start, "retention deleted segments");
        Ok(())
    }

    /// One compaction pass over the closed segments (see [`crate::cleaner`]); a no-op unless
    /// `cleanup.policy` includes `compact`. Passes run one at a time, and truncation waits for a
    /// running pass. Reading, rewriting and indexing happen outside the state lock; each cleaned
    /// segment is then swapped in under it with renames, unless retention removed the segment
    /// meanwhile, in which case its cleaned copy is discarded.
    pub fn clean(&self) -> Result<CleanStats> {
        let mut cleaning = relock(self.cleaning.lock());
        let (views, params, config, active_base) = {
            let st = self.read_state();
            if let Some(reason) = &st.offline {
                return Err(self.offline_error(reason));
            }
            if !st.config.cleanup_policy.compact {
                return Ok(CleanStats::default());
            }
            // Nothing was closed since the last pass: skip it, until tombstones that pass kept
            // may have expired.
            let active_base = st.segments.keys().next_back().copied().unwrap_or(0);
            let now = self.clock.now_ms();
            if cleaning.last_pass.is_some_and(|(end, at)| {
                end == active_base && now.saturating_sub(at) < st.config.delete_retention_ms
            }) {
                return Ok(CleanStats::default());
            }
            let closed = st.segments.len().saturating_sub(1);
            let views: Vec<SegmentView> = st
                .segments
                .values()
                .take(closed)
                .map(|s| SegmentView {
                    base_offset: s.base_offset,
                    log: s.log.clone(),
                    path: s.log_path.clone(),
                    size: s.size,
                })
                .collect();
            let params = CleanParams {
                now_ms: self.clock.now_ms(),
                delete_retention_ms: st.config.delete_retention_ms,
                dedupe_buffer_bytes: st.config.cleaner_dedupe_buffer_bytes,
                max_decompressed_bytes: st.config.max_message_bytes.saturating_mul(64),
            };
            (views, params, st.config.clone(), active_base)
        };
        let storage = self.storage.as_ref();
        let (map, covered) = cleaner::build_offset_map(&views, &params)?;
        if covered == 0 && !views.is_empty() {
            warn!(dir = %self.dir.display(), "cleaner_dedupe_buffer_bytes is too small for one segment's keys; nothing cleaned");
        }
        let mut stats = CleanStats::default();
        for view in views.iter().take(covered) {
            let segment_stats = cleaner::clean_segment(storage, &self.dir, view, &map, &params)?;
            let cleaned = self.open_cleaned(view.base_offset, &config, params.now_ms)?;
            let mut st = self.write_state();
            let unchanged = st
                .segments
                .get(&view.base_offset)
                .is_some_and(|s| Arc::ptr_eq(&s.log, &view.log) && s.size == view.size);
            if !unchanged || st.offline.is_some() {
                drop(cleaned);
                cleaner::discard_cleaned(storage, &self.dir, view.base_offset)?;
                continue;
            }
            let swapped = cleaner::swap_in(storage, &self.dir, view.base_offset);
            swapped.map_err(|e| self.go_offline(&mut st, e))?;
            let mut cleaned = cleaned;
            cleaned.renamed(SegmentPaths::of(&self.dir, view.base_offset));
            st.segments.insert(view.base_offset, cleaned);
            stats.segments_cleaned += 1;
            stats.records_removed += segment_stats.records_removed;
            stats.bytes_before += segment_stats.bytes_before;
            stats.bytes_after += segment_stats.bytes_after;
        }
        // A key map too small for every segment leaves the rest to the next pass.
        if covered == views.len() {
            cleaning.last_pass = Some((active_base, params.now_ms));
        }
        if stats.records_removed > 0 {
            info!(dir = %self.dir.display(), ?stats, "cleaned segments");
        }
        Ok(stats)
    }

    /// Open the cleaner's copy of a segment as a segment: validated batch by batch, its indexes
    /// built, trimmed and fsynced, so the swap under the lock is only renames.
    fn open_cleaned(&self, base: i64, config: &LogConfig, now: i64) -> Result<Segment> {
        let storage = self.storage.as_ref();
        let paths = cleaner::cleaned_paths(&self.dir, base);
        let mut seg = Segment::open_at(storage, paths, base, config, true, now)?;
        if let Some(t) = seg.recover(config, i64::MIN, |_| {})? {
            return Err(Error::corrupt(
                &seg.log_path,
                format!("cleaned segment is invalid: {}", t.reason),
            ));
        }
        seg.seal()?;
        seg.sync_indexes()?;
        Ok(seg)
    }

    /// Drop idle idempotent-producer state (`producer.id.expiration.ms`).
    pub fn expire_producers(&self) {
        let now = self.clock.now_ms();
        self.write_state().producers.expire(now);
    }

    /// Close cleanly: flush, seal the indexes, snapshot producer state at the log end, write the
    /// checkpoints, and leave the clean-shutdown marker so the next open skips recovery. The log
    /// refuses work afterwards (as if offline, with the reason "closed"), so a caller still
    /// holding it in an `Arc` cannot write behind the marker.
    pub fn close(&self) -> Result<()> {
        self.flush_until(i64::MAX)?;
        let mut st = self.write_state();
        if let Some(reason) = &st.offline {
            return Err(self.offline_error(reason));
        }
        st.offline = Some(CLOSED.to_string());
        let storage = self.storage.as_ref();
        let end = st.log_end_offset;
        if let Some(active) = st.segments.values_mut().next_back() {
            active.seal()?;
        }
        // The next open trusts the indexes; rolls left them to the page cache.
        for seg in st.segments.values() {
            seg.sync_indexes()?;
        }
        st.producers.write_snapshot(storage, &self.dir, end)?;
        // Snapshots of earlier closes are superseded; one at or below the active segment's base
        // stays for truncations into it.
        let active_base = st.segments.keys().next_back().copied().unwrap_or(end);
        ProducerStateManager::delete_snapshots_below(storage, &self.dir, active_base)?;
        st.epochs.persist(storage, &self.dir)?;
        checkpoint::write_offset(storage, &self.dir, LOG_START_OFFSET, st.log_start_offset)?;
        checkpoint::write_offset(storage, &self.dir, RECOVERY_POINT, end)?;
        crate::storage::write_atomically(storage, &self.dir.join(CLEAN_SHUTDOWN), b"")
            .at(&self.dir)?;
        Ok(())
    }
}

/// What the cleaner remembers between passes.
#[derive(Default)]
struct CleanerState {
    /// The active segment's base offset (the end of the closed segments) and the time of the
    /// last pass.
    last_pass: Option<(i64, i64)>,
}

/// The offline reason of a closed log.
const CLOSED: &str = "closed";

struct FlushPass {
    target: i64,
    recovery_point: Option<i64>,
}

/// Producer state captured at a roll, for the next flush pass to write once the data it
/// describes is durable.
struct PendingSnapshot {
    offset: i64,
    previous_base: i64,
    producers: ProducerStateManager,
}

/// Holds the flush protocol's slot (`in_progress`) so no flush pass runs meanwhile; frees it and
/// wakes waiting flushers on drop.
struct FlushExclusion<'a> {
    log: &'a PartitionLog,
}

impl Drop for FlushExclusion<'_> {
    fn drop(&mut self) {
        self.log.flush_state().in_progress = false;
        self.log.flushed.notify_all();
    }
}

/// Validate a producer's record set: one or more whole batches, each within `max.message.bytes`,
/// with a valid CRC and Kafka's producer-batch header rules, and with well-formed records when
/// uncompressed or when `decode_compressed` (compacted topics).
fn validate_client_batches(
    records: &Bytes,
    max_message_bytes: usize,
    max_decompressed: usize,
    decode_compressed: bool,
) -> Result<Vec<RecordBatch>> {
    let mut batches = Vec::new();
    for batch in batch::split_batches(records) {
        let batch = batch?;
        if batch.total_size() > max_message_bytes {
            return Err(Error::BatchTooLarge {
                size: batch.total_size(),
                max: max_message_bytes,
            });
        }
        // The records of a compressed batch are decoded only where the log must read them:
        // on compacted topics, whose cleaner reads every key.
        if decode_compressed || batch.header().compression()? == batch::Compression::None {
            batch.validate_client_records(max_decompressed)?;
        } else {
            batch.validate_client_header()?;
        }
        batches.push(batch);
    }
    if batches.is_empty() {
        return Err(batch::BatchError::InvalidClientBatch("the record set holds no batch").into());
    }
    Ok(batches)
}

/// What opening a partition's segments needs to know.
struct OpenContext<'a> {
    storage: &'a dyn Storage,
    dir: &'a Path,
    config: &'a LogConfig,
    now: i64,
}

/// Open every segment of the directory. After a clean shutdown each is trusted; otherwise the
/// segments from `scan_from` on are validated batch by batch, those before have their indexes
/// checked against the log (and rebuilt if they disagree), and a cut removes every later segment.
fn load_segments(
    ctx: &OpenContext<'_>,
    bases: &[i64],
    scan_from: i64,
    epochs: &mut LeaderEpochCache,
    report: &mut RecoveryReport,
) -> Result<BTreeMap<i64, Segment>> {
    let OpenContext {
        storage,
        dir,
        config,
        now,
    } = *ctx;
    let mut segments: BTreeMap<i64, Segment> = BTreeMap::new();
    let mut cut = false;
    let mut rebuilt = Vec::new();
    let last_base = bases.last().copied();
    for &base in bases {
        let path = segment::segment_path(dir, base, LOG_SUFFIX);
        let previous_end = segments.values().next_back().map(|s| s.next_offset);
        if !cut && !report.clean && previous_end.is_some_and(|end| end != base) {
            // Segments are contiguous (the cleaner keeps each segment's last batch): a gap means
            // the previous segment lost a tail that a later segment outlived.
            warn!(dir = %dir.display(), base_offset = base, previous_end, "segment does not start where the one before it ends: deleting it and every later segment");
            cut = true;
        }
        if cut {
            report.bytes_truncated += storage
                .open(&path, crate::storage::OpenMode::Existing)
                .and_then(|f| f.len())
                .unwrap_or(0);
            segment::delete_files(storage, dir, base)?;
            continue;
        }
        let writable = Some(base) == last_base;
        let mut seg = Segment::open(storage, dir, base, config, writable, now)?;
        let recover = if report.clean {
            seg.load_tail()?;
            false
        } else if base < scan_from {
            let agree = seg.load_tail().is_ok() && seg.indexes_agree_with_log();
            if !agree {
                warn!(dir = %dir.display(), base_offset = base, "index disagrees with the log after an unclean shutdown; rebuilding it");
                report.indexes_rebuilt += 1;
            }
            !agree
        } else {
            report.segments_scanned += 1;
            true
        };
        if recover {
            if !writable {
                // Rebuilding needs room for entries; sealed again below unless it ends the log.
                seg.unseal(config)?;
                rebuilt.push(base);
            }
            cut = recover_segment(&mut seg, config, previous_end, epochs, report)?;
        }
        segments.insert(base, seg);
    }
    let last_kept = segments.keys().next_back().copied();
    for base in rebuilt.into_iter().filter(|&b| Some(b) != last_kept) {
        if let Some(seg) = segments.get_mut(&base) {
            seg.seal()?;
        }
    }
    if cut {
        // The segment that now ends the log takes appends.
        if let Some(seg) = segments.values_mut().next_back() {
            seg.unseal(config)?;
        }
    }
    Ok(segments)
}

/// Where a read will copy from: found under the state lock, read outside it.
struct ReadPlan {
    file: Arc<dyn StorageFile>,
    path: PathBuf,
    position: u64,
    /// Bytes of whole batches from `position` up to the segment end or the read's upper bound.
    available: usize,
    first_size: usize,
}

/// Find the batch holding `offset` (or the first after it, across segments) and how many bytes
/// of whole batches follow it below `max_offset` and the log end. `None`: nothing to read.
fn plan_read(st: &State, offset: i64, max_offset: Option<i64>) -> Result<Option<ReadPlan>> {
    let upper = max_offset.map_or(st.log_end_offset, |m| m.min(st.log_end_offset));
    let from = st
        .segments
        .range(..=offset)
        .next_back()
        .map_or(i64::MIN, |(b, _)| *b);
    for seg in st.segments.range(from..).map(|(_, s)| s) {
        let Some((position, header)) = seg.find_batch(offset)? else {
            continue;
        };
        if header.base_offset >= upper {
            return Ok(None);
        }
        let end = if upper < seg.next_offset {
            seg.find_batch(upper)?.map_or(seg.size, |(p, _)| p)
        } else {
            seg.size
        };
        return Ok(Some(ReadPlan {
            file: seg.log.clone(),
            path: seg.log_path.clone(),
            position,
            available: (end - position) as usize,
            first_size: header.total_size(),
        }));
    }
    Ok(None)
}

/// The length of the prefix of `buf` made of whole batches.
fn whole_batches_len(buf: &[u8]) -> usize {
    let mut position = 0;
    while let Some((_, length)) = BatchHeader::peek_offset_and_length(&buf[position..]) {
        let size = batch::LOG_OVERHEAD + length.max(0) as usize;
        if position + size > buf.len() {
            break;
        }
        position += size;
    }
    position
}

/// Validate a segment batch by batch (cutting it at the first invalid batch) and note the leader
/// epochs it holds. Returns whether the segment was cut, in which case later segments must go.
fn recover_segment(
    seg: &mut Segment,
    config: &LogConfig,
    prev_next_offset: Option<i64>,
    epochs: &mut LeaderEpochCache,
    report: &mut RecoveryReport,
) -> Result<bool> {
    let before = seg.log.len().at(&seg.log_path)?;
    let mut new_epochs = Vec::new();
    let truncation = seg.recover(config, prev_next_offset.unwrap_or(i64::MIN), |h| {
        if h.partition_leader_epoch >= 0 {
            new_epochs.push((h.partition_leader_epoch, h.base_offset));
        }
    })?;
    for (epoch, offset) in new_epochs {
        if epochs.latest_epoch().is_none_or(|latest| epoch > latest) {
            epochs.assign(epoch, offset)?;
        }
    }
    match truncation {
        Some(t) => {
            report.bytes_truncated += before - t.position;
            warn!(
                file = %seg.log_path.display(),
                position = t.position,
                reason = %t.reason,
                bytes_truncated = before - t.position,
                "invalid batch in the log: truncating the segment at the last valid batch and deleting the segments after it"
            );
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Producer state at the log end: the latest snapshot at or below it, plus the batch headers
/// after the snapshot, replayed.
fn load_producer_state(st: &mut State, storage: &dyn Storage, dir: &Path) -> Result<()> {
    let end = st.log_end_offset;
    ProducerStateManager::delete_snapshots_above(storage, dir, end)?;
    let expiration_ms = st.config.producer_id_expiration_ms;
    // The newest readable snapshot at or below the end; a corrupt one is deleted (it is derived
    // data) and the next older one tried, down to replaying the whole log.
    let (mut producers, from) = loop {
        let snapshot = ProducerStateManager::latest_snapshot_at_or_below(storage, dir, end)?;
        match snapshot {
            Some(offset) if offset >= st.log_start_offset => {
                match ProducerStateManager::load_snapshot(storage, dir, offset, expiration_ms) {
                    Ok(producers) => break (producers, offset),
                    Err(error @ Error::Corrupt { .. }) => {
                        warn!(dir = %dir.display(), offset, %error, "deleting an unreadable producer snapshot; rebuilding from the log");
                        let path = ProducerStateManager::snapshot_path(dir, offset);
                        storage.remove_file(&path).at(&path)?;
                    }
                    Err(error) => return Err(error),
                }
            }
            _ => {
                break (
                    ProducerStateManager::new(expiration_ms),
                    st.log_start_offset,
                )
            }
        }
    };
    let start_base = st
        .segments
        .range(..=from)
        .next_back()
        .map_or(i64::MIN, |(b, _)| *b);
    for seg in st.segments.range(start_base..).map(|(_, s)| s) {
        let Some((mut position, _)) = seg.find_batch(from)? else {
            continue;
        };
        while let Some(header) = seg.header_at(position)? {
            if header.base_offset >= from {
                producers.replay(&header);
            }
            position += header.total_size() as u64;
        }
    }
    st.producers = producers;
    Ok(())
}

/// Delete temporary files of interrupted checkpoint writes and index files without a log.
fn remove_leftovers(storage: &dyn Storage, dir: &Path, names: &[String]) -> Result<()> {
    let logs: std::collections::HashSet<i64> = names
        .iter()
        .filter_map(|n| segment::parse_base_offset(n, LOG_SUFFIX))
        .collect();
    for name in names {
        let orphan_index = [segment::INDEX_SUFFIX, segment::TIME_INDEX_SUFFIX]
            .iter()
            .any(|suffix| {
                segment::parse_base_offset(name, suffix).is_some_and(|b| !logs.contains(&b))
            });
        if name.ends_with(".tmp") || name.ends_with(cleaner::CLEANED_SUFFIX) || orphan_index {
            let path = dir.join(name);
            storage.remove_file(&path).at(&path)?;
        }
    }
    Ok(())
}
