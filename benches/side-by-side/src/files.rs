//! `files`: the physical baseline of sequential writes. Each writer (one worker with one write
//! in flight) appends 64 KiB `write_all`s to its own file, with `--sync` an `fdatasync` after
//! each; N writers at once with fdatasync are the baseline of group commit. After 256 MiB a
//! writer starts a fresh file and hands the full one to a background thread that closes and
//! deletes it, so disk use stays bounded and the deletion is not in any write's latency (the
//! new file's `create` is, once every 4096 writes).

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{anyhow, Context as _};
use fastdata_benches::load::{self, Done, LoadConfig, Report};
use rand::rngs::SmallRng;

use crate::blocking::{Blocking, BlockingOps};

/// Bytes of each write.
const WRITE_BYTES: usize = 64 << 10;
/// Bytes a file grows to before its writer starts a new one.
const FILE_BYTES: u64 = 256 << 20;

/// What to write where.
pub struct Settings {
    /// Where the files are.
    pub dir: PathBuf,
    /// `fdatasync` after every write.
    pub sync: bool,
}

/// One writer's current file.
struct Writer {
    file: File,
    path: PathBuf,
    generation: u64,
    written: u64,
}

/// A full file on its way to the deleter.
type Retired = (File, PathBuf);

struct FileOps {
    dir: PathBuf,
    sync: bool,
    chunk: Vec<u8>,
    /// One per worker; a worker has one write in flight, so its lock is never contended.
    writers: Vec<Mutex<Writer>>,
    retired: mpsc::Sender<Retired>,
}

fn path_of(dir: &Path, writer: usize, generation: u64) -> PathBuf {
    dir.join(format!("side-by-side-{writer}-{generation}.dat"))
}

fn create(path: &Path) -> anyhow::Result<File> {
    File::create(path).with_context(|| format!("creating {}", path.display()))
}

impl FileOps {
    /// Moves `writer` on to a fresh file and sends the full one to the deleter.
    fn start_over(&self, worker: usize, writer: &mut Writer) -> anyhow::Result<()> {
        let path = path_of(&self.dir, worker, writer.generation + 1);
        let file = std::mem::replace(&mut writer.file, create(&path)?);
        let full = std::mem::replace(&mut writer.path, path);
        writer.generation += 1;
        writer.written = 0;
        self.retired
            .send((file, full))
            .map_err(|_| anyhow!("the thread deleting full files has stopped"))
    }
}

impl BlockingOps for FileOps {
    type Input = ();

    fn kinds(&self) -> &'static [&'static str] {
        &["write"]
    }

    fn draw(&self, _worker: usize, _rng: &mut SmallRng) -> Self::Input {}

    fn run(&self, worker: usize, (): ()) -> anyhow::Result<Done> {
        let mut writer = self
            .writers
            .get(worker)
            .ok_or_else(|| anyhow!("worker {worker} has no file"))?
            .lock()
            .map_err(|_| anyhow!("an earlier write of worker {worker} panicked"))?;
        let bytes = self.chunk.len() as u64;
        if writer.written + bytes > FILE_BYTES {
            self.start_over(worker, &mut writer)?;
        }
        let Writer { file, path, .. } = &mut *writer;
        file.write_all(&self.chunk)
            .with_context(|| format!("writing {}", path.display()))?;
        if self.sync {
            file.sync_data()
                .with_context(|| format!("syncing {}", path.display()))?;
        }
        writer.written += bytes;
        Ok(Done { kind: 0, bytes })
    }
}

/// The thread closing and deleting full files; it ends when every sender is gone and returns
/// the first failure.
fn deleter(retired: mpsc::Receiver<Retired>) -> JoinHandle<anyhow::Result<()>> {
    std::thread::spawn(move || {
        for (file, path) in retired {
            drop(file);
            fs::remove_file(&path).with_context(|| format!("deleting {}", path.display()))?;
        }
        Ok(())
    })
}

/// Runs `config.workers` writers and reports MB/s and per-write latency.
pub async fn run(settings: &Settings, config: &LoadConfig) -> anyhow::Result<Report> {
    fs::create_dir_all(&settings.dir)
        .with_context(|| format!("creating {}", settings.dir.display()))?;
    let (retired, retired_rx) = mpsc::channel();
    let deleting = deleter(retired_rx);
    let mut writers = Vec::with_capacity(config.workers);
    for worker in 0..config.workers {
        let path = path_of(&settings.dir, worker, 0);
        writers.push(Mutex::new(Writer {
            file: create(&path)?,
            path,
            generation: 0,
            written: 0,
        }));
    }
    let ops = Arc::new(FileOps {
        dir: settings.dir.clone(),
        sync: settings.sync,
        chunk: (0..WRITE_BYTES).map(|i| (i % 253) as u8).collect(),
        writers,
        retired,
    });
    let report = load::run("files write", Arc::new(Blocking(ops.clone())), config).await;
    let ops =
        Arc::try_unwrap(ops).map_err(|_| anyhow!("the writers are still in use after the run"))?;
    for writer in ops.writers {
        let writer = writer
            .into_inner()
            .map_err(|_| anyhow!("a write panicked"))?;
        ops.retired
            .send((writer.file, writer.path))
            .map_err(|_| anyhow!("the thread deleting full files has stopped"))?;
    }
    drop(ops.retired);
    deleting
        .join()
        .map_err(|_| anyhow!("the thread deleting full files panicked"))??;
    Ok(report
        .with(
            "durability",
            if settings.sync {
                "fdatasync after every write"
            } else {
                "none: write_all to the page cache"
            },
        )
        .with("write size", format!("{} KiB", WRITE_BYTES >> 10))
        .with(
            "writers",
            format!("{} (a file each, one write in flight)", config.workers),
        )
        .with(
            "files",
            format!(
                "in {}, each started over after {} MiB (the full one deleted in the background)",
                settings.dir.display(),
                FILE_BYTES >> 20
            ),
        ))
}
