//! Durability of the partition log under simulated power loss (issue 11, "It must show").
//!
//! Random workloads run on [`SimStorage`] with tiny segments and indexes (so segments roll, and
//! indexes fill, every few batches): appends (plain and from idempotent producers, every codec),
//! `flush_until`, truncations, clean reopens, idempotent retries and reads. At random points the
//! power is cut (`DropUnsynced`, or `TornPrefix` keeping a random prefix of the unsynced writes)
//! and the log is reopened on what the simulated disk kept. After every cut:
//! - the log end offset is at least the highest offset a `flush_until` acknowledged, at most what
//!   was written, and on a batch boundary;
//! - the whole log reads back, batch for batch, exactly as the model says (every record written at
//!   that offset, unique values, so nothing truncated or torn can pass for it), and nothing past
//!   the log end is served;
//! - appends continue at the log end offset, and idempotent retries are classified by what
//!   survived (a surviving batch is a duplicate with its original offsets, a lost one is new).
//!
//! Cuts also fall *inside* operations: a storage wrapper ([`fastdata_log::storage::CrashingStorage`]) makes every
//! mutating storage call fail after a budget (the process is gone), then the power is cut. An
//! operation that failed acknowledged nothing, so the log after such a cut must be a prefix of
//! what was written (the failed append included or not) holding at least what was acknowledged
//! before.
//!
//! Controls show the simulation bites: without flushing, a cut loses the unsynced tail; with
//! `flush.messages = 1`, nothing an append acknowledged is lost.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use common::{build_batch, codec, open_sim, unique_value, Model, RecSpec};
use fastdata_log::batch::Compression;
use fastdata_log::storage::{CrashingStorage, PowerLoss, SimStorage, NO_CRASH};
use fastdata_log::{AppendInfo, Error, LogConfig, ManualClock, PartitionLog};
use proptest::prelude::*;

const T0: i64 = 1_700_000_000_000;

fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 4 * 1024,
        segment_index_bytes: 4 * 1024,
        index_interval_bytes: 256,
        ..LogConfig::default()
    }
}

#[derive(Clone, Debug)]
struct BatchSpec {
    codec: u8,
    /// Per record: key (from a small space, or none) and value length (or a null value).
    records: Vec<(Option<u8>, Option<u16>)>,
}

#[derive(Clone, Debug)]
enum Op {
    /// One append request holding one to three plain batches.
    Append(Vec<BatchSpec>),
    /// A new batch from idempotent producer `producer` (0..3).
    Produce { producer: u8, spec: BatchSpec },
    /// Resend one of the producer's recent batches (a duplicate if it is still in the log), or
    /// the first of its batches the log lost (new again).
    Retry { producer: u8, pick: u8 },
    /// `flush_until` the log end (or, for `Some`, a point inside the log given as a fraction).
    Flush(Option<u16>),
    /// `truncate_to` a point inside the log given as a fraction.
    Truncate(u16),
    /// Read from a point inside the log and check against the model.
    Read {
        at: u16,
        max_bytes: u16,
        high_watermark: Option<u16>,
        min_one_batch: bool,
    },
    /// Clean close and reopen.
    Reopen,
    /// Cut the power and reopen.
    PowerLoss(Option<u64>),
    /// Run `op` (an append, produce, flush, truncation or clean reopen) but crash the process
    /// after `after` mutating storage operations, then cut the power and reopen.
    CrashIn {
        op: Box<Op>,
        after: u8,
        cut: Option<u64>,
    },
}

fn batch_spec() -> impl Strategy<Value = BatchSpec> {
    (
        any::<u8>(),
        prop::collection::vec(
            (
                prop::option::weighted(0.8, 0u8..16),
                prop::option::weighted(0.9, 0u16..400),
            ),
            1..8,
        ),
    )
        .prop_map(|(codec, records)| BatchSpec { codec, records })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec(batch_spec(), 1..4).prop_map(Op::Append),
        5 => (0u8..3, batch_spec()).prop_map(|(producer, spec)| Op::Produce { producer, spec }),
        2 => (0u8..3, any::<u8>()).prop_map(|(producer, pick)| Op::Retry { producer, pick }),
        4 => prop::option::weighted(0.7, any::<u16>()).prop_map(Op::Flush),
        1 => any::<u16>().prop_map(Op::Truncate),
        2 => (any::<u16>(), any::<u16>(), prop::option::weighted(0.3, any::<u16>()), any::<bool>())
            .prop_map(|(at, max_bytes, high_watermark, min_one_batch)| Op::Read {
                at,
                max_bytes,
                high_watermark,
                min_one_batch,
            }),
        1 => Just(Op::Reopen),
        2 => prop::option::of(any::<u64>()).prop_map(Op::PowerLoss),
        2 => (crashable_op(), 0u8..24, prop::option::of(any::<u64>()))
            .prop_map(|(op, after, cut)| Op::CrashIn { op: Box::new(op), after, cut }),
    ]
}

fn crashable_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop::collection::vec(batch_spec(), 1..4).prop_map(Op::Append),
        2 => (0u8..3, batch_spec()).prop_map(|(producer, spec)| Op::Produce { producer, spec }),
        2 => prop::option::weighted(0.7, any::<u16>()).prop_map(Op::Flush),
        2 => any::<u16>().prop_map(Op::Truncate),
        2 => Just(Op::Reopen),
    ]
}

fn try_open(
    storage: &SimStorage,
    budget: &Arc<AtomicI64>,
    config: &LogConfig,
    clock: &Arc<ManualClock>,
) -> fastdata_log::Result<PartitionLog> {
    let storage = CrashingStorage::with_budget(storage.clone(), budget.clone());
    PartitionLog::open(
        common::DIR,
        config.clone(),
        Arc::new(storage),
        clock.clone(),
    )
}

fn fraction_of(leo: i64, f: u16) -> i64 {
    leo * i64::from(f) / i64::from(u16::MAX)
}

/// A batch an idempotent producer sent: its request bytes and, while it is in the log, where.
#[derive(Clone, Debug)]
struct Sent {
    bytes: Bytes,
    last_sequence: i32,
    offsets: (i64, i64),
}

#[derive(Clone, Debug, Default)]
struct Producer {
    /// Its batches in the log, oldest first.
    in_log: Vec<Sent>,
    /// Its batches the log lost (truncation, power loss), oldest first; they continue `in_log`'s
    /// sequence, so the first of them may be resent as new.
    lost: Vec<Sent>,
}

impl Producer {
    fn next_sequence(&self) -> i32 {
        self.in_log.last().map_or(0, |s| s.last_sequence + 1)
    }
}

const PRODUCER_IDS: [i64; 3] = [1000, 2000, 3000];

/// One run of a workload against the log, with the model and the acknowledged offset.
struct Harness {
    storage: SimStorage,
    clock: Arc<ManualClock>,
    config: LogConfig,
    log: Option<PartitionLog>,
    model: Model,
    /// Every offset below this was acknowledged durable (by `flush_until`, or by an append under
    /// `flush.messages = 1`).
    acked: i64,
    producers: HashMap<usize, Producer>,
    serial: u64,
    /// Whether `flush.messages = 1` makes every append's return an acknowledgement.
    append_acks: bool,
    power_losses: usize,
    /// Mutating storage operations left before the simulated crash.
    budget: Arc<AtomicI64>,
    crashes: usize,
}

impl Harness {
    fn new(config: LogConfig) -> Self {
        let storage = SimStorage::new();
        let clock = Arc::new(ManualClock::new(T0));
        let append_acks = config.flush_messages == 1;
        let budget = Arc::new(AtomicI64::new(NO_CRASH));
        let log = try_open(&storage, &budget, &config, &clock).expect("open");
        Harness {
            storage,
            clock,
            config,
            log: Some(log),
            model: Model::default(),
            acked: 0,
            producers: HashMap::new(),
            serial: 0,
            append_acks,
            power_losses: 0,
            budget,
            crashes: 0,
        }
    }

    fn open_log(&self) -> PartitionLog {
        try_open(&self.storage, &self.budget, &self.config, &self.clock).expect("open")
    }

    fn log(&self) -> &PartitionLog {
        self.log.as_ref().expect("log is open")
    }

    fn records(&mut self, spec: &BatchSpec) -> Vec<RecSpec> {
        spec.records
            .iter()
            .map(|(key, len)| {
                self.serial += 1;
                RecSpec {
                    key: key.map(|k| Bytes::from(format!("key-{k}"))),
                    value: len.map(|l| unique_value(self.serial, usize::from(l))),
                }
            })
            .collect()
    }

    fn after_append(&mut self) {
        if self.append_acks {
            self.acked = self.model.leo;
            assert_eq!(
                self.log().flushed_offset(),
                self.model.leo,
                "flush.messages = 1"
            );
        }
    }

    /// A producer request of plain batches (one per spec), a millisecond after the last.
    fn plain_request(&mut self, specs: &[BatchSpec]) -> Bytes {
        self.clock.advance(1);
        let mut request = Vec::new();
        for spec in specs {
            let recs = self.records(spec);
            request.extend_from_slice(&build_batch(
                codec(spec.codec),
                None,
                self.clock_ms(),
                &recs,
            ));
        }
        Bytes::from(request)
    }

    fn append_plain(&mut self, specs: &[BatchSpec]) {
        let request = self.plain_request(specs);
        let info = self.log().append(request.clone(), 0).expect("append");
        self.model.append(&request, &info);
        self.after_append();
    }

    fn clock_ms(&self) -> i64 {
        use fastdata_log::Clock;
        self.clock.now_ms()
    }

    /// The producer's next batch, a millisecond after the last. A new batch: the producer gives
    /// up on anything it lost.
    /// Also returns the batch's last sequence number.
    fn producer_request(&mut self, producer: usize, spec: &BatchSpec) -> (Bytes, i32) {
        self.clock.advance(1);
        let recs = self.records(spec);
        let p = self.producers.entry(producer).or_default();
        p.lost.clear();
        let seq = p.next_sequence();
        let bytes = build_batch(
            codec(spec.codec),
            Some((PRODUCER_IDS[producer], 0, seq)),
            self.clock_ms(),
            &recs,
        );
        (bytes, seq + recs.len() as i32 - 1)
    }

    fn produce(&mut self, producer: usize, spec: &BatchSpec) {
        let (bytes, last_sequence) = self.producer_request(producer, spec);
        let info = self
            .log()
            .append(bytes.clone(), 0)
            .expect("idempotent append");
        self.record_sent(producer, bytes, last_sequence, &info);
        self.after_append();
    }

    /// A producer batch the log took (or may have taken, in a crash): into the model, and into
    /// the producer's history for retries.
    fn record_sent(
        &mut self,
        producer: usize,
        bytes: Bytes,
        last_sequence: i32,
        info: &AppendInfo,
    ) {
        self.model.append(&bytes, info);
        self.producers
            .entry(producer)
            .or_default()
            .in_log
            .push(Sent {
                bytes,
                last_sequence,
                offsets: (info.first_offset, info.last_offset),
            });
    }

    fn retry(&mut self, producer: usize, pick: u8) {
        let p = self.producers.entry(producer).or_default().clone();
        let retained = p.in_log.len().min(5);
        if !p.lost.is_empty() && (pick % 2 == 0 || retained == 0) {
            // The first lost batch continues the sequence: it is new data again.
            let mut sent = p.lost[0].clone();
            let info = self
                .log()
                .append(sent.bytes.clone(), 0)
                .expect("resend lost batch");
            assert!(
                !info.duplicate,
                "a batch the log lost was answered as a duplicate: {info:?}, sent {sent:?}"
            );
            self.model.append(&sent.bytes, &info);
            sent.offsets = (info.first_offset, info.last_offset);
            let p = self.producers.get_mut(&producer).expect("producer");
            p.lost.remove(0);
            p.in_log.push(sent);
            self.after_append();
        } else if retained > 0 {
            let sent = &p.in_log[p.in_log.len() - 1 - usize::from(pick) % retained];
            let leo = self.model.leo;
            let info = self.log().append(sent.bytes.clone(), 0).expect("retry");
            assert!(
                info.duplicate,
                "retry of a batch in the log was not a duplicate: {info:?}"
            );
            assert_eq!(
                (info.first_offset, info.last_offset),
                sent.offsets,
                "duplicate's offsets"
            );
            assert_eq!(
                self.log().log_end_offset(),
                leo,
                "a duplicate must not be stored"
            );
        }
    }

    /// Producers' view after the log lost everything at and after `leo`.
    fn producers_cut_at(&mut self, leo: i64) {
        for p in self.producers.values_mut() {
            let keep = p.in_log.iter().take_while(|s| s.offsets.0 < leo).count();
            let mut lost = p.in_log.split_off(keep);
            lost.append(&mut p.lost);
            p.lost = lost;
        }
    }

    fn flush(&mut self, fraction: Option<u16>) {
        let leo = self.model.leo;
        let target = fraction.map_or(i64::MAX, |f| fraction_of(leo, f));
        let flushed = self.log().flush_until(target).expect("flush_until");
        assert!(
            flushed >= target.min(leo),
            "flush_until({target}) returned {flushed}"
        );
        assert!(
            flushed <= leo,
            "flush_until returned {flushed} past the log end {leo}"
        );
        self.acked = self.acked.max(flushed);
    }

    fn truncate(&mut self, fraction: u16) {
        let requested = fraction_of(self.model.leo, fraction);
        let new_leo = self.log().truncate_to(requested).expect("truncate_to");
        self.model.truncate(requested, new_leo);
        self.producers_cut_at(new_leo);
        self.acked = self.acked.min(new_leo);
        assert_eq!(self.log().log_end_offset(), new_leo);
    }

    fn read(&self, at: u16, max_bytes: u16, high_watermark: Option<u16>, min_one_batch: bool) {
        let offset = fraction_of(self.model.leo, at);
        let hw = high_watermark.map(|f| fraction_of(self.model.leo, f));
        let max_bytes = usize::from(max_bytes) % 6000;
        self.model
            .check_read(self.log(), offset, max_bytes, hw, min_one_batch);
    }

    fn reopen(&mut self) {
        self.log
            .take()
            .expect("log is open")
            .close()
            .expect("clean close");
        self.log = Some(self.open_log());
        assert!(
            self.log().recovery_report().clean,
            "clean close, clean open"
        );
        assert_eq!(
            self.log().log_end_offset(),
            self.model.leo,
            "log end after clean reopen"
        );
        self.acked = self.model.leo;
        self.model.check_full(self.log());
    }

    fn power_loss(&mut self, seed: Option<u64>) {
        self.power_loss_after(seed, false);
    }

    /// Cut the power and reopen; `may_be_clean` if the cut fell inside an open that followed a
    /// clean close (the clean-shutdown marker may still be there).
    fn power_loss_after(&mut self, seed: Option<u64>, may_be_clean: bool) {
        let mode = seed.map_or(PowerLoss::DropUnsynced, |seed| PowerLoss::TornPrefix {
            seed,
        });
        self.storage.power_loss(mode);
        // The process died with the power: its handles are dead; drop them without a close.
        drop(self.log.take());
        self.budget.store(NO_CRASH, Ordering::SeqCst);
        self.power_losses += 1;
        let log = self.open_log();
        let leo = log.log_end_offset();
        assert!(
            may_be_clean || !log.recovery_report().clean,
            "a power cut is not a clean shutdown"
        );
        assert!(
            leo >= self.acked,
            "{mode:?}: log end {leo} after the cut is below the acknowledged offset {} \
             (report {:?})",
            self.acked,
            log.recovery_report()
        );
        self.log = Some(log);
        // Nothing past what was written, and the cut on a batch boundary; then the whole log is
        // exactly what was written below it.
        self.model.cut_at(leo);
        self.producers_cut_at(leo);
        self.model.check_full(self.log());
        assert_eq!(
            self.log().flushed_offset(),
            leo,
            "recovered data is durable"
        );
        self.acked = leo;
    }

    /// Run `op` with the process crashing after `after` mutating storage operations; if it
    /// crashed, cut the power and reopen. An operation that failed acknowledged nothing: an
    /// append may or may not have reached the log (the model holds it until the cut says), a
    /// truncation may or may not have happened.
    fn crash_in(&mut self, op: &Op, after: u8, cut: Option<u64>) {
        self.budget.store(i64::from(after), Ordering::SeqCst);
        let mut may_be_clean = false;
        let crashed = match op {
            Op::Append(specs) => {
                let request = self.plain_request(specs);
                match self.log().append(request.clone(), 0) {
                    Ok(info) => {
                        self.model.append(&request, &info);
                        self.budget.store(NO_CRASH, Ordering::SeqCst);
                        self.after_append();
                        false
                    }
                    Err(_) => {
                        let info = self.in_flight(&request);
                        self.model.append(&request, &info);
                        true
                    }
                }
            }
            Op::Produce { producer, spec } => {
                let producer = usize::from(*producer);
                let (bytes, last_sequence) = self.producer_request(producer, spec);
                let result = self.log().append(bytes.clone(), 0);
                let crashed = result.is_err();
                let info = result.unwrap_or_else(|_| self.in_flight(&bytes));
                self.record_sent(producer, bytes, last_sequence, &info);
                if !crashed {
                    self.budget.store(NO_CRASH, Ordering::SeqCst);
                    self.after_append();
                }
                crashed
            }
            Op::Flush(fraction) => {
                let leo = self.model.leo;
                let target = fraction.map_or(i64::MAX, |f| fraction_of(leo, f));
                match self.log().flush_until(target) {
                    Ok(flushed) => {
                        self.acked = self.acked.max(flushed);
                        false
                    }
                    Err(_) => true,
                }
            }
            Op::Truncate(fraction) => {
                let requested = fraction_of(self.model.leo, *fraction);
                match self.log().truncate_to(requested) {
                    Ok(new_leo) => {
                        self.model.truncate(requested, new_leo);
                        self.producers_cut_at(new_leo);
                        self.acked = self.acked.min(new_leo);
                        false
                    }
                    Err(_) => {
                        // Asked for, so what it would remove need not survive.
                        let cut = self
                            .model
                            .first_batch_from(requested)
                            .map_or(self.model.leo, |(_, b)| b.base);
                        self.acked = self.acked.min(cut);
                        true
                    }
                }
            }
            Op::Reopen => match self.log.take().expect("open").close() {
                Err(_) => true,
                Ok(()) => {
                    may_be_clean = true;
                    match try_open(&self.storage, &self.budget, &self.config, &self.clock) {
                        Ok(log) => {
                            self.log = Some(log);
                            self.acked = self.model.leo;
                            false
                        }
                        Err(_) => true,
                    }
                }
            },
            other => unreachable!("not a crashable op: {other:?}"),
        };
        if crashed {
            self.crashes += 1;
            self.power_loss_after(cut, may_be_clean);
        } else {
            self.budget.store(NO_CRASH, Ordering::SeqCst);
        }
    }

    /// The offsets an append that failed would have had.
    fn in_flight(&self, request: &Bytes) -> AppendInfo {
        let records: i64 = common::decode(request)
            .iter()
            .map(|b| b.last - b.base + 1)
            .sum();
        AppendInfo {
            first_offset: self.model.leo,
            last_offset: self.model.leo + records - 1,
            max_timestamp: -1,
            duplicate: false,
            log_start_offset: 0,
        }
    }

    fn run(&mut self, op: &Op) {
        match op {
            Op::Append(specs) => self.append_plain(specs),
            Op::Produce { producer, spec } => self.produce(usize::from(*producer), spec),
            Op::Retry { producer, pick } => self.retry(usize::from(*producer), *pick),
            Op::Flush(f) => {
                if !self.append_acks {
                    self.flush(*f)
                }
            }
            Op::Truncate(f) => self.truncate(*f),
            Op::Read {
                at,
                max_bytes,
                high_watermark,
                min_one_batch,
            } => self.read(*at, *max_bytes, *high_watermark, *min_one_batch),
            Op::Reopen => self.reopen(),
            Op::PowerLoss(seed) => self.power_loss(*seed),
            Op::CrashIn { op, after, cut } => self.crash_in(op, *after, *cut),
        }
        assert_eq!(self.log().log_end_offset(), self.model.leo, "after {op:?}");
    }

    /// A final cut, then appends continue at the recovered log end offset.
    fn finish(&mut self, seed: Option<u64>) {
        self.power_loss(seed);
        let spec = BatchSpec {
            codec: 4,
            records: vec![(Some(1), Some(10)), (None, Some(20))],
        };
        self.append_plain(std::slice::from_ref(&spec));
        self.model.check_full(self.log());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Every offset a `flush_until` acknowledged survives each cut; the log reads back exactly
    /// as written up to its new end, and continues from there.
    #[test]
    fn acknowledged_data_survives_power_loss(
        ops in prop::collection::vec(op(), 1..120),
        last_cut in prop::option::of(any::<u64>()),
    ) {
        let mut h = Harness::new(small_config());
        for op in &ops {
            h.run(op);
        }
        h.finish(last_cut);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Control: with `flush.messages = 1` each append returns only once durable, so no cut loses
    /// anything an append acknowledged.
    #[test]
    fn flush_every_message_loses_nothing_acknowledged(
        ops in prop::collection::vec(op(), 1..50),
        last_cut in prop::option::of(any::<u64>()),
    ) {
        let config = LogConfig { flush_messages: 1, ..small_config() };
        let mut h = Harness::new(config);
        for op in &ops {
            h.run(op);
            prop_assert_eq!(h.acked, h.model.leo);
        }
        h.finish(last_cut);
        prop_assert!(h.power_losses >= 1);
    }
}

fn plain_batch(serial: u64, records: usize) -> Bytes {
    let recs: Vec<RecSpec> = (0..records)
        .map(|i| RecSpec {
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(unique_value(serial * 100 + i as u64, 100)),
        })
        .collect();
    build_batch(Compression::None, None, T0, &recs)
}

/// Control: with flushing off (Kafka's default policy) nothing is ever synced, and the same cut
/// does lose the unsynced tail — the assertion the property test makes would fail here. (Kept
/// within one segment: a roll syncs the sealed segment, so across a roll less would be lost.)
#[test]
fn control_without_flush_the_unsynced_tail_is_lost() {
    let mut torn_lost_some = false;
    for mode in [PowerLoss::DropUnsynced]
        .into_iter()
        .chain((0..8).map(|seed| PowerLoss::TornPrefix { seed }))
    {
        let storage = SimStorage::new();
        let clock = Arc::new(ManualClock::new(T0));
        let log = open_sim(&storage, small_config(), &clock);
        let mut model = Model::default();
        for serial in 0..6 {
            let batch = plain_batch(serial, 3);
            let info = log.append(batch.clone(), 0).unwrap();
            model.append(&batch, &info);
        }
        let written = log.log_end_offset();
        assert_eq!(written, 18);
        assert_eq!(log.segment_count(), 1, "no roll");
        assert!(
            storage.unsynced_bytes() > 0,
            "the appends are only in the page cache"
        );
        storage.power_loss(mode);
        drop(log);
        let log = open_sim(&storage, small_config(), &clock);
        let leo = log.log_end_offset();
        if mode == PowerLoss::DropUnsynced {
            assert_eq!(
                leo, 0,
                "the simulation does not bite: unsynced appends survived"
            );
        } else {
            torn_lost_some |= leo < written;
        }
        // What is left is a prefix of what was written, and appends continue after it.
        model.cut_at(leo);
        model.check_full(&log);
        let batch = plain_batch(99, 1);
        let info = log.append(batch.clone(), 0).unwrap();
        model.append(&batch, &info);
        model.check_full(&log);
    }
    assert!(torn_lost_some, "no torn cut lost anything");
}

/// Regression (found by the property test): a roll after the last flush, then a cut. Had the
/// sealed segment's unflushed tail been lost while the new segment's file survived, recovery
/// would find no invalid batch, keep the new segment and set the log end to its base offset: a
/// hole that no read serves. A roll therefore syncs the segment it seals.
#[test]
fn a_roll_after_the_last_flush_leaves_no_hole() {
    for mode in [PowerLoss::DropUnsynced, PowerLoss::TornPrefix { seed: 1 }] {
        let storage = SimStorage::new();
        let clock = Arc::new(ManualClock::new(T0));
        let log = open_sim(&storage, small_config(), &clock);
        let mut model = Model::default();
        let mut serial = 0;
        let mut append = |log: &PartitionLog, model: &mut Model| {
            serial += 1;
            let batch = plain_batch(serial, 3);
            let info = log.append(batch.clone(), 0).unwrap();
            model.append(&batch, &info);
        };
        append(&log, &mut model);
        let flushed = log.flush_until(i64::MAX).unwrap();
        // Fill the first segment until an append rolls.
        while log.segment_count() == 1 {
            append(&log, &mut model);
        }
        let rolled_at = model.batches.last().unwrap().base;
        storage.power_loss(mode);
        drop(log);
        let log = open_sim(&storage, small_config(), &clock);
        let leo = log.log_end_offset();
        assert!(leo >= flushed);
        let served = common::read_all(&log);
        let served_end = served.last().map_or(0, |b| b.last + 1);
        assert_eq!(
            served_end,
            leo,
            "{mode:?}: flushed {flushed}, rolled at {rolled_at}: the log end is {leo} but reads \
             serve only up to {served_end} (read({served_end}) returns {:?})",
            log.read(served_end, 1 << 20, None, true)
                .map(|r| r.records.len())
        );
        model.cut_at(leo);
        model.check_full(&log);
    }
}

fn spec(records: usize, value_len: u16) -> BatchSpec {
    BatchSpec {
        codec: 4,
        records: (0..records)
            .map(|i| (Some(i as u8), Some(value_len)))
            .collect(),
    }
}

/// A log of several segments, everything flushed, with producer batches among plain ones.
fn flushed_multi_segment_log() -> Harness {
    let mut h = Harness::new(small_config());
    for i in 0..24 {
        if i % 3 == 0 {
            h.produce(i % 2, &spec(2, 150));
        } else {
            h.append_plain(&[spec(3, 200)]);
        }
    }
    h.flush(None);
    assert!(h.log().segment_count() >= 4, "segments rolled");
    h
}

/// Crash the process after every possible number of mutating storage operations inside `op`
/// (run on a fresh `setup()` each time), under both cut modes, and check the log after each.
/// Returns how many crash points there were.
fn crash_everywhere_in(setup: impl Fn() -> Harness, op: &Op) -> u8 {
    for after in 0..=u8::MAX {
        let mut completed = false;
        for cut in [None, Some(u64::from(after) * 7919 + 1)] {
            eprintln!("crash after {after} storage operations inside {op:?}, cut {cut:?}");
            let mut h = setup();
            h.crash_in(op, after, cut);
            if h.crashes == 0 {
                completed = true;
                break;
            }
            // The log works on: appends continue at its end and read back.
            h.finish(cut);
        }
        if completed {
            return after;
        }
    }
    panic!("{op:?} never completed within 255 storage operations");
}

/// Regression (found by the property test): a crash at any point inside `truncate_to` leaves a
/// prefix of the old log. Had the kept segment's cut become durable before the removal of the
/// later segments, a crash in between would bring them back: a hole, and truncated data served
/// past it. `truncate_to` therefore makes the removals durable first.
#[test]
fn a_crash_inside_truncate_to_leaves_no_hole() {
    let points = crash_everywhere_in(flushed_multi_segment_log, &Op::Truncate(u16::MAX / 5));
    assert!(points > 3);
}

/// Crashes at every point inside an append that rolls a segment, a flush, a clean close and
/// reopen: what was acknowledged before survives, the rest is a prefix of what was written.
#[test]
fn crashes_inside_roll_flush_and_close_lose_nothing_acknowledged() {
    let rolling_append = || {
        let mut h = flushed_multi_segment_log();
        // Fill the active segment so that the next append rolls, then flush.
        let segments = h.log().segment_count();
        while h.log().size_bytes() % 4096 < 3000 && h.log().segment_count() == segments {
            h.append_plain(&[spec(1, 100)]);
        }
        h.flush(None);
        h
    };
    let mut total = 0;
    total += crash_everywhere_in(rolling_append, &Op::Append(vec![spec(7, 300), spec(2, 10)]));
    total += crash_everywhere_in(
        rolling_append,
        &Op::Produce {
            producer: 0,
            spec: spec(6, 250),
        },
    );
    let unflushed_tail = || {
        let mut h = flushed_multi_segment_log();
        h.append_plain(&[spec(3, 50), spec(2, 60)]);
        h
    };
    total += crash_everywhere_in(unflushed_tail, &Op::Flush(None));
    total += crash_everywhere_in(unflushed_tail, &Op::Reopen);
    assert!(total > 10, "only {total} crash points");
}

/// Control: what was flushed survives and only the tail appended after the flush is lost.
#[test]
fn control_the_tail_after_the_last_flush_is_lost() {
    let storage = SimStorage::new();
    let clock = Arc::new(ManualClock::new(T0));
    let log = open_sim(&storage, small_config(), &clock);
    let mut model = Model::default();
    for serial in 0..5 {
        let batch = plain_batch(serial, 3);
        let info = log.append(batch.clone(), 0).unwrap();
        model.append(&batch, &info);
    }
    let flushed = log.flush_until(i64::MAX).unwrap();
    assert_eq!(flushed, 15);
    // Stay inside the active segment: no roll after the flush.
    let segments = log.segment_count();
    let batch = plain_batch(50, 2);
    let info = log.append(batch.clone(), 0).unwrap();
    model.append(&batch, &info);
    assert_eq!(log.segment_count(), segments);
    storage.power_loss(PowerLoss::DropUnsynced);
    drop(log);
    let log = open_sim(&storage, small_config(), &clock);
    assert_eq!(
        log.log_end_offset(),
        flushed,
        "exactly the flushed prefix survives"
    );
    model.cut_at(flushed);
    model.check_full(&log);
}

fn producer_batch(id: i64, epoch: i16, seq: i32, n: usize, serial: u64) -> Bytes {
    let recs: Vec<RecSpec> = (0..n)
        .map(|i| RecSpec {
            key: None,
            value: Some(unique_value(serial * 100 + i as u64, 64)),
        })
        .collect();
    build_batch(Compression::Lz4, Some((id, epoch, seq)), T0, &recs)
}

/// Idempotence across a power cut: a flushed producer batch retried after the cut is a duplicate
/// answered with its original offsets and not stored twice; a batch the cut lost is new again;
/// gaps and stale epochs are still rejected — with producer state rebuilt from a snapshot (rolled
/// segments) and from the log alone.
#[test]
fn idempotent_retries_after_power_loss() {
    for (filler, reopen_first) in [(0, false), (60, false), (60, true)] {
        let storage = SimStorage::new();
        let clock = Arc::new(ManualClock::new(T0));
        let mut log = open_sim(&storage, small_config(), &clock);
        // Filler batches roll segments, so producer snapshots exist below the producer's batches.
        for serial in 0..filler {
            log.append(plain_batch(1000 + serial, 2), 0).unwrap();
        }
        if reopen_first {
            log.close().unwrap();
            log = open_sim(&storage, small_config(), &clock);
        }
        let pid = 77;
        let a = producer_batch(pid, 0, 0, 3, 1);
        let b = producer_batch(pid, 0, 3, 2, 2);
        let c = producer_batch(pid, 0, 5, 4, 3);
        let ia = log.append(a.clone(), 0).unwrap();
        let ib = log.append(b.clone(), 0).unwrap();
        log.flush_until(ib.last_offset + 1).unwrap();
        let ic = log.append(c.clone(), 0).unwrap();
        assert_eq!(ic.first_offset, ib.last_offset + 1);
        storage.power_loss(PowerLoss::DropUnsynced);
        drop(log);
        let log = open_sim(&storage, small_config(), &clock);
        assert_eq!(
            log.log_end_offset(),
            ib.last_offset + 1,
            "c was not flushed"
        );

        for (batch, info) in [(&a, ia), (&b, ib)] {
            let again = log.append(batch.clone(), 0).unwrap();
            assert!(
                again.duplicate,
                "filler {filler}: retry after the cut: {again:?}"
            );
            assert_eq!(
                (again.first_offset, again.last_offset),
                (info.first_offset, info.last_offset)
            );
            assert_eq!(log.log_end_offset(), ib.last_offset + 1, "not stored twice");
        }
        // A gap after b is out of order; c itself (lost) is new again, at the log end.
        let gap = producer_batch(pid, 0, 6, 1, 4);
        assert!(
            matches!(
                log.append(gap, 0),
                Err(Error::OutOfOrderSequence {
                    expected_sequence: 5,
                    ..
                })
            ),
            "gap after the cut"
        );
        let ic2 = log.append(c.clone(), 0).unwrap();
        assert!(!ic2.duplicate);
        assert_eq!(ic2.first_offset, ib.last_offset + 1);
        log.flush_until(i64::MAX).unwrap();
        // A new epoch fences the old one, across another cut.
        let d = producer_batch(pid, 1, 0, 1, 5);
        let id = log.append(d.clone(), 0).unwrap();
        log.flush_until(i64::MAX).unwrap();
        storage.power_loss(PowerLoss::TornPrefix { seed: 3 });
        drop(log);
        let log = open_sim(&storage, small_config(), &clock);
        assert_eq!(log.log_end_offset(), id.last_offset + 1);
        assert!(matches!(
            log.append(producer_batch(pid, 0, 9, 1, 6), 0),
            Err(Error::ProducerFenced {
                current_epoch: 1,
                ..
            })
        ));
        let again = log.append(d, 0).unwrap();
        assert!(again.duplicate);
        assert_eq!(again.first_offset, id.first_offset);
        let again = log.append(c, 0);
        assert!(
            matches!(again, Err(Error::ProducerFenced { .. })),
            "an old-epoch retry after a new epoch is fenced: {again:?}"
        );
    }
}
