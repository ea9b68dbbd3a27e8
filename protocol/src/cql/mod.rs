//! The CQL native protocol v4, server side: framing, request decoding, response encoding and
//! body compression (spec: `apache/cassandra:doc/native_protocol_v4.spec`; kv.md §3).
//!
//! A connection loop uses it like this:
//!
//! 1. [`FrameDecoder::decode`] takes whole frames off the bytes read so far, bounded by the
//!    node's frame limit. Its errors say what to answer and on which stream
//!    ([`CqlFrameError::stream`], [`CqlFrameError::code`]), and whether to close afterwards
//!    (only for a frame of another protocol version, answered so drivers step down).
//! 2. [`decode_request`] turns a frame into a [`Request`], decompressing it with the
//!    connection's [`Compression`] (which [`startup_compression`] reads from STARTUP).
//! 3. The node builds a [`Response`] and [`encode_response`] frames it onto its output
//!    buffer, on the request's stream (or [`EVENT_STREAM`] for pushed events).
//!
//! Everything here is bounded and panic-free on hostile input (fuzzed by
//! `protocol/fuzz`'s `cql_frame_decode`): no length or count is trusted before the bytes
//! behind it are there, and nothing decompresses beyond the frame limit.
//!
//! Why not the `cassandra-protocol` crate's decoders, which kv.md §3.5 suggests: in 4.0.1 a
//! negative `[short]` count (values, batch statements, string lists) reaches
//! `Vec::with_capacity(n as usize)` and panics, `[bytes]` lengths allocate before reading,
//! `Envelope::from_buffer` overflows on a length near `u32::MAX`, its lz4 and snappy
//! decoders allocate whatever size the body claims, and its query parameters drop
//! `skip_metadata` and the order of named values. Its response serializers assert (panic) on
//! metadata shapes a server legitimately sends. The unit tests use it instead, as an
//! independent decoder of what this module encodes and an encoder of what it decodes.

mod compression;
mod error;
mod frame;
mod request;
mod response;
mod wire;

pub use compression::{Compression, SUPPORTED_COMPRESSION};
pub use error::{CqlFrameError, INVALID, PROTOCOL_ERROR};
pub use frame::{flags, Frame, FrameDecoder, Opcode, EVENT_STREAM, HEADER_BYTES, VERSION};
pub use request::{
    decode_request, request_opcode, Batch, BatchQuery, QueryParameters, Request, Values,
};
pub use response::{
    encode_response, ChangeTarget, ChangeType, ColumnSpec, ColumnType, ErrorBody, ErrorDetail,
    PreparedResult, Response, ResultBody, RowsColumns, RowsResult, SchemaChange,
};
pub use wire::Value;

/// The CQL version SUPPORTED offers (Cassandra 4's).
pub const CQL_VERSION: &str = "3.4.6";

/// The SUPPORTED answer to OPTIONS: `CQL_VERSION` and `COMPRESSION` (python-driver needs both
/// keys), and `PROTOCOL_VERSIONS` as Cassandra lists it.
pub fn supported() -> Response {
    Response::Supported(vec![
        ("CQL_VERSION".to_string(), vec![CQL_VERSION.to_string()]),
        (
            "COMPRESSION".to_string(),
            SUPPORTED_COMPRESSION
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
        ("PROTOCOL_VERSIONS".to_string(), vec!["4/v4".to_string()]),
    ])
}

/// Check STARTUP's options as Cassandra does and return the compression they ask for: a
/// `CQL_VERSION` of 3.0.0 or later is required (drivers send 3.x or 4.0.0), `COMPRESSION`
/// must be one of [`SUPPORTED_COMPRESSION`] if present. Keys are matched case-insensitively;
/// other keys (`DRIVER_NAME`, `DRIVER_VERSION`, …) are accepted and ignored. The error is
/// the protocol error's message.
pub fn startup_compression(options: &[(String, String)]) -> Result<Compression, String> {
    let get = |key: &str| {
        options
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    };
    let version = get("CQL_VERSION")
        .ok_or_else(|| "Missing value CQL_VERSION in STARTUP message".to_string())?;
    let mut parts = version.trim().split('.');
    let numbers: Option<Vec<u32>> = parts.by_ref().take(3).map(|p| p.parse().ok()).collect();
    match numbers {
        Some(n) if n.len() >= 2 && parts.next().is_none() => {
            if n[0] < 3 {
                return Err(format!(
                    "CQL version {version} is not supported by the binary protocol (supported version are >= 3.0.0)"
                ));
            }
        }
        _ => return Err(format!("Invalid version value: {version}")),
    }
    match get("COMPRESSION") {
        None => Ok(Compression::None),
        Some(name) => Compression::from_startup(name)
            .ok_or_else(|| format!("Unknown compression algorithm: {name}")),
    }
}

#[cfg(test)]
mod tests;
