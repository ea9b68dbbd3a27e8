//! The compaction filter of table column families: it drops what can never be read again.
//!
//! RocksDB hands the filter only fully merged values (a key's whole history: merge operands are
//! never filtered), one compaction at a time, in key order. So, per compaction:
//! - an expired cell or a cell tombstone whose local deletion time is more than the table's
//!   `gc_grace_seconds` ago is removed (nothing older can lie under it);
//! - a cell, row marker or collection element shadowed by a partition, range, row or collection
//!   tombstone seen earlier in the same compaction is removed (it would lose at read time anyway);
//! - cells of dropped columns are removed (column ids are never reused);
//! - tombstones that shadow other keys (partition, range, row, collection) are removed past
//!   `gc_grace_seconds` only by the second pass of a major compaction ([`TableState::purging`],
//!   driven by `Engine::major_compaction`): a compaction of every file of the table after a
//!   first pass left every key fully merged, so the filter sees each key the tombstone shadows
//!   (merge results are never filtered in the compaction that merges them). That is Cassandra's
//!   rule, a tombstone purged only together with every older SSTable of its partition, so data it
//!   shadows cannot come back. Subcompactions stay off (RocksDB's default) so one filter sees a
//!   partition whole.

use std::collections::HashSet;
use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rocksdb::compaction_filter::{CompactionFilter, Decision};
use rocksdb::compaction_filter_factory::{CompactionFilterContext, CompactionFilterFactory};

use crate::cell::CellRef;
use crate::clock::Clock;
use crate::keys::{self, Bound, Entry, RowItem};
use crate::schema::Table;

/// What the filter knows of a table: updated on ALTER, read at the start of each compaction.
#[derive(Debug, Default)]
pub struct TableState {
    gc_grace_s: AtomicI64,
    layout: RwLock<Option<Arc<Layout>>>,
    /// Set during the second pass of a major compaction: shadowing tombstones may go.
    pub purging: AtomicBool,
}

/// The parts of a table's schema the filter needs to read its keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub clustering_desc: Vec<bool>,
    /// Ids of non-frozen collection columns (their path-less cell is a collection tombstone).
    pub complex: HashSet<u16>,
    /// Ids of the current columns; any other id is a dropped column's.
    pub live: HashSet<u16>,
}

impl TableState {
    /// Take the table's current schema.
    pub fn update(&self, table: &Table) {
        self.gc_grace_s
            .store(i64::from(table.options.gc_grace_seconds), Ordering::Relaxed);
        let layout = Layout {
            clustering_desc: table.clustering_desc(),
            complex: table
                .columns
                .iter()
                .filter(|c| c.is_complex())
                .map(|c| c.id)
                .collect(),
            live: table.columns.iter().map(|c| c.id).collect(),
        };
        if let Ok(mut l) = self.layout.write() {
            *l = Some(Arc::new(layout));
        }
    }

    fn layout(&self) -> Option<Arc<Layout>> {
        self.layout.read().ok().and_then(|l| l.clone())
    }
}

/// Makes one [`CellFilter`] per compaction run of a table.
pub struct CellFilterFactory {
    pub state: Arc<TableState>,
    pub clock: Arc<dyn Clock>,
    /// Compaction runs started, for metrics.
    pub runs: Arc<AtomicU64>,
}

impl CompactionFilterFactory for CellFilterFactory {
    type Filter = CellFilter;

    fn create(&mut self, context: CompactionFilterContext) -> CellFilter {
        self.runs.fetch_add(1, Ordering::Relaxed);
        CellFilter {
            layout: self.state.layout(),
            gc_grace_s: self.state.gc_grace_s.load(Ordering::Relaxed),
            now_s: self.clock.now_seconds(),
            purge_shadowing: context.is_full_compaction
                && self.state.purging.load(Ordering::SeqCst),
            partition: Vec::new(),
            partition_deletion: None,
            ranges: Vec::new(),
            row: Vec::new(),
            row_deletion: None,
            collection: None,
        }
    }

    fn name(&self) -> &CStr {
        c"fastdata.cells.factory"
    }
}

/// The filter of one compaction run (see the module doc).
pub struct CellFilter {
    /// `None` until the table's schema is known (right after open): then everything is kept.
    layout: Option<Arc<Layout>>,
    gc_grace_s: i64,
    now_s: i64,
    /// Whether tombstones that shadow other keys may be purged in this run.
    purge_shadowing: bool,
    /// The current partition prefix and its tombstones seen so far in this run.
    partition: Vec<u8>,
    partition_deletion: Option<i64>,
    ranges: Vec<(Bound, Bound, i64)>,
    /// The current row (static: empty clustering with `Entry::Static`) and its tombstone.
    row: Vec<u8>,
    row_deletion: Option<i64>,
    /// The collection tombstone of the current row: (column, timestamp).
    collection: Option<(u16, i64)>,
}

fn max_deletion(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl CellFilter {
    fn decide(&mut self, key: &[u8], value: &[u8]) -> Option<Decision> {
        let layout = self.layout.clone()?;
        let cell = CellRef::parse(value)?;
        let (n, _) = keys::split_partition(key).ok()?;
        if key[..n] != self.partition[..] {
            self.partition = key[..n].to_vec();
            self.partition_deletion = None;
            self.ranges.clear();
            self.row.clear();
            self.row_deletion = None;
            self.collection = None;
        }
        let entry = keys::parse_entry(&key[n..], &layout.clustering_desc).ok()?;
        let purgeable = cell.purgeable(self.now_s, self.gc_grace_s);
        let shadowing = if purgeable && self.purge_shadowing {
            Decision::Remove
        } else {
            Decision::Keep
        };
        match entry {
            Entry::PartitionDeletion => {
                self.partition_deletion = Some(cell.timestamp);
                Some(shadowing)
            }
            Entry::RangeTombstone(rest) => {
                let (start, end) = keys::parse_range_tombstone(rest).ok()?;
                self.ranges.push((start, end, cell.timestamp));
                Some(shadowing)
            }
            Entry::Static { column, path } => Some(self.cell_decision(
                &layout,
                &cell,
                column,
                path,
                self.partition_deletion,
                purgeable,
            )),
            Entry::Row { clustering, item } => {
                if clustering != self.row.as_slice() {
                    self.row = clustering.to_vec();
                    self.row_deletion = None;
                    self.collection = None;
                }
                let covering = self
                    .ranges
                    .iter()
                    .filter(|(s, e, _)| {
                        keys::after_start(clustering, s) && keys::before_end(clustering, e)
                    })
                    .map(|(_, _, ts)| *ts)
                    .max();
                let outer = max_deletion(self.partition_deletion, covering);
                match item {
                    RowItem::Deletion => {
                        if cell.deleted_by(outer) {
                            return Some(Decision::Remove);
                        }
                        self.row_deletion = Some(cell.timestamp);
                        Some(shadowing)
                    }
                    RowItem::Marker => {
                        let deletion = max_deletion(outer, self.row_deletion);
                        if cell.deleted_by(deletion) || purgeable {
                            Some(Decision::Remove)
                        } else {
                            Some(Decision::Keep)
                        }
                    }
                    RowItem::Cell { column, path } => {
                        let deletion = max_deletion(outer, self.row_deletion);
                        Some(self.cell_decision(&layout, &cell, column, path, deletion, purgeable))
                    }
                }
            }
        }
    }

    fn cell_decision(
        &mut self,
        layout: &Layout,
        cell: &CellRef<'_>,
        column: u16,
        path: &[u8],
        deletion: Option<i64>,
        purgeable: bool,
    ) -> Decision {
        if !layout.live.contains(&column) {
            return Decision::Remove;
        }
        let complex = layout.complex.contains(&column);
        if complex && path.is_empty() {
            // A collection tombstone: it shadows the column's elements that follow.
            if cell.deleted_by(deletion) {
                return Decision::Remove;
            }
            self.collection = Some((column, cell.timestamp));
            return if purgeable && self.purge_shadowing {
                Decision::Remove
            } else {
                Decision::Keep
            };
        }
        let collection = match self.collection {
            Some((c, ts)) if complex && c == column => Some(ts),
            _ => None,
        };
        if cell.deleted_by(max_deletion(deletion, collection)) || purgeable {
            Decision::Remove
        } else {
            Decision::Keep
        }
    }
}

impl CompactionFilter for CellFilter {
    fn filter(&mut self, _level: u32, key: &[u8], value: &[u8]) -> Decision {
        self.decide(key, value).unwrap_or(Decision::Keep)
    }

    fn name(&self) -> &CStr {
        c"fastdata.cells"
    }
}
