//! In-process tests of the executor: a real store on a temporary directory (this is the
//! library under test, not a mock), driven by CQL text as a client would.

use std::sync::Arc;

use bytes::Bytes;
use fastdata_cql::Value;

use super::*;
use crate::api::{BoundValue, BoundValues, ChangeTarget, QueryResult, Rows};
use crate::clock::ManualClock;

pub(crate) struct T {
    pub store: Store,
    /// Removed when the test ends.
    _dir: tempfile::TempDir,
}

impl T {
    pub fn new() -> T {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        T { store, _dir: dir }
    }

    pub fn with_clock(clock: Arc<ManualClock>) -> T {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with_clock(StoreConfig::new(dir.path()), clock).unwrap();
        T { store, _dir: dir }
    }

    pub fn run(&self, text: &str) -> Result<QueryResult, Error> {
        self.store.query(text, &Request::default())
    }

    pub fn ok(&self, text: &str) -> QueryResult {
        self.run(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    pub fn err(&self, text: &str) -> Error {
        match self.run(text) {
            Ok(r) => panic!("{text} succeeded: {r:?}"),
            Err(e) => e,
        }
    }

    /// The rows of a query, each value as a CQL literal (`null` for null).
    pub fn rows(&self, text: &str) -> Vec<Vec<String>> {
        literal_rows(&rows(self.ok(text)))
    }

    /// `ks` with SimpleStrategy.
    pub fn keyspace(&self) {
        self.ok("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
    }
}

pub(crate) fn rows(r: QueryResult) -> Rows {
    match r {
        QueryResult::Rows(rows) => rows,
        other => panic!("not rows: {other:?}"),
    }
}

pub(crate) fn literal_rows(r: &Rows) -> Vec<Vec<String>> {
    r.rows
        .iter()
        .map(|row| {
            row.iter()
                .zip(&r.columns)
                .map(|(v, c)| match v {
                    None => "null".to_string(),
                    Some(b) => Value::decode(&c.ty, b).unwrap().to_cql_literal(),
                })
                .collect()
        })
        .collect()
}

fn s(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|v| v.to_string()).collect())
        .collect()
}

#[test]
fn a_row_written_reads_back() {
    let t = T::new();
    t.keyspace();
    t.ok("CREATE TABLE ks.t (k int PRIMARY KEY, v text)");
    t.ok("INSERT INTO ks.t (k, v) VALUES (1, 'one')");
    assert_eq!(
        t.rows("SELECT k, v FROM ks.t WHERE k = 1"),
        s(&[&["1", "'one'"]])
    );
    assert_eq!(t.rows("SELECT * FROM ks.t"), s(&[&["1", "'one'"]]));
}

#[test]
fn last_write_wins_by_timestamp_whatever_the_arrival_order() {
    let t = T::new();
    t.keyspace();
    t.ok("CREATE TABLE ks.t (k int PRIMARY KEY, v text)");
    t.ok("INSERT INTO ks.t (k, v) VALUES (1, 'new') USING TIMESTAMP 2000");
    t.ok("INSERT INTO ks.t (k, v) VALUES (1, 'old') USING TIMESTAMP 1000");
    assert_eq!(
        t.rows("SELECT v, writetime(v) FROM ks.t WHERE k = 1"),
        s(&[&["'new'", "2000"]])
    );
    // A tie: the greater value wins.
    t.ok("INSERT INTO ks.t (k, v) VALUES (1, 'aaa') USING TIMESTAMP 2000");
    assert_eq!(t.rows("SELECT v FROM ks.t WHERE k = 1"), s(&[&["'new'"]]));
    t.ok("INSERT INTO ks.t (k, v) VALUES (1, 'zzz') USING TIMESTAMP 2000");
    assert_eq!(t.rows("SELECT v FROM ks.t WHERE k = 1"), s(&[&["'zzz'"]]));
    // A tie with a tombstone: the tombstone wins.
    t.ok("DELETE v FROM ks.t USING TIMESTAMP 2000 WHERE k = 1");
    assert_eq!(t.rows("SELECT v FROM ks.t WHERE k = 1"), s(&[&["null"]]));
    // An older delete does not shadow a newer write.
    t.ok("INSERT INTO ks.t (k, v) VALUES (2, 'x') USING TIMESTAMP 5000");
    t.ok("DELETE FROM ks.t USING TIMESTAMP 4000 WHERE k = 2");
    assert_eq!(t.rows("SELECT v FROM ks.t WHERE k = 2"), s(&[&["'x'"]]));
}

#[test]
fn every_delete_kind_shadows_what_it_covers() {
    let t = T::new();
    t.keyspace();
    t.ok("CREATE TABLE ks.t (k int, c int, v int, s int static, PRIMARY KEY (k, c))");
    for c in 0..10 {
        t.ok(&format!("INSERT INTO ks.t (k, c, v) VALUES (1, {c}, {c})"));
        t.ok(&format!("INSERT INTO ks.t (k, c, v) VALUES (2, {c}, {c})"));
    }
    t.ok("UPDATE ks.t SET s = 7 WHERE k = 1");
    // A cell.
    t.ok("DELETE v FROM ks.t WHERE k = 1 AND c = 0");
    assert_eq!(
        t.rows("SELECT c, v FROM ks.t WHERE k = 1 AND c = 0"),
        s(&[&["0", "null"]])
    );
    // A row.
    t.ok("DELETE FROM ks.t WHERE k = 1 AND c = 1");
    assert!(t
        .rows("SELECT * FROM ks.t WHERE k = 1 AND c = 1")
        .is_empty());
    // A clustering range.
    t.ok("DELETE FROM ks.t WHERE k = 1 AND c > 3 AND c <= 6");
    let cs: Vec<String> = t
        .rows("SELECT c FROM ks.t WHERE k = 1")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(cs, ["0", "2", "3", "7", "8", "9"]);
    // A static cell.
    t.ok("DELETE s FROM ks.t WHERE k = 1");
    assert_eq!(
        t.rows("SELECT s FROM ks.t WHERE k = 1 AND c = 0"),
        s(&[&["null"]])
    );
    // A partition.
    t.ok("DELETE FROM ks.t WHERE k = 2");
    assert!(t.rows("SELECT * FROM ks.t WHERE k = 2").is_empty());
    // Writes newer than the deletions are visible again.
    t.ok("INSERT INTO ks.t (k, c, v) VALUES (2, 5, 50)");
    t.ok("INSERT INTO ks.t (k, c, v) VALUES (1, 5, 50)");
    assert_eq!(
        t.rows("SELECT c, v FROM ks.t WHERE k = 2"),
        s(&[&["5", "50"]])
    );
    assert_eq!(
        t.rows("SELECT v FROM ks.t WHERE k = 1 AND c = 5"),
        s(&[&["50"]])
    );
}

#[test]
fn insert_makes_a_row_exist_update_does_not() {
    let t = T::new();
    t.keyspace();
    t.ok("CREATE TABLE ks.t (k int PRIMARY KEY, v int)");
    t.ok("INSERT INTO ks.t (k) VALUES (1)");
    t.ok("UPDATE ks.t SET v = 2 WHERE k = 2");
    t.ok("UPDATE ks.t SET v = null WHERE k = 2");
    assert_eq!(t.rows("SELECT * FROM ks.t"), s(&[&["1", "null"]]));
}

#[test]
fn ttl_expires_cells_and_rows_without_sleeping() {
    let clock = ManualClock::new(1_700_000_000_000_000);
    let t = T::with_clock(clock.clone());
    t.keyspace();
    t.ok("CREATE TABLE ks.t (k int PRIMARY KEY, v int, w int) WITH default_time_to_live = 100");
    t.ok("INSERT INTO ks.t (k, v) VALUES (1, 1) USING TTL 10");
    t.ok("INSERT INTO ks.t (k, v) VALUES (2, 2)");
    t.ok("INSERT INTO ks.t (k, v) VALUES (3, 3) USING TTL 0");
    t.ok("UPDATE ks.t USING TTL 5 SET w = 9 WHERE k = 3");
    assert_eq!(t.rows("SELECT ttl(v) FROM ks.t WHERE k = 1"), s(&[&["10"]]));
    assert_eq!(
        t.rows("SELECT ttl(v) FROM ks.t WHERE k = 2"),
        s(&[&["100"]])
    );
    assert_eq!(
        t.rows("SELECT ttl(v), ttl(w) FROM ks.t WHERE k = 3"),
        s(&[&["null", "5"]])
    );
    clock.advance_seconds(6);
    assert_eq!(t.rows("SELECT ttl(v) FROM ks.t WHERE k = 1"), s(&[&["4"]]));
    assert_eq!(
        t.rows("SELECT v, w FROM ks.t WHERE k = 3"),
        s(&[&["3", "null"]])
    );
    clock.advance_seconds(4);
    assert!(t.rows("SELECT * FROM ks.t WHERE k = 1").is_empty());
    clock.advance_seconds(100);
    assert_eq!(t.rows("SELECT k FROM ks.t"), s(&[&["3"]]));
}

#[test]
fn collections_append_remove_and_replace_elements() {
    let t = T::new();
    t.keyspace();
    t.ok("CREATE TABLE ks.t (k int PRIMARY KEY, s set<text>, l list<int>, m map<text, int>, f frozen<list<int>>)");
    t.ok("INSERT INTO ks.t (k, s, l, m, f) VALUES (1, {'b', 'a'}, [1, 2], {'x': 1}, [3, 4])");
    t.ok("UPDATE ks.t SET s = s + {'c'}, l = l + [3], m['y'] = 2, m = m + {'z': 3} WHERE k = 1");
    t.ok("UPDATE ks.t SET l = [0] + l WHERE k = 1");
    assert_eq!(
        t.rows("SELECT s, l, m, f FROM ks.t WHERE k = 1"),
        s(&[&[
            "{'a', 'b', 'c'}",
            "[0, 1, 2, 3]",
            "{'x': 1, 'y': 2, 'z': 3}",
            "[3, 4]"
        ]])
    );
    t.ok("UPDATE ks.t SET s = s - {'a'}, l = l - [2], m = m - {'x'} WHERE k = 1");
    t.ok("UPDATE ks.t SET l[0] = 10 WHERE k = 1");
    t.ok("DELETE m['y'], l[1] FROM ks.t WHERE k = 1");
    assert_eq!(
        t.rows("SELECT s, l, m FROM ks.t WHERE k = 1"),
        s(&[&["{'b', 'c'}", "[10, 3]", "{'z': 3}"]])
    );
    t.ok("UPDATE ks.t SET s = {'only'} WHERE k = 1");
    assert_eq!(
        t.rows("SELECT s FROM ks.t WHERE k = 1"),
        s(&[&["{'only'}"]])
    );
    let e = t.err("UPDATE ks.t SET l[7] = 1 WHERE k = 1");
    assert_eq!(e.to_string(), "List index 7 out of bound, list has size 2");
    let e = t.err("UPDATE ks.t SET f = f + [1] WHERE k = 1");
    assert!(e.to_string().contains("frozen collection"), "{e}");
    t.ok("UPDATE ks.t SET s = {} WHERE k = 1");
    assert_eq!(t.rows("SELECT s FROM ks.t WHERE k = 1"), s(&[&["null"]]));
}

#[test]
fn static_columns_are_per_partition() {
    let t = T::new();
    t.keyspace();
    t.ok("CREATE TABLE ks.t (k int, c int, s text static, v int, PRIMARY KEY (k, c))");
    t.ok("INSERT INTO ks.t (k, c, s, v) VALUES (1, 1, 'a', 1)");
    t.ok("INSERT INTO ks.t (k, c, v) VALUES (1, 2, 2)");
    t.ok("INSERT INTO ks.t (k, s) VALUES (2, 'only static')");
    assert_eq!(
        t.rows("SELECT k, c, s, v FROM ks.t"),
        s(&[
            &["1", "1", "'a'", "1"],
            &["1", "2", "'a'", "2"],
            &["2", "null", "'only static'", "null"]
        ])
    );
    // A partition with only static cells answers a query over whole partitions only.
    assert!(t
        .rows("SELECT * FROM ks.t WHERE k = 2 AND c = 1")
        .is_empty());
    t.ok("UPDATE ks.t SET s = 'b' WHERE k = 1");
    assert_eq!(
        t.rows("SELECT DISTINCT k, s FROM ks.t"),
        s(&[&["1", "'b'"], &["2", "'only static'"]])
    );
    let e = t.err("CREATE TABLE ks.u (k int PRIMARY KEY, s int static)");
    assert_eq!(
        e.to_string(),
        "Static columns are only useful (and thus allowed) if the table has at least one clustering column"
    );
}

#[test]
fn clustering_order_ranges_and_reversed_reads() {
    let t = T::new();
    t.keyspace();
    t.ok("CREATE TABLE ks.t (k int, a int, b text, v int, PRIMARY KEY (k, a, b)) WITH CLUSTERING ORDER BY (a DESC, b ASC)");
    for a in 0..4 {
        for b in ["x", "y"] {
            t.ok(&format!(
                "INSERT INTO ks.t (k, a, b, v) VALUES (1, {a}, '{b}', {a})"
            ));
        }
    }
    let col = |rows: Vec<Vec<String>>| rows.into_iter().map(|r| r.join(" ")).collect::<Vec<_>>();
    assert_eq!(
        col(t.rows("SELECT a, b FROM ks.t WHERE k = 1")),
        ["3 'x'", "3 'y'", "2 'x'", "2 'y'", "1 'x'", "1 'y'", "0 'x'", "0 'y'"]
    );
    assert_eq!(
        col(t.rows("SELECT a, b FROM ks.t WHERE k = 1 AND a > 0 AND a <= 2")),
        ["2 'x'", "2 'y'", "1 'x'", "1 'y'"]
    );
    assert_eq!(
        col(t.rows("SELECT a, b FROM ks.t WHERE k = 1 AND a = 2 AND b > 'x'")),
        ["2 'y'"]
    );
    assert_eq!(
        col(t.rows("SELECT a, b FROM ks.t WHERE k = 1 AND a IN (1, 3) ORDER BY a ASC, b DESC")),
        ["1 'y'", "1 'x'", "3 'y'", "3 'x'"]
    );
    // Tuple relations compare values, whatever the clustering order.
    assert_eq!(
        col(t.rows("SELECT a, b FROM ks.t WHERE k = 1 AND (a, b) > (2, 'x')")),
        ["3 'x'", "3 'y'", "2 'y'"]
    );
    assert_eq!(
        col(t.rows("SELECT a, b FROM ks.t WHERE k = 1 AND (a) <= (1) LIMIT 3")),
        ["1 'x'", "1 'y'", "0 'x'"]
    );
    assert_eq!(
        t.err("SELECT * FROM ks.t WHERE k = 1 AND b = 'x'")
            .to_string(),
        "PRIMARY KEY column \"b\" cannot be restricted as preceding column \"a\" is not restricted"
    );
    assert_eq!(
        col(t.rows("SELECT a FROM ks.t WHERE k = 1 AND b = 'y' AND a < 2 ALLOW FILTERING")),
        ["1", "0"]
    );
    assert_eq!(
        t.err("SELECT * FROM ks.t WHERE k = 1 ORDER BY b ASC").to_string(),
        "Order by currently only supports the ordering of columns following their declared order in the PRIMARY KEY"
    );
    assert_eq!(
        t.err("SELECT * FROM ks.t ORDER BY a ASC").to_string(),
        "ORDER BY is only supported when the partition key is restricted by an EQ or an IN."
    );
    assert_eq!(
        col(t.rows("SELECT a FROM ks.t WHERE k = 1 PER PARTITION LIMIT 1")),
        ["3"]
    );
    assert_eq!(
        t.rows("SELECT count(*) FROM ks.t WHERE k = 1"),
        s(&[&["8"]])
    );
}

#[test]
fn filtering_needs_allow_filtering() {
    let t = T::new();
    t.keyspace();
    t.ok("CREATE TABLE ks.t (k int, c int, v int, PRIMARY KEY (k, c))");
    for k in 0..5 {
        t.ok(&format!("INSERT INTO ks.t (k, c, v) VALUES ({k}, 0, {k})"));
    }
    let msg = select::REQUIRES_ALLOW_FILTERING;
    assert_eq!(t.err("SELECT * FROM ks.t WHERE v = 3").to_string(), msg);
    assert_eq!(t.err("SELECT * FROM ks.t WHERE c = 0").to_string(), msg);
    assert_eq!(
        t.rows("SELECT k FROM ks.t WHERE v = 3 ALLOW FILTERING"),
        s(&[&["3"]])
    );
    assert_eq!(
        t.rows("SELECT k FROM ks.t WHERE v > 2 AND c = 0 ALLOW FILTERING")
            .len(),
        2
    );
    assert_eq!(
        t.err("SELECT * FROM ks.t WHERE v != 3 ALLOW FILTERING")
            .to_string(),
        "Unsupported \"!=\" relation: v != 3"
    );
}

fn bind(values: &[Value]) -> BoundValues {
    BoundValues::Positional(
        values
            .iter()
            .map(|v| BoundValue::Value(v.encode()))
            .collect(),
    )
}

#[test]
fn a_full_scan_and_ring_covering_token_ranges_return_every_row_once() {
    let t = T::new();
    t.keyspace();
    t.ok("CREATE TABLE ks.t (k int, c int, v int, PRIMARY KEY (k, c))");
    let ins = t
        .store
        .prepare("INSERT INTO ks.t (k, c, v) VALUES (?, ?, ?)", None)
        .unwrap();
    for i in 0..10_000 {
        let req = Request {
            values: bind(&[Value::Int(i / 4), Value::Int(i % 4), Value::Int(i)]),
            ..Request::default()
        };
        t.store.execute(&ins, &req).unwrap();
    }
    let scan = |query: &str, values: &[Value]| -> Vec<i32> {
        let mut seen = Vec::new();
        let mut paging_state = None;
        loop {
            let req = Request {
                values: bind(values),
                page_size: Some(100),
                paging_state: paging_state.take(),
                ..Request::default()
            };
            let r = rows(t.store.query(query, &req).unwrap());
            assert!(r.rows.len() <= 100);
            for row in &r.rows {
                seen.push(i32::from_be_bytes(
                    row[0].as_ref().unwrap()[..].try_into().unwrap(),
                ));
            }
            match r.paging_state {
                Some(p) => paging_state = Some(p),
                None => break,
            }
        }
        seen
    };
    let mut all = scan("SELECT v FROM ks.t", &[]);
    assert_eq!(all.len(), 10_000);
    all.sort_unstable();
    assert_eq!(all, (0..10_000).collect::<Vec<_>>());
    // The node's tokens split the ring; together the ranges cover it.
    let mut tokens = t.store.identity().tokens;
    tokens.sort_unstable();
    let mut ranged = Vec::new();
    let first = *tokens.first().unwrap();
    let last = *tokens.last().unwrap();
    for w in tokens.windows(2) {
        ranged.extend(scan(
            "SELECT v FROM ks.t WHERE token(k) > ? AND token(k) <= ?",
            &[Value::BigInt(w[0]), Value::BigInt(w[1])],
        ));
    }
    ranged.extend(scan(
        "SELECT v FROM ks.t WHERE token(k) > ?",
        &[Value::BigInt(last)],
    ));
    ranged.extend(scan(
        "SELECT v FROM ks.t WHERE token(k) <= ?",
        &[Value::BigInt(first)],
    ));
    ranged.sort_unstable();
    assert_eq!(ranged, (0..10_000).collect::<Vec<_>>());
    // A LIMIT spans pages.
    let limited = scan("SELECT v FROM ks.t LIMIT 250", &[]);
    assert_eq!(limited.len(), 250);
}

#[test]
fn prepared_ids_are_stable_across_a_reopen_and_name_their_markers() {
    let dir = tempfile::tempdir().unwrap();
    let q = "SELECT v FROM t WHERE k = ? AND c IN ? LIMIT ?";
    let (id, prepared) = {
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        let r = Request::default();
        store
            .query("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", &r)
            .unwrap();
        store
            .query(
                "CREATE TABLE ks.t (k int, c int, v text, PRIMARY KEY (k, c))",
                &r,
            )
            .unwrap();
        let p = store.prepare(q, Some("ks")).unwrap();
        store.close().unwrap();
        (p.id, p)
    };
    assert_eq!(id, prepared_id(q, Some("ks")));
    let names: Vec<&str> = prepared
        .bind_columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["k", "in(c)", "[limit]"]);
    assert_eq!(prepared.pk_indexes, vec![0]);
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    assert!(
        store.prepared(&id).is_none(),
        "a restarted node does not know the id"
    );
    assert_eq!(store.prepare(q, Some("ks")).unwrap().id, id);
    let insert = store
        .prepare("INSERT INTO ks.t (v, c, k) VALUES (?, ?, ?)", None)
        .unwrap();
    assert_eq!(insert.pk_indexes, vec![2]);
}

#[test]
fn reads_of_one_partition_and_writes_that_read_nothing_run_briefly() {
    let script = "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};
        CREATE TABLE ks.t (k int, c int, v text, l list<int>, PRIMARY KEY (k, c));";
    let t = T::new();
    load_script(&t, script);
    let brief =
        |store: &Store, q: &str| store.runs_briefly(&store.prepare(q, Some("ks")).unwrap().id);
    let writes = [
        "INSERT INTO t (k, c, v) VALUES (?, ?, ?)",
        "UPDATE t SET v = ? WHERE k = ? AND c = ?",
        "UPDATE t SET l = l + ? WHERE k = ? AND c = ?",
        "DELETE FROM t WHERE k = ?",
        "DELETE v FROM t WHERE k = ? AND c = ?",
    ];
    for q in [
        "SELECT v FROM t WHERE k = ?",
        "SELECT v FROM t WHERE k = ? AND c > ? LIMIT 10",
    ]
    .into_iter()
    .chain(writes)
    {
        assert!(brief(&t.store, q), "{q}");
    }
    for q in [
        "SELECT v FROM t",
        "SELECT v FROM t WHERE k IN ?",
        "SELECT v FROM t WHERE v = ? ALLOW FILTERING",
        "SELECT count(*) FROM t WHERE k = ?",
        "SELECT v FROM t WHERE token(k) > ?",
        "SELECT keyspace_name FROM system_schema.keyspaces",
        // These read the list first.
        "UPDATE t SET l[0] = ? WHERE k = ? AND c = ?",
        "UPDATE t SET l = l - ? WHERE k = ? AND c = ?",
        "DELETE l[0] FROM t WHERE k = ? AND c = ?",
        "BEGIN BATCH INSERT INTO t (k, c, v) VALUES (?, ?, ?); APPLY BATCH",
        "TRUNCATE t",
        "CREATE TABLE ks.u (k int PRIMARY KEY)",
    ] {
        assert!(!brief(&t.store, q), "{q}");
    }
    assert!(
        !t.store.runs_briefly(&[0; 16]),
        "an id the node does not hold"
    );
    // With `commitlog_sync: batch` a write waits for its WAL sync: no write is brief.
    let dir = tempfile::tempdir().unwrap();
    let mut config = StoreConfig::new(dir.path());
    config.commitlog_sync = CommitlogSync::Batch;
    let synced = T {
        store: Store::open(config).unwrap(),
        _dir: dir,
    };
    load_script(&synced, script);
    for q in writes {
        assert!(!brief(&synced.store, q), "{q}");
    }
    assert!(brief(&synced.store, "SELECT v FROM t WHERE k = ?"));
}

#[test]
fn a_write_that_must_not_wait_fails_whole_while_writes_are_stopped() {
    let t = T::new();
    load_script(
        &t,
        "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};
        CREATE TABLE ks.t (k int PRIMARY KEY, a int, b int);
        INSERT INTO ks.t (k, a, b) VALUES (1, 1, 1);",
    );
    let table = t.store.catalog().table("ks", "t").unwrap().clone();
    let insert = t
        .store
        .prepare("INSERT INTO ks.t (k, a, b) VALUES (?, ?, ?)", None)
        .unwrap();
    let write = |k: i32, no_wait: bool| {
        t.store.execute(
            &insert,
            &Request {
                values: bind(&[Value::Int(k), Value::Int(2), Value::Int(2)]),
                no_wait,
                ..Request::default()
            },
        )
    };
    t.store.inner.engine.stop_writes(&table, true).unwrap();
    for k in [1, 2] {
        assert!(matches!(write(k, true), Err(Error::WouldWait)), "{k}");
    }
    t.store.inner.engine.stop_writes(&table, false).unwrap();
    // Nothing of the held-back writes landed: row 1 keeps its cells, row 2 does not exist.
    assert_eq!(
        t.rows("SELECT k, a, b FROM ks.t"),
        vec![vec!["1", "1", "1"]]
    );
    write(2, true).unwrap();
    write(3, false).unwrap();
    assert_eq!(t.rows("SELECT k FROM ks.t").len(), 3);
}

#[test]
fn errors_speak_cassandras_words() {
    let t = T::new();
    assert_eq!(
        t.err("SELECT * FROM nope.t").to_string(),
        "Keyspace 'nope' does not exist"
    );
    t.keyspace();
    t.ok("CREATE TABLE ks.t (k int, k2 text, c int, v int, PRIMARY KEY ((k, k2), c))");
    assert_eq!(
        t.err("SELECT * FROM ks.nope").to_string(),
        "unconfigured table nope"
    );
    assert_eq!(
        t.err("SELECT nope FROM ks.t").to_string(),
        "Undefined column name nope"
    );
    assert_eq!(
        t.err("INSERT INTO ks.t (k, c, v) VALUES (1, 1, 1)")
            .to_string(),
        "Some partition key parts are missing: k2"
    );
    assert_eq!(
        t.err("UPDATE ks.t SET v = 1 WHERE k = 1 AND k2 = 'a'")
            .to_string(),
        "Some clustering keys are missing: c"
    );
    assert_eq!(
        t.err("SELECT * FROM ks.t WHERE k = null AND k2 = 'a'")
            .to_string(),
        "Invalid null value in condition for column k"
    );
    assert!(matches!(
        t.err("INSERT INTO ks.t (k, k2, c, v) VALUES ('x', 'a', 1, 1)"),
        Error::Invalid(m) if m.contains("for \"k\" of type int")
    ));
    let e = t.err("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
    assert_eq!(e.code(), 0x2400);
    assert_eq!(e.to_string(), "Cannot add existing keyspace \"ks\"");
    let e = t.err("CREATE TABLE ks.t (k int PRIMARY KEY)");
    assert_eq!(
        e.to_string(),
        "Cannot add already existing table \"t\" to keyspace \"ks\""
    );
    assert!(matches!(e, Error::AlreadyExists { ref table, .. } if table == "t"));
    assert!(matches!(
        t.ok("CREATE TABLE IF NOT EXISTS ks.t (k int PRIMARY KEY)"),
        QueryResult::Void
    ));
    assert_eq!(t.err("SELEC * FROM ks.t").code(), 0x2000);
    let e = t
        .store
        .query(
            "SELECT * FROM ks.t WHERE k = ? AND k2 = ?",
            &Request {
                values: bind(&[Value::Int(1)]),
                ..Request::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "There were 2 markers(?) in CQL but 1 bound variables"
    );
    let e = t.err("INSERT INTO ks.t (k, k2, c, v) VALUES (1, 'a', 1, 1) IF NOT EXISTS");
    assert!(
        e.to_string()
            .starts_with("Conditional updates are not supported yet"),
        "{e}"
    );
    let read_any = Request {
        consistency: Consistency::Any,
        ..Request::default()
    };
    assert_eq!(
        t.store
            .query("SELECT * FROM ks.t", &read_any)
            .unwrap_err()
            .to_string(),
        "ANY ConsistencyLevel is only supported for writes"
    );
    let write_serial = Request {
        consistency: Consistency::Serial,
        ..Request::default()
    };
    assert_eq!(
        t.store
            .query(
                "INSERT INTO ks.t (k, k2, c, v) VALUES (1, 'a', 1, 1)",
                &write_serial
            )
            .unwrap_err()
            .to_string(),
        "You must use conditional updates for serializable writes"
    );
    assert_eq!(
        t.err("DROP TABLE ks.nope").to_string(),
        "Table 'ks.nope' doesn't exist"
    );
    assert_eq!(
        t.err("USE nope").to_string(),
        "Keyspace 'nope' does not exist"
    );
    assert_eq!(
        t.err("CREATE TABLE ks.c (k int PRIMARY KEY, n counter)")
            .code(),
        0x2200,
        "counter tables are refused"
    );
}

#[test]
fn values_over_max_value_size_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = StoreConfig::new(dir.path());
    config.max_value_size_bytes = 100;
    let store = Store::open(config).unwrap();
    let r = Request::default();
    store
        .query("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", &r)
        .unwrap();
    store
        .query("CREATE TABLE ks.t (k int PRIMARY KEY, v blob)", &r)
        .unwrap();
    let big = Request {
        values: bind(&[Value::Blob(Bytes::from(vec![7u8; 101]))]),
        ..Request::default()
    };
    let e = store
        .query("INSERT INTO ks.t (k, v) VALUES (1, ?)", &big)
        .unwrap_err();
    assert!(e.to_string().contains("exceeds max value size"), "{e}");
}

#[test]
fn batches_apply_atomically_with_one_timestamp_and_size_limits() {
    let t = T::new();
    t.keyspace();
    t.ok("CREATE TABLE ks.t (k int PRIMARY KEY, v text)");
    t.ok("BEGIN BATCH INSERT INTO ks.t (k, v) VALUES (1, 'a'); INSERT INTO ks.t (k, v) VALUES (2, 'b'); APPLY BATCH");
    assert_eq!(
        t.rows("SELECT writetime(v) FROM ks.t WHERE k = 1"),
        t.rows("SELECT writetime(v) FROM ks.t WHERE k = 2")
    );
    let ins = t
        .store
        .prepare("INSERT INTO ks.t (k, v) VALUES (?, ?)", None)
        .unwrap();
    let big = "x".repeat(60 << 10);
    let statements = vec![
        BatchStatement::Prepared {
            id: ins.id,
            values: bind(&[Value::Int(3), Value::Text("c".into())]),
        },
        BatchStatement::Query {
            query: format!("INSERT INTO ks.t (k, v) VALUES (4, '{big}')"),
            values: BoundValues::None,
        },
    ];
    let e = t
        .store
        .batch(BatchType::Logged, &statements, &Request::default())
        .unwrap_err();
    assert_eq!(e.to_string(), "Batch too large");
    assert!(
        t.rows("SELECT * FROM ks.t WHERE k = 3").is_empty(),
        "nothing of a failed batch is written"
    );
    t.store
        .batch(BatchType::Unlogged, &statements[..1], &Request::default())
        .unwrap();
    assert_eq!(t.rows("SELECT v FROM ks.t WHERE k = 3"), s(&[&["'c'"]]));
    let unknown = [BatchStatement::Prepared {
        id: [9; 16],
        values: BoundValues::None,
    }];
    assert!(matches!(
        t.store
            .batch(BatchType::Logged, &unknown, &Request::default()),
        Err(Error::Unprepared(_))
    ));
}

#[test]
fn system_tables_describe_the_node_and_every_table() {
    let t = T::new();
    t.keyspace();
    t.ok("CREATE TABLE ks.t (k int, c text, v set<int>, PRIMARY KEY (k, c)) WITH CLUSTERING ORDER BY (c DESC)");
    let local = rows(t.ok("SELECT * FROM system.local WHERE key = 'local'"));
    let col = |name: &str| local.columns.iter().position(|c| c.name == name).unwrap();
    let lit = literal_rows(&local);
    assert_eq!(lit.len(), 1);
    assert_eq!(lit[0][col("release_version")], "'4.1.0'");
    assert_eq!(
        lit[0][col("partitioner")],
        "'org.apache.cassandra.dht.Murmur3Partitioner'"
    );
    assert_eq!(local.columns[col("tokens")].ty.to_string(), "set<text>");
    assert_eq!(
        lit[0][col("schema_version")],
        t.store.schema_version().to_string(),
        "system.local carries the schema version"
    );
    assert!(t.rows("SELECT * FROM system.peers").is_empty());
    assert!(t.rows("SELECT * FROM system.peers_v2").is_empty());
    assert_eq!(
        t.rows("SELECT column_name, kind, position, clustering_order, type FROM system_schema.columns WHERE keyspace_name = 'ks' AND table_name = 't'"),
        s(&[
            &["'c'", "'clustering'", "0", "'desc'", "'text'"],
            &["'k'", "'partition_key'", "0", "'none'", "'int'"],
            &["'v'", "'regular'", "-1", "'none'", "'set<int>'"],
        ])
    );
    let req = Request {
        values: BoundValues::Positional(vec![BoundValue::Value(
            Value::List(vec![Value::Text("ks".into()), Value::Text("system".into())]).encode(),
        )]),
        page_size: Some(5),
        ..Request::default()
    };
    let p = t
        .store
        .prepare(
            "SELECT keyspace_name, table_name FROM system_schema.tables WHERE keyspace_name IN ?",
            None,
        )
        .unwrap();
    let mut tables = Vec::new();
    let mut req = req;
    loop {
        let r = rows(t.store.execute(&p, &req).unwrap());
        tables.extend(literal_rows(&r));
        match r.paging_state {
            Some(ps) => req.paging_state = Some(ps),
            None => break,
        }
    }
    assert!(tables.contains(&vec!["'ks'".to_string(), "'t'".to_string()]));
    assert!(tables.contains(&vec!["'system'".to_string(), "'local'".to_string()]));
    assert_eq!(tables.len(), 4);
    assert!(t
        .run("SELECT * FROM system_virtual_schema.keyspaces")
        .is_err());
    assert_eq!(
        t.err("SELECT keyspace_name, table_name, partitioner FROM system_schema.scylla_tables")
            .code(),
        0x2200
    );
}

#[test]
fn the_schema_version_follows_the_schema() {
    let t = T::new();
    let empty = t.store.schema_version();
    t.keyspace();
    let one = t.store.schema_version();
    assert_ne!(empty, one);
    t.ok("DROP KEYSPACE ks");
    assert_eq!(
        t.store.schema_version(),
        empty,
        "the same schema has the same version"
    );
    assert!(matches!(
        t.ok("CREATE KEYSPACE k2 WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 1}"),
        QueryResult::SchemaChange(c) if c.target == ChangeTarget::Keyspace("k2".into())
    ));
}

fn load_script(t: &T, script: &str) {
    for statement in fastdata_cql::parse_script(script).unwrap() {
        let text = statement.to_string();
        t.ok(&text);
    }
}

fn describe_schema(t: &T) -> String {
    let r = rows(t.ok("DESCRIBE SCHEMA"));
    r.rows
        .iter()
        .map(|row| String::from_utf8(row[3].as_ref().unwrap().to_vec()).unwrap())
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[test]
fn the_cassandra_schema_vector_loads_describes_back_and_loads_again() {
    let script = include_str!("../../../vectors/cassandra_schema.cql");
    let first = T::new();
    load_script(&first, script);
    let described = describe_schema(&first);
    // Every CREATE statement of the vector comes back exactly as Cassandra 5.0 prints it.
    for statement in script
        .split(";\n")
        .map(str::trim)
        .filter(|s| s.starts_with("CREATE"))
    {
        assert!(
            described.contains(&format!("{statement};")),
            "not described back:\n{statement}\n---\n{described}"
        );
    }
    let second = T::new();
    load_script(&second, &described);
    assert_eq!(describe_schema(&second), described);
}

#[test]
fn the_compaction_filter_purges_expired_cells_and_old_tombstones() {
    let clock = ManualClock::new(1_700_000_000_000_000);
    let t = T::with_clock(clock.clone());
    t.keyspace();
    t.ok("CREATE TABLE ks.t (k int, c int, v int, PRIMARY KEY (k, c)) WITH gc_grace_seconds = 10");
    t.ok("INSERT INTO ks.t (k, c, v) VALUES (1, 1, 1) USING TTL 5");
    for c in 0..3 {
        t.ok(&format!("INSERT INTO ks.t (k, c, v) VALUES (2, {c}, {c})"));
    }
    t.ok("DELETE FROM ks.t WHERE k = 2");
    let keys_of = |t: &T| {
        let catalog = t.store.catalog();
        let table = catalog.table("ks", "t").unwrap();
        let cf = t.store.inner.engine.table_cf(table.id).unwrap();
        let mut it = t.store.inner.engine.raw_iter(&cf, &[], None);
        it.seek_to_first();
        let mut n = 0;
        while it.valid() {
            n += 1;
            it.next();
        }
        n
    };
    assert_eq!(
        keys_of(&t),
        9,
        "the marker and cell of 4 rows, the partition tombstone"
    );
    t.store.compact("ks", "t").unwrap();
    assert_eq!(
        keys_of(&t),
        3,
        "the shadowed rows go at once; the tombstone and TTL cells stay"
    );
    clock.advance_seconds(20);
    t.store.compact("ks", "t").unwrap();
    assert_eq!(
        keys_of(&t),
        0,
        "past gc_grace, expired cells and the tombstone go"
    );
    assert!(t.rows("SELECT * FROM ks.t").is_empty());
}

#[test]
fn a_reopened_store_keeps_data_schema_and_identity() {
    let dir = tempfile::tempdir().unwrap();
    let (host, tokens, version) = {
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        let r = Request::default();
        store
            .query("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", &r)
            .unwrap();
        store
            .query("CREATE TABLE ks.t (k int PRIMARY KEY, v text)", &r)
            .unwrap();
        store
            .query("INSERT INTO ks.t (k, v) VALUES (1, 'kept')", &r)
            .unwrap();
        let id = store.identity();
        assert_eq!(id.tokens.len(), 16);
        (id.host_id, id.tokens, store.schema_version())
    };
    let t = T {
        store: Store::open(StoreConfig::new(dir.path())).unwrap(),
        _dir: dir,
    };
    assert_eq!(t.store.identity().host_id, host);
    assert_eq!(t.store.identity().tokens, tokens);
    assert_eq!(t.store.schema_version(), version);
    assert_eq!(t.rows("SELECT v FROM ks.t"), s(&[&["'kept'"]]));
    t.ok("TRUNCATE ks.t");
    assert!(t.rows("SELECT v FROM ks.t").is_empty());
    t.ok("INSERT INTO ks.t (k, v) VALUES (2, 'after') USING TIMESTAMP 1");
    assert_eq!(
        t.rows("SELECT v FROM ks.t"),
        s(&[&["'after'"]]),
        "writes after TRUNCATE stay, whatever their timestamp"
    );
}

#[test]
fn dropped_columns_do_not_come_back_when_re_added() {
    let t = T::new();
    t.keyspace();
    t.ok("CREATE TABLE ks.t (k int PRIMARY KEY, v text)");
    t.ok("INSERT INTO ks.t (k, v) VALUES (1, 'old')");
    t.ok("ALTER TABLE ks.t DROP v");
    assert_eq!(
        t.err("SELECT v FROM ks.t").to_string(),
        "Undefined column name v"
    );
    t.ok("ALTER TABLE ks.t ADD v text");
    assert_eq!(t.rows("SELECT v FROM ks.t"), s(&[&["null"]]));
    t.ok("ALTER TABLE ks.t WITH comment = 'c' AND gc_grace_seconds = 5");
    let d = rows(t.ok("DESCRIBE TABLE ks.t"));
    let text = String::from_utf8(d.rows[0][3].as_ref().unwrap().to_vec()).unwrap();
    assert!(
        text.contains("AND comment = 'c'") && text.contains("AND gc_grace_seconds = 5"),
        "{text}"
    );
}
