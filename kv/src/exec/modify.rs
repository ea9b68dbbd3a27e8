//! INSERT, UPDATE, DELETE and BATCH: statements turned into cell writes ([`Mutations`]) and
//! applied in one atomic RocksDB write batch.
//!
//! - Timestamps: `USING TIMESTAMP`, else the request's default timestamp, else the node clock
//!   (µs, strictly increasing); one timestamp for a whole batch. TTL: `USING TTL`, else the
//!   table's `default_time_to_live`.
//! - INSERT writes a row marker (the row exists with only its key); UPDATE does not. A null
//!   writes a tombstone, an unset value leaves the column untouched.
//! - Collections: a whole-collection write is a collection tombstone at `timestamp - 1` and
//!   the elements; additions, removals and `m[k] = v` write elements without reading; list
//!   index operations and list removal by value read the list first.
//! - Conditional writes (lightweight transactions) are rejected until the cluster exists.

use fastdata_cql::ast::{
    using_timestamp, using_ttl, Assignment, BatchStatement as AstBatchStatement, Delete, InValues,
    Insert, Operator, Predicate, Relation, Statement, Term, Update, UsingParameter,
};
use fastdata_cql::resolve::{BoundValue, Resolved};
use fastdata_cql::{CqlType, Value};

use super::key;
use super::terms::{self, lookup_table, missing_columns, Resolver};
use super::{check_write_consistency, Store};
use crate::api::{BatchStatement, BatchType, Error, QueryResult, Request};
use crate::keys::{self, Bound};
use crate::read::{ColumnData, LiveCell, Reader, Slice};
use crate::schema::{Column, ColumnKind, Table, MAX_TTL_S};
use crate::write::{Mutations, PartitionWriter};

fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(msg.into())
}

/// The error for a conditional write.
pub(super) fn lwt_unsupported() -> Error {
    invalid("Conditional updates are not supported yet: lightweight transactions (IF NOT EXISTS, IF ...) arrive with the cluster")
}

#[derive(Clone, Copy)]
enum Write<'a> {
    Insert(&'a Insert),
    Update(&'a Update),
    Delete(&'a Delete),
}

impl Write<'_> {
    fn using(&self) -> Vec<UsingParameter> {
        match self {
            Write::Insert(i) => i.using.clone(),
            Write::Update(u) => u.using.clone(),
            Write::Delete(d) => d
                .timestamp
                .clone()
                .map(UsingParameter::Timestamp)
                .into_iter()
                .collect(),
        }
    }

    fn conditional(&self) -> bool {
        match self {
            Write::Insert(i) => i.if_not_exists,
            Write::Update(u) => u.condition.is_some(),
            Write::Delete(d) => d.condition.is_some(),
        }
    }

    fn table(&self) -> &fastdata_cql::ast::QualifiedName {
        match self {
            Write::Insert(i) => &i.table,
            Write::Update(u) => &u.table,
            Write::Delete(d) => &d.table,
        }
    }
}

fn of_batch(s: &AstBatchStatement) -> Write<'_> {
    match s {
        AstBatchStatement::Insert(i) => Write::Insert(i),
        AstBatchStatement::Update(u) => Write::Update(u),
        AstBatchStatement::Delete(d) => Write::Delete(d),
    }
}

/// Where a statement writes and with what timestamp.
struct Ctx<'a> {
    store: &'a Store,
    resolver: Resolver<'a>,
    timestamp: i64,
    ttl_s: i32,
    now_s: i64,
    now_ms: i64,
}

/// Run INSERT, UPDATE, DELETE or a BATCH given as text.
pub(super) fn execute(
    store: &Store,
    statement: &Statement,
    keyspace: Option<&str>,
    values: &[BoundValue],
    request: &Request,
) -> Result<QueryResult, Error> {
    if statement.is_conditional() {
        return Err(lwt_unsupported());
    }
    let mut m = Mutations::default();
    let default_ts = request
        .timestamp
        .unwrap_or_else(|| store.inner.timestamps.next());
    let single = match statement {
        Statement::Insert(i) => Some(Write::Insert(i)),
        Statement::Update(u) => Some(Write::Update(u)),
        Statement::Delete(d) => Some(Write::Delete(d)),
        _ => None,
    };
    match (single, statement) {
        (Some(write), _) => add(store, write, keyspace, values, default_ts, &[], &mut m)?,
        (None, Statement::Batch(b)) => {
            if b.kind == fastdata_cql::ast::BatchKind::Counter {
                return Err(invalid(
                    "Cannot include non-counter statement in a counter batch",
                ));
            }
            for s in &b.statements {
                add(
                    store,
                    of_batch(s),
                    keyspace,
                    values,
                    default_ts,
                    &b.using,
                    &mut m,
                )?;
            }
            check_batch_size(store, &m)?;
        }
        (None, _) => return Err(invalid("not a write statement")),
    }
    apply(store, m, request.no_wait)
}

fn apply(store: &Store, m: Mutations, no_wait: bool) -> Result<QueryResult, Error> {
    let cells = m.len() as u64;
    if !m.is_empty() {
        m.apply(&store.inner.engine, no_wait)?;
    }
    store
        .inner
        .metrics
        .cells_written
        .fetch_add(cells, std::sync::atomic::Ordering::Relaxed);
    Ok(QueryResult::Void)
}

fn check_batch_size(store: &Store, m: &Mutations) -> Result<(), Error> {
    let size = m.data_bytes;
    let warn = store.inner.config.batch_size_warn_threshold_bytes;
    let fail = store.inner.config.batch_size_fail_threshold_bytes;
    if size > fail {
        tracing::error!(
            "Batch of {size} bytes, exceeding specified threshold of {fail} bytes by {} (see batch.size.fail.threshold.bytes)",
            size - fail
        );
        return Err(invalid("Batch too large"));
    }
    if size > warn {
        tracing::warn!(
            "Batch of {size} bytes, exceeding specified threshold of {warn} bytes by {} (see batch.size.warn.threshold.bytes)",
            size - warn
        );
    }
    Ok(())
}

/// Run a BATCH message: query strings with their values and prepared ids, one timestamp, one
/// atomic write.
pub(super) fn protocol_batch(
    store: &Store,
    batch_type: BatchType,
    statements: &[BatchStatement],
    request: &Request,
) -> Result<QueryResult, Error> {
    check_write_consistency(request.consistency)?;
    if batch_type == BatchType::Counter {
        return Err(invalid(
            "Cannot include non-counter statement in a counter batch",
        ));
    }
    let default_ts = request
        .timestamp
        .unwrap_or_else(|| store.inner.timestamps.next());
    let mut m = Mutations::default();
    for s in statements {
        let (statement, keyspace, values) = match s {
            BatchStatement::Query { query, values } => {
                (terms::parse(query)?, request.keyspace.clone(), values)
            }
            BatchStatement::Prepared { id, values } => {
                let entry = store.cached(id).ok_or(Error::Unprepared(*id))?;
                let ks = entry
                    .prepared
                    .keyspace
                    .clone()
                    .or_else(|| request.keyspace.clone());
                (entry.statement.clone(), ks, values)
            }
        };
        if statement.is_conditional() {
            return Err(lwt_unsupported());
        }
        let bound = terms::bind_values(store, &statement, keyspace.as_deref(), values)?;
        let write = match &statement {
            Statement::Insert(i) => Write::Insert(i),
            Statement::Update(u) => Write::Update(u),
            Statement::Delete(d) => Write::Delete(d),
            _ => {
                return Err(invalid(
                    "Invalid statement in batch: only UPDATE, INSERT and DELETE statements are allowed.",
                ))
            }
        };
        add(
            store,
            write,
            keyspace.as_deref(),
            &bound,
            default_ts,
            &[],
            &mut m,
        )?;
    }
    check_batch_size(store, &m)?;
    apply(store, m, request.no_wait)
}

fn ttl_value(r: Resolved) -> Result<Option<i32>, Error> {
    match r {
        Resolved::Unset => Ok(None),
        Resolved::Null => Err(invalid("Invalid null value of TTL")),
        Resolved::Value(Value::Int(n)) => {
            if n < 0 {
                return Err(invalid(format!(
                    "A TTL must be greater or equal to 0, but was {n}"
                )));
            }
            if n > MAX_TTL_S {
                return Err(invalid(format!(
                    "ttl is too large. requested ({n}) maximum ({MAX_TTL_S})"
                )));
            }
            Ok(Some(n))
        }
        Resolved::Value(v) => Err(invalid(format!("Invalid TTL value {v}"))),
    }
}

fn timestamp_value(r: Resolved) -> Result<Option<i64>, Error> {
    match r {
        Resolved::Unset => Ok(None),
        Resolved::Null => Err(invalid("Invalid null value of timestamp")),
        Resolved::Value(Value::BigInt(n)) => Ok(Some(n)),
        Resolved::Value(v) => Err(invalid(format!("Invalid timestamp value {v}"))),
    }
}

/// Add one statement's writes.
fn add(
    store: &Store,
    write: Write<'_>,
    keyspace: Option<&str>,
    values: &[BoundValue],
    default_ts: i64,
    batch_using: &[UsingParameter],
    m: &mut Mutations,
) -> Result<(), Error> {
    if write.conditional() {
        return Err(lwt_unsupported());
    }
    let catalog = store.catalog();
    let t = lookup_table(&catalog, write.table(), keyspace)?;
    if t.is_system {
        return Err(invalid(format!(
            "{} keyspace is not user-modifiable.",
            t.table.keyspace
        )));
    }
    let table = t.table.as_ref();
    let clock = store.inner.engine.clock();
    let now_ms = clock.now_micros().div_euclid(1000);
    let resolver = Resolver::new(values, now_ms);
    let using = write.using();
    let own_ts = using_timestamp(&using);
    if own_ts.is_some() && using_timestamp(batch_using).is_some() {
        return Err(invalid(
            "Timestamp must be set either on BATCH or individual statements",
        ));
    }
    let ts_term = own_ts.or_else(|| using_timestamp(batch_using));
    let timestamp = match ts_term {
        Some(term) => timestamp_value(resolver.resolve(term, "[timestamp]", &CqlType::BigInt)?)?
            .unwrap_or(default_ts),
        None => default_ts,
    };
    let ttl_term = using_ttl(&using).or_else(|| using_ttl(batch_using));
    let ttl_s = match ttl_term {
        Some(term) => ttl_value(resolver.resolve(term, "[ttl]", &CqlType::Int)?)?
            .unwrap_or(table.options.default_time_to_live),
        None => table.options.default_time_to_live,
    };
    let ctx = Ctx {
        store,
        resolver,
        timestamp,
        ttl_s,
        now_s: clock.now_seconds(),
        now_ms,
    };
    match write {
        Write::Insert(i) => insert(&ctx, table, i, m),
        Write::Update(u) => update(&ctx, table, u, m),
        Write::Delete(d) => delete(&ctx, table, d, m),
    }
}

impl Ctx<'_> {
    fn writer<'m>(
        &self,
        m: &'m mut Mutations,
        table: &'m Table,
        blob: &[u8],
        ttl: bool,
    ) -> PartitionWriter<'m> {
        PartitionWriter {
            mutations: m,
            table,
            prefix: key::prefix(blob),
            timestamp: self.timestamp,
            ttl_s: if ttl { self.ttl_s } else { 0 },
            now_s: self.now_s,
        }
    }

    fn check_size(&self, column: &str, len: usize) -> Result<(), Error> {
        let max = self.store.inner.config.max_value_size_bytes;
        if len > max {
            return Err(invalid(format!(
                "Value of {len} bytes for column {column} exceeds max value size of {max} bytes (max.value.size.bytes)"
            )));
        }
        Ok(())
    }

    fn key_value(&self, term: &Term, table: &Table, column: &str) -> Result<Value, Error> {
        let v = match self.resolver.column_value(term, table, column)? {
            Resolved::Value(v) => v,
            Resolved::Null => {
                return Err(invalid(format!(
                    "Invalid null value in condition for column {column}"
                )))
            }
            Resolved::Unset => {
                return Err(invalid(format!("Invalid unset value for column {column}")))
            }
        };
        self.check_size(column, v.encode().len())?;
        Ok(v)
    }

    /// The cell path of the element of list `column` at the index `index` gives.
    fn list_element_path(
        &self,
        table: &Table,
        blob: &[u8],
        clustering: Option<&[u8]>,
        column: &Column,
        index: &Term,
    ) -> Result<Vec<u8>, Error> {
        let index = list_index(
            self.resolver
                .resolve(index, &format!("idx({})", column.name), &CqlType::Int)?,
            &column.name,
        )?;
        let mut current = self.elements(table, blob, clustering, column)?;
        if index >= current.len() {
            return Err(invalid(format!(
                "List index {index} out of bound, list has size {}",
                current.len()
            )));
        }
        Ok(current.swap_remove(index).0)
    }

    /// The current live elements of a collection column (for list index operations).
    fn elements(
        &self,
        table: &Table,
        blob: &[u8],
        clustering: Option<&[u8]>,
        column: &Column,
    ) -> Result<Vec<(Vec<u8>, LiveCell)>, Error> {
        let reader = Reader::new(&self.store.inner.engine, table, self.now_s);
        let prefix = key::prefix(blob);
        let header = reader.header(&prefix)?;
        let data = match clustering {
            None => header.statics.column(column.id).cloned(),
            Some(ck) => {
                let slice = Slice {
                    start: Bound {
                        prefix: ck.to_vec(),
                        inclusive: true,
                    },
                    end: Bound {
                        prefix: ck.to_vec(),
                        inclusive: true,
                    },
                };
                let mut found = None;
                let _ = reader.rows(&prefix, &header, &slice, false, None, |row| {
                    found = row.column(column.id).cloned();
                    std::ops::ControlFlow::Break(())
                })?;
                found
            }
        };
        Ok(match data {
            Some(ColumnData::Complex(items)) => items,
            _ => Vec::new(),
        })
    }

    /// Write a whole column value: a cell, or a collection (tombstone and elements).
    fn write_column(
        &self,
        w: &mut PartitionWriter<'_>,
        clustering: Option<&[u8]>,
        column: &Column,
        value: Resolved,
    ) -> Result<(), Error> {
        match value {
            Resolved::Unset => Ok(()),
            Resolved::Null => {
                if column.is_complex() {
                    w.collection_deletion(clustering, column, self.timestamp);
                } else {
                    w.cell(clustering, column, &[], None);
                }
                Ok(())
            }
            Resolved::Value(v) => {
                if column.is_complex() {
                    w.collection_deletion(clustering, column, self.timestamp - 1);
                    self.add_elements(w, clustering, column, v, false)
                } else {
                    let bytes = v.encode();
                    self.check_size(&column.name, bytes.len())?;
                    w.cell(clustering, column, &[], Some(&bytes));
                    Ok(())
                }
            }
        }
    }

    /// Add elements to a collection: set elements, map entries, list elements appended (or
    /// prepended).
    fn add_elements(
        &self,
        w: &mut PartitionWriter<'_>,
        clustering: Option<&[u8]>,
        column: &Column,
        value: Value,
        prepend: bool,
    ) -> Result<(), Error> {
        match value {
            Value::Set(items) => {
                for item in items {
                    self.check_size(&column.name, item.encode().len())?;
                    w.cell(clustering, column, &keys::cell_path(&item), Some(&[]));
                }
            }
            Value::Map(entries) => {
                for (k, v) in entries {
                    let bytes = v.encode();
                    self.check_size(&column.name, bytes.len() + k.encode().len())?;
                    w.cell(clustering, column, &keys::cell_path(&k), Some(&bytes));
                }
            }
            Value::List(items) => {
                let paths = if prepend {
                    self.store
                        .inner
                        .list_paths
                        .prepend(self.now_ms, items.len())
                } else {
                    self.store.inner.list_paths.append(self.now_ms, items.len())
                };
                for (item, path) in items.into_iter().zip(paths) {
                    let bytes = item.encode();
                    self.check_size(&column.name, bytes.len())?;
                    w.cell(
                        clustering,
                        column,
                        &keys::cell_path(&Value::TimeUuid(path)),
                        Some(&bytes),
                    );
                }
            }
            other => {
                return Err(invalid(format!(
                    "Invalid value {other} for collection {}",
                    column.name
                )))
            }
        }
        Ok(())
    }
}

fn column<'t>(table: &'t Table, name: &str) -> Result<&'t Column, Error> {
    table
        .column(name)
        .ok_or_else(|| invalid(format!("Undefined column name {name}")))
}

fn insert(ctx: &Ctx<'_>, table: &Table, i: &Insert, m: &mut Mutations) -> Result<(), Error> {
    if i.columns.len() != i.values.len() {
        return Err(invalid("Unmatched column names/values"));
    }
    let mut seen = std::collections::HashSet::new();
    for c in &i.columns {
        column(table, c.as_str())?;
        if !seen.insert(c.as_str()) {
            return Err(invalid(format!(
                "Multiple definitions found for column {}",
                c.as_str()
            )));
        }
    }
    let given = |name: &str| i.columns.iter().any(|c| c.as_str() == name);
    let missing = missing_columns(table, ColumnKind::PartitionKey, &given);
    if !missing.is_empty() {
        return Err(invalid(format!(
            "Some partition key parts are missing: {}",
            missing.join(", ")
        )));
    }
    let term_of = |name: &str| {
        i.columns
            .iter()
            .position(|c| c.as_str() == name)
            .map(|p| &i.values[p])
    };
    let mut parts = Vec::new();
    for c in table.partition_key() {
        let term = term_of(&c.name).ok_or_else(|| invalid("missing partition key"))?;
        parts.push(ctx.key_value(term, table, &c.name)?.encode());
    }
    let blob = key::partition_key(table, &parts)?;
    let missing_ck = missing_columns(table, ColumnKind::Clustering, &given);
    let only_static = i.columns.iter().all(|c| {
        table
            .column(c.as_str())
            .is_some_and(|col| matches!(col.kind, ColumnKind::PartitionKey | ColumnKind::Static))
    });
    let clustering = if missing_ck.is_empty() {
        let mut values = Vec::new();
        for c in table.clustering() {
            let term = term_of(&c.name).ok_or_else(|| invalid("missing clustering key"))?;
            values.push(ctx.key_value(term, table, &c.name)?);
        }
        Some(key::clustering(table, &values))
    } else if only_static && missing_ck.len() == table.clustering().count() {
        None
    } else {
        return Err(invalid(format!(
            "Some clustering keys are missing: {}",
            missing_ck.join(", ")
        )));
    };
    let mut w = ctx.writer(m, table, &blob, true);
    if let Some(ck) = &clustering {
        w.row_marker(ck);
    }
    for (c, term) in i.columns.iter().zip(&i.values) {
        let col = column(table, c.as_str())?;
        if col.kind.is_primary_key() {
            continue;
        }
        let value = ctx.resolver.column_value(term, table, &col.name)?;
        let ck = if col.kind == ColumnKind::Static {
            None
        } else {
            clustering.as_deref()
        };
        ctx.write_column(&mut w, ck, col, value)?;
    }
    Ok(())
}

/// A column's restriction in the WHERE clause of UPDATE or DELETE.
#[derive(Debug, Clone, Default)]
struct KeyRestriction {
    values: Option<Vec<Value>>,
    lower: Option<(Value, bool)>,
    upper: Option<(Value, bool)>,
}

/// The partitions and clustering restrictions of an UPDATE or DELETE.
struct Target {
    partitions: Vec<Vec<u8>>,
    /// Per clustering column, in position order.
    clustering: Vec<KeyRestriction>,
}

fn target(
    ctx: &Ctx<'_>,
    table: &Table,
    where_clause: &[Relation],
    statement: &str,
) -> Result<Target, Error> {
    let mut per: Vec<KeyRestriction> = vec![KeyRestriction::default(); table.columns.len()];
    let conflict = |c: &str| {
        invalid(format!(
            "{c} cannot be restricted by more than one relation if it includes an Equal"
        ))
    };
    for r in where_clause {
        match r {
            Relation::Column {
                column: c,
                predicate,
            } => {
                let i = table
                    .columns
                    .iter()
                    .position(|x| x.name == c.as_str())
                    .ok_or_else(|| invalid(format!("Undefined column name {}", c.as_str())))?;
                let col = &table.columns[i];
                if !col.kind.is_primary_key() {
                    return Err(invalid(format!(
                        "Non PRIMARY KEY columns found in where clause: {}",
                        col.name
                    )));
                }
                let slot = &mut per[i];
                match predicate {
                    Predicate::Compare(Operator::Eq, t) => {
                        if slot.values.is_some() || slot.lower.is_some() || slot.upper.is_some() {
                            return Err(conflict(&col.name));
                        }
                        slot.values = Some(vec![ctx.key_value(t, table, &col.name)?]);
                    }
                    Predicate::In(vals) => {
                        if slot.values.is_some() || slot.lower.is_some() || slot.upper.is_some() {
                            return Err(invalid(format!(
                                "{} cannot be restricted by more than one relation if it includes a IN",
                                col.name
                            )));
                        }
                        let list = match vals {
                            InValues::Terms(ts) => ts
                                .iter()
                                .map(|t| ctx.key_value(t, table, &col.name))
                                .collect::<Result<Vec<_>, _>>()?,
                            InValues::Marker(mk) => {
                                let ty = CqlType::List(Box::new(col.ty.clone()));
                                match ctx.resolver.resolve(
                                    &Term::Bind(mk.clone()),
                                    &format!("in({})", col.name),
                                    &ty,
                                )? {
                                    Resolved::Value(Value::List(items)) => items,
                                    _ => {
                                        return Err(invalid(format!(
                                            "Invalid null value in condition for column {}",
                                            col.name
                                        )))
                                    }
                                }
                            }
                        };
                        slot.values = Some(list);
                    }
                    Predicate::Compare(Operator::Neq, _) => {
                        return Err(invalid(format!(
                            "Unsupported \"!=\" relation on {}",
                            col.name
                        )))
                    }
                    Predicate::Compare(op, t) => {
                        if col.kind == ColumnKind::PartitionKey {
                            return Err(invalid(
                                "Only EQ and IN relation are supported on the partition key (unless you use the token() function)",
                            ));
                        }
                        if slot.values.is_some() {
                            return Err(conflict(&col.name));
                        }
                        let v = ctx.key_value(t, table, &col.name)?;
                        let incl = matches!(op, Operator::Gte | Operator::Lte);
                        let bound = if matches!(op, Operator::Gt | Operator::Gte) {
                            &mut slot.lower
                        } else {
                            &mut slot.upper
                        };
                        if bound.is_some() {
                            return Err(invalid(format!(
                                "More than one restriction was found for the {} bound on {}",
                                if matches!(op, Operator::Gt | Operator::Gte) {
                                    "start"
                                } else {
                                    "end"
                                },
                                col.name
                            )));
                        }
                        *bound = Some((v, incl));
                    }
                    Predicate::Contains(_) | Predicate::ContainsKey(_) => {
                        return Err(invalid(format!(
                            "Cannot use CONTAINS on PRIMARY KEY column {}",
                            col.name
                        )))
                    }
                }
            }
            Relation::Token { .. } => {
                return Err(invalid(format!(
                    "The token function cannot be used in WHERE clauses for {statement} statements"
                )))
            }
            Relation::Element { column: c, .. } => {
                return Err(invalid(format!(
                    "Non PRIMARY KEY columns found in where clause: {}",
                    c.as_str()
                )))
            }
            Relation::Tuple { columns, predicate } => {
                let Predicate::Compare(Operator::Eq, Term::Tuple(items)) = predicate else {
                    return Err(invalid(format!(
                        "Multi-column relations other than equality are not supported in {statement} statements"
                    )));
                };
                if items.len() != columns.len() {
                    return Err(invalid("Unmatched multi-column relation"));
                }
                for (c, t) in columns.iter().zip(items) {
                    let i = table
                        .columns
                        .iter()
                        .position(|x| x.name == c.as_str())
                        .ok_or_else(|| invalid(format!("Undefined column name {}", c.as_str())))?;
                    if per[i].values.is_some() {
                        return Err(conflict(c.as_str()));
                    }
                    per[i].values = Some(vec![ctx.key_value(t, table, c.as_str())?]);
                }
            }
        }
    }
    let pk_idx: Vec<usize> = (0..table.columns.len())
        .filter(|i| table.columns[*i].kind == ColumnKind::PartitionKey)
        .collect();
    let missing: Vec<&str> = pk_idx
        .iter()
        .filter(|i| per[**i].values.is_none())
        .map(|i| table.columns[*i].name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(invalid(format!(
            "Some partition key parts are missing: {}",
            missing.join(", ")
        )));
    }
    let lists: Vec<Vec<Value>> = pk_idx
        .iter()
        .map(|i| per[*i].values.clone().unwrap_or_default())
        .collect();
    let count: usize = lists.iter().map(Vec::len).product();
    let max = ctx.store.inner.config.max_in_list_size;
    if count > max {
        return Err(invalid(format!(
            "IN restrictions select {count} partitions, more than max.in.list.size ({max})"
        )));
    }
    let mut partitions = Vec::new();
    for combo in product(&lists) {
        let parts: Vec<bytes::Bytes> = combo.iter().map(Value::encode).collect();
        partitions.push(key::partition_key(table, &parts)?);
    }
    partitions.sort();
    partitions.dedup();
    let clustering = (0..table.columns.len())
        .filter(|i| table.columns[*i].kind == ColumnKind::Clustering)
        .map(|i| per[i].clone())
        .collect();
    Ok(Target {
        partitions,
        clustering,
    })
}

fn product(lists: &[Vec<Value>]) -> Vec<Vec<Value>> {
    let mut out: Vec<Vec<Value>> = vec![Vec::new()];
    for list in lists {
        out = out
            .iter()
            .flat_map(|p| {
                list.iter().map(move |v| {
                    let mut n = p.clone();
                    n.push(v.clone());
                    n
                })
            })
            .collect();
    }
    out
}

/// Full clusterings of the rows an UPDATE (or a column DELETE) writes; `None` when it
/// restricts no clustering column (the static row).
fn row_keys(
    ctx: &Ctx<'_>,
    table: &Table,
    t: &Target,
    statement: &str,
    only_static: bool,
) -> Result<Option<Vec<Vec<u8>>>, Error> {
    let ck: Vec<&Column> = table.clustering().collect();
    if t.clustering
        .iter()
        .any(|r| r.lower.is_some() || r.upper.is_some())
    {
        return Err(invalid(format!(
            "Slice restrictions are not supported on the clustering columns in {statement} statements"
        )));
    }
    let restricted = t.clustering.iter().filter(|r| r.values.is_some()).count();
    if restricted == 0 && (only_static || ck.is_empty()) {
        if ck.is_empty() {
            return Ok(Some(vec![Vec::new()]));
        }
        return Ok(None);
    }
    if only_static {
        return Err(invalid(format!(
            "Invalid restrictions on clustering columns since the {statement} statement modifies only static columns"
        )));
    }
    let missing: Vec<&str> = ck
        .iter()
        .zip(&t.clustering)
        .filter(|(_, r)| r.values.is_none())
        .map(|(c, _)| c.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(invalid(format!(
            "Some clustering keys are missing: {}",
            missing.join(", ")
        )));
    }
    let lists: Vec<Vec<Value>> = t
        .clustering
        .iter()
        .map(|r| r.values.clone().unwrap_or_default())
        .collect();
    let count: usize = lists.iter().map(Vec::len).product();
    let max = ctx.store.inner.config.max_in_list_size;
    if count > max {
        return Err(invalid(format!(
            "IN restrictions select {count} clustering rows, more than max.in.list.size ({max})"
        )));
    }
    Ok(Some(
        product(&lists)
            .iter()
            .map(|v| key::clustering(table, v))
            .collect(),
    ))
}

fn list_index(value: Resolved, column: &str) -> Result<usize, Error> {
    match value {
        Resolved::Value(Value::Int(i)) if i >= 0 => Ok(i as usize),
        Resolved::Value(Value::Int(i)) => Err(invalid(format!("Invalid negative list index {i}"))),
        Resolved::Null => Err(invalid(format!(
            "Invalid null value for list index of {column}"
        ))),
        _ => Err(invalid(format!("Invalid list index for {column}"))),
    }
}

fn update(ctx: &Ctx<'_>, table: &Table, u: &Update, m: &mut Mutations) -> Result<(), Error> {
    let mut seen = std::collections::HashSet::new();
    for a in &u.assignments {
        let col = column(table, a.column().as_str())?;
        if col.kind.is_primary_key() {
            return Err(invalid(format!(
                "PRIMARY KEY part {} found in SET part",
                col.name
            )));
        }
        if !seen.insert(col.name.as_str()) && matches!(a, Assignment::Set { .. }) {
            return Err(invalid(format!(
                "Multiple definitions found for column {}",
                col.name
            )));
        }
    }
    let only_static = u.assignments.iter().all(|a| {
        table
            .column(a.column().as_str())
            .is_some_and(|c| c.kind == ColumnKind::Static)
    });
    let t = target(ctx, table, &u.where_clause, "UPDATE")?;
    let rows = row_keys(ctx, table, &t, "UPDATE", only_static)?;
    for blob in &t.partitions {
        let row_list: Vec<Option<Vec<u8>>> = match &rows {
            None => vec![None],
            Some(r) => r.iter().cloned().map(Some).collect(),
        };
        for ck in &row_list {
            for a in &u.assignments {
                let col = column(table, a.column().as_str())?;
                let at = if col.kind == ColumnKind::Static {
                    None
                } else {
                    ck.as_deref()
                };
                assign(ctx, table, blob, at, col, a, m)?;
            }
        }
    }
    Ok(())
}

fn operation_text(a: &Assignment) -> String {
    match a {
        Assignment::Set { column, value } => format!("{} = {value}", column.as_str()),
        Assignment::Add { column, value } => format!("{c} = {c} + {value}", c = column.as_str()),
        Assignment::Subtract { column, value } => {
            format!("{c} = {c} - {value}", c = column.as_str())
        }
        Assignment::Prepend { column, value } => {
            format!("{c} = {value} + {c}", c = column.as_str())
        }
        Assignment::SetElement { column, key, value } => {
            format!("{}[{key}] = {value}", column.as_str())
        }
    }
}

fn assign(
    ctx: &Ctx<'_>,
    table: &Table,
    blob: &[u8],
    clustering: Option<&[u8]>,
    col: &Column,
    a: &Assignment,
    m: &mut Mutations,
) -> Result<(), Error> {
    let bad_op = |what: &str| {
        invalid(format!(
            "Invalid operation ({}) for {what} column {}",
            operation_text(a),
            col.name
        ))
    };
    let frozen_collection = col.ty.is_collection() && !col.is_complex();
    match a {
        Assignment::Set { value, .. } => {
            let v = ctx.resolver.column_value(value, table, &col.name)?;
            let mut w = ctx.writer(m, table, blob, true);
            ctx.write_column(&mut w, clustering, col, v)
        }
        Assignment::Add { value, .. } | Assignment::Prepend { value, .. } => {
            if frozen_collection {
                return Err(bad_op("frozen collection"));
            }
            let prepend = matches!(a, Assignment::Prepend { .. });
            match col.ty.unfrozen() {
                CqlType::List(_) => {}
                CqlType::Set(_) | CqlType::Map(_, _) if !prepend => {}
                _ if prepend => return Err(bad_op("non list")),
                _ => return Err(bad_op("non counter")),
            }
            match ctx.resolver.column_value(value, table, &col.name)? {
                Resolved::Value(v) => {
                    let mut w = ctx.writer(m, table, blob, true);
                    ctx.add_elements(&mut w, clustering, col, v, prepend)
                }
                Resolved::Null | Resolved::Unset => Ok(()),
            }
        }
        Assignment::Subtract { value, .. } => {
            if frozen_collection {
                return Err(bad_op("frozen collection"));
            }
            let removal_ty = match col.ty.unfrozen() {
                CqlType::Map(k, _) => CqlType::Set(k.clone()),
                CqlType::Set(_) | CqlType::List(_) => col.ty.clone(),
                _ => return Err(bad_op("non counter")),
            };
            let v = match ctx.resolver.resolve(value, &col.name, &removal_ty)? {
                Resolved::Value(v) => v,
                Resolved::Null | Resolved::Unset => return Ok(()),
            };
            match v {
                Value::Set(items) => {
                    let mut w = ctx.writer(m, table, blob, false);
                    for item in items {
                        w.cell(clustering, col, &keys::cell_path(&item), None);
                    }
                }
                Value::List(items) => {
                    let current = ctx.elements(table, blob, clustering, col)?;
                    let wanted: Vec<bytes::Bytes> = items.iter().map(Value::encode).collect();
                    let mut w = ctx.writer(m, table, blob, false);
                    for (path, cell) in current {
                        if wanted.iter().any(|x| x.as_ref() == cell.value.as_slice()) {
                            w.cell(clustering, col, &path, None);
                        }
                    }
                }
                other => {
                    return Err(invalid(format!(
                        "Invalid removal value {other} for {}",
                        col.name
                    )))
                }
            }
            Ok(())
        }
        Assignment::SetElement { key: k, value, .. } => {
            if frozen_collection {
                return Err(bad_op("frozen collection"));
            }
            match col.ty.unfrozen() {
                CqlType::Map(kt, vt) => {
                    let key = match ctx.resolver.resolve(k, &format!("key({})", col.name), kt)? {
                        Resolved::Value(v) => v,
                        Resolved::Null => {
                            return Err(invalid(format!("Invalid null map key for {}", col.name)))
                        }
                        Resolved::Unset => {
                            return Err(invalid(format!("Invalid unset map key for {}", col.name)))
                        }
                    };
                    let v = ctx
                        .resolver
                        .resolve(value, &format!("value({})", col.name), vt)?;
                    let mut w = ctx.writer(m, table, blob, true);
                    match v {
                        Resolved::Unset => {}
                        Resolved::Null => w.cell(clustering, col, &keys::cell_path(&key), None),
                        Resolved::Value(v) => {
                            let bytes = v.encode();
                            ctx.check_size(&col.name, bytes.len())?;
                            w.cell(clustering, col, &keys::cell_path(&key), Some(&bytes));
                        }
                    }
                    Ok(())
                }
                CqlType::List(et) => {
                    let path = &ctx.list_element_path(table, blob, clustering, col, k)?;
                    let v = ctx
                        .resolver
                        .resolve(value, &format!("value({})", col.name), et)?;
                    let mut w = ctx.writer(m, table, blob, true);
                    match v {
                        Resolved::Unset => {}
                        Resolved::Null => w.cell(clustering, col, path, None),
                        Resolved::Value(v) => {
                            let bytes = v.encode();
                            ctx.check_size(&col.name, bytes.len())?;
                            w.cell(clustering, col, path, Some(&bytes));
                        }
                    }
                    Ok(())
                }
                _ => Err(invalid(format!(
                    "Invalid operation ({}) for non list/map column {}",
                    operation_text(a),
                    col.name
                ))),
            }
        }
    }
}

fn delete(ctx: &Ctx<'_>, table: &Table, d: &Delete, m: &mut Mutations) -> Result<(), Error> {
    for s in &d.columns {
        let col = column(table, s.column.as_str())?;
        if col.kind.is_primary_key() {
            return Err(invalid(format!(
                "Invalid identifier {} for deletion (should not be a PRIMARY KEY part)",
                col.name
            )));
        }
    }
    let t = target(ctx, table, &d.where_clause, "DELETE")?;
    if !d.columns.is_empty() {
        let only_static = d.columns.iter().all(|s| {
            table
                .column(s.column.as_str())
                .is_some_and(|c| c.kind == ColumnKind::Static)
        });
        if t.clustering
            .iter()
            .any(|r| r.lower.is_some() || r.upper.is_some())
        {
            return Err(invalid(
                "Range deletions are not supported for specific columns",
            ));
        }
        let rows = row_keys(ctx, table, &t, "DELETE", only_static)?;
        for blob in &t.partitions {
            let row_list: Vec<Option<Vec<u8>>> = match &rows {
                None => vec![None],
                Some(r) => r.iter().cloned().map(Some).collect(),
            };
            for ck in &row_list {
                for s in &d.columns {
                    let col = column(table, s.column.as_str())?;
                    let at = if col.kind == ColumnKind::Static {
                        None
                    } else {
                        ck.as_deref()
                    };
                    delete_column(ctx, table, blob, at, col, s.element.as_ref(), m)?;
                }
            }
        }
        return Ok(());
    }
    // Whole rows: a prefix of equalities, then at most one slice.
    let ck: Vec<&Column> = table.clustering().collect();
    let mut prefix_lists: Vec<Vec<Value>> = Vec::new();
    let mut slice: Option<(usize, &KeyRestriction)> = None;
    for (pos, r) in t.clustering.iter().enumerate() {
        let restricted = r.values.is_some() || r.lower.is_some() || r.upper.is_some();
        if !restricted {
            if let Some(later) = t.clustering[pos..]
                .iter()
                .position(|x| x.values.is_some() || x.lower.is_some() || x.upper.is_some())
            {
                return Err(invalid(format!(
                    "PRIMARY KEY column \"{}\" cannot be restricted as preceding column \"{}\" is not restricted",
                    ck[pos + later].name,
                    ck[pos].name
                )));
            }
            break;
        }
        if slice.is_some() {
            return Err(invalid(format!(
                "Clustering column \"{}\" cannot be restricted (preceding column \"{}\" is restricted by a non-EQ relation)",
                ck[pos].name,
                ck[pos - 1].name
            )));
        }
        match &r.values {
            Some(v) => prefix_lists.push(v.clone()),
            None => slice = Some((pos, r)),
        }
    }
    let prefixes = product(&prefix_lists);
    let max = ctx.store.inner.config.max_in_list_size;
    if prefixes.len() > max {
        return Err(invalid(format!(
            "IN restrictions select {} clustering rows, more than max.in.list.size ({max})",
            prefixes.len()
        )));
    }
    for blob in &t.partitions {
        let mut w = ctx.writer(m, table, blob, false);
        if prefix_lists.is_empty() && slice.is_none() {
            w.partition_deletion();
            continue;
        }
        for p in &prefixes {
            let base = key::clustering(table, p);
            match slice {
                None if p.len() == ck.len() => w.row_deletion(&base),
                None => {
                    let b = Bound {
                        prefix: base.clone(),
                        inclusive: true,
                    };
                    w.range_deletion(&b, &b);
                }
                Some((pos, r)) => {
                    let bound = |v: &Option<(Value, bool)>| match v {
                        Some((v, incl)) => {
                            let mut full = p.clone();
                            full.push(v.clone());
                            Bound {
                                prefix: key::clustering(table, &full),
                                inclusive: *incl,
                            }
                        }
                        None => Bound {
                            prefix: base.clone(),
                            inclusive: true,
                        },
                    };
                    let desc = ck[pos].order == crate::schema::ClusteringOrder::Desc;
                    let (start, end) = if desc {
                        (bound(&r.upper), bound(&r.lower))
                    } else {
                        (bound(&r.lower), bound(&r.upper))
                    };
                    w.range_deletion(&start, &end);
                }
            }
        }
    }
    Ok(())
}

fn delete_column(
    ctx: &Ctx<'_>,
    table: &Table,
    blob: &[u8],
    clustering: Option<&[u8]>,
    col: &Column,
    element: Option<&Term>,
    m: &mut Mutations,
) -> Result<(), Error> {
    let Some(e) = element else {
        let mut w = ctx.writer(m, table, blob, false);
        if col.is_complex() {
            w.collection_deletion(clustering, col, ctx.timestamp);
        } else {
            w.cell(clustering, col, &[], None);
        }
        return Ok(());
    };
    if !col.is_complex() {
        return Err(invalid(format!(
            "Invalid deletion operation for non collection column {}",
            col.name
        )));
    }
    match col.ty.unfrozen() {
        CqlType::Map(kt, _) | CqlType::Set(kt) => {
            let k = match ctx.resolver.resolve(e, &col.name, kt)? {
                Resolved::Value(v) => v,
                Resolved::Unset => return Ok(()),
                Resolved::Null => {
                    return Err(invalid(format!(
                        "Invalid null value for {} element",
                        col.name
                    )))
                }
            };
            let mut w = ctx.writer(m, table, blob, false);
            w.cell(clustering, col, &keys::cell_path(&k), None);
            Ok(())
        }
        CqlType::List(_) => {
            let path = &ctx.list_element_path(table, blob, clustering, col, e)?;
            let mut w = ctx.writer(m, table, blob, false);
            w.cell(clustering, col, path, None);
            Ok(())
        }
        _ => Err(invalid(format!(
            "Invalid deletion of an element of {}",
            col.name
        ))),
    }
}
