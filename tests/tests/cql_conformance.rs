//! The CQL conformance suite (`tests/cql/`, see its README): every `NAME.cql` is run through
//! `fastdata cql -f NAME.cql` against one `fastdata node`, and its output (stderr merged in
//! order) must equal the hand-written `NAME.expected`. A `-- @sleep S` line splits a script:
//! the part before it runs, the runner sleeps, the rest runs in the script's keyspace
//! `conf_NAME`. An expected line `~TEXT` matches any line starting with TEXT.
//!
//! Every script runs, and the test fails at the end listing each script whose output differs,
//! with the first differing line and both outputs in full. The suite runs twice, on a node each:
//! as written (QUERY), and with `fastdata cql --prepared` (every statement but USE and
//! DESCRIBE PREPAREd, then EXECUTEd), which must print the same.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fastdata_tests::cql_clients::{CqlClients, CqlTool};
use fastdata_tests::{loopback_host, DataDir, Node};

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cql")
}

/// The suite's scripts, sorted by name.
fn scripts() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(suite_dir())
        .expect("tests/cql")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".cql").map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

/// A script's parts between `-- @sleep S` lines: (seconds to sleep before it, the whole script
/// with every line outside the part blanked, so line numbers stay the script's own).
fn parts(text: &str) -> Vec<(f64, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut cuts = vec![(0.0, 0)];
    for (i, line) in lines.iter().enumerate() {
        if let Some(secs) = line.trim().strip_prefix("-- @sleep ") {
            let secs: f64 = secs
                .trim()
                .parse()
                .expect("a number of seconds after @sleep");
            cuts.push((secs, i + 1));
        }
    }
    let mut out = Vec::new();
    for (n, &(sleep, from)) in cuts.iter().enumerate() {
        let to = cuts.get(n + 1).map_or(lines.len(), |&(_, next)| next - 1);
        let text: Vec<&str> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| if i >= from && i < to { *l } else { "" })
            .collect();
        out.push((sleep, text.join("\n") + "\n"));
    }
    out
}

/// Whether `actual` matches the expected lines (`~TEXT` lines match by prefix); else the first
/// differing line number (1-based) and what was expected there.
fn compare(expected: &str, actual: &str) -> Result<(), (usize, String, String)> {
    let want: Vec<&str> = expected.lines().collect();
    let got: Vec<&str> = actual.lines().collect();
    for i in 0..want.len().max(got.len()) {
        let w = want.get(i).copied();
        let g = got.get(i).copied();
        let ok = match (w, g) {
            (Some(w), Some(g)) => match w.strip_prefix('~') {
                Some(prefix) => g.starts_with(prefix),
                None => w == g,
            },
            _ => false,
        };
        if !ok {
            return Err((
                i + 1,
                w.unwrap_or("(end of output)").to_owned(),
                g.unwrap_or("(end of output)").to_owned(),
            ));
        }
    }
    Ok(())
}

#[test]
fn every_script_has_an_expected_output_and_the_readme_states_the_rule() {
    let names = scripts();
    assert!(names.len() >= 10, "{names:?}");
    for name in &names {
        assert!(
            suite_dir().join(format!("{name}.expected")).exists(),
            "{name}.cql has no {name}.expected"
        );
        let text = fs::read_to_string(suite_dir().join(format!("{name}.cql"))).unwrap();
        assert!(
            text.contains(&format!("CREATE KEYSPACE conf_{name} ")),
            "{name}.cql must work in its own keyspace conf_{name}"
        );
    }
    let readme = fs::read_to_string(suite_dir().join("README.md")).unwrap();
    assert!(
        readme.contains("never regenerated from our node"),
        "{readme}"
    );
}

#[test]
fn the_runner_splits_at_sleeps_and_matches_prefixes() {
    let got = parts("a;\n-- @sleep 1.5\nb;\nc;\n");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], (0.0, "a;\n\n\n\n".to_owned()));
    assert_eq!(got[1], (1.5, "\n\nb;\nc;\n".to_owned()));
    assert!(compare("x\n~line 1:0 \n", "x\nline 1:0 no viable\n").is_ok());
    assert_eq!(
        compare("x\ny\n", "x\n"),
        Err((2, "y".to_owned(), "(end of output)".to_owned()))
    );
    assert!(compare("x\n", "x\nextra\n").is_err());
}

#[test]
fn conformance_scripts_match_their_expected_output() {
    run_suite("cql-conformance", &[]);
}

#[test]
fn conformance_scripts_match_their_expected_output_when_every_statement_is_prepared() {
    run_suite("cql-conformance-prepared", &["--prepared"]);
}

/// Runs every script with `fastdata cql` and `extra` arguments against a node of its own.
fn run_suite(name: &str, extra: &[&str]) {
    let dir = DataDir::new(name).unwrap();
    let node = Node::builder(&dir).host(loopback_host()).start().unwrap();
    let clients = CqlClients::new(node.cql_addr(), &dir);
    let mut failures = Vec::new();
    for name in scripts() {
        let text = fs::read_to_string(suite_dir().join(format!("{name}.cql"))).unwrap();
        let expected = fs::read_to_string(suite_dir().join(format!("{name}.expected"))).unwrap();
        let mut actual = String::new();
        for (i, (sleep, part)) in parts(&text).into_iter().enumerate() {
            std::thread::sleep(Duration::from_secs_f64(sleep));
            let part_dir = dir.join(format!("{name}-part{i}"));
            fs::create_dir_all(&part_dir).unwrap();
            let file = format!("{name}.cql");
            fs::write(part_dir.join(&file), part).unwrap();
            let keyspace = format!("conf_{name}");
            let mut args = extra.to_vec();
            args.extend(["-f", file.as_str()]);
            if i > 0 {
                args.extend(["-k", keyspace.as_str()]);
            }
            let out = clients
                .shell_merged(CqlTool::FastdataCql, &args, Some(&part_dir))
                .unwrap();
            actual.push_str(&out.stdout);
        }
        if let Err((line, want, got)) = compare(&expected, &actual) {
            failures.push(format!(
                "==== {name}.cql: output line {line} differs\n  expected: {want}\n  actual:   \
                 {got}\n---- expected ({name}.expected):\n{expected}---- actual:\n{actual}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scripts differ from their expected output (fastdata cql {extra:?}):\n{}",
        failures.len(),
        scripts().len(),
        failures.join("\n")
    );
}
