//! The partition log's behaviour as a user of the engine sees it: offsets, reads, rolls, clean
//! reopen, truncation, retention, reads by time, idempotence, leader epochs, group commit,
//! compaction, and refusing bad input.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use fastdata_log::batch::{split_batches, BatchBuilder, Compression};
use fastdata_log::storage::{CrashingStorage, PowerLoss, RealStorage, SimStorage, Storage};
use fastdata_log::{CleanupPolicy, Error, LogConfig, ManualClock, PartitionLog};

const T0: i64 = 1_700_000_000_000;

fn batch(first: u32, count: u32, ts: i64) -> Bytes {
    let mut b = BatchBuilder::new(Compression::None);
    for i in first..first + count {
        let key = format!("k{}", i % 7);
        let value = format!("value-{i}");
        b.append(ts, Some(key.as_bytes()), Some(value.as_bytes()), &[]);
    }
    b.build().expect("batch")
}

fn keyed(ts: i64, records: &[(&str, Option<&str>)]) -> Bytes {
    let mut b = BatchBuilder::new(Compression::None);
    for (k, v) in records {
        b.append(ts, Some(k.as_bytes()), v.map(str::as_bytes), &[]);
    }
    b.build().expect("batch")
}

fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        segment_index_bytes: 4096,
        index_interval_bytes: 256,
        ..LogConfig::default()
    }
}

fn open_sim(storage: &SimStorage, config: LogConfig, clock: &Arc<ManualClock>) -> PartitionLog {
    PartitionLog::open(
        "/data/t-0",
        config,
        Arc::new(storage.clone()),
        clock.clone(),
    )
    .expect("open")
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(T0))
}

/// A new log on a new simulated disk, with its storage (for power cuts and reopens) and clock.
fn fresh(config: LogConfig) -> (SimStorage, Arc<ManualClock>, PartitionLog) {
    let storage = SimStorage::new();
    let clock = clock();
    let log = open_sim(&storage, config, &clock);
    (storage, clock, log)
}

/// Every (offset, key, value) readable from `from` to the log end, following segments.
fn read_all(log: &PartitionLog, from: i64) -> Vec<(i64, Option<Bytes>, Option<Bytes>)> {
    let mut out = Vec::new();
    let mut next = from;
    while next < log.log_end_offset() {
        let result = log.read(next, 1 << 20, None, true).expect("read");
        if result.records.is_empty() {
            break;
        }
        for batch in split_batches(&result.records) {
            let batch = batch.expect("valid batch");
            let base = batch.header().base_offset;
            for r in batch.records(1 << 20).expect("records") {
                let offset = r.offset(base);
                if offset >= next {
                    out.push((offset, r.key.clone(), r.value.clone()));
                }
            }
            next = batch.header().next_offset();
        }
    }
    out
}

fn value_at(log: &PartitionLog, offset: i64) -> Option<Bytes> {
    read_all(log, log.log_start_offset())
        .into_iter()
        .find(|(o, _, _)| *o == offset)
        .and_then(|(_, _, v)| v)
}

#[test]
fn appends_get_dense_offsets_and_read_back_unchanged() {
    let (_, _, log) = fresh(LogConfig::default());
    let a = log.append(batch(0, 3, T0), 0).expect("append");
    let b = log.append(batch(3, 2, T0), 0).expect("append");
    assert_eq!((a.first_offset, a.last_offset), (0, 2));
    assert_eq!((b.first_offset, b.last_offset), (3, 4));
    assert_eq!(log.log_end_offset(), 5);
    let records = read_all(&log, 0);
    let offsets: Vec<i64> = records.iter().map(|r| r.0).collect();
    assert_eq!(offsets, vec![0, 1, 2, 3, 4]);
    assert_eq!(records[4].2.as_deref(), Some(&b"value-4"[..]));
    // The stored batch is the producer's bytes with only base offset and epoch stamped.
    let stored = log.read(3, 1 << 20, None, true).expect("read").records;
    let sent = batch(3, 2, T0);
    assert_eq!(&stored[17..], &sent[17..]);
    assert_eq!(&stored[0..8], &3i64.to_be_bytes());
}

#[test]
fn reads_honour_max_bytes_high_watermark_and_kip74() {
    let (_, _, log) = fresh(LogConfig::default());
    let sizes: Vec<usize> = (0..4)
        .map(|i| {
            let b = batch(i * 5, 5, T0);
            log.append(b.clone(), 0).expect("append");
            b.len()
        })
        .collect();
    // Two whole batches fit; a partial third is not returned.
    let r = log
        .read(0, sizes[0] + sizes[1] + 10, None, false)
        .expect("read");
    assert_eq!(r.records.len(), sizes[0] + sizes[1]);
    // A read from inside a batch starts at that batch.
    let r = log.read(7, 1 << 20, None, false).expect("read");
    assert_eq!(
        split_batches(&r.records)
            .next()
            .expect("one")
            .expect("ok")
            .header()
            .base_offset,
        5
    );
    // Too small for one batch: nothing, unless min_one_batch (KIP-74).
    assert!(log
        .read(0, 10, None, false)
        .expect("read")
        .records
        .is_empty());
    assert_eq!(
        log.read(0, 10, None, true).expect("read").records.len(),
        sizes[0]
    );
    // Never past the high watermark.
    let r = log.read(0, 1 << 20, Some(10), false).expect("read");
    assert_eq!(r.records.len(), sizes[0] + sizes[1]);
    assert!(log
        .read(10, 1 << 20, Some(10), false)
        .expect("read")
        .records
        .is_empty());
    // At the log end: empty; past it or below the start: out of range.
    assert!(log
        .read(20, 1 << 20, None, true)
        .expect("read")
        .records
        .is_empty());
    assert!(matches!(
        log.read(21, 100, None, true),
        Err(Error::OffsetOutOfRange {
            offset: 21,
            log_end_offset: 20,
            ..
        })
    ));
    assert!(matches!(
        log.read(-1, 100, None, true),
        Err(Error::OffsetOutOfRange { .. })
    ));
}

#[test]
fn segments_roll_by_size_and_a_clean_reopen_skips_recovery() {
    let (storage, clock, log) = fresh(small_config());
    for i in 0..60 {
        log.append(batch(i * 4, 4, T0 + i64::from(i)), 0)
            .expect("append");
    }
    assert!(log.segment_count() > 5, "segments: {}", log.segment_count());
    let before = read_all(&log, 0);
    assert_eq!(before.len(), 240);
    log.close().expect("close");
    let log = open_sim(&storage, small_config(), &clock);
    let report = log.recovery_report().clone();
    assert!(report.clean);
    assert_eq!(report.segments_scanned, 0);
    assert_eq!(log.log_end_offset(), 240);
    assert_eq!(read_all(&log, 0), before);
    assert_eq!(
        log.append(batch(0, 1, T0), 0).expect("append").first_offset,
        240
    );
}

#[test]
fn segments_roll_by_age() {
    let config = LogConfig {
        segment_ms: 1000,
        ..LogConfig::default()
    };
    let (_, clock, log) = fresh(config);
    log.append(batch(0, 1, T0), 0).expect("append");
    log.append(batch(1, 1, T0), 0).expect("append");
    assert_eq!(log.segment_count(), 1);
    clock.advance(1000);
    log.append(batch(2, 1, T0), 0).expect("append");
    assert_eq!(log.segment_count(), 2);
}

#[test]
fn truncation_removes_the_tail_durably_and_appends_continue() {
    let (storage, clock, log) = fresh(small_config());
    for i in 0..40 {
        log.append(batch(i * 3, 3, T0), 0).expect("append");
    }
    let segments = log.segment_count();
    // 50 is inside the batch 48..=50: the whole batch goes.
    assert_eq!(log.truncate_to(50).expect("truncate"), 48);
    assert_eq!(log.log_end_offset(), 48);
    assert!(log.segment_count() < segments);
    assert_eq!(log.flushed_offset(), 48);
    assert_eq!(
        log.append(batch(1000, 2, T0), 0)
            .expect("append")
            .first_offset,
        48
    );
    assert_eq!(value_at(&log, 48).as_deref(), Some(&b"value-1000"[..]));
    // The truncation was durable: a power cut does not bring back the old tail.
    log.flush_until(50).expect("flush");
    drop(log);
    storage.power_loss(PowerLoss::DropUnsynced);
    let log = open_sim(&storage, small_config(), &clock);
    assert_eq!(log.log_end_offset(), 50);
    assert_eq!(value_at(&log, 49).as_deref(), Some(&b"value-1001"[..]));
    // Truncating below the first segment empties the log and restarts it there.
    assert_eq!(log.truncate_to(0).expect("truncate"), 0);
    assert_eq!(log.log_end_offset(), 0);
    assert!(read_all(&log, 0).is_empty());
}

#[test]
fn retention_deletes_whole_closed_segments_by_size_and_by_age() {
    let config = LogConfig {
        retention_bytes: 4096,
        retention_ms: 60_000,
        ..small_config()
    };
    let (storage, clock, log) = fresh(config);
    for i in 0..60 {
        log.append(batch(i * 4, 4, T0), 0).expect("append");
    }
    let size_before = log.size_bytes();
    let deleted = log.delete_old_segments().expect("retention");
    assert!(deleted > 0);
    assert!(log.size_bytes() >= 4096 - 1024 && log.size_bytes() < size_before);
    let start = log.log_start_offset();
    assert!(start > 0);
    assert!(matches!(
        log.read(0, 100, None, true),
        Err(Error::OffsetOutOfRange { .. })
    ));
    assert_eq!(read_all(&log, start).first().map(|r| r.0), Some(start));
    // By age: everything closed is older than retention.ms; the active segment stays.
    clock.advance(120_000);
    log.delete_old_segments().expect("retention");
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.log_end_offset(), 240);
    // The log start survives a reopen.
    let start = log.log_start_offset();
    log.close().expect("close");
    let log = open_sim(&storage, small_config(), &clock);
    assert_eq!(log.log_start_offset(), start);
}

#[test]
fn offsets_are_found_by_timestamp() {
    let (_, _, log) = fresh(small_config());
    for i in 0..50i64 {
        let mut b = BatchBuilder::new(Compression::Lz4);
        b.append(T0 + i * 10, Some(b"k"), Some(b"a"), &[]);
        b.append(T0 + i * 10 + 5, Some(b"k"), Some(b"b"), &[]);
        log.append(b.build().expect("batch"), 0).expect("append");
    }
    assert_eq!(log.offset_for_timestamp(T0).expect("lookup"), Some((0, T0)));
    assert_eq!(
        log.offset_for_timestamp(T0 + 203).expect("lookup"),
        Some((41, T0 + 205))
    );
    assert_eq!(
        log.offset_for_timestamp(T0 + 210).expect("lookup"),
        Some((42, T0 + 210))
    );
    assert_eq!(log.offset_for_timestamp(T0 + 10_000).expect("lookup"), None);
}

#[test]
fn idempotent_producer_duplicates_gaps_and_fencing_survive_reopen() {
    let storage = SimStorage::new();
    let clock = clock();
    let producer = |epoch: i16, seq: i32, n: u32| {
        let mut b = BatchBuilder::new(Compression::None).producer(42, epoch, seq);
        for i in 0..n {
            b.append(T0, Some(b"k"), Some(format!("v{seq}-{i}").as_bytes()), &[]);
        }
        b.build().expect("batch")
    };
    let log = open_sim(&storage, LogConfig::default(), &clock);
    let first = log.append(producer(0, 0, 3), 0).expect("append");
    log.append(producer(0, 3, 2), 0).expect("append");
    let dup = log.append(producer(0, 0, 3), 0).expect("duplicate");
    assert!(dup.duplicate);
    assert_eq!(
        (dup.first_offset, dup.last_offset),
        (first.first_offset, first.last_offset)
    );
    assert_eq!(log.log_end_offset(), 5, "a duplicate is not stored twice");
    log.close().expect("close");

    let log = open_sim(&storage, LogConfig::default(), &clock);
    assert!(
        log.append(producer(0, 3, 2), 0)
            .expect("duplicate after reopen")
            .duplicate
    );
    assert!(matches!(
        log.append(producer(0, 9, 1), 0),
        Err(Error::OutOfOrderSequence {
            expected_sequence: 5,
            received_sequence: 9,
            ..
        })
    ));
    log.append(producer(1, 0, 1), 0)
        .expect("new epoch from zero");
    assert!(matches!(
        log.append(producer(0, 5, 1), 0),
        Err(Error::ProducerFenced { .. })
    ));
    // Also after an unclean stop: state is rebuilt from the log.
    log.flush_until(i64::MAX).expect("flush");
    drop(log);
    storage.power_loss(PowerLoss::DropUnsynced);
    let log = open_sim(&storage, LogConfig::default(), &clock);
    assert!(!log.recovery_report().clean);
    assert!(log.append(producer(1, 0, 1), 0).expect("dup").duplicate);
    assert!(matches!(
        log.append(producer(0, 5, 1), 0),
        Err(Error::ProducerFenced { .. })
    ));
    assert_eq!(log.log_end_offset(), 6);
}

#[test]
fn leader_epochs_are_stamped_cached_and_persisted() {
    let (storage, clock, log) = fresh(LogConfig::default());
    log.append(batch(0, 3, T0), 1).expect("append");
    log.append(batch(3, 3, T0), 3).expect("append");
    log.append(batch(6, 3, T0), 3).expect("append");
    assert!(matches!(
        log.append(batch(9, 1, T0), 2),
        Err(Error::StaleLeaderEpoch {
            epoch: 2,
            latest_epoch: 3
        })
    ));
    let stored = log.read(3, 1 << 20, None, true).expect("read").records;
    assert_eq!(&stored[12..16], &3i32.to_be_bytes());
    assert_eq!(log.end_offset_for_epoch(1), (1, 3));
    assert_eq!(log.end_offset_for_epoch(3), (3, 9));
    log.close().expect("close");
    let log = open_sim(&storage, LogConfig::default(), &clock);
    assert_eq!(log.end_offset_for_epoch(1), (1, 3));
    assert_eq!(log.latest_epoch(), Some(3));
    log.truncate_to(3).expect("truncate");
    assert_eq!(log.latest_epoch(), Some(1));
}

#[test]
fn concurrent_appenders_share_fsyncs_and_each_is_durable_when_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = CrashingStorage::new(RealStorage);
    let log = Arc::new(
        PartitionLog::open(
            dir.path(),
            LogConfig::default(),
            Arc::new(storage.clone()),
            Arc::new(ManualClock::new(T0)),
        )
        .expect("open"),
    );
    let before = storage.syncs();
    let threads = 8;
    let per_thread = 40;
    std::thread::scope(|s| {
        for t in 0..threads {
            let log = log.clone();
            s.spawn(move || {
                for i in 0..per_thread {
                    let info = log.append(batch(t * 1000 + i, 2, T0), 0).expect("append");
                    let flushed = log.flush_until(info.last_offset + 1).expect("flush");
                    assert!(flushed > info.last_offset, "acknowledged before durable");
                }
            });
        }
    });
    let used = (storage.syncs() - before) as usize;
    let appends = (threads * per_thread) as usize;
    assert_eq!(log.log_end_offset(), appends as i64 * 2);
    assert!(
        used < appends,
        "{used} fdatasyncs for {appends} appends: no group commit"
    );
}

#[test]
fn flush_messages_policy_makes_each_append_durable_before_it_returns() {
    let config = LogConfig {
        flush_messages: 1,
        ..LogConfig::default()
    };
    let (storage, clock, log) = fresh(config.clone());
    for i in 0..10 {
        log.append(batch(i, 1, T0), 0).expect("append");
        assert_eq!(log.flushed_offset(), i64::from(i) + 1);
    }
    drop(log);
    storage.power_loss(PowerLoss::DropUnsynced);
    assert_eq!(open_sim(&storage, config, &clock).log_end_offset(), 10);
}

#[test]
fn flush_ms_policy_flushes_once_due() {
    let config = LogConfig {
        flush_ms: 1000,
        ..LogConfig::default()
    };
    let (_, clock, log) = fresh(config);
    log.append(batch(0, 1, T0), 0).expect("append");
    log.flush_if_due().expect("not due");
    assert_eq!(log.flushed_offset(), 0);
    clock.advance(1000);
    log.flush_if_due().expect("due");
    assert_eq!(log.flushed_offset(), 1);
}

#[test]
fn an_fsync_error_takes_the_log_offline() {
    let (storage, _, log) = fresh(LogConfig::default());
    log.append(batch(0, 1, T0), 0).expect("append");
    storage
        .inject_sync_error(Path::new("/data/t-0/00000000000000000000.log"))
        .expect("inject");
    assert!(matches!(log.flush_until(1), Err(Error::Io { .. })));
    assert!(matches!(
        log.append(batch(1, 1, T0), 0),
        Err(Error::LogOffline { .. })
    ));
    assert!(matches!(log.flush_until(1), Err(Error::LogOffline { .. })));
}

#[test]
fn bad_input_gets_a_typed_error_and_appends_nothing() {
    let config = LogConfig {
        max_message_bytes: 1000,
        ..LogConfig::default()
    };
    let (_, _, log) = fresh(config);
    let good = batch(0, 1, T0);
    let mut corrupt = good.to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    assert!(matches!(
        log.append(Bytes::from(corrupt), 0),
        Err(Error::InvalidBatch(_))
    ));
    assert!(matches!(
        log.append(good.slice(..good.len() - 3), 0),
        Err(Error::InvalidBatch(_))
    ));
    assert!(matches!(
        log.append(Bytes::from_static(b"garbage"), 0),
        Err(Error::InvalidBatch(_))
    ));
    assert!(matches!(
        log.append(Bytes::new(), 0),
        Err(Error::InvalidBatch(_))
    ));
    let big = {
        let mut b = BatchBuilder::new(Compression::None);
        b.append(T0, None, Some(&[7u8; 2000]), &[]);
        b.build().expect("batch")
    };
    assert!(matches!(
        log.append(big, 0),
        Err(Error::BatchTooLarge { max: 1000, .. })
    ));
    assert_eq!(log.log_end_offset(), 0);
    log.append(good, 0).expect("a valid batch still goes in");
}

#[test]
fn compaction_keeps_the_newest_value_per_key_and_expires_tombstones() {
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        delete_retention_ms: 10_000,
        segment_ms: 1000,
        ..small_config()
    };
    let (storage, clock, log) = fresh(config.clone());
    let mut newest = std::collections::BTreeMap::new();
    for round in 0..30 {
        let key = format!("key{}", round % 5);
        let value = format!("v{round}");
        let info = log
            .append(keyed(T0, &[(&key, Some(&value))]), 0)
            .expect("append");
        newest.insert(key, (info.first_offset, Some(value)));
    }
    let deleted = log
        .append(keyed(T0, &[("key3", None)]), 0)
        .expect("tombstone");
    newest.insert("key3".into(), (deleted.first_offset, None));
    for i in 0..10 {
        log.append(keyed(T0, &[("filler", Some(&format!("f{i}")))]), 0)
            .expect("append");
        newest.insert(
            "filler".into(),
            (log.log_end_offset() - 1, Some(format!("f{i}"))),
        );
    }
    // Let the active segment age out, so the next append rolls and leaves everything before it
    // in closed segments.
    clock.advance(1000);
    log.append(keyed(T0, &[("last", Some("l"))]), 0)
        .expect("append");
    newest.insert("last".into(), (log.log_end_offset() - 1, Some("l".into())));
    let stats = log.clean().expect("clean");
    assert!(stats.records_removed > 0);
    assert!(stats.bytes_after < stats.bytes_before);
    // Nothing new was closed: the next pass skips the segments it just cleaned.
    assert_eq!(log.clean().expect("clean again").segments_cleaned, 0);
    let active_start = log.log_end_offset() - 1;
    let records = read_all(&log, 0);
    let offsets: Vec<i64> = records.iter().map(|r| r.0).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "offset order kept");
    for (offset, key, value) in &records {
        let key = String::from_utf8(key.clone().expect("key").to_vec()).expect("utf8");
        let (newest_offset, newest_value) = &newest[&key];
        if *offset < active_start {
            assert_eq!(offset, newest_offset, "{key} at {offset} was superseded");
        }
        if offset == newest_offset {
            assert_eq!(value.as_deref(), newest_value.as_deref().map(str::as_bytes));
        }
    }
    // The tombstone is still there (within delete.retention.ms) ...
    assert!(records
        .iter()
        .any(|r| r.0 == deleted.first_offset && r.2.is_none()));
    // ... and survives a reopen, then goes once the horizon passes.
    log.close().expect("close");
    let log = open_sim(&storage, config, &clock);
    clock.advance(10_001);
    log.clean().expect("clean");
    let records = read_all(&log, 0);
    assert!(
        !records.iter().any(|r| r.1.as_deref() == Some(&b"key3"[..])),
        "expired tombstone and its key are gone"
    );
    for key in ["key0", "key1", "key2", "key4"] {
        let (offset, value) = &newest[key];
        assert!(records
            .iter()
            .any(|r| r.0 == *offset && r.2.as_deref() == value.as_deref().map(str::as_bytes)));
    }
}

#[test]
fn a_damaged_index_is_rebuilt_from_the_log_after_an_unclean_stop() {
    let (storage, clock, log) = fresh(small_config());
    for i in 0..60 {
        log.append(batch(i * 4, 4, T0 + i64::from(i)), 0)
            .expect("append");
    }
    log.flush_until(i64::MAX).expect("flush");
    let expected = read_all(&log, 0);
    drop(log); // no clean close
               // Point the first segment's first index entry at the wrong place.
    let index = Path::new("/data/t-0/00000000000000000000.index");
    for i in 4..8 {
        storage.corrupt(index, i, 0x11).expect("corrupt");
    }
    let log = open_sim(&storage, small_config(), &clock);
    let report = log.recovery_report().clone();
    assert!(!report.clean);
    assert!(report.indexes_rebuilt >= 1, "{report:?}");
    assert_eq!(report.bytes_truncated, 0);
    assert_eq!(read_all(&log, 0), expected);
    for offset in [0, 37, 101, 239] {
        let first = log
            .read(offset, 1 << 20, None, false)
            .expect("read")
            .records;
        let header = split_batches(&first)
            .next()
            .expect("a batch")
            .expect("valid");
        assert!(header.header().base_offset <= offset && offset <= header.header().last_offset());
    }
}

#[test]
fn a_segment_that_outlived_the_lost_tail_before_it_is_dropped_on_recovery() {
    let (storage, clock, log) = fresh(small_config());
    log.append(batch(0, 4, T0), 0).expect("append");
    let flushed = log.flush_until(i64::MAX).expect("flush");
    while log.segment_count() == 1 {
        log.append(batch(0, 4, T0), 0).expect("append");
    }
    let rolled_at = log.log_end_offset();
    // A new leader epoch is persisted at once (a directory fsync), which makes the new segment's
    // file durable while the tail of the segment before it is still only in the page cache.
    log.append(batch(0, 4, T0), 1).expect("append");
    drop(log);
    storage.power_loss(PowerLoss::DropUnsynced);
    let log = open_sim(&storage, small_config(), &clock);
    assert_eq!(
        log.log_end_offset(),
        flushed,
        "no hole between {flushed} and {rolled_at}"
    );
    assert_eq!(read_all(&log, 0).len() as i64, flushed);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(
        log.append(batch(0, 1, T0), 1).expect("append").first_offset,
        flushed
    );
}

#[test]
fn producer_snapshots_stay_bounded_across_rolls_and_restarts() {
    let storage = SimStorage::new();
    let clock = clock();
    let snapshots = || {
        storage
            .list_dir(Path::new("/data/t-0"))
            .expect("list")
            .into_iter()
            .filter(|n| n.ends_with(".snapshot"))
            .count()
    };
    for round in 0..20 {
        let log = open_sim(&storage, small_config(), &clock);
        for i in 0..5 {
            log.append(batch(round * 100 + i, 4, T0), 0)
                .expect("append");
        }
        log.flush_until(i64::MAX).expect("flush");
        log.close().expect("close");
        assert!(snapshots() <= 3, "round {round}: {} snapshots", snapshots());
    }
}

#[test]
fn compressed_batches_meet_the_producer_header_rules_and_compacted_topics_decode_them() {
    use fastdata_log::batch::{compute_crc, CRC_OFFSET};
    let gzip = |n: u32| {
        let mut b = BatchBuilder::new(Compression::Gzip);
        for i in 0..n {
            b.append(T0, Some(format!("k{i}").as_bytes()), Some(b"v"), &[]);
        }
        b.build().expect("batch").to_vec()
    };
    let recrc = |mut bytes: Vec<u8>| {
        let crc = compute_crc(&bytes);
        bytes[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        Bytes::from(bytes)
    };
    let (_, _, log) = fresh(LogConfig::default());
    // lastOffsetDelta 999999 for one record: a valid CRC does not make it a valid producer batch.
    let mut inflated = gzip(1);
    inflated[23..27].copy_from_slice(&999_999i32.to_be_bytes());
    assert!(matches!(
        log.append(recrc(inflated), 0),
        Err(Error::InvalidBatch(_))
    ));
    assert_eq!(log.log_end_offset(), 0);
    // Garbage in place of the gzip stream: stored on a delete topic (its records are not read),
    // refused on a compacted one (the cleaner would have to read it).
    let mut garbled = gzip(3);
    let end = garbled.len();
    for byte in &mut garbled[70..end - 4] {
        *byte = 0x5a;
    }
    let garbled = recrc(garbled);
    log.append(garbled.clone(), 0)
        .expect("a delete topic stores compressed batches as they are");
    let (_, _, compacted) = fresh(LogConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        ..LogConfig::default()
    });
    assert!(matches!(
        compacted.append(garbled, 0),
        Err(Error::InvalidBatch(_))
    ));
    compacted
        .append(Bytes::from(gzip(3)), 0)
        .expect("a sound gzip batch");
}

#[test]
fn a_corrupt_producer_snapshot_is_rebuilt_from_the_log() {
    let (storage, clock, log) = fresh(LogConfig::default());
    let mut b = BatchBuilder::new(Compression::None).producer(7, 0, 0);
    b.append(T0, Some(b"k"), Some(b"v"), &[]);
    let sent = b.build().expect("batch");
    log.append(sent.clone(), 0).expect("append");
    log.close().expect("close");
    let snapshot = Path::new("/data/t-0/00000000000000000001.snapshot");
    storage.corrupt(snapshot, 10, 0xee).expect("corrupt");
    let log = open_sim(&storage, LogConfig::default(), &clock);
    assert!(!storage.exists(snapshot), "the unreadable snapshot is gone");
    assert!(
        log.append(sent, 0).expect("retry").duplicate,
        "state rebuilt from the log"
    );
}

#[test]
fn append_deferred_leaves_the_policys_fsync_to_the_caller_and_a_duplicate_asks_again() {
    let config = LogConfig {
        flush_messages: 1,
        ..small_config()
    };
    let (_storage, _clock, log) = fresh(config);
    let mut b = BatchBuilder::new(Compression::None).producer(7, 0, 0);
    b.append(T0, Some(b"k"), Some(b"v"), &[]);
    let records = b.build().expect("batch");
    let appended = log.append_deferred(records.clone(), 0).expect("append");
    assert_eq!(appended.flush_until, Some(1));
    assert_eq!(
        log.flushed_offset(),
        0,
        "nothing fsynced before the caller asks"
    );
    // The retry of a batch whose fsync has not happened yet must wait for it too.
    let again = log.append_deferred(records.clone(), 0).expect("duplicate");
    assert!(again.info.duplicate);
    assert_eq!((again.info.first_offset, again.flush_until), (0, Some(1)));
    assert_eq!(log.flush_until(1).expect("flush"), 1);
    let after = log.append_deferred(records, 0).expect("duplicate");
    assert_eq!(after.flush_until, None, "already durable");
    // Without a flush policy nothing is asked.
    let (_s, _c, plain) = fresh(small_config());
    assert_eq!(
        plain
            .append_deferred(batch(0, 1, T0), 0)
            .expect("append")
            .flush_until,
        None
    );
}

#[test]
fn set_config_applies_to_the_next_appends() {
    let (_storage, _clock, log) = fresh(small_config());
    log.append(batch(0, 1, T0), 0).expect("append");
    let tight = LogConfig {
        max_message_bytes: 100,
        ..small_config()
    };
    log.set_config(tight.clone()).expect("set");
    assert_eq!(log.config(), tight);
    assert!(matches!(
        log.append(batch(0, 10, T0), 0),
        Err(Error::BatchTooLarge { max: 100, .. })
    ));
    let invalid = LogConfig {
        flush_messages: 0,
        ..small_config()
    };
    assert!(matches!(log.set_config(invalid), Err(Error::Config { .. })));
    assert_eq!(log.config(), tight, "a refused config changes nothing");
}

#[test]
fn max_timestamp_finds_the_first_record_with_the_largest_timestamp() {
    let (_storage, _clock, log) = fresh(small_config());
    assert_eq!(log.max_timestamp().expect("empty"), None);
    log.append(batch(0, 3, T0), 0).expect("append");
    let mut b = BatchBuilder::new(Compression::None);
    b.append(T0 + 50, None, Some(b"late"), &[]);
    b.append(T0 + 10, None, Some(b"early"), &[]);
    log.append(b.build().expect("batch"), 0).expect("append");
    log.append(batch(10, 2, T0 + 20), 0).expect("append");
    assert_eq!(log.max_timestamp().expect("found"), Some((3, T0 + 50)));
}

#[test]
fn a_closed_log_refuses_appends() {
    let (_storage, _clock, log) = fresh(small_config());
    log.append(batch(0, 1, T0), 0).expect("append");
    log.close().expect("close");
    assert!(matches!(
        log.append(batch(1, 1, T0), 0),
        Err(Error::LogOffline { .. })
    ));
}
