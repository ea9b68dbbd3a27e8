//! The leader-epoch cache (KIP-101, KIP-279): for each leader epoch that wrote to this partition,
//! the offset of its first batch, persisted as Kafka's `leader-epoch-checkpoint` file in the
//! partition directory.
//!
//! How the partition log uses it:
//!
//! - **Append.** Every batch carries the `partitionLeaderEpoch` stamped by the leader. When the log
//!   appends a batch whose epoch is newer than [`LeaderEpochCache::latest_epoch`], it calls
//!   [`LeaderEpochCache::assign`]`(epoch, batch.base_offset)` and, if that returned `true`,
//!   [`LeaderEpochCache::persist`] (Kafka flushes `assign` synchronously, so the checkpoint never
//!   misses an entry). A new leader may also assign `(its epoch, log end offset)` when it takes
//!   over, as Kafka does.
//! - **OffsetForLeaderEpoch.** The leader answers a follower's (or consumer's) request with
//!   [`LeaderEpochCache::end_offset_for`]; the follower truncates to `min(answer, its LEO)` and
//!   repeats until the logs agree (KIP-279), never to its high watermark.
//! - **Truncation.** When the log is truncated to `end_offset` it calls
//!   [`LeaderEpochCache::truncate_from_end`]; when retention or DeleteRecords moves the log start
//!   offset it calls [`LeaderEpochCache::truncate_from_start`]. Kafka flushes these two lazily,
//!   which is safe because log recovery repeats both against the recovered log: the partition log
//!   must do the same after [`LeaderEpochCache::load`] (truncate from end at the recovered log end
//!   offset, from start at the log start offset).
//!
//! File format (text, Kafka's `CheckpointFile` with `LeaderEpochCheckpointFile`'s formatter):
//!
//! ```text
//! 0                       <- version
//! 2                       <- number of entries
//! 0 0                     <- "<epoch> <start_offset>", one line per entry, oldest first
//! 3 1200
//! ```

use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::storage::{read_file, write_atomically, Storage};

/// Name of the checkpoint file in the partition directory (as in Kafka).
pub const LEADER_EPOCH_CHECKPOINT_FILE: &str = "leader-epoch-checkpoint";
/// The only checkpoint format version (Kafka's `LeaderEpochCheckpointFile.CURRENT_VERSION`).
pub const CHECKPOINT_VERSION: i32 = 0;
/// Epoch answered when nothing is known (Kafka's `OffsetsForLeaderEpochResponse.UNDEFINED_EPOCH`).
pub const UNDEFINED_EPOCH: i32 = -1;
/// Offset answered when nothing is known (`UNDEFINED_EPOCH_OFFSET`).
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

/// One leader epoch and the offset of the first batch written in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

/// The cache: entries strictly increasing in both `epoch` and `start_offset`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaderEpochCache {
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The path of the checkpoint file in a partition directory.
    pub fn checkpoint_path(dir: &Path) -> PathBuf {
        dir.join(LEADER_EPOCH_CHECKPOINT_FILE)
    }

    /// All entries, oldest first.
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The newest entry.
    pub fn latest_entry(&self) -> Option<EpochEntry> {
        self.entries.last().copied()
    }

    /// The oldest entry.
    pub fn earliest_entry(&self) -> Option<EpochEntry> {
        self.entries.first().copied()
    }

    /// The newest epoch that has written to the log.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.epoch)
    }

    /// Record that `epoch` starts at `start_offset`. Returns whether the cache changed (the caller
    /// then persists it).
    ///
    /// - A negative epoch or offset is ignored (`Ok(false)`): batches a leader never stamped carry
    ///   `partitionLeaderEpoch = -1`, and Kafka's log only assigns epochs `>= 0`.
    /// - `epoch == latest`: no-op, unless `start_offset` is *below* the recorded start of that
    ///   epoch, in which case the entry moves down to it (Kafka's `isUpdateNeeded`).
    /// - `epoch < latest`: [`Error::StaleLeaderEpoch`] (the log only moves to newer epochs; Kafka
    ///   would silently drop the newer entries instead — we refuse, the log must truncate first).
    /// - `epoch > latest`: appended; entries whose start offset is `>= start_offset` conflict with
    ///   it and are removed first (Kafka's `maybeTruncateNonMonotonicEntries`), so the cache stays
    ///   strictly increasing in both fields.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> Result<bool> {
        if epoch < 0 || start_offset < 0 {
            return Ok(false);
        }
        if let Some(latest) = self.latest_entry() {
            if epoch < latest.epoch {
                return Err(Error::StaleLeaderEpoch {
                    epoch,
                    latest_epoch: latest.epoch,
                });
            }
            if epoch == latest.epoch && start_offset >= latest.start_offset {
                return Ok(false);
            }
        }
        let mut removed = Vec::new();
        while let Some(last) = self.entries.last().copied() {
            if last.epoch >= epoch || last.start_offset >= start_offset {
                removed.push(last);
                self.entries.pop();
            } else {
                break;
            }
        }
        // Removing one entry that started exactly here means it never held data: expected.
        if removed.len() > 1
            || removed
                .first()
                .is_some_and(|e| e.start_offset != start_offset)
        {
            tracing::warn!(
                epoch,
                start_offset,
                ?removed,
                "new leader epoch entry truncated conflicting entries"
            );
        }
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        Ok(true)
    }

    /// The epoch the batch at `offset` was written in: the entry with the largest start offset
    /// `<= offset`, or `None` if `offset` is below every entry (Kafka's `epochForOffset`).
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        let after = self.entries.partition_point(|e| e.start_offset <= offset);
        after.checked_sub(1).map(|i| self.entries[i].epoch)
    }

    /// Answer to OffsetForLeaderEpoch (KIP-279), exactly as Kafka's
    /// `LeaderEpochFileCache.endOffsetFor`: `(epoch, end offset)` where
    ///
    /// - `requested == UNDEFINED_EPOCH` (-1), or the cache is empty, or `requested` is newer than
    ///   the latest epoch (Kafka: "should never be hit", a leader has always assigned its own
    ///   epoch) → `(UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)` = `(-1, -1)`;
    /// - `requested == latest epoch` → `(requested, log_end_offset)`;
    /// - `requested` is older than every entry (the log start moved past it) →
    ///   `(requested, start offset of the first entry)`;
    /// - otherwise → `(largest epoch <= requested, start offset of the next higher epoch)`.
    pub fn end_offset_for(&self, requested_epoch: i32, log_end_offset: i64) -> (i32, i64) {
        const UNDEFINED: (i32, i64) = (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        if requested_epoch == UNDEFINED_EPOCH {
            return UNDEFINED;
        }
        if self.latest_epoch() == Some(requested_epoch) {
            return (requested_epoch, log_end_offset);
        }
        // First entry with epoch > requested.
        let higher = self.entries.partition_point(|e| e.epoch <= requested_epoch);
        let Some(higher_entry) = self.entries.get(higher) else {
            return UNDEFINED;
        };
        match higher.checked_sub(1) {
            None => (requested_epoch, higher_entry.start_offset),
            Some(floor) => (self.entries[floor].epoch, higher_entry.start_offset),
        }
    }

    /// The log was truncated so that `end_offset` is its new end: remove every entry whose start
    /// offset is `>= end_offset` (Kafka's `truncateFromEnd`; a negative offset is ignored).
    /// Returns whether the cache changed.
    pub fn truncate_from_end(&mut self, end_offset: i64) -> bool {
        if end_offset < 0 {
            return false;
        }
        let keep = self
            .entries
            .partition_point(|e| e.start_offset < end_offset);
        let changed = keep < self.entries.len();
        self.entries.truncate(keep);
        changed
    }

    /// The log start offset moved up to `start_offset` (retention, DeleteRecords): entries that
    /// start at or below it are dropped, and the last of them is kept with its start moved up to
    /// `start_offset`, since that epoch still covers the new first offset (Kafka's
    /// `truncateFromStart`; an entry starting exactly at `start_offset` stays as it is). Returns
    /// whether the cache changed.
    pub fn truncate_from_start(&mut self, start_offset: i64) -> bool {
        let below = self
            .entries
            .partition_point(|e| e.start_offset <= start_offset);
        let Some(last_below) = below.checked_sub(1) else {
            return false;
        };
        let moved = EpochEntry {
            epoch: self.entries[last_below].epoch,
            start_offset,
        };
        let changed = below > 1 || self.entries[last_below] != moved;
        self.entries.drain(..last_below);
        self.entries[0] = moved;
        changed
    }

    /// Remove every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Read `dir/leader-epoch-checkpoint`. A missing (or empty) file is an empty cache; anything
    /// malformed is [`Error::Corrupt`] naming the file and the line.
    pub fn load(storage: &dyn Storage, dir: &Path) -> Result<Self> {
        let path = Self::checkpoint_path(dir);
        let Some(bytes) = read_file(storage, &path).at(&path)? else {
            return Ok(Self::new());
        };
        Self::parse(&path, &bytes)
    }

    /// Write `dir/leader-epoch-checkpoint` atomically and durably.
    pub fn persist(&self, storage: &dyn Storage, dir: &Path) -> Result<()> {
        let path = Self::checkpoint_path(dir);
        write_atomically(storage, &path, self.to_checkpoint().as_bytes()).at(&path)
    }

    /// The checkpoint file's text.
    fn to_checkpoint(&self) -> String {
        use std::fmt::Write;
        let mut out = format!("{CHECKPOINT_VERSION}\n{}\n", self.entries.len());
        for e in &self.entries {
            // Writing to a String cannot fail.
            let _ = writeln!(out, "{} {}", e.epoch, e.start_offset);
        }
        out
    }

    fn parse(path: &Path, bytes: &[u8]) -> Result<Self> {
        let corrupt =
            |line: usize, detail: String| Error::corrupt(path, format!("line {line}: {detail}"));
        let text = std::str::from_utf8(bytes)
            .map_err(|e| Error::corrupt(path, format!("not UTF-8 text: {e}")))?;
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));

        // Like Kafka's CheckpointReadBuffer: an empty file, or one with only the version, is empty.
        let Some((n, version)) = lines.next() else {
            return Ok(Self::new());
        };
        match version.parse::<i32>() {
            Ok(CHECKPOINT_VERSION) => {}
            Ok(other) => return Err(corrupt(n, format!("unrecognised version {other}"))),
            Err(_) => return Err(corrupt(n, format!("malformed version {version:?}"))),
        }
        let Some((n, count)) = lines.next() else {
            return Ok(Self::new());
        };
        let expected: usize = count
            .parse()
            .map_err(|_| corrupt(n, format!("malformed entry count {count:?}")))?;

        let mut cache = Self::new();
        let mut last_line = n;
        for (n, line) in lines {
            last_line = n;
            let mut fields = line.split_whitespace();
            let (Some(epoch), Some(offset), None) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(corrupt(
                    n,
                    format!("malformed entry {line:?} (expected \"<epoch> <start_offset>\")"),
                ));
            };
            let epoch: i32 = epoch
                .parse()
                .map_err(|_| corrupt(n, format!("malformed epoch {epoch:?}")))?;
            let start_offset: i64 = offset
                .parse()
                .map_err(|_| corrupt(n, format!("malformed start offset {offset:?}")))?;
            if epoch < 0 || start_offset < 0 {
                return Err(corrupt(
                    n,
                    format!("negative entry (epoch {epoch}, start offset {start_offset})"),
                ));
            }
            if let Some(prev) = cache.latest_entry() {
                if epoch <= prev.epoch || start_offset <= prev.start_offset {
                    return Err(corrupt(
                        n,
                        format!(
                            "entry (epoch {epoch}, start offset {start_offset}) does not follow \
                             (epoch {}, start offset {}): entries must increase strictly",
                            prev.epoch, prev.start_offset
                        ),
                    ));
                }
            }
            cache.entries.push(EpochEntry {
                epoch,
                start_offset,
            });
        }
        if cache.entries.len() != expected {
            return Err(corrupt(
                last_line,
                format!(
                    "expected {expected} entries but found {}",
                    cache.entries.len()
                ),
            ));
        }
        Ok(cache)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::RealStorage;

    fn cache(entries: &[(i32, i64)]) -> LeaderEpochCache {
        let mut c = LeaderEpochCache::new();
        for &(e, o) in entries {
            assert!(c.assign(e, o).unwrap());
        }
        c
    }

    fn pairs(c: &LeaderEpochCache) -> Vec<(i32, i64)> {
        c.entries()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect()
    }

    #[test]
    fn assign_appends_newer_epochs_and_ignores_the_current_one() {
        let mut c = LeaderEpochCache::new();
        assert_eq!(c.latest_epoch(), None);
        assert!(c.assign(0, 0).unwrap());
        assert!(!c.assign(0, 5).unwrap(), "same epoch, later offset: no-op");
        assert!(c.assign(2, 10).unwrap());
        assert_eq!(c.latest_epoch(), Some(2));
        assert_eq!(pairs(&c), vec![(0, 0), (2, 10)]);
    }

    #[test]
    fn assign_ignores_unstamped_batches() {
        let mut c = cache(&[(1, 0)]);
        assert!(!c.assign(-1, 10).unwrap());
        assert!(!c.assign(3, -1).unwrap());
        assert_eq!(pairs(&c), vec![(1, 0)]);
    }

    #[test]
    fn assign_rejects_an_older_epoch() {
        let mut c = cache(&[(1, 0), (3, 10)]);
        match c.assign(2, 20) {
            Err(Error::StaleLeaderEpoch {
                epoch: 2,
                latest_epoch: 3,
            }) => {}
            other => panic!("expected StaleLeaderEpoch, got {other:?}"),
        }
        assert_eq!(pairs(&c), vec![(1, 0), (3, 10)]);
    }

    #[test]
    fn assign_with_lower_start_offset_truncates_conflicting_entries() {
        let mut c = cache(&[(1, 0), (2, 10), (3, 20)]);
        assert!(c.assign(5, 10).unwrap());
        assert_eq!(pairs(&c), vec![(1, 0), (5, 10)]);
        // Same epoch moving down (Kafka's isUpdateNeeded) also keeps the cache monotonic.
        assert!(c.assign(5, 5).unwrap());
        assert_eq!(pairs(&c), vec![(1, 0), (5, 5)]);
        assert!(c.assign(6, 0).unwrap());
        assert_eq!(pairs(&c), vec![(6, 0)]);
    }

    #[test]
    fn epoch_for_offset_finds_the_covering_epoch() {
        let c = cache(&[(1, 5), (3, 10), (4, 20)]);
        assert_eq!(c.epoch_for_offset(0), None);
        assert_eq!(c.epoch_for_offset(4), None);
        assert_eq!(c.epoch_for_offset(5), Some(1));
        assert_eq!(c.epoch_for_offset(9), Some(1));
        assert_eq!(c.epoch_for_offset(10), Some(3));
        assert_eq!(c.epoch_for_offset(19), Some(3));
        assert_eq!(c.epoch_for_offset(20), Some(4));
        assert_eq!(c.epoch_for_offset(1_000), Some(4));
        assert_eq!(LeaderEpochCache::new().epoch_for_offset(0), None);
    }

    #[test]
    fn end_offset_for_follows_kafka() {
        let c = cache(&[(1, 5), (3, 10), (4, 20)]);
        let leo = 30;
        // Current epoch: the log end offset.
        assert_eq!(c.end_offset_for(4, leo), (4, 30));
        // An epoch that exists: start offset of the next one.
        assert_eq!(c.end_offset_for(3, leo), (3, 20));
        assert_eq!(c.end_offset_for(1, leo), (1, 10));
        // KIP-279: an epoch this log never had answers the largest epoch below it.
        assert_eq!(c.end_offset_for(2, leo), (1, 10));
        // Older than every entry: the requested epoch ends where the first known one starts.
        assert_eq!(c.end_offset_for(0, leo), (0, 5));
        // Undefined requests, newer-than-latest epochs and an empty cache: (-1, -1).
        assert_eq!(c.end_offset_for(UNDEFINED_EPOCH, leo), (-1, -1));
        assert_eq!(c.end_offset_for(7, leo), (-1, -1));
        assert_eq!(LeaderEpochCache::new().end_offset_for(0, leo), (-1, -1));
    }

    #[test]
    fn kip_279_back_to_back_elections_converge() {
        // Leader: epochs 0 @0, 2 @8. Follower wrote epoch 1 @6 that the leader never saw.
        let leader = cache(&[(0, 0), (2, 8)]);
        let mut follower = cache(&[(0, 0), (1, 6)]);
        let (follower_leo, leader_leo) = (10, 12);
        // Round 1: the follower asks for its latest epoch (1); the leader says epoch 0 ends at 8.
        let (epoch, end) = leader.end_offset_for(follower.latest_epoch().unwrap(), leader_leo);
        assert_eq!((epoch, end), (0, 8));
        // The follower's own end of epoch 0 is 6 — truncate to the smaller of the two.
        let (_, own_end) = follower.end_offset_for(epoch, follower_leo);
        let truncate_to = end.min(own_end).min(follower_leo);
        assert_eq!(truncate_to, 6);
        follower.truncate_from_end(truncate_to);
        assert_eq!(pairs(&follower), vec![(0, 0)]);
        // Round 2: now the answer for epoch 0 matches and fetching resumes at 6.
        assert_eq!(leader.end_offset_for(0, leader_leo), (0, 8));
        assert!(follower.assign(2, 6).is_ok());
    }

    #[test]
    fn truncate_from_end_removes_entries_starting_at_or_after() {
        let mut c = cache(&[(1, 5), (3, 10), (4, 20)]);
        assert!(!c.truncate_from_end(25));
        assert!(!c.truncate_from_end(-1));
        assert!(c.truncate_from_end(20));
        assert_eq!(pairs(&c), vec![(1, 5), (3, 10)]);
        assert!(!c.truncate_from_end(11));
        assert!(c.truncate_from_end(6));
        assert_eq!(pairs(&c), vec![(1, 5)]);
        assert!(c.truncate_from_end(0));
        assert!(c.is_empty());
    }

    #[test]
    fn truncate_from_start_moves_the_covering_entry_up() {
        let mut c = cache(&[(1, 5), (3, 10), (4, 20)]);
        assert!(
            !c.truncate_from_start(4),
            "below every entry: nothing to do"
        );
        assert!(
            !c.truncate_from_start(5),
            "entry exactly at the start stays"
        );
        assert_eq!(pairs(&c), vec![(1, 5), (3, 10), (4, 20)]);
        assert!(c.truncate_from_start(12));
        assert_eq!(pairs(&c), vec![(3, 12), (4, 20)]);
        assert!(c.truncate_from_start(20));
        assert_eq!(pairs(&c), vec![(4, 20)]);
        assert!(c.truncate_from_start(100));
        assert_eq!(pairs(&c), vec![(4, 100)]);
        assert_eq!(c.epoch_for_offset(100), Some(4));
    }

    #[test]
    fn persist_and_load_round_trip_in_kafka_format() {
        let dir = tempfile::tempdir().unwrap();
        let storage = RealStorage;
        assert!(LeaderEpochCache::load(&storage, dir.path())
            .unwrap()
            .is_empty());

        let c = cache(&[(0, 0), (3, 1200), (7, 99_999_999_999)]);
        c.persist(&storage, dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(LEADER_EPOCH_CHECKPOINT_FILE)).unwrap();
        assert_eq!(text, "0\n3\n0 0\n3 1200\n7 99999999999\n");
        assert_eq!(LeaderEpochCache::load(&storage, dir.path()).unwrap(), c);

        LeaderEpochCache::new()
            .persist(&storage, dir.path())
            .unwrap();
        assert!(LeaderEpochCache::load(&storage, dir.path())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn load_accepts_kafka_variants() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LEADER_EPOCH_CHECKPOINT_FILE);
        for (text, want) in [
            ("", vec![]),
            ("0\n", vec![]),
            ("0\n0\n", vec![]),
            ("0\r\n1\r\n4  17\r\n", vec![(4, 17)]),
            ("0\n2\n1 0\n2 9", vec![(1, 0), (2, 9)]),
        ] {
            std::fs::write(&path, text).unwrap();
            let c = LeaderEpochCache::load(&RealStorage, dir.path()).unwrap();
            assert_eq!(pairs(&c), want, "{text:?}");
        }
    }

    #[test]
    fn malformed_checkpoint_is_corrupt_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LEADER_EPOCH_CHECKPOINT_FILE);
        for (text, line, what) in [
            ("1\n0\n", 1, "unrecognised version"),
            ("x\n", 1, "malformed version"),
            ("0\nmany\n", 2, "malformed entry count"),
            ("0\n1\n3\n", 3, "malformed entry"),
            ("0\n1\n3 4 5\n", 3, "malformed entry"),
            ("0\n2\n1 0\n\n", 4, "malformed entry"),
            ("0\n1\nx 4\n", 3, "malformed epoch"),
            ("0\n1\n3 4x\n", 3, "malformed start offset"),
            ("0\n1\n-3 4\n", 3, "negative entry"),
            ("0\n2\n3 4\n2 9\n", 4, "must increase strictly"),
            ("0\n2\n3 4\n5 4\n", 4, "must increase strictly"),
            ("0\n3\n3 4\n5 9\n", 4, "expected 3 entries but found 2"),
            ("0\n1\n3 4\n5 9\n", 4, "expected 1 entries but found 2"),
        ] {
            std::fs::write(&path, text).unwrap();
            match LeaderEpochCache::load(&RealStorage, dir.path()) {
                Err(Error::Corrupt { path: p, detail }) => {
                    assert_eq!(p, path);
                    assert!(detail.contains(what), "{text:?}: {detail}");
                    assert!(
                        detail.starts_with(&format!("line {line}:")),
                        "{text:?}: {detail}"
                    );
                }
                other => panic!("{text:?}: expected Corrupt, got {other:?}"),
            }
        }
        std::fs::write(&path, b"0\n1\n\xff").unwrap();
        match LeaderEpochCache::load(&RealStorage, dir.path()) {
            Err(Error::Corrupt { path: p, detail }) => {
                assert_eq!(p, path);
                assert!(detail.contains("not UTF-8"), "{detail}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}
