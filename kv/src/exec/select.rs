//! SELECT: restrictions as Cassandra allows them, then a read of the chosen partitions in
//! token order (or the rows of a system table, read the same way), rows filtered, limited,
//! projected and paged.
//!
//! - Partitions: every partition key column by `=` or `IN` (the cartesian product, in key
//!   order), `token(...)` ranges, or none (a full scan in token order). Anything else on the
//!   partition key needs ALLOW FILTERING and becomes a filter over a full scan.
//! - Clustering: a prefix of `=`/`IN` columns then one slice (single or multi-column) become
//!   slices of key ranges, in key order (a DESC column's bounds are swapped). Restrictions past
//!   that prefix, on a range scan, or on non-key columns need ALLOW FILTERING and become filters.
//! - ORDER BY: the clustering order or its reverse (a reversed read), on `=`/`IN` partitions.
//! - Selection: columns, `*`, aliases, `token()`, `writetime()`, `maxwritetime()`, `ttl()`,
//!   `count(*)`; DISTINCT on partition keys (and statics).
//! - Paging: [`super::paging`]; a partition with only static cells answers a query over whole
//!   partitions with one row of its statics, as Cassandra does.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use bytes::Bytes;
use fastdata_cql::ast::{InValues, Operator, Predicate, Relation, Select, SelectorExpr, Term};
use fastdata_cql::resolve::{BoundValue, Resolved};
use fastdata_cql::{CqlType, Value};

use super::key;
use super::paging::{PagingState, Position};
use super::system;
use super::terms::{lookup_table, Resolver, TableRef};
use super::Store;
use crate::api::{ColumnSpec, Consistency, Error, QueryResult, Request, Rows};
use crate::keys::{self, Bound};
use crate::read::{ColumnData, LiveCell, PartitionHeader, PartitionRef, Reader, Row, Slice};
use crate::schema::{ClusteringOrder, Column, ColumnKind, Table};
use crate::token;

/// Cassandra's message for a query that needs ALLOW FILTERING.
pub(super) const REQUIRES_ALLOW_FILTERING: &str = "Cannot execute this query as it might involve data filtering and thus may have unpredictable performance. If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING";

fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(msg.into())
}

// ---------------------------------------------------------------------------------------------
// Selection

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Column(usize),
    WriteTime(usize),
    MaxWriteTime(usize),
    Ttl(usize),
    Token,
    Count,
}

#[derive(Debug, Clone)]
struct Selection {
    items: Vec<Item>,
    specs: Vec<ColumnSpec>,
    aggregate: bool,
}

fn column_index(table: &Table, name: &str) -> Result<usize, Error> {
    table
        .columns
        .iter()
        .position(|c| c.name == name)
        .ok_or_else(|| invalid(format!("Undefined column name {name}")))
}

fn spec(table: &Table, name: impl Into<String>, ty: CqlType) -> ColumnSpec {
    ColumnSpec {
        keyspace: table.keyspace.clone(),
        table: table.name.clone(),
        name: name.into(),
        ty,
    }
}

fn selection(table: &Table, s: &Select) -> Result<Selection, Error> {
    let mut items = Vec::new();
    let mut specs = Vec::new();
    if s.selectors.is_empty() {
        for (i, c) in table.columns.iter().enumerate() {
            items.push(Item::Column(i));
            specs.push(spec(table, c.name.clone(), c.ty.clone()));
        }
        return Ok(Selection {
            items,
            specs,
            aggregate: false,
        });
    }
    let mut aggregate = false;
    for sel in &s.selectors {
        let (item, name, ty) = selector(table, &sel.expr)?;
        aggregate |= item == Item::Count;
        let name = sel
            .alias
            .as_ref()
            .map(|a| a.as_str().to_string())
            .unwrap_or(name);
        items.push(item);
        specs.push(spec(table, name, ty));
    }
    Ok(Selection {
        items,
        specs,
        aggregate,
    })
}

fn timed_column(table: &Table, name: &str, function: &str) -> Result<usize, Error> {
    let i = column_index(table, name)?;
    let c = &table.columns[i];
    if c.kind.is_primary_key() {
        return Err(invalid(format!(
            "Cannot use selection function {function} on PRIMARY KEY part {name}"
        )));
    }
    if c.is_complex() && function != "maxWriteTime" {
        return Err(invalid(format!(
            "Cannot use selection function {function} on non-frozen collection {name}"
        )));
    }
    Ok(i)
}

fn selector(table: &Table, expr: &SelectorExpr) -> Result<(Item, String, CqlType), Error> {
    Ok(match expr {
        SelectorExpr::Column(c) => {
            let i = column_index(table, c.as_str())?;
            let col = &table.columns[i];
            (Item::Column(i), col.name.clone(), col.ty.clone())
        }
        SelectorExpr::CountRows => (Item::Count, "count".into(), CqlType::BigInt),
        SelectorExpr::WriteTime(c) => {
            let i = timed_column(table, c.as_str(), "writeTime")?;
            (
                Item::WriteTime(i),
                format!("writetime({c})", c = c.as_str()),
                CqlType::BigInt,
            )
        }
        SelectorExpr::MaxWriteTime(c) => {
            let i = timed_column(table, c.as_str(), "maxWriteTime")?;
            (
                Item::MaxWriteTime(i),
                format!("maxwritetime({})", c.as_str()),
                CqlType::BigInt,
            )
        }
        SelectorExpr::Ttl(c) => {
            let i = timed_column(table, c.as_str(), "ttl")?;
            (Item::Ttl(i), format!("ttl({})", c.as_str()), CqlType::Int)
        }
        SelectorExpr::Function { name, args }
            if name
                .keyspace
                .as_ref()
                .is_none_or(|k| k.as_str() == "system") =>
        {
            match name.name.as_str() {
                "token" => {
                    let pk: Vec<&str> = table.partition_key().map(|c| c.name.as_str()).collect();
                    let given: Vec<Option<&str>> = args
                        .iter()
                        .map(|a| match a {
                            SelectorExpr::Column(c) => Some(c.as_str()),
                            _ => None,
                        })
                        .collect();
                    if given.len() != pk.len() || given.iter().zip(&pk).any(|(g, p)| *g != Some(*p))
                    {
                        return Err(invalid(format!(
                            "Invalid arguments for system.token: the partition key columns ({}) in order are required",
                            pk.join(", ")
                        )));
                    }
                    (
                        Item::Token,
                        format!("system.token({})", pk.join(", ")),
                        CqlType::BigInt,
                    )
                }
                "count" if args.len() == 1 => match &args[0] {
                    SelectorExpr::Term(Term::Literal(_)) | SelectorExpr::CountRows => {
                        (Item::Count, "count".into(), CqlType::BigInt)
                    }
                    _ => return Err(invalid("count() is only supported as count(*) or count(1)")),
                },
                "writetime" | "ttl" => {
                    return Err(invalid(format!(
                        "Invalid arguments to {}",
                        name.name.as_str()
                    )))
                }
                other => {
                    return Err(invalid(format!(
                        "Unknown function system.{other} in selection"
                    )))
                }
            }
        }
        SelectorExpr::Function { name, .. } => {
            return Err(invalid(format!("Unknown function {name:?} in selection")))
        }
        SelectorExpr::Cast { .. } => return Err(invalid("Casts in selections are not supported")),
        SelectorExpr::Term(_) => {
            return Err(invalid(
                "Terms in selections are not supported; select columns or functions",
            ))
        }
    })
}

/// The result columns of a SELECT (a prepared statement's result metadata).
pub(super) fn result_columns(t: &TableRef, s: &Select) -> Result<Vec<ColumnSpec>, Error> {
    Ok(selection(&t.table, s)?.specs)
}

// ---------------------------------------------------------------------------------------------
// Restrictions

#[derive(Debug, Clone, PartialEq)]
enum FilterKind {
    Compare(Operator, Value),
    In(Vec<Value>),
    Contains(Value),
    ContainsKey(Value),
    Element {
        key: Value,
        operator: Operator,
        value: Value,
    },
    /// `(c1, c2) > (v1, v2)` over clustering columns of mixed orders.
    TupleRange {
        columns: Vec<usize>,
        lower: Option<(Vec<Value>, bool)>,
        upper: Option<(Vec<Value>, bool)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    column: usize,
    kind: FilterKind,
}

#[derive(Debug, Default, Clone)]
struct ColumnRestriction {
    eq: Option<Value>,
    values_in: Option<Vec<Value>>,
    lower: Option<(Value, bool)>,
    upper: Option<(Value, bool)>,
    others: Vec<FilterKind>,
}

impl ColumnRestriction {
    fn is_empty(&self) -> bool {
        self.eq.is_none()
            && self.values_in.is_none()
            && self.lower.is_none()
            && self.upper.is_none()
            && self.others.is_empty()
    }

    fn is_eq_like(&self) -> bool {
        (self.eq.is_some() || self.values_in.is_some()) && self.others.is_empty()
    }

    fn has_slice(&self) -> bool {
        self.lower.is_some() || self.upper.is_some()
    }

    fn add(&mut self, name: &str, op: Operator, v: Value) -> Result<(), Error> {
        let eq_conflict = || {
            invalid(format!(
                "{name} cannot be restricted by more than one relation if it includes an Equal"
            ))
        };
        if self.values_in.is_some() {
            return Err(invalid(format!(
                "{name} cannot be restricted by more than one relation if it includes a IN"
            )));
        }
        match op {
            Operator::Eq => {
                if self.eq.is_some() || self.has_slice() {
                    return Err(eq_conflict());
                }
                self.eq = Some(v);
            }
            Operator::Gt | Operator::Gte => {
                if self.eq.is_some() {
                    return Err(eq_conflict());
                }
                if self.lower.is_some() {
                    return Err(invalid(format!(
                        "More than one restriction was found for the start bound on {name}"
                    )));
                }
                self.lower = Some((v, op == Operator::Gte));
            }
            Operator::Lt | Operator::Lte => {
                if self.eq.is_some() {
                    return Err(eq_conflict());
                }
                if self.upper.is_some() {
                    return Err(invalid(format!(
                        "More than one restriction was found for the end bound on {name}"
                    )));
                }
                self.upper = Some((v, op == Operator::Lte));
            }
            Operator::Neq => {
                return Err(invalid(format!(
                    "Unsupported \"!=\" relation: {name} != {v}"
                )))
            }
        }
        Ok(())
    }

    fn add_in(&mut self, name: &str, values: Vec<Value>) -> Result<(), Error> {
        if !self.is_empty() {
            return Err(invalid(format!(
                "{name} cannot be restricted by more than one relation if it includes a IN"
            )));
        }
        self.values_in = Some(values);
        Ok(())
    }

    /// The restriction as filters (ALLOW FILTERING on a column the read cannot narrow by).
    fn filters(&self, column: usize) -> Vec<Filter> {
        let mut out = Vec::new();
        let f = |kind| Filter { column, kind };
        if let Some(v) = &self.eq {
            out.push(f(FilterKind::Compare(Operator::Eq, v.clone())));
        }
        if let Some(v) = &self.values_in {
            out.push(f(FilterKind::In(v.clone())));
        }
        if let Some((v, incl)) = &self.lower {
            let op = if *incl { Operator::Gte } else { Operator::Gt };
            out.push(f(FilterKind::Compare(op, v.clone())));
        }
        if let Some((v, incl)) = &self.upper {
            let op = if *incl { Operator::Lte } else { Operator::Lt };
            out.push(f(FilterKind::Compare(op, v.clone())));
        }
        out.extend(self.others.iter().cloned().map(f));
        out
    }
}

/// A multi-column slice on clustering columns `first..first + n`: `(c1, c2) > (1, 2)`.
#[derive(Debug, Clone, Default)]
struct TupleSlice {
    first: usize,
    lower: Option<(Vec<Value>, bool)>,
    upper: Option<(Vec<Value>, bool)>,
}

/// Which partitions a query reads.
#[derive(Debug, Clone)]
enum Partitions {
    /// (prefix, key bytes), sorted and unique.
    Keys(Vec<(Vec<u8>, Vec<u8>)>),
    /// Keys in `[lower, upper)` (`upper` `None`: to the end).
    Range {
        lower: Vec<u8>,
        upper: Option<Vec<u8>>,
    },
}

#[derive(Debug, Clone)]
struct Restrictions {
    partitions: Partitions,
    slices: Vec<Slice>,
    clustering_restricted: bool,
    filters: Vec<Filter>,
}

fn resolved_value(r: Resolved, column: &str) -> Result<Value, Error> {
    match r {
        Resolved::Value(v) => Ok(v),
        Resolved::Null => Err(invalid(format!(
            "Invalid null value in condition for column {column}"
        ))),
        Resolved::Unset => Err(invalid(format!("Invalid unset value for column {column}"))),
    }
}

fn in_values(
    resolver: &Resolver<'_>,
    values: &InValues,
    name: &str,
    ty: &CqlType,
) -> Result<Vec<Value>, Error> {
    match values {
        InValues::Terms(terms) => terms
            .iter()
            .map(|t| resolved_value(resolver.resolve(t, name, ty)?, name))
            .collect(),
        InValues::Marker(m) => {
            let list = CqlType::List(Box::new(ty.clone()));
            match resolver.resolve(&Term::Bind(m.clone()), &format!("in({name})"), &list)? {
                Resolved::Value(Value::List(items)) => Ok(items),
                Resolved::Value(_) => Err(invalid(format!("Invalid IN values for {name}"))),
                Resolved::Null => Err(invalid(format!(
                    "Invalid null value for IN restriction on {name}"
                ))),
                Resolved::Unset => Err(invalid(format!("Invalid unset value for column {name}"))),
            }
        }
    }
}

fn product_limit(store: &Store, n: usize, what: &str) -> Result<(), Error> {
    let max = store.inner.config.max_in_list_size;
    if n > max {
        return Err(invalid(format!(
            "IN restrictions select {n} {what}, more than max.in.list.size ({max})"
        )));
    }
    Ok(())
}

/// The cartesian product of per-column value lists.
fn product(lists: &[Vec<Value>]) -> Vec<Vec<Value>> {
    let mut out: Vec<Vec<Value>> = vec![Vec::new()];
    for list in lists {
        let mut next = Vec::with_capacity(out.len() * list.len());
        for prefix in &out {
            for v in list {
                let mut p = prefix.clone();
                p.push(v.clone());
                next.push(p);
            }
        }
        out = next;
    }
    out
}

struct TokenBounds {
    lower: Option<(i64, bool)>,
    upper: Option<(i64, bool)>,
}

fn token_of_call(resolver: &Resolver<'_>, table: &Table, args: &[Term]) -> Result<i64, Error> {
    let pk: Vec<&Column> = table.partition_key().collect();
    if args.len() != pk.len() {
        return Err(invalid(format!(
            "Invalid number of arguments in call to function system.token: {} required but {} provided",
            pk.len(),
            args.len()
        )));
    }
    let mut parts = Vec::new();
    for (i, (t, c)) in args.iter().zip(&pk).enumerate() {
        let v = resolved_value(
            resolver.resolve(t, &format!("arg{i}(system.token)"), &c.ty)?,
            &c.name,
        )?;
        parts.push(v.encode());
    }
    let blob = if parts.len() == 1 {
        parts[0].to_vec()
    } else {
        token::composite_key(parts.iter().map(|p| p.as_ref()))
    };
    Ok(token::token(&blob))
}

fn restrictions(
    store: &Store,
    table: &Table,
    s: &Select,
    resolver: &Resolver<'_>,
) -> Result<Restrictions, Error> {
    let n = table.columns.len();
    let mut per_column: Vec<ColumnRestriction> = vec![ColumnRestriction::default(); n];
    let mut tuple_slice: Option<TupleSlice> = None;
    let mut tuple_points: Option<(usize, Vec<Vec<Value>>)> = None;
    let mut tokens = TokenBounds {
        lower: None,
        upper: None,
    };
    let mut has_token = false;
    for relation in &s.where_clause {
        match relation {
            Relation::Column { column, predicate } => {
                let i = column_index(table, column.as_str())?;
                let c = &table.columns[i];
                let name = c.name.as_str();
                match predicate {
                    Predicate::Compare(op, term) => {
                        let v = resolved_value(resolver.resolve(term, name, &c.ty)?, name)?;
                        per_column[i].add(name, *op, v)?;
                    }
                    Predicate::In(values) => {
                        let vs = in_values(resolver, values, name, &c.ty)?;
                        per_column[i].add_in(name, vs)?;
                    }
                    Predicate::Contains(term) | Predicate::ContainsKey(term) => {
                        let key = matches!(predicate, Predicate::ContainsKey(_));
                        let elem_ty = match (c.ty.unfrozen(), key) {
                            (CqlType::Map(k, _), true) => (**k).clone(),
                            (CqlType::Map(_, v), false) => (**v).clone(),
                            (CqlType::List(e) | CqlType::Set(e), false) => (**e).clone(),
                            (_, true) => {
                                return Err(invalid(format!(
                                    "Cannot use CONTAINS KEY on non-map column {name}"
                                )))
                            }
                            (_, false) => {
                                return Err(invalid(format!(
                                    "Cannot use CONTAINS on non-collection column {name}"
                                )))
                            }
                        };
                        let v = resolved_value(resolver.resolve(term, name, &elem_ty)?, name)?;
                        per_column[i].others.push(if key {
                            FilterKind::ContainsKey(v)
                        } else {
                            FilterKind::Contains(v)
                        });
                    }
                }
            }
            Relation::Element {
                column,
                key,
                operator,
                value,
            } => {
                let i = column_index(table, column.as_str())?;
                let c = &table.columns[i];
                let CqlType::Map(kt, vt) = c.ty.unfrozen() else {
                    return Err(invalid(format!(
                        "Invalid element access for non map column {}",
                        c.name
                    )));
                };
                let k = resolved_value(
                    resolver.resolve(key, &format!("key({})", c.name), kt)?,
                    &c.name,
                )?;
                let v = resolved_value(
                    resolver.resolve(value, &format!("value({})", c.name), vt)?,
                    &c.name,
                )?;
                if *operator == Operator::Neq {
                    return Err(invalid(format!(
                        "Unsupported \"!=\" relation on {}",
                        c.name
                    )));
                }
                per_column[i].others.push(FilterKind::Element {
                    key: k,
                    operator: *operator,
                    value: v,
                });
            }
            Relation::Token {
                columns,
                operator,
                value,
            } => {
                let pk: Vec<&str> = table.partition_key().map(|c| c.name.as_str()).collect();
                let given: Vec<&str> = columns.iter().map(|c| c.as_str()).collect();
                let mut a = given.clone();
                a.sort_unstable();
                let mut b = pk.clone();
                b.sort_unstable();
                if a != b {
                    return Err(invalid(
                        "The token() function must be applied to all partition key components or none of them",
                    ));
                }
                if given != pk {
                    return Err(invalid(format!(
                        "The token function arguments must be in the partition key order: {}",
                        pk.join(", ")
                    )));
                }
                let t = match value.as_token_call() {
                    Some(args) => token_of_call(resolver, table, args)?,
                    None => match resolved_value(
                        resolver.resolve(value, "partition key token", &CqlType::BigInt)?,
                        "partition key token",
                    )? {
                        Value::BigInt(t) => t,
                        other => return Err(invalid(format!("Invalid token value {other}"))),
                    },
                };
                has_token = true;
                let name = pk.join(", ");
                match operator {
                    Operator::Eq => {
                        if tokens.lower.is_some() || tokens.upper.is_some() {
                            return Err(invalid(format!(
                                "{name} cannot be restricted by more than one relation if it includes an Equal"
                            )));
                        }
                        tokens.lower = Some((t, true));
                        tokens.upper = Some((t, true));
                    }
                    Operator::Gt | Operator::Gte => {
                        if tokens.lower.is_some() {
                            return Err(invalid(format!(
                                "More than one restriction was found for the start bound on {name}"
                            )));
                        }
                        tokens.lower = Some((t, *operator == Operator::Gte));
                    }
                    Operator::Lt | Operator::Lte => {
                        if tokens.upper.is_some() {
                            return Err(invalid(format!(
                                "More than one restriction was found for the end bound on {name}"
                            )));
                        }
                        tokens.upper = Some((t, *operator == Operator::Lte));
                    }
                    Operator::Neq => return Err(invalid("Unsupported \"!=\" relation on token()")),
                }
            }
            Relation::Tuple { columns, predicate } => {
                let idx: Vec<usize> = columns
                    .iter()
                    .map(|c| column_index(table, c.as_str()))
                    .collect::<Result<_, _>>()?;
                let first_ck = table.partition_key().count();
                for (k, i) in idx.iter().enumerate() {
                    let c = &table.columns[*i];
                    if c.kind != ColumnKind::Clustering {
                        return Err(invalid(format!(
                            "Multi-column relations can only be applied to clustering columns but was applied to: {}",
                            c.name
                        )));
                    }
                    if k > 0 && *i != idx[k - 1] + 1 {
                        return Err(invalid(format!(
                            "Clustering columns must appear in the PRIMARY KEY order in multi-column relations: {}",
                            columns.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
                        )));
                    }
                }
                let types: Vec<CqlType> =
                    idx.iter().map(|i| table.columns[*i].ty.clone()).collect();
                let tuple_ty = CqlType::Tuple(types.clone());
                let names: Vec<&str> = columns.iter().map(|c| c.as_str()).collect();
                let tuple_name = format!("({})", names.join(","));
                let resolve_tuple = |t: &Term| -> Result<Vec<Value>, Error> {
                    let v = match t {
                        Term::Tuple(items) => {
                            if items.len() != idx.len() {
                                return Err(invalid(format!(
                                    "Expected {} elements in value tuple, but got {}: {}",
                                    idx.len(),
                                    items.len(),
                                    t
                                )));
                            }
                            let mut out = Vec::new();
                            for (item, i) in items.iter().zip(&idx) {
                                let c = &table.columns[*i];
                                out.push(resolved_value(
                                    resolver.resolve(item, &c.name, &c.ty)?,
                                    &c.name,
                                )?);
                            }
                            return Ok(out);
                        }
                        other => resolved_value(
                            resolver.resolve(other, &tuple_name, &tuple_ty)?,
                            &tuple_name,
                        )?,
                    };
                    match v {
                        Value::Tuple(items) => items
                            .into_iter()
                            .map(|x| {
                                x.ok_or_else(|| {
                                    invalid(format!(
                                        "Invalid null value in condition for columns {tuple_name}"
                                    ))
                                })
                            })
                            .collect(),
                        _ => Err(invalid(format!("Invalid tuple value for {tuple_name}"))),
                    }
                };
                let first = idx[0] - first_ck;
                match predicate {
                    Predicate::Compare(Operator::Eq, t) => {
                        let values = resolve_tuple(t)?;
                        for (v, i) in values.into_iter().zip(&idx) {
                            let name = table.columns[*i].name.clone();
                            per_column[*i].add(&name, Operator::Eq, v)?;
                        }
                    }
                    Predicate::Compare(op, t) => {
                        let values = resolve_tuple(t)?;
                        let ts = tuple_slice.get_or_insert_with(|| TupleSlice {
                            first,
                            ..TupleSlice::default()
                        });
                        if ts.first != first {
                            return Err(invalid(format!(
                                "Column \"{}\" cannot be restricted by two tuple-notation inequalities not starting with the same column",
                                table.columns[idx[0]].name
                            )));
                        }
                        match op {
                            Operator::Gt | Operator::Gte => {
                                if ts.lower.is_some() {
                                    return Err(invalid(format!(
                                        "More than one restriction was found for the start bound on {}",
                                        names.join(", ")
                                    )));
                                }
                                ts.lower = Some((values, *op == Operator::Gte));
                            }
                            Operator::Lt | Operator::Lte => {
                                if ts.upper.is_some() {
                                    return Err(invalid(format!(
                                        "More than one restriction was found for the end bound on {}",
                                        names.join(", ")
                                    )));
                                }
                                ts.upper = Some((values, *op == Operator::Lte));
                            }
                            _ => {
                                return Err(invalid(format!(
                                    "Unsupported \"!=\" relation: {tuple_name}"
                                )))
                            }
                        }
                    }
                    Predicate::In(InValues::Terms(terms)) => {
                        let points = terms
                            .iter()
                            .map(resolve_tuple)
                            .collect::<Result<Vec<_>, _>>()?;
                        tuple_points = Some((first, points));
                    }
                    Predicate::In(InValues::Marker(m)) => {
                        let list = CqlType::List(Box::new(tuple_ty.clone()));
                        let items = match resolver.resolve(
                            &Term::Bind(m.clone()),
                            &format!("in({tuple_name})"),
                            &list,
                        )? {
                            Resolved::Value(Value::List(items)) => items,
                            _ => {
                                return Err(invalid(format!(
                                    "Invalid null value for IN restriction on {tuple_name}"
                                )))
                            }
                        };
                        let mut points = Vec::new();
                        for item in items {
                            match item {
                                Value::Tuple(parts) => points.push(
                                    parts
                                        .into_iter()
                                        .map(|x| {
                                            x.ok_or_else(|| {
                                                invalid("Invalid null value in IN tuple")
                                            })
                                        })
                                        .collect::<Result<Vec<_>, _>>()?,
                                ),
                                _ => return Err(invalid("Invalid IN tuple")),
                            }
                        }
                        tuple_points = Some((first, points));
                    }
                    _ => return Err(invalid(format!("Unsupported relation on {tuple_name}"))),
                }
            }
        }
    }

    // Partition key.
    let pk_cols: Vec<usize> = (0..n)
        .filter(|i| table.columns[*i].kind == ColumnKind::PartitionKey)
        .collect();
    let pk_restricted: Vec<bool> = pk_cols.iter().map(|i| !per_column[*i].is_empty()).collect();
    let mut filters = Vec::new();
    let partitions = if has_token {
        if pk_restricted.iter().any(|r| *r) {
            let names: Vec<&str> = pk_cols
                .iter()
                .filter(|i| !per_column[**i].is_empty())
                .map(|i| table.columns[*i].name.as_str())
                .collect();
            return Err(invalid(format!(
                "Columns \"{}\" cannot be restricted by both a normal relation and a token relation",
                names.join(", ")
            )));
        }
        token_range(&tokens)
    } else if pk_cols.iter().all(|i| per_column[*i].is_eq_like()) {
        let lists: Vec<Vec<Value>> = pk_cols
            .iter()
            .map(|i| {
                let r = &per_column[*i];
                r.eq.clone()
                    .map(|v| vec![v])
                    .or_else(|| r.values_in.clone())
                    .unwrap_or_default()
            })
            .collect();
        let count: usize = lists.iter().map(Vec::len).product();
        product_limit(store, count, "partitions")?;
        let mut keys_out = Vec::new();
        for combo in product(&lists) {
            let parts: Vec<Bytes> = combo.iter().map(Value::encode).collect();
            let blob = key::partition_key(table, &parts)?;
            keys_out.push((key::prefix(&blob), blob));
        }
        keys_out.sort();
        keys_out.dedup();
        Partitions::Keys(keys_out)
    } else if pk_restricted.iter().any(|r| *r) {
        if !s.allow_filtering {
            return Err(invalid(REQUIRES_ALLOW_FILTERING));
        }
        for i in &pk_cols {
            filters.extend(per_column[*i].filters(*i));
        }
        Partitions::Range {
            lower: Vec::new(),
            upper: None,
        }
    } else {
        Partitions::Range {
            lower: Vec::new(),
            upper: None,
        }
    };
    let is_key_range = !matches!(partitions, Partitions::Keys(_));

    // Clustering: an EQ/IN prefix, then one slice.
    let ck_cols: Vec<usize> = (0..n)
        .filter(|i| table.columns[*i].kind == ColumnKind::Clustering)
        .collect();
    let mut prefix_lists: Vec<Vec<Value>> = Vec::new();
    let mut slice_at: Option<usize> = None;
    let mut clustering_restricted = tuple_slice.is_some() || tuple_points.is_some();
    let mut stopped_at: Option<(usize, bool)> = None; // (position, after a slice)
    let mut points: Option<Vec<Vec<Value>>> = None;
    for (pos, i) in ck_cols.iter().enumerate() {
        let r = &per_column[*i];
        if let Some((first, pts)) = &tuple_points {
            if *first == pos && stopped_at.is_none() && slice_at.is_none() {
                points = Some(pts.clone());
                let width = pts.first().map_or(0, Vec::len);
                // The tuple covers columns pos..pos+width: nothing more may follow it.
                for j in (pos..pos + width).filter_map(|p| ck_cols.get(p)) {
                    if !per_column[*j].is_empty() {
                        return Err(invalid(format!(
                            "{} cannot be restricted by more than one relation if it includes a IN",
                            table.columns[*j].name
                        )));
                    }
                }
                stopped_at = Some((pos + width, true));
                break;
            }
        }
        if let Some(ts) = &tuple_slice {
            if ts.first == pos && stopped_at.is_none() && slice_at.is_none() {
                slice_at = Some(pos);
                stopped_at = Some((pos + 1, true));
                break;
            }
        }
        if r.is_empty() {
            stopped_at = Some((pos, false));
            break;
        }
        clustering_restricted = true;
        if r.is_eq_like() {
            let list =
                r.eq.clone()
                    .map(|v| vec![v])
                    .or_else(|| r.values_in.clone())
                    .unwrap_or_default();
            prefix_lists.push(list);
            continue;
        }
        if r.has_slice() && r.others.is_empty() {
            slice_at = Some(pos);
            stopped_at = Some((pos + 1, true));
            break;
        }
        // CONTAINS on a clustering column, or a mix: filtering only.
        stopped_at = Some((pos, false));
        break;
    }
    // Restrictions left after the usable prefix.
    let usable_end = stopped_at.map_or(ck_cols.len(), |(p, _)| p);
    for (pos, i) in ck_cols.iter().enumerate() {
        if per_column[*i].is_empty() {
            continue;
        }
        clustering_restricted = true;
        let used = pos < usable_end && (per_column[*i].is_eq_like() || slice_at == Some(pos));
        if used {
            continue;
        }
        if !s.allow_filtering {
            let (stop, after_slice) = stopped_at.unwrap_or((pos, false));
            let preceding =
                &table.columns[ck_cols[stop.saturating_sub(1).min(ck_cols.len() - 1)]].name;
            let name = &table.columns[*i].name;
            if after_slice && stop > 0 {
                return Err(invalid(format!(
                    "Clustering column \"{name}\" cannot be restricted (preceding column \"{preceding}\" is restricted by a non-EQ relation)"
                )));
            }
            let missing = &table.columns[ck_cols[stop]].name;
            if missing != name {
                return Err(invalid(format!(
                    "PRIMARY KEY column \"{name}\" cannot be restricted as preceding column \"{missing}\" is not restricted"
                )));
            }
            return Err(invalid(REQUIRES_ALLOW_FILTERING));
        }
        filters.extend(per_column[*i].filters(*i));
    }
    if clustering_restricted && is_key_range && !s.allow_filtering {
        return Err(invalid(REQUIRES_ALLOW_FILTERING));
    }

    // Non-key columns: filters.
    for (i, c) in table.columns.iter().enumerate() {
        if !c.kind.is_primary_key() && !per_column[i].is_empty() {
            if !s.allow_filtering {
                return Err(invalid(REQUIRES_ALLOW_FILTERING));
            }
            filters.extend(per_column[i].filters(i));
        }
    }

    // Slices in key order.
    let count: usize =
        prefix_lists.iter().map(Vec::len).product::<usize>() * points.as_ref().map_or(1, Vec::len);
    product_limit(store, count, "clustering rows")?;
    let mut slices = Vec::new();
    let mut mixed_filter_added = false;
    let prefixes = product(&prefix_lists);
    for p in &prefixes {
        let base = key::clustering(table, p);
        if let Some(points) = &points {
            for pt in points {
                let mut full = p.clone();
                full.extend(pt.iter().cloned());
                let b = key::clustering(table, &full);
                slices.push(Slice {
                    start: Bound {
                        prefix: b.clone(),
                        inclusive: true,
                    },
                    end: Bound {
                        prefix: b,
                        inclusive: true,
                    },
                });
            }
            continue;
        }
        let Some(pos) = slice_at else {
            slices.push(Slice {
                start: Bound {
                    prefix: base.clone(),
                    inclusive: true,
                },
                end: Bound {
                    prefix: base,
                    inclusive: true,
                },
            });
            continue;
        };
        // The slice's bounds as clustering prefixes (single column or tuple). A tuple over
        // columns of mixed orders is not one key range: the prefix is read and its rows are
        // compared with the tuple.
        let (lower, upper, desc) = match &tuple_slice {
            Some(ts) if ts.first == pos => {
                let cols: Vec<&Column> = table.clustering().skip(pos).collect();
                let width = ts
                    .lower
                    .iter()
                    .chain(ts.upper.iter())
                    .map(|(v, _)| v.len())
                    .max()
                    .unwrap_or(1);
                let first_desc = cols[0].order == ClusteringOrder::Desc;
                if cols
                    .iter()
                    .take(width)
                    .any(|c| (c.order == ClusteringOrder::Desc) != first_desc)
                {
                    if !mixed_filter_added {
                        filters.push(Filter {
                            column: ck_cols[pos],
                            kind: FilterKind::TupleRange {
                                columns: ck_cols[pos..(pos + width).min(ck_cols.len())].to_vec(),
                                lower: ts.lower.clone(),
                                upper: ts.upper.clone(),
                            },
                        });
                        mixed_filter_added = true;
                    }
                    (None, None, first_desc)
                } else {
                    (ts.lower.clone(), ts.upper.clone(), first_desc)
                }
            }
            _ => {
                let r = &per_column[ck_cols[pos]];
                (
                    r.lower.clone().map(|(v, i)| (vec![v], i)),
                    r.upper.clone().map(|(v, i)| (vec![v], i)),
                    table.columns[ck_cols[pos]].order == ClusteringOrder::Desc,
                )
            }
        };
        let bound = |vals: &Option<(Vec<Value>, bool)>| -> Bound {
            match vals {
                Some((v, incl)) => {
                    let mut full = p.clone();
                    full.extend(v.iter().cloned());
                    Bound {
                        prefix: key::clustering(table, &full),
                        inclusive: *incl,
                    }
                }
                None => Bound {
                    prefix: base.clone(),
                    inclusive: true,
                },
            }
        };
        let (start, end) = if desc {
            (bound(&upper), bound(&lower))
        } else {
            (bound(&lower), bound(&upper))
        };
        slices.push(Slice { start, end });
    }
    slices.sort_by(|a, b| a.start.prefix.cmp(&b.start.prefix));
    slices.dedup();
    Ok(Restrictions {
        partitions,
        slices,
        clustering_restricted,
        filters,
    })
}

fn token_range(t: &TokenBounds) -> Partitions {
    let empty = Partitions::Keys(Vec::new());
    let lower = match t.lower {
        None => Vec::new(),
        Some((v, true)) => keys::token_bytes(v).to_vec(),
        Some((v, false)) => match v.checked_add(1) {
            Some(n) => keys::token_bytes(n).to_vec(),
            None => return empty,
        },
    };
    // An end at the ring's minimum token is the end of the ring (Cassandra's wrapping range).
    let upper = match t.upper {
        None => None,
        Some((v, _)) if v == token::MIN_TOKEN => None,
        Some((v, true)) => v.checked_add(1).map(|n| keys::token_bytes(n).to_vec()),
        Some((v, false)) => Some(keys::token_bytes(v).to_vec()),
    };
    if upper.as_ref().is_some_and(|u| *u <= lower) {
        return empty;
    }
    Partitions::Range { lower, upper }
}

// ---------------------------------------------------------------------------------------------
// Sources: the table's column family, or the rows of a system table.

/// A system table's rows, in key order.
struct MemSource {
    partitions: BTreeMap<Vec<u8>, (Vec<u8>, Vec<Row>)>,
}

impl MemSource {
    fn new(table: &Table, rows: Vec<system::SystemRow>) -> Result<MemSource, Error> {
        let mut partitions: BTreeMap<Vec<u8>, (Vec<u8>, Vec<Row>)> = BTreeMap::new();
        for r in rows {
            let value = |name: &str| {
                r.iter()
                    .find(|(n, _)| *n == name)
                    .and_then(|(_, v)| v.clone())
            };
            let parts: Vec<Bytes> = table
                .partition_key()
                .map(|c| value(&c.name).map(|v| v.encode()).unwrap_or_default())
                .collect();
            let blob = if parts.len() == 1 {
                parts[0].to_vec()
            } else {
                token::composite_key(parts.iter().map(|p| p.as_ref()))
            };
            let ck: Vec<Value> = table.clustering().filter_map(|c| value(&c.name)).collect();
            let mut columns = Vec::new();
            for c in table.columns.iter().filter(|c| !c.kind.is_primary_key()) {
                if let Some(v) = value(&c.name) {
                    columns.push((
                        c.id,
                        ColumnData::Simple(LiveCell {
                            timestamp: 0,
                            ttl: None,
                            value: v.encode().to_vec(),
                        }),
                    ));
                }
            }
            columns.sort_by_key(|(id, _)| *id);
            let row = Row {
                clustering: key::clustering(table, &ck),
                columns,
                marker: Some((0, None)),
            };
            let prefix = key::prefix(&blob);
            partitions
                .entry(prefix)
                .or_insert_with(|| (blob, Vec::new()))
                .1
                .push(row);
        }
        for (_, rows) in partitions.values_mut() {
            rows.sort_by(|a, b| a.clustering.cmp(&b.clustering));
        }
        Ok(MemSource { partitions })
    }
}

enum Source<'a> {
    Storage(Reader<'a>),
    Memory(MemSource),
}

impl Source<'_> {
    fn next_partition(
        &self,
        lower: &[u8],
        upper: Option<&[u8]>,
    ) -> Result<Option<PartitionRef>, Error> {
        match self {
            Source::Storage(r) => r.next_partition(lower, upper),
            Source::Memory(m) => Ok(m
                .partitions
                .range(lower.to_vec()..)
                .next()
                .filter(|(p, _)| upper.is_none_or(|u| p.as_slice() < u))
                .map(|(p, (blob, _))| (p.clone(), blob.clone()))),
        }
    }

    fn header(&self, prefix: &[u8]) -> Result<PartitionHeader, Error> {
        match self {
            Source::Storage(r) => r.header(prefix),
            Source::Memory(_) => Ok(PartitionHeader::default()),
        }
    }

    fn rows(
        &self,
        prefix: &[u8],
        header: &PartitionHeader,
        slice: &Slice,
        reversed: bool,
        after: Option<&[u8]>,
        mut visit: impl FnMut(Row) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, Error> {
        match self {
            Source::Storage(r) => r.rows(prefix, header, slice, reversed, after, visit),
            Source::Memory(m) => {
                let Some((_, rows)) = m.partitions.get(prefix) else {
                    return Ok(ControlFlow::Continue(()));
                };
                let in_slice = |row: &&Row| {
                    keys::after_start(&row.clustering, &slice.start)
                        && keys::before_end(&row.clustering, &slice.end)
                        && after.is_none_or(|a| {
                            if reversed {
                                row.clustering.as_slice() < a
                            } else {
                                row.clustering.as_slice() > a
                            }
                        })
                };
                let mut selected: Vec<&Row> = rows.iter().filter(in_slice).collect();
                if reversed {
                    selected.reverse();
                }
                for row in selected {
                    if visit(row.clone()).is_break() {
                        return Ok(ControlFlow::Break(()));
                    }
                }
                Ok(ControlFlow::Continue(()))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rows

/// One candidate result row: its partition, clustering and cells.
struct RowCtx<'r> {
    table: &'r Table,
    pk_blob: &'r [u8],
    pk_parts: &'r [Bytes],
    clustering: Vec<Value>,
    row: Option<&'r Row>,
    statics: &'r Row,
}

impl RowCtx<'_> {
    fn data(&self, c: &Column) -> Option<&ColumnData> {
        match c.kind {
            ColumnKind::Static => self.statics.column(c.id),
            ColumnKind::Regular => self.row.and_then(|r| r.column(c.id)),
            _ => None,
        }
    }

    /// The column's value bytes, `None` for null.
    fn bytes(&self, i: usize) -> Result<Option<Bytes>, Error> {
        let c = &self.table.columns[i];
        Ok(match c.kind {
            ColumnKind::PartitionKey => self.pk_parts.get(c.position as usize).cloned(),
            ColumnKind::Clustering => self.clustering.get(c.position as usize).map(Value::encode),
            _ => match self.data(c) {
                None => None,
                Some(ColumnData::Simple(cell)) => Some(Bytes::copy_from_slice(&cell.value)),
                Some(ColumnData::Complex(items)) => Some(key::collection_bytes(&c.ty, items)?),
            },
        })
    }

    fn value(&self, i: usize) -> Result<Option<Value>, Error> {
        let c = &self.table.columns[i];
        match self.bytes(i)? {
            None => Ok(None),
            Some(b) => Value::decode(&c.ty, &b).map(Some).map_err(|e| {
                Error::Server(format!("stored value of {} does not decode: {e}", c.name))
            }),
        }
    }

    fn cell(&self, i: usize) -> Option<&LiveCell> {
        match self.data(&self.table.columns[i]) {
            Some(ColumnData::Simple(cell)) => Some(cell),
            _ => None,
        }
    }

    fn max_write_time(&self, i: usize) -> Option<i64> {
        match self.data(&self.table.columns[i])? {
            ColumnData::Simple(cell) => Some(cell.timestamp),
            ColumnData::Complex(items) => items.iter().map(|(_, c)| c.timestamp).max(),
        }
    }

    fn passes(&self, filters: &[Filter]) -> Result<bool, Error> {
        for f in filters {
            if let FilterKind::TupleRange {
                columns,
                lower,
                upper,
            } = &f.kind
            {
                let mut values = Vec::new();
                for c in columns {
                    match self.value(*c)? {
                        Some(v) => values.push(v),
                        None => return Ok(false),
                    }
                }
                let cmp_to = |bound: &[Value]| {
                    values
                        .iter()
                        .zip(bound)
                        .map(|(a, b)| a.cql_cmp(b))
                        .find(|o| o.is_ne())
                        .unwrap_or(std::cmp::Ordering::Equal)
                };
                let above = lower.as_ref().is_none_or(|(b, incl)| {
                    let o = cmp_to(b);
                    o.is_gt() || (*incl && o.is_eq())
                });
                let below = upper.as_ref().is_none_or(|(b, incl)| {
                    let o = cmp_to(b);
                    o.is_lt() || (*incl && o.is_eq())
                });
                if above && below {
                    continue;
                }
                return Ok(false);
            }
            let Some(v) = self.value(f.column)? else {
                return Ok(false);
            };
            let cmp = |op: Operator, x: &Value, y: &Value| {
                let o = x.cql_cmp(y);
                match op {
                    Operator::Eq => o.is_eq(),
                    Operator::Lt => o.is_lt(),
                    Operator::Lte => o.is_le(),
                    Operator::Gt => o.is_gt(),
                    Operator::Gte => o.is_ge(),
                    Operator::Neq => o.is_ne(),
                }
            };
            let ok = match &f.kind {
                FilterKind::Compare(op, want) => cmp(*op, &v, want),
                FilterKind::In(want) => want.iter().any(|w| v.cql_cmp(w).is_eq()),
                FilterKind::Contains(want) => match &v {
                    Value::List(items) | Value::Set(items) => {
                        items.iter().any(|x| x.cql_cmp(want).is_eq())
                    }
                    Value::Map(entries) => entries.iter().any(|(_, x)| x.cql_cmp(want).is_eq()),
                    _ => false,
                },
                FilterKind::ContainsKey(want) => match &v {
                    Value::Map(entries) => entries.iter().any(|(k, _)| k.cql_cmp(want).is_eq()),
                    _ => false,
                },
                FilterKind::Element {
                    key,
                    operator,
                    value,
                } => match &v {
                    Value::Map(entries) => entries
                        .iter()
                        .find(|(k, _)| k.cql_cmp(key).is_eq())
                        .is_some_and(|(_, x)| cmp(*operator, x, value)),
                    _ => false,
                },
                FilterKind::TupleRange { .. } => true,
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn project(&self, selection: &Selection) -> Result<Vec<Option<Bytes>>, Error> {
        let mut out = Vec::with_capacity(selection.items.len());
        for item in &selection.items {
            out.push(match *item {
                Item::Column(i) => self.bytes(i)?,
                Item::WriteTime(i) => self
                    .cell(i)
                    .map(|c| Bytes::copy_from_slice(&c.timestamp.to_be_bytes())),
                Item::MaxWriteTime(i) => self
                    .max_write_time(i)
                    .map(|t| Bytes::copy_from_slice(&t.to_be_bytes())),
                Item::Ttl(i) => self
                    .cell(i)
                    .and_then(|c| c.ttl)
                    .map(|t| Bytes::copy_from_slice(&t.to_be_bytes())),
                Item::Token => Some(key::token_value(self.pk_blob)),
                Item::Count => None,
            });
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Execution

fn positive_limit(
    resolver: &Resolver<'_>,
    term: Option<&Term>,
    name: &str,
    what: &str,
) -> Result<Option<u64>, Error> {
    let Some(t) = term else { return Ok(None) };
    match resolver.resolve(t, name, &CqlType::Int)? {
        Resolved::Unset => Ok(None),
        Resolved::Null => Err(invalid(format!(
            "Invalid null value of {}",
            what.to_ascii_lowercase()
        ))),
        Resolved::Value(Value::Int(n)) if n > 0 => Ok(Some(n as u64)),
        Resolved::Value(_) => Err(invalid(format!("{what} must be strictly positive"))),
    }
}

/// Whether reading in clustering order must be reversed for ORDER BY (validated).
fn order_by(table: &Table, s: &Select, partitions: &Partitions) -> Result<bool, Error> {
    if s.order_by.is_empty() {
        return Ok(false);
    }
    let ck: Vec<&Column> = table.clustering().collect();
    let mut reversed: Option<bool> = None;
    for (k, (name, desc)) in s.order_by.iter().enumerate() {
        let i = column_index(table, name.as_str())?;
        let c = &table.columns[i];
        if c.kind != ColumnKind::Clustering {
            return Err(invalid(format!(
                "Order by is currently only supported on the clustered columns of the PRIMARY KEY, got {}",
                c.name
            )));
        }
        if ck.get(k).map(|x| x.name.as_str()) != Some(c.name.as_str()) {
            return Err(invalid(
                "Order by currently only supports the ordering of columns following their declared order in the PRIMARY KEY",
            ));
        }
        let r = *desc != (c.order == ClusteringOrder::Desc);
        if reversed.is_some_and(|x| x != r) {
            return Err(invalid("Unsupported order by relation"));
        }
        reversed = Some(r);
    }
    if !matches!(partitions, Partitions::Keys(_)) {
        return Err(invalid(
            "ORDER BY is only supported when the partition key is restricted by an EQ or an IN.",
        ));
    }
    Ok(reversed.unwrap_or(false))
}

fn check_distinct(table: &Table, s: &Select, r: &Restrictions) -> Result<(), Error> {
    let mut selected = Vec::new();
    for sel in &s.selectors {
        if let SelectorExpr::Column(c) = &sel.expr {
            let i = column_index(table, c.as_str())?;
            let col = &table.columns[i];
            if !matches!(col.kind, ColumnKind::PartitionKey | ColumnKind::Static) {
                return Err(invalid(format!(
                    "SELECT DISTINCT queries must only request partition key columns and/or static columns (not {})",
                    col.name
                )));
            }
            selected.push(col.name.as_str());
        }
    }
    if !s.selectors.is_empty() {
        let missing: Vec<&str> = table
            .partition_key()
            .map(|c| c.name.as_str())
            .filter(|n| !selected.contains(n))
            .collect();
        if !missing.is_empty() {
            return Err(invalid(format!(
                "SELECT DISTINCT queries must request all the partition key columns (missing {})",
                missing.join(", ")
            )));
        }
    }
    let non_key_filter = r.filters.iter().any(|f| {
        !matches!(
            table.columns[f.column].kind,
            ColumnKind::PartitionKey | ColumnKind::Static
        )
    });
    if r.clustering_restricted || non_key_filter {
        return Err(invalid(
            "SELECT DISTINCT with WHERE clause only supports restriction by partition key and/or static columns.",
        ));
    }
    Ok(())
}

/// Collects result rows and decides when to stop.
struct Output {
    rows: Vec<Vec<Option<Bytes>>>,
    /// The clustering of each row, when rows are sorted after the read (IN with ORDER BY).
    sort_keys: Vec<Vec<u8>>,
    bytes: usize,
    counted: u64,
    first_row: Option<Vec<Option<Bytes>>>,
    returned: u64,
    page_rows: Option<u64>,
    limit: Option<u64>,
    max_bytes: Option<usize>,
    last: Option<(Vec<u8>, Position, u64)>,
    full: bool,
}

enum Emit {
    More,
    Stop,
}

impl Output {
    fn emit(
        &mut self,
        selection: &Selection,
        ctx: &RowCtx<'_>,
        prefix: &[u8],
        position: Position,
        in_partition: u64,
        sort_key: Option<Vec<u8>>,
    ) -> Result<Emit, Error> {
        if selection.aggregate {
            self.counted += 1;
            if self.first_row.is_none() {
                self.first_row = Some(ctx.project(selection)?);
            }
            return Ok(Emit::More);
        }
        let row = ctx.project(selection)?;
        self.bytes += row
            .iter()
            .map(|v| v.as_ref().map_or(4, |b| 4 + b.len()))
            .sum::<usize>();
        if let Some(max) = self.max_bytes {
            if self.bytes > max {
                return Err(invalid(format!(
                    "The result of this query is over {max} bytes (max.result.size.bytes): page it (set a page size) or select less"
                )));
            }
        }
        self.rows.push(row);
        if let Some(k) = sort_key {
            self.sort_keys.push(k);
        }
        self.returned += 1;
        self.last = Some((prefix.to_vec(), position, in_partition));
        if self.limit.is_some_and(|l| self.returned >= l) {
            return Ok(Emit::Stop);
        }
        if self.page_rows.is_some_and(|p| self.rows.len() as u64 >= p) {
            self.full = true;
            return Ok(Emit::Stop);
        }
        Ok(Emit::More)
    }
}

/// Run a SELECT.
pub(super) fn execute(
    store: &Store,
    s: &Select,
    keyspace: Option<&str>,
    values: &[BoundValue],
    request: &Request,
) -> Result<QueryResult, Error> {
    let catalog = store.catalog();
    let t = lookup_table(&catalog, &s.table, keyspace)?;
    let table = t.table.as_ref();
    let selection = selection(table, s)?;
    let now_ms = store.inner.engine.clock().now_micros().div_euclid(1000);
    let resolver = Resolver::new(values, now_ms);
    let r = restrictions(store, table, s, &resolver)?;
    if matches!(
        request.consistency,
        Consistency::Serial | Consistency::LocalSerial
    ) && !matches!(&r.partitions, Partitions::Keys(k) if k.len() <= 1)
    {
        return Err(invalid(
            "SERIAL/LOCAL_SERIAL consistency may only be requested for one partition at a time",
        ));
    }
    let reversed = order_by(table, s, &r.partitions)?;
    if s.distinct {
        check_distinct(table, s, &r)?;
    }
    let limit = positive_limit(&resolver, s.limit.as_ref(), "[limit]", "LIMIT")?;
    let per_partition = positive_limit(
        &resolver,
        s.per_partition_limit.as_ref(),
        "[per_partition_limit]",
        "PER PARTITION LIMIT",
    )?;
    let sort_after =
        !s.order_by.is_empty() && matches!(&r.partitions, Partitions::Keys(k) if k.len() > 1);
    let max_page = store.inner.config.max_page_size_rows as u64;
    let page_rows = match request.page_size {
        Some(p) if p > 0 && !selection.aggregate => Some((p as u64).min(max_page.max(1))),
        _ => None,
    };
    if sort_after && page_rows.is_some() {
        return Err(invalid(
            "Cannot page queries with both ORDER BY and a IN restriction on the partition key; you must either remove the ORDER BY or the IN and sort client side, or disable paging for this query",
        ));
    }
    let state = match &request.paging_state {
        Some(b) if !selection.aggregate => Some(PagingState::decode(b)?),
        _ => None,
    };
    let source = if t.is_system {
        Source::Memory(MemSource::new(table, system::rows(store, table))?)
    } else {
        Source::Storage(Reader::new(
            &store.inner.engine,
            table,
            store.inner.engine.clock().now_seconds(),
        ))
    };
    let mut out = Output {
        rows: Vec::new(),
        sort_keys: Vec::new(),
        bytes: 0,
        counted: 0,
        first_row: None,
        returned: state.as_ref().map_or(0, |s| s.returned),
        page_rows,
        limit,
        max_bytes: page_rows
            .is_none()
            .then_some(store.inner.config.max_result_size_bytes),
        last: None,
        full: false,
    };
    if limit.is_some_and(|l| out.returned >= l) {
        return Ok(rows_result(selection, out, None));
    }
    let full_partitions = !r.clustering_restricted
        && !r
            .filters
            .iter()
            .any(|f| !table.columns[f.column].kind.is_primary_key());
    let query = Query {
        table,
        source: &source,
        selection: &selection,
        restrictions: &r,
        reversed,
        per_partition,
        distinct: s.distinct,
        full_partitions,
        sort_after,
    };
    let mut resume = state.clone();
    match &r.partitions {
        Partitions::Keys(keys_list) => {
            for (prefix, blob) in keys_list {
                let mut resume_here = None;
                if let Some(st) = &resume {
                    match prefix.cmp(&st.prefix) {
                        std::cmp::Ordering::Less => continue,
                        std::cmp::Ordering::Equal => {
                            if st.position == Position::PartitionDone {
                                resume = None;
                                continue;
                            }
                            resume_here = Some(st.clone());
                        }
                        std::cmp::Ordering::Greater => {}
                    }
                    resume = None;
                }
                if query
                    .partition(prefix, blob, resume_here.as_ref(), &mut out)?
                    .is_break()
                {
                    break;
                }
            }
        }
        Partitions::Range { lower, upper } => {
            let mut lower = lower.clone();
            let mut resume_here = None;
            if let Some(st) = &resume {
                match &st.position {
                    Position::PartitionDone => match keys::prefix_successor(&st.prefix) {
                        Some(k) if k > lower => lower = k,
                        Some(_) => {}
                        None => return Ok(rows_result(selection, out, None)),
                    },
                    Position::AfterRow(_) => {
                        if st.prefix > lower {
                            lower = st.prefix.clone();
                        }
                        resume_here = Some(st.clone());
                    }
                }
            }
            while let Some((prefix, blob)) = source.next_partition(&lower, upper.as_deref())? {
                let here = resume_here.take().filter(|st| st.prefix == prefix);
                if query
                    .partition(&prefix, &blob, here.as_ref(), &mut out)?
                    .is_break()
                {
                    break;
                }
                match keys::prefix_successor(&prefix) {
                    Some(k) => lower = k,
                    None => break,
                }
            }
        }
    }
    if sort_after {
        let mut pairs: Vec<(Vec<u8>, Vec<Option<Bytes>>)> = std::mem::take(&mut out.sort_keys)
            .into_iter()
            .zip(std::mem::take(&mut out.rows))
            .collect();
        pairs.sort_by(|a, b| {
            if reversed {
                b.0.cmp(&a.0)
            } else {
                a.0.cmp(&b.0)
            }
        });
        if let Some(l) = limit {
            pairs.truncate(l as usize);
        }
        out.rows = pairs.into_iter().map(|(_, r)| r).collect();
    }
    store
        .inner
        .metrics
        .rows_read
        .fetch_add(out.rows.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let paging = if out.full && limit.is_none_or(|l| out.returned < l) {
        out.last.clone().map(|(prefix, position, in_partition)| {
            PagingState {
                prefix,
                position,
                returned: out.returned,
                returned_in_partition: in_partition,
            }
            .encode()
        })
    } else {
        None
    };
    Ok(rows_result(selection, out, paging))
}

fn rows_result(selection: Selection, out: Output, paging_state: Option<Bytes>) -> QueryResult {
    let rows = if selection.aggregate {
        let mut row = out
            .first_row
            .unwrap_or_else(|| vec![None; selection.items.len()]);
        for (i, item) in selection.items.iter().enumerate() {
            if *item == Item::Count {
                row[i] = Some(Bytes::copy_from_slice(&(out.counted as i64).to_be_bytes()));
            }
        }
        vec![row]
    } else {
        out.rows
    };
    QueryResult::Rows(Rows {
        columns: selection.specs,
        rows,
        paging_state,
    })
}

/// One SELECT over its source.
struct Query<'q, 's> {
    table: &'q Table,
    source: &'q Source<'s>,
    selection: &'q Selection,
    restrictions: &'q Restrictions,
    reversed: bool,
    per_partition: Option<u64>,
    distinct: bool,
    full_partitions: bool,
    sort_after: bool,
}

impl Query<'_, '_> {
    /// Read one partition into `out`; `Break` when the query is done (limit or page).
    fn partition(
        &self,
        prefix: &[u8],
        blob: &[u8],
        resume: Option<&PagingState>,
        out: &mut Output,
    ) -> Result<ControlFlow<()>, Error> {
        let header = self.source.header(prefix)?;
        let parts = key::partition_parts(self.table, blob)?;
        let empty = Row::default();
        let statics = &header.statics;
        let base = RowCtx {
            table: self.table,
            pk_blob: blob,
            pk_parts: &parts,
            clustering: Vec::new(),
            row: None,
            statics,
        };
        let mut in_partition = resume.map_or(0, |s| s.returned_in_partition);
        let after = match resume.map(|s| &s.position) {
            Some(Position::AfterRow(c)) => Some(c.clone()),
            _ => None,
        };
        if self.distinct {
            let mut exists = !statics.columns.is_empty();
            if !exists {
                let _ = self
                    .source
                    .rows(prefix, &header, &Slice::all(), false, None, |_| {
                        exists = true;
                        ControlFlow::Break(())
                    })?;
            }
            if exists && base.passes(&self.restrictions.filters)? {
                let sort_key = self.sort_after.then(Vec::new);
                if let Emit::Stop = out.emit(
                    self.selection,
                    &base,
                    prefix,
                    Position::PartitionDone,
                    1,
                    sort_key,
                )? {
                    return Ok(ControlFlow::Break(()));
                }
            }
            return Ok(ControlFlow::Continue(()));
        }
        let mut any_row = resume.is_some();
        let mut stop = false;
        let mut error = None;
        let slices: Vec<&Slice> = if self.reversed {
            self.restrictions.slices.iter().rev().collect()
        } else {
            self.restrictions.slices.iter().collect()
        };
        for slice in slices {
            let flow = self.source.rows(
                prefix,
                &header,
                slice,
                self.reversed,
                after.as_deref(),
                |row| {
                    any_row = true;
                    let clustering = match key::clustering_values(self.table, &row.clustering) {
                        Ok(c) => c,
                        Err(e) => {
                            error = Some(e);
                            return ControlFlow::Break(());
                        }
                    };
                    let ctx = RowCtx {
                        clustering,
                        row: Some(&row),
                        ..base_clone(&base)
                    };
                    match ctx.passes(&self.restrictions.filters) {
                        Ok(true) => {}
                        Ok(false) => return ControlFlow::Continue(()),
                        Err(e) => {
                            error = Some(e);
                            return ControlFlow::Break(());
                        }
                    }
                    if self.per_partition.is_some_and(|p| in_partition >= p) {
                        return ControlFlow::Break(());
                    }
                    in_partition += 1;
                    let sort_key = self.sort_after.then(|| row.clustering.clone());
                    match out.emit(
                        self.selection,
                        &ctx,
                        prefix,
                        Position::AfterRow(row.clustering.clone()),
                        in_partition,
                        sort_key,
                    ) {
                        Ok(Emit::Stop) => {
                            stop = true;
                            ControlFlow::Break(())
                        }
                        Ok(Emit::More) => {
                            if self.per_partition.is_some_and(|p| in_partition >= p) {
                                ControlFlow::Break(())
                            } else {
                                ControlFlow::Continue(())
                            }
                        }
                        Err(e) => {
                            error = Some(e);
                            ControlFlow::Break(())
                        }
                    }
                },
            )?;
            if let Some(e) = error {
                return Err(e);
            }
            if stop {
                return Ok(ControlFlow::Break(()));
            }
            if flow.is_break() {
                break;
            }
        }
        if !any_row && self.full_partitions && !statics.columns.is_empty() {
            let ctx = RowCtx {
                row: Some(&empty),
                ..base_clone(&base)
            };
            if ctx.passes(&self.restrictions.filters)? {
                let sort_key = self.sort_after.then(Vec::new);
                if let Emit::Stop = out.emit(
                    self.selection,
                    &ctx,
                    prefix,
                    Position::PartitionDone,
                    1,
                    sort_key,
                )? {
                    return Ok(ControlFlow::Break(()));
                }
            }
        }
        Ok(ControlFlow::Continue(()))
    }
}

fn base_clone<'r>(b: &RowCtx<'r>) -> RowCtx<'r> {
    RowCtx {
        table: b.table,
        pk_blob: b.pk_blob,
        pk_parts: b.pk_parts,
        clustering: b.clustering.clone(),
        row: b.row,
        statics: b.statics,
    }
}
