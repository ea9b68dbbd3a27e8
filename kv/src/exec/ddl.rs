//! DDL: CREATE/ALTER/DROP KEYSPACE, CREATE/ALTER/DROP/TRUNCATE TABLE and USE, validated as
//! Cassandra validates them and answered with its codes and wording (AlreadyExists, "Keyspace
//! 'x' doesn't exist", ...). Each change builds the next catalog from the current one under
//! the DDL lock, persists it with its column families (see [`crate::engine`]), then swaps it
//! in.

use std::sync::Arc;

use fastdata_cql::ast::{
    AlterTableAction, ColumnDefinition, CreateTable, Literal, OptionValue, Statement, TableOption,
};
use fastdata_cql::CqlType;
use uuid::Uuid;

use super::system;
use super::terms::keyspace_of;
use super::Store;
use crate::api::{ChangeTarget, ChangeType, Error, QueryResult, SchemaChange};
use crate::schema::{
    parse_bool, Catalog, ClusteringOrder, Column, ColumnKind, DroppedColumn, Keyspace,
    PropertyValue, Table, TableOptions,
};

/// Cassandra's `SchemaConstants.NAME_LENGTH`.
const NAME_LENGTH: usize = 48;

fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(msg.into())
}

fn changed(change: ChangeType, target: ChangeTarget) -> QueryResult {
    QueryResult::SchemaChange(SchemaChange { change, target })
}

fn table_target(ks: &str, t: &str) -> ChangeTarget {
    ChangeTarget::Table {
        keyspace: ks.to_string(),
        table: t.to_string(),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_LENGTH
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn literal_text(l: &Literal) -> String {
    l.raw_text().to_string()
}

fn property(option: &TableOption) -> PropertyValue {
    match &option.value {
        OptionValue::Literal(l) => PropertyValue::Text(literal_text(l)),
        OptionValue::Word(w) => PropertyValue::Text(w.as_str().to_string()),
        OptionValue::Map(entries) => PropertyValue::Map(
            entries
                .iter()
                .map(|(k, v)| (literal_text(k), literal_text(v)))
                .collect(),
        ),
    }
}

fn not_user_modifiable(ks: &str) -> Error {
    Error::Invalid(format!("{ks} keyspace is not user-modifiable."))
}

pub(super) fn use_keyspace(store: &Store, name: &str) -> Result<QueryResult, Error> {
    if system::is_system_keyspace(name) || store.catalog().keyspaces.contains_key(name) {
        Ok(QueryResult::SetKeyspace(name.to_string()))
    } else {
        Err(invalid(format!("Keyspace '{name}' does not exist")))
    }
}

/// Writes keyspace `name` (created or altered) and makes it part of the next catalog.
fn put_keyspace(
    store: &Store,
    catalog: &Catalog,
    name: &str,
    replication: &Replication,
    durable: bool,
    change: ChangeType,
) -> Result<QueryResult, Error> {
    let ks = Keyspace::new(name, replication, durable)?;
    store.inner.engine.put_keyspace(&ks)?;
    let mut next = catalog.clone();
    next.keyspaces.insert(name.to_string(), ks);
    store.set_catalog(next);
    Ok(changed(change, ChangeTarget::Keyspace(name.to_string())))
}

/// A keyspace's replication options, as (key, value) pairs.
type Replication = Vec<(String, String)>;

/// Keyspace options: the replication map (if given) and durable_writes.
fn keyspace_options(
    options: &[TableOption],
    current: Option<&Keyspace>,
) -> Result<(Option<Replication>, bool), Error> {
    let mut replication = None;
    let mut durable = current.is_none_or(|k| k.durable_writes);
    for o in options {
        match (o.name.as_str(), property(o)) {
            ("replication", PropertyValue::Map(m)) => replication = Some(m),
            ("replication", PropertyValue::Text(_)) => {
                return Err(Error::Syntax(
                    "Invalid value for property 'replication'. It should be a map.".into(),
                ))
            }
            ("durable_writes", PropertyValue::Text(t)) => {
                durable = parse_bool("durable_writes", &t)?
            }
            ("durable_writes", PropertyValue::Map(_)) => {
                return Err(Error::Syntax(
                    "Invalid value for property 'durable_writes'. It should be a string".into(),
                ))
            }
            (other, _) => return Err(Error::Syntax(format!("Unknown property '{other}'"))),
        }
    }
    Ok((replication, durable))
}

/// Run a DDL statement (and TRUNCATE).
pub(super) fn execute(
    store: &Store,
    statement: &Statement,
    session: Option<&str>,
) -> Result<QueryResult, Error> {
    let _guard = store
        .inner
        .ddl
        .lock()
        .map_err(|_| Error::Server("the schema lock is poisoned".into()))?;
    let catalog = store.catalog();
    let engine = &store.inner.engine;
    match statement {
        Statement::CreateKeyspace(c) => {
            let name = c.name.as_str();
            if system::is_system_keyspace(name) || catalog.keyspaces.contains_key(name) {
                if c.if_not_exists {
                    return Ok(QueryResult::Void);
                }
                return Err(Error::AlreadyExists {
                    keyspace: name.to_string(),
                    table: String::new(),
                    message: format!("Cannot add existing keyspace \"{name}\""),
                });
            }
            if !valid_name(name) {
                return Err(invalid(format!(
                    "Keyspace name must not be empty, more than {NAME_LENGTH} characters long, or contain non-alphanumeric-underscore characters (got \"{name}\")"
                )));
            }
            let (replication, durable) = keyspace_options(&c.options, None)?;
            let replication = replication
                .ok_or_else(|| Error::Config("Missing mandatory option 'replication'".into()))?;
            put_keyspace(
                store,
                &catalog,
                name,
                &replication,
                durable,
                ChangeType::Created,
            )
        }
        Statement::AlterKeyspace(a) => {
            let name = a.name.as_str();
            if system::is_system_keyspace(name) {
                return Err(not_user_modifiable(name));
            }
            let Some(current) = catalog.keyspaces.get(name) else {
                if a.if_exists {
                    return Ok(QueryResult::Void);
                }
                return Err(invalid(format!("Keyspace '{name}' doesn't exist")));
            };
            let (replication, durable) = keyspace_options(&a.options, Some(current))?;
            let replication = match replication {
                Some(r) => r,
                None => current.replication.clone().into_iter().collect(),
            };
            put_keyspace(
                store,
                &catalog,
                name,
                &replication,
                durable,
                ChangeType::Updated,
            )
        }
        Statement::DropKeyspace(d) => {
            let name = d.name.as_str();
            if system::is_system_keyspace(name) {
                return Err(not_user_modifiable(name));
            }
            if !catalog.keyspaces.contains_key(name) {
                if d.if_exists {
                    return Ok(QueryResult::Void);
                }
                return Err(invalid(format!("Keyspace '{name}' doesn't exist")));
            }
            let mut next = (*catalog).clone();
            let tables: Vec<Arc<Table>> = catalog.tables_of(name).cloned().collect();
            for t in &tables {
                engine.drop_table(t)?;
                next.tables.remove(&(t.keyspace.clone(), t.name.clone()));
            }
            engine.delete_keyspace(name)?;
            next.keyspaces.remove(name);
            store.set_catalog(next);
            Ok(changed(
                ChangeType::Dropped,
                ChangeTarget::Keyspace(name.to_string()),
            ))
        }
        Statement::CreateTable(c) => {
            let ks = keyspace_of(&c.name, session)?;
            let name = c.name.name.as_str();
            if system::is_system_keyspace(ks) {
                return Err(not_user_modifiable(ks));
            }
            if !catalog.keyspaces.contains_key(ks) {
                return Err(invalid(format!("Keyspace '{ks}' doesn't exist")));
            }
            if catalog.table(ks, name).is_some() {
                if c.if_not_exists {
                    return Ok(QueryResult::Void);
                }
                return Err(Error::AlreadyExists {
                    keyspace: ks.to_string(),
                    table: name.to_string(),
                    message: format!(
                        "Cannot add already existing table \"{name}\" to keyspace \"{ks}\""
                    ),
                });
            }
            let table = build_table(ks, c)?;
            if catalog.tables.values().any(|t| t.id == table.id) {
                return Err(invalid(format!("Table id {} is already used", table.id)));
            }
            engine.create_table(&table)?;
            let mut next = (*catalog).clone();
            next.tables
                .insert((ks.to_string(), name.to_string()), Arc::new(table));
            store.set_catalog(next);
            Ok(changed(ChangeType::Created, table_target(ks, name)))
        }
        Statement::AlterTable(a) => {
            let ks = keyspace_of(&a.name, session)?;
            let name = a.name.name.as_str();
            if system::is_system_keyspace(ks) {
                return Err(not_user_modifiable(ks));
            }
            if !catalog.keyspaces.contains_key(ks) {
                return Err(invalid(format!("Keyspace '{ks}' doesn't exist")));
            }
            let Some(current) = catalog.table(ks, name) else {
                if a.if_exists {
                    return Ok(QueryResult::Void);
                }
                return Err(invalid(format!("Table '{ks}.{name}' doesn't exist")));
            };
            let now_us = store.inner.timestamps.next();
            let Some(table) = alter_table(current, &a.action, now_us)? else {
                return Ok(QueryResult::Void);
            };
            engine.put_table(&table)?;
            let mut next = (*catalog).clone();
            next.tables
                .insert((ks.to_string(), name.to_string()), Arc::new(table));
            store.set_catalog(next);
            Ok(changed(ChangeType::Updated, table_target(ks, name)))
        }
        Statement::DropTable(d) => {
            let ks = keyspace_of(&d.name, session)?;
            let name = d.name.name.as_str();
            if system::is_system_keyspace(ks) {
                return Err(not_user_modifiable(ks));
            }
            let Some(t) = catalog.table(ks, name) else {
                if d.if_exists {
                    return Ok(QueryResult::Void);
                }
                if !catalog.keyspaces.contains_key(ks) {
                    return Err(invalid(format!("Keyspace '{ks}' doesn't exist")));
                }
                return Err(invalid(format!("Table '{ks}.{name}' doesn't exist")));
            };
            engine.drop_table(t)?;
            let mut next = (*catalog).clone();
            next.tables.remove(&(ks.to_string(), name.to_string()));
            store.set_catalog(next);
            Ok(changed(ChangeType::Dropped, table_target(ks, name)))
        }
        Statement::Truncate(q) => {
            let ks = keyspace_of(q, session)?;
            let name = q.name.as_str();
            if system::is_system_keyspace(ks) {
                return Err(not_user_modifiable(ks));
            }
            if !catalog.keyspaces.contains_key(ks) {
                return Err(invalid(format!("Keyspace '{ks}' does not exist")));
            }
            let t = catalog
                .table(ks, name)
                .ok_or_else(|| invalid(format!("unconfigured table {name}")))?;
            engine
                .truncate(t)
                .map_err(|e| Error::Truncate(format!("Error during truncate: {e}")))?;
            Ok(QueryResult::Void)
        }
        other => Err(invalid(format!("not a schema statement: {other:?}"))),
    }
}

/// Reject the types CQL-lite does not store, as Cassandra rejects misplaced collections.
fn check_type(column: &str, ty: &CqlType, in_primary_key: bool) -> Result<(), Error> {
    fn has_counter(t: &CqlType) -> bool {
        match t {
            CqlType::Counter => true,
            CqlType::List(e) | CqlType::Set(e) | CqlType::Frozen(e) => has_counter(e),
            CqlType::Map(k, v) => has_counter(k) || has_counter(v),
            CqlType::Tuple(items) => items.iter().any(has_counter),
            _ => false,
        }
    }
    fn nested_non_frozen(t: &CqlType) -> bool {
        let inner: Vec<&CqlType> = match t {
            CqlType::List(e) | CqlType::Set(e) => vec![e],
            CqlType::Map(k, v) => vec![k, v],
            CqlType::Tuple(items) => items.iter().collect(),
            CqlType::Frozen(e) => return nested_non_frozen_inside(e),
            _ => vec![],
        };
        inner
            .iter()
            .any(|e| !e.is_frozen_or_native() || nested_non_frozen(e))
    }
    fn nested_non_frozen_inside(t: &CqlType) -> bool {
        match t {
            CqlType::List(e) | CqlType::Set(e) => nested_non_frozen_inside(e),
            CqlType::Map(k, v) => nested_non_frozen_inside(k) || nested_non_frozen_inside(v),
            _ => false,
        }
    }
    if has_counter(ty) {
        return Err(invalid(format!(
            "Counter columns are not supported yet (column {column} of type {ty})"
        )));
    }
    if nested_non_frozen(ty) {
        return Err(invalid(format!(
            "Non-frozen collections are not allowed inside collections: {ty}"
        )));
    }
    if in_primary_key && !ty.is_frozen_or_native() {
        return Err(invalid(format!(
            "Invalid non-frozen collection type {ty} for PRIMARY KEY component {column}"
        )));
    }
    Ok(())
}

fn build_table(ks: &str, c: &CreateTable) -> Result<Table, Error> {
    let name = c.name.name.as_str();
    if !valid_name(name) {
        return Err(invalid(format!(
            "Table name must not be empty, more than {NAME_LENGTH} characters long, or contain non-alphanumeric-underscore characters (got \"{name}\")"
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for d in &c.columns {
        if !seen.insert(d.name.as_str()) {
            return Err(invalid(format!(
                "Multiple definition of identifier {}",
                d.name.as_str()
            )));
        }
    }
    let find = |n: &str| -> Result<&ColumnDefinition, Error> {
        c.columns
            .iter()
            .find(|d| d.name.as_str() == n)
            .ok_or_else(|| invalid(format!("Unknown definition {n} referenced in PRIMARY KEY")))
    };
    let mut key_seen = std::collections::HashSet::new();
    for k in c
        .primary_key
        .partition_key
        .iter()
        .chain(&c.primary_key.clustering)
    {
        find(k.as_str())?;
        if !key_seen.insert(k.as_str()) {
            return Err(invalid(format!(
                "Multiple definition of identifier {}",
                k.as_str()
            )));
        }
    }
    let ck: Vec<&str> = c
        .primary_key
        .clustering
        .iter()
        .map(|i| i.as_str())
        .collect();
    if !c.clustering_order.is_empty() {
        for (col, _) in &c.clustering_order {
            if !ck.contains(&col.as_str()) {
                return Err(invalid(
                    "Only clustering key columns can be defined in CLUSTERING ORDER directive",
                ));
            }
        }
        let ordered: Vec<&str> = c.clustering_order.iter().map(|(i, _)| i.as_str()).collect();
        if ordered != ck {
            return Err(invalid(
                "Clustering key columns must exactly match columns in CLUSTERING ORDER BY directive",
            ));
        }
    }
    let mut columns = Vec::new();
    for (id, d) in c.columns.iter().enumerate() {
        let n = d.name.as_str();
        let (kind, position) = if let Some(p) = c
            .primary_key
            .partition_key
            .iter()
            .position(|k| k.as_str() == n)
        {
            (ColumnKind::PartitionKey, p as i32)
        } else if let Some(p) = ck.iter().position(|k| *k == n) {
            (ColumnKind::Clustering, p as i32)
        } else if d.is_static {
            (ColumnKind::Static, -1)
        } else {
            (ColumnKind::Regular, -1)
        };
        if d.is_static && kind.is_primary_key() {
            return Err(invalid(format!(
                "Static column {n} cannot be part of the PRIMARY KEY"
            )));
        }
        if d.is_static && ck.is_empty() {
            return Err(invalid(
                "Static columns are only useful (and thus allowed) if the table has at least one clustering column",
            ));
        }
        check_type(n, &d.ty, kind.is_primary_key())?;
        let order = if kind == ColumnKind::Clustering {
            let desc = c
                .clustering_order
                .iter()
                .find(|(i, _)| i.as_str() == n)
                .is_some_and(|(_, desc)| *desc);
            if desc {
                ClusteringOrder::Desc
            } else {
                ClusteringOrder::Asc
            }
        } else {
            ClusteringOrder::None
        };
        columns.push(Column {
            name: n.to_string(),
            id: u16::try_from(id).map_err(|_| invalid("Too many columns"))?,
            ty: d.ty.clone(),
            kind,
            position,
            order,
        });
    }
    let mut id = Uuid::new_v4();
    let mut options = TableOptions::default();
    let mut properties = Vec::new();
    for o in &c.options {
        if o.name.as_str() == "id" {
            let PropertyValue::Text(t) = property(o) else {
                return Err(Error::Syntax("Invalid value for property 'id'".into()));
            };
            id = Uuid::parse_str(&t).map_err(|_| Error::Config(format!("Invalid table id {t}")))?;
        } else {
            properties.push((o.name.as_str().to_string(), property(o)));
        }
    }
    options.apply(&properties)?;
    let mut table = Table {
        keyspace: ks.to_string(),
        name: name.to_string(),
        id,
        next_column_id: u16::try_from(columns.len()).map_err(|_| invalid("Too many columns"))?,
        columns,
        dropped: Vec::new(),
        options,
    };
    table.sort_columns();
    Ok(table)
}

/// The table after ALTER TABLE, or `None` when nothing changes (IF [NOT] EXISTS).
fn alter_table(
    current: &Table,
    action: &AlterTableAction,
    now_us: i64,
) -> Result<Option<Table>, Error> {
    let mut t = current.clone();
    let qualified = format!("{}.{}", t.keyspace, t.name);
    match action {
        AlterTableAction::Add {
            if_not_exists,
            columns,
        } => {
            let mut added = false;
            for d in columns {
                let n = d.name.as_str();
                if t.column(n).is_some() {
                    if *if_not_exists {
                        continue;
                    }
                    return Err(invalid(format!("Column with name '{n}' already exists")));
                }
                if d.is_static && t.clustering().next().is_none() {
                    return Err(invalid(
                        "Static columns are only useful (and thus allowed) if the table has at least one clustering column",
                    ));
                }
                check_type(n, &d.ty, false)?;
                if let Some(old) = t.dropped.iter().rev().find(|c| c.name == n) {
                    if old.ty != d.ty {
                        return Err(invalid(format!(
                            "Cannot re-add previously dropped column '{n}' of type {}, incompatible with previous type {}",
                            d.ty, old.ty
                        )));
                    }
                }
                let id = t.next_column_id;
                t.next_column_id = id.checked_add(1).ok_or_else(|| {
                    invalid(format!("Table {qualified} has used every column id"))
                })?;
                t.columns.push(Column {
                    name: n.to_string(),
                    id,
                    ty: d.ty.clone(),
                    kind: if d.is_static {
                        ColumnKind::Static
                    } else {
                        ColumnKind::Regular
                    },
                    position: -1,
                    order: ClusteringOrder::None,
                });
                added = true;
            }
            if !added {
                return Ok(None);
            }
        }
        AlterTableAction::Drop {
            if_exists,
            columns,
            timestamp,
        } => {
            let mut dropped = false;
            for c in columns {
                let n = c.as_str();
                let Some(i) = t.columns.iter().position(|x| x.name == n) else {
                    if *if_exists {
                        continue;
                    }
                    return Err(invalid(format!(
                        "Column {n} was not found in table {qualified}"
                    )));
                };
                if t.columns[i].kind.is_primary_key() {
                    return Err(invalid(format!("Cannot drop PRIMARY KEY column {n}")));
                }
                let col = t.columns.remove(i);
                t.dropped.retain(|d| d.name != n);
                t.dropped.push(DroppedColumn {
                    name: col.name,
                    id: col.id,
                    ty: col.ty,
                    kind: col.kind,
                    dropped_time_us: timestamp.unwrap_or(now_us),
                });
                dropped = true;
            }
            if !dropped {
                return Ok(None);
            }
        }
        AlterTableAction::Rename { if_exists, renames } => {
            for (from, to) in renames {
                let Some(i) = t.columns.iter().position(|x| x.name == from.as_str()) else {
                    if *if_exists {
                        continue;
                    }
                    return Err(invalid(format!(
                        "Column {} was not found in table {qualified}",
                        from.as_str()
                    )));
                };
                if !t.columns[i].kind.is_primary_key() {
                    return Err(invalid(format!(
                        "Cannot rename non PRIMARY KEY column {}",
                        from.as_str()
                    )));
                }
                if t.column(to.as_str()).is_some() {
                    return Err(invalid(format!(
                        "Cannot rename column {} to {} in table '{}'; another column of that name already exist",
                        from.as_str(),
                        to.as_str(),
                        t.name
                    )));
                }
                t.columns[i].name = to.as_str().to_string();
            }
        }
        AlterTableAction::With(options) => {
            let mut properties = Vec::new();
            for o in options {
                if o.name.as_str() == "id" {
                    return Err(Error::Config("Cannot alter table id.".into()));
                }
                properties.push((o.name.as_str().to_string(), property(o)));
            }
            t.options.apply(&properties)?;
        }
    }
    t.sort_columns();
    Ok(Some(t))
}
