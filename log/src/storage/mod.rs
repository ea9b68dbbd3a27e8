//! The storage fault layer: every file and directory operation of the engine goes through the
//! [`Storage`] trait, so a test can swap the real filesystem for a simulated one that models what a
//! power cut does.
//!
//! - [`RealStorage`] is the production implementation over `std::fs`, `pwritev`, `fdatasync` and
//!   `memmap2`.
//! - [`SimStorage`] keeps every file in memory and tracks, per file, which bytes were written but not
//!   yet synced, and, per directory, which creations, renames and deletions were not yet made durable
//!   by a directory fsync. [`SimStorage::power_loss`] throws all of that away (optionally keeping a
//!   torn prefix of the unsynced writes), exactly what a real power cut does to a page cache, and
//!   invalidates every handle opened before it.
//! - [`CrashingStorage`] wraps either and makes every mutating call fail once a budget is spent
//!   (the process died there), so a power cut can fall inside any engine operation; it also
//!   counts fdatasyncs.
//!
//! The engine's durability contract is expressed only in terms of this trait: data is durable once
//! [`StorageFile::sync_data`] returned for it, and a file's existence (or a rename) is durable once
//! [`Storage::sync_dir`] returned for its directory.

mod crash;
mod real;
mod sim;

use std::io::{self, IoSlice};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crash::{CrashingStorage, NO_CRASH};
pub use real::RealStorage;
pub use sim::{PowerLoss, SimStorage};

/// How [`Storage::open`] treats a missing file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Open an existing file for reading and writing; fail with `NotFound` if it is missing.
    Existing,
    /// Open for reading and writing, creating the file (empty) if it is missing.
    Create,
    /// Create a new empty file; fail with `AlreadyExists` if one is there.
    CreateNew,
}

/// A filesystem: files, directories and the two kinds of fsync.
pub trait Storage: Send + Sync + 'static {
    /// Open (or create) a file.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>>;
    /// Create a directory and its parents. Directories are treated as durable once created.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// The names (not paths) of the entries of a directory, sorted.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Whether a file exists.
    fn exists(&self, path: &Path) -> bool;
    /// Atomically rename a file, replacing `to` if it exists. Durable after `sync_dir`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Remove a file. Durable after `sync_dir`. Open handles stay readable.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Make the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// An open file. All positions are absolute; there is no cursor, so one handle serves concurrent
/// readers and a single writer.
// `len` is a fallible file length, not a collection's size: an `is_empty` would add nothing.
#[allow(clippy::len_without_is_empty)]
pub trait StorageFile: Send + Sync {
    /// Current length in bytes (including unsynced writes).
    fn len(&self) -> io::Result<u64>;
    /// Fill `buf` from `offset`; fails with `UnexpectedEof` if the file ends first.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Write all of `bufs`, one after another, starting at `offset` (one `pwritev` where possible).
    fn write_all_vectored_at(&self, bufs: &[IoSlice<'_>], offset: u64) -> io::Result<()>;
    /// Grow (with zeros) or shrink the file.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Make the file's data durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// Map the whole file (whose length must already be `len`) for reading and writing. Used for
    /// the offset and time indexes, which are derived data: after an unclean shutdown their
    /// contents are checked against the log.
    fn map(&self, len: usize) -> io::Result<Box<dyn MappedFile>>;
}

impl dyn StorageFile {
    /// Write one buffer at `offset`.
    pub fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.write_all_vectored_at(&[IoSlice::new(buf)], offset)
    }

    /// Read `len` bytes at `offset` into a fresh buffer.
    pub fn read_vec_at(&self, len: usize, offset: u64) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; len];
        self.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }
}

/// A writable memory map of a file. Writes are visible to readers at once and reach the file
/// (durably) on [`MappedFile::flush`]; before that, a power cut may keep any of them or none.
pub trait MappedFile: Send + Sync {
    /// The mapped bytes.
    fn as_slice(&self) -> &[u8];
    /// Copy `data` into the map at `offset`. `offset + data.len()` must be within the map.
    fn write(&mut self, offset: usize, data: &[u8]);
    /// Write the map back to the file and make it durable (`msync`).
    fn flush(&self) -> io::Result<()>;
}

/// Write `contents` to `path` atomically and durably: write a temporary file beside it, fsync it,
/// rename it over `path`, fsync the directory. A crash at any point leaves either the old file or
/// the new one, never a mix. Used for every checkpoint the engine keeps.
pub fn write_atomically(storage: &dyn Storage, path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = parent_dir(path);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let file = storage.open(&tmp, OpenMode::Create)?;
    file.set_len(0)?;
    file.write_all_at(contents, 0)?;
    file.sync_data()?;
    drop(file);
    storage.rename(&tmp, path)?;
    storage.sync_dir(dir)
}

/// Read a whole file, or `None` if it does not exist.
pub fn read_file(storage: &dyn Storage, path: &Path) -> io::Result<Option<Vec<u8>>> {
    let file = match storage.open(path, OpenMode::Existing) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = usize::try_from(file.len()?).map_err(|_| io::Error::other("file too large"))?;
    file.read_vec_at(len, 0).map(Some)
}

/// Remove a file if it exists (not durable until the directory is synced).
pub fn remove_if_exists(storage: &dyn Storage, path: &Path) -> io::Result<()> {
    match storage.remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The directory a path lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
