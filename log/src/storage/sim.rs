//! [`SimStorage`]: an in-memory filesystem that models what a power cut does to a page cache.
//!
//! Used to prove the engine's durability claims, so it is deliberately strict (in the spirit of
//! lazyfs): nothing survives a [`SimStorage::power_loss`] unless the engine made it durable through
//! the [`Storage`] contract.
//!
//! # Model
//!
//! - **Inodes.** Every file is an inode with `durable` content (what survives a power cut),
//!   `current` content (what reads see) and the list of *pending* operations (writes at an offset
//!   and `set_len`s, in issue order) applied to `current` since the last sync. One
//!   `write_all_vectored_at` is one pending write (the concatenation of its buffers).
//!   [`StorageFile::sync_data`] applies the pending operations to `durable` and clears them. Writes
//!   past the end extend the file with zeros, as on a real file.
//! - **Directory entries.** Two maps `path → inode`: the *visible* one (what `open`, `exists`,
//!   `list_dir` see) and the *durable* one (what survives). Creating a file, [`Storage::rename`]
//!   and [`Storage::remove_file`] change only the visible map; [`Storage::sync_dir`] of a directory
//!   copies the visible entries whose parent is that directory into the durable map, including
//!   removals and the two halves of a rename (a rename across directories is made durable half by
//!   half: syncing only the target directory leaves the file durably reachable under both names,
//!   syncing only the source one leaves it durably reachable under neither).
//! - **Unlinked inodes.** A removed (or renamed-over) file's open handles and maps stay readable
//!   and writable; the inode is dropped once no entry and no handle refers to it.
//! - **Maps.** [`StorageFile::map`] returns a [`MappedFile`] whose [`MappedFile::write`] goes to a
//!   local buffer *and* is recorded as a pending write on the inode, so a power cut may keep it or
//!   not, like a dirty page the kernel may or may not have written back. [`MappedFile::flush`] makes
//!   the whole inode durable.
//! - **Power loss.** [`SimStorage::power_loss`] replaces every inode's content by its durable
//!   content ([`PowerLoss::DropUnsynced`]) or by its durable content plus a random prefix of its
//!   pending operations, the next one possibly torn ([`PowerLoss::TornPrefix`], deterministic for
//!   a seed); then the visible directory map becomes the durable one, inodes no durable entry
//!   refers to vanish, and every handle and map opened before becomes dead: all their fallible
//!   operations fail with an [`io::Error`] of kind `Other`. The storage is then usable again, as a
//!   rebooted machine.
//! - **fsync errors.** [`SimStorage::inject_sync_error`] makes the next `sync_data` (or map
//!   `flush`) of a file fail with `EIO`. Like Linux after a writeback error, the pending
//!   operations are then *dropped from the page cache's dirty set*: reads still see them, but they
//!   will never become durable, not even after a later successful sync.
//!
//! # Simplifications
//!
//! - Directories are durable as soon as [`Storage::create_dir_all`] returns, and cannot be renamed
//!   or removed. The roots (`/` and the current directory) always exist. Opening, creating or
//!   renaming into a directory that does not exist fails with `NotFound`, as on a real filesystem.
//! - Paths are compared component-wise after dropping `.` components; `..` is not resolved and
//!   there are no symlinks, so `a/../b` and `b` are different files.
//! - A map is a private copy taken when it is created: it does not see later writes made through a
//!   file handle (a real shared mapping would). Mapping more than the current file length fails
//!   (a real map would raise `SIGBUS` on access). [`MappedFile::write`] cannot report errors: on a
//!   map from before a power loss it only updates the local buffer; its `flush` then fails.
//! - A torn power loss keeps a prefix of each file's pending operations in issue order; a real
//!   disk may persist a file's dirty pages in any order (the engine must not rely on the order
//!   either, but the simulation does not exercise reordering). Files are independent of each
//!   other, and directory operations are never torn: each directory entry is durable or not.
//! - Files are limited to 1 GiB (an error, rather than exhausting memory, on a runaway offset).

use std::collections::BTreeMap;
use std::io::{self, IoSlice};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{MappedFile, OpenMode, Storage, StorageFile};

/// Largest file the simulation holds (an offset beyond it is an error, not an allocation).
const MAX_FILE_LEN: u64 = 1 << 30;

/// What a simulated power cut keeps of the operations that were not yet durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerLoss {
    /// Every file reverts to its last synced content.
    DropUnsynced,
    /// Per file, a random prefix (in issue order) of the unsynced operations is kept, and the next
    /// one, if it is a write, may be kept partially (a random prefix of its bytes). Deterministic
    /// for a given seed and sequence of operations.
    TornPrefix {
        /// Seed of the random choices.
        seed: u64,
    },
}

/// An in-memory filesystem that can simulate a power cut. Cloning shares the same filesystem.
/// See the [module documentation](self) for the model.
#[derive(Clone, Default)]
pub struct SimStorage {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for SimStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("SimStorage")
            .field("generation", &state.generation)
            .field("entries", &state.visible.len())
            .field("inodes", &state.inodes.len())
            .finish()
    }
}

type InodeId = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    File(InodeId),
    Dir,
}

#[derive(Debug)]
enum Op {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

#[derive(Debug, Default)]
struct Inode {
    durable: Vec<u8>,
    current: Vec<u8>,
    pending: Vec<Op>,
    /// Open handles and maps of the current generation.
    open: usize,
    fail_next_sync: bool,
}

impl Inode {
    /// Make the pending operations durable (or, on an injected error, drop them for good).
    fn sync(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.fail_next_sync) {
            self.pending.clear();
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        for op in std::mem::take(&mut self.pending) {
            apply(&mut self.durable, &op);
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct State {
    /// Bumped by every power loss; handles of an older generation are dead.
    generation: u64,
    next_inode: InodeId,
    inodes: BTreeMap<InodeId, Inode>,
    visible: BTreeMap<PathBuf, Entry>,
    durable: BTreeMap<PathBuf, Entry>,
}

fn apply(content: &mut Vec<u8>, op: &Op) {
    match op {
        Op::Write { offset, data } => {
            // Offsets were checked against MAX_FILE_LEN when the operation was issued.
            let start = *offset as usize;
            let end = start + data.len();
            if content.len() < end {
                content.resize(end, 0);
            }
            content[start..end].copy_from_slice(data);
        }
        Op::SetLen(len) => content.resize(*len as usize, 0),
    }
}

/// Drop `.` components, so `./a`, `a/./` and `a` are the same key; the current directory is "".
fn normalize(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| *c != Component::CurDir)
        .collect()
}

/// The directory an (already normalized) entry lives in; `None` for a root.
fn parent_of(key: &Path) -> Option<&Path> {
    key.parent()
}

fn is_root(key: &Path) -> bool {
    key.as_os_str().is_empty() || key.parent().is_none()
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file or directory", path.display()),
    )
}

fn dead_handle() -> io::Error {
    io::Error::other("handle from before a simulated power loss")
}

fn check_len(offset: u64, len: usize) -> io::Result<()> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= MAX_FILE_LEN => Ok(()),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "SimStorage: file would exceed the simulation's 1 GiB limit",
        )),
    }
}

impl State {
    fn is_dir(&self, key: &Path) -> bool {
        is_root(key) || self.visible.get(key) == Some(&Entry::Dir)
    }

    /// Fail with `NotFound` unless the directory `key` would live in exists.
    fn check_parent(&self, key: &Path, path: &Path) -> io::Result<()> {
        match parent_of(key) {
            Some(parent) if !self.is_dir(parent) => Err(not_found(path)),
            _ => Ok(()),
        }
    }

    fn file(&self, key: &Path, path: &Path) -> io::Result<InodeId> {
        match self.visible.get(key) {
            Some(Entry::File(ino)) => Ok(*ino),
            Some(Entry::Dir) => Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{}: is a directory", path.display()),
            )),
            None if is_root(key) => Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{}: is a directory", path.display()),
            )),
            None => Err(not_found(path)),
        }
    }

    fn create(&mut self, key: PathBuf) -> InodeId {
        let ino = self.next_inode;
        self.next_inode += 1;
        self.inodes.insert(ino, Inode::default());
        self.visible.insert(key, Entry::File(ino));
        ino
    }

    /// Drop the inode if no entry and no handle refers to it any more.
    fn collect(&mut self, ino: InodeId) {
        let Some(inode) = self.inodes.get(&ino) else {
            return;
        };
        if inode.open > 0 {
            return;
        }
        let entry = Entry::File(ino);
        if self.visible.values().any(|e| *e == entry) || self.durable.values().any(|e| *e == entry)
        {
            return;
        }
        self.inodes.remove(&ino);
    }

    /// The live inode behind a handle of `generation`.
    fn inode(&mut self, ino: InodeId, generation: u64) -> io::Result<&mut Inode> {
        if generation != self.generation {
            return Err(dead_handle());
        }
        // A handle keeps its inode alive, so this only fails on a bug in the simulation.
        self.inodes
            .get_mut(&ino)
            .ok_or_else(|| io::Error::other("SimStorage: inode of a live handle is gone"))
    }

    fn release(&mut self, ino: InodeId, generation: u64) {
        if generation != self.generation {
            return;
        }
        if let Some(inode) = self.inodes.get_mut(&ino) {
            inode.open = inode.open.saturating_sub(1);
            self.collect(ino);
        }
    }
}

impl SimStorage {
    /// An empty filesystem (only the roots `/` and `.` exist).
    pub fn new() -> Self {
        Self::default()
    }

    /// The lock is only poisoned if a test panicked while holding it; the state is still
    /// consistent enough to inspect, so keep going.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Simulate a power cut followed by a reboot: see [`PowerLoss`] for what is kept of unsynced
    /// data. Afterwards the visible directory entries are the durable ones, and every handle and
    /// map opened before is dead. Injected sync errors are cleared.
    pub fn power_loss(&self, mode: PowerLoss) {
        let mut state = self.lock();
        let state = &mut *state;
        for (&ino, inode) in state.inodes.iter_mut() {
            let mut content = std::mem::take(&mut inode.durable);
            let pending = std::mem::take(&mut inode.pending);
            if let PowerLoss::TornPrefix { seed } = mode {
                let mut rng = StdRng::seed_from_u64(seed ^ ino.wrapping_mul(0xD6E8_FEB8_6659_FD93));
                let kept = rng.gen_range(0..=pending.len());
                for op in &pending[..kept] {
                    apply(&mut content, op);
                }
                if let Some(Op::Write { offset, data }) = pending.get(kept) {
                    // Strictly partial: keeping it whole is the same as a longer prefix.
                    let bytes = rng.gen_range(0..data.len().max(1));
                    if bytes > 0 {
                        let torn = Op::Write {
                            offset: *offset,
                            data: data[..bytes].to_vec(),
                        };
                        apply(&mut content, &torn);
                    }
                }
            }
            inode.current = content.clone();
            inode.durable = content;
            inode.open = 0;
            inode.fail_next_sync = false;
        }
        state.visible = state.durable.clone();
        let durable = &state.durable;
        state
            .inodes
            .retain(|ino, _| durable.values().any(|e| *e == Entry::File(*ino)));
        state.generation += 1;
    }

    /// Total bytes written (through handles or maps) and not yet synced, over all files.
    pub fn unsynced_bytes(&self) -> u64 {
        let state = self.lock();
        let pending = state.inodes.values().flat_map(|inode| &inode.pending);
        pending
            .map(|op| match op {
                Op::Write { data, .. } => data.len() as u64,
                Op::SetLen(_) => 0,
            })
            .sum()
    }

    /// Overwrite the byte at `offset` of a file with `byte`, in its current content and (if it
    /// is that long) its durable content, as if the disk had corrupted it. Fails if the file is
    /// missing or shorter than `offset + 1`.
    pub fn corrupt(&self, path: &Path, offset: u64, byte: u8) -> io::Result<()> {
        let mut state = self.lock();
        let ino = state.file(&normalize(path), path)?;
        let inode = state.inodes.get_mut(&ino).ok_or_else(|| not_found(path))?;
        let at = usize::try_from(offset).unwrap_or(usize::MAX);
        if at >= inode.current.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: offset {offset} is past the end", path.display()),
            ));
        }
        inode.current[at] = byte;
        if let Some(b) = inode.durable.get_mut(at) {
            *b = byte;
        }
        Ok(())
    }

    /// The current length of a visible file, or `None` if there is no such file.
    pub fn file_len(&self, path: &Path) -> Option<u64> {
        let state = self.lock();
        let ino = state.file(&normalize(path), path).ok()?;
        state
            .inodes
            .get(&ino)
            .map(|inode| inode.current.len() as u64)
    }

    /// Make the next `sync_data` (or map `flush`) of the file at `path` fail with `EIO`. As on
    /// Linux, the file's unsynced operations are then lost for good (reads still see them until
    /// the next power loss). Fails if the file does not exist.
    pub fn inject_sync_error(&self, path: &Path) -> io::Result<()> {
        let mut state = self.lock();
        let ino = state.file(&normalize(path), path)?;
        let inode = state.inodes.get_mut(&ino).ok_or_else(|| not_found(path))?;
        inode.fail_next_sync = true;
        Ok(())
    }

    fn handle(&self, state: &mut State, ino: InodeId) -> Arc<dyn StorageFile> {
        if let Some(inode) = state.inodes.get_mut(&ino) {
            inode.open += 1;
        }
        Arc::new(SimFile {
            storage: self.clone(),
            ino,
            generation: state.generation,
        })
    }
}

impl Storage for SimStorage {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        let key = normalize(path);
        let mut state = self.lock();
        let ino = match (state.visible.get(&key).copied(), mode) {
            (Some(Entry::File(_)), OpenMode::CreateNew) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{}: file exists", path.display()),
                ))
            }
            (Some(_), _) => state.file(&key, path)?,
            (None, OpenMode::Existing) => state.file(&key, path)?,
            (None, OpenMode::Create | OpenMode::CreateNew) => {
                if is_root(&key) {
                    state.file(&key, path)?;
                }
                state.check_parent(&key, path)?;
                state.create(key)
            }
        };
        Ok(self.handle(&mut state, ino))
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let key = normalize(path);
        let mut state = self.lock();
        let mut ancestors: Vec<&Path> = key.ancestors().filter(|a| !is_root(a)).collect();
        ancestors.reverse();
        for dir in ancestors {
            match state.visible.get(dir) {
                Some(Entry::Dir) => {}
                Some(Entry::File(_)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{}: a file is in the way", dir.display()),
                    ))
                }
                None => {
                    state.visible.insert(dir.to_path_buf(), Entry::Dir);
                    state.durable.insert(dir.to_path_buf(), Entry::Dir);
                }
            }
        }
        Ok(())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let key = normalize(dir);
        let state = self.lock();
        if !state.is_dir(&key) {
            return Err(match state.visible.get(&key) {
                Some(_) => io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{}: not a directory", dir.display()),
                ),
                None => not_found(dir),
            });
        }
        let mut names: Vec<String> = state
            .visible
            .keys()
            .filter(|entry| parent_of(entry) == Some(key.as_path()))
            .filter_map(|entry| entry.file_name()?.to_str().map(str::to_owned))
            .collect();
        names.sort();
        Ok(names)
    }

    fn exists(&self, path: &Path) -> bool {
        let key = normalize(path);
        is_root(&key) || self.lock().visible.contains_key(&key)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from_key, to_key) = (normalize(from), normalize(to));
        let mut state = self.lock();
        let ino = state.file(&from_key, from)?;
        state.check_parent(&to_key, to)?;
        let replaced = match state.visible.get(&to_key) {
            Some(Entry::Dir) => {
                return Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    format!("{}: is a directory", to.display()),
                ))
            }
            None if is_root(&to_key) => {
                return Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    format!("{}: is a directory", to.display()),
                ))
            }
            Some(Entry::File(old)) => Some(*old),
            None => None,
        };
        if replaced == Some(ino) {
            // POSIX: renaming a file onto itself (or a hard link to itself) does nothing.
            return Ok(());
        }
        state.visible.remove(&from_key);
        state.visible.insert(to_key, Entry::File(ino));
        if let Some(old) = replaced {
            state.collect(old);
        }
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let key = normalize(path);
        let mut state = self.lock();
        let ino = state.file(&key, path)?;
        state.visible.remove(&key);
        state.collect(ino);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let key = normalize(dir);
        let mut state = self.lock();
        if !state.is_dir(&key) {
            return Err(not_found(dir));
        }
        let state = &mut *state;
        let in_dir = |entry: &PathBuf| parent_of(entry) == Some(key.as_path());
        let mut dropped = Vec::new();
        let visible = &state.visible;
        state.durable.retain(|entry, e| {
            let keep = !in_dir(entry) || visible.contains_key(entry);
            if let (false, Entry::File(ino)) = (keep, *e) {
                dropped.push(ino);
            }
            keep
        });
        for (entry, e) in state.visible.iter().filter(|(entry, _)| in_dir(entry)) {
            if let Some(Entry::File(old)) = state.durable.insert(entry.clone(), *e) {
                dropped.push(old);
            }
        }
        for ino in dropped {
            state.collect(ino);
        }
        Ok(())
    }
}

/// An open file of a [`SimStorage`], dead after a power loss.
struct SimFile {
    storage: SimStorage,
    ino: InodeId,
    generation: u64,
}

impl SimFile {
    fn with<T>(&self, f: impl FnOnce(&mut Inode) -> io::Result<T>) -> io::Result<T> {
        let mut state = self.storage.lock();
        f(state.inode(self.ino, self.generation)?)
    }
}

impl Drop for SimFile {
    fn drop(&mut self) {
        self.storage.lock().release(self.ino, self.generation);
    }
}

impl StorageFile for SimFile {
    fn len(&self) -> io::Result<u64> {
        self.with(|inode| Ok(inode.current.len() as u64))
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.with(|inode| {
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            match start.checked_add(buf.len()) {
                Some(end) if end <= inode.current.len() => {
                    buf.copy_from_slice(&inode.current[start..end]);
                    Ok(())
                }
                _ => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "failed to fill whole buffer",
                )),
            }
        })
    }

    fn write_all_vectored_at(&self, bufs: &[IoSlice<'_>], offset: u64) -> io::Result<()> {
        self.with(|inode| {
            let data: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            if data.is_empty() {
                return Ok(());
            }
            check_len(offset, data.len())?;
            let op = Op::Write { offset, data };
            apply(&mut inode.current, &op);
            inode.pending.push(op);
            Ok(())
        })
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.with(|inode| {
            check_len(len, 0)?;
            let op = Op::SetLen(len);
            apply(&mut inode.current, &op);
            inode.pending.push(op);
            Ok(())
        })
    }

    fn sync_data(&self) -> io::Result<()> {
        self.with(Inode::sync)
    }

    fn map(&self, len: usize) -> io::Result<Box<dyn MappedFile>> {
        let buf = self.with(|inode| {
            if len > inode.current.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "cannot map {len} bytes of a {}-byte file",
                        inode.current.len()
                    ),
                ));
            }
            inode.open += 1;
            Ok(inode.current[..len].to_vec())
        })?;
        Ok(Box::new(SimMap {
            storage: self.storage.clone(),
            ino: self.ino,
            generation: self.generation,
            buf,
        }))
    }
}

/// A map of a [`SimFile`]: a private buffer whose writes are also pending writes of the inode.
struct SimMap {
    storage: SimStorage,
    ino: InodeId,
    generation: u64,
    buf: Vec<u8>,
}

impl Drop for SimMap {
    fn drop(&mut self) {
        self.storage.lock().release(self.ino, self.generation);
    }
}

impl MappedFile for SimMap {
    fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    fn write(&mut self, offset: usize, data: &[u8]) {
        self.buf[offset..offset + data.len()].copy_from_slice(data);
        let mut state = self.storage.lock();
        // A dead map (from before a power loss) only updates its own buffer: `write` cannot fail,
        // and `flush` reports the error.
        if let Ok(inode) = state.inode(self.ino, self.generation) {
            if !data.is_empty() {
                let op = Op::Write {
                    offset: offset as u64,
                    data: data.to_vec(),
                };
                apply(&mut inode.current, &op);
                inode.pending.push(op);
            }
        }
    }

    fn flush(&self) -> io::Result<()> {
        self.storage.lock().inode(self.ino, self.generation)?.sync()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicI64;

    use super::*;
    use crate::storage::{read_file, write_atomically, CrashingStorage};

    fn p(s: &str) -> &Path {
        Path::new(s)
    }

    /// A storage with `/d` created.
    fn storage() -> SimStorage {
        let s = SimStorage::new();
        s.create_dir_all(p("/d")).unwrap();
        s
    }

    fn contents(s: &SimStorage, path: &str) -> Option<Vec<u8>> {
        read_file(s, p(path)).unwrap()
    }

    /// A durable file `path` holding `data`.
    fn durable_file(s: &SimStorage, path: &str, data: &[u8]) {
        let f = s.open(p(path), OpenMode::CreateNew).unwrap();
        f.write_all_at(data, 0).unwrap();
        f.sync_data().unwrap();
        s.sync_dir(crate::storage::parent_dir(p(path))).unwrap();
    }

    #[test]
    fn unsynced_write_is_lost_and_synced_write_kept() {
        let s = storage();
        durable_file(&s, "/d/a", b"hello");
        let f = s.open(p("/d/a"), OpenMode::Existing).unwrap();
        f.write_all_at(b" world", 5).unwrap();
        assert_eq!(s.unsynced_bytes(), 6);
        assert_eq!(contents(&s, "/d/a").unwrap(), b"hello world");
        s.power_loss(PowerLoss::DropUnsynced);
        assert_eq!(contents(&s, "/d/a").unwrap(), b"hello");
        assert_eq!(s.unsynced_bytes(), 0);

        let f = s.open(p("/d/a"), OpenMode::Existing).unwrap();
        f.write_all_vectored_at(&[IoSlice::new(b" wor"), IoSlice::new(b"ld")], 5)
            .unwrap();
        f.sync_data().unwrap();
        assert_eq!(s.unsynced_bytes(), 0);
        s.power_loss(PowerLoss::DropUnsynced);
        assert_eq!(contents(&s, "/d/a").unwrap(), b"hello world");
    }

    #[test]
    fn writes_past_the_end_extend_with_zeros_and_set_len_is_pending() {
        let s = storage();
        durable_file(&s, "/d/a", b"ab");
        let f = s.open(p("/d/a"), OpenMode::Existing).unwrap();
        f.write_all_at(b"z", 4).unwrap();
        assert_eq!(f.read_vec_at(5, 0).unwrap(), b"ab\0\0z");
        let mut buf = [0; 2];
        assert_eq!(
            f.read_exact_at(&mut buf, 4).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        f.sync_data().unwrap();
        f.set_len(1).unwrap();
        assert_eq!(f.len().unwrap(), 1);
        assert_eq!(s.file_len(p("/d/a")), Some(1));
        s.power_loss(PowerLoss::DropUnsynced);
        assert_eq!(contents(&s, "/d/a").unwrap(), b"ab\0\0z");
    }

    #[test]
    fn created_file_without_sync_dir_vanishes() {
        let s = storage();
        let f = s.open(p("/d/new"), OpenMode::Create).unwrap();
        f.write_all_at(b"data", 0).unwrap();
        f.sync_data().unwrap();
        assert!(s.exists(p("/d/new")));
        assert_eq!(s.list_dir(p("/d")).unwrap(), ["new"]);
        s.power_loss(PowerLoss::DropUnsynced);
        assert!(!s.exists(p("/d/new")));
        assert!(s.list_dir(p("/d")).unwrap().is_empty());

        // With sync_dir but without sync_data: the file survives, empty.
        let f = s.open(p("/d/new"), OpenMode::Create).unwrap();
        f.write_all_at(b"data", 0).unwrap();
        s.sync_dir(p("/d")).unwrap();
        s.power_loss(PowerLoss::DropUnsynced);
        assert_eq!(contents(&s, "/d/new").unwrap(), b"");
    }

    #[test]
    fn sync_dir_only_covers_its_own_entries() {
        let s = storage();
        s.create_dir_all(p("/d/sub")).unwrap();
        s.open(p("/d/sub/x"), OpenMode::Create).unwrap();
        s.open(p("/d/y"), OpenMode::Create).unwrap();
        s.sync_dir(p("/d")).unwrap();
        s.power_loss(PowerLoss::DropUnsynced);
        assert_eq!(s.list_dir(p("/d")).unwrap(), ["sub", "y"]);
        assert!(s.list_dir(p("/d/sub")).unwrap().is_empty());
    }

    #[test]
    fn rename_without_sync_dir_is_undone() {
        let s = storage();
        durable_file(&s, "/d/a", b"A");
        durable_file(&s, "/d/b", b"B");
        s.rename(p("/d/a"), p("/d/b")).unwrap();
        assert!(!s.exists(p("/d/a")));
        assert_eq!(contents(&s, "/d/b").unwrap(), b"A");
        s.power_loss(PowerLoss::DropUnsynced);
        assert_eq!(contents(&s, "/d/a").unwrap(), b"A");
        assert_eq!(contents(&s, "/d/b").unwrap(), b"B");
    }

    #[test]
    fn rename_with_sync_dir_is_kept() {
        let s = storage();
        durable_file(&s, "/d/a", b"A");
        durable_file(&s, "/d/b", b"B");
        s.rename(p("/d/a"), p("/d/b")).unwrap();
        s.sync_dir(p("/d")).unwrap();
        s.power_loss(PowerLoss::DropUnsynced);
        assert!(!s.exists(p("/d/a")));
        assert_eq!(contents(&s, "/d/b").unwrap(), b"A");
        assert_eq!(s.list_dir(p("/d")).unwrap(), ["b"]);
    }

    #[test]
    fn rename_across_directories_is_durable_per_directory() {
        let s = storage();
        s.create_dir_all(p("/e")).unwrap();
        durable_file(&s, "/d/a", b"A");
        s.rename(p("/d/a"), p("/e/a")).unwrap();
        s.sync_dir(p("/e")).unwrap();
        s.power_loss(PowerLoss::DropUnsynced);
        assert_eq!(contents(&s, "/d/a").unwrap(), b"A");
        assert_eq!(contents(&s, "/e/a").unwrap(), b"A");
    }

    #[test]
    fn remove_without_sync_dir_is_undone() {
        let s = storage();
        durable_file(&s, "/d/a", b"old");
        let f = s.open(p("/d/a"), OpenMode::Existing).unwrap();
        f.write_all_at(b"new", 0).unwrap();
        s.remove_file(p("/d/a")).unwrap();
        assert!(!s.exists(p("/d/a")));
        assert_eq!(
            s.open(p("/d/a"), OpenMode::Existing).err().unwrap().kind(),
            io::ErrorKind::NotFound
        );
        s.power_loss(PowerLoss::DropUnsynced);
        assert_eq!(contents(&s, "/d/a").unwrap(), b"old");

        s.remove_file(p("/d/a")).unwrap();
        s.sync_dir(p("/d")).unwrap();
        s.power_loss(PowerLoss::DropUnsynced);
        assert!(!s.exists(p("/d/a")));
    }

    #[test]
    fn removed_file_handles_stay_usable_until_dropped() {
        let s = storage();
        durable_file(&s, "/d/a", b"abc");
        let f = s.open(p("/d/a"), OpenMode::Existing).unwrap();
        s.remove_file(p("/d/a")).unwrap();
        s.sync_dir(p("/d")).unwrap();
        f.write_all_at(b"d", 3).unwrap();
        f.sync_data().unwrap();
        assert_eq!(f.read_vec_at(4, 0).unwrap(), b"abcd");
        assert_eq!(s.unsynced_bytes(), 0);
        assert_eq!(s.lock().inodes.len(), 1);
        drop(f);
        assert!(
            s.lock().inodes.is_empty(),
            "an unlinked, closed inode is freed"
        );
    }

    #[test]
    fn open_modes_and_missing_directories() {
        let s = storage();
        let nf = io::ErrorKind::NotFound;
        assert_eq!(
            s.open(p("/d/a"), OpenMode::Existing).err().unwrap().kind(),
            nf
        );
        assert_eq!(
            s.open(p("/nodir/a"), OpenMode::Create)
                .err()
                .unwrap()
                .kind(),
            nf
        );
        s.open(p("/d/a"), OpenMode::CreateNew).unwrap();
        let exists = s.open(p("/d/a"), OpenMode::CreateNew).err().unwrap();
        assert_eq!(exists.kind(), io::ErrorKind::AlreadyExists);
        s.open(p("/d/a"), OpenMode::Create).unwrap();
        assert!(s.open(p("/d"), OpenMode::Create).is_err());
        assert_eq!(s.rename(p("/d/a"), p("/nodir/a")).unwrap_err().kind(), nf);
        assert_eq!(s.remove_file(p("/d/zz")).unwrap_err().kind(), nf);
        assert_eq!(s.sync_dir(p("/nodir")).unwrap_err().kind(), nf);
        assert_eq!(s.list_dir(p("/nodir")).unwrap_err().kind(), nf);
        // `.` components do not matter; relative paths live under the current directory.
        assert!(s.exists(p("/d/./a")));
        s.open(p("rel"), OpenMode::Create).unwrap();
        s.sync_dir(p(".")).unwrap();
        s.power_loss(PowerLoss::DropUnsynced);
        assert!(s.exists(p("./rel")));
        assert_eq!(s.list_dir(p("")).unwrap(), ["rel"]);
        assert_eq!(s.list_dir(p("/")).unwrap(), ["d"]);
    }

    #[test]
    fn torn_prefix_keeps_a_prefix_deterministically() {
        let run = |seed: u64| {
            let s = storage();
            durable_file(&s, "/d/a", b"");
            let f = s.open(p("/d/a"), OpenMode::Existing).unwrap();
            for (i, chunk) in [b"aaaa", b"bbbb", b"cccc"].iter().enumerate() {
                f.write_all_at(*chunk, 4 * i as u64).unwrap();
            }
            s.power_loss(PowerLoss::TornPrefix { seed });
            contents(&s, "/d/a").unwrap()
        };
        let full = b"aaaabbbbcccc";
        let mut partial = false;
        let mut lengths = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let kept = run(seed);
            assert_eq!(kept, run(seed), "deterministic for seed {seed}");
            assert_eq!(kept[..], full[..kept.len()], "a prefix for seed {seed}");
            partial |= kept.len() % 4 != 0;
            lengths.insert(kept.len());
        }
        assert!(partial, "some seed keeps a torn write");
        assert!(lengths.contains(&0) && lengths.contains(&12), "{lengths:?}");
    }

    #[test]
    fn old_handles_and_maps_are_dead_after_power_loss() {
        let s = storage();
        durable_file(&s, "/d/a", b"abcd");
        let f = s.open(p("/d/a"), OpenMode::Existing).unwrap();
        let mut m = f.map(4).unwrap();
        s.power_loss(PowerLoss::DropUnsynced);
        let dead = |e: io::Error| assert_eq!(e.kind(), io::ErrorKind::Other, "{e}");
        dead(f.len().unwrap_err());
        dead(f.read_vec_at(1, 0).unwrap_err());
        dead(f.write_all_at(b"x", 0).unwrap_err());
        dead(f.set_len(0).unwrap_err());
        dead(f.sync_data().unwrap_err());
        dead(f.map(4).err().unwrap());
        m.write(0, b"X");
        assert_eq!(m.as_slice(), b"Xbcd");
        dead(m.flush().unwrap_err());
        drop((f, m));
        // The rebooted machine works, and the dead map's write never reached the file.
        let f = s.open(p("/d/a"), OpenMode::Existing).unwrap();
        assert_eq!(f.read_vec_at(4, 0).unwrap(), b"abcd");
        assert_eq!(s.unsynced_bytes(), 0);
    }

    #[test]
    fn map_writes_are_lost_unless_flushed() {
        let s = storage();
        durable_file(&s, "/d/idx", &[0; 8]);
        let f = s.open(p("/d/idx"), OpenMode::Existing).unwrap();
        assert!(f.map(9).is_err(), "mapping past the end");
        let mut m = f.map(8).unwrap();
        m.write(2, b"xy");
        assert_eq!(&m.as_slice()[..4], b"\0\0xy");
        assert_eq!(
            f.read_vec_at(4, 0).unwrap(),
            b"\0\0xy",
            "reads see map writes"
        );
        assert_eq!(s.unsynced_bytes(), 2);
        s.power_loss(PowerLoss::DropUnsynced);
        assert_eq!(contents(&s, "/d/idx").unwrap(), [0; 8]);

        let f = s.open(p("/d/idx"), OpenMode::Existing).unwrap();
        let mut m = f.map(8).unwrap();
        m.write(6, b"zz");
        m.flush().unwrap();
        s.power_loss(PowerLoss::DropUnsynced);
        assert_eq!(contents(&s, "/d/idx").unwrap(), b"\0\0\0\0\0\0zz");
    }

    #[test]
    fn map_writes_may_survive_a_torn_power_loss() {
        let survived = (0..100).any(|seed| {
            let s = storage();
            durable_file(&s, "/d/idx", &[0; 4]);
            let f = s.open(p("/d/idx"), OpenMode::Existing).unwrap();
            f.map(4).unwrap().write(0, b"w");
            s.power_loss(PowerLoss::TornPrefix { seed });
            contents(&s, "/d/idx").unwrap() == b"w\0\0\0"
        });
        assert!(survived);
    }

    #[test]
    fn injected_sync_error_fails_once_and_loses_the_data() {
        let s = storage();
        durable_file(&s, "/d/a", b"a");
        let f = s.open(p("/d/a"), OpenMode::Existing).unwrap();
        f.write_all_at(b"b", 1).unwrap();
        s.inject_sync_error(p("/d/a")).unwrap();
        assert_eq!(f.sync_data().unwrap_err().raw_os_error(), Some(libc::EIO));
        assert_eq!(
            f.read_vec_at(2, 0).unwrap(),
            b"ab",
            "the page cache still has it"
        );
        f.sync_data().unwrap();
        s.power_loss(PowerLoss::DropUnsynced);
        assert_eq!(
            contents(&s, "/d/a").unwrap(),
            b"a",
            "a later sync does not save it"
        );
        assert_eq!(
            s.inject_sync_error(p("/d/zz")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn corrupt_changes_durable_and_current_content() {
        let s = storage();
        durable_file(&s, "/d/a", b"abc");
        s.corrupt(p("/d/a"), 1, b'X').unwrap();
        assert_eq!(contents(&s, "/d/a").unwrap(), b"aXc");
        s.power_loss(PowerLoss::DropUnsynced);
        assert_eq!(contents(&s, "/d/a").unwrap(), b"aXc");
        assert!(s.corrupt(p("/d/a"), 3, 0).is_err());
        assert_eq!(s.file_len(p("/d/a")), Some(3));
        assert_eq!(s.file_len(p("/d/missing")), None);
    }

    #[test]
    fn clones_share_state_and_storage_is_send_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<SimStorage>();
        let s = storage();
        let t = s.clone();
        std::thread::spawn(move || durable_file(&t, "/d/a", b"x"))
            .join()
            .unwrap();
        assert_eq!(contents(&s, "/d/a").unwrap(), b"x");
    }

    /// Crash `write(storage, path, new)` after every possible number of storage operations, under
    /// each power-loss mode, and return every content `path` was left with. If `durable`, a
    /// `write` that returned `Ok` must have left `new`.
    fn outcomes(
        durable: bool,
        old: Option<&[u8]>,
        new: &[u8],
        write: fn(&dyn Storage, &Path, &[u8]) -> io::Result<()>,
    ) -> Vec<Option<Vec<u8>>> {
        let modes = std::iter::once(PowerLoss::DropUnsynced)
            .chain((0..32).map(|seed| PowerLoss::TornPrefix { seed }));
        let mut seen = Vec::new();
        for mode in modes {
            for budget in 0.. {
                let s = storage();
                if let Some(old) = old {
                    write_atomically(&s, p("/d/ckpt"), old).unwrap();
                }
                let crashing =
                    CrashingStorage::with_budget(s.clone(), Arc::new(AtomicI64::new(budget)));
                let finished = write(&crashing, p("/d/ckpt"), new).is_ok();
                s.power_loss(mode);
                let left = contents(&s, "/d/ckpt");
                if finished && durable {
                    assert_eq!(left.as_deref(), Some(new), "completed write is durable");
                }
                if !seen.contains(&left) {
                    seen.push(left);
                }
                if finished {
                    break;
                }
            }
        }
        seen
    }

    #[test]
    fn write_atomically_is_crash_atomic_at_every_step() {
        let (old, new) = (&b"old checkpoint"[..], &b"the new, longer checkpoint"[..]);
        let seen = outcomes(true, Some(old), new, |s, path, data| {
            write_atomically(s, path, data)
        });
        for left in &seen {
            assert!(
                left.as_deref() == Some(old) || left.as_deref() == Some(new),
                "{left:?}"
            );
        }
        assert_eq!(seen.len(), 2, "both outcomes are reachable: {seen:?}");

        let seen = outcomes(true, None, new, |s, path, data| {
            write_atomically(s, path, data)
        });
        for left in &seen {
            assert!(left.is_none() || left.as_deref() == Some(new), "{left:?}");
        }
    }

    /// Control: the simulation catches a checkpoint written without fsyncing the data first.
    #[test]
    fn write_without_data_sync_is_caught() {
        let old = &b"old checkpoint"[..];
        let seen = outcomes(false, Some(old), b"new", |s, path, data| {
            let tmp = path.with_extension("tmp");
            let file = s.open(&tmp, OpenMode::Create)?;
            file.write_all_at(data, 0)?;
            drop(file);
            s.rename(&tmp, path)?;
            s.sync_dir(crate::storage::parent_dir(path))
        });
        assert!(
            seen.contains(&Some(Vec::new())),
            "an empty checkpoint survives: {seen:?}"
        );

        // And one written in place is torn.
        let seen = outcomes(false, Some(old), b"NEW CHECKPOINT", |s, path, data| {
            let file = s.open(path, OpenMode::Existing)?;
            file.write_all_at(data, 0)?;
            file.sync_data()
        });
        assert!(
            seen.iter()
                .flatten()
                .any(|c| c != old && c != b"NEW CHECKPOINT"),
            "{seen:?}"
        );
    }
}
