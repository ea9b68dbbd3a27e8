//! The Kafka wire protocol, broker side: framing, request decoding, response encoding and the
//! API version table.
//!
//! A connection loop uses it like this:
//!
//! 1. [`FrameDecoder::decode`] over the bytes read so far yields whole frames (or an error on a
//!    negative or oversized length: close the connection).
//! 2. [`decode_request`] turns a frame into a [`Request`]: header fields plus a typed
//!    [`RequestBody`] for the APIs in [`versions::SUPPORTED_APIS`], at a served version.
//! 3. The server builds a response message (a `kafka_protocol::messages::*Response`) and
//!    [`encode_response`] frames it with the right response header for the request's version.
//!
//! On a decode error the server closes the connection, with one exception Kafka clients rely
//! on: an ApiVersions request at a version the broker does not serve is answered (see
//! [`ProtocolError::UnsupportedVersion`](crate::ProtocolError::UnsupportedVersion) and
//! [`encode_response`]) so the client can retry at a version it finds in the answer.
//!
//! The header-version rules live here so nobody else has to know them: request header v1 or v2
//! and response header v0 or v1 by (api key, version) as `kafka-protocol` computes them, and the
//! ApiVersions response header always v0.

mod body;
mod frame;
mod request;
mod response;
pub mod versions;

pub use body::{RequestBody, ResponseBody};
pub use frame::FrameDecoder;
#[cfg(any(test, feature = "client"))]
pub use request::encode_request;
pub use request::{decode_request, Request};
#[cfg(any(test, feature = "client"))]
pub use response::decode_response;
pub use response::{encode_response, encode_response_into};
pub use versions::{api_versions_response, ApiSupport, SUPPORTED_APIS};

/// Kafka's error code for a request at an API version the broker does not serve.
pub const UNSUPPORTED_VERSION: i16 = 35;

/// Builders shared by the unit tests: requests framed the way a client frames them.
#[cfg(test)]
pub(crate) mod test_support {
    use bytes::{BufMut, Bytes, BytesMut};
    use kafka_protocol::messages::RequestHeader;
    use kafka_protocol::protocol::{Encodable, StrBytes};

    use super::RequestBody;

    /// Header and body of a request as a client encodes them, without the length prefix (what
    /// `FrameDecoder` yields).
    pub(crate) fn request_payload(
        body: &RequestBody,
        version: i16,
        correlation_id: i32,
        client_id: Option<&'static str>,
    ) -> Bytes {
        let api_key = body.api_key();
        let header = RequestHeader::default()
            .with_request_api_key(api_key as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(client_id.map(StrBytes::from_static_str));
        let mut buf = BytesMut::new();
        header
            .encode(&mut buf, api_key.request_header_version(version))
            .unwrap();
        body.encode(&mut buf, version)
            .unwrap_or_else(|e| panic!("encode {api_key:?} v{version}: {e}"));
        buf.freeze()
    }

    /// The same with its length prefix.
    pub(crate) fn framed(payload: &[u8]) -> Bytes {
        let mut buf = BytesMut::with_capacity(4 + payload.len());
        buf.put_i32(payload.len() as i32);
        buf.put_slice(payload);
        buf.freeze()
    }
}
