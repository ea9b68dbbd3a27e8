//! [`CrashingStorage`]: a wrapper around any [`Storage`] that makes the process "crash" once a
//! budget of mutating operations is spent, and counts fdatasyncs.
//!
//! After the budget runs out, every write, resize, sync, creation, rename and removal fails
//! (reads still work), exactly as if the process had died at that point. Over a
//! [`super::SimStorage`], a test then cuts the power and reopens, so a crash can fall in the middle
//! of any engine operation, not only between two. Over [`super::RealStorage`], the sync counter
//! shows how many fdatasyncs a workload cost (group commit).

use std::io::{self, IoSlice};
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use super::{MappedFile, OpenMode, Storage, StorageFile};

/// A budget that never runs out in a test.
pub const NO_CRASH: i64 = i64::MAX / 2;

/// See the module documentation. Clones share the budget and the counter.
#[derive(Clone)]
pub struct CrashingStorage {
    inner: Arc<dyn Storage>,
    budget: Arc<AtomicI64>,
    syncs: Arc<AtomicU64>,
}

#[derive(Clone)]
struct Counters {
    budget: Arc<AtomicI64>,
    syncs: Arc<AtomicU64>,
}

impl Counters {
    /// Spend one mutating operation, or fail if the process has "crashed".
    fn spend(&self) -> io::Result<()> {
        if self.budget.fetch_sub(1, Ordering::SeqCst) > 0 {
            Ok(())
        } else {
            Err(io::Error::other("simulated crash: the process is gone"))
        }
    }

    fn sync(&self) -> io::Result<()> {
        self.spend()?;
        self.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl CrashingStorage {
    /// Wrap `inner` with a budget that never runs out.
    pub fn new(inner: impl Storage) -> Self {
        Self::with_budget(inner, Arc::new(AtomicI64::new(NO_CRASH)))
    }

    /// Wrap `inner`, spending from a budget the caller also holds.
    pub fn with_budget(inner: impl Storage, budget: Arc<AtomicI64>) -> Self {
        CrashingStorage {
            inner: Arc::new(inner),
            budget,
            syncs: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Crash after `operations` more mutating operations.
    pub fn crash_after(&self, operations: i64) {
        self.budget.store(operations, Ordering::SeqCst);
    }

    /// fdatasyncs (and map flushes) that went through so far.
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::SeqCst)
    }

    fn counters(&self) -> Counters {
        Counters {
            budget: self.budget.clone(),
            syncs: self.syncs.clone(),
        }
    }
}

impl Storage for CrashingStorage {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        let counters = self.counters();
        if mode != OpenMode::Existing {
            counters.spend()?;
        }
        let inner = self.inner.open(path, mode)?;
        Ok(Arc::new(CrashingFile { inner, counters }))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.counters().spend()?;
        self.inner.create_dir_all(path)
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list_dir(dir)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.counters().spend()?;
        self.inner.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.counters().spend()?;
        self.inner.remove_file(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.counters().spend()?;
        self.inner.sync_dir(dir)
    }
}

struct CrashingFile {
    inner: Arc<dyn StorageFile>,
    counters: Counters,
}

impl StorageFile for CrashingFile {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.inner.read_exact_at(buf, offset)
    }
    fn write_all_vectored_at(&self, bufs: &[IoSlice<'_>], offset: u64) -> io::Result<()> {
        self.counters.spend()?;
        self.inner.write_all_vectored_at(bufs, offset)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.counters.spend()?;
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.counters.sync()?;
        self.inner.sync_data()
    }
    fn map(&self, len: usize) -> io::Result<Box<dyn MappedFile>> {
        Ok(Box::new(CrashingMap {
            inner: self.inner.map(len)?,
            counters: self.counters.clone(),
        }))
    }
}

/// Map writes cannot fail; they stay unsynced page-cache writes, which a power cut then handles.
struct CrashingMap {
    inner: Box<dyn MappedFile>,
    counters: Counters,
}

impl MappedFile for CrashingMap {
    fn as_slice(&self) -> &[u8] {
        self.inner.as_slice()
    }
    fn write(&mut self, offset: usize, data: &[u8]) {
        self.inner.write(offset, data)
    }
    fn flush(&self) -> io::Result<()> {
        self.counters.sync()?;
        self.inner.flush()
    }
}
