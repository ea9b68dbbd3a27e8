//! The schema catalog: keyspaces (replication, `durable_writes`), tables (id, columns with their
//! kind, position and clustering order, stable column ids, dropped columns, and every table
//! option Cassandra 5.0's DESCRIBE prints, with Cassandra's defaults), and the schema version.
//!
//! The catalog is plain data: [`crate::engine`] persists it (JSON in the `schema` column family,
//! written with the table's column family creation or drop) and the executor reads it through
//! an `Arc` snapshot that DDL replaces. The schema version is the MD5 of the catalog's
//! serialization, as a UUID: the same schema always has the same version, and every DDL that
//! changes the schema changes it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use fastdata_cql::parser::RESERVED;
use fastdata_cql::CqlType;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::Error;

/// A column's role in its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    PartitionKey,
    Clustering,
    Static,
    Regular,
}

impl ColumnKind {
    /// As `system_schema.columns.kind` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnKind::PartitionKey => "partition_key",
            ColumnKind::Clustering => "clustering",
            ColumnKind::Static => "static",
            ColumnKind::Regular => "regular",
        }
    }

    pub fn is_primary_key(self) -> bool {
        matches!(self, ColumnKind::PartitionKey | ColumnKind::Clustering)
    }
}

/// A clustering column's order (`none` for every other column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusteringOrder {
    Asc,
    Desc,
    None,
}

impl ClusteringOrder {
    /// As `system_schema.columns.clustering_order` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ClusteringOrder::Asc => "asc",
            ClusteringOrder::Desc => "desc",
            ClusteringOrder::None => "none",
        }
    }
}

mod cql_type_text {
    use fastdata_cql::CqlType;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ty: &CqlType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&ty.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CqlType, D::Error> {
        let text = String::deserialize(d)?;
        CqlType::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A column of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// The id in the column's cell keys; never reused within a table, so a dropped column's
    /// data never comes back under a re-added column of the same name.
    pub id: u16,
    #[serde(with = "cql_type_text")]
    pub ty: CqlType,
    pub kind: ColumnKind,
    /// The position among the partition key or clustering columns; -1 for the others.
    pub position: i32,
    pub order: ClusteringOrder,
}

impl Column {
    /// Whether the column's values are many cells (a non-frozen collection).
    pub fn is_complex(&self) -> bool {
        !self.ty.is_frozen_or_native()
    }
}

/// A column dropped by ALTER TABLE DROP (`system_schema.dropped_columns`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DroppedColumn {
    pub name: String,
    pub id: u16,
    #[serde(with = "cql_type_text")]
    pub ty: CqlType,
    pub kind: ColumnKind,
    /// When it was dropped (µs).
    pub dropped_time_us: i64,
}

/// A property value of a CQL `WITH` clause: a constant's text, or a map of constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyValue {
    Text(String),
    Map(Vec<(String, String)>),
}

impl PropertyValue {
    fn text(&self, name: &str) -> Result<&str, Error> {
        match self {
            PropertyValue::Text(t) => Ok(t),
            PropertyValue::Map(_) => Err(Error::Syntax(format!(
                "Invalid value for property '{name}'. It should be a string"
            ))),
        }
    }

    fn map(&self, name: &str) -> Result<BTreeMap<String, String>, Error> {
        match self {
            PropertyValue::Map(m) => Ok(m.iter().cloned().collect()),
            PropertyValue::Text(_) => Err(Error::Syntax(format!(
                "Invalid value for property '{name}'. It should be a map."
            ))),
        }
    }
}

/// Cassandra's longest TTL: 20 years.
pub const MAX_TTL_S: i32 = 20 * 365 * 24 * 60 * 60;

/// Every table option Cassandra 5.0's DESCRIBE prints, with its defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableOptions {
    pub additional_write_policy: String,
    pub allow_auto_snapshot: bool,
    pub bloom_filter_fp_chance: f64,
    pub caching: BTreeMap<String, String>,
    pub cdc: bool,
    pub comment: String,
    pub compaction: BTreeMap<String, String>,
    pub compression: BTreeMap<String, String>,
    pub memtable: String,
    pub crc_check_chance: f64,
    pub default_time_to_live: i32,
    /// `map<text, blob>`.
    pub extensions: BTreeMap<String, Vec<u8>>,
    pub gc_grace_seconds: i32,
    pub incremental_backups: bool,
    pub max_index_interval: i32,
    pub memtable_flush_period_in_ms: i32,
    pub min_index_interval: i32,
    pub read_repair: String,
    pub speculative_retry: String,
}

fn string_map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const COMPACTION_PACKAGE: &str = "org.apache.cassandra.db.compaction.";
const COMPRESSION_PACKAGE: &str = "org.apache.cassandra.io.compress.";
const STRATEGY_PACKAGE: &str = "org.apache.cassandra.locator.";

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            additional_write_policy: "99p".into(),
            allow_auto_snapshot: true,
            bloom_filter_fp_chance: 0.01,
            caching: string_map(&[("keys", "ALL"), ("rows_per_partition", "NONE")]),
            cdc: false,
            comment: String::new(),
            compaction: string_map(&[
                (
                    "class",
                    "org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy",
                ),
                ("max_threshold", "32"),
                ("min_threshold", "4"),
            ]),
            compression: string_map(&[
                ("chunk_length_in_kb", "16"),
                ("class", "org.apache.cassandra.io.compress.LZ4Compressor"),
            ]),
            memtable: "default".into(),
            crc_check_chance: 1.0,
            default_time_to_live: 0,
            extensions: BTreeMap::new(),
            gc_grace_seconds: 864_000,
            incremental_backups: true,
            max_index_interval: 2048,
            memtable_flush_period_in_ms: 0,
            min_index_interval: 128,
            read_repair: "BLOCKING".into(),
            speculative_retry: "99p".into(),
        }
    }
}

/// Options Cassandra 4 and 5 accept and ignore (removed in 4.0).
const OBSOLETE_TABLE_OPTIONS: &[&str] = &[
    "read_repair_chance",
    "dclocal_read_repair_chance",
    "index_interval",
    "replicate_on_write",
    "populate_io_cache_on_flush",
];

fn parse_int(name: &str, text: &str) -> Result<i32, Error> {
    text.trim()
        .parse()
        .map_err(|_| Error::Syntax(format!("Invalid integer value {text} for '{name}'")))
}

fn parse_double(name: &str, text: &str) -> Result<f64, Error> {
    text.trim()
        .parse()
        .map_err(|_| Error::Syntax(format!("Invalid double value {text} for '{name}'")))
}

/// Cassandra's `PropertyDefinitions.parseBoolean`.
pub fn parse_bool(name: &str, text: &str) -> Result<bool, Error> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(Error::Syntax(format!(
            "Invalid boolean value {text} for '{name}'. Only 'true', 'false', 'yes', 'no', '1' or '0' are accepted"
        ))),
    }
}

fn qualify(class: &str, package: &str) -> String {
    if class.contains('.') {
        class.to_string()
    } else {
        format!("{package}{class}")
    }
}

fn config(msg: impl Into<String>) -> Error {
    Error::Config(msg.into())
}

impl TableOptions {
    /// Apply `WITH` properties (CREATE or ALTER TABLE), validated as Cassandra validates them.
    pub fn apply(&mut self, properties: &[(String, PropertyValue)]) -> Result<(), Error> {
        for (name, value) in properties {
            let name = name.as_str();
            match name {
                "additional_write_policy" => {
                    self.additional_write_policy = value.text(name)?.to_string()
                }
                "allow_auto_snapshot" => {
                    self.allow_auto_snapshot = parse_bool(name, value.text(name)?)?
                }
                "bloom_filter_fp_chance" => {
                    let v = parse_double(name, value.text(name)?)?;
                    if !(v > 6.71e-5 && v <= 1.0) {
                        return Err(config(format!(
                            "bloom_filter_fp_chance must be larger than 6.71E-5 and less than or equal to 1.0 (got {})",
                            java_double(v)
                        )));
                    }
                    self.bloom_filter_fp_chance = v;
                }
                "caching" => {
                    let mut m = value.map(name)?;
                    for (k, v) in &m {
                        let ok = match k.as_str() {
                            "keys" => matches!(v.to_ascii_uppercase().as_str(), "ALL" | "NONE"),
                            "rows_per_partition" => {
                                matches!(v.to_ascii_uppercase().as_str(), "ALL" | "NONE")
                                    || v.parse::<u32>().is_ok()
                            }
                            _ => {
                                return Err(config(format!(
                                    "Invalid caching sub-options {{{k}={v}}}: only \"keys\" and \"rows_per_partition\" are allowed"
                                )))
                            }
                        };
                        if !ok {
                            return Err(config(format!(
                                "Invalid value '{v}' for caching sub-option '{k}'"
                            )));
                        }
                    }
                    for v in m.values_mut() {
                        if v.parse::<u32>().is_err() {
                            *v = v.to_ascii_uppercase();
                        }
                    }
                    m.entry("keys".into()).or_insert_with(|| "ALL".into());
                    m.entry("rows_per_partition".into())
                        .or_insert_with(|| "NONE".into());
                    self.caching = m;
                }
                "cdc" => self.cdc = parse_bool(name, value.text(name)?)?,
                "comment" => self.comment = value.text(name)?.to_string(),
                "compaction" => {
                    let mut m = value.map(name)?;
                    let class = m
                        .get("class")
                        .ok_or_else(|| {
                            config("Missing sub-option 'class' for the 'compaction' option.")
                        })?
                        .clone();
                    m.insert("class".into(), qualify(&class, COMPACTION_PACKAGE));
                    m.entry("max_threshold".into())
                        .or_insert_with(|| "32".into());
                    m.entry("min_threshold".into())
                        .or_insert_with(|| "4".into());
                    self.compaction = m;
                }
                "compression" => {
                    let mut m = value.map(name)?;
                    if let Some(class) = m.get("class").cloned() {
                        m.insert("class".into(), qualify(&class, COMPRESSION_PACKAGE));
                        m.entry("chunk_length_in_kb".into())
                            .or_insert_with(|| "16".into());
                    } else if m.get("enabled").is_none_or(|e| e != "false") {
                        return Err(config(
                            "Missing sub-option 'class' for the 'compression' option.",
                        ));
                    }
                    self.compression = m;
                }
                "memtable" => self.memtable = value.text(name)?.to_string(),
                "crc_check_chance" => {
                    let v = parse_double(name, value.text(name)?)?;
                    if !(0.0..=1.0).contains(&v) {
                        return Err(config("crc_check_chance should be between 0.0 and 1.0"));
                    }
                    self.crc_check_chance = v;
                }
                "default_time_to_live" => {
                    let v = parse_int(name, value.text(name)?)?;
                    if v < 0 {
                        return Err(config(format!(
                            "default_time_to_live must be greater than or equal to 0 (got {v})"
                        )));
                    }
                    if v > MAX_TTL_S {
                        return Err(config(format!(
                            "default_time_to_live must be less than or equal to {MAX_TTL_S} (got {v})"
                        )));
                    }
                    self.default_time_to_live = v;
                }
                "extensions" => {
                    let m = value.map(name)?;
                    self.extensions = m.into_iter().map(|(k, v)| (k, v.into_bytes())).collect();
                }
                "gc_grace_seconds" => {
                    let v = parse_int(name, value.text(name)?)?;
                    if v < 0 {
                        return Err(config(format!(
                            "gc_grace_seconds must be greater than or equal to 0 (got {v})"
                        )));
                    }
                    self.gc_grace_seconds = v;
                }
                "incremental_backups" => {
                    self.incremental_backups = parse_bool(name, value.text(name)?)?
                }
                "max_index_interval" => {
                    self.max_index_interval = parse_int(name, value.text(name)?)?
                }
                "memtable_flush_period_in_ms" => {
                    let v = parse_int(name, value.text(name)?)?;
                    if v < 0 {
                        return Err(config(format!(
                            "memtable_flush_period_in_ms must be greater than or equal to 0 (got {v})"
                        )));
                    }
                    self.memtable_flush_period_in_ms = v;
                }
                "min_index_interval" => {
                    let v = parse_int(name, value.text(name)?)?;
                    if v < 1 {
                        return Err(config(format!(
                            "min_index_interval must be greater than or equal to 1 (got {v})"
                        )));
                    }
                    self.min_index_interval = v;
                }
                "read_repair" => {
                    let v = value.text(name)?.to_ascii_uppercase();
                    if v != "BLOCKING" && v != "NONE" {
                        return Err(config(format!(
                            "Invalid read_repair strategy '{}'; valid values are BLOCKING and NONE",
                            value.text(name)?
                        )));
                    }
                    self.read_repair = v;
                }
                "speculative_retry" => self.speculative_retry = value.text(name)?.to_string(),
                _ if OBSOLETE_TABLE_OPTIONS.contains(&name) => {
                    tracing::warn!(property = name, "Ignoring obsolete property");
                }
                _ => return Err(Error::Syntax(format!("Unknown property '{name}'"))),
            }
        }
        if self.max_index_interval < self.min_index_interval {
            return Err(config(format!(
                "max_index_interval must be greater than or equal to min_index_interval (got {} < {})",
                self.max_index_interval, self.min_index_interval
            )));
        }
        Ok(())
    }

    /// The options as DESCRIBE prints them after `WITH` (each `name = value`, in Cassandra
    /// 5.0's order).
    pub fn cql_lines(&self) -> Vec<String> {
        vec![
            format!(
                "additional_write_policy = {}",
                quote_string(&self.additional_write_policy)
            ),
            format!("allow_auto_snapshot = {}", self.allow_auto_snapshot),
            format!(
                "bloom_filter_fp_chance = {}",
                java_double(self.bloom_filter_fp_chance)
            ),
            format!("caching = {}", cql_map(&self.caching)),
            format!("cdc = {}", self.cdc),
            format!("comment = {}", quote_string(&self.comment)),
            format!("compaction = {}", cql_map(&self.compaction)),
            format!("compression = {}", cql_map(&self.compression)),
            format!("memtable = {}", quote_string(&self.memtable)),
            format!("crc_check_chance = {}", java_double(self.crc_check_chance)),
            format!("default_time_to_live = {}", self.default_time_to_live),
            format!("extensions = {}", blob_map(&self.extensions)),
            format!("gc_grace_seconds = {}", self.gc_grace_seconds),
            format!("incremental_backups = {}", self.incremental_backups),
            format!("max_index_interval = {}", self.max_index_interval),
            format!(
                "memtable_flush_period_in_ms = {}",
                self.memtable_flush_period_in_ms
            ),
            format!("min_index_interval = {}", self.min_index_interval),
            format!("read_repair = {}", quote_string(&self.read_repair)),
            format!(
                "speculative_retry = {}",
                quote_string(&self.speculative_retry)
            ),
        ]
    }
}

/// A string as a CQL literal (`'it''s'`).
pub fn quote_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn cql_map(m: &BTreeMap<String, String>) -> String {
    let body: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{}: {}", quote_string(k), quote_string(v)))
        .collect();
    format!("{{{}}}", body.join(", "))
}

fn blob_map(m: &BTreeMap<String, Vec<u8>>) -> String {
    let body: Vec<String> = m
        .iter()
        .map(|(k, v)| {
            let mut hex = String::from("0x");
            for b in v {
                let _ = write!(hex, "{b:02x}");
            }
            format!("{}: {hex}", quote_string(k))
        })
        .collect();
    format!("{{{}}}", body.join(", "))
}

/// A double as Java's `Double.toString` writes it (`1.0`, `0.01`, `1.0E-4`).
pub fn java_double(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let abs = x.abs();
    if x == 0.0 || (1e-3..1e7).contains(&abs) {
        let s = format!("{x:?}");
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    // Scientific: shortest digits d.ddd and the exponent.
    let s = format!("{abs:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_string()
    } else {
        format!("{mantissa}.0")
    };
    let sign = if x < 0.0 { "-" } else { "" };
    format!("{sign}{mantissa}E{exp}")
}

/// An identifier as CQL must write it: as is when it is lower-case letters, digits and `_`
/// starting with a letter and not reserved, else double-quoted (Cassandra's `maybeQuote`).
pub fn quote_identifier(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain && !RESERVED.contains(&name.to_ascii_uppercase().as_str()) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A keyspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keyspace {
    pub name: String,
    /// The replication map as `system_schema.keyspaces` holds it (`class` fully qualified).
    pub replication: BTreeMap<String, String>,
    pub durable_writes: bool,
}

impl Keyspace {
    /// A keyspace from CREATE KEYSPACE's replication map, validated as Cassandra does.
    pub fn new(
        name: &str,
        replication: &[(String, String)],
        durable_writes: bool,
    ) -> Result<Keyspace, Error> {
        let mut map: BTreeMap<String, String> = replication.iter().cloned().collect();
        let class = map
            .remove("class")
            .ok_or_else(|| config("Missing replication strategy class"))?;
        let class = qualify(&class, STRATEGY_PACKAGE);
        let short = class.strip_prefix(STRATEGY_PACKAGE).unwrap_or(&class);
        let factor = |k: &str, v: &str| -> Result<(), Error> {
            let n: i64 = v.parse().map_err(|_| {
                config(format!(
                    "Replication factor must be non-negative; found {v}"
                ))
            })?;
            if n < 0 {
                return Err(config(format!(
                    "Replication factor must be non-negative; found {v}"
                )));
            }
            if k.is_empty() {
                return Err(config("Replication factor needs a datacenter name"));
            }
            Ok(())
        };
        match short {
            "SimpleStrategy" => {
                let rf = map.get("replication_factor").ok_or_else(|| {
                    config("SimpleStrategy requires a replication_factor strategy option.")
                })?;
                factor("replication_factor", rf)?;
                if let Some(other) = map.keys().find(|k| k.as_str() != "replication_factor") {
                    return Err(config(format!(
                        "Unrecognized strategy option {{{other}}} passed to SimpleStrategy for keyspace {name}"
                    )));
                }
            }
            "NetworkTopologyStrategy" => {
                for (k, v) in &map {
                    factor(k, v)?;
                }
            }
            _ => {
                return Err(config(format!(
                    "Unable to find replication strategy class '{class}'"
                )))
            }
        }
        map.insert("class".into(), class);
        Ok(Keyspace {
            name: name.to_string(),
            replication: map,
            durable_writes,
        })
    }

    /// The keyspace's CREATE statement as DESCRIBE prints it.
    pub fn create_statement(&self) -> String {
        let class = self
            .replication
            .get("class")
            .map(String::as_str)
            .unwrap_or("");
        let short = class.strip_prefix(STRATEGY_PACKAGE).unwrap_or(class);
        let mut repl = format!("{{'class': {}", quote_string(short));
        for (k, v) in self
            .replication
            .iter()
            .filter(|(k, _)| k.as_str() != "class")
        {
            let _ = write!(repl, ", {}: {}", quote_string(k), quote_string(v));
        }
        repl.push('}');
        format!(
            "CREATE KEYSPACE {} WITH replication = {repl}  AND durable_writes = {};",
            quote_identifier(&self.name),
            self.durable_writes
        )
    }
}

/// A table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub keyspace: String,
    pub name: String,
    pub id: Uuid,
    /// Every current column: partition key and clustering columns in position order, then the
    /// others in DESCRIBE's order (statics, then regulars; simple before collections, each by
    /// name).
    pub columns: Vec<Column>,
    pub next_column_id: u16,
    pub dropped: Vec<DroppedColumn>,
    pub options: TableOptions,
}

impl Table {
    /// Put the columns in their canonical order (see [`Table::columns`]).
    pub fn sort_columns(&mut self) {
        let rank = |c: &Column| match c.kind {
            ColumnKind::PartitionKey => 0,
            ColumnKind::Clustering => 1,
            ColumnKind::Static => 2,
            ColumnKind::Regular => 3,
        };
        self.columns.sort_by(|a, b| {
            rank(a)
                .cmp(&rank(b))
                .then(a.position.cmp(&b.position))
                .then(a.is_complex().cmp(&b.is_complex()))
                .then(a.name.as_bytes().cmp(b.name.as_bytes()))
        });
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_by_id(&self, id: u16) -> Option<&Column> {
        self.columns.iter().find(|c| c.id == id)
    }

    pub fn partition_key(&self) -> impl Iterator<Item = &Column> {
        self.columns
            .iter()
            .filter(|c| c.kind == ColumnKind::PartitionKey)
    }

    pub fn clustering(&self) -> impl Iterator<Item = &Column> {
        self.columns
            .iter()
            .filter(|c| c.kind == ColumnKind::Clustering)
    }

    /// The clustering columns' orders (true: descending), for key parsing.
    pub fn clustering_desc(&self) -> Vec<bool> {
        self.clustering()
            .map(|c| c.order == ClusteringOrder::Desc)
            .collect()
    }

    pub fn has_statics(&self) -> bool {
        self.columns.iter().any(|c| c.kind == ColumnKind::Static)
    }

    /// `keyspace.table`, quoted where CQL needs it.
    pub fn qualified_name(&self) -> String {
        format!(
            "{}.{}",
            quote_identifier(&self.keyspace),
            quote_identifier(&self.name)
        )
    }

    /// The table's CREATE statement as Cassandra 5.0's DESCRIBE prints it (`with_internals`:
    /// also its id, as DESCRIBE ... WITH INTERNALS does).
    pub fn create_statement(&self, with_internals: bool) -> String {
        let mut out = format!("CREATE TABLE {} (\n", self.qualified_name());
        let pk: Vec<&Column> = self.partition_key().collect();
        let ck: Vec<&Column> = self.clustering().collect();
        let single = pk.len() == 1 && ck.is_empty();
        let n = self.columns.len();
        for (i, c) in self.columns.iter().enumerate() {
            let _ = write!(out, "    {} {}", quote_identifier(&c.name), c.ty);
            if c.kind == ColumnKind::Static {
                out.push_str(" static");
            }
            if single && c.kind == ColumnKind::PartitionKey {
                out.push_str(" PRIMARY KEY");
            }
            if !single || i + 1 < n {
                out.push(',');
            }
            out.push('\n');
        }
        if !single {
            let names = |cols: &[&Column]| {
                cols.iter()
                    .map(|c| quote_identifier(&c.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let partition = if pk.len() > 1 {
                format!("({})", names(&pk))
            } else {
                names(&pk)
            };
            let _ = write!(out, "    PRIMARY KEY ({partition}");
            if !ck.is_empty() {
                let _ = write!(out, ", {}", names(&ck));
            }
            out.push_str(")\n");
        }
        out.push_str(") WITH ");
        let mut lines = Vec::new();
        if with_internals {
            lines.push(format!("ID = {}", self.id));
        }
        if !ck.is_empty() {
            let orders: Vec<String> = ck
                .iter()
                .map(|c| {
                    let dir = if c.order == ClusteringOrder::Desc {
                        "DESC"
                    } else {
                        "ASC"
                    };
                    format!("{} {dir}", quote_identifier(&c.name))
                })
                .collect();
            lines.push(format!("CLUSTERING ORDER BY ({})", orders.join(", ")));
        }
        lines.extend(self.options.cql_lines());
        out.push_str(&lines.join("\n    AND "));
        out.push(';');
        out
    }
}

/// The whole user schema.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    pub keyspaces: BTreeMap<String, Keyspace>,
    /// By (keyspace, table).
    pub tables: BTreeMap<(String, String), Arc<Table>>,
}

impl Catalog {
    pub fn table(&self, keyspace: &str, table: &str) -> Option<&Arc<Table>> {
        self.tables.get(&(keyspace.to_string(), table.to_string()))
    }

    /// The tables of a keyspace, by name.
    pub fn tables_of<'a>(&'a self, keyspace: &'a str) -> impl Iterator<Item = &'a Arc<Table>> + 'a {
        self.tables
            .range((keyspace.to_string(), String::new())..)
            .take_while(move |((ks, _), _)| ks == keyspace)
            .map(|(_, t)| t)
    }

    /// The schema version: a name-based UUID (version 3) of the catalog's MD5.
    pub fn version(&self) -> Uuid {
        let mut md5 = Md5::new();
        for ks in self.keyspaces.values() {
            md5.update(serde_json::to_vec(ks).unwrap_or_default());
        }
        for t in self.tables.values() {
            md5.update(serde_json::to_vec(t.as_ref()).unwrap_or_default());
        }
        let mut bytes: [u8; 16] = md5.finalize().into();
        bytes[6] = (bytes[6] & 0x0f) | 0x30;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Uuid::from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_java_does() {
        assert_eq!(java_double(0.01), "0.01");
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(0.1), "0.1");
        assert_eq!(java_double(0.0001), "1.0E-4");
        assert_eq!(java_double(1.5e7), "1.5E7");
        assert_eq!(java_double(0.0), "0.0");
    }

    #[test]
    fn identifiers_are_quoted_when_cql_needs_it() {
        assert_eq!(quote_identifier("route_id"), "route_id");
        assert_eq!(quote_identifier("Route"), "\"Route\"");
        assert_eq!(quote_identifier("select"), "\"select\"");
        assert_eq!(quote_identifier("1a"), "\"1a\"");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn keyspaces_validate_and_print_as_cassandra() {
        let r = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let ks = Keyspace::new(
            "metro",
            &r(&[("class", "SimpleStrategy"), ("replication_factor", "1")]),
            true,
        )
        .unwrap();
        assert_eq!(
            ks.replication.get("class").unwrap(),
            "org.apache.cassandra.locator.SimpleStrategy"
        );
        assert_eq!(
            ks.create_statement(),
            "CREATE KEYSPACE metro WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}  AND durable_writes = true;"
        );
        let err = Keyspace::new("k", &r(&[("class", "SimpleStrategy")]), true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "SimpleStrategy requires a replication_factor strategy option."
        );
        let err = Keyspace::new("k", &r(&[("class", "Nope")]), true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unable to find replication strategy class 'org.apache.cassandra.locator.Nope'"
        );
        assert!(Keyspace::new(
            "k",
            &r(&[
                (
                    "class",
                    "org.apache.cassandra.locator.NetworkTopologyStrategy"
                ),
                ("dc1", "3")
            ]),
            false
        )
        .is_ok());
    }

    #[test]
    fn table_options_apply_normalize_and_reject_as_cassandra() {
        let mut o = TableOptions::default();
        o.apply(&[
            (
                "compaction".into(),
                PropertyValue::Map(vec![("class".into(), "LeveledCompactionStrategy".into())]),
            ),
            (
                "gc_grace_seconds".into(),
                PropertyValue::Text("3600".into()),
            ),
            (
                "read_repair_chance".into(),
                PropertyValue::Text("0.1".into()),
            ),
        ])
        .unwrap();
        assert_eq!(
            o.compaction.get("class").unwrap(),
            "org.apache.cassandra.db.compaction.LeveledCompactionStrategy"
        );
        assert_eq!(o.compaction.get("min_threshold").unwrap(), "4");
        assert_eq!(o.gc_grace_seconds, 3600);
        let err = o
            .apply(&[("nope".into(), PropertyValue::Text("1".into()))])
            .unwrap_err();
        assert_eq!(err, Error::Syntax("Unknown property 'nope'".into()));
        let err = o
            .apply(&[(
                "default_time_to_live".into(),
                PropertyValue::Text("-1".into()),
            )])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "default_time_to_live must be greater than or equal to 0 (got -1)"
        );
    }
}
