//! Fuzz target: untrusted CQL text, as a QUERY, a PREPARE or a `-f` script carries it, through
//! everything the node does with it before it touches storage. Nothing may panic, hang,
//! overflow the stack or allocate without bound, and:
//!
//! 1. `split_statements` and `parse_script` run on the input; every error renders, and a
//!    syntax error's position is inside the text (or just past its end).
//! 2. Every statement that parses prints as CQL that parses back to the same tree and prints
//!    the same again (the printer and the parser agree: DESCRIBE's output loads again).
//! 3. Every bind marker's receiver is typed against a fixed table, and every term the
//!    statement holds (values, relations, assignments, USING, LIMIT) is resolved against a
//!    spread of types (literal parsing, collection and tuple checks, function calls, casts)
//!    with no bound values: each gives a value or an error.
#![no_main]

use fastdata_cql::ast::*;
use fastdata_cql::bind::ColumnSpec;
use fastdata_cql::lexer::split_statements;
use fastdata_cql::resolve::Context;
use fastdata_cql::{parse_script, parse_statement, CqlError, CqlType};
use libfuzzer_sys::fuzz_target;

/// The types terms are resolved against.
const TYPES: [&str; 24] = [
    "ascii", "bigint", "blob", "boolean", "counter", "date", "decimal", "double", "float",
    "inet", "int", "smallint", "text", "time", "timestamp", "timeuuid", "tinyint", "uuid",
    "varint", "list<int>", "set<text>", "map<text, frozen<list<int>>>",
    "tuple<int, text, timestamp>", "frozen<set<frozen<tuple<int, blob>>>>",
];

/// The table bind markers are typed against: columns named after their type.
fn column_type(c: &Ident) -> Option<CqlType> {
    let name = c.as_str();
    TYPES
        .iter()
        .find(|t| t.split('<').next() == Some(name))
        .and_then(|t| CqlType::parse(t).ok())
}

fn check_error(text: &str, e: &CqlError) {
    let _ = e.to_string();
    if let Some((line, column)) = e.position() {
        let lines: Vec<&str> = text.split('\n').collect();
        assert!(line >= 1 && line <= lines.len(), "line {line} of {}: {e}", lines.len());
        let width = lines[line - 1].chars().count();
        assert!(column <= width, "column {column} of {width}: {e}");
    }
}

fn relation_terms(relations: &[Relation], out: &mut Vec<Term>) {
    for r in relations {
        match r {
            Relation::Column { predicate, .. } | Relation::Tuple { predicate, .. } => match predicate {
                Predicate::Compare(_, t) | Predicate::Contains(t) | Predicate::ContainsKey(t) => {
                    out.push(t.clone())
                }
                Predicate::In(InValues::Terms(ts)) => out.extend(ts.iter().cloned()),
                Predicate::In(InValues::Marker(_)) => {}
            },
            Relation::Element { key, value, .. } => out.extend([key.clone(), value.clone()]),
            Relation::Token { value, .. } => out.push(value.clone()),
        }
    }
}

fn using_terms(using: &[UsingParameter], out: &mut Vec<Term>) {
    for u in using {
        match u {
            UsingParameter::Ttl(t) | UsingParameter::Timestamp(t) => out.push(t.clone()),
        }
    }
}

fn modification_terms(m: &BatchStatement, out: &mut Vec<Term>) {
    match m {
        BatchStatement::Insert(i) => {
            out.extend(i.values.iter().cloned());
            using_terms(&i.using, out);
        }
        BatchStatement::Update(u) => {
            using_terms(&u.using, out);
            for a in &u.assignments {
                match a {
                    Assignment::Set { value, .. }
                    | Assignment::Add { value, .. }
                    | Assignment::Subtract { value, .. }
                    | Assignment::Prepend { value, .. } => out.push(value.clone()),
                    Assignment::SetElement { key, value, .. } => {
                        out.extend([key.clone(), value.clone()])
                    }
                }
            }
            relation_terms(&u.where_clause, out);
        }
        BatchStatement::Delete(d) => {
            out.extend(d.columns.iter().filter_map(|c| c.element.clone()));
            out.extend(d.timestamp.clone());
            relation_terms(&d.where_clause, out);
        }
    }
}

/// The terms a statement holds (not the ones inside function calls or collections: resolving
/// reaches those).
fn terms_of(s: &Statement) -> Vec<Term> {
    let mut out = Vec::new();
    match s {
        Statement::Insert(i) => modification_terms(&BatchStatement::Insert(i.clone()), &mut out),
        Statement::Update(u) => modification_terms(&BatchStatement::Update(u.clone()), &mut out),
        Statement::Delete(d) => modification_terms(&BatchStatement::Delete(d.clone()), &mut out),
        Statement::Batch(b) => {
            using_terms(&b.using, &mut out);
            for m in &b.statements {
                modification_terms(m, &mut out);
            }
        }
        Statement::Select(sel) => {
            relation_terms(&sel.where_clause, &mut out);
            out.extend(sel.per_partition_limit.clone());
            out.extend(sel.limit.clone());
        }
        _ => {}
    }
    out
}

fn check_statement(s: &Statement) {
    let printed = s.to_string();
    let again = match parse_statement(&printed) {
        Ok(again) => again,
        Err(e) => panic!("printed statement does not parse: {e}\n{printed}"),
    };
    assert_eq!(&again, s, "{printed}");
    assert_eq!(again.to_string(), printed);

    for u in s.bind_markers() {
        if let Ok(spec) = u.receiver.spec(&column_type) {
            let _ = spec.ty.to_string();
        }
    }
    let ctx = Context {
        values: &[],
        now_ms: 1_706_695_200_000,
    };
    let types: Vec<CqlType> = TYPES.iter().filter_map(|t| CqlType::parse(t).ok()).collect();
    for term in terms_of(s).iter().take(16) {
        let _ = term.as_token_call();
        for ty in &types {
            if let Err(e) = term.resolve(&ColumnSpec::new("c", ty.clone()), &ctx) {
                let _ = e.to_string();
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let split = split_statements(text);
    assert!(split.statements.iter().chain([&split.rest]).all(|s| text.contains(s)));
    match parse_script(text) {
        Ok(statements) => statements.iter().for_each(check_statement),
        Err(e) => check_error(text, &e),
    }
    match parse_statement(text) {
        Ok(s) => check_statement(&s),
        Err(e) => check_error(text, &e),
    }
});
