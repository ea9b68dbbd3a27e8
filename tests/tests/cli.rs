//! End-to-end tests of the `fastdata` binary itself (the one `fastdata_bin()` finds).

use std::time::Duration;

use fastdata_tests::{fastdata_bin, DataDir, Process};

const TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn dev_serves_a_broker_and_a_node_under_data_and_stops_cleanly_on_sigterm() {
    let dir = DataDir::new("cli-dev").unwrap();
    let mut child = Process::builder(fastdata_bin())
        .args([
            "dev",
            "--listeners",
            "127.0.0.1:0",
            "--admin-listener",
            "127.0.0.1:0",
            "--native-transport-port",
            "0",
        ])
        .current_dir(dir.path())
        .spawn(&dir)
        .unwrap();
    // In the order dev prints them: the services' lines, the admin port's, the usage text.
    let kafka = child
        .wait_for_line(TIMEOUT, |l| l.starts_with("kafka listening on "))
        .unwrap();
    let cql = child
        .wait_for_line(TIMEOUT, |l| l.starts_with("cql listening on "))
        .unwrap();
    child
        .wait_for_line(TIMEOUT, |l| l.starts_with("admin listening on "))
        .unwrap();
    let kafka = kafka.trim_start_matches("kafka listening on ").to_string();
    let usage = child
        .wait_for_line(TIMEOUT, |l| l.contains("kcat -b"))
        .unwrap();
    assert!(usage.contains(&kafka), "{usage}");
    let cql = cql.trim_start_matches("cql listening on ").to_string();
    let usage = child
        .wait_for_line(TIMEOUT, |l| l.contains("fastdata cql --host"))
        .unwrap();
    assert!(usage.contains(&cql), "{usage}");
    assert!(dir.join("data/broker/meta.properties").exists());
    assert!(dir.join("data/node/rocksdb/CURRENT").exists());
    let status = child.terminate(TIMEOUT).unwrap();
    assert!(
        status.success(),
        "{status:?}: {}",
        child.stderr_log().unwrap()
    );
    let log = child.stderr_log().unwrap();
    assert!(log.contains("broker stopped"), "{log}");
    assert!(log.contains("node stopped"), "{log}");
}

#[test]
fn broker_print_config_shows_flags_over_the_environment_over_defaults() {
    let dir = DataDir::new("cli-print-config").unwrap();
    let mut child = Process::builder(fastdata_bin())
        .args(["broker", "--print-config", "--num-partitions", "6"])
        .env("FASTDATA_NUM_PARTITIONS", "5")
        .env("FASTDATA_LOG_RETENTION_MS", "1234")
        .spawn(&dir)
        .unwrap();
    let printed = child.read_to_end(TIMEOUT).unwrap().join("\n");
    assert!(child.wait_with_timeout(TIMEOUT).unwrap().success());
    assert!(printed.contains("\"num.partitions\" = 6"), "{printed}");
    assert!(printed.contains("\"log.retention.ms\" = 1234"), "{printed}");
    assert!(
        printed.contains("\"auto.create.topics.enable\" = true"),
        "{printed}"
    );

    let mut child = Process::builder(fastdata_bin())
        .args(["broker", "--num-partitions", "zero"])
        .spawn(&dir)
        .unwrap();
    let status = child.wait_with_timeout(TIMEOUT).unwrap();
    assert_eq!(status.code(), Some(1));
    let stderr = child.stderr_log().unwrap();
    assert!(
        stderr.contains("num.partitions") && stderr.contains("zero"),
        "{stderr}"
    );
}

#[test]
fn version_and_help() {
    let dir = DataDir::new("cli-version").unwrap();
    let mut child = Process::builder(fastdata_bin())
        .arg("--version")
        .spawn(&dir)
        .unwrap();
    let line = child.read_line(TIMEOUT).unwrap();
    assert_eq!(
        line.as_deref(),
        Some(concat!("fastdata ", env!("CARGO_PKG_VERSION")))
    );
    assert!(child.wait_with_timeout(TIMEOUT).unwrap().success());

    let mut child = Process::builder(fastdata_bin())
        .arg("--help")
        .spawn(&dir)
        .unwrap();
    let help = child.read_to_end(TIMEOUT).unwrap().join("\n");
    assert!(child.wait_with_timeout(TIMEOUT).unwrap().success());
    assert!(help.contains("dev"), "{help}");
}
