//! The node against real CQL clients: cqlsh 6.2 and cassandra-driver 3.30 (PyPI) and the
//! scylla driver connect with no special options, create schema, write and read every type
//! (each reads what the others wrote), use prepared statements whose partition-key indexes the
//! drivers see (so they route by token, and compute the node's own token), run batches, page
//! over 10,000 rows at 100 a page, and scan the whole table, in full and by token ranges that
//! together cover the ring, seeing every row exactly once.
//!
//! Each test runs its own node on a loopback address of its own.

mod cql_common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use cql_common::{connect, create_keyspace, exec, runtime};
use fastdata_tests::cql_clients::{CqlClients, CqlTool};
use fastdata_tests::{loopback_host, DataDir, Node};
use futures::future::try_join_all;
use scylla::client::session::Session;
use scylla::response::{PagingState, PagingStateResponse};
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::Statement;
use scylla::value::{
    CqlDate, CqlDecimal, CqlTime, CqlTimestamp, CqlTimeuuid, CqlValue, CqlVarint, Row,
};
use serde_json::json;

fn start_node(name: &str) -> (DataDir, Node) {
    let dir = DataDir::new(name).unwrap();
    let node = Node::builder(&dir).host(loopback_host()).start().unwrap();
    (dir, node)
}

#[test]
fn cqlsh_and_both_drivers_connect_with_no_special_options() {
    let (dir, node) = start_node("cql-connect");
    let clients = CqlClients::new(node.cql_addr(), &dir);

    // cassandra-driver: negotiates down to v4, reads the system tables and the schema.
    let info = clients.driver_info().unwrap();
    assert_eq!(info["protocol_version"], 4, "{info}");
    assert_eq!(info["cluster_name"], "fastdata", "{info}");
    assert_eq!(
        info["partitioner"], "org.apache.cassandra.dht.Murmur3Partitioner",
        "{info}"
    );
    let release = info["release_version"].as_str().unwrap_or_default();
    assert!(release.starts_with("4."), "{info}");
    assert!(info["tokens"].as_u64().unwrap_or(0) >= 1, "{info}");
    assert_eq!(info["hosts"], json!([node.contact_point()]), "{info}");
    for (keyspace, table) in [
        ("system", "local"),
        ("system", "peers"),
        ("system", "peers_v2"),
        ("system_schema", "keyspaces"),
        ("system_schema", "tables"),
        ("system_schema", "columns"),
    ] {
        let tables = info["keyspaces"][keyspace]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            tables.iter().any(|t| t == table),
            "{keyspace}.{table} is not in the driver's schema metadata: {info}"
        );
    }

    // cqlsh: a SELECT needs the table in the driver's metadata, DDL waits for schema agreement.
    let out = clients
        .shell(
            CqlTool::Cqlsh,
            &[
                "-e",
                "SELECT cluster_name, release_version FROM system.local; \
                 CREATE KEYSPACE connect_ks WITH replication = \
                 {'class': 'SimpleStrategy', 'replication_factor': 1}; \
                 CREATE TABLE connect_ks.t (k int PRIMARY KEY, v text); \
                 INSERT INTO connect_ks.t (k, v) VALUES (1, 'from cqlsh'); \
                 SELECT * FROM connect_ks.t;",
            ],
            None,
        )
        .unwrap()
        .success()
        .unwrap();
    assert!(out.stdout.contains(" fastdata |"), "{}", out.describe());
    assert!(out.stdout.contains(release), "{}", out.describe());
    assert!(out.stdout.contains(" 1 | from cqlsh"), "{}", out.describe());

    // The scylla driver: its metadata queries are prepared and paged.
    let rt = runtime();
    rt.block_on(async {
        let session = connect(&node).await;
        let rows = session
            .query_unpaged("SELECT v FROM connect_ks.t WHERE k = 1", ())
            .await
            .unwrap()
            .into_rows_result()
            .unwrap();
        let (v,): (String,) = rows.single_row().unwrap();
        assert_eq!(v, "from cqlsh");
        let metadata = session.get_cluster_state();
        let keyspace = metadata
            .get_keyspace("connect_ks")
            .expect("connect_ks in the scylla driver's metadata");
        assert!(keyspace.tables.contains_key("t"), "{keyspace:?}");
    });

    // And our shell; both shells take `-e` text whose last statement has no `;`.
    for tool in [CqlTool::FastdataCql, CqlTool::Cqlsh] {
        for statement in [
            "SELECT * FROM connect_ks.t WHERE k = 1;",
            "SELECT * FROM connect_ks.t WHERE k = 1",
        ] {
            let out = clients
                .shell(tool, &["-e", statement], None)
                .unwrap()
                .success()
                .unwrap();
            assert!(out.stdout.contains(" 1 | from cqlsh"), "{}", out.describe());
        }
    }
}

/// The table with every type, and the values the scylla driver writes into it.
const ALL_TYPES: &str = "CREATE TABLE types_ks.all_types (
    k int, c int,
    a ascii, t text, vc varchar, i int, bi bigint, si smallint, ti tinyint, vi varint,
    bo boolean, f float, d double, de decimal, bl blob, ts timestamp, dt date, tm time,
    u uuid, tu timeuuid, ip inet,
    l list<text>, s set<int>, m map<text, int>, tp tuple<int, text>,
    fl frozen<list<int>>, fm frozen<map<text, frozen<set<int>>>>,
    st text static,
    PRIMARY KEY (k, c))";

const COLUMNS: [&str; 26] = [
    "a", "t", "vc", "i", "bi", "si", "ti", "vi", "bo", "f", "d", "de", "bl", "ts", "dt", "tm", "u",
    "tu", "ip", "l", "s", "m", "tp", "fl", "fm", "st",
];

fn uuid(s: &str) -> uuid::Uuid {
    s.parse().unwrap()
}

/// 2^70, as a varint.
fn two_to_the_70() -> CqlVarint {
    CqlVarint::from_signed_bytes_be(vec![0x40, 0, 0, 0, 0, 0, 0, 0, 0])
}

fn scylla_values() -> Vec<CqlValue> {
    vec![
        CqlValue::Ascii("ascii".into()),
        CqlValue::Text("ünïcode ✓ 'quoted'".into()),
        CqlValue::Text("varchar".into()),
        CqlValue::Int(i32::MIN),
        CqlValue::BigInt(i64::MAX),
        CqlValue::SmallInt(i16::MIN),
        CqlValue::TinyInt(i8::MAX),
        CqlValue::Varint(two_to_the_70()),
        CqlValue::Boolean(true),
        CqlValue::Float(1.5),
        CqlValue::Double(-0.25),
        // 12.345
        CqlValue::Decimal(CqlDecimal::from_signed_be_bytes_and_exponent(
            vec![0x30, 0x39],
            3,
        )),
        CqlValue::Blob(vec![0x00, 0x01, 0xff]),
        CqlValue::Timestamp(CqlTimestamp(1_706_695_200_123)),
        CqlValue::Date(CqlDate((1 << 31) + 19_753)),
        CqlValue::Time(CqlTime(36_000_123_456_789)),
        CqlValue::Uuid(uuid("123e4567-e89b-12d3-a456-426614174000")),
        CqlValue::Timeuuid(CqlTimeuuid::from(uuid(
            "50554d6e-29bb-11e5-b345-feff819cdc9f",
        ))),
        CqlValue::Inet("::1".parse::<IpAddr>().unwrap()),
        CqlValue::List(vec![CqlValue::Text("x".into()), CqlValue::Text("y".into())]),
        CqlValue::Set(vec![CqlValue::Int(1), CqlValue::Int(2), CqlValue::Int(3)]),
        CqlValue::Map(vec![
            (CqlValue::Text("a".into()), CqlValue::Int(1)),
            (CqlValue::Text("b".into()), CqlValue::Int(2)),
        ]),
        CqlValue::Tuple(vec![
            Some(CqlValue::Int(7)),
            Some(CqlValue::Text("seven".into())),
        ]),
        CqlValue::List(vec![CqlValue::Int(3), CqlValue::Int(1), CqlValue::Int(3)]),
        CqlValue::Map(vec![(
            CqlValue::Text("a".into()),
            CqlValue::Set(vec![CqlValue::Int(1), CqlValue::Int(2)]),
        )]),
        CqlValue::Text("static".into()),
    ]
}

/// The same values as the cassandra-driver script takes them.
fn driver_values() -> serde_json::Value {
    json!([
        "ascii", "ünïcode ✓ 'quoted'", "varchar", i32::MIN, i64::MAX, i16::MIN, i8::MAX,
        {"varint": "1180591620717411303424"}, true, {"float": 1.5}, -0.25,
        {"decimal": "12.345"}, {"blob": "0001ff"}, {"timestamp_ms": 1_706_695_200_123_i64},
        {"date": "2024-01-31"}, {"time_ns": 36_000_123_456_789_i64},
        {"uuid": "123e4567-e89b-12d3-a456-426614174000"},
        {"uuid": "50554d6e-29bb-11e5-b345-feff819cdc9f"}, {"inet": "::1"},
        ["x", "y"], {"set": [1, 2, 3]}, {"map": [["a", 1], ["b", 2]]}, {"tuple": [7, "seven"]},
        [3, 1, 3], {"map": [["a", {"set": [1, 2]}]]}, "static"
    ])
}

/// What the cassandra-driver script prints for those values.
const DRIVER_RENDERED: [&str; 26] = [
    "'ascii'",
    "'ünïcode ✓ ''quoted'''",
    "'varchar'",
    "-2147483648",
    "9223372036854775807",
    "-32768",
    "127",
    "1180591620717411303424",
    "true",
    "1.5",
    "-0.25",
    "12.345",
    "0x0001ff",
    "2024-01-31T10:00:00.123Z",
    "2024-01-31",
    "10:00:00.123456789",
    "123e4567-e89b-12d3-a456-426614174000",
    "50554d6e-29bb-11e5-b345-feff819cdc9f",
    "'::1'",
    "['x', 'y']",
    "{1, 2, 3}",
    "{'a': 1, 'b': 2}",
    "(7, 'seven')",
    "[3, 1, 3]",
    "{'a': {1, 2}}",
    "'static'",
];

fn insert_all_types() -> String {
    format!(
        "INSERT INTO types_ks.all_types (k, c, {}) VALUES (?, ?, {})",
        COLUMNS.join(", "),
        vec!["?"; COLUMNS.len()].join(", ")
    )
}

async fn read_row(session: &Session, k: i32) -> Vec<Option<CqlValue>> {
    let rows = session
        .query_unpaged(
            format!(
                "SELECT {} FROM types_ks.all_types WHERE k = {k} AND c = 1",
                COLUMNS.join(", ")
            ),
            (),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let row: Row = rows.single_row().unwrap();
    row.columns
}

#[test]
fn every_type_round_trips_through_every_client() {
    let (dir, node) = start_node("cql-types");
    let clients = CqlClients::new(node.cql_addr(), &dir);
    let rt = runtime();
    let want: Vec<Option<CqlValue>> = scylla_values().into_iter().map(Some).collect();
    rt.block_on(async {
        let session = connect(&node).await;
        create_keyspace(&session, "types_ks").await;
        exec(&session, ALL_TYPES).await;
        // Key 1: written by the scylla driver, prepared, every value bound.
        let insert = session.prepare(insert_all_types()).await.unwrap();
        let mut values = vec![CqlValue::Int(1), CqlValue::Int(1)];
        values.extend(scylla_values());
        session.execute_unpaged(&insert, &values).await.unwrap();
        assert_eq!(read_row(&session, 1).await, want);
    });

    // Key 2: written by cassandra-driver; both read keys 1 and 2.
    let mut values = json!([2, 1]);
    values
        .as_array_mut()
        .unwrap()
        .extend(driver_values().as_array().unwrap().clone());
    let select = |k: i32| {
        json!({
            "cql": format!("SELECT {} FROM types_ks.all_types WHERE k = {k} AND c = 1",
                           COLUMNS.join(", ")),
        })
    };
    let steps = clients
        .driver_run(&json!([
            {"cql": insert_all_types(), "values": values, "prepare": true},
            select(1),
            select(2),
        ]))
        .unwrap();
    assert_eq!(steps[0].error, None, "{steps:?}");
    for step in &steps[1..] {
        assert_eq!(step.error, None, "{steps:?}");
        assert_eq!(step.columns, COLUMNS, "{step:?}");
        assert_eq!(step.rows, vec![DRIVER_RENDERED.to_vec()], "{step:?}");
    }
    rt.block_on(async {
        let session = connect(&node).await;
        assert_eq!(
            read_row(&session, 2).await,
            want,
            "what cassandra-driver wrote"
        );
    });

    // cqlsh and our shell print key 1 as cqlsh does.
    for tool in [CqlTool::Cqlsh, CqlTool::FastdataCql] {
        let out = clients
            .shell(
                tool,
                &[
                    "-e",
                    "EXPAND ON; SELECT * FROM types_ks.all_types WHERE k = 1 AND c = 1;",
                ],
                None,
            )
            .unwrap()
            .success()
            .unwrap();
        for line in [
            " ts | 2024-01-31 10:00:00.123000+0000",
            " bl | 0x0001ff",
            " t  | ünïcode ✓ 'quoted'",
            " l  | ['x', 'y']",
            " m  | {'a': 1, 'b': 2}",
            " fm | {'a': {1, 2}}",
            " tp | (7, 'seven')",
            " bo | True",
            " vi | 1180591620717411303424",
            " de | 12.345",
            " f  | 1.5",
            " dt | 2024-01-31",
            " tm | 10:00:00.123456789",
            " ip | ::1",
            " st | static",
        ] {
            assert!(
                out.stdout.lines().any(|l| l.trim_end() == line),
                "{}: no line {line:?}\n{}",
                tool.name(),
                out.describe()
            );
        }
        assert!(out.stdout.contains("(1 rows)"), "{}", out.describe());
    }
}

#[test]
fn prepared_statements_carry_partition_key_indexes_and_drivers_route_by_the_nodes_token() {
    let (dir, node) = start_node("cql-prepared");
    let clients = CqlClients::new(node.cql_addr(), &dir);
    let rt = runtime();
    let insert = "INSERT INTO prep_ks.routed (v, c, b, a) VALUES (?, ?, ?, ?)";
    let select = "SELECT v FROM prep_ks.routed WHERE b = ? AND a = ? AND c = ?";
    rt.block_on(async {
        let session = connect(&node).await;
        create_keyspace(&session, "prep_ks").await;
        exec(
            &session,
            "CREATE TABLE prep_ks.routed (a int, b text, c int, v text, PRIMARY KEY ((a, b), c))",
        )
        .await;
        let prepared = session.prepare(insert).await.unwrap();
        let pk: Vec<(u16, u16)> = prepared
            .get_variable_pk_indexes()
            .iter()
            .map(|i| (i.index, i.sequence))
            .collect();
        // Bind marker 3 is a (the key's first part), 2 is b (its second).
        assert_eq!(pk, [(2, 1), (3, 0)]);
        assert!(prepared.is_token_aware());
        let values = ("v1", 1, "x", 7);
        session.execute_unpaged(&prepared, values).await.unwrap();
        let token = prepared.calculate_token(&values).unwrap().unwrap().value();
        let rows = session
            .query_unpaged(
                "SELECT token(a, b) FROM prep_ks.routed WHERE a = 7 AND b = 'x'",
                (),
            )
            .await
            .unwrap()
            .into_rows_result()
            .unwrap();
        let (server_token,): (i64,) = rows.single_row().unwrap();
        assert_eq!(token, server_token, "the driver's token is the node's");

        let prepared = session.prepare(select).await.unwrap();
        let pk: Vec<(u16, u16)> = prepared
            .get_variable_pk_indexes()
            .iter()
            .map(|i| (i.index, i.sequence))
            .collect();
        assert_eq!(pk, [(0, 1), (1, 0)]);
        let rows = session
            .execute_unpaged(&prepared, ("x", 7, 1))
            .await
            .unwrap()
            .into_rows_result()
            .unwrap();
        let (v,): (String,) = rows.single_row().unwrap();
        assert_eq!(v, "v1");
        // Named bind markers are partition-key indexes too.
        let named = session
            .prepare("SELECT v FROM prep_ks.routed WHERE a = :a AND b = :b AND c = :c")
            .await
            .unwrap();
        let pk: Vec<(u16, u16)> = named
            .get_variable_pk_indexes()
            .iter()
            .map(|i| (i.index, i.sequence))
            .collect();
        assert_eq!(pk, [(0, 0), (1, 1)]);
    });

    let steps = clients
        .driver_run(&json!([
            {"cql": insert, "values": ["v2", 2, "y", 8], "prepare": true},
            {"cql": select, "values": ["y", 8, 2], "prepare": true},
            {"cql": "SELECT token(a, b) FROM prep_ks.routed WHERE a = 8 AND b = 'y'"},
        ]))
        .unwrap();
    assert_eq!(steps[0].routing_key_indexes, Some(vec![3, 2]), "{steps:?}");
    assert_eq!(steps[1].routing_key_indexes, Some(vec![1, 0]), "{steps:?}");
    assert_eq!(steps[1].rows, vec![vec!["'v2'".to_owned()]], "{steps:?}");
    let server_token: i64 = steps[2].rows[0][0].parse().unwrap();
    assert_eq!(steps[0].routing_token, Some(server_token), "{steps:?}");
    assert_eq!(steps[1].routing_token, Some(server_token), "{steps:?}");
}

#[test]
fn batches_from_both_drivers() {
    let (dir, node) = start_node("cql-batch");
    let clients = CqlClients::new(node.cql_addr(), &dir);
    let rt = runtime();
    rt.block_on(async {
        let session = connect(&node).await;
        create_keyspace(&session, "batch_ks").await;
        exec(
            &session,
            "CREATE TABLE batch_ks.b (k int, c int, v text, PRIMARY KEY (k, c))",
        )
        .await;
        let insert = session
            .prepare("INSERT INTO batch_ks.b (k, c, v) VALUES (?, ?, ?)")
            .await
            .unwrap();
        for batch_type in [BatchType::Logged, BatchType::Unlogged] {
            let k = if batch_type == BatchType::Logged {
                1
            } else {
                2
            };
            let mut batch = Batch::new(batch_type);
            batch.append_statement(insert.clone());
            batch.append_statement(insert.clone());
            batch.append_statement("DELETE FROM batch_ks.b WHERE k = 99 AND c = 0");
            batch.append_statement(Statement::new(
                "UPDATE batch_ks.b SET v = ? WHERE k = ? AND c = ?",
            ));
            session
                .batch(
                    &batch,
                    (
                        (k, 1, "one"),
                        (k + 10, 1, "other partition"),
                        (),
                        ("updated", k, 2),
                    ),
                )
                .await
                .unwrap();
        }
        let rows = session
            .query_unpaged("SELECT k, c, v FROM batch_ks.b", ())
            .await
            .unwrap()
            .into_rows_result()
            .unwrap();
        let got: BTreeSet<(i32, i32, String)> = rows
            .rows::<(i32, i32, String)>()
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let want: BTreeSet<(i32, i32, String)> = [
            (1, 1, "one"),
            (1, 2, "updated"),
            (11, 1, "other partition"),
            (2, 1, "one"),
            (2, 2, "updated"),
            (12, 1, "other partition"),
        ]
        .into_iter()
        .map(|(k, c, v)| (k, c, v.to_owned()))
        .collect();
        assert_eq!(got, want);
    });
    let steps = clients
        .driver_run(&json!([
            {"cql": "BEGIN BATCH INSERT INTO batch_ks.b (k, c, v) VALUES (3, 1, 'py'); \
                     UPDATE batch_ks.b USING TTL 1000 SET v = 'py2' WHERE k = 3 AND c = 2; \
                     APPLY BATCH"},
            {"cql": "SELECT c, v FROM batch_ks.b WHERE k = 3"},
        ]))
        .unwrap();
    assert_eq!(steps[0].error, None, "{steps:?}");
    assert_eq!(
        steps[1].rows,
        vec![
            vec!["1".to_owned(), "'py'".to_owned()],
            vec!["2".to_owned(), "'py2'".to_owned()]
        ]
    );
}

/// Rows of the paging tests: 100 partitions of 100 rows.
const PARTITIONS: i32 = 100;
const ROWS_PER_PARTITION: i32 = 100;

async fn fill_paging_table(session: &Session) {
    create_keyspace(session, "paging_ks").await;
    exec(
        session,
        "CREATE TABLE paging_ks.p (p int, c int, v text, PRIMARY KEY (p, c))",
    )
    .await;
    let insert = session
        .prepare("INSERT INTO paging_ks.p (p, c, v) VALUES (?, ?, ?)")
        .await
        .unwrap();
    for p in 0..PARTITIONS {
        try_join_all((0..ROWS_PER_PARTITION).map(|c| {
            let insert = &insert;
            async move {
                session
                    .execute_unpaged(insert, (p, c, format!("{p}/{c}")))
                    .await
            }
        }))
        .await
        .unwrap();
    }
}

/// Every row of `query` (bound to `values`), page by page at `page_size`: the rows and the
/// number of pages.
async fn scan(
    session: &Session,
    query: &str,
    values: &[CqlValue],
    page_size: i32,
) -> (Vec<(i32, i32, String)>, usize) {
    let mut prepared = session.prepare(query).await.unwrap();
    prepared.set_page_size(page_size);
    let mut state = PagingState::start();
    let mut rows = Vec::new();
    let mut pages = 0;
    loop {
        let (result, next) = session
            .execute_single_page(&prepared, values, state)
            .await
            .unwrap();
        pages += 1;
        let result = result.into_rows_result().unwrap();
        assert!(
            result.rows_num() <= page_size as usize,
            "a page of {} rows at page size {page_size}",
            result.rows_num()
        );
        rows.extend(
            result
                .rows::<(i32, i32, String)>()
                .unwrap()
                .map(Result::unwrap),
        );
        match next {
            PagingStateResponse::HasMorePages { state: s } => state = s,
            PagingStateResponse::NoMorePages => return (rows, pages),
        }
    }
}

fn assert_each_row_once(rows: &[(i32, i32, String)], what: &str) {
    let mut seen = BTreeMap::new();
    for (p, c, v) in rows {
        assert_eq!(v, &format!("{p}/{c}"), "{what}");
        *seen.entry((*p, *c)).or_insert(0) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, &n)| n > 1).collect();
    assert!(
        twice.is_empty(),
        "{what}: rows seen more than once: {twice:?}"
    );
    let missing: Vec<(i32, i32)> = (0..PARTITIONS)
        .flat_map(|p| (0..ROWS_PER_PARTITION).map(move |c| (p, c)))
        .filter(|k| !seen.contains_key(k))
        .collect();
    assert!(
        missing.is_empty(),
        "{what}: {} rows missing, first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

#[test]
fn paging_over_ten_thousand_rows_and_scans_that_cover_the_ring() {
    let (dir, node) = start_node("cql-paging");
    let clients = CqlClients::new(node.cql_addr(), &dir);
    let rt = runtime();
    rt.block_on(async {
        let session = connect(&node).await;
        fill_paging_table(&session).await;

        // A full-table scan, 100 rows a page: every row once, in token order of partitions
        // and clustering order inside each.
        let (rows, pages) = scan(
            &session,
            "SELECT p, c, v FROM paging_ks.p WHERE token(p) >= ? AND token(p) <= ?",
            &[CqlValue::BigInt(i64::MIN), CqlValue::BigInt(i64::MAX)],
            100,
        )
        .await;
        assert_each_row_once(&rows, "full scan by token range");
        assert!((100..=101).contains(&pages), "{pages} pages");
        let mut statement = Statement::new("SELECT p, c, v FROM paging_ks.p");
        statement.set_page_size(100);
        let mut all = Vec::new();
        let mut state = PagingState::start();
        let mut pages = 0;
        loop {
            let (result, next) = session
                .query_single_page(statement.clone(), (), state)
                .await
                .unwrap();
            pages += 1;
            let result = result.into_rows_result().unwrap();
            all.extend(
                result
                    .rows::<(i32, i32, String)>()
                    .unwrap()
                    .map(Result::unwrap),
            );
            match next {
                PagingStateResponse::HasMorePages { state: s } => state = s,
                PagingStateResponse::NoMorePages => break,
            }
        }
        assert_each_row_once(&all, "full scan without WHERE");
        assert!((100..=101).contains(&pages), "{pages} pages");
        // Partitions in token order, rows in clustering order.
        let tokens = token_order(&session).await;
        let order: Vec<i32> = all.iter().map(|r| r.0).fold(Vec::new(), |mut v, p| {
            if v.last() != Some(&p) {
                v.push(p);
            }
            v
        });
        assert_eq!(order, tokens, "partitions not in token order");
        for w in all.windows(2) {
            if w[0].0 == w[1].0 {
                assert!(w[0].1 < w[1].1, "clustering order: {w:?}");
            }
        }

        // Token ranges that together cover the ring: (MIN, t1], (t1, t2], ..., (t7, MAX].
        let bounds: Vec<i64> = std::iter::once(i64::MIN)
            .chain((1..8).map(|i| {
                i64::try_from(i128::from(i64::MIN) + i128::from(u64::MAX / 8) * i).unwrap()
            }))
            .chain(std::iter::once(i64::MAX))
            .collect();
        let mut ranged = Vec::new();
        for w in bounds.windows(2) {
            let query = if w[0] == i64::MIN {
                "SELECT p, c, v FROM paging_ks.p WHERE token(p) >= ? AND token(p) <= ?"
            } else {
                "SELECT p, c, v FROM paging_ks.p WHERE token(p) > ? AND token(p) <= ?"
            };
            let bounds = [CqlValue::BigInt(w[0]), CqlValue::BigInt(w[1])];
            let (rows, _) = scan(&session, query, &bounds, 100).await;
            ranged.extend(rows);
        }
        assert_each_row_once(&ranged, "token-range scans over the ring");

        // One partition, 10 rows a page.
        let (rows, pages) = scan(
            &session,
            "SELECT p, c, v FROM paging_ks.p WHERE p = 7 AND c >= ? AND c < ?",
            &[CqlValue::Int(0), CqlValue::Int(ROWS_PER_PARTITION)],
            10,
        )
        .await;
        assert_eq!(rows.len(), ROWS_PER_PARTITION as usize);
        assert!((10..=11).contains(&pages), "{pages} pages");
    });

    // cassandra-driver pages the full table at fetch_size 100.
    let steps = clients
        .driver_run(&json!([{"cql": "SELECT p, c, v FROM paging_ks.p", "fetch_size": 100}]))
        .unwrap();
    let rows: Vec<(i32, i32, String)> = steps[0]
        .rows
        .iter()
        .map(|r| {
            (
                r[0].parse().unwrap(),
                r[1].parse().unwrap(),
                r[2].trim_matches('\'').to_owned(),
            )
        })
        .collect();
    assert_each_row_once(&rows, "cassandra-driver's paged scan");
    assert!((100..=101).contains(&steps[0].pages), "{steps:?}");
}

/// The partitions of the paging table, ordered by the token the node gives them.
async fn token_order(session: &Session) -> Vec<i32> {
    let select = session
        .prepare("SELECT token(p) FROM paging_ks.p WHERE p = ? LIMIT 1")
        .await
        .unwrap();
    let mut tokens = Vec::new();
    for p in 0..PARTITIONS {
        let rows = session
            .execute_unpaged(&select, (p,))
            .await
            .unwrap()
            .into_rows_result()
            .unwrap();
        let (token,): (i64,) = rows.single_row().unwrap();
        tokens.push((token, p));
    }
    tokens.sort();
    tokens.into_iter().map(|(_, p)| p).collect()
}
