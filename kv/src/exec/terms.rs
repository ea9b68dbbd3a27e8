//! Statements in, values out: parsing, the request's bound values matched to the statement's
//! bind markers (by position or by name, with Cassandra's count check), terms resolved against
//! their receivers, table lookups with Cassandra's errors, and a prepared statement's metadata
//! (bind columns named as Cassandra names them, `pk_indexes` for token-aware routing).

use std::sync::Arc;

use fastdata_cql::ast::{
    BatchStatement, Insert, Operator, Predicate, QualifiedName, Relation, Statement, Term,
};
use fastdata_cql::bind::ColumnSpec as CqlSpec;
use fastdata_cql::resolve::{BoundValue as Bound, Context, Resolved};
use fastdata_cql::{CqlError, CqlType};

use super::{system, Store};
use crate::api::{BoundValue, BoundValues, ColumnSpec, Error, Prepared};
use crate::schema::{Catalog, ColumnKind, Table};

/// A statement error as the protocol reports it: Syntax (0x2000) or Invalid (0x2200).
pub fn cql_error(e: CqlError) -> Error {
    if e.is_syntax() {
        Error::Syntax(e.to_string())
    } else {
        Error::Invalid(e.to_string())
    }
}

pub(super) fn parse(query: &str) -> Result<Statement, Error> {
    fastdata_cql::parse_statement(query).map_err(cql_error)
}

/// A table a statement names: a user table or one of the node's system tables.
#[derive(Debug, Clone)]
pub(super) struct TableRef {
    pub table: Arc<Table>,
    pub is_system: bool,
}

/// The keyspace a name lives in: its own, else the session's.
pub(super) fn keyspace_of<'a>(
    name: &'a QualifiedName,
    default: Option<&'a str>,
) -> Result<&'a str, Error> {
    match (&name.keyspace, default) {
        (Some(k), _) => Ok(k.as_str()),
        (None, Some(d)) => Ok(d),
        (None, None) => Err(Error::Invalid(
            "No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename".into(),
        )),
    }
}

/// Look a table up, with Cassandra's errors for a missing keyspace or table.
pub(super) fn lookup_table(
    catalog: &Catalog,
    name: &QualifiedName,
    default: Option<&str>,
) -> Result<TableRef, Error> {
    let ks = keyspace_of(name, default)?;
    let table = name.name.as_str();
    if system::is_system_keyspace(ks) {
        return system::table(ks, table)
            .map(|t| TableRef {
                table: t,
                is_system: true,
            })
            .ok_or_else(|| Error::Invalid(format!("unconfigured table {table}")));
    }
    if !catalog.keyspaces.contains_key(ks) {
        return Err(Error::Invalid(format!("Keyspace '{ks}' does not exist")));
    }
    catalog
        .table(ks, table)
        .map(|t| TableRef {
            table: t.clone(),
            is_system: false,
        })
        .ok_or_else(|| Error::Invalid(format!("unconfigured table {table}")))
}

/// The protocol's bound values in marker order. Named values go to the marker of that name
/// (or, for `?`, of its receiver's name); a marker without a value is unset.
pub(super) fn bind_values(
    store: &Store,
    statement: &Statement,
    keyspace: Option<&str>,
    values: &BoundValues,
) -> Result<Vec<Bound>, Error> {
    let markers = statement.bind_markers();
    let count = markers.len();
    let convert = |v: &BoundValue| match v {
        BoundValue::Null => Bound::Null,
        BoundValue::Unset => Bound::Unset,
        BoundValue::Value(b) => Bound::Value(b.clone()),
    };
    let mismatch = |given: usize| {
        Error::Invalid(format!(
            "There were {count} markers(?) in CQL but {given} bound variables"
        ))
    };
    match values {
        BoundValues::None if count == 0 => Ok(Vec::new()),
        BoundValues::None => Err(mismatch(0)),
        BoundValues::Positional(v) if v.len() != count => Err(mismatch(v.len())),
        BoundValues::Positional(v) => Ok(v.iter().map(convert).collect()),
        BoundValues::Named(v) => {
            if v.len() != count {
                return Err(mismatch(v.len()));
            }
            let specs = marker_specs(store, statement, keyspace)?;
            let mut out = vec![Bound::Unset; count];
            for (i, m) in markers.iter().enumerate() {
                let name = m
                    .marker
                    .name
                    .as_ref()
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_else(|| specs[i].name.clone());
                if let Some((_, value)) = v.iter().find(|(n, _)| *n == name) {
                    out[i] = convert(value);
                }
            }
            Ok(out)
        }
    }
}

/// The name and type of each bind marker, in order (a prepared statement's bind metadata).
pub(super) fn marker_specs(
    store: &Store,
    statement: &Statement,
    keyspace: Option<&str>,
) -> Result<Vec<ColumnSpec>, Error> {
    let catalog = store.catalog();
    let mut out = Vec::new();
    for m in statement.bind_markers() {
        let Some(qname) = m.table else {
            return Err(Error::Invalid("a bind marker outside any table".into()));
        };
        let t = lookup_table(&catalog, qname, keyspace)?;
        let column_type =
            |c: &fastdata_cql::ast::Ident| t.table.column(c.as_str()).map(|col| col.ty.clone());
        let spec = m.receiver.spec(&column_type).map_err(cql_error)?;
        out.push(ColumnSpec {
            keyspace: t.table.keyspace.clone(),
            table: t.table.name.clone(),
            name: spec.name,
            ty: spec.ty,
        });
    }
    Ok(out)
}

/// The index of the marker giving each partition key column its value by equality, when every
/// partition key column has one.
fn pk_indexes(table: &Table, statement: &Statement) -> Vec<u16> {
    let marker_of = |column: &str| -> Option<usize> {
        match statement {
            Statement::Insert(Insert {
                columns, values, ..
            }) => columns
                .iter()
                .zip(values)
                .find(|(c, _)| c.as_str() == column)
                .and_then(|(_, v)| match v {
                    Term::Bind(m) => Some(m.index),
                    _ => None,
                }),
            Statement::Update(u) => eq_marker(&u.where_clause, column),
            Statement::Delete(d) => eq_marker(&d.where_clause, column),
            Statement::Select(s) => eq_marker(&s.where_clause, column),
            _ => None,
        }
    };
    let mut out = Vec::new();
    for c in table.partition_key() {
        match marker_of(&c.name).and_then(|i| u16::try_from(i).ok()) {
            Some(i) => out.push(i),
            None => return Vec::new(),
        }
    }
    out
}

fn eq_marker(relations: &[Relation], column: &str) -> Option<usize> {
    let mut found = None;
    for r in relations {
        if let Relation::Column {
            column: c,
            predicate: Predicate::Compare(Operator::Eq, Term::Bind(m)),
        } = r
        {
            if c.as_str() == column {
                if found.is_some() {
                    return None;
                }
                found = Some(m.index);
            }
        }
    }
    found
}

impl Store {
    /// The Prepared result of a parsed statement.
    pub(super) fn describe_prepared(
        &self,
        id: [u8; 16],
        query: &str,
        keyspace: Option<&str>,
        statement: &Statement,
    ) -> Result<Prepared, Error> {
        if statement.is_conditional() {
            return Err(super::modify::lwt_unsupported());
        }
        let bind_columns = marker_specs(self, statement, keyspace)?;
        let catalog = self.catalog();
        let table_of = |name: &QualifiedName| lookup_table(&catalog, name, keyspace);
        let (pk, result_columns) = match statement {
            Statement::Insert(i) => (Some(table_of(&i.table)?), None),
            Statement::Update(u) => (Some(table_of(&u.table)?), None),
            Statement::Delete(d) => (Some(table_of(&d.table)?), None),
            Statement::Select(s) => {
                let t = table_of(&s.table)?;
                let columns = super::select::result_columns(&t, s)?;
                (Some(t), Some(columns))
            }
            Statement::Batch(b) => {
                for s in &b.statements {
                    let name = match s {
                        BatchStatement::Insert(i) => &i.table,
                        BatchStatement::Update(u) => &u.table,
                        BatchStatement::Delete(d) => &d.table,
                    };
                    table_of(name)?;
                }
                (None, None)
            }
            Statement::Describe(_) => (None, Some(super::describe::result_columns(statement))),
            _ => (None, None),
        };
        let pk_indexes = pk
            .map(|t| pk_indexes(&t.table, statement))
            .unwrap_or_default();
        Ok(Prepared {
            id,
            query: query.to_string(),
            keyspace: keyspace.map(str::to_string),
            bind_columns,
            pk_indexes,
            result_columns,
        })
    }
}

/// Resolves terms with the request's values.
pub(super) struct Resolver<'a> {
    pub ctx: Context<'a>,
}

impl<'a> Resolver<'a> {
    pub fn new(values: &'a [Bound], now_ms: i64) -> Resolver<'a> {
        Resolver {
            ctx: Context { values, now_ms },
        }
    }

    /// A term's value for a receiver named `name` of type `ty`.
    pub fn resolve(&self, term: &Term, name: &str, ty: &CqlType) -> Result<Resolved, Error> {
        term.resolve(&CqlSpec::new(name, ty.clone()), &self.ctx)
            .map_err(cql_error)
    }

    /// A term's value for a column.
    pub fn column_value(
        &self,
        term: &Term,
        table: &Table,
        column: &str,
    ) -> Result<Resolved, Error> {
        let c = table
            .column(column)
            .ok_or_else(|| Error::Invalid(format!("Undefined column name {column}")))?;
        self.resolve(term, &c.name, &c.ty)
    }
}

/// The partition key columns of a table that `present` does not name, for "Some partition key
/// parts are missing: k".
pub(super) fn missing_columns<'t>(
    table: &'t Table,
    kind: ColumnKind,
    present: &dyn Fn(&str) -> bool,
) -> Vec<&'t str> {
    table
        .columns
        .iter()
        .filter(|c| c.kind == kind && !present(&c.name))
        .map(|c| c.name.as_str())
        .collect()
}
