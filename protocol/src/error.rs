//! The one error type of the crate.

use kafka_protocol::messages::ApiKey;
use thiserror::Error;

/// Why bytes could not be framed, decoded or encoded.
///
/// Request errors carry whatever of the header was readable, so the server can log it and, for
/// ApiVersions, still answer: an [`UnsupportedVersion`](ProtocolError::UnsupportedVersion) of
/// [`ApiKey::ApiVersions`] must be answered with
/// [`api_versions_response`](crate::kafka::versions::api_versions_response) through
/// [`encode_response`](crate::kafka::encode_response), which turns it into the v0
/// UNSUPPORTED_VERSION answer clients expect. Every other request error means the server should
/// close the connection, as Kafka does.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// A frame announced a negative length.
    #[error("frame length {length} is negative (limit {limit} bytes)")]
    NegativeFrameLength {
        /// The announced length.
        length: i32,
        /// The decoder's limit.
        limit: usize,
    },

    /// A frame announced more bytes than the decoder accepts.
    #[error("frame length {length} exceeds the limit of {limit} bytes")]
    FrameTooLarge {
        /// The announced length.
        length: usize,
        /// The decoder's limit.
        limit: usize,
    },

    /// The frame is shorter than the fixed part of a request header (api key, api version,
    /// correlation id: 8 bytes).
    #[error("request frame of {length} bytes is shorter than a request header")]
    TruncatedHeader {
        /// The frame's length.
        length: usize,
    },

    /// The API key is not one this broker serves (unknown to Kafka, or not implemented here).
    #[error(
        "unsupported api key {api_key} (version {api_version}, correlation id {correlation_id})"
    )]
    UnknownApiKey {
        /// The key as sent.
        api_key: i16,
        /// The version as sent.
        api_version: i16,
        /// The correlation id as sent.
        correlation_id: i32,
    },

    /// A served API at a version outside the served range (for requests), or a response asked
    /// for at such a version.
    #[error(
        "{api_key:?} version {api_version} is not supported (served: {min_served}..={max}, \
         correlation id {correlation_id})"
    )]
    UnsupportedVersion {
        /// The API.
        api_key: ApiKey,
        /// The version as sent.
        api_version: i16,
        /// The correlation id as sent.
        correlation_id: i32,
        /// Lowest served version.
        min_served: i16,
        /// Highest served version.
        max: i16,
    },

    /// The rest of the request header (client id, tagged fields) could not be decoded.
    #[error(
        "malformed {api_key:?} v{api_version} request header (correlation id {correlation_id}): \
         {reason}"
    )]
    MalformedHeader {
        /// The API.
        api_key: ApiKey,
        /// The version.
        api_version: i16,
        /// The correlation id.
        correlation_id: i32,
        /// What the decoder said.
        reason: String,
    },

    /// The request body is truncated, garbage, or followed by trailing bytes.
    #[error(
        "malformed {api_key:?} v{api_version} request body (correlation id {correlation_id}): \
         {reason}"
    )]
    MalformedBody {
        /// The API.
        api_key: ApiKey,
        /// The version.
        api_version: i16,
        /// The correlation id.
        correlation_id: i32,
        /// What the decoder said.
        reason: String,
    },

    /// A response (read by a client) is truncated, garbage, or followed by trailing bytes.
    #[error("malformed {api_key:?} v{api_version} response: {reason}")]
    MalformedResponse {
        /// The API of the request it answers.
        api_key: ApiKey,
        /// The version of the request it answers.
        api_version: i16,
        /// What the decoder said.
        reason: String,
    },

    /// A message could not be encoded (a field set that its version cannot carry, a string or
    /// frame too long).
    #[error("cannot encode {api_key:?} v{api_version}: {reason}")]
    Encode {
        /// The API.
        api_key: ApiKey,
        /// The version.
        api_version: i16,
        /// What the encoder said.
        reason: String,
    },
}

impl ProtocolError {
    /// The request's correlation id, when the header got that far.
    pub fn correlation_id(&self) -> Option<i32> {
        match self {
            Self::UnknownApiKey { correlation_id, .. }
            | Self::UnsupportedVersion { correlation_id, .. }
            | Self::MalformedHeader { correlation_id, .. }
            | Self::MalformedBody { correlation_id, .. } => Some(*correlation_id),
            Self::NegativeFrameLength { .. }
            | Self::FrameTooLarge { .. }
            | Self::TruncatedHeader { .. }
            | Self::MalformedResponse { .. }
            | Self::Encode { .. } => None,
        }
    }
}
