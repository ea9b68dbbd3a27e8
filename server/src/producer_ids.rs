//! Producer ids for InitProducerId, never reused across restarts.
//!
//! Ids are handed out from blocks, as Kafka's controller does: the end of the current block is
//! written durably (`producer-id-block`, temporary file + fsync + rename) before the first id of
//! the block is given out, so after any crash the next block starts past every id ever returned.
//! A crash wastes at most the rest of a block.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fastdata_log::storage::{write_atomically, RealStorage};

/// Ids per block (Kafka's `ProducerIdsBlock` size).
pub const BLOCK_SIZE: i64 = 1000;

const FILE: &str = "producer-id-block";

struct State {
    next: i64,
    block_end: i64,
}

/// Allocates producer ids.
pub struct ProducerIds {
    path: PathBuf,
    state: Mutex<State>,
}

impl std::fmt::Debug for ProducerIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerIds")
            .field("path", &self.path)
            .finish()
    }
}

impl ProducerIds {
    /// Read the last block end from `data_dir` (none yet: ids start at 0).
    pub fn open(data_dir: &Path) -> std::io::Result<ProducerIds> {
        let path = data_dir.join(FILE);
        let start = match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().parse::<i64>().map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{}: '{}' is not a producer id: {e}",
                        path.display(),
                        text.trim()
                    ),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        Ok(ProducerIds {
            path,
            state: Mutex::new(State {
                next: start,
                block_end: start,
            }),
        })
    }

    /// The next unused producer id. Blocks (one fsync) when a new block must be reserved.
    pub fn next_id(&self) -> std::io::Result<i64> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.next >= st.block_end {
            let end = st.next + BLOCK_SIZE;
            write_atomically(&RealStorage, &self.path, end.to_string().as_bytes())?;
            st.block_end = end;
        }
        let id = st.next;
        st.next += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_grow_and_are_never_reused_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let ids = ProducerIds::open(dir.path()).unwrap();
        let first: Vec<i64> = (0..3).map(|_| ids.next_id().unwrap()).collect();
        assert_eq!(first, vec![0, 1, 2]);
        drop(ids);
        // As after a crash: the reopened allocator starts past the reserved block.
        let ids = ProducerIds::open(dir.path()).unwrap();
        assert_eq!(ids.next_id().unwrap(), BLOCK_SIZE);
        for _ in 0..BLOCK_SIZE {
            ids.next_id().unwrap();
        }
        assert_eq!(ids.next_id().unwrap(), 2 * BLOCK_SIZE + 1);
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "twelve").unwrap();
        let err = ProducerIds::open(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("producer-id-block") && err.contains("twelve"),
            "{err}"
        );
    }
}
