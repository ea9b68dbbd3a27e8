//! Log compaction (`cleanup.policy=compact`): keep the newest record of every key.
//!
//! One pass, over the closed segments only (never the active one):
//! 1. **Offset map.** Read the closed segments oldest first and remember, per key, the offset of
//!    its newest record. The map is bounded by `cleaner_dedupe_buffer_bytes`: when it is full, only
//!    the segments read completely are cleaned this pass (a record is dropped only if a newer record
//!    with its key is known to be in the log, so a partial map is safe).
//! 2. **Rewrite.** Each segment is copied to `<base>.log.cleaned` keeping, batch by batch, the
//!    records that are their key's newest. Offsets, batch base offsets, producer ids, epochs and
//!    sequences are kept; a batch whose records all survive is copied byte for byte; a batch with
//!    none left is dropped, except a segment's last batch, which stays as an empty batch so that
//!    every segment still ends where the next begins (recovery relies on that). A tombstone (null value) is kept until `delete.retention.ms` after the
//!    cleaner first saw it: that pass stamps the batch's delete horizon (KIP-534, attribute bit 6,
//!    `base_timestamp = now + delete.retention.ms`), and a pass after the horizon drops it.
//! 3. **Swap.** `<base>.log.cleaned` is fsynced, then opened as a segment whose indexes
//!    (`<base>.index.cleaned`, `<base>.timeindex.cleaned`) are built and fsynced, all outside the
//!    partition's lock. Under the lock, `.log.cleaned` is renamed to `<base>.log.swap` and the
//!    directory fsynced (the commit point), the cleaned indexes are renamed over the old ones, and
//!    the swap file over `<base>.log`. On open, leftover `.cleaned` files are deleted (the
//!    original is intact) and a leftover `.swap` file completes its swap, so a crash at any point
//!    loses nothing.
//!
//! Differences from Kafka, deliberately: segments are cleaned one to one (Kafka also merges small
//! neighbours), and the map holds whole keys rather than 16-byte digests, so no hash collision can
//! ever drop a record. Transactional control batches are kept as they are, and so is a batch whose
//! records cannot be decoded (written before the topic became compacted; appends to a compacted
//! topic decode every batch).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::batch::{self, RecordBatch, HEADER_LEN};
use crate::error::{Error, IoContext, Result};
use crate::segment::{self, SegmentPaths, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};
use crate::storage::{remove_if_exists, OpenMode, Storage, StorageFile};

/// Suffix (after `.log`) of a segment being written by the cleaner.
pub const CLEANED_SUFFIX: &str = ".cleaned";
/// Suffix (after `.log`) of a cleaned segment ready to replace the original.
pub const SWAP_SUFFIX: &str = ".swap";

/// Bytes the offset map charges per key beyond the key itself (map entry and offset).
const MAP_ENTRY_OVERHEAD: usize = 48;

/// What one cleaning pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanStats {
    /// Segments rewritten.
    pub segments_cleaned: usize,
    /// Records dropped (superseded values and expired tombstones).
    pub records_removed: u64,
    /// Log bytes before and after, over the cleaned segments.
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// A closed segment as the cleaner sees it: immutable bytes behind a shared handle.
pub(crate) struct SegmentView {
    pub base_offset: i64,
    pub log: Arc<dyn StorageFile>,
    pub path: PathBuf,
    pub size: u64,
}

/// Settings of one pass.
pub(crate) struct CleanParams {
    pub now_ms: i64,
    pub delete_retention_ms: i64,
    pub dedupe_buffer_bytes: usize,
    pub max_decompressed_bytes: usize,
}

/// Call `f` with every batch of a segment, in order.
fn for_each_batch(view: &SegmentView, mut f: impl FnMut(RecordBatch) -> Result<()>) -> Result<()> {
    let mut position = 0u64;
    while position + HEADER_LEN as u64 <= view.size {
        let mut head = [0u8; batch::LOG_OVERHEAD];
        view.log.read_exact_at(&mut head, position).at(&view.path)?;
        let (_, length) = batch::BatchHeader::peek_offset_and_length(&head)
            .ok_or_else(|| Error::corrupt(&view.path, format!("short header at {position}")))?;
        let total = batch::LOG_OVERHEAD as u64 + length.max(0) as u64;
        if position + total > view.size {
            return Err(Error::corrupt(
                &view.path,
                format!("batch at byte {position} runs past the segment end"),
            ));
        }
        let bytes = view
            .log
            .read_vec_at(total as usize, position)
            .at(&view.path)?;
        let batch = RecordBatch::validate(Bytes::from(bytes))
            .map_err(|e| Error::corrupt(&view.path, format!("batch at byte {position}: {e}")))?;
        f(batch)?;
        position += total;
    }
    Ok(())
}

/// The records of a batch, or `None` (with a warning) if they cannot be decoded: such a batch,
/// written before the topic was compacted, is kept as it is and its keys are not considered.
fn decodable_records(
    view: &SegmentView,
    batch: &RecordBatch,
    params: &CleanParams,
) -> Option<Vec<batch::Record>> {
    match batch.records(params.max_decompressed_bytes) {
        Ok(records) => Some(records),
        Err(error) => {
            tracing::warn!(file = %view.path.display(), base_offset = batch.header().base_offset, %error, "the cleaner keeps a batch whose records it cannot decode as it is");
            None
        }
    }
}

/// Build the key → newest offset map over `views`, oldest first. Returns the map and how many
/// leading segments were read completely within the memory bound.
pub(crate) fn build_offset_map(
    views: &[SegmentView],
    params: &CleanParams,
) -> Result<(HashMap<Bytes, i64>, usize)> {
    let mut map: HashMap<Bytes, i64> = HashMap::new();
    let mut used = 0usize;
    for (covered, view) in views.iter().enumerate() {
        let mut full = false;
        for_each_batch(view, |batch| {
            if full || batch.header().is_control() {
                return Ok(());
            }
            let base = batch.header().base_offset;
            let Some(records) = decodable_records(view, &batch, params) else {
                return Ok(());
            };
            for record in records {
                let Some(key) = record.key else { continue };
                let offset = record.offset_delta as i64 + base;
                if let Some(newest) = map.get_mut(&key) {
                    *newest = (*newest).max(offset);
                } else {
                    used += key.len() + MAP_ENTRY_OVERHEAD;
                    // A copy: the record's key is a slice that would keep its whole batch alive.
                    map.insert(Bytes::copy_from_slice(&key), offset);
                }
                if used > params.dedupe_buffer_bytes {
                    full = true;
                    break;
                }
            }
            Ok(())
        })?;
        if full {
            return Ok((map, covered));
        }
    }
    Ok((map, views.len()))
}

/// Write the cleaned copy of one segment to `<base>.log.cleaned` and fsync it. Returns the stats
/// of this segment.
pub(crate) fn clean_segment(
    storage: &dyn Storage,
    dir: &Path,
    view: &SegmentView,
    map: &HashMap<Bytes, i64>,
    params: &CleanParams,
) -> Result<CleanStats> {
    let out_path = cleaned_paths(dir, view.base_offset).log;
    let out = storage.open(&out_path, OpenMode::Create).at(&out_path)?;
    out.set_len(0).at(&out_path)?;
    let mut written = 0u64;
    let mut removed = 0u64;
    let mut emptied_last: Option<batch::BatchHeader> = None;
    for_each_batch(view, |batch| {
        let header = *batch.header();
        let records = if header.is_control() {
            None
        } else {
            decodable_records(view, &batch, params)
        };
        let output = if let Some(records) = records {
            let total = records.len();
            let horizon_passed =
                header.has_delete_horizon() && header.base_timestamp <= params.now_ms;
            let mut has_tombstone = false;
            let kept: Vec<batch::Record> = records
                .into_iter()
                .filter(|r| {
                    let newest = match &r.key {
                        Some(key) => map
                            .get(key)
                            .is_none_or(|&o| o <= r.offset(header.base_offset)),
                        None => true,
                    };
                    let expired_tombstone = r.is_tombstone() && horizon_passed;
                    let keep = newest && !expired_tombstone;
                    has_tombstone |= keep && r.is_tombstone();
                    keep
                })
                .collect();
            removed += (total - kept.len()) as u64;
            let needs_horizon = has_tombstone && !header.has_delete_horizon();
            if kept.is_empty() {
                None
            } else if kept.len() == total && !needs_horizon {
                Some(batch.bytes().clone())
            } else if needs_horizon {
                let horizon = params.now_ms.saturating_add(params.delete_retention_ms);
                Some(batch::encode_batch_with_delete_horizon(
                    &header, &kept, horizon,
                )?)
            } else {
                Some(batch::encode_batch(&header, &kept)?)
            }
        } else {
            Some(batch.bytes().clone())
        };
        match output {
            Some(bytes) => {
                out.write_all_at(&bytes, written).at(&out_path)?;
                written += bytes.len() as u64;
                emptied_last = None;
            }
            None => emptied_last = Some(header),
        }
        Ok(())
    })?;
    if let Some(header) = emptied_last {
        // The segment keeps its last batch, emptied, so it still ends where the next segment
        // begins: recovery relies on segments being contiguous to detect a lost tail.
        let bytes = batch::encode_batch(&header, &[])?;
        out.write_all_at(&bytes, written).at(&out_path)?;
        written += bytes.len() as u64;
    }
    out.sync_data().at(&out_path)?;
    Ok(CleanStats {
        segments_cleaned: 1,
        records_removed: removed,
        bytes_before: view.size,
        bytes_after: written,
    })
}

/// The files of the cleaner's copy of the segment at `base_offset`: `<base>.log.cleaned` and its
/// indexes, `<base>.index.cleaned` and `<base>.timeindex.cleaned`.
pub(crate) fn cleaned_paths(dir: &Path, base_offset: i64) -> SegmentPaths {
    SegmentPaths::of(dir, base_offset).with_suffix(CLEANED_SUFFIX)
}

/// Replace `<base>.log` and its indexes with the cleaned copy: `.log.cleaned` → `.log.swap`
/// (durable: the commit point), the cleaned indexes over the old ones, then `.log.swap` → `.log`
/// (durable). A crash before the commit point leaves the original and leftovers that open
/// deletes; after it, open completes the swap. Indexes are derived data: a crash between two
/// renames can only leave indexes that an unclean open checks against the log.
pub(crate) fn swap_in(storage: &dyn Storage, dir: &Path, base_offset: i64) -> Result<()> {
    let cleaned = cleaned_paths(dir, base_offset);
    let live = SegmentPaths::of(dir, base_offset);
    let swap = swap_path(dir, base_offset);
    storage.rename(&cleaned.log, &swap).at(&cleaned.log)?;
    storage.sync_dir(dir).at(dir)?;
    storage
        .rename(&cleaned.index, &live.index)
        .at(&cleaned.index)?;
    storage
        .rename(&cleaned.time_index, &live.time_index)
        .at(&cleaned.time_index)?;
    storage.rename(&swap, &live.log).at(&swap)?;
    storage.sync_dir(dir).at(dir)
}

fn complete_swap(storage: &dyn Storage, dir: &Path, base_offset: i64) -> Result<()> {
    let swap = swap_path(dir, base_offset);
    let log = segment::segment_path(dir, base_offset, LOG_SUFFIX);
    storage.rename(&swap, &log).at(&swap)?;
    for suffix in [INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
        let path = segment::segment_path(dir, base_offset, suffix);
        remove_if_exists(storage, &path).at(&path)?;
    }
    storage.sync_dir(dir).at(dir)
}

/// On open: finish every swap a crash interrupted (a `.swap` file is a complete, fsynced cleaned
/// segment whose rename was durable).
pub(crate) fn finish_interrupted_swaps(
    storage: &dyn Storage,
    dir: &Path,
    names: &[String],
) -> Result<()> {
    let suffix = format!("{LOG_SUFFIX}{SWAP_SUFFIX}");
    for name in names {
        if let Some(base) = segment::parse_base_offset(name, &suffix) {
            tracing::warn!(dir = %dir.display(), base_offset = base, "completing a cleaned-segment swap interrupted by a crash");
            complete_swap(storage, dir, base)?;
        }
    }
    Ok(())
}

/// Remove a cleaned copy that will not be swapped in.
pub(crate) fn discard_cleaned(storage: &dyn Storage, dir: &Path, base_offset: i64) -> Result<()> {
    let cleaned = cleaned_paths(dir, base_offset);
    for path in [&cleaned.log, &cleaned.index, &cleaned.time_index] {
        remove_if_exists(storage, path).at(path)?;
    }
    Ok(())
}

fn swap_path(dir: &Path, base_offset: i64) -> PathBuf {
    segment::segment_path(dir, base_offset, &format!("{LOG_SUFFIX}{SWAP_SUFFIX}"))
}
