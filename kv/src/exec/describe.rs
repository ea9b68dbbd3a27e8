//! Server-side DESCRIBE as cqlsh 6 sends it (Cassandra 4's `DescribeStatement`): element
//! rows of `keyspace_name, type, name, create_statement` (listings without the statement;
//! `cluster, partitioner, snitch[, range_ownership]` for DESCRIBE CLUSTER), keyspaces and
//! tables sorted by name, paged by row offset with the schema version in the paging state.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use fastdata_cql::ast::{Describe, DescribeTarget, QualifiedName, Statement};
use fastdata_cql::{CqlType, Value};

use super::system;
use super::Store;
use crate::api::{ColumnSpec, Error, QueryResult, Request, Rows};
use crate::schema::{quote_identifier, Keyspace, Table};

fn column(name: &str, ty: CqlType) -> ColumnSpec {
    ColumnSpec {
        keyspace: "system".into(),
        table: "describe".into(),
        name: name.into(),
        ty,
    }
}

fn list_columns() -> Vec<ColumnSpec> {
    vec![
        column("keyspace_name", CqlType::Text),
        column("type", CqlType::Text),
        column("name", CqlType::Text),
    ]
}

fn element_columns() -> Vec<ColumnSpec> {
    let mut c = list_columns();
    c.push(column("create_statement", CqlType::Text));
    c
}

fn cluster_columns(with_ownership: bool) -> Vec<ColumnSpec> {
    let mut c = vec![
        column("cluster", CqlType::Text),
        column("partitioner", CqlType::Text),
        column("snitch", CqlType::Text),
    ];
    if with_ownership {
        c.push(column(
            "range_ownership",
            CqlType::Map(
                Box::new(CqlType::Text),
                Box::new(CqlType::List(Box::new(CqlType::Text))),
            ),
        ));
    }
    c
}

/// The result columns of a DESCRIBE (for its prepared metadata; a session keyspace can add
/// DESCRIBE CLUSTER's `range_ownership`).
pub(super) fn result_columns(statement: &Statement) -> Vec<ColumnSpec> {
    match statement {
        Statement::Describe(d) => match &d.target {
            DescribeTarget::Cluster => cluster_columns(false),
            DescribeTarget::Keyspaces
            | DescribeTarget::Tables
            | DescribeTarget::Types
            | DescribeTarget::Functions
            | DescribeTarget::Aggregates => list_columns(),
            _ => element_columns(),
        },
        _ => Vec::new(),
    }
}

enum Element {
    Keyspace(Keyspace),
    Table(Arc<Table>),
}

impl Element {
    fn row(&self, with_statement: bool, with_internals: bool) -> Vec<Option<Bytes>> {
        let text = |s: &str| Some(Bytes::copy_from_slice(s.as_bytes()));
        let (ks, kind, name, statement) = match self {
            Element::Keyspace(k) => (
                k.name.as_str(),
                "keyspace",
                k.name.as_str(),
                k.create_statement(),
            ),
            Element::Table(t) => (
                t.keyspace.as_str(),
                "table",
                t.name.as_str(),
                t.create_statement(with_internals),
            ),
        };
        let mut row = vec![
            text(&quote_identifier(ks)),
            text(kind),
            text(&quote_identifier(name)),
        ];
        if with_statement {
            row.push(text(&statement));
        }
        row
    }
}

fn by_name<T>(items: &mut [T], name: impl Fn(&T) -> &str) {
    items.sort_by(|a, b| {
        let (a, b) = (name(a), name(b));
        a.to_lowercase()
            .cmp(&b.to_lowercase())
            .then_with(|| a.cmp(b))
    });
}

struct Schema {
    keyspaces: Vec<Keyspace>,
    tables: Vec<Arc<Table>>,
}

impl Schema {
    fn of(store: &Store) -> Schema {
        let catalog = store.catalog();
        let mut keyspaces: Vec<Keyspace> = system::keyspaces()
            .into_iter()
            .chain(catalog.keyspaces.values().cloned())
            .collect();
        by_name(&mut keyspaces, |k| &k.name);
        let tables = system::tables()
            .iter()
            .cloned()
            .chain(catalog.tables.values().cloned())
            .collect();
        Schema { keyspaces, tables }
    }

    fn keyspace(&self, name: &str) -> Result<&Keyspace, Error> {
        self.keyspaces
            .iter()
            .find(|k| k.name == name)
            .ok_or_else(|| Error::Invalid(format!("'{name}' not found in keyspaces")))
    }

    fn tables_of(&self, ks: &str) -> Vec<Arc<Table>> {
        let mut t: Vec<Arc<Table>> = self
            .tables
            .iter()
            .filter(|t| t.keyspace == ks)
            .cloned()
            .collect();
        by_name(&mut t, |t| &t.name);
        t
    }

    fn keyspace_elements(&self, ks: &Keyspace, only: bool) -> Vec<Element> {
        let mut out = vec![Element::Keyspace(ks.clone())];
        if !only {
            out.extend(self.tables_of(&ks.name).into_iter().map(Element::Table));
        }
        out
    }
}

fn session_keyspace<'a>(name: Option<&'a str>, session: Option<&'a str>) -> Result<&'a str, Error> {
    name.or(session)
        .ok_or_else(|| Error::Invalid("No keyspace specified and no current keyspace".into()))
}

fn qualified<'a>(
    q: &'a QualifiedName,
    session: Option<&'a str>,
) -> Result<(&'a str, &'a str), Error> {
    Ok((
        session_keyspace(q.keyspace.as_ref().map(|k| k.as_str()), session)?,
        q.name.as_str(),
    ))
}

const PAGING_MAGIC: u8 = b'D';

fn paging_offset(store: &Store, request: &Request) -> Result<usize, Error> {
    let Some(state) = &request.paging_state else {
        return Ok(0);
    };
    let bad = || Error::Invalid("Invalid value for the paging state".into());
    if state.len() != 25 || state[0] != PAGING_MAGIC {
        return Err(bad());
    }
    if state[1..17] != store.schema_version().as_bytes()[..] {
        return Err(Error::Invalid(
            "The schema has changed since the previous page of the DESCRIBE statement result. Please retry the DESCRIBE statement.".into(),
        ));
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&state[17..25]);
    usize::try_from(u64::from_be_bytes(n)).map_err(|_| bad())
}

fn page(
    store: &Store,
    request: &Request,
    columns: Vec<ColumnSpec>,
    all: Vec<Vec<Option<Bytes>>>,
) -> Result<QueryResult, Error> {
    let offset = paging_offset(store, request)?;
    let size = match request.page_size {
        Some(p) if p > 0 => p as usize,
        _ => usize::MAX,
    };
    let rows: Vec<Vec<Option<Bytes>>> = all.into_iter().skip(offset).take(size).collect();
    let paging_state = (size != usize::MAX && rows.len() == size).then(|| {
        let mut b = BytesMut::new();
        b.put_u8(PAGING_MAGIC);
        b.put_slice(store.schema_version().as_bytes());
        b.put_u64((offset + size) as u64);
        b.freeze()
    });
    Ok(QueryResult::Rows(Rows {
        columns,
        rows,
        paging_state,
    }))
}

/// Run a DESCRIBE.
pub(super) fn execute(
    store: &Store,
    d: &Describe,
    session: Option<&str>,
    request: &Request,
) -> Result<QueryResult, Error> {
    let schema = Schema::of(store);
    let internals = d.with_internals;
    let elements = |els: Vec<Element>| {
        els.iter()
            .map(|e| e.row(true, internals))
            .collect::<Vec<_>>()
    };
    let listing = |els: Vec<Element>| {
        els.iter()
            .map(|e| e.row(false, internals))
            .collect::<Vec<_>>()
    };
    let (columns, rows) = match &d.target {
        DescribeTarget::Cluster => {
            let id = &store.inner.identity;
            let user_ks = session.filter(|k| !system::is_system_keyspace(k));
            let text = |s: &str| Some(Bytes::copy_from_slice(s.as_bytes()));
            let mut row = vec![
                text(&id.cluster_name),
                text("Murmur3Partitioner"),
                text("SimpleSnitch"),
            ];
            if user_ks.is_some() {
                let endpoint = Value::List(vec![Value::Text(format!("/{}:7000", id.rpc_address))]);
                let mut tokens = id.tokens.clone();
                tokens.sort_unstable();
                let map = Value::map(
                    tokens
                        .iter()
                        .map(|t| (Value::Text(t.to_string()), endpoint.clone()))
                        .collect(),
                );
                row.push(Some(map.encode()));
            }
            (cluster_columns(user_ks.is_some()), vec![row])
        }
        DescribeTarget::Keyspaces => (
            list_columns(),
            listing(
                schema
                    .keyspaces
                    .iter()
                    .cloned()
                    .map(Element::Keyspace)
                    .collect(),
            ),
        ),
        DescribeTarget::Tables => {
            let keyspaces: Vec<&Keyspace> = match session {
                Some(ks) => vec![schema.keyspace(ks)?],
                None => schema.keyspaces.iter().collect(),
            };
            let tables = keyspaces
                .iter()
                .flat_map(|k| schema.tables_of(&k.name))
                .map(Element::Table)
                .collect();
            (list_columns(), listing(tables))
        }
        DescribeTarget::Types | DescribeTarget::Functions | DescribeTarget::Aggregates => {
            if let Some(ks) = session {
                schema.keyspace(ks)?;
            }
            (list_columns(), Vec::new())
        }
        DescribeTarget::Schema { full } => {
            let els = schema
                .keyspaces
                .iter()
                .filter(|k| *full || !system::is_system_keyspace(&k.name))
                .flat_map(|k| schema.keyspace_elements(k, false))
                .collect();
            (element_columns(), elements(els))
        }
        DescribeTarget::Keyspace { name, only } => {
            let ks = session_keyspace(name.as_ref().map(|n| n.as_str()), session)?;
            let k = schema.keyspace(ks)?;
            (
                element_columns(),
                elements(schema.keyspace_elements(k, *only)),
            )
        }
        DescribeTarget::Table(q) => {
            let (ks, name) = qualified(q, session)?;
            schema.keyspace(ks)?;
            let t = schema
                .tables_of(ks)
                .into_iter()
                .find(|t| t.name == name)
                .ok_or_else(|| {
                    Error::Invalid(format!("Table '{name}' not found in keyspace '{ks}'"))
                })?;
            (element_columns(), elements(vec![Element::Table(t)]))
        }
        DescribeTarget::Index(q) => {
            let (ks, name) = qualified(q, session)?;
            schema.keyspace(ks)?;
            return Err(Error::Invalid(format!(
                "Table for existing index '{name}' not found in '{ks}'"
            )));
        }
        DescribeTarget::MaterializedView(q) => {
            let (ks, name) = qualified(q, session)?;
            schema.keyspace(ks)?;
            return Err(Error::Invalid(format!(
                "Materialized view '{name}' not found in '{ks}'"
            )));
        }
        DescribeTarget::Type(q) => {
            let (ks, name) = qualified(q, session)?;
            schema.keyspace(ks)?;
            return Err(Error::Invalid(format!(
                "User defined type '{name}' not found in '{ks}'"
            )));
        }
        DescribeTarget::Function(q) => {
            let (ks, name) = qualified(q, session)?;
            schema.keyspace(ks)?;
            return Err(Error::Invalid(format!(
                "User defined function '{name}' not found in '{ks}'"
            )));
        }
        DescribeTarget::Aggregate(q) => {
            let (ks, name) = qualified(q, session)?;
            schema.keyspace(ks)?;
            return Err(Error::Invalid(format!(
                "User defined aggregate '{name}' not found in '{ks}'"
            )));
        }
        DescribeTarget::Name(q) => {
            let name = q.name.as_str();
            if q.keyspace.is_none() {
                if let Ok(k) = schema.keyspace(name) {
                    return page(
                        store,
                        request,
                        element_columns(),
                        elements(schema.keyspace_elements(k, false)),
                    );
                }
            }
            let ks = q
                .keyspace
                .as_ref()
                .map(|k| k.as_str())
                .or(session)
                .unwrap_or(name);
            schema.keyspace(ks)?;
            let t = schema
                .tables_of(ks)
                .into_iter()
                .find(|t| t.name == name)
                .ok_or_else(|| Error::Invalid(format!("'{name}' not found in keyspace '{ks}'")))?;
            (element_columns(), elements(vec![Element::Table(t)]))
        }
    };
    page(store, request, columns, rows)
}
