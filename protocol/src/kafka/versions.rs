//! The API versions the broker advertises and serves: one table, and the ApiVersions response
//! built from it.
//!
//! Ranges follow `shared/reference/log.md` §4.2 ("suggested advertise": the highest versions
//! librdkafka 2.x, kafka-python 3.x and Debian's kcat on librdkafka 2.0.2 can all use) and its
//! pitfalls (§4.3):
//! - Produce is advertised from v0 but served from v3 (Kafka's KAFKA-18659 fix): librdkafka up to
//!   2.11.0 turns compression off unless the advertised range includes v0; v0–2 (message sets
//!   v0/v1) are rejected at request time.
//! - FindCoordinator, JoinGroup, SyncGroup, Heartbeat and LeaveGroup include v0, or old
//!   librdkafka's feature map silently disables consumer groups.
//! - Fetch stops at 12 and Metadata at 12: Fetch 13+ addresses topics by id (kafka-python 3.0.11
//!   caps Fetch at 12; librdkafka falls back to 12 when ids are zero).
//! - FindCoordinator stops at 3 (v4+ batches coordinator keys), LeaveGroup at 4 (v5 adds a
//!   reason only), DeleteTopics at 5 (v6 deletes by topic id), InitProducerId at 4 (v5+ are
//!   KIP-890 transactions, v6 two-phase commit), ListGroups at 4 (v5 adds KIP-848 group types).
//! - ApiVersions 0–3: kafka-python starts at v4, gets the v0 UNSUPPORTED_VERSION answer with
//!   this list and retries at 3, as it does against brokers before Kafka 3.9 or so.
//!
//! Every served range lies inside what `kafka-protocol` 0.18 can decode
//! (`ApiKey::valid_versions`, Kafka 4.1's schemas, which dropped Produce < 3, Fetch < 4,
//! ListOffsets < 1, OffsetCommit < 2, OffsetFetch < 1, CreateTopics < 2, DeleteTopics < 1 and
//! DescribeConfigs < 1); a test checks it.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};

/// What the broker does with one API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiSupport {
    /// The API.
    pub api_key: ApiKey,
    /// Lowest version advertised in ApiVersions.
    pub min_advertised: i16,
    /// Lowest version actually served; below it a request is rejected. Equal to
    /// `min_advertised` except for Produce.
    pub min_served: i16,
    /// Highest version advertised and served.
    pub max: i16,
}

impl ApiSupport {
    const fn new(api_key: ApiKey, min_advertised: i16, min_served: i16, max: i16) -> Self {
        Self {
            api_key,
            min_advertised,
            min_served,
            max,
        }
    }

    /// Whether `version` is served.
    pub fn serves(&self, version: i16) -> bool {
        (self.min_served..=self.max).contains(&version)
    }

    /// `Ok` if `version` is served, else the `UnsupportedVersion` error for a message of that
    /// version with `correlation_id`.
    pub fn check(&self, version: i16, correlation_id: i32) -> Result<(), crate::ProtocolError> {
        if self.serves(version) {
            return Ok(());
        }
        Err(crate::ProtocolError::UnsupportedVersion {
            api_key: self.api_key,
            api_version: version,
            correlation_id,
            min_served: self.min_served,
            max: self.max,
        })
    }
}

/// Every API the broker serves, by api key, with its advertised and served versions.
pub const SUPPORTED_APIS: [ApiSupport; 22] = [
    ApiSupport::new(ApiKey::Produce, 0, 3, 9),
    ApiSupport::new(ApiKey::Fetch, 4, 4, 12),
    ApiSupport::new(ApiKey::ListOffsets, 1, 1, 7),
    ApiSupport::new(ApiKey::Metadata, 0, 0, 12),
    ApiSupport::new(ApiKey::OffsetCommit, 2, 2, 8),
    ApiSupport::new(ApiKey::OffsetFetch, 1, 1, 8),
    ApiSupport::new(ApiKey::FindCoordinator, 0, 0, 3),
    ApiSupport::new(ApiKey::JoinGroup, 0, 0, 7),
    ApiSupport::new(ApiKey::Heartbeat, 0, 0, 4),
    ApiSupport::new(ApiKey::LeaveGroup, 0, 0, 4),
    ApiSupport::new(ApiKey::SyncGroup, 0, 0, 5),
    ApiSupport::new(ApiKey::DescribeGroups, 0, 0, 5),
    ApiSupport::new(ApiKey::ListGroups, 0, 0, 4),
    ApiSupport::new(ApiKey::ApiVersions, 0, 0, 3),
    ApiSupport::new(ApiKey::CreateTopics, 2, 2, 5),
    ApiSupport::new(ApiKey::DeleteTopics, 1, 1, 5),
    ApiSupport::new(ApiKey::InitProducerId, 0, 0, 4),
    ApiSupport::new(ApiKey::OffsetForLeaderEpoch, 2, 2, 4),
    ApiSupport::new(ApiKey::DescribeConfigs, 1, 1, 4),
    ApiSupport::new(ApiKey::AlterConfigs, 0, 0, 2),
    ApiSupport::new(ApiKey::CreatePartitions, 0, 0, 3),
    ApiSupport::new(ApiKey::IncrementalAlterConfigs, 0, 0, 1),
];

/// The table entry for `api_key`, if the broker serves it.
pub fn support(api_key: ApiKey) -> Option<&'static ApiSupport> {
    SUPPORTED_APIS.iter().find(|api| api.api_key == api_key)
}

/// The ApiVersions response body: no error, every key in [`SUPPORTED_APIS`] with its advertised
/// range, no throttle, no features. Encode it with
/// [`encode_response`](super::encode_response) at the request's version; at an unsupported
/// version that function sends it as the v0 UNSUPPORTED_VERSION answer.
pub fn api_versions_response() -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(
        SUPPORTED_APIS
            .iter()
            .map(|api| {
                ApiVersion::default()
                    .with_api_key(api.api_key as i16)
                    .with_min_version(api.min_advertised)
                    .with_max_version(api.max)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_consistent() {
        for pair in SUPPORTED_APIS.windows(2) {
            assert!(
                (pair[0].api_key as i16) < (pair[1].api_key as i16),
                "{pair:?}"
            );
        }
        for api in &SUPPORTED_APIS {
            assert!(api.min_advertised <= api.min_served, "{api:?}");
            assert!(api.min_served <= api.max, "{api:?}");
        }
    }

    #[test]
    fn served_versions_are_decodable_by_kafka_protocol() {
        for api in &SUPPORTED_APIS {
            let decodable = api.api_key.valid_versions();
            assert!(
                decodable.min <= api.min_served && api.max <= decodable.max,
                "{:?}: served {}..={}, kafka-protocol decodes {decodable}",
                api.api_key,
                api.min_served,
                api.max
            );
        }
    }

    #[test]
    fn old_librdkafka_needs_v0_in_these_ranges() {
        for key in [
            ApiKey::Produce,
            ApiKey::Metadata,
            ApiKey::FindCoordinator,
            ApiKey::JoinGroup,
            ApiKey::SyncGroup,
            ApiKey::Heartbeat,
            ApiKey::LeaveGroup,
            ApiKey::ApiVersions,
            ApiKey::InitProducerId,
        ] {
            assert_eq!(support(key).unwrap().min_advertised, 0, "{key:?}");
        }
        let produce = support(ApiKey::Produce).unwrap();
        assert_eq!((produce.min_served, produce.max), (3, 9));
        assert!(!produce.serves(2) && produce.serves(3) && !produce.serves(10));
    }

    #[test]
    fn no_topic_id_versions_are_advertised() {
        // Fetch 13+, Metadata 13 and DeleteTopics 6 address topics by id.
        assert_eq!(support(ApiKey::Fetch).unwrap().max, 12);
        assert_eq!(support(ApiKey::Metadata).unwrap().max, 12);
        assert_eq!(support(ApiKey::DeleteTopics).unwrap().max, 5);
    }

    #[test]
    fn api_versions_response_lists_the_table() {
        let response = api_versions_response();
        assert_eq!(response.error_code, 0);
        assert_eq!(response.api_keys.len(), SUPPORTED_APIS.len());
        for (listed, api) in response.api_keys.iter().zip(&SUPPORTED_APIS) {
            assert_eq!(
                (listed.api_key, listed.min_version, listed.max_version),
                (api.api_key as i16, api.min_advertised, api.max)
            );
        }
    }
}
