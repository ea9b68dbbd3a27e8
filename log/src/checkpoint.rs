//! Small offset checkpoints kept beside a partition's segments, in Kafka's text format
//! (`<version>\n<offset>\n`), always written to a temporary file and renamed (see
//! [`crate::storage::write_atomically`]), so a crash leaves the old value or the new one.
//!
//! - `recovery-point-offset-checkpoint`: every segment below the one holding this offset was
//!   fsynced, so an unclean open only scans from there on.
//! - `log-start-offset-checkpoint`: the first offset a reader may ask for (moved by retention).
//! - `.clean-shutdown`: present only between a clean close and the next open.

use std::path::Path;

use crate::error::{Error, IoContext, Result};
use crate::storage::{read_file, write_atomically, Storage};

/// File name of the recovery-point checkpoint.
pub const RECOVERY_POINT: &str = "recovery-point-offset-checkpoint";
/// File name of the log-start-offset checkpoint.
pub const LOG_START_OFFSET: &str = "log-start-offset-checkpoint";
/// File name of the clean-shutdown marker.
pub const CLEAN_SHUTDOWN: &str = ".clean-shutdown";

const VERSION: &str = "0";

/// Read an offset checkpoint; `None` if the file does not exist.
pub fn read_offset(storage: &dyn Storage, dir: &Path, name: &str) -> Result<Option<i64>> {
    let path = dir.join(name);
    let Some(bytes) = read_file(storage, &path).at(&path)? else {
        return Ok(None);
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::corrupt(&path, "not UTF-8"))?;
    let mut lines = text.lines();
    match (lines.next(), lines.next(), lines.next()) {
        (Some(VERSION), Some(offset), None) => offset
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| Error::corrupt(&path, format!("line 2: {offset:?} is not an offset"))),
        _ => Err(Error::corrupt(
            &path,
            format!("expected \"{VERSION}\\n<offset>\\n\", found {text:?}"),
        )),
    }
}

/// Write an offset checkpoint atomically and durably.
pub fn write_offset(storage: &dyn Storage, dir: &Path, name: &str, offset: i64) -> Result<()> {
    let path = dir.join(name);
    write_atomically(storage, &path, format!("{VERSION}\n{offset}\n").as_bytes()).at(&path)
}
