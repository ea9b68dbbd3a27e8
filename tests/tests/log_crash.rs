//! Process-crash durability of the log engine, with real processes (issue 11).
//!
//! The child is `log_writer` (`tests/src/bin/log_writer.rs`): it appends to a partition log on the
//! real filesystem with `flush.messages=1` and prints `acked <first> <last>` after each append
//! returns. These tests SIGKILL it at random points and reopen the log to check that every
//! acknowledged batch survived, byte for byte; and they corrupt one byte in the middle of the
//! active segment of a crashed log to check that recovery cuts the log at the last valid batch
//! and says so in its log.
//!
//! A SIGKILL leaves the page cache intact, so this is weaker than the simulated power loss of the
//! `log` crate's tests; what it adds is real files, real fdatasync, real mmapped indexes and a
//! real process death at an arbitrary instruction.
//!
//! Randomness comes from `LOG_CRASH_SEED` when set, else from the clock; the seed is printed so a
//! failure can be replayed.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use fastdata_log::batch::split_batches;
use fastdata_log::storage::RealStorage;
use fastdata_log::{LogConfig, PartitionLog, SystemClock};
use fastdata_tests::log_workload::{seeded_rng, value_for, MAX_BATCH_RECORDS};
use fastdata_tests::{DataDir, Process};
use rand::Rng;

/// The variable that fixes the tests' random choices (kill timings, the corrupted byte).
const SEED_ENV: &str = "LOG_CRASH_SEED";

/// The child program, built by Cargo with this test.
const LOG_WRITER: &str = env!("CARGO_BIN_EXE_log_writer");

/// Generous bound for the child to start, open the log and print a line.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Value size the child is run with (`--value-bytes`).
const VALUE_BYTES: usize = 100;

/// The configuration `log_writer` opens the log with, for `segment_bytes`.
fn config(segment_bytes: u64) -> LogConfig {
    LogConfig {
        flush_messages: 1,
        segment_bytes,
        segment_index_bytes: 64 * 1024,
        ..LogConfig::default()
    }
}

fn open_log(dir: &Path, segment_bytes: u64) -> PartitionLog {
    PartitionLog::open(
        dir,
        config(segment_bytes),
        Arc::new(RealStorage),
        Arc::new(SystemClock),
    )
    .unwrap_or_else(|e| panic!("opening {}: {e}", dir.display()))
}

/// Reads the whole log from its start and checks that offsets are contiguous from 0 and that
/// every record has the key and value `log_writer` writes at its offset. Returns the number of
/// records read (the log end offset).
fn check_every_record(log: &PartitionLog) -> i64 {
    let end = log.log_end_offset();
    assert_eq!(
        log.log_start_offset(),
        0,
        "nothing should have been deleted"
    );
    let mut next = 0i64;
    while next < end {
        let read = log
            .read(next, 1 << 20, None, true)
            .unwrap_or_else(|e| panic!("reading at {next}: {e}"));
        assert!(
            !read.records.is_empty(),
            "empty read at {next} below the log end {end}"
        );
        for batch in split_batches(&read.records) {
            let batch = batch.unwrap_or_else(|e| panic!("invalid batch read at {next}: {e}"));
            let header = *batch.header();
            assert_eq!(header.base_offset, next, "offset gap or overlap");
            let records = batch.records(1 << 20).expect("records of a batch");
            assert_eq!(records.len() as i64, header.next_offset() - next);
            for record in records {
                let offset = record.offset(header.base_offset);
                assert_eq!(offset, next, "record offsets must be contiguous");
                assert_eq!(
                    record.key.as_deref(),
                    Some(format!("key-{offset}").as_bytes()),
                    "key at {offset}"
                );
                let value = record.value.as_deref().unwrap_or_default();
                assert!(
                    value == value_for(offset, VALUE_BYTES).as_slice(),
                    "value at offset {offset} is {:?}",
                    String::from_utf8_lossy(value)
                );
                next += 1;
            }
        }
    }
    assert_eq!(next, end, "records read past the log end");
    end
}

/// Parses `<word> <log end offset> clean=<bool> ...` (the child's `opened` and `recovered` lines).
fn parse_open_line(line: &str, word: &str) -> (i64, bool) {
    let mut parts = line.split_whitespace();
    assert_eq!(parts.next(), Some(word), "unexpected line {line:?}");
    let end = parts.next().and_then(|s| s.parse().ok());
    let clean = parts.next().and_then(|s| s.strip_prefix("clean="));
    match (end, clean) {
        (Some(end), Some(clean)) => (end, clean == "true"),
        _ => panic!("unexpected line {line:?}"),
    }
}

/// Parses the `acked <first> <last>` lines among `lines`, ignoring others (`done`).
fn acked_ranges(lines: &[String]) -> Vec<(i64, i64)> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("acked "))
        .map(|rest| {
            let (first, last) = rest.split_once(' ').expect("acked <first> <last>");
            (first.parse().unwrap(), last.parse().unwrap())
        })
        .collect()
}

fn spawn_writer(dir: &DataDir, args: &[String]) -> Process {
    Process::builder(LOG_WRITER)
        .args(args)
        .name("log_writer")
        .spawn(dir)
        .expect("spawning log_writer")
}

/// Kills `log_writer` at random points in several rounds on the same log: each restart must
/// reopen exactly where the log ended, every batch it acknowledged must be there with the records
/// it wrote, and nothing past the one batch that may have been written but not yet acknowledged.
#[test]
fn acknowledged_appends_survive_sigkill() {
    const ROUNDS: u64 = 6;
    const SEGMENT_BYTES: u64 = 64 * 1024;
    let mut rng = seeded_rng(SEED_ENV, "acknowledged_appends_survive_sigkill");
    let dir = DataDir::new("log-crash-sigkill").unwrap();
    let log_dir = dir.join("partition-0");
    let mut expected_end = 0i64;
    let mut total_acked = 0usize;
    for round in 0..ROUNDS {
        let mut child = spawn_writer(
            &dir,
            &[
                "append".into(),
                log_dir.display().to_string(),
                "--seed".into(),
                rng.gen::<u64>().to_string(),
                "--epoch".into(),
                round.to_string(),
                "--value-bytes".into(),
                VALUE_BYTES.to_string(),
                "--segment-bytes".into(),
                SEGMENT_BYTES.to_string(),
            ],
        );
        let opened = child.read_line(TIMEOUT).unwrap().expect("opened line");
        let (opened_end, clean) = parse_open_line(&opened, "opened");
        assert_eq!(
            opened_end, expected_end,
            "round {round}: reopened at the wrong offset"
        );
        assert!(
            !clean,
            "round {round}: a killed writer cannot have closed cleanly"
        );

        // At least one acknowledgement per round, then a kill at a random moment.
        let mut lines = vec![child
            .wait_for_line(TIMEOUT, |l| l.starts_with("acked "))
            .unwrap()];
        thread::sleep(Duration::from_millis(rng.gen_range(50..500)));
        child.kill().unwrap();
        lines.extend(child.read_to_end(TIMEOUT).unwrap());
        let acked = acked_ranges(&lines);
        assert!(!acked.is_empty());

        // The acknowledgements are contiguous and start where the log was reopened.
        let mut next = expected_end;
        for &(first, last) in &acked {
            assert_eq!(
                first, next,
                "round {round}: acknowledged ranges must be contiguous"
            );
            assert!(last >= first && last - first < MAX_BATCH_RECORDS as i64);
            next = last + 1;
        }
        let acked_end = next;
        total_acked += acked.len();

        let log = open_log(&log_dir, SEGMENT_BYTES);
        assert!(!log.recovery_report().clean);
        let end = check_every_record(&log);
        assert!(
            end >= acked_end,
            "round {round}: acknowledged records lost: log ends at {end}, acked up to {}",
            acked_end - 1
        );
        // At most the one batch that was being appended when the kill landed, or whose
        // acknowledgement had not been printed yet.
        assert!(
            end <= acked_end + MAX_BATCH_RECORDS as i64,
            "round {round}: log ends at {end}, past anything written after offset {}",
            acked_end - 1
        );
        eprintln!(
            "round {round}: {} batches acked up to offset {}, log end {end}, {} segments, {:?}",
            acked.len(),
            acked_end - 1,
            log.segment_count(),
            log.recovery_report()
        );
        // Dropped without closing: the next writer opens an unclean log again.
        drop(log);
        expected_end = end;
    }
    assert!(total_acked >= ROUNDS as usize);
}

/// The batches of a segment file: `(position, size, base offset)` of each, from the headers.
fn batches_in(file: &[u8]) -> Vec<(usize, usize, i64)> {
    let mut batches = Vec::new();
    let mut position = 0;
    while position + 12 <= file.len() {
        let base = i64::from_be_bytes(file[position..position + 8].try_into().unwrap());
        let length = i32::from_be_bytes(file[position + 8..position + 12].try_into().unwrap());
        let size = 12 + usize::try_from(length).expect("negative batch length");
        assert!(position + size <= file.len(), "torn batch at {position}");
        batches.push((position, size, base));
        position += size;
    }
    assert_eq!(position, file.len(), "trailing bytes in the segment");
    batches
}

/// The `.log` file with the highest base offset in `dir`: the active segment.
fn active_segment(dir: &Path) -> PathBuf {
    let mut logs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().expect("no segment")
}

/// Corrupts one byte in a batch in the middle of the active segment of a crashed log: recovery
/// (in a `log_writer recover` child) must cut the log exactly at that batch, keep every batch
/// before it intact, and log a warning naming the file and the position; appends then continue
/// from the cut.
#[test]
fn corrupt_byte_in_active_segment_truncates_at_last_valid_batch() {
    const BATCHES: u64 = 200;
    const SEGMENT_BYTES: u64 = 96 * 1024;
    let mut rng = seeded_rng(
        SEED_ENV,
        "corrupt_byte_in_active_segment_truncates_at_last_valid_batch",
    );
    let dir = DataDir::new("log-crash-corrupt").unwrap();
    let log_dir = dir.join("partition-0");
    let log_dir_arg = log_dir.display().to_string();
    let segment_arg = SEGMENT_BYTES.to_string();

    // Write the batches, then kill the writer: an unclean shutdown, so the next open scans the
    // active segment instead of trusting it.
    let mut child = spawn_writer(
        &dir,
        &[
            "append",
            &log_dir_arg,
            "--seed",
            "42",
            "--batches",
            &BATCHES.to_string(),
            "--segment-bytes",
            &segment_arg,
        ]
        .map(String::from),
    );
    let done = child
        .wait_for_line(TIMEOUT, |l| l.starts_with("done "))
        .unwrap();
    let written_end: i64 = done["done ".len()..].parse().unwrap();
    child.kill().unwrap();

    // Flip one byte inside a batch in the middle of the active segment. Positions from the magic
    // byte on: the base offset, the length and the leader epoch sit outside the CRC (in Kafka's
    // format too), so a flip there is not always detectable.
    let segment = active_segment(&log_dir);
    let mut bytes = fs::read(&segment).unwrap();
    let batches = batches_in(&bytes);
    assert!(
        batches.len() >= 5,
        "the active segment {} has only {} batches; adjust BATCHES or SEGMENT_BYTES",
        segment.display(),
        batches.len()
    );
    let victim = rng.gen_range(batches.len() / 4..batches.len() * 3 / 4);
    let (batch_position, batch_size, batch_base) = batches[victim];
    let corrupt_at = batch_position + rng.gen_range(16..batch_size);
    bytes[corrupt_at] ^= 1 << rng.gen_range(0..8);
    fs::write(&segment, &bytes).unwrap();
    eprintln!(
        "corrupted byte {corrupt_at} of {} (batch {victim} of {}, at {batch_position}, base \
         offset {batch_base}); the log ended at {written_end}",
        segment.display(),
        batches.len()
    );

    // Recovery in a child, so its tracing output lands in a log file we can read.
    let mut recover = spawn_writer(
        &dir,
        &["recover", &log_dir_arg, "--segment-bytes", &segment_arg].map(String::from),
    );
    let line = recover.read_line(TIMEOUT).unwrap().expect("recovered line");
    let status = recover.wait_with_timeout(TIMEOUT).unwrap();
    assert!(status.success(), "log_writer recover failed: {status}");
    let (recovered_end, clean) = parse_open_line(&line, "recovered");
    assert!(!clean);
    assert_eq!(
        recovered_end, batch_base,
        "the log must end at the base offset of the corrupted batch"
    );
    let truncated = (bytes.len() - batch_position).to_string();
    assert!(
        line.contains(&format!("truncated={truncated}")),
        "expected {truncated} bytes truncated: {line}"
    );
    let stderr = recover.stderr_log().unwrap();
    let warning = stderr
        .lines()
        .find(|l| l.contains("invalid batch in the log"))
        .unwrap_or_else(|| panic!("no recovery warning in the log:\n{stderr}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains(&format!("file={}", segment.display())),
        "the warning must name the file: {warning}"
    );
    assert!(
        warning.contains(&format!("position={batch_position} ")),
        "the warning must name the position: {warning}"
    );
    assert!(warning.contains("truncating the segment at the last valid batch"));
    assert_eq!(
        fs::metadata(&segment).unwrap().len(),
        batch_position as u64,
        "the segment file must be cut at the corrupted batch"
    );

    // Every batch before the corrupted one is intact, and a second open finds nothing to cut.
    {
        let log = open_log(&log_dir, SEGMENT_BYTES);
        assert_eq!(log.recovery_report().bytes_truncated, 0);
        assert_eq!(check_every_record(&log), batch_base);
    }

    // Appends continue at the cut.
    let started = Instant::now();
    let mut child = spawn_writer(
        &dir,
        &[
            "append",
            &log_dir_arg,
            "--seed",
            "7",
            "--batches",
            "5",
            "--segment-bytes",
            &segment_arg,
        ]
        .map(String::from),
    );
    let (opened_end, _) = parse_open_line(&child.read_line(TIMEOUT).unwrap().unwrap(), "opened");
    assert_eq!(opened_end, batch_base);
    let first = child
        .wait_for_line(TIMEOUT, |l| l.starts_with("acked "))
        .unwrap();
    assert_eq!(acked_ranges(&[first])[0].0, batch_base);
    let done = child
        .wait_for_line(TIMEOUT, |l| l.starts_with("done "))
        .unwrap();
    child.kill().unwrap();
    let end: i64 = done["done ".len()..].parse().unwrap();
    let log = open_log(&log_dir, SEGMENT_BYTES);
    assert_eq!(check_every_record(&log), end);
    eprintln!("appended after the cut in {:?}", started.elapsed());
}
