//! Request bodies (spec v4 §4.1): STARTUP, OPTIONS, QUERY, PREPARE, EXECUTE, REGISTER, BATCH
//! and AUTH_RESPONSE, decoded from a [`Frame`] into a [`Request`].
//!
//! Values stay slices of the frame (`Bytes`), unparsed: their types are the statement's
//! business. Consistency levels stay protocol codes; the node checks them. Everything a
//! driver can send is kept: `skip_metadata`, named values in the order sent, null and unset,
//! paging state, serial consistency, the default timestamp.

use bytes::Bytes;

use super::compression::Compression;
use super::error::CqlFrameError;
use super::frame::{flags, Frame, Opcode};
use super::wire::{ReadResult, Reader, Value};

/// A decoded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// STARTUP's options (`CQL_VERSION`, `COMPRESSION`, `DRIVER_NAME`, …), in the order sent.
    Startup(Vec<(String, String)>),
    /// OPTIONS.
    Options,
    /// QUERY: a statement's text and its parameters.
    Query {
        query: String,
        params: QueryParameters,
    },
    /// PREPARE.
    Prepare { query: String },
    /// EXECUTE of a prepared statement's id.
    Execute { id: Bytes, params: QueryParameters },
    /// REGISTER for these event types.
    Register { events: Vec<String> },
    /// BATCH.
    Batch(Batch),
    /// AUTH_RESPONSE's token (null as `None`).
    AuthResponse { token: Option<Bytes> },
}

/// The values of a QUERY, EXECUTE or batch statement.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Values {
    /// No values.
    #[default]
    None,
    /// By bind-marker position.
    Positional(Vec<Value>),
    /// By bind-marker name (flag 0x40), in the order sent.
    Named(Vec<(String, Value)>),
}

/// `<query_parameters>` (spec v4 §4.1.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryParameters {
    /// The consistency level's protocol code (unchecked).
    pub consistency: u16,
    /// Flag 0x02: answer rows without their metadata (the client has it from PREPARE).
    pub skip_metadata: bool,
    /// Flags 0x01 and 0x40.
    pub values: Values,
    /// Flag 0x04.
    pub page_size: Option<i32>,
    /// Flag 0x08 (a null state as `None`).
    pub paging_state: Option<Bytes>,
    /// Flag 0x10: the serial consistency's code (unchecked).
    pub serial_consistency: Option<u16>,
    /// Flag 0x20: the client's timestamp, µs.
    pub timestamp: Option<i64>,
}

/// One statement of a BATCH: a query string or a prepared id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchQuery {
    /// Kind 0.
    Query(String),
    /// Kind 1.
    Prepared(Bytes),
}

/// A BATCH (spec v4 §4.1.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// 0 LOGGED, 1 UNLOGGED, 2 COUNTER.
    pub batch_type: u8,
    /// The statements, each with its values.
    pub statements: Vec<(BatchQuery, Values)>,
    /// The consistency level's code.
    pub consistency: u16,
    /// Flag 0x10.
    pub serial_consistency: Option<u16>,
    /// Flag 0x20.
    pub timestamp: Option<i64>,
}

/// Query and batch flags (spec v4 §4.1.4, §4.1.7).
mod query_flags {
    pub const VALUES: u8 = 0x01;
    pub const SKIP_METADATA: u8 = 0x02;
    pub const PAGE_SIZE: u8 = 0x04;
    pub const PAGING_STATE: u8 = 0x08;
    pub const SERIAL_CONSISTENCY: u8 = 0x10;
    pub const DEFAULT_TIMESTAMP: u8 = 0x20;
    pub const NAMES_FOR_VALUES: u8 = 0x40;
}

/// Decode a request frame. `compression` is the connection's (frames with the compression
/// flag are decompressed with it, bounded by `max_body_bytes`); a custom payload is read
/// past; the tracing flag is ignored.
pub fn decode_request(
    frame: &Frame,
    compression: Compression,
    max_body_bytes: usize,
) -> Result<Request, CqlFrameError> {
    let malformed = |message: String| CqlFrameError::Malformed {
        stream: frame.stream,
        message,
    };
    let opcode = request_opcode(frame.opcode).map_err(malformed)?;
    let body = if frame.flags & flags::COMPRESSION != 0 {
        if compression == Compression::None {
            return Err(malformed(format!(
                "Received a compressed {} frame but no compression was negotiated in STARTUP",
                opcode.name()
            )));
        }
        compression
            .decompress(&frame.body, max_body_bytes)
            .map_err(malformed)?
    } else {
        frame.body.clone()
    };
    let mut r = Reader::new(body);
    if frame.flags & flags::CUSTOM_PAYLOAD != 0 {
        r.skip_bytes_map("the custom payload").map_err(malformed)?;
    }
    decode_body(opcode, &mut r).map_err(malformed)
}

/// The opcode of a request frame, or why it is not one.
pub fn request_opcode(byte: u8) -> Result<Opcode, String> {
    match Opcode::from_byte(byte) {
        Some(op) if op.is_request() => Ok(op),
        Some(op) => Err(format!(
            "Unexpected message {}: a server never receives it",
            op.name()
        )),
        None => Err(format!("Unknown opcode {byte}")),
    }
}

fn decode_body(opcode: Opcode, r: &mut Reader) -> ReadResult<Request> {
    Ok(match opcode {
        Opcode::Startup => Request::Startup(r.string_map("the STARTUP options")?),
        Opcode::Options => Request::Options,
        Opcode::Query => {
            let query = r.long_string("the query string")?;
            Request::Query {
                query,
                params: query_parameters(r)?,
            }
        }
        Opcode::Prepare => Request::Prepare {
            query: r.long_string("the query string")?,
        },
        Opcode::Execute => {
            let id = r.short_bytes("the prepared id")?;
            Request::Execute {
                id,
                params: query_parameters(r)?,
            }
        }
        Opcode::Register => Request::Register {
            events: r.string_list("the event types")?,
        },
        Opcode::Batch => Request::Batch(batch(r)?),
        Opcode::AuthResponse => Request::AuthResponse {
            token: r.bytes("the authentication token")?,
        },
        other => return Err(format!("Unexpected message {}", other.name())),
    })
}

fn values(r: &mut Reader, named: bool) -> ReadResult<Values> {
    // Each value is at least its 4-byte length; a name at least its 2-byte length.
    let n = r.count(if named { 6 } else { 4 }, "values")?;
    Ok(if named {
        Values::Named(
            (0..n)
                .map(|_| Ok((r.string("a value's name")?, r.value("a value")?)))
                .collect::<ReadResult<_>>()?,
        )
    } else {
        Values::Positional(
            (0..n)
                .map(|_| r.value("a value"))
                .collect::<ReadResult<_>>()?,
        )
    })
}

fn query_parameters(r: &mut Reader) -> ReadResult<QueryParameters> {
    use query_flags::*;
    let consistency = r.short("the consistency")?;
    let flags = r.byte("the query flags")?;
    let values = if flags & VALUES != 0 {
        values(r, flags & NAMES_FOR_VALUES != 0)?
    } else {
        Values::None
    };
    let page_size = (flags & PAGE_SIZE != 0)
        .then(|| r.int("the page size"))
        .transpose()?;
    let paging_state = if flags & PAGING_STATE != 0 {
        r.bytes("the paging state")?
    } else {
        None
    };
    let serial_consistency = (flags & SERIAL_CONSISTENCY != 0)
        .then(|| r.short("the serial consistency"))
        .transpose()?;
    let timestamp = (flags & DEFAULT_TIMESTAMP != 0)
        .then(|| r.long("the default timestamp"))
        .transpose()?;
    Ok(QueryParameters {
        consistency,
        skip_metadata: flags & SKIP_METADATA != 0,
        values,
        page_size,
        paging_state,
        serial_consistency,
        timestamp,
    })
}

fn batch(r: &mut Reader) -> ReadResult<Batch> {
    use query_flags::*;
    let batch_type = r.byte("the batch type")?;
    if batch_type > 2 {
        return Err(format!("Unknown batch type {batch_type}"));
    }
    // A statement is at least its kind byte, a 2-byte id or 4-byte query length, and a
    // 2-byte value count.
    let n = r.count(5, "batch statements")?;
    let mut statements = Vec::with_capacity(n);
    for _ in 0..n {
        let query = match r.byte("a batch statement's kind")? {
            0 => BatchQuery::Query(r.long_string("a batch statement's query string")?),
            1 => BatchQuery::Prepared(r.short_bytes("a batch statement's prepared id")?),
            kind => {
                return Err(format!(
                    "Invalid query kind in BATCH messages. Must be 0 or 1 but got {kind}"
                ))
            }
        };
        statements.push((query, values(r, false)?));
    }
    let consistency = r.short("the consistency")?;
    let flags = r.byte("the batch flags")?;
    // The flag follows the values it would describe; Cassandra never implemented it
    // (CASSANDRA-10246) and neither does any driver.
    if flags & NAMES_FOR_VALUES != 0 {
        return Err("Named values are not supported in BATCH messages".to_string());
    }
    let serial_consistency = (flags & SERIAL_CONSISTENCY != 0)
        .then(|| r.short("the serial consistency"))
        .transpose()?;
    let timestamp = (flags & DEFAULT_TIMESTAMP != 0)
        .then(|| r.long("the default timestamp"))
        .transpose()?;
    Ok(Batch {
        batch_type,
        statements,
        consistency,
        serial_consistency,
        timestamp,
    })
}
