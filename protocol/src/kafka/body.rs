//! Typed request and response bodies for the APIs the broker serves, and the dispatch on
//! [`ApiKey`] that decodes and encodes them (instead of `kafka-protocol`'s `messages_enums`
//! feature, which covers all 87 APIs and doubles the crate's build time).

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable};

/// One list of (variant = `ApiKey` variant, request type, response type) generates both enums
/// and their dispatch, so the two can never disagree.
macro_rules! apis {
    ($($variant:ident => $request:ident, $response:ident;)*) => {
        /// A decoded request body: one variant per API in
        /// [`SUPPORTED_APIS`](super::versions::SUPPORTED_APIS), named as its [`ApiKey`].
        #[derive(Debug, Clone, PartialEq)]
        pub enum RequestBody {
            $(
                #[doc = concat!("`", stringify!($request), "`")]
                $variant($request),
            )*
        }

        impl RequestBody {
            /// The API this body belongs to.
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $(Self::$variant(_) => ApiKey::$variant,)*
                }
            }

            /// Decodes a body of `api_key` at `version`; `None` if the key is not in the list.
            pub(crate) fn decode(
                api_key: ApiKey,
                buf: &mut Bytes,
                version: i16,
            ) -> Option<Result<Self, String>> {
                match api_key {
                    $(
                        ApiKey::$variant => Some(
                            $request::decode(buf, version)
                                .map(Self::$variant)
                                .map_err(|e| format!("{e:#}")),
                        ),
                    )*
                    _ => None,
                }
            }

            /// A default body of `api_key` (tests build requests from it).
            #[cfg(test)]
            pub(crate) fn default_for(api_key: ApiKey) -> Option<Self> {
                match api_key {
                    $(ApiKey::$variant => Some(Self::$variant($request::default())),)*
                    _ => None,
                }
            }

            /// Encodes the body at `version` as a client would.
            #[cfg(any(test, feature = "client"))]
            pub fn encode(
                &self,
                buf: &mut BytesMut,
                version: i16,
            ) -> Result<(), crate::ProtocolError> {
                match self {
                    $(Self::$variant(body) => body.encode(buf, version),)*
                }
                .map_err(|e| crate::ProtocolError::Encode {
                    api_key: self.api_key(),
                    api_version: version,
                    reason: format!("{e:#}"),
                })
            }
        }

        /// A response body to encode: one variant per API in
        /// [`SUPPORTED_APIS`](super::versions::SUPPORTED_APIS). Every response type converts
        /// into it with `From`.
        #[derive(Debug, Clone, PartialEq)]
        pub enum ResponseBody {
            $(
                #[doc = concat!("`", stringify!($response), "`")]
                $variant($response),
            )*
        }

        impl ResponseBody {
            /// The API this body answers.
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $(Self::$variant(_) => ApiKey::$variant,)*
                }
            }

            pub(crate) fn compute_size(&self, version: i16) -> Result<usize, String> {
                match self {
                    $(Self::$variant(body) => body.compute_size(version),)*
                }
                .map_err(|e| format!("{e:#}"))
            }

            pub(crate) fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), String> {
                match self {
                    $(Self::$variant(body) => body.encode(buf, version),)*
                }
                .map_err(|e| format!("{e:#}"))
            }

            /// Decodes a response body of `api_key` at `version`, as a client does; `None` if
            /// the key is not in the list.
            #[cfg(any(test, feature = "client"))]
            pub(crate) fn decode(
                api_key: ApiKey,
                buf: &mut Bytes,
                version: i16,
            ) -> Option<Result<Self, String>> {
                match api_key {
                    $(
                        ApiKey::$variant => Some(
                            $response::decode(buf, version)
                                .map(Self::$variant)
                                .map_err(|e| format!("{e:#}")),
                        ),
                    )*
                    _ => None,
                }
            }
        }

        $(
            impl From<$response> for ResponseBody {
                fn from(body: $response) -> Self {
                    Self::$variant(body)
                }
            }
        )*
    };
}

apis! {
    Produce => ProduceRequest, ProduceResponse;
    Fetch => FetchRequest, FetchResponse;
    ListOffsets => ListOffsetsRequest, ListOffsetsResponse;
    Metadata => MetadataRequest, MetadataResponse;
    OffsetCommit => OffsetCommitRequest, OffsetCommitResponse;
    OffsetFetch => OffsetFetchRequest, OffsetFetchResponse;
    FindCoordinator => FindCoordinatorRequest, FindCoordinatorResponse;
    JoinGroup => JoinGroupRequest, JoinGroupResponse;
    Heartbeat => HeartbeatRequest, HeartbeatResponse;
    LeaveGroup => LeaveGroupRequest, LeaveGroupResponse;
    SyncGroup => SyncGroupRequest, SyncGroupResponse;
    DescribeGroups => DescribeGroupsRequest, DescribeGroupsResponse;
    ListGroups => ListGroupsRequest, ListGroupsResponse;
    ApiVersions => ApiVersionsRequest, ApiVersionsResponse;
    CreateTopics => CreateTopicsRequest, CreateTopicsResponse;
    DeleteTopics => DeleteTopicsRequest, DeleteTopicsResponse;
    InitProducerId => InitProducerIdRequest, InitProducerIdResponse;
    OffsetForLeaderEpoch => OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse;
    DescribeConfigs => DescribeConfigsRequest, DescribeConfigsResponse;
    AlterConfigs => AlterConfigsRequest, AlterConfigsResponse;
    CreatePartitions => CreatePartitionsRequest, CreatePartitionsResponse;
    IncrementalAlterConfigs => IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::versions::SUPPORTED_APIS;

    #[test]
    fn every_table_entry_has_a_body_and_back() {
        for api in &SUPPORTED_APIS {
            let body = RequestBody::default_for(api.api_key).expect("a body per table entry");
            assert_eq!(body.api_key(), api.api_key);
        }
        assert!(RequestBody::default_for(ApiKey::SaslHandshake).is_none());
    }
}
