//! End-to-end tests of the `fastdata` binary itself (the one `fastdata_bin()` finds).

use std::time::Duration;

use fastdata_tests::{fastdata_bin, DataDir, Process};

const TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn dev_says_there_is_nothing_to_serve_yet() {
    let dir = DataDir::new("cli-dev").unwrap();
    let mut child = Process::builder(fastdata_bin())
        .arg("dev")
        .current_dir(dir.path())
        .spawn(&dir)
        .unwrap();
    let status = child.wait_with_timeout(TIMEOUT).unwrap();
    assert_eq!(
        status.code(),
        Some(2),
        "fastdata dev must fail until the broker lands"
    );
    let stderr = child.stderr_log().unwrap();
    assert!(stderr.contains("nothing to serve yet"), "{stderr}");
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
