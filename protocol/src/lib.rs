//! fastdata-protocol: the wire formats of fastdata, and nothing else.
//!
//! Owns how bytes on a connection become typed messages and back:
//! - [`kafka`]: the Kafka wire protocol as the broker speaks it — 4-byte length-prefixed framing
//!   ([`kafka::FrameDecoder`]), request header and body decoding ([`kafka::decode_request`]),
//!   response framing ([`kafka::encode_response`]) and the table of API versions the broker
//!   advertises and serves ([`kafka::versions`]). Message types come from the `kafka-protocol`
//!   crate (re-exported as [`kafka_protocol`]), used with its `broker` feature only; record
//!   batches inside Produce and Fetch stay raw `Bytes`, parsed by `fastdata-log`, never here.
//! - [`alloc`]: the global allocator every binary that decodes untrusted requests installs.
//!   `kafka-protocol` 0.18.0 allocates an array's declared element count before reading any
//!   element (a few bytes can ask for gigabytes; no fixed release exists); that allocator serves
//!   such allocations as lazy `MAP_NORESERVE` mappings, so they cost address space, not memory,
//!   and the decode fails when the frame runs out. The broker must not accept connections
//!   without it.
//! - [`cql`]: the CQL native protocol v4 as the node speaks it — framing bounded by the frame
//!   limit ([`cql::FrameDecoder`]), request decoding ([`cql::decode_request`]), response
//!   encoding ([`cql::encode_response`]), lz4 and snappy body compression.
//! - Later: the internal `.proto` messages between our servers.
//!
//! It does not own sockets, connections, buffering policy, or any broker or store state: the
//! decoders take bytes the caller read and return values or a typed [`ProtocolError`]; the
//! server decides what to answer and when to close. Our decoders are bounded and return an
//! error on hostile input instead of panicking (fuzzed by `protocol/fuzz`).
//!
//! One more known bug of `kafka-protocol` 0.18.0 stays, with an ignored test in `kafka::request`
//! naming it: tagged-field tags above `i32::MAX` are dropped on re-encode. The broker never
//! re-encodes a request, so it only matters to the fuzz target's round-trip check, which
//! tolerates exactly it.

pub mod alloc;
pub mod cql;
pub mod error;
pub mod kafka;

pub use error::ProtocolError;
pub use kafka_protocol;
