//! The crate's one error type, and Kafka's error codes by name.
//!
//! Every fallible call returns [`Error`]. Its variants say what a caller can do about it:
//! [`Error::is_retriable`] tells whether trying again can help (a leader moved, a connection
//! dropped, a request timed out), and a broker's answer keeps its Kafka error code, name and the
//! topic, partition or group it was about ([`KafkaError`]).

use std::fmt;

use fastdata_log::batch::BatchError;
use fastdata_protocol::kafka_protocol::error::ResponseError;
use fastdata_protocol::kafka_protocol::messages::ApiKey;
use fastdata_protocol::ProtocolError;

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A Kafka error code as a broker sends it (0 is no error).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(pub i16);

impl ErrorCode {
    /// No error.
    pub const NONE: ErrorCode = ErrorCode(0);
    /// The requested offset is outside the partition's log.
    pub const OFFSET_OUT_OF_RANGE: ErrorCode = ErrorCode(1);
    /// The batch failed its CRC or is otherwise corrupt.
    pub const CORRUPT_MESSAGE: ErrorCode = ErrorCode(2);
    /// The topic or partition does not exist (yet).
    pub const UNKNOWN_TOPIC_OR_PARTITION: ErrorCode = ErrorCode(3);
    /// The partition has no leader right now.
    pub const LEADER_NOT_AVAILABLE: ErrorCode = ErrorCode(5);
    /// The broker is not the partition's leader.
    pub const NOT_LEADER_OR_FOLLOWER: ErrorCode = ErrorCode(6);
    /// The broker timed the request out.
    pub const REQUEST_TIMED_OUT: ErrorCode = ErrorCode(7);
    /// The batch is larger than the topic's `max.message.bytes`.
    pub const MESSAGE_TOO_LARGE: ErrorCode = ErrorCode(10);
    /// The connection dropped before an answer came (client-side too).
    pub const NETWORK_EXCEPTION: ErrorCode = ErrorCode(13);
    /// The group coordinator is still loading the group.
    pub const COORDINATOR_LOAD_IN_PROGRESS: ErrorCode = ErrorCode(14);
    /// The group coordinator is not available.
    pub const COORDINATOR_NOT_AVAILABLE: ErrorCode = ErrorCode(15);
    /// The broker is not this group's coordinator.
    pub const NOT_COORDINATOR: ErrorCode = ErrorCode(16);
    /// The group's generation moved on.
    pub const ILLEGAL_GENERATION: ErrorCode = ErrorCode(22);
    /// The coordinator does not know the member id.
    pub const UNKNOWN_MEMBER_ID: ErrorCode = ErrorCode(25);
    /// The group is rebalancing: rejoin.
    pub const REBALANCE_IN_PROGRESS: ErrorCode = ErrorCode(27);
    /// The topic already exists.
    pub const TOPIC_ALREADY_EXISTS: ErrorCode = ErrorCode(36);
    /// The broker does not support this request (transactions here).
    pub const UNSUPPORTED_FOR_MESSAGE_FORMAT: ErrorCode = ErrorCode(43);
    /// A sequence number of the idempotent producer does not follow the last one stored.
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: ErrorCode = ErrorCode(45);
    /// A batch repeats a sequence the broker can no longer answer for.
    pub const DUPLICATE_SEQUENCE_NUMBER: ErrorCode = ErrorCode(46);
    /// The producer's epoch is older than the broker's.
    pub const INVALID_PRODUCER_EPOCH: ErrorCode = ErrorCode(47);
    /// The broker lost (or never had) this producer's state.
    pub const UNKNOWN_PRODUCER_ID: ErrorCode = ErrorCode(59);
    /// JoinGroup must be sent again with the member id in the answer (KIP-394).
    pub const MEMBER_ID_REQUIRED: ErrorCode = ErrorCode(79);
    /// Another producer with the same transactional id fenced this one.
    pub const PRODUCER_FENCED: ErrorCode = ErrorCode(90);

    /// Kafka's name of the code (`NOT_LEADER_OR_FOLLOWER`), `UNKNOWN_CODE_<n>` if unknown.
    pub fn name(self) -> String {
        match ResponseError::try_from_code(self.0) {
            None => "NONE".to_owned(),
            Some(ResponseError::Unknown(code)) => format!("UNKNOWN_CODE_{code}"),
            Some(error) => upper_snake(&format!("{error:?}")),
        }
    }

    /// Whether Kafka classes the error as retriable (a `RetriableException` in the Java client).
    pub fn is_retriable(self) -> bool {
        ResponseError::try_from_code(self.0).is_some_and(|e| e.is_retriable())
    }

    /// Whether this is not an error.
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// Whether the code tells the client its metadata is stale: the leader moved, the topic is
    /// being created, or the broker does not host the partition.
    pub fn is_stale_metadata(self) -> bool {
        matches!(
            self,
            Self::UNKNOWN_TOPIC_OR_PARTITION
                | Self::LEADER_NOT_AVAILABLE
                | Self::NOT_LEADER_OR_FOLLOWER
                | Self::NETWORK_EXCEPTION
        ) || matches!(
            self.0,
            74 | 75 /* FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH */
        )
    }

    /// Whether the code says the group coordinator moved or is not ready.
    pub fn is_coordinator_error(self) -> bool {
        matches!(
            self,
            Self::COORDINATOR_NOT_AVAILABLE | Self::NOT_COORDINATOR
        )
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// `NotLeaderOrFollower` → `NOT_LEADER_OR_FOLLOWER`.
fn upper_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// An error code a broker answered with, and what it was about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaError {
    /// The code.
    pub code: ErrorCode,
    /// The request that got it.
    pub api: ApiKey,
    /// The topic, when the error is about one.
    pub topic: Option<String>,
    /// The partition, when the error is about one.
    pub partition: Option<i32>,
    /// The group, when the error is about one.
    pub group: Option<String>,
    /// The broker's error message, if it sent one.
    pub message: Option<String>,
}

impl KafkaError {
    /// An error of `api` with `code`, about nothing in particular yet.
    pub fn new(api: ApiKey, code: ErrorCode) -> Self {
        KafkaError {
            code,
            api,
            topic: None,
            partition: None,
            group: None,
            message: None,
        }
    }

    /// About `topic`.
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// About `partition` of the topic.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// About `group`.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// With the broker's message.
    pub fn message(mut self, message: Option<impl Into<String>>) -> Self {
        self.message = message.map(Into::into);
        self
    }
}

impl fmt::Display for KafkaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} failed", self.api)?;
        match (&self.topic, self.partition) {
            (Some(topic), Some(partition)) => write!(f, " for {topic}-{partition}")?,
            (Some(topic), None) => write!(f, " for topic {topic}")?,
            _ => {}
        }
        if let Some(group) = &self.group {
            write!(f, " for group {group}")?;
        }
        write!(f, ": {}", self.code)?;
        if let Some(message) = self.message.as_deref().filter(|m| !m.is_empty()) {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

/// Everything the client can fail with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// A configuration value is invalid.
    #[error("invalid configuration {key}: {reason}")]
    Config {
        /// The Kafka name of the key (`enable.idempotence`).
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A broker answered with an error code.
    #[error("{0}")]
    Kafka(KafkaError),

    /// A connection could not be made, or broke (retriable).
    #[error("network error with {broker}: {reason}")]
    Network {
        /// `host:port` of the broker.
        broker: String,
        /// What happened.
        reason: String,
    },

    /// A broker did not answer within `request.timeout.ms`; the connection was closed
    /// (retriable).
    #[error("{api:?} request to {broker} timed out after {timeout_ms} ms")]
    RequestTimeout {
        /// `host:port` of the broker.
        broker: String,
        /// The request.
        api: ApiKey,
        /// The timeout.
        timeout_ms: u64,
    },

    /// An operation did not complete within its bound (`delivery.timeout.ms`,
    /// `max.block.ms`, a poll or commit deadline).
    #[error("{operation} timed out after {timeout_ms} ms")]
    Timeout {
        /// What timed out.
        operation: String,
        /// The bound.
        timeout_ms: u64,
    },

    /// The broker and the client share no version of an API.
    #[error(
        "{broker} serves {api:?} versions {broker_min}..={broker_max}, this client \
         {client_min}..={client_max}"
    )]
    UnsupportedVersion {
        /// `host:port` of the broker.
        broker: String,
        /// The API.
        api: ApiKey,
        /// Lowest version the broker serves (-1: not at all).
        broker_min: i16,
        /// Highest version the broker serves (-1: not at all).
        broker_max: i16,
        /// Lowest version the client speaks.
        client_min: i16,
        /// Highest version the client speaks.
        client_max: i16,
    },

    /// A frame from the broker could not be decoded, or a request could not be encoded.
    #[error("protocol error with {broker}: {source}")]
    Protocol {
        /// `host:port` of the broker.
        broker: String,
        /// What the codec said.
        #[source]
        source: ProtocolError,
    },

    /// A broker's answer is decodable but makes no sense (a missing partition, a bound
    /// exceeded).
    #[error("invalid {api:?} response from {broker}: {reason}")]
    InvalidResponse {
        /// `host:port` of the broker.
        broker: String,
        /// The request it answered.
        api: ApiKey,
        /// What is wrong.
        reason: String,
    },

    /// A fetched record batch is corrupt.
    #[error("corrupt record batch in {topic}-{partition}: {source}")]
    CorruptBatch {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// What the batch parser said.
        #[source]
        source: BatchError,
    },

    /// A batch could not be built (a field too large to encode).
    #[error("cannot build a record batch: {0}")]
    BatchBuild(#[source] BatchError),

    /// A record is larger than a configured bound.
    #[error("record of {size} bytes exceeds {config} ({limit})")]
    RecordTooLarge {
        /// Its serialized size.
        size: usize,
        /// The bound.
        limit: usize,
        /// The config key of the bound.
        config: &'static str,
    },

    /// A partition has no position, no committed offset and `auto.offset.reset` is `none`.
    #[error("no offset for {topic}-{partition} and auto.offset.reset is none")]
    NoOffsetForPartition {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
    },

    /// A fetch position is outside the log and `auto.offset.reset` is `none`.
    #[error(
        "offset {offset} is out of range for {topic}-{partition} and auto.offset.reset is none"
    )]
    OffsetOutOfRange {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The position.
        offset: i64,
    },

    /// The group's assignment could not be computed or read.
    #[error("group assignment failed: {0}")]
    Assignment(String),

    /// The call does not fit the client's state (poll without a subscription, a seek on an
    /// unassigned partition, a commit without a group id).
    #[error("illegal state: {0}")]
    IllegalState(String),

    /// The producer hit an error it cannot recover from; every later send fails with it.
    #[error("producer failed fatally: {0}")]
    Fatal(String),

    /// The client was closed.
    #[error("the client is closed")]
    Closed,

    /// The client was created outside a Tokio runtime.
    #[error("fastdata-client needs a Tokio runtime: {0}")]
    NoRuntime(String),
}

impl Error {
    /// Whether retrying the operation can succeed: a retriable Kafka error code, a network
    /// error or a request timeout.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Kafka(e) => e.code.is_retriable(),
            Error::Network { .. } | Error::RequestTimeout { .. } => true,
            _ => false,
        }
    }

    /// The Kafka error code, if a broker sent one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Kafka(e) => Some(e.code),
            _ => None,
        }
    }

    /// An invalid-configuration error.
    pub(crate) fn config(key: &'static str, reason: impl Into<String>) -> Self {
        Error::Config {
            key,
            reason: reason.into(),
        }
    }
}

impl From<KafkaError> for Error {
    fn from(e: KafkaError) -> Self {
        Error::Kafka(e)
    }
}

/// `Ok(())` for code 0, else the error `make` builds from the code.
pub(crate) fn check(code: i16, make: impl FnOnce(ErrorCode) -> KafkaError) -> Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(Error::Kafka(make(ErrorCode(code))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kafkas() {
        assert_eq!(ErrorCode(6).name(), "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(ErrorCode(45).name(), "OUT_OF_ORDER_SEQUENCE_NUMBER");
        assert_eq!(ErrorCode(79).name(), "MEMBER_ID_REQUIRED");
        assert_eq!(ErrorCode(-1).name(), "UNKNOWN_SERVER_ERROR");
        assert_eq!(ErrorCode(0).name(), "NONE");
        assert_eq!(ErrorCode(31000).name(), "UNKNOWN_CODE_31000");
    }

    #[test]
    fn retriability_follows_kafka() {
        assert!(ErrorCode::NOT_LEADER_OR_FOLLOWER.is_retriable());
        assert!(ErrorCode::REQUEST_TIMED_OUT.is_retriable());
        assert!(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.is_retriable());
        assert!(!ErrorCode::MESSAGE_TOO_LARGE.is_retriable());
        assert!(!ErrorCode::OFFSET_OUT_OF_RANGE.is_retriable());
        assert!(!ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER.is_retriable());
        assert!(!ErrorCode(31000).is_retriable());
    }

    #[test]
    fn kafka_error_names_the_partition_and_code() {
        let e = Error::from(
            KafkaError::new(ApiKey::Produce, ErrorCode::NOT_LEADER_OR_FOLLOWER)
                .topic("orders")
                .partition(3)
                .message(Some("moved")),
        );
        assert_eq!(
            e.to_string(),
            "Produce failed for orders-3: NOT_LEADER_OR_FOLLOWER (6): moved"
        );
        assert!(e.is_retriable());
        assert_eq!(e.code(), Some(ErrorCode(6)));
    }
}
