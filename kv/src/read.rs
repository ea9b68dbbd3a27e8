//! Reading a table's column family back into live rows: a partition's header (its tombstone,
//! range tombstones and static cells, which sort before its rows), its rows within clustering
//! slices, forward or reversed, resumable after a row, and the partitions of a key range in
//! token order.
//!
//! Deletions apply here, at read time, to what they shadow by timestamp: a cell is live when
//! it is not a tombstone, has not expired, and its timestamp is above every deletion over it
//! (partition, covering range tombstones, row, and for collection elements the collection
//! tombstone). A row exists when its row marker (written by INSERT) or one of its regular cells
//! is live; static cells are shadowed by the partition tombstone only.

use std::cell::{RefCell, RefMut};
use std::ops::ControlFlow;

use crate::api::Error;
use crate::cell::CellRef;
use crate::engine::{Engine, RawIter};
use crate::keys::{self, Bound, Entry, RowItem};
use crate::schema::Table;

/// A live cell: its write timestamp, remaining TTL and value bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCell {
    pub timestamp: i64,
    pub ttl: Option<i32>,
    pub value: Vec<u8>,
}

/// A column's live data in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnData {
    Simple(LiveCell),
    /// A non-frozen collection's live elements, in path (CQL) order.
    Complex(Vec<(Vec<u8>, LiveCell)>),
}

/// A live row (or a partition's static cells).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row {
    /// The encoded clustering (empty for the static row and tables without clustering).
    pub clustering: Vec<u8>,
    /// Live columns by column id, in id order.
    pub columns: Vec<(u16, ColumnData)>,
    /// The live row marker's timestamp and TTL.
    pub marker: Option<(i64, Option<i32>)>,
}

impl Row {
    pub fn column(&self, id: u16) -> Option<&ColumnData> {
        self.columns
            .binary_search_by_key(&id, |(c, _)| *c)
            .ok()
            .map(|i| &self.columns[i].1)
    }
}

/// What applies to a whole partition: its tombstones and static row.
#[derive(Debug, Clone, Default)]
pub struct PartitionHeader {
    pub deletion: Option<i64>,
    pub ranges: Vec<(Bound, Bound, i64)>,
    pub statics: Row,
}

fn max_deletion(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Collects one row's entries (in any order) and decides what of it is live.
#[derive(Debug, Default)]
struct RowBuilder {
    clustering: Vec<u8>,
    deletion: Option<i64>,
    marker: Option<Vec<u8>>,
    /// (column, path, cell bytes).
    cells: Vec<(u16, Vec<u8>, Vec<u8>)>,
}

impl RowBuilder {
    fn is_empty(&self) -> bool {
        self.deletion.is_none() && self.marker.is_none() && self.cells.is_empty()
    }

    fn add(&mut self, item: RowItem<'_>, value: &[u8]) {
        match item {
            RowItem::Deletion => {
                if let Some(c) = CellRef::parse(value) {
                    self.deletion = max_deletion(self.deletion, Some(c.timestamp));
                }
            }
            RowItem::Marker => self.marker = Some(value.to_vec()),
            RowItem::Cell { column, path } => {
                self.cells.push((column, path.to_vec(), value.to_vec()))
            }
        }
    }

    /// The live part of the row under `outer` (partition and range deletions), or `None`.
    fn finish(
        mut self,
        table: &Table,
        outer: Option<i64>,
        now_s: i64,
        is_static: bool,
    ) -> Option<Row> {
        let deletion = max_deletion(outer, self.deletion);
        let marker = self
            .marker
            .as_deref()
            .and_then(CellRef::parse)
            .and_then(|m| {
                (m.is_live(now_s) && !m.deleted_by(deletion))
                    .then(|| (m.timestamp, m.remaining_ttl(now_s)))
            });
        self.cells.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let mut columns: Vec<(u16, ColumnData)> = Vec::new();
        let mut collection: Option<(u16, i64)> = None;
        for (id, path, bytes) in &self.cells {
            let Some(column) = table.column_by_id(*id) else {
                continue;
            };
            let Some(c) = CellRef::parse(bytes) else {
                continue;
            };
            if column.is_complex() && path.is_empty() {
                collection = Some((*id, c.timestamp));
                continue;
            }
            let element_deletion = match collection {
                Some((cid, ts)) if cid == *id => max_deletion(deletion, Some(ts)),
                _ => deletion,
            };
            if !c.is_live(now_s) || c.deleted_by(element_deletion) {
                continue;
            }
            let live = LiveCell {
                timestamp: c.timestamp,
                ttl: c.remaining_ttl(now_s),
                value: c.value.to_vec(),
            };
            if column.is_complex() {
                match columns.last_mut() {
                    Some((last, ColumnData::Complex(items))) if *last == *id => {
                        items.push((path.clone(), live))
                    }
                    _ => columns.push((*id, ColumnData::Complex(vec![(path.clone(), live)]))),
                }
            } else {
                columns.push((*id, ColumnData::Simple(live)));
            }
        }
        let live = if is_static {
            !columns.is_empty()
        } else {
            marker.is_some() || !columns.is_empty()
        };
        live.then_some(Row {
            clustering: self.clustering,
            columns,
            marker,
        })
    }
}

/// A clustering slice in key order: rows whose clustering lies within both bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub start: Bound,
    pub end: Bound,
}

impl Slice {
    /// Every row of the partition.
    pub fn all() -> Slice {
        Slice {
            start: Bound::open(),
            end: Bound::open(),
        }
    }
}

/// A partition found by a scan: its key prefix and its partition key bytes.
pub type PartitionRef = (Vec<u8>, Vec<u8>);

/// Reads one table at one local time.
///
/// A partition's header and its rows are read through one iterator over the whole partition,
/// kept until another partition is read: setting up an iterator (a seek in every memtable and
/// L0 file and in each level) costs more than reading a small partition, and one iterator also
/// sees the header and the rows at the same instant.
pub struct Reader<'a> {
    pub engine: &'a Engine,
    pub table: &'a Table,
    pub now_s: i64,
    desc: Vec<bool>,
    partition: RefCell<Option<(Vec<u8>, RawIter<'a>)>>,
}

impl<'a> Reader<'a> {
    pub fn new(engine: &'a Engine, table: &'a Table, now_s: i64) -> Reader<'a> {
        Reader {
            engine,
            table,
            now_s,
            desc: table.clustering_desc(),
            partition: RefCell::new(None),
        }
    }

    fn iter(&self, lower: &[u8], upper: Option<&[u8]>) -> Result<RawIter<'a>, Error> {
        let cf = self.engine.table_cf(self.table.id)?;
        Ok(self.engine.raw_iter(&cf, lower, upper))
    }

    /// An iterator over every key of the partition with key prefix `prefix`: the one kept
    /// from the last call if it was for the same partition.
    fn partition_iter(&self, prefix: &[u8]) -> Result<RefMut<'_, RawIter<'a>>, Error> {
        let mut kept = self.partition.borrow_mut();
        if kept.as_ref().is_none_or(|(p, _)| p.as_slice() != prefix) {
            let upper = keys::prefix_successor(prefix);
            *kept = Some((prefix.to_vec(), self.iter(prefix, upper.as_deref())?));
        }
        RefMut::filter_map(kept, |kept| kept.as_mut().map(|(_, it)| it))
            .map_err(|_| Error::Server("no partition iterator".into()))
    }

    /// The header of the partition with key prefix `prefix`.
    pub fn header(&self, prefix: &[u8]) -> Result<PartitionHeader, Error> {
        let mut it = self.partition_iter(prefix)?;
        // The partition tombstone, range tombstones and statics sort before the rows.
        it.seek(prefix);
        let mut header = PartitionHeader::default();
        let mut statics = RowBuilder::default();
        while let (Some(key), Some(value)) = (it.key(), it.value()) {
            match keys::parse_entry(&key[prefix.len()..], &self.desc)? {
                Entry::PartitionDeletion => {
                    if let Some(c) = CellRef::parse(value) {
                        header.deletion = max_deletion(header.deletion, Some(c.timestamp));
                    }
                }
                Entry::RangeTombstone(rest) => {
                    let (start, end) = keys::parse_range_tombstone(rest)?;
                    if let Some(c) = CellRef::parse(value) {
                        header.ranges.push((start, end, c.timestamp));
                    }
                }
                Entry::Static { column, path } => {
                    statics.add(RowItem::Cell { column, path }, value)
                }
                Entry::Row { .. } => break,
            }
            it.next();
        }
        it.status().map_err(crate::engine::storage_error)?;
        if let Some(row) = statics.finish(self.table, header.deletion, self.now_s, true) {
            header.statics = row;
        }
        Ok(header)
    }

    fn outer_deletion(&self, header: &PartitionHeader, clustering: &[u8]) -> Option<i64> {
        let covering = header
            .ranges
            .iter()
            .filter(|(s, e, _)| keys::after_start(clustering, s) && keys::before_end(clustering, e))
            .map(|(_, _, ts)| *ts)
            .max();
        max_deletion(header.deletion, covering)
    }

    /// Visit the live rows of a partition within `slice`, in clustering order or reversed,
    /// starting after the row with clustering `after` (in the direction of the read).
    pub fn rows(
        &self,
        prefix: &[u8],
        header: &PartitionHeader,
        slice: &Slice,
        reversed: bool,
        after: Option<&[u8]>,
        mut visit: impl FnMut(Row) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, Error> {
        let row_key = |clustering: &[u8]| keys::row_prefix(prefix, clustering);
        let mut lower = if slice.start.inclusive {
            row_key(&slice.start.prefix)
        } else {
            match keys::prefix_successor(&row_key(&slice.start.prefix)) {
                Some(k) => k,
                None => return Ok(ControlFlow::Continue(())),
            }
        };
        let mut upper = if slice.end.inclusive {
            keys::prefix_successor(&row_key(&slice.end.prefix))
        } else {
            Some(row_key(&slice.end.prefix))
        };
        if let Some(after) = after {
            if reversed {
                let bound = row_key(after);
                if upper.as_ref().is_none_or(|u| bound < *u) {
                    upper = Some(bound);
                }
            } else {
                match keys::prefix_successor(&row_key(after)) {
                    Some(k) if k > lower => lower = k,
                    Some(_) => {}
                    None => return Ok(ControlFlow::Continue(())),
                }
            }
        }
        if upper.as_ref().is_some_and(|u| *u <= lower) {
            return Ok(ControlFlow::Continue(()));
        }
        // The partition's iterator is bounded by the partition; [lower, upper) is checked here.
        let mut it = self.partition_iter(prefix)?;
        if reversed {
            match &upper {
                Some(u) => {
                    it.seek_for_prev(u);
                    if it.key() == Some(u.as_slice()) {
                        it.prev();
                    }
                }
                None => it.seek_to_last(),
            }
        } else {
            it.seek(&lower);
        }
        let mut row = RowBuilder::default();
        while let (Some(key), Some(value)) = (it.key(), it.value()) {
            let in_range = if reversed {
                key >= lower.as_slice()
            } else {
                upper.as_ref().is_none_or(|u| key < u.as_slice())
            };
            if !in_range {
                break;
            }
            let Entry::Row { clustering, item } =
                keys::parse_entry(&key[prefix.len()..], &self.desc)?
            else {
                return Err(Error::Server(
                    "corrupt key: not a row in the row range".into(),
                ));
            };
            if clustering != row.clustering.as_slice() || row.is_empty() {
                if !row.is_empty() {
                    let done = std::mem::take(&mut row);
                    let outer = self.outer_deletion(header, &done.clustering);
                    if let Some(r) = done.finish(self.table, outer, self.now_s, false) {
                        if visit(r).is_break() {
                            return Ok(ControlFlow::Break(()));
                        }
                    }
                }
                row.clustering = clustering.to_vec();
            }
            row.add(item, value);
            if reversed {
                it.prev();
            } else {
                it.next();
            }
        }
        it.status().map_err(crate::engine::storage_error)?;
        if !row.is_empty() {
            let outer = self.outer_deletion(header, &row.clustering);
            if let Some(r) = row.finish(self.table, outer, self.now_s, false) {
                return Ok(visit(r));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// The first partition whose keys lie in `[lower, upper)`: its prefix and key bytes.
    pub fn next_partition(
        &self,
        lower: &[u8],
        upper: Option<&[u8]>,
    ) -> Result<Option<PartitionRef>, Error> {
        let mut it = self.iter(lower, upper)?;
        it.seek_to_first();
        match it.key() {
            Some(key) => {
                let (n, pk) = keys::split_partition(key)?;
                Ok(Some((key[..n].to_vec(), pk)))
            }
            None => {
                it.status().map_err(crate::engine::storage_error)?;
                Ok(None)
            }
        }
    }
}
