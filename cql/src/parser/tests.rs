//! Parser tests: every statement form, every literal kind, every error kind with its position,
//! the shared Cassandra 5.0 schema script, and what drivers and cqlsh send on connect. Each
//! statement that parses is also printed and parsed again to the same tree.

use super::*;
use crate::lexer::split_statements;

/// Parses, and checks that printing and parsing again gives the same statement.
fn parse(text: &str) -> Statement {
    let s = parse_statement(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let printed = s.to_string();
    let again = parse_statement(&printed).unwrap_or_else(|e| panic!("{printed}: {e}"));
    assert_eq!(again, s, "{text}\nprinted as\n{printed}");
    s
}

fn error(text: &str) -> String {
    match parse_statement(text) {
        Ok(s) => panic!("{text} parsed as {s:?}"),
        Err(e) => e.to_string(),
    }
}

fn ident(s: &str) -> Ident {
    Ident::new(s)
}

fn name(s: &str) -> QualifiedName {
    match s.split_once('.') {
        Some((ks, t)) => QualifiedName {
            keyspace: Some(ident(ks)),
            name: ident(t),
        },
        None => QualifiedName {
            keyspace: None,
            name: ident(s),
        },
    }
}

fn int(s: &str) -> Term {
    Term::Literal(Literal::Integer(s.into()))
}

fn string(s: &str) -> Term {
    Term::Literal(Literal::String(s.into()))
}

fn marker(index: usize) -> Term {
    Term::Bind(BindMarker { index, name: None })
}

fn eq(column: &str, value: Term) -> Relation {
    Relation::Column {
        column: ident(column),
        predicate: Predicate::Compare(Operator::Eq, value),
    }
}

fn select(text: &str) -> Select {
    match parse(text) {
        Statement::Select(s) => s,
        other => panic!("{other:?}"),
    }
}

fn update(text: &str) -> Update {
    match parse(text) {
        Statement::Update(s) => s,
        other => panic!("{other:?}"),
    }
}

fn create_table(text: &str) -> CreateTable {
    match parse(text) {
        Statement::CreateTable(s) => s,
        other => panic!("{other:?}"),
    }
}

/// The one term of `SELECT * FROM t WHERE k = <term>`.
fn term(text: &str) -> Term {
    let s = select(&format!("SELECT * FROM t WHERE k = {text}"));
    match &s.where_clause[..] {
        [Relation::Column {
            predicate: Predicate::Compare(Operator::Eq, t),
            ..
        }] => t.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn keyspace_statements() {
    let s = parse(
        "CREATE KEYSPACE IF NOT EXISTS Metro WITH replication = {'class': 'SimpleStrategy', \
         'replication_factor': 1} AND durable_writes = false",
    );
    let Statement::CreateKeyspace(ks) = s else {
        panic!("{s:?}")
    };
    assert!(ks.if_not_exists);
    assert_eq!(ks.name, ident("metro"));
    assert_eq!(ks.options.len(), 2);
    assert_eq!(
        ks.options[0].value,
        OptionValue::Map(vec![
            (
                Literal::String("class".into()),
                Literal::String("SimpleStrategy".into())
            ),
            (
                Literal::String("replication_factor".into()),
                Literal::Integer("1".into())
            ),
        ])
    );
    assert_eq!(
        ks.options[1],
        TableOption {
            name: ident("durable_writes"),
            value: OptionValue::Literal(Literal::Boolean(false)),
        }
    );
    assert!(matches!(
        parse(
            "CREATE SCHEMA ks WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': '3'}"
        ),
        Statement::CreateKeyspace(_)
    ));
    let Statement::AlterKeyspace(alter) =
        parse("ALTER KEYSPACE IF EXISTS ks WITH durable_writes = true")
    else {
        panic!()
    };
    assert!(alter.if_exists);
    assert_eq!(
        parse("DROP KEYSPACE IF EXISTS ks"),
        Statement::DropKeyspace(DropKeyspace {
            if_exists: true,
            name: ident("ks"),
        })
    );
    assert_eq!(
        parse("drop schema ks"),
        Statement::DropKeyspace(DropKeyspace {
            if_exists: false,
            name: ident("ks"),
        })
    );
    assert_eq!(parse("USE \"MyKs\""), Statement::Use(ident("MyKs")));
    assert_eq!(parse("use ks;"), Statement::Use(ident("ks")));
    assert_eq!(
        error("CREATE KEYSPACE ks WITH replication = {'a': 1, 'a': 2}"),
        "line 1:47 Multiple definition for property a"
    );
    assert_eq!(
        error("CREATE KEYSPACE ks WITH durable_writes = true AND durable_writes = false"),
        "line 1:50 Multiple definition for property durable_writes"
    );
}

#[test]
fn create_table_with_every_key_shape_and_option() {
    let t = create_table("CREATE TABLE t (k int PRIMARY KEY, v text)");
    assert_eq!(t.primary_key.partition_key, [ident("k")]);
    assert!(t.primary_key.clustering.is_empty());
    let t = create_table(
        "CREATE TABLE IF NOT EXISTS ks.t (a int, b text, c timeuuid, d int, s text STATIC, \
         m map<text, frozen<list<int>>>, PRIMARY KEY ((a, b), c, d)) \
         WITH CLUSTERING ORDER BY (c DESC, d ASC) AND comment = 'it''s' \
         AND gc_grace_seconds = 10 AND bloom_filter_fp_chance = 0.01 AND cdc = false \
         AND caching = {'keys': 'ALL'} AND extensions = {} AND speculative_retry = NONE",
    );
    assert!(t.if_not_exists);
    assert_eq!(t.name, name("ks.t"));
    assert_eq!(t.primary_key.partition_key, [ident("a"), ident("b")]);
    assert_eq!(t.primary_key.clustering, [ident("c"), ident("d")]);
    assert_eq!(
        t.clustering_order,
        [(ident("c"), true), (ident("d"), false)]
    );
    assert!(t.columns[4].is_static);
    assert_eq!(t.columns[5].ty.to_string(), "map<text, frozen<list<int>>>");
    let values: Vec<String> = t.options.iter().map(|o| o.to_string()).collect();
    assert_eq!(
        values,
        [
            "comment = 'it''s'",
            "gc_grace_seconds = 10",
            "bloom_filter_fp_chance = 0.01",
            "cdc = false",
            "caching = {'keys': 'ALL'}",
            "extensions = {}",
            "speculative_retry = none",
        ]
    );
    // A single partition key column in the PRIMARY KEY clause, and a trailing comma.
    let t = create_table("CREATE TABLE t (k int, c int, PRIMARY KEY (k, c),)");
    assert_eq!(t.primary_key.partition_key, [ident("k")]);
    assert_eq!(t.primary_key.clustering, [ident("c")]);
    let t = create_table("CREATE COLUMNFAMILY t (k int, PRIMARY KEY ((k)))");
    assert_eq!(t.primary_key.partition_key, [ident("k")]);
    // Tuples and frozen collections freeze what is inside them, as Cassandra does.
    let t = create_table(
        "CREATE TABLE t (k int PRIMARY KEY, a tuple<int, list<text>>, b frozen<map<int, set<int>>>)",
    );
    assert_eq!(
        t.columns[1].ty.to_string(),
        "frozen<tuple<int, frozen<list<text>>>>"
    );
    assert_eq!(
        t.columns[2].ty.to_string(),
        "frozen<map<int, frozen<set<int>>>>"
    );
}

#[test]
fn create_table_errors_are_cassandras() {
    assert_eq!(
        error("CREATE TABLE t (k int, v int)"),
        "No PRIMARY KEY specifed for table 't' (exactly one required)"
    );
    assert_eq!(
        error("CREATE TABLE t (k int PRIMARY KEY, v int PRIMARY KEY)"),
        "Multiple PRIMARY KEYs specified (exactly one required)"
    );
    assert_eq!(
        error("CREATE TABLE t (k int PRIMARY KEY, PRIMARY KEY (k))"),
        "Multiple PRIMARY KEYs specified (exactly one required)"
    );
    assert_eq!(
        error("CREATE TABLE t (k int, PRIMARY KEY (k, x))"),
        "Unknown definition x referenced in PRIMARY KEY"
    );
    assert_eq!(
        error("CREATE TABLE t (k int PRIMARY KEY) WITH COMPACT STORAGE"),
        "Compact tables are not allowed in Cassandra starting with 4.0 version."
    );
    assert_eq!(
        error("CREATE TABLE t (k int PRIMARY KEY, l list<list<int>>)"),
        "Non-frozen collections are not allowed inside collections: list<list<int>>"
    );
    assert_eq!(
        error("CREATE TABLE t (k frozen<int> PRIMARY KEY)"),
        "frozen<> is only allowed on collections, tuples, and user-defined types"
    );
    assert_eq!(
        error("CREATE TABLE t (k ks.address PRIMARY KEY)"),
        "Unknown type ks.address"
    );
    assert_eq!(
        error("CREATE TABLE t (k duration PRIMARY KEY)"),
        "the duration type is not supported"
    );
    assert_eq!(
        error("CREATE TABLE t (k int PRIMARY KEY) WITH CLUSTERING ORDER BY (k)"),
        "line 1:62 no viable alternative at input ')' (...WITH CLUSTERING ORDER BY (k[)])"
    );
    assert_eq!(
        error("CREATE TABLE t (k int PRIMARY KEY, v map<int>)"),
        "line 1:44 mismatched input '>' expecting ',' (...PRIMARY KEY, v map<int[>]))"
    );
}

#[test]
fn alter_and_drop_table() {
    let alter = |text: &str| match parse(text) {
        Statement::AlterTable(a) => a,
        other => panic!("{other:?}"),
    };
    let a = alter("ALTER TABLE ks.t ADD v int");
    assert_eq!(
        a.action,
        AlterTableAction::Add {
            if_not_exists: false,
            columns: vec![ColumnDefinition {
                name: ident("v"),
                ty: CqlType::Int,
                is_static: false
            }],
        }
    );
    let a = alter("ALTER TABLE IF EXISTS t ADD IF NOT EXISTS (v int, s set<text> static)");
    assert!(a.if_exists);
    assert!(
        matches!(&a.action, AlterTableAction::Add { if_not_exists: true, columns } if columns.len() == 2 && columns[1].is_static)
    );
    assert_eq!(
        alter("ALTER TABLE t DROP IF EXISTS (a, b) USING TIMESTAMP 1000").action,
        AlterTableAction::Drop {
            if_exists: true,
            columns: vec![ident("a"), ident("b")],
            timestamp: Some(1000),
        }
    );
    assert_eq!(
        alter("ALTER TABLE t DROP v").action,
        AlterTableAction::Drop {
            if_exists: false,
            columns: vec![ident("v")],
            timestamp: None,
        }
    );
    assert_eq!(
        alter("ALTER TABLE t RENAME a TO b AND c TO \"D\"").action,
        AlterTableAction::Rename {
            if_exists: false,
            renames: vec![(ident("a"), ident("b")), (ident("c"), ident("D"))],
        }
    );
    let a = alter("ALTER TABLE t WITH default_time_to_live = 60 AND comment = 'x'");
    assert!(matches!(&a.action, AlterTableAction::With(o) if o.len() == 2));
    assert_eq!(
        error("ALTER TABLE t ALTER v TYPE bigint"),
        "Altering column types is no longer supported"
    );
    assert_eq!(
        parse("DROP TABLE IF EXISTS ks.t"),
        Statement::DropTable(DropTable {
            if_exists: true,
            name: name("ks.t"),
        })
    );
    assert_eq!(parse("TRUNCATE ks.t"), Statement::Truncate(name("ks.t")));
    assert_eq!(parse("TRUNCATE TABLE t"), Statement::Truncate(name("t")));
}

#[test]
fn insert_with_conditions_and_using() {
    let Statement::Insert(i) = parse(
        "INSERT INTO ks.t (k, v, \"Mixed\") VALUES (1, 'a', ?) IF NOT EXISTS \
         USING TIMESTAMP 123 AND TTL :ttl",
    ) else {
        panic!()
    };
    assert_eq!(i.table, name("ks.t"));
    assert_eq!(i.columns, [ident("k"), ident("v"), ident("Mixed")]);
    assert_eq!(i.values, [int("1"), string("a"), marker(0)]);
    assert!(i.if_not_exists);
    assert_eq!(
        i.using,
        [
            UsingParameter::Timestamp(int("123")),
            UsingParameter::Ttl(Term::Bind(BindMarker {
                index: 1,
                name: Some(ident("ttl"))
            })),
        ]
    );
    assert_eq!(
        using_ttl(&i.using),
        Some(&Term::Bind(BindMarker {
            index: 1,
            name: Some(ident("ttl"))
        }))
    );
    assert_eq!(using_timestamp(&i.using), Some(&int("123")));
    assert!(parse("INSERT INTO t (k) VALUES (1) IF NOT EXISTS").is_conditional());
    assert!(!parse("INSERT INTO t (k) VALUES (1) USING TTL 10").is_conditional());
    assert_eq!(
        error("INSERT INTO t (a, b) VALUES (1)"),
        "Unmatched column names/values"
    );
    assert_eq!(
        error("INSERT INTO t JSON '{}'"),
        "INSERT JSON is not supported"
    );
    assert_eq!(
        error("INSERT INTO t (k) VALUES (1) USING TTL 1 IF NOT EXISTS"),
        "line 1:41 mismatched input 'IF' expecting EOF (...(1) USING TTL 1 [IF] NOT...)"
    );
}

#[test]
fn update_assignments_of_every_form() {
    let u = update(
        "UPDATE t USING TTL 10 SET a = 1, c = c + 1, l = l - [1], l = [0] + l, m['k'] = 'v', \
         s = s + {'x'}, m = m + {'a': 1}, n += 2, n -= 3, n = n -4 WHERE k = 0",
    );
    assert_eq!(u.using, [UsingParameter::Ttl(int("10"))]);
    let a = |c: &str| ident(c);
    assert_eq!(
        u.assignments,
        [
            Assignment::Set {
                column: a("a"),
                value: int("1")
            },
            Assignment::Add {
                column: a("c"),
                value: int("1")
            },
            Assignment::Subtract {
                column: a("l"),
                value: Term::List(vec![int("1")])
            },
            Assignment::Prepend {
                column: a("l"),
                value: Term::List(vec![int("0")])
            },
            Assignment::SetElement {
                column: a("m"),
                key: string("k"),
                value: string("v")
            },
            Assignment::Add {
                column: a("s"),
                value: Term::Set(vec![string("x")])
            },
            Assignment::Add {
                column: a("m"),
                value: Term::Map(vec![(string("a"), int("1"))])
            },
            Assignment::Add {
                column: a("n"),
                value: int("2")
            },
            Assignment::Subtract {
                column: a("n"),
                value: int("3")
            },
            Assignment::Add {
                column: a("n"),
                value: int("-4")
            },
        ]
    );
    assert_eq!(u.where_clause, [eq("k", int("0"))]);
    assert_eq!(u.assignments[0].column(), &ident("a"));
    // A function call on the right is a value, not a column.
    let u = update("UPDATE t SET ts = now() WHERE k = 1");
    assert!(matches!(
        &u.assignments[0],
        Assignment::Set {
            value: Term::Function { .. },
            ..
        }
    ));
    assert_eq!(
        error("UPDATE t SET a = b + 1 WHERE k = 0"),
        "line 1:17 Only expressions of the form X = X +<value> are supported."
    );
    assert_eq!(
        error("UPDATE t SET a = b -1 WHERE k = 0"),
        "line 1:17 Only expressions of the form X = X - <value> are supported."
    );
    assert_eq!(
        error("UPDATE t SET a = [1] + b WHERE k = 0"),
        "line 1:23 Only expressions of the form X = <value> + X are supported."
    );
    assert_eq!(
        error("UPDATE t SET a = 1"),
        "line 1:18 mismatched input '<EOF>' expecting K_WHERE (... t SET a = [1])"
    );
}

#[test]
fn update_and_delete_conditions() {
    let u = update("UPDATE t SET v = 1 WHERE k = 0 IF EXISTS");
    assert_eq!(u.condition, Some(UpdateCondition::Exists));
    let u = update(
        "UPDATE t SET v = 1 WHERE k = 0 IF v = 2 AND m['a'] > 3 AND w IN (1, 2) AND l[0] IN ?",
    );
    let Some(UpdateCondition::Columns(c)) = &u.condition else {
        panic!()
    };
    assert_eq!(c.len(), 4);
    assert_eq!(c[1].element, Some(string("a")));
    assert_eq!(c[1].predicate, Predicate::Compare(Operator::Gt, int("3")));
    assert_eq!(
        c[2].predicate,
        Predicate::In(InValues::Terms(vec![int("1"), int("2")]))
    );
    assert_eq!(
        c[3].predicate,
        Predicate::In(InValues::Marker(BindMarker {
            index: 0,
            name: None
        }))
    );
    assert!(parse("UPDATE t SET v = 1 WHERE k = 0 IF v = 2").is_conditional());
    let Statement::Delete(d) =
        parse("DELETE v, m['k'], l[?] FROM ks.t USING TIMESTAMP 5 WHERE k = 1 AND c > 2 IF EXISTS")
    else {
        panic!()
    };
    assert_eq!(d.columns.len(), 3);
    assert_eq!(d.columns[1].element, Some(string("k")));
    assert_eq!(d.columns[2].element, Some(marker(0)));
    assert_eq!(d.timestamp, Some(int("5")));
    assert_eq!(d.condition, Some(UpdateCondition::Exists));
    let Statement::Delete(d) = parse("DELETE FROM t WHERE k IN (1, 2)") else {
        panic!()
    };
    assert!(d.columns.is_empty() && d.condition.is_none());
    assert_eq!(
        error("DELETE FROM t USING TTL 5 WHERE k = 1"),
        "line 1:20 mismatched input 'TTL' expecting K_TIMESTAMP (DELETE FROM t USING [TTL] 5...)"
    );
}

#[test]
fn batches_logged_unlogged_and_counter() {
    let Statement::Batch(b) = parse(
        "BEGIN BATCH USING TIMESTAMP 1\n INSERT INTO t (k) VALUES (?);\n UPDATE t SET v = ? WHERE k = ?\n \
         DELETE FROM t WHERE k = ?;\nAPPLY BATCH",
    ) else {
        panic!()
    };
    assert_eq!(b.kind, BatchKind::Logged);
    assert_eq!(b.using, [UsingParameter::Timestamp(int("1"))]);
    assert_eq!(b.statements.len(), 3);
    let Statement::Batch(b) = parse("BEGIN UNLOGGED BATCH APPLY BATCH") else {
        panic!()
    };
    assert_eq!(b.kind, BatchKind::Unlogged);
    let Statement::Batch(b) =
        parse("begin logged batch insert into t (k) values (1); apply batch;")
    else {
        panic!()
    };
    assert_eq!(b.kind, BatchKind::Logged);
    let Statement::Batch(b) =
        parse("BEGIN COUNTER BATCH UPDATE t SET c = c + 1 WHERE k = 1; APPLY BATCH")
    else {
        panic!()
    };
    assert_eq!(b.kind, BatchKind::Counter);
    assert!(
        parse("BEGIN BATCH INSERT INTO t (k) VALUES (1) IF NOT EXISTS APPLY BATCH")
            .is_conditional()
    );
    assert_eq!(
        error("BEGIN BATCH SELECT * FROM t; APPLY BATCH"),
        "line 1:12 mismatched input 'SELECT' expecting K_APPLY (BEGIN BATCH [SELECT] *...)"
    );
}

#[test]
fn select_selectors() {
    let s = select(
        "SELECT k, \"Value\" AS v, token(a, b), writetime(c), ttl(c), count(*), count(1) AS n, \
         maxwritetime(c), CAST(x AS text), ks.f(a, 'x'), now() FROM ks.t",
    );
    let exprs: Vec<&SelectorExpr> = s.selectors.iter().map(|s| &s.expr).collect();
    assert_eq!(exprs[0], &SelectorExpr::Column(ident("k")));
    assert_eq!(s.selectors[1].alias, Some(ident("v")));
    assert_eq!(exprs[1], &SelectorExpr::Column(ident("Value")));
    assert_eq!(
        exprs[2],
        &SelectorExpr::Function {
            name: name("token"),
            args: vec![
                SelectorExpr::Column(ident("a")),
                SelectorExpr::Column(ident("b"))
            ],
        }
    );
    assert_eq!(exprs[3], &SelectorExpr::WriteTime(ident("c")));
    assert_eq!(exprs[4], &SelectorExpr::Ttl(ident("c")));
    assert_eq!(exprs[5], &SelectorExpr::CountRows);
    assert_eq!(
        exprs[6],
        &SelectorExpr::Function {
            name: name("count"),
            args: vec![SelectorExpr::Term(int("1"))],
        }
    );
    assert_eq!(exprs[7], &SelectorExpr::MaxWriteTime(ident("c")));
    assert_eq!(
        exprs[8],
        &SelectorExpr::Cast {
            expr: Box::new(SelectorExpr::Column(ident("x"))),
            ty: CqlType::Text
        }
    );
    assert!(
        matches!(exprs[9], SelectorExpr::Function { name, .. } if name == &QualifiedName { keyspace: Some(ident("ks")), name: ident("f") })
    );
    assert_eq!(s.table, name("ks.t"));
    // Unreserved keywords are column names; so is a lone `distinct` or `json`.
    let s = select("SELECT key, ttl, writetime, type, distinct FROM t");
    assert_eq!(s.selectors.len(), 5);
    assert!(!s.distinct);
    assert_eq!(s.selectors[4].expr, SelectorExpr::Column(ident("distinct")));
    let s = select("SELECT DISTINCT k FROM t");
    assert!(s.distinct);
    assert!(select("SELECT * FROM t").selectors.is_empty());
    assert_eq!(
        error("SELECT JSON * FROM t"),
        "SELECT JSON is not supported"
    );
}

#[test]
fn select_relations_of_every_form() {
    let s = select(
        "SELECT * FROM t WHERE a = 1 AND b < 2 AND c <= 3 AND d > 4 AND e >= 5 AND f != 6 \
         AND g IN (1, 2) AND h IN ? AND i IN () AND j CONTAINS 'x' AND k CONTAINS KEY 'y' \
         AND m['k'] = 'v' AND token(a, b) > token(?, ?) AND token(a) <= 10 \
         AND token(a) >= token('abc') AND (c1, c2) > (1, 2) AND (c1, c2) IN ((1, 2), (3, 4)) \
         AND (c1, c2) < ? AND (c1, c2) IN ? AND (c1, c2) IN (?, ?) ALLOW FILTERING",
    );
    let r = &s.where_clause;
    assert_eq!(r.len(), 20);
    let ops: Vec<Operator> = r[..6]
        .iter()
        .map(|r| match r {
            Relation::Column {
                predicate: Predicate::Compare(op, _),
                ..
            } => *op,
            other => panic!("{other:?}"),
        })
        .collect();
    use Operator::*;
    assert_eq!(ops, [Eq, Lt, Lte, Gt, Gte, Neq]);
    assert_eq!(
        r[6],
        Relation::Column {
            column: ident("g"),
            predicate: Predicate::In(InValues::Terms(vec![int("1"), int("2")]))
        }
    );
    assert_eq!(
        r[7],
        Relation::Column {
            column: ident("h"),
            predicate: Predicate::In(InValues::Marker(BindMarker {
                index: 0,
                name: None
            }))
        }
    );
    assert!(
        matches!(&r[8], Relation::Column { predicate: Predicate::In(InValues::Terms(t)), .. } if t.is_empty())
    );
    assert!(matches!(
        &r[9],
        Relation::Column {
            predicate: Predicate::Contains(_),
            ..
        }
    ));
    assert!(matches!(
        &r[10],
        Relation::Column {
            predicate: Predicate::ContainsKey(_),
            ..
        }
    ));
    assert_eq!(
        r[11],
        Relation::Element {
            column: ident("m"),
            key: string("k"),
            operator: Eq,
            value: string("v")
        }
    );
    let Relation::Token {
        columns,
        operator,
        value,
    } = &r[12]
    else {
        panic!()
    };
    assert_eq!(columns, &[ident("a"), ident("b")]);
    assert_eq!(*operator, Gt);
    assert_eq!(value.as_token_call(), Some(&[marker(1), marker(2)][..]));
    assert!(matches!(&r[13], Relation::Token { value, .. } if value == &int("10")));
    assert!(
        matches!(&r[14], Relation::Token { value, .. } if value.as_token_call() == Some(&[string("abc")][..]))
    );
    assert_eq!(
        r[15],
        Relation::Tuple {
            columns: vec![ident("c1"), ident("c2")],
            predicate: Predicate::Compare(Gt, Term::Tuple(vec![int("1"), int("2")])),
        }
    );
    assert!(
        matches!(&r[16], Relation::Tuple { predicate: Predicate::In(InValues::Terms(t)), .. } if t.len() == 2)
    );
    assert!(matches!(
        &r[17],
        Relation::Tuple {
            predicate: Predicate::Compare(Lt, Term::Bind(_)),
            ..
        }
    ));
    assert!(matches!(
        &r[18],
        Relation::Tuple {
            predicate: Predicate::In(InValues::Marker(_)),
            ..
        }
    ));
    assert!(
        matches!(&r[19], Relation::Tuple { predicate: Predicate::In(InValues::Terms(t)), .. } if t == &[marker(5), marker(6)])
    );
    assert!(s.allow_filtering);
}

#[test]
fn select_ordering_and_limits() {
    let s = select(
        "SELECT * FROM t WHERE k = ? ORDER BY c DESC, d ASC, e PER PARTITION LIMIT 2 LIMIT ?",
    );
    assert_eq!(
        s.order_by,
        [(ident("c"), true), (ident("d"), false), (ident("e"), false)]
    );
    assert_eq!(s.per_partition_limit, Some(int("2")));
    assert_eq!(s.limit, Some(marker(1)));
    assert_eq!(select("SELECT * FROM t LIMIT 10").limit, Some(int("10")));
    assert_eq!(
        error("SELECT * FROM t GROUP BY k"),
        "GROUP BY is not supported"
    );
    assert_eq!(
        error("SELECT * FROM t LIMIT 'a'"),
        "line 1:22 no viable alternative at input 'a' (SELECT * FROM t LIMIT ['a'])"
    );
}

#[test]
fn describe_in_every_form_cqlsh_sends() {
    let d = |text: &str| match parse(text) {
        Statement::Describe(d) => d,
        other => panic!("{other:?}"),
    };
    use DescribeTarget::*;
    for (text, target) in [
        ("DESCRIBE CLUSTER", Cluster),
        ("DESCRIBE SCHEMA", Schema { full: false }),
        ("DESC FULL SCHEMA", Schema { full: true }),
        ("DESCRIBE KEYSPACES", Keyspaces),
        (
            "DESCRIBE KEYSPACE",
            Keyspace {
                name: None,
                only: false,
            },
        ),
        (
            "DESCRIBE KEYSPACE ks",
            Keyspace {
                name: Some(ident("ks")),
                only: false,
            },
        ),
        (
            "DESCRIBE ONLY KEYSPACE ks",
            Keyspace {
                name: Some(ident("ks")),
                only: true,
            },
        ),
        ("DESCRIBE TABLES", Tables),
        ("DESCRIBE COLUMNFAMILIES", Tables),
        ("DESCRIBE TABLE ks.t", Table(name("ks.t"))),
        ("DESC COLUMNFAMILY t", Table(name("t"))),
        ("DESCRIBE INDEX ks.i", Index(name("ks.i"))),
        (
            "DESCRIBE MATERIALIZED VIEW ks.v",
            MaterializedView(name("ks.v")),
        ),
        ("DESCRIBE TYPES", Types),
        ("DESCRIBE TYPE ks.address", Type(name("ks.address"))),
        ("DESCRIBE FUNCTIONS", Functions),
        ("DESCRIBE FUNCTION ks.f", Function(name("ks.f"))),
        ("DESCRIBE AGGREGATES", Aggregates),
        ("DESCRIBE AGGREGATE ks.a", Aggregate(name("ks.a"))),
        ("DESCRIBE ks", Name(name("ks"))),
        ("DESCRIBE ks.t", Name(name("ks.t"))),
        ("DESC \"Ks\".\"T\"", Name(name("Ks.T"))),
        ("DESCRIBE type", Name(name("type"))),
        ("DESCRIBE only", Name(name("only"))),
    ] {
        assert_eq!(
            d(text),
            Describe {
                target,
                with_internals: false
            },
            "{text}"
        );
    }
    assert!(d("DESCRIBE KEYSPACE ks WITH INTERNALS").with_internals);
    assert!(d("DESCRIBE KEYSPACE WITH INTERNALS").with_internals);
    assert!(d("DESC TABLE t WITH INTERNALS").with_internals);
    assert_eq!(
        error("DESCRIBE KEYSPACE ?"),
        "line 1:18 Bind variables cannot be used for keyspace names"
    );
}

#[test]
fn literals_of_every_kind() {
    assert_eq!(term("'it''s'"), string("it's"));
    assert_eq!(
        term("$$it's; -- not a comment$$"),
        string("it's; -- not a comment")
    );
    assert_eq!(term("-42"), int("-42"));
    assert_eq!(term("1.5"), Term::Literal(Literal::Float("1.5".into())));
    assert_eq!(
        term("-1.5E-3"),
        Term::Literal(Literal::Float("-1.5E-3".into()))
    );
    assert_eq!(term("NaN"), Term::Literal(Literal::Float("NaN".into())));
    assert_eq!(
        term("-Infinity"),
        Term::Literal(Literal::Float("-Infinity".into()))
    );
    assert_eq!(term("TRUE"), Term::Literal(Literal::Boolean(true)));
    assert_eq!(term("0xCAFE"), Term::Literal(Literal::Hex("0xCAFE".into())));
    assert_eq!(
        term("123e4567-e89b-12d3-a456-426614174000"),
        Term::Literal(Literal::Uuid("123e4567-e89b-12d3-a456-426614174000".into()))
    );
    assert_eq!(term("null"), Term::Null);
    assert_eq!(term("NULL"), Term::Null);
    assert_eq!(term("?"), marker(0));
    assert_eq!(
        term(":\"Name\""),
        Term::Bind(BindMarker {
            index: 0,
            name: Some(ident("Name"))
        })
    );
}

#[test]
fn collection_tuple_function_cast_and_negation_terms() {
    assert_eq!(term("[1, 2]"), Term::List(vec![int("1"), int("2")]));
    assert_eq!(term("[]"), Term::List(vec![]));
    assert_eq!(term("{}"), Term::Set(vec![]));
    assert_eq!(
        term("{'a', 'b'}"),
        Term::Set(vec![string("a"), string("b")])
    );
    assert_eq!(
        term("{'a': [1], 'b': []}"),
        Term::Map(vec![
            (string("a"), Term::List(vec![int("1")])),
            (string("b"), Term::List(vec![]))
        ])
    );
    assert_eq!(
        term("(1, 'a', null)"),
        Term::Tuple(vec![int("1"), string("a"), Term::Null])
    );
    assert_eq!(
        term("toTimestamp(now())"),
        Term::Function {
            name: name("totimestamp"),
            args: vec![Term::Function {
                name: name("now"),
                args: vec![]
            }]
        }
    );
    assert_eq!(
        term("system.\"MyFn\"(?, 1)"),
        Term::Function {
            name: QualifiedName {
                keyspace: Some(ident("system")),
                name: ident("MyFn")
            },
            args: vec![marker(0), int("1")]
        }
    );
    assert_eq!(
        term("(int) ?"),
        Term::Cast {
            ty: CqlType::Int,
            term: Box::new(marker(0))
        }
    );
    assert_eq!(
        term("(frozen<list<int>>) [1]"),
        Term::Cast {
            ty: CqlType::parse("frozen<list<int>>").unwrap(),
            term: Box::new(Term::List(vec![int("1")]))
        }
    );
    assert_eq!(term("- 5"), Term::Negate(Box::new(int("5"))));
    assert_eq!(term("-?"), Term::Negate(Box::new(marker(0))));
    assert_eq!(term("[[1], [2, [3]]]").to_string(), "[[1], [2, [3]]]");
}

#[test]
fn identifiers_fold_case_and_print_quoted_when_needed() {
    let s = select(
        "SELECT MixedCase, \"MixedCase\", \"with \"\"quote\"\"\", \"select\", key FROM Ks.\"Tab\"",
    );
    let cols: Vec<String> = s.selectors.iter().map(|s| s.expr.to_string()).collect();
    assert_eq!(
        cols,
        [
            "mixedcase",
            "\"MixedCase\"",
            "\"with \"\"quote\"\"\"",
            "\"select\"",
            "key"
        ]
    );
    assert_eq!(s.table.to_string(), "ks.\"Tab\"");
    assert_eq!(Ident::new("1abc").to_string(), "\"1abc\"");
    assert_eq!(Ident::new("a_1").to_string(), "a_1");
    assert_eq!(
        error("SELECT * FROM t WHERE from = 1"),
        "line 1:22 no viable alternative at input 'from' (SELECT * FROM t WHERE [from] =...)"
    );
}

#[test]
fn syntax_errors_have_cassandras_position_and_snippet() {
    for (text, message) in [
        (
            "SELECT * FORM t",
            "line 1:9 mismatched input 'FORM' expecting K_FROM (SELECT * [FORM] t)",
        ),
        (
            "SELEC * FROM t",
            "line 1:0 no viable alternative at input 'SELEC' ([SELEC] *...)",
        ),
        (
            "SELECT a, b, FROM t",
            "line 1:13 no viable alternative at input 'FROM' (SELECT a, b, [FROM] t)",
        ),
        (
            "SELECT * FROM",
            "line 1:13 no viable alternative at input '<EOF>' (SELECT * [FROM])",
        ),
        (
            "SELECT * FROM t garbage",
            "line 1:16 mismatched input 'garbage' expecting EOF (SELECT * FROM t [garbage])",
        ),
        (
            "SELECT * FROM t WHERE k = FROM",
            "line 1:26 no viable alternative at input 'FROM' (...FROM t WHERE k = [FROM])",
        ),
        (
            "INSERT INTO t (k) VALUES (1",
            "line 1:27 mismatched input '<EOF>' expecting ')' (...t (k) VALUES ([1])",
        ),
        (
            "SELECT *\nFROM t\nWHERE k = =",
            "line 3:10 no viable alternative at input '=' (...FROM tWHERE k = [=])",
        ),
        ("", "line 1:0 no viable alternative at input '<EOF>'"),
        (
            "SELECT 'open",
            "line 1:12 mismatched character '<EOF>' expecting '''",
        ),
        (
            "SELECT # FROM t",
            "line 1:7 no viable alternative at character '#'",
        ),
        (
            "SELECT * FROM ?",
            "line 1:14 Bind variables cannot be used for table names",
        ),
        (
            "CREATE TABLE ks.? (k int PRIMARY KEY)",
            "line 1:16 Bind variables cannot be used for table names",
        ),
    ] {
        let e = parse_statement(text).unwrap_err();
        assert!(e.is_syntax(), "{text}");
        assert_eq!(e.to_string(), message, "{text}");
    }
    let e = parse_statement("SELECT *\n  FORM t").unwrap_err();
    assert_eq!(e.position(), Some((2, 2)));
}

#[test]
fn unsupported_statements_say_so() {
    for (text, what) in [
        ("CREATE INDEX ON t (v)", "CREATE INDEX"),
        ("CREATE CUSTOM INDEX i ON t (v) USING 'x'", "CREATE CUSTOM INDEX"),
        ("CREATE TYPE ks.address (street text)", "CREATE TYPE"),
        ("CREATE OR REPLACE FUNCTION f() RETURNS NULL ON NULL INPUT RETURNS int LANGUAGE java AS ''", "CREATE OR REPLACE"),
        ("CREATE MATERIALIZED VIEW v AS SELECT * FROM t", "CREATE MATERIALIZED VIEW"),
        ("DROP INDEX i", "DROP INDEX"),
        ("DROP TYPE t", "DROP TYPE"),
        ("ALTER TYPE t ADD f int", "ALTER TYPE"),
        ("CREATE ROLE r", "CREATE ROLE"),
        ("GRANT SELECT ON ks.t TO r", "GRANT"),
        ("LIST ROLES", "LIST"),
    ] {
        let e = parse_statement(text).unwrap_err();
        assert_eq!(e, CqlError::Unsupported(what.into()), "{text}");
        assert!(!e.is_syntax());
    }
}

#[test]
fn bounds_are_enforced_with_clear_errors() {
    let deep = format!(
        "SELECT * FROM t WHERE k = {}1{}",
        "[".repeat(100),
        "]".repeat(100)
    );
    let e = parse_statement(&deep).unwrap_err();
    assert!(
        matches!(
            e,
            CqlError::TooDeep {
                line: 1,
                max: MAX_NESTING_DEPTH,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("nesting deeper than 64 levels"));
    let deep_type = format!(
        "CREATE TABLE t (k {}int{} PRIMARY KEY)",
        "frozen<list<".repeat(40),
        ">>".repeat(40)
    );
    assert!(matches!(
        parse_statement(&deep_type),
        Err(CqlError::TooDeep { .. })
    ));
    let nested_calls = format!("SELECT {}k{} FROM t", "f(".repeat(100), ")".repeat(100));
    assert!(matches!(
        parse_statement(&nested_calls),
        Err(CqlError::TooDeep { .. })
    ));
    // Within the bound, nesting is fine: 63 list levels and the number inside them.
    let nest = |n: usize| {
        format!(
            "SELECT * FROM t WHERE k = {}1{}",
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    parse(&nest(63));
    assert_eq!(
        parse_statement(&nest(64)).unwrap_err(),
        CqlError::TooDeep {
            line: 1,
            column: 90,
            max: MAX_NESTING_DEPTH
        }
    );

    let big = format!(
        "SELECT * FROM t WHERE k IN ({})",
        vec!["1"; MAX_COLLECTION_LITERAL_ELEMENTS + 1].join(",")
    );
    let e = parse_statement(&big).unwrap_err();
    assert_eq!(
        e,
        CqlError::CollectionTooLarge {
            line: 1,
            column: 28,
            max: MAX_COLLECTION_LITERAL_ELEMENTS
        }
    );
    let set = format!(
        "INSERT INTO t (k) VALUES ({{{}}})",
        vec!["1"; MAX_COLLECTION_LITERAL_ELEMENTS + 1].join(",")
    );
    assert!(matches!(
        parse_statement(&set),
        Err(CqlError::CollectionTooLarge { .. })
    ));

    let markers = format!(
        "SELECT * FROM t WHERE k IN ({})",
        vec!["?"; 40_000].join(",")
    );
    let two = format!("{markers} AND c IN ({})", vec!["?"; 30_000].join(","));
    assert_eq!(
        parse_statement(&two).unwrap_err(),
        CqlError::TooManyMarkers {
            count: 70_000,
            max: MAX_BIND_MARKERS
        }
    );
    let long = format!(
        "SELECT * FROM t WHERE k = '{}'",
        "x".repeat(MAX_STATEMENT_BYTES)
    );
    assert!(matches!(
        parse_statement(&long),
        Err(CqlError::StatementTooLong {
            max: MAX_STATEMENT_BYTES,
            ..
        })
    ));
}

#[test]
fn scripts_with_comments_and_several_statements() {
    let script = "-- a comment\nCREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};\n\
                  // another\nUSE ks; /* block ; comment */\n\
                  BEGIN BATCH INSERT INTO t (k) VALUES (?); INSERT INTO t (k) VALUES (?); APPLY BATCH;;\n\
                  SELECT * FROM t WHERE k = ?";
    let statements = parse_script(script).unwrap();
    assert_eq!(statements.len(), 4);
    // Markers are numbered per statement.
    assert!(
        matches!(&statements[3], Statement::Select(s) if s.where_clause == [eq("k", marker(0))])
    );
    let e = parse_script("USE ks;\nSELECT * FORM t;").unwrap_err();
    assert_eq!(e.position(), Some((2, 9)));
    assert_eq!(
        parse_script("USE ks USE ks").unwrap_err().to_string(),
        "line 1:7 mismatched input 'USE' expecting ';' (USE ks [USE] ks)"
    );
    assert!(parse_script("  -- nothing\n ; ;").unwrap().is_empty());
}

/// The schema script in Cassandra 5.0's DESCRIBE form parses unchanged, and each statement
/// prints back exactly as written (DESCRIBE's layout), so what DESCRIBE prints loads again.
#[test]
fn cassandra_5_describe_script_parses_and_prints_back_exactly() {
    let script = include_str!("../../../vectors/cassandra_schema.cql");
    let statements = parse_script(script).unwrap();
    assert_eq!(statements.len(), 5);
    let texts = split_statements(script).statements;
    assert_eq!(texts.len(), statements.len());
    for (text, statement) in texts.iter().zip(&statements) {
        assert_eq!(&statement.to_string(), text);
        assert_eq!(&parse(text), statement);
    }
    let Statement::CreateTable(t) = &statements[2] else {
        panic!()
    };
    assert_eq!(t.options.len(), 19);
    assert_eq!(
        t.clustering_order,
        [(ident("reported_at"), true), (ident("vehicle_id"), false)]
    );
    let Statement::CreateTable(t) = &statements[4] else {
        panic!()
    };
    assert!(t.columns[3].is_static);
}

/// What python-driver, cqlsh and the scylla driver send on connect (kv.md §3.3).
#[test]
fn driver_connect_queries_parse() {
    for text in [
        "SELECT * FROM system.peers_v2",
        "SELECT * FROM system.peers",
        "SELECT * FROM system.local WHERE key='local'",
        "select * from system.local where key = 'local'",
        "SELECT * FROM system_schema.keyspaces",
        "SELECT * FROM system_schema.tables",
        "SELECT * FROM system_schema.columns",
        "SELECT * FROM system_schema.types",
        "SELECT * FROM system_schema.functions",
        "SELECT * FROM system_schema.aggregates",
        "SELECT * FROM system_schema.triggers",
        "SELECT * FROM system_schema.indexes",
        "SELECT * FROM system_schema.views",
        "SELECT * FROM system_virtual_schema.keyspaces",
        "SELECT schema_version FROM system.local WHERE key='local'",
        "SELECT peer, host_id, rpc_address, schema_version FROM system.peers",
        "SELECT host_id, rpc_address, data_center, rack, tokens FROM system.peers",
        "SELECT host_id, rpc_address, data_center, rack, tokens, cluster_name FROM system.local WHERE key='local'",
        "SELECT keyspace_name, replication, durable_writes FROM system_schema.keyspaces",
        "SELECT keyspace_name, table_name FROM system_schema.tables",
        "SELECT keyspace_name, view_name, base_table_name FROM system_schema.views",
        "SELECT keyspace_name, table_name, column_name, kind, position, type FROM system_schema.columns",
        "SELECT keyspace_name, type_name, field_names, field_types FROM system_schema.types",
        "SELECT keyspace_name, table_name, column_name, kind, position, type FROM system_schema.columns where keyspace_name in ?",
        "SELECT keyspace_name, table_name, partitioner FROM system_schema.scylla_tables",
        "SELECT keyspace_name, initial_tablets FROM system_schema.scylla_keyspaces",
        "SELECT host_id FROM system.local",
        "DESCRIBE KEYSPACES;",
        "SELECT * FROM ks.usertable WHERE token(y_id) >= token(?) LIMIT ?",
        "SELECT * FROM t WHERE pk = ? AND ck >= ? AND ck < ?",
        "SELECT * FROM t WHERE pk = ? AND ck IN (?, ?, ?)",
    ] {
        parse(text);
    }
    let s = select("SELECT * FROM system.local WHERE key='local'");
    assert_eq!(s.table, name("system.local"));
    assert_eq!(s.where_clause, [eq("key", string("local"))]);
    let s = select("SELECT keyspace_name FROM system_schema.columns where keyspace_name in ?");
    assert!(matches!(
        &s.where_clause[0],
        Relation::Column {
            predicate: Predicate::In(InValues::Marker(_)),
            ..
        }
    ));
}

/// Unreserved keywords are names too; where both readings are possible, the parser decides as
/// Cassandra's grammar does (found by the print/parse property test).
#[test]
fn keywords_that_are_also_names() {
    let u = update("UPDATE t SET v = 1 WHERE k = 0 IF exists = 1");
    assert!(
        matches!(&u.condition, Some(UpdateCondition::Columns(c)) if c[0].column == ident("exists"))
    );
    let u = update("UPDATE t SET v = 1 WHERE k = 0 IF exists[0] = 1 AND exists IN (1)");
    assert!(matches!(&u.condition, Some(UpdateCondition::Columns(c)) if c.len() == 2));
    let s = select("SELECT * FROM t WHERE c CONTAINS key.f()");
    assert!(matches!(
        &s.where_clause[0],
        Relation::Column {
            predicate: Predicate::Contains(Term::Function { .. }),
            ..
        }
    ));
    let s = select("SELECT * FROM t WHERE c CONTAINS KEY (ascii) ''");
    assert!(matches!(
        &s.where_clause[0],
        Relation::Column {
            predicate: Predicate::ContainsKey(Term::Cast { .. }),
            ..
        }
    ));
    // A function named like a selector keyword prints quoted, so it stays a function.
    let f = SelectorExpr::Function {
        name: name("writetime"),
        args: vec![SelectorExpr::Column(ident("c"))],
    };
    assert_eq!(f.to_string(), "\"writetime\"(c)");
    let s = select(&format!("SELECT {f} FROM t"));
    assert_eq!(s.selectors[0].expr, f);
    assert_eq!(term("token(1)").to_string(), "token(1)");
}
