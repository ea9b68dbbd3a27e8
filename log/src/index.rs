//! A segment's sparse indexes, kept in memory-mapped files as Kafka keeps them.
//!
//! - The **offset index** (`<base>.index`) maps a relative offset to the byte position of the
//!   batch that starts there: 8-byte entries (`u32` relative offset, `u32` position), one every
//!   `index.interval.bytes` of log. A lookup finds the greatest entry at or below an offset; the
//!   segment then walks batch headers forward from its position.
//! - The **time index** (`<base>.timeindex`) holds 12-byte entries (`i64` timestamp, `u32`
//!   relative offset) with strictly increasing timestamps: every batch before the entry's offset
//!   has a max timestamp at or below the entry's timestamp.
//!
//! The active segment's indexes are preallocated to `segment.index.bytes` and trimmed to their
//! entries when the segment rolls or the log closes. Indexes are derived data with no checksum: a
//! file's entries are counted by reading until the first entry that does not follow its
//! predecessor (or is all zeros, as a preallocated tail is), and after an unclean shutdown the
//! segment checks them against the log and rebuilds them where they disagree.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{IoContext, Result};
use crate::storage::{MappedFile, OpenMode, Storage, StorageFile};

/// One fixed-size index entry.
pub(crate) trait IndexEntry: Copy + std::fmt::Debug {
    const SIZE: usize;
    fn encode(&self) -> [u8; 12];
    fn decode(buf: &[u8]) -> Self;
    /// Whether `self` may come right after `prev` in the file.
    fn follows(&self, prev: &Self) -> bool;
    /// The all-zero entry of a preallocated tail.
    fn is_zero(&self) -> bool;
    /// The offset (relative to the segment's base) the entry points at.
    fn relative_offset(&self) -> u32;
}

/// An offset-index entry: the batch starting at `relative_offset` sits at byte `position`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

impl IndexEntry for OffsetEntry {
    const SIZE: usize = 8;
    fn encode(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[0..4].copy_from_slice(&self.relative_offset.to_be_bytes());
        b[4..8].copy_from_slice(&self.position.to_be_bytes());
        b
    }
    fn decode(buf: &[u8]) -> Self {
        OffsetEntry {
            relative_offset: u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]),
            position: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
        }
    }
    fn follows(&self, prev: &Self) -> bool {
        self.relative_offset > prev.relative_offset && self.position > prev.position
    }
    fn is_zero(&self) -> bool {
        self.relative_offset == 0 && self.position == 0
    }
    fn relative_offset(&self) -> u32 {
        self.relative_offset
    }
}

/// A time-index entry: batches before `relative_offset` have timestamps at or below `timestamp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub timestamp: i64,
    pub relative_offset: u32,
}

impl IndexEntry for TimeEntry {
    const SIZE: usize = 12;
    fn encode(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[0..8].copy_from_slice(&self.timestamp.to_be_bytes());
        b[8..12].copy_from_slice(&self.relative_offset.to_be_bytes());
        b
    }
    fn decode(buf: &[u8]) -> Self {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&buf[0..8]);
        TimeEntry {
            timestamp: i64::from_be_bytes(ts),
            relative_offset: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
        }
    }
    fn follows(&self, prev: &Self) -> bool {
        self.timestamp > prev.timestamp && self.relative_offset >= prev.relative_offset
    }
    fn is_zero(&self) -> bool {
        self.timestamp == 0 && self.relative_offset == 0
    }
    fn relative_offset(&self) -> u32 {
        self.relative_offset
    }
}

/// A memory-mapped index file of entries of type `E`.
pub(crate) struct MappedIndex<E: IndexEntry> {
    path: PathBuf,
    file: Arc<dyn StorageFile>,
    map: Option<Box<dyn MappedFile>>,
    capacity: usize,
    len: usize,
    _entry: PhantomData<E>,
}

pub(crate) type OffsetIndex = MappedIndex<OffsetEntry>;
pub(crate) type TimeIndex = MappedIndex<TimeEntry>;

impl<E: IndexEntry> MappedIndex<E> {
    /// Open (creating if missing) an index file. A `writable` index (the active segment's) is
    /// grown to `max_bytes` so entries can be appended; a closed one is mapped at its length.
    pub fn open(
        storage: &dyn Storage,
        path: &Path,
        max_bytes: usize,
        writable: bool,
    ) -> Result<Self> {
        let file = storage.open(path, OpenMode::Create).at(path)?;
        let file_len = file.len().at(path)? as usize;
        let mut index = MappedIndex {
            path: path.to_path_buf(),
            file,
            map: None,
            capacity: 0,
            len: 0,
            _entry: PhantomData,
        };
        let bytes = if writable {
            (max_bytes.max(file_len) / E::SIZE) * E::SIZE
        } else {
            (file_len / E::SIZE) * E::SIZE
        };
        index.remap(bytes)?;
        index.len = index.count_valid();
        Ok(index)
    }

    fn remap(&mut self, bytes: usize) -> Result<()> {
        self.map = None;
        self.file.set_len(bytes as u64).at(&self.path)?;
        self.capacity = bytes / E::SIZE;
        if bytes > 0 {
            self.map = Some(self.file.map(bytes).at(&self.path)?);
        }
        Ok(())
    }

    fn count_valid(&self) -> usize {
        let mut count = 0;
        let mut prev: Option<E> = None;
        while count < self.capacity {
            let entry = self.entry(count);
            if entry.is_zero() || prev.is_some_and(|p| !entry.follows(&p)) {
                break;
            }
            prev = Some(entry);
            count += 1;
        }
        count
    }

    /// Record that the file was renamed (the map and handle follow it).
    pub fn renamed(&mut self, path: PathBuf) {
        self.path = path;
    }

    /// The number of entries in use.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no more entries fit.
    pub fn is_full(&self) -> bool {
        self.len >= self.capacity
    }

    /// Entry `i` (`i < len`, or a raw read below capacity while counting).
    pub fn entry(&self, i: usize) -> E {
        let map = self.map.as_ref().map(|m| m.as_slice()).unwrap_or(&[]);
        E::decode(&map[i * E::SIZE..(i + 1) * E::SIZE])
    }

    /// The last entry, if any.
    pub fn last(&self) -> Option<E> {
        self.len.checked_sub(1).map(|i| self.entry(i))
    }

    /// Append an entry. Returns false (and writes nothing) if the index is full or the entry does
    /// not follow the last one.
    pub fn append(&mut self, entry: E) -> bool {
        if self.is_full() || self.last().is_some_and(|last| !entry.follows(&last)) {
            return false;
        }
        let Some(map) = self.map.as_mut() else {
            return false;
        };
        map.write(self.len * E::SIZE, &entry.encode()[..E::SIZE]);
        self.len += 1;
        true
    }

    /// The index of the greatest entry for which `at_or_below(entry)` holds, assuming the
    /// predicate is true for a prefix of the entries.
    pub fn floor_by(&self, at_or_below: impl Fn(&E) -> bool) -> Option<E> {
        let (mut lo, mut hi) = (0usize, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if at_or_below(&self.entry(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.checked_sub(1).map(|i| self.entry(i))
    }

    /// Keep only the first `keep` entries, zeroing the rest so a reopen does not count them.
    pub fn truncate_entries(&mut self, keep: usize) {
        if keep >= self.len {
            return;
        }
        if let Some(map) = self.map.as_mut() {
            let zeros = vec![0u8; (self.len - keep) * E::SIZE];
            map.write(keep * E::SIZE, &zeros);
        }
        self.len = keep;
    }

    /// Drop entries that point at or after `relative_offset` (the log was truncated there).
    pub fn truncate_to(&mut self, relative_offset: u32) {
        let keep = (0..self.len)
            .take_while(|&i| self.entry(i).relative_offset() < relative_offset)
            .count();
        self.truncate_entries(keep);
    }

    /// Drop every entry (before a rebuild).
    pub fn clear(&mut self) {
        self.truncate_entries(0);
    }

    /// Shrink the file to its entries (segment roll, close). A trimmed index accepts no more
    /// entries until [`MappedIndex::reopen_writable`]. Not durable until [`MappedIndex::sync`]:
    /// the entries written through the map reach the disk with the file's other dirty pages.
    pub fn trim(&mut self) -> Result<()> {
        self.remap(self.len * E::SIZE)
    }

    /// Make the file, and every entry written through the map, durable.
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().at(&self.path)
    }

    /// Grow a trimmed index back to `max_bytes` (a truncation made a closed segment active).
    pub fn reopen_writable(&mut self, max_bytes: usize) -> Result<()> {
        let bytes = (max_bytes.max(self.len * E::SIZE) / E::SIZE) * E::SIZE;
        self.remap(bytes)
    }
}

impl OffsetIndex {
    /// The greatest entry at or below `relative_offset`.
    pub fn lookup(&self, relative_offset: u32) -> Option<OffsetEntry> {
        self.floor_by(|e| e.relative_offset <= relative_offset)
    }
}

impl TimeIndex {
    /// The greatest entry with a timestamp strictly below `timestamp`.
    pub fn lookup_below(&self, timestamp: i64) -> Option<TimeEntry> {
        self.floor_by(|e| e.timestamp < timestamp)
    }
}
