//! `vectors/cassandra_schema.cql`, a schema script in the exact form Cassandra 5.0's
//! DESCRIBE prints, loads unchanged through cqlsh (`cqlsh -f`) on one node and through
//! `fastdata cql -f` on another; DESCRIBE SCHEMA then prints the same script on both, with
//! every CREATE statement of the vector file in it as written; and that script loads again on
//! an empty third node, whose DESCRIBE SCHEMA is the same again.

use std::path::{Path, PathBuf};

use fastdata_tests::cql_clients::{CqlClients, CqlTool};
use fastdata_tests::{loopback_host, DataDir, Node};

fn vector_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors/cassandra_schema.cql")
}

/// The CREATE statements of a script, each with its whitespace as written, comments dropped.
fn create_statements(script: &str) -> Vec<String> {
    let text: String = script
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    // Each chunk ending in ';' is a statement, from its first line starting with CREATE (what
    // comes before, such as cqlsh's version warning, is not).
    text.split_inclusive(';')
        .filter_map(|chunk| {
            let start = chunk
                .match_indices("CREATE ")
                .map(|(i, _)| i)
                .find(|&i| i == 0 || chunk[..i].ends_with('\n'))?;
            Some(chunk[start..].trim().to_owned())
        })
        .collect()
}

fn load(clients: &CqlClients, tool: CqlTool, file: &Path) {
    let file = file.to_str().unwrap();
    let out = clients.shell(tool, &["-f", file], None).unwrap();
    assert!(
        out.status.success() && out.stderr.trim().is_empty(),
        "{} -f {file} failed ({}):\n{}",
        tool.name(),
        out.status,
        out.describe()
    );
}

fn describe_schema(clients: &CqlClients) -> String {
    let out = clients
        .shell(CqlTool::FastdataCql, &["-e", "DESCRIBE SCHEMA"], None)
        .unwrap()
        .success()
        .unwrap();
    out.stdout
}

#[test]
fn the_cassandra_schema_loads_through_both_shells_and_describes_back_to_a_script_that_loads() {
    let vector = std::fs::read_to_string(vector_file()).expect("vectors/cassandra_schema.cql");
    let wanted = create_statements(&vector);
    assert!(wanted.len() >= 5, "{wanted:?}");

    let dir = DataDir::new("cql-schema").unwrap();
    let start = |name: &str| {
        Node::builder(dir.join(name))
            .host(loopback_host())
            .name(name)
            .start()
            .unwrap()
    };
    let by_cqlsh = start("by-cqlsh");
    let by_fastdata = start("by-fastdata");
    let cqlsh_clients = CqlClients::new(by_cqlsh.cql_addr(), dir.join("by-cqlsh"));
    let fastdata_clients = CqlClients::new(by_fastdata.cql_addr(), dir.join("by-fastdata"));
    load(&cqlsh_clients, CqlTool::Cqlsh, &vector_file());
    load(&fastdata_clients, CqlTool::FastdataCql, &vector_file());

    let described = describe_schema(&cqlsh_clients);
    assert_eq!(
        described,
        describe_schema(&fastdata_clients),
        "the schema loaded by cqlsh and by fastdata cql describe differently"
    );
    let printed = create_statements(&described);
    for statement in &wanted {
        assert!(
            printed.contains(statement),
            "DESCRIBE SCHEMA does not print, as Cassandra does,\n{statement}\n---- it printed:\n{described}"
        );
    }

    // The printed script loads on an empty node and describes the same schema.
    let script = dir.join("described.cql");
    std::fs::write(&script, &described).unwrap();
    let again = start("again");
    let again_clients = CqlClients::new(again.cql_addr(), dir.join("again"));
    load(&again_clients, CqlTool::FastdataCql, &script);
    assert_eq!(describe_schema(&again_clients), described);
    let again_cqlsh = start("again-cqlsh");
    let again_cqlsh_clients = CqlClients::new(again_cqlsh.cql_addr(), dir.join("again-cqlsh"));
    load(&again_cqlsh_clients, CqlTool::Cqlsh, &script);
    assert_eq!(describe_schema(&again_cqlsh_clients), described);

    // cqlsh's DESCRIBE prints the same statements as ours.
    let out = cqlsh_clients
        .shell(CqlTool::Cqlsh, &["-e", "DESCRIBE SCHEMA"], None)
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(
        create_statements(&out.stdout),
        printed,
        "{}",
        out.describe()
    );
}

#[test]
fn create_statements_are_split_as_written() {
    let got = create_statements(
        "-- a comment; with a semicolon\nWARNING: a banner\nCREATE KEYSPACE a WITH x = 1;\n\nCREATE TABLE a.t (\n  k int PRIMARY KEY\n) WITH c = 'x';\n",
    );
    assert_eq!(
        got,
        [
            "CREATE KEYSPACE a WITH x = 1;",
            "CREATE TABLE a.t (\n  k int PRIMARY KEY\n) WITH c = 'x';"
        ]
    );
}
