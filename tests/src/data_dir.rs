//! Per-test data directories: removed when the test passes, kept (and their path printed) when it
//! fails.

use std::fmt;
use std::fs;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};

/// Overrides the root under which data directories are created.
pub const TEST_DATA_DIR_ENV: &str = "FASTDATA_TEST_DATA_DIR";

/// When set to anything but `0` or empty, data directories are kept even when tests pass.
pub const KEEP_TEST_DATA_ENV: &str = "FASTDATA_KEEP_TEST_DATA";

/// The root of all data directories: `$FASTDATA_TEST_DATA_DIR`, else `test-data/` in the Cargo
/// target directory (`$CARGO_TARGET_DIR`, or the one the test executable was built in), else
/// `fastdata-test-data/` in the system's temporary directory.
pub fn test_data_root() -> PathBuf {
    if let Some(dir) = std::env::var_os(TEST_DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir).join("test-data");
    }
    // Test executables live in `<target>/<profile>/deps/`.
    if let Ok(exe) = std::env::current_exe() {
        let deps = exe.parent();
        if deps.and_then(Path::file_name).is_some_and(|n| n == "deps") {
            if let Some(target) = deps.and_then(Path::parent).and_then(Path::parent) {
                return target.join("test-data");
            }
        }
    }
    std::env::temp_dir().join("fastdata-test-data")
}

/// A directory for one test's data and logs: `<root>/<name>-<pid>-<n>` (see [`test_data_root`]).
///
/// On drop it is removed, unless the thread is panicking (a failed assertion), [`DataDir::keep`]
/// was called, or `FASTDATA_KEEP_TEST_DATA` is set; then it is kept and its path printed on
/// stderr. A test that returns `Result` drops its locals before its `Err` is reported, so such a
/// test should call [`DataDir::keep`] on its error path or use [`DataDir::run`].
pub struct DataDir {
    path: PathBuf,
    keep: bool,
}

impl DataDir {
    /// Creates a fresh, empty directory for the test `name` (any characters other than ASCII
    /// letters, digits, `-` and `_` become `_`).
    pub fn new(name: &str) -> Result<DataDir> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = test_data_root().join(format!("{name}-{}-{n}", std::process::id()));
        // Left over from an earlier run whose pid was the same: not ours any more.
        if path.exists() {
            fs::remove_dir_all(&path)
                .with_context(|| format!("removing stale test data dir {}", path.display()))?;
        }
        fs::create_dir_all(&path)
            .with_context(|| format!("creating test data dir {}", path.display()))?;
        let keep = std::env::var_os(KEEP_TEST_DATA_ENV).is_some_and(|v| !v.is_empty() && v != "0");
        Ok(DataDir { path, keep })
    }

    /// Creates a directory for `name`, runs `f` in it and keeps the directory if `f` returns an
    /// error (or panics); removes it otherwise.
    pub fn run<T>(name: &str, f: impl FnOnce(&DataDir) -> Result<T>) -> Result<T> {
        let mut dir = DataDir::new(name)?;
        let result = f(&dir);
        if result.is_err() {
            dir.keep();
        }
        result
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.path.join(relative)
    }

    /// Keeps the directory when this value is dropped, whatever the outcome.
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        if self.keep || std::thread::panicking() {
            eprintln!("fastdata-tests: kept test data in {}", self.path.display());
        } else if let Err(err) = fs::remove_dir_all(&self.path) {
            eprintln!(
                "fastdata-tests: could not remove test data dir {}: {err}",
                self.path.display()
            );
        }
    }
}

impl AsRef<Path> for DataDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Deref for DataDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl fmt::Debug for DataDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataDir")
            .field("path", &self.path)
            .field("keep", &self.keep)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_on_success() {
        let dir = DataDir::new("dd removed/on success").unwrap();
        let path = dir.path().to_path_buf();
        assert!(path.is_dir());
        assert!(path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("dd_removed_on_success-"));
        fs::write(dir.join("file"), b"x").unwrap();
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn distinct_per_call() {
        let a = DataDir::new("dd-distinct").unwrap();
        let b = DataDir::new("dd-distinct").unwrap();
        assert_ne!(a.path(), b.path());
    }

    #[test]
    fn kept_on_panic() {
        let (tx, rx) = std::sync::mpsc::channel();
        let joined = std::thread::spawn(move || {
            let dir = DataDir::new("dd-kept-on-panic").unwrap();
            tx.send(dir.path().to_path_buf()).unwrap();
            panic!("deliberate failure to check that the data dir is kept");
        })
        .join();
        assert!(joined.is_err());
        let path = rx.recv().unwrap();
        assert!(path.is_dir(), "{} should have been kept", path.display());
        fs::remove_dir_all(path).unwrap();
    }

    #[test]
    fn run_keeps_on_error() {
        let mut seen = None;
        let result: Result<()> = DataDir::run("dd-run-err", |dir| {
            seen = Some(dir.path().to_path_buf());
            anyhow::bail!("deliberate")
        });
        assert!(result.is_err());
        let path = seen.unwrap();
        assert!(path.is_dir());
        fs::remove_dir_all(path).unwrap();

        let mut seen = None;
        DataDir::run("dd-run-ok", |dir| {
            seen = Some(dir.path().to_path_buf());
            Ok(())
        })
        .unwrap();
        assert!(!seen.unwrap().exists());
    }
}
