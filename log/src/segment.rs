//! A segment: one `<20-digit base offset>.log` file of record batches with its offset index and
//! time index.
//!
//! A partition log is a sequence of segments; only the last (the active segment) is appended to.
//! The segment knows byte positions and batch headers; it never decodes records. Batches are
//! written as they came, with base offset and leader epoch stamped into their first bytes (both
//! outside the CRC), and read back as raw bytes.

use std::io::IoSlice;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::batch::{BatchHeader, RecordBatch, HEADER_LEN, LOG_OVERHEAD};
use crate::config::LogConfig;
use crate::error::{Error, IoContext, Result};
use crate::index::{OffsetEntry, OffsetIndex, TimeEntry, TimeIndex};
use crate::storage::{parent_dir, remove_if_exists, OpenMode, Storage, StorageFile};

/// Extension of a segment's log file.
pub const LOG_SUFFIX: &str = ".log";
/// Extension of a segment's offset index.
pub const INDEX_SUFFIX: &str = ".index";
/// Extension of a segment's time index.
pub const TIME_INDEX_SUFFIX: &str = ".timeindex";

/// `<dir>/<20-digit base offset><suffix>`, Kafka's file naming.
pub fn segment_path(dir: &Path, base_offset: i64, suffix: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}{suffix}"))
}

/// The base offset in a segment file name such as `00000000000000000042.log`.
pub fn parse_base_offset(name: &str, suffix: &str) -> Option<i64> {
    let digits = name.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Remove the log and index files of the segment at `base_offset` (those that exist). Durable
/// once the directory is synced.
pub fn delete_files(storage: &dyn Storage, dir: &Path, base_offset: i64) -> Result<()> {
    for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
        let path = segment_path(dir, base_offset, suffix);
        remove_if_exists(storage, &path).at(&path)?;
    }
    Ok(())
}

/// The three files of a segment.
#[derive(Clone, Debug)]
pub(crate) struct SegmentPaths {
    pub log: PathBuf,
    pub index: PathBuf,
    pub time_index: PathBuf,
}

impl SegmentPaths {
    /// The files of the segment at `base_offset` in `dir`.
    pub fn of(dir: &Path, base_offset: i64) -> Self {
        SegmentPaths {
            log: segment_path(dir, base_offset, LOG_SUFFIX),
            index: segment_path(dir, base_offset, INDEX_SUFFIX),
            time_index: segment_path(dir, base_offset, TIME_INDEX_SUFFIX),
        }
    }

    /// The same names with `extra` appended (`.cleaned` for the cleaner's copy).
    pub fn with_suffix(&self, extra: &str) -> Self {
        let add = |p: &Path| {
            let mut name = p.as_os_str().to_owned();
            name.push(extra);
            PathBuf::from(name)
        };
        SegmentPaths {
            log: add(&self.log),
            index: add(&self.index),
            time_index: add(&self.time_index),
        }
    }
}

/// A batch about to be appended: its validated bytes and the stamped first 17 bytes that replace
/// the producer's (base offset and leader epoch).
pub(crate) struct StampedBatch<'a> {
    pub batch: &'a RecordBatch,
    pub header: BatchHeader,
    pub prefix: [u8; crate::batch::CRC_OFFSET],
}

/// Why a recovery scan stopped before the end of the file.
#[derive(Debug)]
pub(crate) struct Truncation {
    pub position: u64,
    pub reason: String,
}

/// One segment: its log file, its two indexes, and what the partition needs to know of it
/// without reading the file (size, next offset, max timestamp).
pub(crate) struct Segment {
    pub base_offset: i64,
    pub log_path: PathBuf,
    pub log: Arc<dyn StorageFile>,
    /// Bytes of valid batches; appends go here.
    pub size: u64,
    /// The offset after the segment's last batch (its base offset when empty).
    pub next_offset: i64,
    pub offset_index: OffsetIndex,
    pub time_index: TimeIndex,
    /// The largest batch max timestamp in the segment (-1 when empty).
    pub max_timestamp: i64,
    /// The base offset of the batch holding `max_timestamp`.
    pub offset_of_max_timestamp: i64,
    bytes_since_index_entry: usize,
    /// When the segment was created or opened, for `segment.ms`.
    pub created_ms: i64,
}

impl Segment {
    /// Create an empty active segment (replacing any stale files of the same base offset).
    pub fn create(
        storage: &dyn Storage,
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        now_ms: i64,
    ) -> Result<Segment> {
        // Stale files are removed rather than truncated: on ext4, truncating a file to zero
        // makes closing it later start writeback of everything written since (auto_da_alloc).
        delete_files(storage, dir, base_offset)?;
        let paths = SegmentPaths::of(dir, base_offset);
        let log = storage
            .open(&paths.log, OpenMode::CreateNew)
            .at(&paths.log)?;
        Self::with_files(storage, paths, base_offset, log, config, true, now_ms)
    }

    /// Open an existing segment. Its size is the file's length; the caller then either trusts it
    /// ([`Segment::load_tail`]) or validates it ([`Segment::recover`]).
    pub fn open(
        storage: &dyn Storage,
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        writable: bool,
        now_ms: i64,
    ) -> Result<Segment> {
        let paths = SegmentPaths::of(dir, base_offset);
        Self::open_at(storage, paths, base_offset, config, writable, now_ms)
    }

    /// [`Segment::open`] on files of other names (the cleaner's copy).
    pub fn open_at(
        storage: &dyn Storage,
        paths: SegmentPaths,
        base_offset: i64,
        config: &LogConfig,
        writable: bool,
        now_ms: i64,
    ) -> Result<Segment> {
        let log = storage
            .open(&paths.log, OpenMode::Existing)
            .at(&paths.log)?;
        let mut segment =
            Self::with_files(storage, paths, base_offset, log, config, writable, now_ms)?;
        segment.size = segment.log.len().at(&segment.log_path)?;
        Ok(segment)
    }

    /// Record that the segment's files were renamed to `paths` (open handles follow a rename).
    pub fn renamed(&mut self, paths: SegmentPaths) {
        self.log_path = paths.log;
        self.offset_index.renamed(paths.index);
        self.time_index.renamed(paths.time_index);
    }

    fn with_files(
        storage: &dyn Storage,
        paths: SegmentPaths,
        base_offset: i64,
        log: Arc<dyn StorageFile>,
        config: &LogConfig,
        writable: bool,
        now_ms: i64,
    ) -> Result<Segment> {
        let max = config.segment_index_bytes;
        Ok(Segment {
            base_offset,
            offset_index: OffsetIndex::open(storage, &paths.index, max, writable)?,
            time_index: TimeIndex::open(storage, &paths.time_index, max, writable)?,
            log_path: paths.log,
            log,
            size: 0,
            next_offset: base_offset,
            max_timestamp: -1,
            offset_of_max_timestamp: base_offset,
            bytes_since_index_entry: 0,
            created_ms: now_ms,
        })
    }

    /// Derive `next_offset`, the max timestamp and the index cadence by walking the batch headers
    /// after the last offset-index entry (at most `index.interval.bytes` of log when the indexes
    /// are intact). Trusts the file: after an unclean shutdown use [`Segment::recover`] instead.
    pub fn load_tail(&mut self) -> Result<()> {
        let start = match self.offset_index.last() {
            Some(e) if u64::from(e.position) < self.size => u64::from(e.position),
            _ => 0,
        };
        if let Some(t) = self.time_index.last() {
            self.max_timestamp = t.timestamp;
            self.offset_of_max_timestamp = self.base_offset + i64::from(t.relative_offset);
        }
        self.next_offset = self.base_offset;
        let mut position = start;
        while let Some(header) = self.header_at(position)? {
            self.note_timestamp(&header);
            self.next_offset = header.next_offset();
            position += header.total_size() as u64;
        }
        self.bytes_since_index_entry = (self.size - start) as usize;
        Ok(())
    }

    /// The header of the batch at `position`, or `None` at or past the end of the segment.
    pub fn header_at(&self, position: u64) -> Result<Option<BatchHeader>> {
        if position + HEADER_LEN as u64 > self.size {
            return Ok(None);
        }
        let mut buf = [0u8; HEADER_LEN];
        self.log
            .read_exact_at(&mut buf, position)
            .at(&self.log_path)?;
        let header = BatchHeader::parse(&buf).map_err(|e| {
            Error::corrupt(
                &self.log_path,
                format!("batch header at byte {position}: {e}"),
            )
        })?;
        if header.batch_length < (HEADER_LEN - LOG_OVERHEAD) as i32
            || position + header.total_size() as u64 > self.size
        {
            return Err(Error::corrupt(
                &self.log_path,
                format!(
                    "batch at byte {position} has impossible length {}",
                    header.batch_length
                ),
            ));
        }
        Ok(Some(header))
    }

    fn relative(&self, offset: i64) -> u32 {
        u32::try_from((offset - self.base_offset).max(0)).unwrap_or(u32::MAX)
    }

    fn note_timestamp(&mut self, header: &BatchHeader) {
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.offset_of_max_timestamp = header.base_offset;
        }
    }

    /// Account for a batch just placed at `position`: index entries every
    /// `index.interval.bytes`, and the time index whenever the max timestamp grows.
    fn index_batch(&mut self, header: &BatchHeader, position: u64, interval: usize) {
        self.note_timestamp(header);
        if self.bytes_since_index_entry >= interval {
            let entry = OffsetEntry {
                relative_offset: self.relative(header.base_offset),
                position: position as u32,
            };
            if self.offset_index.append(entry) {
                self.bytes_since_index_entry = 0;
                self.time_index.append(TimeEntry {
                    timestamp: self.max_timestamp,
                    relative_offset: self.relative(self.offset_of_max_timestamp),
                });
            }
        }
        self.bytes_since_index_entry += header.total_size();
        self.next_offset = header.next_offset();
    }

    /// Whether the segment must roll before taking `incoming_bytes` more, ending at `last_offset`.
    pub fn should_roll(
        &self,
        config: &LogConfig,
        incoming_bytes: usize,
        last_offset: i64,
        now_ms: i64,
    ) -> bool {
        if self.size == 0 {
            return false;
        }
        self.size + incoming_bytes as u64 > config.segment_bytes
            || now_ms.saturating_sub(self.created_ms) >= config.segment_ms
            || self.offset_index.is_full()
            || self.time_index.is_full()
            || last_offset - self.base_offset > i64::from(u32::MAX)
    }

    /// Write batches at the end of the segment in one vectored write.
    pub fn append(&mut self, batches: &[StampedBatch<'_>], interval: usize) -> Result<()> {
        let mut slices = Vec::with_capacity(batches.len() * 2);
        for b in batches {
            slices.push(IoSlice::new(&b.prefix));
            slices.push(IoSlice::new(&b.batch.bytes()[crate::batch::CRC_OFFSET..]));
        }
        self.log
            .write_all_vectored_at(&slices, self.size)
            .at(&self.log_path)?;
        for b in batches {
            let position = self.size;
            self.index_batch(&b.header, position, interval);
            self.size += b.header.total_size() as u64;
        }
        Ok(())
    }

    /// The position and header of the first batch whose last offset is at or after `offset`, or
    /// `None` if every batch of the segment is below `offset`.
    pub fn find_batch(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>> {
        let mut position = self
            .offset_index
            .lookup(self.relative(offset))
            .map_or(0, |e| u64::from(e.position));
        while let Some(header) = self.header_at(position)? {
            if header.last_offset() >= offset {
                return Ok(Some((position, header)));
            }
            position += header.total_size() as u64;
        }
        Ok(None)
    }

    /// Read `len` bytes at `position` into one buffer (the only copy of the data).
    pub fn read_bytes(&self, position: u64, len: usize) -> Result<Bytes> {
        let mut buf = BytesMut::zeroed(len);
        self.log
            .read_exact_at(&mut buf, position)
            .at(&self.log_path)?;
        Ok(buf.freeze())
    }

    /// Validate every batch from the start (CRC, lengths, offsets), rebuild both indexes, and cut
    /// the file at the first invalid batch. `visit` sees each valid batch's header in order.
    pub fn recover(
        &mut self,
        config: &LogConfig,
        min_base_offset: i64,
        mut visit: impl FnMut(&BatchHeader),
    ) -> Result<Option<Truncation>> {
        let file_len = self.log.len().at(&self.log_path)?;
        self.offset_index.clear();
        self.time_index.clear();
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = self.base_offset;
        self.bytes_since_index_entry = 0;
        self.next_offset = self.base_offset;
        self.size = 0;
        let max_batch = config.max_message_bytes.max(file_len as usize);
        let mut position = 0u64;
        let mut expected = min_base_offset.max(self.base_offset);
        let truncation = loop {
            if position == file_len {
                break None;
            }
            match self.valid_batch_at(position, file_len, expected, max_batch) {
                Ok(header) => {
                    self.size = position + header.total_size() as u64;
                    self.index_batch(&header, position, config.index_interval_bytes);
                    visit(&header);
                    expected = header.next_offset();
                    position = self.size;
                }
                Err(reason) => break Some(Truncation { position, reason }),
            }
        };
        if truncation.is_some() {
            self.log.set_len(position).at(&self.log_path)?;
        }
        self.size = position;
        Ok(truncation)
    }

    fn valid_batch_at(
        &self,
        position: u64,
        file_len: u64,
        expected_offset: i64,
        max_batch: usize,
    ) -> std::result::Result<BatchHeader, String> {
        let remaining = file_len - position;
        if remaining < HEADER_LEN as u64 {
            return Err(format!(
                "{remaining} trailing bytes, less than a batch header"
            ));
        }
        let mut head = [0u8; HEADER_LEN];
        self.log
            .read_exact_at(&mut head, position)
            .map_err(|e| format!("read failed: {e}"))?;
        let header = BatchHeader::parse(&head).map_err(|e| e.to_string())?;
        let total = header.total_size();
        if header.batch_length < (HEADER_LEN - LOG_OVERHEAD) as i32 || total > max_batch {
            return Err(format!("impossible batch length {}", header.batch_length));
        }
        if total as u64 > remaining {
            return Err(format!(
                "batch of {total} bytes but only {remaining} remain (torn write)"
            ));
        }
        if header.base_offset < expected_offset {
            return Err(format!(
                "base offset {} is below the expected {expected_offset}",
                header.base_offset
            ));
        }
        if header.base_offset > i64::MAX - i64::from(i32::MAX) - 1
            || header.last_offset() - self.base_offset > i64::from(u32::MAX)
        {
            return Err(format!(
                "offset {} does not fit the segment",
                header.last_offset()
            ));
        }
        let bytes = self
            .read_bytes(position, total)
            .map_err(|e| format!("read failed: {e}"))?;
        RecordBatch::validate(bytes).map_err(|e| e.to_string())?;
        Ok(header)
    }

    /// Whether every index entry points where the log says it should (checked after an unclean
    /// shutdown, since indexes are not checksummed and their pages may be older or newer than the
    /// log's).
    pub fn indexes_agree_with_log(&self) -> bool {
        let last_relative = self.relative(self.next_offset);
        for i in 0..self.offset_index.len() {
            let entry = self.offset_index.entry(i);
            match self.header_at(u64::from(entry.position)) {
                Ok(Some(h))
                    if h.base_offset == self.base_offset + i64::from(entry.relative_offset) => {}
                _ => return false,
            }
        }
        (0..self.time_index.len()).all(|i| {
            let e = self.time_index.entry(i);
            e.relative_offset < last_relative.max(1) && e.timestamp <= self.max_timestamp
        })
    }

    /// Cut the segment so that it ends before the batch holding `offset`. Returns the new next
    /// offset (the base offset of that batch, or unchanged if `offset` is past the end).
    pub fn truncate_to(&mut self, offset: i64) -> Result<i64> {
        let Some((position, header)) = self.find_batch(offset)? else {
            return Ok(self.next_offset);
        };
        self.log.set_len(position).at(&self.log_path)?;
        self.size = position;
        let relative = self.relative(header.base_offset);
        self.offset_index.truncate_to(relative);
        self.time_index.truncate_to(relative);
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = self.base_offset;
        self.load_tail()?;
        Ok(self.next_offset)
    }

    /// Close the segment for appends: a final time-index entry for its max timestamp, then both
    /// indexes trimmed to their entries. No fsync: see [`Segment::sync_indexes`].
    pub fn seal(&mut self) -> Result<()> {
        if self.max_timestamp >= 0 {
            self.time_index.append(TimeEntry {
                timestamp: self.max_timestamp,
                relative_offset: self.relative(self.offset_of_max_timestamp),
            });
        }
        self.offset_index.trim()?;
        self.time_index.trim()
    }

    /// Make both indexes durable (before a clean close, whose next open trusts them).
    pub fn sync_indexes(&self) -> Result<()> {
        self.offset_index.sync()?;
        self.time_index.sync()
    }

    /// Make a sealed segment appendable again (after a truncation removed the segments after it).
    pub fn unseal(&mut self, config: &LogConfig) -> Result<()> {
        self.offset_index
            .reopen_writable(config.segment_index_bytes)?;
        self.time_index.reopen_writable(config.segment_index_bytes)
    }

    /// Remove the segment's files (open handles stay readable until dropped).
    pub fn delete_files(&self, storage: &dyn Storage) -> Result<()> {
        delete_files(storage, parent_dir(&self.log_path), self.base_offset)
    }
}
