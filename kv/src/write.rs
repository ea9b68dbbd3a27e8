//! Building mutations: the cells a statement (or a whole batch) writes, as merges of encoded
//! cells at their keys, applied together in one RocksDB `WriteBatch` (atomic: a batch is
//! all or nothing after a crash).
//!
//! A [`PartitionWriter`] writes one partition at one timestamp and TTL: row markers, cells,
//! collection elements and every kind of tombstone (cell, collection, row, clustering range,
//! partition). List elements get time-based cell paths as Cassandra gives them ([`ListPaths`]):
//! appends after every earlier element, prepends before.

use std::sync::atomic::{AtomicU64, Ordering};

use rocksdb::WriteBatch;
use uuid::Uuid;

use crate::api::Error;
use crate::cell;
use crate::engine::Engine;
use crate::keys::{self, Bound, RowEntry};
use crate::schema::{Column, Table};

/// The cells to write, over any number of tables.
#[derive(Debug, Default)]
pub struct Mutations {
    entries: Vec<(Uuid, Vec<u8>, Vec<u8>)>,
    /// The user data written (values and keys), for the batch size thresholds.
    pub data_bytes: usize,
}

impl Mutations {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    fn push(&mut self, table: Uuid, key: Vec<u8>, cell: Vec<u8>) {
        self.entries.push((table, key, cell));
    }

    /// Write everything in one batch with the engine's durability (`no_wait`: see
    /// [`Engine::write`]).
    pub fn apply(self, engine: &Engine, no_wait: bool) -> Result<(), Error> {
        let mut batch = WriteBatch::default();
        let mut current: Option<(Uuid, std::sync::Arc<rocksdb::BoundColumnFamily<'_>>)> = None;
        for (table, key, value) in &self.entries {
            let cf = match &current {
                Some((id, cf)) if id == table => cf.clone(),
                _ => {
                    let cf = engine.table_cf(*table)?;
                    current = Some((*table, cf.clone()));
                    cf
                }
            };
            batch.merge_cf(&cf, key, value);
        }
        drop(current);
        engine.write(batch, no_wait)
    }
}

/// Writes one partition of one table at one timestamp.
pub struct PartitionWriter<'a> {
    pub mutations: &'a mut Mutations,
    pub table: &'a Table,
    pub prefix: Vec<u8>,
    pub timestamp: i64,
    /// Seconds; 0 for no TTL.
    pub ttl_s: i32,
    pub now_s: i64,
}

impl PartitionWriter<'_> {
    fn push(&mut self, key: Vec<u8>, cell: Vec<u8>) {
        self.mutations.push(self.table.id, key, cell);
    }

    fn tombstone_at(&self, timestamp: i64) -> Vec<u8> {
        cell::tombstone(timestamp, self.now_s)
    }

    /// DELETE of the whole partition.
    pub fn partition_deletion(&mut self) {
        let key = keys::partition_deletion_key(&self.prefix);
        let c = self.tombstone_at(self.timestamp);
        self.push(key, c);
    }

    /// DELETE of a clustering range (bounds in key order).
    pub fn range_deletion(&mut self, start: &Bound, end: &Bound) {
        let key = keys::range_tombstone_key(&self.prefix, start, end);
        let c = self.tombstone_at(self.timestamp);
        self.push(key, c);
    }

    /// DELETE of one row.
    pub fn row_deletion(&mut self, clustering: &[u8]) {
        let key = keys::row_entry_key(&self.prefix, clustering, RowEntry::Deletion);
        let c = self.tombstone_at(self.timestamp);
        self.push(key, c);
    }

    /// INSERT's row marker: the row exists with only its key.
    pub fn row_marker(&mut self, clustering: &[u8]) {
        let key = keys::row_entry_key(&self.prefix, clustering, RowEntry::Marker);
        let c = cell::write(self.timestamp, self.ttl_s, self.now_s, &[]);
        self.mutations.data_bytes += clustering.len();
        self.push(key, c);
    }

    fn cell_key(&self, clustering: Option<&[u8]>, column: &Column, path: &[u8]) -> Vec<u8> {
        match clustering {
            None => keys::static_cell_key(&self.prefix, column.id, path),
            Some(ck) => keys::row_cell_key(&self.prefix, ck, column.id, path),
        }
    }

    /// A cell of a simple column, a frozen collection or a collection element (`path`), in a
    /// row (`clustering`) or the static row (`None`): a value, or a tombstone for `None`.
    pub fn cell(
        &mut self,
        clustering: Option<&[u8]>,
        column: &Column,
        path: &[u8],
        value: Option<&[u8]>,
    ) {
        let key = self.cell_key(clustering, column, path);
        let c = match value {
            Some(v) => {
                self.mutations.data_bytes += v.len() + path.len();
                cell::write(self.timestamp, self.ttl_s, self.now_s, v)
            }
            None => self.tombstone_at(self.timestamp),
        };
        self.push(key, c);
    }

    /// A collection tombstone: every element of the column written at or before `timestamp`
    /// is deleted (`timestamp - 1` when a statement replaces the whole collection, as
    /// Cassandra does, so the new elements survive).
    pub fn collection_deletion(
        &mut self,
        clustering: Option<&[u8]>,
        column: &Column,
        timestamp: i64,
    ) {
        let key = self.cell_key(clustering, column, &[]);
        let c = self.tombstone_at(timestamp);
        self.push(key, c);
    }
}

/// 100-nanosecond intervals between the UUID epoch (1582-10-15) and the Unix epoch.
const UUID_EPOCH_OFFSET: i64 = 0x01B2_1DD2_1381_4000;

/// Cassandra's `Lists.REFERENCE_TIME` (2010-01-01), which prepends count down from.
const REFERENCE_TIME_MS: i64 = 1_262_304_000_000;

/// Time-based cell paths of list elements, unique and ordered on this node: appended elements
/// sort after every earlier path, prepended ones before (Cassandra's `Lists.Appender` and
/// `Lists.Prepender`).
#[derive(Debug)]
pub struct ListPaths {
    last_append: AtomicU64,
    last_prepend: AtomicU64,
    /// Clock sequence and node of the timeuuids (from the host id).
    node: u64,
}

fn timeuuid_at(ticks: u64, clock_seq_and_node: u64) -> Uuid {
    let msb = ((ticks & 0xffff_ffff) << 32)
        | (((ticks >> 32) & 0xffff) << 16)
        | 0x1000
        | ((ticks >> 48) & 0x0fff);
    Uuid::from_u64_pair(msb, clock_seq_and_node)
}

fn ticks_of_ms(ms: i64) -> u64 {
    u64::try_from(ms.saturating_mul(10_000).saturating_add(UUID_EPOCH_OFFSET)).unwrap_or(0)
}

impl ListPaths {
    pub fn new(host_id: Uuid) -> ListPaths {
        let (_, low) = host_id.as_u64_pair();
        ListPaths {
            last_append: AtomicU64::new(0),
            last_prepend: AtomicU64::new(u64::MAX),
            // RFC 4122 variant bits.
            node: (low & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000,
        }
    }

    /// `n` paths after every path given so far, in order.
    pub fn append(&self, now_ms: i64, n: usize) -> Vec<Uuid> {
        let now = ticks_of_ms(now_ms);
        let n64 = n as u64;
        let mut last = self.last_append.load(Ordering::Relaxed);
        let first = loop {
            let first = now.max(last.saturating_add(1));
            match self.last_append.compare_exchange_weak(
                last,
                first + n64.saturating_sub(1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break first,
                Err(seen) => last = seen,
            }
        };
        (0..n64)
            .map(|i| timeuuid_at(first + i, self.node))
            .collect()
    }

    /// `n` paths before every path given so far, in order (the first element first).
    pub fn prepend(&self, now_ms: i64, n: usize) -> Vec<Uuid> {
        let reference = ticks_of_ms(REFERENCE_TIME_MS - (now_ms - REFERENCE_TIME_MS));
        let n64 = n as u64;
        let mut last = self.last_prepend.load(Ordering::Relaxed);
        let first = loop {
            let first = reference.min(last.saturating_sub(n64));
            match self.last_prepend.compare_exchange_weak(
                last,
                first,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break first,
                Err(seen) => last = seen,
            }
        };
        (0..n64)
            .map(|i| timeuuid_at(first + i, self.node))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastdata_cql::Value;

    #[test]
    fn appends_sort_after_and_prepends_before_every_earlier_path() {
        let paths = ListPaths::new(Uuid::from_u128(7));
        let key = |u: Uuid| keys::cell_path(&Value::TimeUuid(u));
        let a = paths.append(1_700_000_000_000, 2);
        let b = paths.append(1_700_000_000_000, 1);
        let p = paths.prepend(1_700_000_000_000, 2);
        let q = paths.prepend(1_700_000_000_001, 1);
        let order: Vec<Vec<u8>> = [q[0], p[0], p[1], a[0], a[1], b[0]]
            .into_iter()
            .map(key)
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
        assert!(a
            .iter()
            .chain(&b)
            .chain(&p)
            .all(|u| u.get_version_num() == 1));
    }
}
