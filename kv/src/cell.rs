//! Cells: the value of every key of a table's column family. A cell is live, expiring (with a
//! TTL and the local time it expires at) or a tombstone (with the local time it was written,
//! for `gc_grace_seconds`), and always carries its write timestamp (µs). Row markers are cells
//! with an empty value; row, range, partition and collection tombstones are tombstone cells
//! whose timestamp is Cassandra's `markedForDeleteAt`.
//!
//! Two cells of one key reconcile as Cassandra's `Cells.resolveRegular`: the higher timestamp
//! wins; on a tie an expiring cell or tombstone beats a live cell, a tombstone beats an
//! expiring cell, then the later local deletion time wins, then the greater value (unsigned
//! bytes). The rule is commutative and associative (a total order), so it serves as a RocksDB
//! merge operator: writes are merges and never read before writing, and the outcome does not
//! depend on arrival order.
//!
//! Layout: kind (1 byte: 0 live, 1 expiring, 2 tombstone) ‖ timestamp (i64 BE) ‖ for expiring:
//! ttl (i32 BE) and local expiry time (i64 BE, seconds) ‖ for a tombstone: local deletion time
//! (i64 BE, seconds) ‖ the value (live and expiring cells).

use std::cmp::Ordering;

const LIVE: u8 = 0;
const EXPIRING: u8 = 1;
const TOMBSTONE: u8 = 2;

/// What a cell is, besides its timestamp and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    Live,
    /// Expires at `local_expiry_s` (seconds since the epoch, the node's clock).
    Expiring {
        ttl_s: i32,
        local_expiry_s: i64,
    },
    /// Deleted at `local_deletion_s` (seconds since the epoch, the node's clock).
    Tombstone {
        local_deletion_s: i64,
    },
}

/// A cell viewed over its stored bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellRef<'a> {
    pub timestamp: i64,
    pub kind: CellKind,
    pub value: &'a [u8],
}

fn be_i64(b: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(*b.first_chunk::<8>()?))
}

impl<'a> CellRef<'a> {
    /// Parse stored bytes; `None` if they are not a cell.
    pub fn parse(bytes: &'a [u8]) -> Option<CellRef<'a>> {
        let (&kind, rest) = bytes.split_first()?;
        let timestamp = be_i64(rest)?;
        let rest = &rest[8..];
        Some(match kind {
            LIVE => CellRef {
                timestamp,
                kind: CellKind::Live,
                value: rest,
            },
            EXPIRING => {
                let ttl_s = i32::from_be_bytes(*rest.first_chunk::<4>()?);
                let local_expiry_s = be_i64(&rest[4..])?;
                CellRef {
                    timestamp,
                    kind: CellKind::Expiring {
                        ttl_s,
                        local_expiry_s,
                    },
                    value: &rest[12..],
                }
            }
            TOMBSTONE => CellRef {
                timestamp,
                kind: CellKind::Tombstone {
                    local_deletion_s: be_i64(rest)?,
                },
                value: &[],
            },
            _ => return None,
        })
    }

    /// Whether the cell is live at `now_s` (an expiring cell until its expiry).
    pub fn is_live(&self, now_s: i64) -> bool {
        match self.kind {
            CellKind::Live => true,
            CellKind::Expiring { local_expiry_s, .. } => now_s < local_expiry_s,
            CellKind::Tombstone { .. } => false,
        }
    }

    /// Cassandra's `localDeletionTime`: `None` (NO_DELETION_TIME) for a live cell.
    fn local_deletion_time(&self) -> Option<i64> {
        match self.kind {
            CellKind::Live => None,
            CellKind::Expiring { local_expiry_s, .. } => Some(local_expiry_s),
            CellKind::Tombstone { local_deletion_s } => Some(local_deletion_s),
        }
    }

    /// The remaining TTL in seconds at `now_s`, for an expiring cell.
    pub fn remaining_ttl(&self, now_s: i64) -> Option<i32> {
        match self.kind {
            CellKind::Expiring { local_expiry_s, .. } => {
                Some(i32::try_from((local_expiry_s - now_s).max(0)).unwrap_or(i32::MAX))
            }
            _ => None,
        }
    }

    /// Whether a compaction may drop this cell at `now_s`: a tombstone, or an expired cell,
    /// whose local deletion time is more than `gc_grace_s` ago.
    pub fn purgeable(&self, now_s: i64, gc_grace_s: i64) -> bool {
        match self.local_deletion_time() {
            Some(ldt) => !self.is_live(now_s) && ldt.saturating_add(gc_grace_s) < now_s,
            None => false,
        }
    }

    /// Cassandra's reconciliation order: `Greater` when `self` wins over `other`.
    pub fn reconcile_cmp(&self, other: &CellRef<'_>) -> Ordering {
        let by_timestamp = self.timestamp.cmp(&other.timestamp);
        if by_timestamp != Ordering::Equal {
            return by_timestamp;
        }
        let (l, r) = (self.local_deletion_time(), other.local_deletion_time());
        if l.is_some() || r.is_some() {
            // Expiring cells and tombstones beat live cells (CASSANDRA-14592).
            if l.is_some() != r.is_some() {
                return if l.is_some() {
                    Ordering::Greater
                } else {
                    Ordering::Less
                };
            }
            let lt = matches!(self.kind, CellKind::Tombstone { .. });
            let rt = matches!(other.kind, CellKind::Tombstone { .. });
            if lt != rt {
                return if lt {
                    Ordering::Greater
                } else {
                    Ordering::Less
                };
            }
            if l != r {
                return l.cmp(&r);
            }
        }
        self.value.cmp(other.value).then_with(|| {
            let ttl = |c: &CellRef<'_>| match c.kind {
                CellKind::Expiring { ttl_s, .. } => ttl_s,
                _ => 0,
            };
            ttl(self).cmp(&ttl(other))
        })
    }

    /// Whether a deletion (a tombstone's timestamp, `markedForDeleteAt`) shadows this cell.
    pub fn deleted_by(&self, deletion: Option<i64>) -> bool {
        deletion.is_some_and(|d| self.timestamp <= d)
    }
}

/// Encode a live cell.
pub fn live(timestamp: i64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + value.len());
    out.push(LIVE);
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// Encode a live cell, expiring after `ttl_s` seconds from `now_s` when `ttl_s` > 0.
pub fn write(timestamp: i64, ttl_s: i32, now_s: i64, value: &[u8]) -> Vec<u8> {
    if ttl_s <= 0 {
        return live(timestamp, value);
    }
    let mut out = Vec::with_capacity(21 + value.len());
    out.push(EXPIRING);
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&ttl_s.to_be_bytes());
    out.extend_from_slice(&(now_s + i64::from(ttl_s)).to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// Encode a tombstone written at `timestamp`, at local time `now_s`.
pub fn tombstone(timestamp: i64, now_s: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(17);
    out.push(TOMBSTONE);
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&now_s.to_be_bytes());
    out
}

/// Of stored cells, the one that wins reconciliation (undecodable bytes lose to any cell).
pub fn reconcile<'a>(cells: impl IntoIterator<Item = &'a [u8]>) -> Option<&'a [u8]> {
    let mut best: Option<(&'a [u8], Option<CellRef<'a>>)> = None;
    for bytes in cells {
        let parsed = CellRef::parse(bytes);
        best = match best {
            None => Some((bytes, parsed)),
            Some((b, Some(bp))) => match parsed {
                Some(p) if p.reconcile_cmp(&bp) == Ordering::Greater => Some((bytes, Some(p))),
                _ => Some((b, Some(bp))),
            },
            Some((_, None)) => Some((bytes, parsed)),
        };
    }
    best.map(|(b, _)| b)
}

/// The RocksDB merge operator of table column families: the reconciled cell of the existing
/// value and the operands.
pub fn merge_cells(
    _key: &[u8],
    existing: Option<&[u8]>,
    operands: &rocksdb::MergeOperands,
) -> Option<Vec<u8>> {
    reconcile(existing.into_iter().chain(operands)).map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8]) -> CellRef<'_> {
        CellRef::parse(b).unwrap()
    }

    fn winner<'a>(a: &'a [u8], b: &'a [u8]) -> &'a [u8] {
        // Reconciliation does not depend on the order the cells arrive in.
        let ab = reconcile([a, b]).unwrap();
        let ba = reconcile([b, a]).unwrap();
        assert_eq!(ab, ba);
        ab
    }

    #[test]
    fn the_higher_timestamp_wins_whatever_arrives_first() {
        let old = live(10, b"old");
        let new = live(11, b"new");
        assert_eq!(winner(&old, &new), new.as_slice());
        let del = tombstone(9, 100);
        assert_eq!(
            winner(&del, &old),
            old.as_slice(),
            "an older tombstone loses"
        );
    }

    #[test]
    fn on_a_tie_the_tombstone_wins_then_expiring_then_the_greater_value() {
        let a = live(5, b"a");
        let b = live(5, b"b");
        let expiring = write(5, 60, 1000, b"a");
        let del = tombstone(5, 1000);
        assert_eq!(winner(&a, &b), b.as_slice(), "greater value");
        assert_eq!(
            winner(&b, &expiring),
            expiring.as_slice(),
            "expiring beats live"
        );
        assert_eq!(
            winner(&expiring, &del),
            del.as_slice(),
            "tombstone beats expiring"
        );
        assert_eq!(winner(&del, &b), del.as_slice(), "tombstone beats live");
        let later = tombstone(5, 2000);
        assert_eq!(
            winner(&del, &later),
            later.as_slice(),
            "later local deletion time"
        );
    }

    #[test]
    fn expiring_cells_die_at_their_expiry_and_purge_after_gc_grace() {
        let c = write(1, 10, 100, b"v");
        let c = parse(&c);
        assert!(c.is_live(109) && !c.is_live(110));
        assert_eq!(c.remaining_ttl(104), Some(6));
        assert!(!c.purgeable(115, 10) && c.purgeable(121, 10));
        let t = tombstone(1, 100);
        let t = parse(&t);
        assert!(!t.is_live(0) && !t.purgeable(100, 0) && t.purgeable(101, 0));
        assert!(!parse(&live(1, b"")).purgeable(i64::MAX, 0));
    }

    #[test]
    fn deletions_shadow_cells_up_to_their_timestamp() {
        let c = live(10, b"v");
        let c = parse(&c);
        assert!(c.deleted_by(Some(10)) && !c.deleted_by(Some(9)) && !c.deleted_by(None));
    }

    #[test]
    fn bad_bytes_lose_and_do_not_panic() {
        let good = live(1, b"x");
        assert!(CellRef::parse(&[7, 0]).is_none());
        assert_eq!(reconcile([&[9u8][..], &good]).unwrap(), good.as_slice());
        assert_eq!(reconcile([&good[..], &[9u8][..]]).unwrap(), good.as_slice());
    }
}
