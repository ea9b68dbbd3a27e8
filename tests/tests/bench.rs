//! `fastdata bench`, the load generator, against real servers: what it reports is what
//! happened (the records it says it produced can be consumed, the rows it says it loaded are in
//! the table), an open loop keeps to its rate, and bad settings are refused with the flag named.

use std::path::Path;
use std::time::Duration;

use fastdata_tests::{fastdata_bin, loopback_host, Broker, DataDir, Node, Process};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `fastdata bench ARGS --json FILE`; returns the exit status's success, the report and
/// stderr.
fn bench(dir: &Path, name: &str, args: &[&str]) -> (bool, Value, String) {
    let json = dir.join(format!("{name}.json"));
    let mut child = Process::builder(fastdata_bin())
        .arg("bench")
        .args(args)
        .args(["--json", json.to_str().unwrap()])
        .spawn(dir.join(name))
        .unwrap();
    let ok = child.wait_with_timeout(TIMEOUT).unwrap().success();
    let stderr = child.stderr_log().unwrap();
    let report = std::fs::read_to_string(&json)
        .map(|text| serde_json::from_str(&text).unwrap())
        .unwrap_or(Value::Null);
    (ok, report, stderr)
}

fn latency_kinds(report: &Value) -> Vec<String> {
    report["latency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let (p50, p99, max) = (
                row["p50_us"].as_u64(),
                row["p99_us"].as_u64(),
                row["max_us"].as_u64(),
            );
            assert!(p50 <= p99 && p99 <= max && p50 > Some(0), "{row}");
            row["kind"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn log_produce_reports_records_that_consume_then_reads_back() {
    let dir = DataDir::new("bench-log").unwrap();
    let broker = Broker::builder(&dir).host(loopback_host()).start().unwrap();
    let bootstrap = broker.bootstrap();
    let (ok, produced, stderr) = bench(
        dir.path(),
        "produce",
        &[
            "log",
            "produce",
            "--bootstrap",
            &bootstrap,
            "--topic",
            "t",
            "--partitions",
            "3",
            "--record-size",
            "100",
            "--acks",
            "1",
            "--workers",
            "2",
            "--window",
            "64",
            "--warmup",
            "0",
            "--duration",
            "1",
            "--quiet",
        ],
    );
    assert!(ok, "{stderr}");
    let ops = produced["ops"].as_u64().unwrap();
    assert!(ops > 100, "{produced}");
    assert_eq!(produced["errors"], 0, "{produced}");
    assert_eq!(latency_kinds(&produced), ["produce"]);
    assert_eq!(produced["settings"]["acks"], "1");
    let bytes = produced["bytes_per_sec"].as_f64().unwrap() * produced["seconds"].as_f64().unwrap();
    assert!((bytes - ops as f64 * 100.0).abs() < 1.0, "{produced}");

    let (ok, consumed, stderr) = bench(
        dir.path(),
        "consume",
        &[
            "log",
            "consume",
            "--bootstrap",
            &bootstrap,
            "--topic",
            "t",
            "--max-seconds",
            "60",
        ],
    );
    assert!(ok, "{stderr}");
    // Every acknowledged record is read back (those of the drain after the counted second too).
    let read = consumed["ops"].as_u64().unwrap();
    assert!(read >= ops, "consumed {read} of at least {ops}: {consumed}");
    assert_eq!(consumed["settings"]["partitions"], "3");
}

#[test]
fn an_open_loop_keeps_to_its_rate() {
    let dir = DataDir::new("bench-rate").unwrap();
    let broker = Broker::builder(&dir).host(loopback_host()).start().unwrap();
    let (ok, report, stderr) = bench(
        dir.path(),
        "rate",
        &[
            "log",
            "produce",
            "--bootstrap",
            &broker.bootstrap(),
            "--topic",
            "r",
            "--record-size",
            "10",
            "--linger-ms",
            "0",
            "--rate",
            "200",
            "--warmup",
            "0.5",
            "--duration",
            "2",
            "--quiet",
        ],
    );
    assert!(ok, "{stderr}");
    let ops = report["ops"].as_u64().unwrap();
    // 200/s for 2 s is 400 due; a few may still be in flight when the interval ends.
    assert!((330..=401).contains(&ops), "{ops} operations: {report}");
    assert_eq!(report["settings"]["pace"], "open loop at 200 ops/s");
}

#[test]
fn store_load_inserts_every_record_and_workload_a_reads_and_updates() {
    let dir = DataDir::new("bench-store").unwrap();
    let node = Node::builder(&dir).host(loopback_host()).start().unwrap();
    let contact = node.contact_point();
    let common = [
        "--contact",
        contact.as_str(),
        "--records",
        "500",
        "--fields",
        "3",
        "--quiet",
    ];
    let (ok, loaded, stderr) = bench(
        dir.path(),
        "load",
        &[&["store", "--workload", "load"], &common[..]].concat(),
    );
    assert!(ok, "{stderr}");
    assert_eq!(loaded["ops"], 500, "{loaded}");
    assert_eq!(latency_kinds(&loaded), ["insert"]);
    assert_eq!(loaded["settings"]["consistency"], "ONE");

    let mut cql = Process::builder(fastdata_bin())
        .args([
            "cql",
            "--host",
            &contact,
            "-e",
            "SELECT count(*) FROM ycsb.usertable",
        ])
        .spawn(dir.path().join("count"))
        .unwrap();
    let out = cql.read_to_end(TIMEOUT).unwrap().join("\n");
    assert!(cql.wait_with_timeout(TIMEOUT).unwrap().success(), "{out}");
    assert!(out.lines().any(|l| l.trim() == "500"), "{out}");

    let (ok, ran, stderr) = bench(
        dir.path(),
        "a",
        &[
            &[
                "store",
                "--workload",
                "a",
                "--warmup",
                "0",
                "--duration",
                "1",
            ],
            &common[..],
        ]
        .concat(),
    );
    assert!(ok, "{stderr}");
    assert_eq!(latency_kinds(&ran), ["read", "update"]);
    assert_eq!(ran["settings"]["distribution"], "zipfian");
    // Every record exists, so every read returned one: reads move 3 fields of 100 bytes,
    // updates one field, and the reported bytes are at least the updates' share.
    let seconds = ran["seconds"].as_f64().unwrap();
    let bytes = ran["bytes_per_sec"].as_f64().unwrap() * seconds;
    assert!(bytes >= ran["ops"].as_f64().unwrap() * 100.0 - 1.0, "{ran}");
}

#[test]
fn bad_settings_are_refused_with_the_flag_named() {
    let dir = DataDir::new("bench-bad").unwrap();
    for (args, expected) in [
        (
            &["store", "--consistency", "MOST"][..],
            "--consistency \"MOST\"",
        ),
        (&["log", "produce", "--rate=-5"][..], "--rate -5"),
        (&["log", "produce", "--acks", "2"][..], "acks"),
    ] {
        let (ok, _, stderr) = bench(dir.path(), "bad", args);
        assert!(!ok, "{args:?} was accepted");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
