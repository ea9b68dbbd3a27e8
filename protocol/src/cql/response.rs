//! Response bodies (spec v4 §4.2) and their frames: ERROR with each code's extra fields,
//! READY, SUPPORTED, RESULT (Void, Rows, Set_keyspace, Prepared, Schema_change) and the
//! SCHEMA_CHANGE EVENT.
//!
//! [`encode_response`] writes one whole frame (v4 response header, the body compressed with
//! the connection's algorithm) onto the connection's output buffer; row values go from the
//! store's `Bytes` to that buffer with no copy in between.

use bytes::{BufMut, Bytes, BytesMut};

use super::compression::Compression;
use super::frame::{flags, Opcode, HEADER_BYTES, RESPONSE_VERSION};
use super::wire::{put_bytes, put_short_bytes, put_string, put_string_list};

/// A column's type as the protocol describes it (spec v4 §4.2.5.2): an `[option]` id, with
/// the element types of collections and tuples. Frozen types are described as their inner
/// type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    /// A native type by its option id (0x0001 ascii … 0x0014 tinyint).
    Native(u16),
    /// 0x0020.
    List(Box<ColumnType>),
    /// 0x0021.
    Map(Box<ColumnType>, Box<ColumnType>),
    /// 0x0022.
    Set(Box<ColumnType>),
    /// 0x0031.
    Tuple(Vec<ColumnType>),
}

impl ColumnType {
    fn encode(&self, out: &mut BytesMut) {
        match self {
            ColumnType::Native(id) => out.put_u16(*id),
            ColumnType::List(e) => {
                out.put_u16(0x0020);
                e.encode(out);
            }
            ColumnType::Map(k, v) => {
                out.put_u16(0x0021);
                k.encode(out);
                v.encode(out);
            }
            ColumnType::Set(e) => {
                out.put_u16(0x0022);
                e.encode(out);
            }
            ColumnType::Tuple(items) => {
                out.put_u16(0x0031);
                out.put_u16(u16::try_from(items.len()).unwrap_or(u16::MAX));
                for item in items {
                    item.encode(out);
                }
            }
        }
    }
}

/// A column of a result or a bind marker of a prepared statement (`<col_spec_i>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    pub keyspace: String,
    pub table: String,
    pub name: String,
    pub ty: ColumnType,
}

/// `<global_table_spec>` when every column comes from one table (Cassandra's choice).
fn global_table(columns: &[ColumnSpec]) -> Option<(&str, &str)> {
    let first = columns.first()?;
    columns
        .iter()
        .all(|c| c.keyspace == first.keyspace && c.table == first.table)
        .then_some((first.keyspace.as_str(), first.table.as_str()))
}

fn encode_col_specs(out: &mut BytesMut, columns: &[ColumnSpec], global: bool) {
    for c in columns {
        if !global {
            put_string(out, &c.keyspace);
            put_string(out, &c.table);
        }
        put_string(out, &c.name);
        c.ty.encode(out);
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Rows `<metadata>` flags.
mod rows_flags {
    pub const GLOBAL_TABLES_SPEC: i32 = 0x0001;
    pub const HAS_MORE_PAGES: i32 = 0x0002;
    pub const NO_METADATA: i32 = 0x0004;
}

/// `<metadata>` of a Rows result or of a Prepared result's result metadata: `width` columns,
/// described by `specs` unless they are `None` (flag `No_metadata`).
fn encode_rows_metadata(
    out: &mut BytesMut,
    specs: Option<&[ColumnSpec]>,
    width: usize,
    paging_state: Option<&Bytes>,
) {
    use rows_flags::*;
    let global = specs.and_then(global_table);
    let mut flags = 0;
    if specs.is_none() {
        flags |= NO_METADATA;
    } else if global.is_some() {
        flags |= GLOBAL_TABLES_SPEC;
    }
    if paging_state.is_some() {
        flags |= HAS_MORE_PAGES;
    }
    out.put_i32(flags);
    out.put_i32(count(width));
    if let Some(state) = paging_state {
        put_bytes(out, Some(state));
    }
    let Some(specs) = specs else {
        return;
    };
    if let Some((keyspace, table)) = global {
        put_string(out, keyspace);
        put_string(out, table);
    }
    encode_col_specs(out, specs, global.is_some());
}

/// A Rows result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowsResult {
    pub columns: RowsColumns,
    /// Each row's values in column order; `None` is null.
    pub rows: Vec<Vec<Option<Bytes>>>,
    /// Set when more rows follow (`Has_more_pages`).
    pub paging_state: Option<Bytes>,
}

/// What a Rows result says of its columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowsColumns {
    /// Each column's spec: the result's metadata.
    Specs(Vec<ColumnSpec>),
    /// Only how many there are (flag `No_metadata`): the request said `skip_metadata`, because
    /// the client has the prepared statement's result metadata.
    Count(usize),
}

impl RowsColumns {
    /// How many columns each row has.
    pub fn len(&self) -> usize {
        match self {
            RowsColumns::Specs(specs) => specs.len(),
            RowsColumns::Count(n) => *n,
        }
    }

    /// No columns at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A Prepared result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedResult {
    pub id: Bytes,
    /// One per bind marker.
    pub bind_columns: Vec<ColumnSpec>,
    /// For each partition-key column, the index of its bind marker (token-aware routing).
    pub pk_indexes: Vec<u16>,
    /// The result columns of a SELECT; `None`: no rows (`No_metadata`, no columns).
    pub result_columns: Option<Vec<ColumnSpec>>,
}

/// `CREATED`, `UPDATED` or `DROPPED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Created,
    Updated,
    Dropped,
}

impl ChangeType {
    fn name(self) -> &'static str {
        match self {
            ChangeType::Created => "CREATED",
            ChangeType::Updated => "UPDATED",
            ChangeType::Dropped => "DROPPED",
        }
    }
}

/// What a schema change touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeTarget {
    Keyspace(String),
    Table { keyspace: String, table: String },
    Type { keyspace: String, name: String },
}

/// The body a Schema_change result and a SCHEMA_CHANGE event share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaChange {
    pub change: ChangeType,
    pub target: ChangeTarget,
}

impl SchemaChange {
    fn encode(&self, out: &mut BytesMut) {
        put_string(out, self.change.name());
        match &self.target {
            ChangeTarget::Keyspace(keyspace) => {
                put_string(out, "KEYSPACE");
                put_string(out, keyspace);
            }
            ChangeTarget::Table { keyspace, table } => {
                put_string(out, "TABLE");
                put_string(out, keyspace);
                put_string(out, table);
            }
            ChangeTarget::Type { keyspace, name } => {
                put_string(out, "TYPE");
                put_string(out, keyspace);
                put_string(out, name);
            }
        }
    }
}

/// A RESULT body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultBody {
    Void,
    Rows(RowsResult),
    SetKeyspace(String),
    Prepared(PreparedResult),
    SchemaChange(SchemaChange),
}

/// The fields some error codes carry after the message (spec v4 §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorDetail {
    /// Only the code and message.
    None,
    /// Unavailable (0x1000): `<cl><required><alive>`.
    Unavailable {
        consistency: u16,
        required: i32,
        alive: i32,
    },
    /// Already_exists (0x2400): `<ks><table>` (table empty for a keyspace).
    AlreadyExists { keyspace: String, table: String },
    /// Unprepared (0x2500): `<id>`.
    Unprepared { id: Bytes },
}

/// An ERROR body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    pub code: i32,
    pub message: String,
    pub detail: ErrorDetail,
}

impl ErrorBody {
    /// An error with no extra fields.
    pub fn new(code: i32, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            code,
            message: message.into(),
            detail: ErrorDetail::None,
        }
    }
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Error(ErrorBody),
    Ready,
    /// SUPPORTED's `[string multimap]`, in order.
    Supported(Vec<(String, Vec<String>)>),
    Result(ResultBody),
    /// A SCHEMA_CHANGE event (pushed on stream -1).
    SchemaChangeEvent(SchemaChange),
}

impl Response {
    /// The frame's opcode.
    pub fn opcode(&self) -> Opcode {
        match self {
            Response::Error(_) => Opcode::Error,
            Response::Ready => Opcode::Ready,
            Response::Supported(_) => Opcode::Supported,
            Response::Result(_) => Opcode::Result,
            Response::SchemaChangeEvent(_) => Opcode::Event,
        }
    }

    /// Write the body (uncompressed).
    pub fn encode_body(&self, out: &mut BytesMut) {
        match self {
            Response::Error(e) => {
                out.put_i32(e.code);
                put_string(out, &e.message);
                match &e.detail {
                    ErrorDetail::None => {}
                    ErrorDetail::Unavailable {
                        consistency,
                        required,
                        alive,
                    } => {
                        out.put_u16(*consistency);
                        out.put_i32(*required);
                        out.put_i32(*alive);
                    }
                    ErrorDetail::AlreadyExists { keyspace, table } => {
                        put_string(out, keyspace);
                        put_string(out, table);
                    }
                    ErrorDetail::Unprepared { id } => put_short_bytes(out, id),
                }
            }
            Response::Ready => {}
            Response::Supported(options) => {
                out.put_u16(u16::try_from(options.len()).unwrap_or(u16::MAX));
                for (key, values) in options {
                    put_string(out, key);
                    put_string_list(out, values);
                }
            }
            Response::Result(result) => encode_result(out, result),
            Response::SchemaChangeEvent(change) => {
                put_string(out, "SCHEMA_CHANGE");
                change.encode(out);
            }
        }
    }
}

fn encode_result(out: &mut BytesMut, result: &ResultBody) {
    match result {
        ResultBody::Void => out.put_i32(0x0001),
        ResultBody::Rows(rows) => {
            out.put_i32(0x0002);
            let specs = match &rows.columns {
                RowsColumns::Specs(specs) => Some(specs.as_slice()),
                RowsColumns::Count(_) => None,
            };
            encode_rows_metadata(out, specs, rows.columns.len(), rows.paging_state.as_ref());
            out.put_i32(count(rows.rows.len()));
            for row in &rows.rows {
                debug_assert_eq!(row.len(), rows.columns.len(), "a row of the wrong width");
                for value in row {
                    put_bytes(out, value.as_deref());
                }
            }
        }
        ResultBody::SetKeyspace(keyspace) => {
            out.put_i32(0x0003);
            put_string(out, keyspace);
        }
        ResultBody::Prepared(p) => {
            out.put_i32(0x0004);
            put_short_bytes(out, &p.id);
            let global = global_table(&p.bind_columns);
            out.put_i32(if global.is_some() {
                rows_flags::GLOBAL_TABLES_SPEC
            } else {
                0
            });
            out.put_i32(count(p.bind_columns.len()));
            out.put_i32(count(p.pk_indexes.len()));
            for &i in &p.pk_indexes {
                out.put_u16(i);
            }
            if let Some((keyspace, table)) = global {
                put_string(out, keyspace);
                put_string(out, table);
            }
            encode_col_specs(out, &p.bind_columns, global.is_some());
            let columns = p.result_columns.as_deref();
            encode_rows_metadata(out, columns, columns.map_or(0, <[_]>::len), None);
        }
        ResultBody::SchemaChange(change) => {
            out.put_i32(0x0005);
            change.encode(out);
        }
    }
}

/// Append one response frame to `out`: a v4 response header on `stream`, the body compressed
/// with `compression` (and the header's compression flag then set).
pub fn encode_response(
    out: &mut BytesMut,
    stream: i16,
    response: &Response,
    compression: Compression,
) -> Result<(), String> {
    let start = out.len();
    out.put_u8(RESPONSE_VERSION);
    out.put_u8(if compression == Compression::None {
        0
    } else {
        flags::COMPRESSION
    });
    out.put_i16(stream);
    out.put_u8(response.opcode() as u8);
    out.put_u32(0);
    let body_start = out.len();
    if compression == Compression::None {
        response.encode_body(out);
    } else {
        let mut body = BytesMut::new();
        response.encode_body(&mut body);
        if let Err(e) = compression.compress_into(&body, out) {
            out.truncate(start);
            return Err(e);
        }
    }
    let Ok(length) = u32::try_from(out.len() - body_start) else {
        out.truncate(start);
        return Err("a response body over 4 GiB cannot be framed".to_string());
    };
    out[start + HEADER_BYTES - 4..start + HEADER_BYTES].copy_from_slice(&length.to_be_bytes());
    Ok(())
}
