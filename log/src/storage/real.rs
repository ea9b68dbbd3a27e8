//! [`RealStorage`]: the engine's files on the real filesystem.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::sync::Arc;

use memmap2::MmapMut;

use super::{MappedFile, OpenMode, Storage, StorageFile};

/// The real filesystem. Stateless: every call goes straight to the kernel.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealStorage;

impl Storage for RealStorage {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        let mut options = OpenOptions::new();
        options.read(true).write(true);
        match mode {
            OpenMode::Existing => {}
            OpenMode::Create => {
                options.create(true);
            }
            OpenMode::CreateNew => {
                options.create_new(true);
            }
        }
        Ok(Arc::new(RealFile(options.open(path)?)))
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

struct RealFile(File);

impl StorageFile for RealFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.0.read_exact_at(buf, offset)
    }

    fn write_all_vectored_at(&self, bufs: &[IoSlice<'_>], offset: u64) -> io::Result<()> {
        let mut bufs: Vec<&[u8]> = bufs
            .iter()
            .map(|b| &b[..])
            .filter(|b| !b.is_empty())
            .collect();
        let mut offset = offset;
        while !bufs.is_empty() {
            let iov: Vec<libc::iovec> = bufs
                .iter()
                .map(|b| libc::iovec {
                    iov_base: b.as_ptr() as *mut libc::c_void,
                    iov_len: b.len(),
                })
                .collect();
            let iov_count = iov.len().min(1024) as libc::c_int;
            let file_offset = libc::off_t::try_from(offset)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))?;
            // SAFETY: every iovec points into a live slice borrowed for the duration of the call,
            // and the kernel only reads from them.
            let written =
                unsafe { libc::pwritev(self.0.as_raw_fd(), iov.as_ptr(), iov_count, file_offset) };
            if written < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            if written == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "pwritev wrote nothing",
                ));
            }
            let mut written = written as usize;
            offset += written as u64;
            while written > 0 {
                if written >= bufs[0].len() {
                    written -= bufs[0].len();
                    bufs.remove(0);
                } else {
                    bufs[0] = &bufs[0][written..];
                    written = 0;
                }
            }
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn map(&self, len: usize) -> io::Result<Box<dyn MappedFile>> {
        // SAFETY: the engine owns its index files: it never truncates a file while it is mapped
        // and no other process writes to them.
        let map = unsafe { memmap2::MmapOptions::new().len(len).map_mut(&self.0)? };
        Ok(Box::new(RealMap(map)))
    }
}

struct RealMap(MmapMut);

impl MappedFile for RealMap {
    fn as_slice(&self) -> &[u8] {
        &self.0
    }

    fn write(&mut self, offset: usize, data: &[u8]) {
        self.0[offset..offset + data.len()].copy_from_slice(data);
    }

    fn flush(&self) -> io::Result<()> {
        self.0.flush()
    }
}
