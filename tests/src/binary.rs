//! Locating the `fastdata` binary under test, and refusing a stale one.
//!
//! The test command (`scripts/test.sh`) builds the binary first (`cargo build -p fastdata-cli`)
//! and exports its path in `FASTDATA_BIN`; that path is used as is. When the variable is unset
//! (for example `cargo test -p fastdata-tests` by hand), the binary is looked for in the Cargo
//! target directory (`$CARGO_TARGET_DIR/debug/fastdata`, or the `debug/` directory the test
//! executable itself was built in) and used only if it is fresh: Cargo's dep-info file next to it
//! (`fastdata.d`) lists every source file it was built from, and if any of them is newer than the
//! binary, or the dep-info file is missing, the lookup fails and says to build first.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};

/// The environment variable holding the path of the `fastdata` binary to test.
pub const FASTDATA_BIN_ENV: &str = "FASTDATA_BIN";

const BIN_NAME: &str = "fastdata";

/// The path of the `fastdata` binary to test; panics with an explanation if there is none, or
/// only a stale one.
///
/// `FASTDATA_BIN`, which `scripts/test.sh` sets right after building the binary, is used as is.
/// Unset, `$CARGO_TARGET_DIR/debug/fastdata` (or `fastdata` in the `debug/` directory the test
/// executable was built in) is used only if every source file listed in Cargo's dep-info file
/// next to it (`fastdata.d`) is older than it; a missing dep-info file counts as stale.
pub fn fastdata_bin() -> PathBuf {
    match try_fastdata_bin() {
        Ok(path) => path,
        Err(err) => panic!("{err:#}"),
    }
}

/// Like [`fastdata_bin`], but returns the error instead of panicking.
pub fn try_fastdata_bin() -> Result<PathBuf> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            locate(std::env::var_os(FASTDATA_BIN_ENV), &fallback_candidates())
                .map_err(|err| format!("{err:#}"))
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

/// Where to look when `FASTDATA_BIN` is unset, most specific first.
fn fallback_candidates() -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(dir).join("debug").join(BIN_NAME));
    }
    // Test executables live in `<target>/debug/deps/`; binaries in `<target>/debug/`.
    if let Ok(exe) = std::env::current_exe() {
        if let Some(profile_dir) = exe.parent().and_then(Path::parent) {
            candidates.push(profile_dir.join(BIN_NAME));
        }
    }
    candidates.dedup();
    candidates
}

/// Resolves the binary from the `FASTDATA_BIN` value, else from the first existing candidate,
/// which must be fresh.
fn locate(from_env: Option<OsString>, candidates: &[PathBuf]) -> Result<PathBuf> {
    if let Some(value) = from_env.filter(|v| !v.is_empty()) {
        let path = PathBuf::from(value);
        if !path.is_file() {
            bail!(
                "{FASTDATA_BIN_ENV} is set to {}, which is not a file; build it with \
                 `cargo build -p fastdata-cli` or run the tests with `bash scripts/test.sh`",
                path.display()
            );
        }
        return Ok(path);
    }
    let Some(path) = candidates.iter().find(|p| p.is_file()) else {
        bail!(
            "no `fastdata` binary to test: {FASTDATA_BIN_ENV} is unset and none of [{}] exists; \
             run the tests with `bash scripts/test.sh`, or `cargo build -p fastdata-cli` first",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    check_fresh(path).with_context(|| {
        format!(
            "refusing to test {} ({FASTDATA_BIN_ENV} is unset); rebuild it with \
             `cargo build -p fastdata-cli` or run the tests with `bash scripts/test.sh`",
            path.display()
        )
    })?;
    Ok(path.clone())
}

/// Fails unless every source file listed in the binary's dep-info file is older than the binary.
fn check_fresh(bin: &Path) -> Result<()> {
    let built = modified(bin)?;
    let dep_info = bin.with_extension("d");
    let text = fs::read_to_string(&dep_info).with_context(|| {
        format!(
            "cannot read its dep-info file {} to check that it is up to date",
            dep_info.display()
        )
    })?;
    for source in dep_info_sources(&text) {
        match modified(&source) {
            Ok(time) if time > built => {
                bail!(
                    "it is stale: {} changed after it was built",
                    source.display()
                )
            }
            Ok(_) => {}
            // A source that no longer exists means the sources changed since the build.
            Err(_) => bail!("it is stale: {} no longer exists", source.display()),
        }
    }
    Ok(())
}

fn modified(path: &Path) -> Result<SystemTime> {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .with_context(|| format!("cannot read the modification time of {}", path.display()))
}

/// The prerequisites of the first rule of a Makefile-style dep-info file (`target: a b\ c ...`),
/// with escaped spaces undone.
fn dep_info_sources(text: &str) -> Vec<PathBuf> {
    let Some(line) = text.lines().find(|l| !l.trim().is_empty()) else {
        return Vec::new();
    };
    // The target path itself may contain escaped spaces; the separator is the first ": ".
    let Some((_, deps)) = line.split_once(": ") else {
        return Vec::new();
    };
    let mut sources = Vec::new();
    let mut current = String::new();
    let mut chars = deps.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                current.push(' ');
                chars.next();
            }
            ' ' => {
                if !current.is_empty() {
                    sources.push(PathBuf::from(std::mem::take(&mut current)));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        sources.push(PathBuf::from(current));
    }
    sources
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn scratch(name: &str) -> crate::DataDir {
        crate::DataDir::new(name).expect("data dir")
    }

    fn set_mtime(path: &Path, time: SystemTime) {
        let file = fs::File::options().write(true).open(path).unwrap();
        file.set_modified(time).unwrap();
    }

    #[test]
    fn env_path_is_used_as_is_and_must_exist() {
        let dir = scratch("bin-env");
        let bin = dir.join("fastdata");
        let err = locate(Some(bin.clone().into()), &[]).unwrap_err();
        assert!(format!("{err:#}").contains("not a file"), "{err:#}");
        fs::write(&bin, b"").unwrap();
        assert_eq!(locate(Some(bin.clone().into()), &[]).unwrap(), bin);
    }

    #[test]
    fn missing_binary_is_a_clear_error() {
        let dir = scratch("bin-missing");
        let err = locate(None, &[dir.join("fastdata")]).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("no `fastdata` binary"), "{msg}");
        assert!(msg.contains("scripts/test.sh"), "{msg}");
    }

    #[test]
    fn fallback_binary_must_be_fresh() {
        let dir = scratch("bin-fresh");
        let bin = dir.join("fastdata");
        let src = dir.join("my main.rs");
        fs::write(&src, b"fn main() {}").unwrap();
        fs::write(&bin, b"").unwrap();
        let now = SystemTime::now();
        set_mtime(&src, now - Duration::from_secs(60));
        set_mtime(&bin, now);

        // No dep-info: cannot tell, so refuse.
        let err = locate(None, std::slice::from_ref(&bin)).unwrap_err();
        assert!(format!("{err:#}").contains("dep-info"), "{err:#}");

        let escaped = src.display().to_string().replace(' ', "\\ ");
        fs::write(
            bin.with_extension("d"),
            format!("{}: {escaped}\n\n{escaped}:\n", bin.display()),
        )
        .unwrap();
        assert_eq!(locate(None, std::slice::from_ref(&bin)).unwrap(), bin);

        // A source newer than the binary makes it stale.
        set_mtime(&src, now + Duration::from_secs(60));
        let err = locate(None, std::slice::from_ref(&bin)).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("stale") && msg.contains("my main.rs"), "{msg}");
    }

    #[test]
    fn dep_info_parsing() {
        let text = "/t/debug/fastdata: /a/b.rs /c/d\\ e.rs  /f.rs\n\n/a/b.rs:\n";
        assert_eq!(
            dep_info_sources(text),
            vec![
                PathBuf::from("/a/b.rs"),
                PathBuf::from("/c/d e.rs"),
                PathBuf::from("/f.rs")
            ]
        );
        assert!(dep_info_sources("").is_empty());
    }
}
