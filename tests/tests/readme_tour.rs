//! The README's five-minute tour, run exactly as written: the block between
//! `<!-- tour:begin -->` and `<!-- tour:end -->` is executed by bash against `fastdata dev` on
//! its default addresses (Kafka 127.0.0.1:9092, admin 127.0.0.1:9644, and CQL 127.0.0.1:9042
//! once the tour has a CQL part), with the binary under test first on the PATH the block sets
//! and the test virtualenv's cqlsh on the PATH after it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fastdata_tests::{fastdata_bin, DataDir, Process};

/// Waits until `process` has printed each of `lines` (in any order).
fn wait_for_lines(process: &Process, lines: &[&str]) {
    let mut missing: Vec<&str> = lines.to_vec();
    while !missing.is_empty() {
        let line = process
            .wait_for_line(START_TIMEOUT, |l| missing.contains(&l))
            .unwrap();
        missing.retain(|m| *m != line);
    }
}

/// The directory of the test virtualenv's cqlsh (`FASTDATA_CQLSH`, as `scripts/test.sh`
/// exports it, else the default virtualenv).
fn cqlsh_dir() -> PathBuf {
    let cqlsh = std::env::var_os("FASTDATA_CQLSH")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                .join(".cache/fastdata-venv/bin/cqlsh")
        });
    cqlsh.parent().expect("a directory").to_path_buf()
}

const START_TIMEOUT: Duration = Duration::from_secs(60);
const TOUR_TIMEOUT: Duration = Duration::from_secs(180);

/// The tour's shell block from README.md.
fn tour_block() -> String {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let text = std::fs::read_to_string(&readme).expect("README.md");
    let start = text
        .find("<!-- tour:begin -->")
        .expect("a tour:begin marker");
    let end = text.find("<!-- tour:end -->").expect("a tour:end marker");
    text[start..end]
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_readme_tour_works_as_written() {
    let block = tour_block();
    assert!(block.contains("fastdata consume"), "{block}");
    let dir = DataDir::new("readme-tour").unwrap();
    let mut dev = Process::builder(fastdata_bin())
        .arg("dev")
        .current_dir(dir.path())
        .name("dev")
        .spawn(&dir)
        .unwrap();
    let cql_tour = block.contains("fastdata cql") || block.contains("cqlsh");
    let mut listening = vec![
        "kafka listening on 127.0.0.1:9092",
        "admin listening on 127.0.0.1:9644",
    ];
    if cql_tour {
        listening.push("cql listening on 127.0.0.1:9042");
    }
    wait_for_lines(&dev, &listening);

    // `export PATH=${CARGO_TARGET_DIR:-...}/debug:$PATH` must find the binary under test.
    let bin = fastdata_bin();
    let target: PathBuf = bin
        .parent()
        .and_then(Path::parent)
        .expect("<target>/debug/fastdata")
        .to_path_buf();
    let script = dir.join("tour.sh");
    std::fs::write(&script, format!("set -euo pipefail\n{block}\n")).unwrap();
    let path = format!(
        "{}:{}",
        std::env::var("PATH").unwrap_or_default(),
        cqlsh_dir().display()
    );
    let mut tour = Process::builder("bash")
        .arg(&script)
        .env("CARGO_TARGET_DIR", &target)
        .env("PATH", path)
        .env_remove("TZ")
        .current_dir(dir.path())
        .name("tour")
        .spawn(&dir)
        .unwrap();
    let lines = tour.read_to_end(TOUR_TIMEOUT).unwrap();
    let status = tour.wait_with_timeout(TOUR_TIMEOUT).unwrap();
    let out = lines.join("\n");
    assert!(
        status.success(),
        "the tour failed ({status:?}):\n{out}\n{}",
        tour.stderr_log().unwrap_or_default()
    );

    assert!(out.contains("Created topic demo."), "{out}");
    let position = |needle: &str| {
        lines
            .iter()
            .position(|l| l.trim() == needle)
            .unwrap_or_else(|| panic!("no line {needle:?} in:\n{out}"))
    };
    // The group's first read: the three values, in some partition order.
    for value in ["hello", "world", "again"] {
        position(value);
    }
    assert!(out.contains("CURRENT-OFFSET"), "group describe: {out}");
    assert!(out.contains("broker 0 at 127.0.0.1:9092"), "kcat -L: {out}");
    assert!(
        lines.iter().any(|l| l.ends_with(" k4 from-kcat")),
        "kcat read its own record back: {out}"
    );
    // The resumed group prints kcat's record, and only that, after kcat's listing.
    let kcat_listing = lines
        .iter()
        .position(|l| l.ends_with(" k4 from-kcat"))
        .unwrap_or_default();
    assert_eq!(
        lines[kcat_listing + 1..]
            .iter()
            .filter(|l| l.trim() == "from-kcat")
            .count(),
        1,
        "{out}"
    );
    assert!(out.contains("200000 records acknowledged"), "{out}");
    assert!(
        out.contains("fastdata_kafka_requests_total{api=\"Produce\"}"),
        "{out}"
    );

    if cql_tour {
        // Each CQL part's SELECT prints its rows as cqlsh does, and nothing failed.
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with('(') && l.ends_with(" rows)")),
            "no CQL result in the tour's output: {out}"
        );
        assert!(!out.contains("Error from server"), "{out}");
        assert!(dir.join("data/node").exists());
    }

    let status = dev.terminate(START_TIMEOUT).unwrap();
    assert!(status.success(), "{status:?}");
    assert!(dir.join("data/broker/demo-0").exists());
}
