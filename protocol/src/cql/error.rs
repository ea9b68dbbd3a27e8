//! What can be wrong with a CQL frame, and what the node answers for it.
//!
//! Unlike Kafka, the CQL protocol answers most bad input with an ERROR frame on the offending
//! stream and keeps the connection: every variant here says which stream to answer, with
//! which error code, and whether the connection can go on afterwards
//! ([`CqlFrameError::closes_connection`]).

/// The protocol's ERROR code for a malformed request (spec v4 §9).
pub const PROTOCOL_ERROR: i32 = 0x000A;
/// The protocol's ERROR code for an invalid request.
pub const INVALID: i32 = 0x2200;

/// Why a frame could not be taken as a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CqlFrameError {
    /// The frame is not protocol v4 (drivers step down on this message; kv.md §3.3). The
    /// stream after it cannot be delimited: answer, then close.
    #[error("Invalid or unsupported protocol version ({version}); supported versions are (4/v4)")]
    UnsupportedVersion {
        /// The version byte without its direction bit.
        version: u8,
        /// The stream id as that version places it.
        stream: i16,
    },

    /// The frame (header included) is larger than `native.transport.max.frame.size.bytes`.
    /// Its bytes are skipped without being kept; the connection goes on (Cassandra's
    /// wording and behaviour).
    #[error("Request is too big: length {length} exceeds maximum allowed length {limit}.")]
    TooBig {
        /// The frame's stream.
        stream: i16,
        /// The frame's length, header included.
        length: u64,
        /// The limit.
        limit: usize,
    },

    /// A whole frame that is not a valid request (unknown opcode, a response opcode, a
    /// truncated or garbled body, a compression problem): a protocol error on its stream.
    #[error("{message}")]
    Malformed {
        /// The frame's stream.
        stream: i16,
        /// What is wrong, for the client.
        message: String,
    },
}

impl CqlFrameError {
    /// The stream to answer on.
    pub fn stream(&self) -> i16 {
        match self {
            Self::UnsupportedVersion { stream, .. }
            | Self::TooBig { stream, .. }
            | Self::Malformed { stream, .. } => *stream,
        }
    }

    /// The ERROR code of the answer.
    pub fn code(&self) -> i32 {
        match self {
            Self::TooBig { .. } => INVALID,
            Self::UnsupportedVersion { .. } | Self::Malformed { .. } => PROTOCOL_ERROR,
        }
    }

    /// Whether the connection must close once the answer is written.
    pub fn closes_connection(&self) -> bool {
        matches!(self, Self::UnsupportedVersion { .. })
    }
}
