//! Response encoding: length prefix, response header of the right version, body.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseHeader};
use kafka_protocol::protocol::Encodable;

use super::body::ResponseBody;
use super::frame::LENGTH_PREFIX;
use super::{versions, UNSUPPORTED_VERSION};
use crate::ProtocolError;

/// Encodes a complete response frame for a request of version `api_version` with
/// `correlation_id`; the API is the body's.
///
/// The response header is v0 or v1 (tagged fields) by the API's flexible versions, except for
/// ApiVersions, whose response header is always v0. An ApiVersions response at a version the
/// broker does not serve is sent the way Kafka does and clients expect: as a v0 body with error
/// code 35 (UNSUPPORTED_VERSION), whatever error code `body` had, and its key list (pass
/// [`api_versions_response`](super::api_versions_response)). Any other API at a version outside
/// its served range is an error.
pub fn encode_response(
    api_version: i16,
    correlation_id: i32,
    body: &ResponseBody,
) -> Result<Bytes, ProtocolError> {
    let mut buf = BytesMut::new();
    encode_response_into(&mut buf, api_version, correlation_id, body)?;
    Ok(buf.freeze())
}

/// [`encode_response`], appending the frame to `buf` (several pipelined responses can share one
/// buffer and one write). On error `buf` is left as it was.
pub fn encode_response_into(
    buf: &mut BytesMut,
    api_version: i16,
    correlation_id: i32,
    body: &ResponseBody,
) -> Result<(), ProtocolError> {
    let api_key = body.api_key();
    let support = versions::support(api_key).ok_or(ProtocolError::Encode {
        api_key,
        api_version,
        reason: "not a served API".to_owned(),
    })?;

    // ApiVersions at an unserved version: v0 body, UNSUPPORTED_VERSION.
    let fallback;
    let (body, version) = match body {
        ResponseBody::ApiVersions(response) if !support.serves(api_version) => {
            fallback =
                ResponseBody::ApiVersions(response.clone().with_error_code(UNSUPPORTED_VERSION));
            (&fallback, 0)
        }
        _ => {
            support.check(api_version, correlation_id)?;
            (body, api_version)
        }
    };

    let encode_error = |reason: String| ProtocolError::Encode {
        api_key,
        api_version,
        reason,
    };
    let header_version = response_header_version(api_key, version);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let header_size = header
        .compute_size(header_version)
        .map_err(|e| encode_error(format!("{e:#}")))?;
    let body_size = body.compute_size(version).map_err(encode_error)?;
    let length = header_size
        .checked_add(body_size)
        .and_then(|size| i32::try_from(size).ok())
        .ok_or_else(|| {
            encode_error(format!(
                "{header_size} + {body_size} bytes do not fit in a frame"
            ))
        })?;

    let start = buf.len();
    buf.reserve(LENGTH_PREFIX + header_size + body_size);
    buf.put_i32(length);
    let written = header
        .encode(buf, header_version)
        .map_err(|e| format!("{e:#}"))
        .and_then(|()| body.encode(buf, version));
    if let Err(reason) = written {
        buf.truncate(start);
        return Err(encode_error(reason));
    }
    if buf.len() - start != LENGTH_PREFIX + header_size + body_size {
        let actual = buf.len() - start - LENGTH_PREFIX;
        buf.truncate(start);
        return Err(encode_error(format!(
            "encoded {actual} bytes, computed {}",
            header_size + body_size
        )));
    }
    Ok(())
}

/// Decodes a response frame payload (what [`FrameDecoder`](super::FrameDecoder) yields) to a
/// request of `api_key` at `api_version`, as a client does: the correlation id and the body,
/// which must use up the frame exactly. The response header's version follows the same rule as
/// [`encode_response`] (ApiVersions always v0). A client matches the correlation id to the
/// request it sent before trusting the body.
#[cfg(any(test, feature = "client"))]
pub fn decode_response(
    api_key: ApiKey,
    api_version: i16,
    frame: Bytes,
) -> Result<(i32, ResponseBody), ProtocolError> {
    use bytes::Buf;
    use kafka_protocol::protocol::Decodable;

    let malformed = |reason: String| ProtocolError::MalformedResponse {
        api_key,
        api_version,
        reason,
    };
    let mut buf = frame;
    let header = ResponseHeader::decode(&mut buf, response_header_version(api_key, api_version))
        .map_err(|e| malformed(format!("header: {e:#}")))?;
    let body = ResponseBody::decode(api_key, &mut buf, api_version)
        .unwrap_or_else(|| Err(format!("no body type for {api_key:?}")))
        .map_err(malformed)?;
    if buf.has_remaining() {
        return Err(malformed(format!(
            "{} bytes after the end of the body",
            buf.remaining()
        )));
    }
    Ok((header.correlation_id, body))
}

/// The response header version: ApiVersions is always v0 (its response must be readable by a
/// client that does not yet know which versions the broker speaks); the others follow
/// `kafka-protocol`'s per-API rule (v1, with tagged fields, for flexible versions).
fn response_header_version(api_key: ApiKey, version: i16) -> i16 {
    match api_key {
        ApiKey::ApiVersions => 0,
        _ => api_key.response_header_version(version),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Buf;
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::{Decodable, StrBytes};

    use super::*;
    use crate::kafka::test_support::{framed, request_payload};
    use crate::kafka::versions::SUPPORTED_APIS;
    use crate::kafka::{api_versions_response, decode_request, FrameDecoder, RequestBody};

    /// Splits a response frame into (correlation id, body bytes), checking the length prefix
    /// and reading the header at `header_version`.
    fn open(frame: &Bytes, header_version: i16) -> (i32, Bytes) {
        let mut buf = frame.clone();
        assert_eq!(buf.get_i32() as usize, frame.len() - 4, "length prefix");
        let header = ResponseHeader::decode(&mut buf, header_version).unwrap();
        (header.correlation_id, buf)
    }

    #[test]
    fn decode_response_reads_what_encode_response_writes() {
        let metadata = MetadataResponse::default()
            .with_cluster_id(Some(StrBytes::from_static_str("cluster")))
            .with_controller_id(BrokerId(0));
        for (version, body) in [
            (12, ResponseBody::from(metadata.clone())),
            // v2: the first non-flexible version with a cluster id.
            (2, ResponseBody::from(metadata)),
            (3, ResponseBody::from(api_versions_response())),
        ] {
            let frame = encode_response(version, 17, &body).unwrap();
            let (correlation_id, decoded) =
                decode_response(body.api_key(), version, frame.slice(4..)).unwrap();
            assert_eq!((correlation_id, &decoded), (17, &body));
        }
        let frame = encode_response(12, 1, &MetadataResponse::default().into()).unwrap();
        let err = decode_response(ApiKey::Metadata, 12, frame.slice(4..frame.len() - 1));
        assert!(
            matches!(err, Err(ProtocolError::MalformedResponse { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn api_versions_v3_golden_bytes_have_a_v0_header() {
        let body = ApiVersionsResponse::default().with_api_keys(vec![
            api_versions_response::ApiVersion::default()
                .with_api_key(18)
                .with_min_version(0)
                .with_max_version(3),
        ]);
        let frame = encode_response(3, 42, &body.into()).unwrap();
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0x00, 0x00, 0x00, 0x13,             // length 19
            0x00, 0x00, 0x00, 0x2a,             // correlation id 42; header v0: no tagged fields
            0x00, 0x00,                         // error code
            0x02,                               // compact array of 1
            0x00, 0x12, 0x00, 0x00, 0x00, 0x03, // ApiVersions 0..=3
            0x00,                               // entry's tagged fields
            0x00, 0x00, 0x00, 0x00,             // throttle time
            0x00,                               // body's tagged fields (features left out)
        ];
        assert_eq!(&frame[..], expected);
    }

    #[test]
    fn api_versions_v0_and_v3_answers_carry_the_table() {
        for version in 0..=3 {
            let frame = encode_response(version, 7, &api_versions_response().into()).unwrap();
            // Right after the correlation id comes the error code: no header tagged fields.
            assert_eq!(&frame[4..8], &[0, 0, 0, 7]);
            assert_eq!(&frame[8..10], &[0, 0]);
            if version >= 3 {
                assert_eq!(frame[10], SUPPORTED_APIS.len() as u8 + 1, "compact array");
            } else {
                assert_eq!(&frame[10..14], &(SUPPORTED_APIS.len() as i32).to_be_bytes());
            }
            let (correlation_id, mut body) = open(&frame, 0);
            assert_eq!(correlation_id, 7);
            let decoded = ApiVersionsResponse::decode(&mut body, version).unwrap();
            assert!(!body.has_remaining());
            assert_eq!(decoded.api_keys, api_versions_response().api_keys);
        }
    }

    #[test]
    fn unsupported_api_versions_gets_a_v0_error_with_the_key_list() {
        for version in [4, 5, i16::MAX, -1] {
            let frame = encode_response(version, 99, &api_versions_response().into()).unwrap();
            let (correlation_id, mut body) = open(&frame, 0);
            assert_eq!(correlation_id, 99);
            let decoded = ApiVersionsResponse::decode(&mut body, 0).unwrap();
            assert!(!body.has_remaining(), "a v0 body, nothing more");
            assert_eq!(decoded.error_code, UNSUPPORTED_VERSION);
            assert_eq!(decoded.api_keys.len(), SUPPORTED_APIS.len());
            let advertised = decoded.api_keys.iter().find(|k| k.api_key == 18).unwrap();
            assert_eq!((advertised.min_version, advertised.max_version), (0, 3));
        }
    }

    #[test]
    fn unsupported_api_versions_request_end_to_end() {
        // kafka-python starts at ApiVersions v4; the decoder refuses it but keeps the
        // correlation id, and the answer is the v0 fallback.
        let mut buf = BytesMut::from(
            &framed(&[
                0x00, 0x12, 0x00, 0x04, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,
            ])[..],
        );
        let frame = FrameDecoder::new(1024).decode(&mut buf).unwrap().unwrap();
        let err = decode_request(frame).unwrap_err();
        let ProtocolError::UnsupportedVersion {
            api_key: ApiKey::ApiVersions,
            api_version,
            correlation_id,
            ..
        } = err
        else {
            panic!("{err:?}")
        };
        let answer =
            encode_response(api_version, correlation_id, &api_versions_response().into()).unwrap();
        let (correlation_id, mut body) = open(&answer, 0);
        assert_eq!(correlation_id, 5);
        let decoded = ApiVersionsResponse::decode(&mut body, 0).unwrap();
        assert_eq!(decoded.error_code, 35);
    }

    #[test]
    fn flexible_responses_get_header_v1_others_v0() {
        let body: ResponseBody = HeartbeatResponse::default().with_error_code(27).into();
        let v0 = encode_response(0, 1, &body).unwrap();
        assert_eq!(&v0[..], &[0, 0, 0, 6, 0, 0, 0, 1, 0, 27]);
        let v4 = encode_response(4, 1, &body).unwrap();
        #[rustfmt::skip]
        assert_eq!(
            &v4[..],
            &[0, 0, 0, 12, 0, 0, 0, 1, 0 /* header tags */, 0, 0, 0, 0, 0, 27, 0 /* body tags */]
        );
    }

    #[test]
    fn every_served_version_answers_with_a_decodable_frame() {
        for api in &SUPPORTED_APIS {
            for version in api.min_served..=api.max {
                // A request through the decoder, then its default response back.
                let request = decode_request(request_payload(
                    &RequestBody::default_for(api.api_key).unwrap(),
                    version,
                    11,
                    None,
                ))
                .unwrap();
                let body = default_response(request.api_key);
                let frame = encode_response(request.api_version, 11, &body).unwrap();
                let header_version = match api.api_key {
                    ApiKey::ApiVersions => 0,
                    key => key.response_header_version(version),
                };
                let (correlation_id, body) = open(&frame, header_version);
                assert_eq!(correlation_id, 11);
                assert_eq!(
                    body.len(),
                    default_response(api.api_key).compute_size(version).unwrap(),
                    "{:?} v{version}",
                    api.api_key
                );
            }
        }
    }

    fn default_response(api_key: ApiKey) -> ResponseBody {
        match api_key {
            ApiKey::Produce => ProduceResponse::default().into(),
            ApiKey::Fetch => FetchResponse::default().into(),
            ApiKey::ListOffsets => ListOffsetsResponse::default().into(),
            ApiKey::Metadata => MetadataResponse::default().into(),
            ApiKey::OffsetCommit => OffsetCommitResponse::default().into(),
            ApiKey::OffsetFetch => OffsetFetchResponse::default().into(),
            ApiKey::FindCoordinator => FindCoordinatorResponse::default().into(),
            ApiKey::JoinGroup => JoinGroupResponse::default().into(),
            ApiKey::Heartbeat => HeartbeatResponse::default().into(),
            ApiKey::LeaveGroup => LeaveGroupResponse::default().into(),
            ApiKey::SyncGroup => SyncGroupResponse::default().into(),
            ApiKey::DescribeGroups => DescribeGroupsResponse::default().into(),
            ApiKey::ListGroups => ListGroupsResponse::default().into(),
            ApiKey::ApiVersions => api_versions_response().into(),
            ApiKey::CreateTopics => CreateTopicsResponse::default().into(),
            ApiKey::DeleteTopics => DeleteTopicsResponse::default().into(),
            ApiKey::InitProducerId => InitProducerIdResponse::default().into(),
            ApiKey::OffsetForLeaderEpoch => OffsetForLeaderEpochResponse::default().into(),
            ApiKey::DescribeConfigs => DescribeConfigsResponse::default().into(),
            ApiKey::AlterConfigs => AlterConfigsResponse::default().into(),
            ApiKey::CreatePartitions => CreatePartitionsResponse::default().into(),
            ApiKey::IncrementalAlterConfigs => IncrementalAlterConfigsResponse::default().into(),
            other => panic!("{other:?} is not served"),
        }
    }

    #[test]
    fn unserved_versions_of_other_apis_are_refused() {
        let body: ResponseBody = ProduceResponse::default().into();
        for version in [0, 2, 10] {
            assert!(matches!(
                encode_response(version, 3, &body),
                Err(ProtocolError::UnsupportedVersion { api_key: ApiKey::Produce, api_version, correlation_id: 3, min_served: 3, max: 9 })
                    if api_version == version
            ));
        }
    }

    #[test]
    fn pipelined_frames_share_a_buffer_and_errors_leave_it_untouched() {
        let mut buf = BytesMut::new();
        encode_response_into(&mut buf, 4, 1, &HeartbeatResponse::default().into()).unwrap();
        encode_response_into(&mut buf, 0, 2, &HeartbeatResponse::default().into()).unwrap();
        let before = buf.clone();

        // A non-compact string holds at most i16::MAX bytes.
        let bad: ResponseBody = JoinGroupResponse::default()
            .with_member_id(StrBytes::from_string("m".repeat(40_000)))
            .into();
        let err = encode_response_into(&mut buf, 5, 3, &bad).unwrap_err();
        assert!(
            matches!(&err, ProtocolError::Encode { api_key: ApiKey::JoinGroup, api_version: 5, reason } if reason.contains("too long")),
            "{err}"
        );
        assert_eq!(buf, before);
        // The same string fits a compact string (JoinGroup v6 is flexible).
        encode_response_into(&mut buf, 6, 3, &bad).unwrap();

        let decoder = FrameDecoder::new(1 << 20);
        let mut correlation_ids = Vec::new();
        while let Some(frame) = decoder.decode(&mut buf).unwrap() {
            correlation_ids.push((&frame[..4]).get_i32());
        }
        assert_eq!(correlation_ids, [1, 2, 3]);
    }
}
