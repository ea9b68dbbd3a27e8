//! The one place where errors of the layers below become Kafka error codes, with the message
//! that the versions carrying an error message send along.

use fastdata_log::batch::BatchError;
use fastdata_protocol::kafka_protocol::error::ResponseError;

use crate::topics::TopicError;

/// A Kafka error code and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaError {
    pub code: i16,
    pub message: String,
}

impl KafkaError {
    /// An error with Kafka's code for `error`.
    pub fn new(error: ResponseError, message: impl Into<String>) -> Self {
        KafkaError {
            code: error.code(),
            message: message.into(),
        }
    }
}

/// The code a client acts on for a log-engine error.
pub fn from_log(error: &fastdata_log::Error) -> KafkaError {
    use fastdata_log::Error as E;
    let code = match error {
        E::InvalidBatch(batch) => return from_batch(batch),
        E::BatchTooLarge { .. } => ResponseError::MessageTooLarge,
        E::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
        E::OutOfOrderSequence { .. } => ResponseError::OutOfOrderSequenceNumber,
        E::ProducerFenced { .. } => ResponseError::InvalidProducerEpoch,
        E::StaleLeaderEpoch { .. } => ResponseError::FencedLeaderEpoch,
        E::Config { .. } => ResponseError::InvalidConfig,
        E::TruncatedBeforeDurable { .. }
        | E::LogOffline { .. }
        | E::Io { .. }
        | E::Corrupt { .. } => ResponseError::KafkaStorageError,
    };
    KafkaError::new(code, error.to_string())
}

/// The code for a batch that failed validation: CORRUPT_MESSAGE for damage the CRC or framing
/// catches, INVALID_RECORD for what Kafka's `LogValidator` rejects.
pub fn from_batch(error: &BatchError) -> KafkaError {
    let code = match error.root() {
        BatchError::UnknownCompression(_) => ResponseError::UnsupportedCompressionType,
        BatchError::UnsupportedMagic(_) => ResponseError::UnsupportedForMessageFormat,
        BatchError::Truncated { .. }
        | BatchError::InvalidBatchLength(_)
        | BatchError::TrailingBytes { .. }
        | BatchError::CrcMismatch { .. }
        | BatchError::Codec { .. } => ResponseError::CorruptMessage,
        _ => ResponseError::InvalidRecord,
    };
    KafkaError::new(code, format!("invalid record batch: {error}"))
}

/// The code for a topic operation's error.
pub fn from_topic(error: &TopicError) -> KafkaError {
    let code = match error {
        TopicError::AlreadyExists(_) => ResponseError::TopicAlreadyExists,
        TopicError::Unknown(_) => ResponseError::UnknownTopicOrPartition,
        TopicError::InvalidName(_) => ResponseError::InvalidTopicException,
        TopicError::InvalidPartitions(_) => ResponseError::InvalidPartitions,
        TopicError::InvalidReplicationFactor(_) => ResponseError::InvalidReplicationFactor,
        TopicError::InvalidConfig(_) => ResponseError::InvalidConfig,
        TopicError::InvalidRequest(_) => ResponseError::InvalidRequest,
        TopicError::DeletionDisabled => ResponseError::TopicDeletionDisabled,
        TopicError::Storage(_) => ResponseError::KafkaStorageError,
    };
    KafkaError::new(code, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_damage_is_corrupt_and_rule_breaks_are_invalid() {
        let crc = BatchError::CrcMismatch {
            stored: 1,
            computed: 2,
        }
        .at(61);
        assert_eq!(from_batch(&crc).code, ResponseError::CorruptMessage.code());
        assert!(from_batch(&crc).message.contains("CRC mismatch"));
        let rule = BatchError::InvalidClientBatch("clients may not write control batches");
        assert_eq!(from_batch(&rule).code, ResponseError::InvalidRecord.code());
        let too_large = fastdata_log::Error::BatchTooLarge { size: 10, max: 5 };
        assert_eq!(
            from_log(&too_large).code,
            ResponseError::MessageTooLarge.code()
        );
    }
}
