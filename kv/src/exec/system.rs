//! The system tables drivers and cqlsh read on connect, served from the node's identity and the
//! catalog (never stored): `system.local`, `system.peers`, `system.peers_v2` (empty: one node),
//! and `system_schema.{keyspaces, tables, columns, dropped_columns, types, functions,
//! aggregates, triggers, indexes, views}` with Cassandra's schemas (kv.md §3.4). They describe
//! themselves in `system_schema` too, as cqlsh needs to print their rows.
//!
//! Their ids are Cassandra's (`TableId.forSystemTable`: a name-based UUID of keyspace and table
//! names), and their rows are sorted as Cassandra's would be (by token of the partition key,
//! then clustering), so paging and `token()` work on them as on user tables.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use fastdata_cql::{CqlType, Value};
use md5::{Digest, Md5};
use uuid::Uuid;

use super::Store;
use crate::schema::{ClusteringOrder, Column, ColumnKind, Keyspace, Table, TableOptions};

pub(super) const SYSTEM: &str = "system";
pub(super) const SYSTEM_SCHEMA: &str = "system_schema";

pub(super) fn is_system_keyspace(name: &str) -> bool {
    name == SYSTEM || name == SYSTEM_SCHEMA
}

/// The system keyspaces (LocalStrategy).
pub(super) fn keyspaces() -> Vec<Keyspace> {
    [SYSTEM, SYSTEM_SCHEMA]
        .iter()
        .map(|name| Keyspace {
            name: name.to_string(),
            replication: [(
                "class".to_string(),
                "org.apache.cassandra.locator.LocalStrategy".to_string(),
            )]
            .into_iter()
            .collect(),
            durable_writes: true,
        })
        .collect()
}

/// Cassandra's `TableId.forSystemTable`: `UUID.nameUUIDFromBytes(keyspace ‖ table)`.
fn system_table_id(keyspace: &str, table: &str) -> Uuid {
    let mut md5 = Md5::new();
    md5.update(keyspace.as_bytes());
    md5.update(table.as_bytes());
    let mut b: [u8; 16] = md5.finalize().into();
    b[6] = (b[6] & 0x0f) | 0x30;
    b[8] = (b[8] & 0x3f) | 0x80;
    Uuid::from_bytes(b)
}

fn define(
    keyspace: &str,
    name: &str,
    comment: &str,
    columns: &[(&str, &str)],
    pk: &[&str],
    ck: &[&str],
) -> Table {
    let mut cols = Vec::new();
    for (i, (col, ty)) in columns.iter().enumerate() {
        let (kind, position) = if let Some(p) = pk.iter().position(|k| k == col) {
            (ColumnKind::PartitionKey, p as i32)
        } else if let Some(p) = ck.iter().position(|k| k == col) {
            (ColumnKind::Clustering, p as i32)
        } else {
            (ColumnKind::Regular, -1)
        };
        cols.push(Column {
            name: col.to_string(),
            id: i as u16,
            // The definitions below are constant and valid.
            ty: CqlType::parse(ty).unwrap_or(CqlType::Blob),
            kind,
            position,
            order: if kind == ColumnKind::Clustering {
                ClusteringOrder::Asc
            } else {
                ClusteringOrder::None
            },
        });
    }
    let mut t = Table {
        keyspace: keyspace.to_string(),
        name: name.to_string(),
        id: system_table_id(keyspace, name),
        next_column_id: cols.len() as u16,
        columns: cols,
        dropped: Vec::new(),
        options: TableOptions {
            comment: comment.to_string(),
            gc_grace_seconds: 0,
            ..TableOptions::default()
        },
    };
    t.sort_columns();
    t
}

const MAP_TEXT: &str = "frozen<map<text, text>>";

fn build_tables() -> Vec<Arc<Table>> {
    let s = SYSTEM;
    let ss = SYSTEM_SCHEMA;
    let table_options: &[(&str, &str)] = &[
        ("additional_write_policy", "text"),
        ("bloom_filter_fp_chance", "double"),
        ("caching", MAP_TEXT),
        ("cdc", "boolean"),
        ("comment", "text"),
        ("compaction", MAP_TEXT),
        ("compression", MAP_TEXT),
        ("crc_check_chance", "double"),
        ("dclocal_read_repair_chance", "double"),
        ("default_time_to_live", "int"),
        ("extensions", "frozen<map<text, blob>>"),
        ("gc_grace_seconds", "int"),
        ("id", "uuid"),
        ("max_index_interval", "int"),
        ("memtable_flush_period_in_ms", "int"),
        ("min_index_interval", "int"),
        ("read_repair", "text"),
        ("read_repair_chance", "double"),
        ("speculative_retry", "text"),
    ];
    let with = |head: &[(&'static str, &'static str)], extra: &[(&'static str, &'static str)]| {
        let mut v: Vec<(&str, &str)> = head.to_vec();
        v.extend_from_slice(table_options);
        v.extend_from_slice(extra);
        v
    };
    let tables_columns = with(
        &[("keyspace_name", "text"), ("table_name", "text")],
        &[
            ("allow_auto_snapshot", "boolean"),
            ("flags", "frozen<set<text>>"),
            ("incremental_backups", "boolean"),
            ("memtable", "text"),
        ],
    );
    let views_columns = with(
        &[("keyspace_name", "text"), ("view_name", "text")],
        &[
            ("base_table_id", "uuid"),
            ("base_table_name", "text"),
            ("include_all_columns", "boolean"),
            ("where_clause", "text"),
        ],
    );
    let tokens = ("tokens", "set<text>");
    vec![
        define(
            s,
            "local",
            "information about the local node",
            &[
                ("key", "text"),
                ("bootstrapped", "text"),
                ("broadcast_address", "inet"),
                ("broadcast_port", "int"),
                ("cluster_name", "text"),
                ("cql_version", "text"),
                ("data_center", "text"),
                ("gossip_generation", "int"),
                ("host_id", "uuid"),
                ("listen_address", "inet"),
                ("listen_port", "int"),
                ("native_protocol_version", "text"),
                ("partitioner", "text"),
                ("rack", "text"),
                ("release_version", "text"),
                ("rpc_address", "inet"),
                ("rpc_port", "int"),
                ("schema_version", "uuid"),
                tokens,
                ("truncated_at", "map<uuid, blob>"),
            ],
            &["key"],
            &[],
        ),
        define(
            s,
            "peers",
            "information about known peers in the cluster",
            &[
                ("peer", "inet"),
                ("data_center", "text"),
                ("host_id", "uuid"),
                ("preferred_ip", "inet"),
                ("rack", "text"),
                ("release_version", "text"),
                ("rpc_address", "inet"),
                ("schema_version", "uuid"),
                tokens,
            ],
            &["peer"],
            &[],
        ),
        define(
            s,
            "peers_v2",
            "information about known peers in the cluster",
            &[
                ("peer", "inet"),
                ("peer_port", "int"),
                ("data_center", "text"),
                ("host_id", "uuid"),
                ("native_address", "inet"),
                ("native_port", "int"),
                ("preferred_ip", "inet"),
                ("preferred_port", "int"),
                ("rack", "text"),
                ("release_version", "text"),
                ("schema_version", "uuid"),
                tokens,
            ],
            &["peer"],
            &["peer_port"],
        ),
        define(
            ss,
            "keyspaces",
            "keyspace definitions",
            &[
                ("keyspace_name", "text"),
                ("durable_writes", "boolean"),
                ("replication", MAP_TEXT),
            ],
            &["keyspace_name"],
            &[],
        ),
        define(
            ss,
            "tables",
            "table definitions",
            &tables_columns,
            &["keyspace_name"],
            &["table_name"],
        ),
        define(
            ss,
            "columns",
            "column definitions",
            &[
                ("keyspace_name", "text"),
                ("table_name", "text"),
                ("column_name", "text"),
                ("clustering_order", "text"),
                ("column_name_bytes", "blob"),
                ("kind", "text"),
                ("position", "int"),
                ("type", "text"),
            ],
            &["keyspace_name"],
            &["table_name", "column_name"],
        ),
        define(
            ss,
            "dropped_columns",
            "dropped column registry",
            &[
                ("keyspace_name", "text"),
                ("table_name", "text"),
                ("column_name", "text"),
                ("dropped_time", "timestamp"),
                ("kind", "text"),
                ("type", "text"),
            ],
            &["keyspace_name"],
            &["table_name", "column_name"],
        ),
        define(
            ss,
            "types",
            "user defined type definitions",
            &[
                ("keyspace_name", "text"),
                ("type_name", "text"),
                ("field_names", "frozen<list<text>>"),
                ("field_types", "frozen<list<text>>"),
            ],
            &["keyspace_name"],
            &["type_name"],
        ),
        define(
            ss,
            "functions",
            "user defined function definitions",
            &[
                ("keyspace_name", "text"),
                ("function_name", "text"),
                ("argument_types", "frozen<list<text>>"),
                ("argument_names", "frozen<list<text>>"),
                ("body", "text"),
                ("called_on_null_input", "boolean"),
                ("language", "text"),
                ("return_type", "text"),
            ],
            &["keyspace_name"],
            &["function_name", "argument_types"],
        ),
        define(
            ss,
            "aggregates",
            "user defined aggregate definitions",
            &[
                ("keyspace_name", "text"),
                ("aggregate_name", "text"),
                ("argument_types", "frozen<list<text>>"),
                ("final_func", "text"),
                ("initcond", "text"),
                ("return_type", "text"),
                ("state_func", "text"),
                ("state_type", "text"),
            ],
            &["keyspace_name"],
            &["aggregate_name", "argument_types"],
        ),
        define(
            ss,
            "triggers",
            "trigger definitions",
            &[
                ("keyspace_name", "text"),
                ("table_name", "text"),
                ("trigger_name", "text"),
                ("options", MAP_TEXT),
            ],
            &["keyspace_name"],
            &["table_name", "trigger_name"],
        ),
        define(
            ss,
            "indexes",
            "secondary index definitions",
            &[
                ("keyspace_name", "text"),
                ("table_name", "text"),
                ("index_name", "text"),
                ("kind", "text"),
                ("options", MAP_TEXT),
            ],
            &["keyspace_name"],
            &["table_name", "index_name"],
        ),
        define(
            ss,
            "views",
            "view definitions",
            &views_columns,
            &["keyspace_name"],
            &["view_name"],
        ),
    ]
    .into_iter()
    .map(Arc::new)
    .collect()
}

/// Every system table.
pub(super) fn tables() -> &'static [Arc<Table>] {
    static TABLES: OnceLock<Vec<Arc<Table>>> = OnceLock::new();
    TABLES.get_or_init(build_tables)
}

/// A system table by name.
pub(super) fn table(keyspace: &str, name: &str) -> Option<Arc<Table>> {
    tables()
        .iter()
        .find(|t| t.keyspace == keyspace && t.name == name)
        .cloned()
}

fn text(s: &str) -> Option<Value> {
    Some(Value::Text(s.to_string()))
}

fn text_map<'a>(m: impl IntoIterator<Item = (&'a String, &'a String)>) -> Option<Value> {
    Some(Value::map(
        m.into_iter()
            .map(|(k, v)| (Value::Text(k.clone()), Value::Text(v.clone())))
            .collect(),
    ))
}

/// One row of a system table: a value (or null) per column, by column name.
pub(super) type SystemRow = Vec<(&'static str, Option<Value>)>;

fn table_row(t: &Table) -> SystemRow {
    let o = &t.options;
    vec![
        ("keyspace_name", text(&t.keyspace)),
        ("table_name", text(&t.name)),
        ("additional_write_policy", text(&o.additional_write_policy)),
        (
            "allow_auto_snapshot",
            Some(Value::Boolean(o.allow_auto_snapshot)),
        ),
        (
            "bloom_filter_fp_chance",
            Some(Value::Double(o.bloom_filter_fp_chance)),
        ),
        ("caching", text_map(&o.caching)),
        ("cdc", Some(Value::Boolean(o.cdc))),
        ("comment", text(&o.comment)),
        ("compaction", text_map(&o.compaction)),
        ("compression", text_map(&o.compression)),
        ("crc_check_chance", Some(Value::Double(o.crc_check_chance))),
        ("dclocal_read_repair_chance", Some(Value::Double(0.0))),
        (
            "default_time_to_live",
            Some(Value::Int(o.default_time_to_live)),
        ),
        (
            "extensions",
            Some(Value::map(
                o.extensions
                    .iter()
                    .map(|(k, v)| (Value::Text(k.clone()), Value::Blob(Bytes::from(v.clone()))))
                    .collect(),
            )),
        ),
        (
            "flags",
            Some(Value::Set(vec![Value::Text("compound".into())])),
        ),
        ("gc_grace_seconds", Some(Value::Int(o.gc_grace_seconds))),
        ("id", Some(Value::Uuid(t.id))),
        (
            "incremental_backups",
            Some(Value::Boolean(o.incremental_backups)),
        ),
        ("max_index_interval", Some(Value::Int(o.max_index_interval))),
        ("memtable", text(&o.memtable)),
        (
            "memtable_flush_period_in_ms",
            Some(Value::Int(o.memtable_flush_period_in_ms)),
        ),
        ("min_index_interval", Some(Value::Int(o.min_index_interval))),
        ("read_repair", text(&o.read_repair)),
        ("read_repair_chance", Some(Value::Double(0.0))),
        ("speculative_retry", text(&o.speculative_retry)),
    ]
}

fn column_row(t: &Table, c: &Column) -> SystemRow {
    vec![
        ("keyspace_name", text(&t.keyspace)),
        ("table_name", text(&t.name)),
        ("column_name", text(&c.name)),
        ("clustering_order", text(c.order.as_str())),
        (
            "column_name_bytes",
            Some(Value::Blob(Bytes::from(c.name.clone().into_bytes()))),
        ),
        ("kind", text(c.kind.as_str())),
        ("position", Some(Value::Int(c.position))),
        ("type", text(&c.ty.to_string())),
    ]
}

/// The rows of a system table now.
pub(super) fn rows(store: &Store, table: &Table) -> Vec<SystemRow> {
    let catalog = store.catalog();
    let id = &store.inner.identity;
    let keyspaces: Vec<Keyspace> = keyspaces()
        .into_iter()
        .chain(catalog.keyspaces.values().cloned())
        .collect();
    let all_tables: Vec<Arc<Table>> = tables()
        .iter()
        .cloned()
        .chain(catalog.tables.values().cloned())
        .collect();
    match (table.keyspace.as_str(), table.name.as_str()) {
        (SYSTEM, "local") => {
            let ip = Value::Inet(id.rpc_address);
            vec![vec![
                ("key", text("local")),
                ("bootstrapped", text("COMPLETED")),
                ("broadcast_address", Some(ip.clone())),
                ("broadcast_port", Some(Value::Int(7000))),
                ("cluster_name", text(&id.cluster_name)),
                ("cql_version", text(&id.cql_version)),
                ("data_center", text(&id.data_center)),
                (
                    "gossip_generation",
                    Some(Value::Int(
                        i32::try_from(store.inner.started_s).unwrap_or(0),
                    )),
                ),
                ("host_id", Some(Value::Uuid(id.host_id))),
                ("listen_address", Some(ip.clone())),
                ("listen_port", Some(Value::Int(7000))),
                ("native_protocol_version", text("4")),
                (
                    "partitioner",
                    text("org.apache.cassandra.dht.Murmur3Partitioner"),
                ),
                ("rack", text(&id.rack)),
                ("release_version", text(&id.release_version)),
                ("rpc_address", Some(ip)),
                ("rpc_port", Some(Value::Int(i32::from(id.rpc_port)))),
                ("schema_version", Some(Value::Uuid(catalog.version()))),
                (
                    "tokens",
                    Some(Value::set(
                        id.tokens
                            .iter()
                            .map(|t| Value::Text(t.to_string()))
                            .collect(),
                    )),
                ),
                ("truncated_at", None),
            ]]
        }
        (SYSTEM_SCHEMA, "keyspaces") => keyspaces
            .iter()
            .map(|ks| {
                vec![
                    ("keyspace_name", text(&ks.name)),
                    ("durable_writes", Some(Value::Boolean(ks.durable_writes))),
                    ("replication", text_map(&ks.replication)),
                ]
            })
            .collect(),
        (SYSTEM_SCHEMA, "tables") => all_tables.iter().map(|t| table_row(t)).collect(),
        (SYSTEM_SCHEMA, "columns") => all_tables
            .iter()
            .flat_map(|t| {
                t.columns
                    .iter()
                    .map(|c| column_row(t, c))
                    .collect::<Vec<_>>()
            })
            .collect(),
        (SYSTEM_SCHEMA, "dropped_columns") => catalog
            .tables
            .values()
            .flat_map(|t| {
                t.dropped
                    .iter()
                    .map(|d| {
                        vec![
                            ("keyspace_name", text(&t.keyspace)),
                            ("table_name", text(&t.name)),
                            ("column_name", text(&d.name)),
                            (
                                "dropped_time",
                                Some(Value::Timestamp(d.dropped_time_us.div_euclid(1000))),
                            ),
                            ("kind", text(d.kind.as_str())),
                            ("type", text(&d.ty.to_string())),
                        ]
                    })
                    .collect::<Vec<_>>()
            })
            .collect(),
        _ => Vec::new(),
    }
}
