//! Model-based property test of the partition log (issue 11: "random append/read/truncate/compact
//! sequences agree with an in-memory model").
//!
//! A compacted partition (`cleanup.policy = compact`) on [`SimStorage`] with small segments runs
//! random sequences of appends (keys from a small space, tombstones among the values), reads,
//! truncations, clock moves (so segments also roll by age), cleaner passes, clean reopens and
//! reopens after a power cut with everything flushed. The model is the exact list of batches and
//! records the log holds; after every operation the whole log is read back and compared to it.
//!
//! - Appends continue at the log end offset and read back unchanged.
//! - A read returns whole batches: the first is the model's first batch ending at or after the
//!   requested offset, then consecutive model batches, never past the log end, within `max_bytes`
//!   unless `min_one_batch` lets a single larger first batch through (KIP-74).
//! - A truncation cuts at a batch boundary at or below the requested offset and keeps every batch
//!   below it.
//! - A cleaner pass only removes records: what it serves afterwards is a subset of the model at
//!   the same offsets with the same keys and values, batch offsets kept, and the newest record of
//!   every key is still there unless it is a tombstone. The model then becomes what is served.
//! - With everything in closed segments (a roll forced by age), two passes around
//!   `delete.retention.ms` leave exactly the newest record per key among the closed segments,
//!   minus tombstones, plus the active segment untouched: a consumer reading from the start sees
//!   each key once, with its newest value, in offset order.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use common::{build_batch, codec, read_all, unique_value, MBatch, Model, Rec, RecSpec};
use fastdata_log::storage::{CrashingStorage, PowerLoss, SimStorage, NO_CRASH};
use fastdata_log::{CleanupPolicy, Clock, LogConfig, ManualClock, PartitionLog};
use proptest::prelude::*;

const T0: i64 = 1_700_000_000_000;
const SEGMENT_MS: i64 = 10_000;
const DELETE_RETENTION_MS: i64 = 5_000;
const FILLER_KEY: &[u8] = b"filler";

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 2048,
        segment_ms: SEGMENT_MS,
        segment_index_bytes: 1024,
        index_interval_bytes: 128,
        cleanup_policy: CleanupPolicy::COMPACT,
        delete_retention_ms: DELETE_RETENTION_MS,
        ..LogConfig::default()
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// A batch of 1..10 records: key index, value length or `None` for a tombstone.
    Append {
        codec: u8,
        records: Vec<(u8, Option<u8>)>,
    },
    Read {
        at: u16,
        max_bytes: u16,
        high_watermark: Option<u16>,
        min_one_batch: bool,
    },
    Truncate(u16),
    /// Move the clock (segments roll by age on the next append; tombstone horizons pass).
    Advance(u16),
    /// One cleaner pass, checked for what it may and must keep.
    Clean,
    /// Roll everything into closed segments, clean twice around `delete.retention.ms`, and
    /// check the exact result.
    CompactAll,
    ReopenClean,
    /// Flush everything, cut the power (`None`: drop unsynced; `Some`: torn prefix), reopen.
    ReopenAfterCrash(Option<u64>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (
            any::<u8>(),
            prop::collection::vec((0u8..16, prop::option::weighted(0.85, any::<u8>())), 1..10)
        )
            .prop_map(|(codec, records)| Op::Append { codec, records }),
        3 => (any::<u16>(), any::<u16>(), prop::option::weighted(0.3, any::<u16>()), any::<bool>())
            .prop_map(|(at, max_bytes, high_watermark, min_one_batch)| Op::Read {
                at,
                max_bytes,
                high_watermark,
                min_one_batch,
            }),
        1 => any::<u16>().prop_map(Op::Truncate),
        2 => any::<u16>().prop_map(Op::Advance),
        2 => Just(Op::Clean),
        1 => Just(Op::CompactAll),
        1 => Just(Op::ReopenClean),
        1 => prop::option::of(any::<u64>()).prop_map(Op::ReopenAfterCrash),
    ]
}

fn fraction_of(leo: i64, f: u16) -> i64 {
    leo * i64::from(f) / i64::from(u16::MAX)
}

/// Batches without their on-disk size (a cleaned batch is re-encoded).
fn shapes(batches: &[MBatch]) -> Vec<(i64, i64, Vec<Rec>)> {
    batches
        .iter()
        .map(|b| (b.base, b.last, b.records.clone()))
        .collect()
}

fn open(storage: &SimStorage, budget: &Arc<AtomicI64>, clock: &Arc<ManualClock>) -> PartitionLog {
    let storage = CrashingStorage::with_budget(storage.clone(), budget.clone());
    PartitionLog::open(common::DIR, config(), Arc::new(storage), clock.clone()).expect("open")
}

struct Harness {
    storage: SimStorage,
    /// Mutating storage operations left before a simulated crash.
    budget: Arc<AtomicI64>,
    clock: Arc<ManualClock>,
    log: Option<PartitionLog>,
    model: Model,
    serial: u64,
    cleans: usize,
    records_removed: u64,
    /// The model predates a crash inside a cleaner pass.
    after_crash: bool,
}

impl Harness {
    fn new() -> Self {
        let storage = SimStorage::new();
        let clock = Arc::new(ManualClock::new(T0));
        let budget = Arc::new(AtomicI64::new(NO_CRASH));
        let log = open(&storage, &budget, &clock);
        Harness {
            storage,
            budget,
            clock,
            log: Some(log),
            model: Model::default(),
            serial: 0,
            cleans: 0,
            records_removed: 0,
            after_crash: false,
        }
    }

    fn log(&self) -> &PartitionLog {
        self.log.as_ref().expect("log is open")
    }

    fn append(&mut self, codec_choice: u8, records: &[(Option<Bytes>, Option<usize>)]) {
        let recs: Vec<RecSpec> = records
            .iter()
            .map(|(key, len)| {
                self.serial += 1;
                RecSpec {
                    key: key.clone(),
                    value: len.map(|l| unique_value(self.serial, l)),
                }
            })
            .collect();
        let bytes = build_batch(codec(codec_choice), None, self.clock.now_ms(), &recs);
        let info = self.log().append(bytes.clone(), 0).expect("append");
        self.model.append(&bytes, &info);
    }

    /// One cleaner pass: it may only remove records, must keep offsets and every key's newest
    /// record unless that is a tombstone. The model becomes what is served.
    fn clean(&mut self) {
        let before = self.model.clone();
        let stats = self.log().clean().expect("clean");
        self.cleans += 1;
        self.records_removed += stats.records_removed;
        assert_eq!(
            self.log().log_end_offset(),
            before.leo,
            "cleaning moved the log end"
        );
        let served = read_all(self.log());
        let by_range: HashMap<(i64, i64), &MBatch> = before
            .batches
            .iter()
            .map(|b| ((b.base, b.last), b))
            .collect();
        let mut served_offsets = HashSet::new();
        for b in &served {
            let original = by_range.get(&(b.base, b.last)).unwrap_or_else(|| {
                panic!(
                    "cleaned batch {}..={} matches no batch of the log",
                    b.base, b.last
                )
            });
            let mut rest = original.records.iter();
            for r in &b.records {
                assert!(
                    rest.any(|o| o == r),
                    "cleaning served record {r:?} that batch {}..={} does not hold (in order)",
                    b.base,
                    b.last
                );
                served_offsets.insert(r.offset);
            }
            assert_eq!(
                (b.producer_id, b.base_sequence),
                (original.producer_id, original.base_sequence),
                "batch metadata kept"
            );
        }
        let mut newest: HashMap<&Option<Bytes>, &Rec> = HashMap::new();
        for r in before.records() {
            newest.insert(&r.key, r);
        }
        for r in newest.values() {
            if r.value.is_some() {
                assert!(
                    served_offsets.contains(&r.offset),
                    "cleaning dropped the newest record of its key: {r:?}"
                );
            }
        }
        let removed = before.records().count() - served_offsets.len();
        // (After a crash mid-pass, the model may still hold what the crashed pass removed.)
        assert!(
            self.after_crash || removed as u64 <= stats.records_removed,
            "{removed} records gone, the cleaner reports {}",
            stats.records_removed
        );
        self.model.batches = served;
        self.after_crash = false;
    }

    /// Force every record into closed segments, clean twice around `delete.retention.ms`, and
    /// check the exact outcome.
    fn compact_all(&mut self) {
        // A roll by age puts everything so far in closed segments; the filler is alone in the
        // active one.
        self.clock.advance(SEGMENT_MS + 1);
        self.append(0, &[(Some(Bytes::from_static(FILLER_KEY)), Some(8))]);
        let (filler, closed) = self.model.batches.split_last().expect("the filler batch");
        let mut newest: HashMap<&Option<Bytes>, i64> = HashMap::new();
        for r in closed.iter().flat_map(|b| b.records.iter()) {
            newest.insert(&r.key, r.offset);
        }
        let mut expected: Vec<(i64, i64, Vec<Rec>)> = closed
            .iter()
            .map(|b| {
                let kept: Vec<Rec> = b
                    .records
                    .iter()
                    .filter(|r| newest[&r.key] == r.offset && r.value.is_some())
                    .cloned()
                    .collect();
                (b.base, b.last, kept)
            })
            .filter(|(_, _, kept)| !kept.is_empty())
            .collect();
        expected.push((filler.base, filler.last, filler.records.clone()));

        self.clean();
        self.clock.advance(DELETE_RETENTION_MS + 1);
        self.clean();
        let served = read_all(self.log());
        // A segment whose records all went keeps its last batch, empty, so that segments stay
        // contiguous: those carry no record and are left out of the comparison.
        let with_records: Vec<(i64, i64, Vec<Rec>)> = shapes(&served)
            .into_iter()
            .filter(|(_, _, records)| !records.is_empty())
            .collect();
        assert_eq!(
            with_records, expected,
            "after cleaning everything closed, past delete.retention.ms"
        );
        // As a consumer sees it: each key once (the filler's key may also be in the active
        // segment), with its newest value, no tombstone, in offset order.
        let mut seen = HashSet::new();
        let mut last_offset = -1;
        for r in served.iter().flat_map(|b| b.records.iter()) {
            assert!(r.offset > last_offset, "offsets increase");
            last_offset = r.offset;
            assert!(
                r.value.is_some(),
                "tombstone past delete.retention.ms served: {r:?}"
            );
            let key = r.key.clone().expect("keyed");
            assert!(
                seen.insert(key.clone()) || key == FILLER_KEY,
                "key {key:?} served twice after compaction"
            );
        }
    }

    fn run(&mut self, op: &Op) {
        match op {
            Op::Append { codec, records } => {
                let records: Vec<(Option<Bytes>, Option<usize>)> = records
                    .iter()
                    .map(|(k, v)| {
                        (
                            Some(Bytes::from(format!("k{k}"))),
                            v.map(|l| usize::from(l) % 150),
                        )
                    })
                    .collect();
                self.append(*codec, &records);
            }
            Op::Read {
                at,
                max_bytes,
                high_watermark,
                min_one_batch,
            } => {
                let offset = fraction_of(self.model.leo, *at);
                let max_bytes = usize::from(*max_bytes) % 4000;
                let hw = high_watermark.map(|f| fraction_of(self.model.leo, f));
                self.model
                    .check_read(self.log(), offset, max_bytes, hw, *min_one_batch);
            }
            Op::Truncate(f) => {
                let requested = fraction_of(self.model.leo, *f);
                let new_leo = self.log().truncate_to(requested).expect("truncate_to");
                self.model.truncate(requested, new_leo);
            }
            Op::Advance(ms) => self.clock.advance(i64::from(*ms) % (2 * SEGMENT_MS)),
            Op::Clean => self.clean(),
            Op::CompactAll => self.compact_all(),
            Op::ReopenClean => {
                self.log.take().expect("open").close().expect("close");
                self.log = Some(open(&self.storage, &self.budget, &self.clock));
                assert!(self.log().recovery_report().clean);
            }
            Op::ReopenAfterCrash(seed) => {
                self.log().flush_until(i64::MAX).expect("flush");
                let mode = seed.map_or(PowerLoss::DropUnsynced, |seed| PowerLoss::TornPrefix {
                    seed,
                });
                self.storage.power_loss(mode);
                drop(self.log.take());
                self.log = Some(open(&self.storage, &self.budget, &self.clock));
                assert!(!self.log().recovery_report().clean);
            }
        }
        self.model.check_full(self.log());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_agree_with_the_model(ops in prop::collection::vec(op(), 1..100)) {
        let mut h = Harness::new();
        for op in &ops {
            h.run(op);
        }
        // The log keeps working from wherever the sequence left it.
        h.compact_all();
        h.model.check_full(h.log());
        prop_assert!(h.cleans >= 2);
    }
}

/// The properties above are not vacuous: a fixed workload with many overwrites and tombstones
/// does get records removed by the cleaner, and the exact post-compaction check runs on it.
#[test]
fn compaction_removes_superseded_records_and_expired_tombstones() {
    let mut h = Harness::new();
    for round in 0..30u8 {
        let records: Vec<(Option<Bytes>, Option<usize>)> = (0..6u8)
            .map(|i| {
                let key = Some(Bytes::from(format!("k{}", (round + i) % 5)));
                let value = if (round + i) % 7 == 0 { None } else { Some(40) };
                (key, value)
            })
            .collect();
        h.append(round, &records);
    }
    assert!(h.log().segment_count() > 3, "segments rolled");
    let before = h.model.records().count();
    h.compact_all();
    let after = h.model.records().count();
    assert!(
        h.records_removed > 0 && after < before / 4,
        "{before} -> {after} records"
    );
    // At most the five keys once each, plus the filler.
    assert!(after <= 6, "{after} records left");
    let h_leo = h.model.leo;
    h.run(&Op::ReopenAfterCrash(Some(11)));
    assert_eq!(h.log().log_end_offset(), h_leo);
}

/// A crash at any point of a cleaner pass loses nothing: with everything flushed, the power cut
/// after a crash after every possible number of storage operations inside `clean()` leaves the
/// log end where it was, only records the pass may remove gone, and every key's newest record
/// there; the log then cleans and works on.
#[test]
fn a_crash_at_any_point_of_a_clean_loses_nothing() {
    let setup = || {
        let mut h = Harness::new();
        for round in 0..24u8 {
            let records: Vec<(Option<Bytes>, Option<usize>)> = (0..5u8)
                .map(|i| {
                    let key = Some(Bytes::from(format!("k{}", (round * 3 + i) % 7)));
                    let value = if (round + i) % 6 == 0 { None } else { Some(60) };
                    (key, value)
                })
                .collect();
            h.append(round, &records);
        }
        // One pass first, so tombstones carry a horizon the crashed pass may act on.
        h.clean();
        h.clock.advance(DELETE_RETENTION_MS + 1);
        h.log().flush_until(i64::MAX).expect("flush");
        h
    };
    let mut points = 0;
    for after in 0..=u8::MAX {
        let cut = (after % 2 == 1).then_some(u64::from(after));
        eprintln!("crash after {after} storage operations inside clean(), cut {cut:?}");
        let mut h = setup();
        let before = h.model.clone();
        h.budget.store(i64::from(after), Ordering::SeqCst);
        let result = h.log().clean();
        h.budget.store(NO_CRASH, Ordering::SeqCst);
        if result.is_ok() {
            break;
        }
        points += 1;
        let mode = cut.map_or(PowerLoss::DropUnsynced, |seed| PowerLoss::TornPrefix {
            seed,
        });
        h.storage.power_loss(mode);
        drop(h.log.take());
        h.log = Some(open(&h.storage, &h.budget, &h.clock));
        assert_eq!(
            h.log().log_end_offset(),
            before.leo,
            "the log end after the cut"
        );
        // What is left is what a (partial) pass may leave: the checks of a pass, from `before`.
        h.model = before;
        h.after_crash = true;
        h.clean();
        h.compact_all();
    }
    assert!(points > 5, "only {points} crash points inside clean()");
}
