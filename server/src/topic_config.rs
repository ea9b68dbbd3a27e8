//! Topic configs under Kafka's names: which keys exist, how they are validated, what their
//! broker-level defaults are, how they map onto the log engine's [`LogConfig`], and how
//! DescribeConfigs reports them.
//!
//! A topic stores only its overrides (`retention.ms=1000`); every other key takes the value of
//! its broker synonym (`log.retention.ms`), as in Kafka. Keys Kafka has but the broker cannot
//! honour are refused with a reason instead of accepted and ignored: `compression.type` other
//! than `producer` (batches are stored as the producer compressed them) and
//! `message.timestamp.type=LogAppendTime` (batches are never rewritten).

use std::collections::BTreeMap;

use fastdata_log::{CleanupPolicy, LogConfig};

use crate::config::{BrokerConfig, ConfigTable};

/// DescribeConfigs `config_type` values (Kafka's `ConfigType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i8)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Long = 5,
    Double = 6,
    List = 7,
}

/// DescribeConfigs `config_source` values (Kafka's `ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i8)]
pub enum ConfigSource {
    /// Set on the topic.
    DynamicTopic = 1,
    /// Set in the broker's file, environment or flags.
    StaticBroker = 4,
    /// Kafka's default.
    Default = 5,
}

/// One topic config key.
#[derive(Debug, Clone, Copy)]
pub struct TopicKey {
    /// Kafka's name.
    pub name: &'static str,
    /// The broker config that gives its default.
    pub broker_key: &'static str,
    /// Its type, as DescribeConfigs reports it.
    pub config_type: ConfigType,
    /// One line of documentation.
    pub doc: &'static str,
    /// The smallest value allowed (numbers only).
    min: i64,
}

const fn key(
    name: &'static str,
    broker_key: &'static str,
    config_type: ConfigType,
    min: i64,
    doc: &'static str,
) -> TopicKey {
    TopicKey {
        name,
        broker_key,
        config_type,
        doc,
        min,
    }
}

/// Every topic config, sorted by name.
pub const TOPIC_KEYS: &[TopicKey] = &[
    key(
        "cleanup.policy",
        "log.cleanup.policy",
        ConfigType::List,
        0,
        "delete: remove old segments by retention; compact: keep the newest record per key",
    ),
    key(
        "compression.type",
        "compression.type",
        ConfigType::String,
        0,
        "only producer: batches are stored in the codec the producer used",
    ),
    key(
        "delete.retention.ms",
        "log.cleaner.delete.retention.ms",
        ConfigType::Long,
        0,
        "how long compaction keeps tombstones",
    ),
    key(
        "flush.messages",
        "log.flush.interval.messages",
        ConfigType::Long,
        1,
        "fsync after this many messages; 1 acknowledges a write only once it is fsynced",
    ),
    key(
        "flush.ms",
        "log.flush.interval.ms",
        ConfigType::Long,
        0,
        "fsync once the oldest unflushed message is this old",
    ),
    key(
        "index.interval.bytes",
        "log.index.interval.bytes",
        ConfigType::Int,
        0,
        "bytes of log between two offset-index entries",
    ),
    key(
        "max.compaction.lag.ms",
        "log.cleaner.max.compaction.lag.ms",
        ConfigType::Long,
        1,
        "kept for compatibility: the cleaner runs every log.cleaner.backoff.ms",
    ),
    key(
        "max.message.bytes",
        "message.max.bytes",
        ConfigType::Int,
        61,
        "the largest record batch accepted",
    ),
    key(
        "message.timestamp.after.max.ms",
        "log.message.timestamp.after.max.ms",
        ConfigType::Long,
        0,
        "how far in the future a batch's timestamp may be",
    ),
    key(
        "message.timestamp.before.max.ms",
        "log.message.timestamp.before.max.ms",
        ConfigType::Long,
        0,
        "how far in the past a batch's timestamp may be",
    ),
    key(
        "message.timestamp.type",
        "log.message.timestamp.type",
        ConfigType::String,
        0,
        "CreateTime only: batches keep the producer's timestamps",
    ),
    key(
        "min.cleanable.dirty.ratio",
        "log.cleaner.min.cleanable.ratio",
        ConfigType::Double,
        0,
        "kept for compatibility: the cleaner runs every log.cleaner.backoff.ms",
    ),
    key(
        "min.compaction.lag.ms",
        "log.cleaner.min.compaction.lag.ms",
        ConfigType::Long,
        0,
        "kept for compatibility: only closed segments are compacted",
    ),
    key(
        "min.insync.replicas",
        "min.insync.replicas",
        ConfigType::Int,
        1,
        "replicas that must have a write for acks=all (one broker is always in sync)",
    ),
    key(
        "retention.bytes",
        "log.retention.bytes",
        ConfigType::Long,
        -1,
        "delete old segments while the partition is larger than this (-1: no limit)",
    ),
    key(
        "retention.ms",
        "log.retention.ms",
        ConfigType::Long,
        -1,
        "delete segments whose newest record is older than this (-1: keep forever)",
    ),
    key(
        "segment.bytes",
        "log.segment.bytes",
        ConfigType::Int,
        64,
        "roll to a new segment file at this size",
    ),
    key(
        "segment.index.bytes",
        "log.index.size.max.bytes",
        ConfigType::Int,
        24,
        "size of each segment's offset and time index",
    ),
    key(
        "segment.ms",
        "log.roll.ms",
        ConfigType::Long,
        1,
        "roll to a new segment file at this age",
    ),
    key(
        "unclean.leader.election.enable",
        "unclean.leader.election.enable",
        ConfigType::Boolean,
        0,
        "kept for replication",
    ),
];

/// The key named `name`.
pub fn topic_key(name: &str) -> Option<&'static TopicKey> {
    TOPIC_KEYS.iter().find(|k| k.name == name)
}

/// Check one override; the error is the message Kafka clients show (INVALID_CONFIG).
pub fn validate_override(name: &str, value: &str) -> Result<(), String> {
    let Some(key) = topic_key(name) else {
        return Err(format!("Unknown topic config name: {name}"));
    };
    let invalid = |why: String| {
        Err(format!(
            "Invalid value {value} for configuration {name}: {why}"
        ))
    };
    match key.config_type {
        ConfigType::Int | ConfigType::Long => {
            let parsed = if key.config_type == ConfigType::Int {
                value.trim().parse::<i32>().map(i64::from)
            } else {
                value.trim().parse::<i64>()
            };
            match parsed {
                Ok(n) if n < key.min => invalid(format!("Value must be at least {}", key.min)),
                Ok(_) => Ok(()),
                Err(_) => invalid("Not a number of the right size".to_string()),
            }
        }
        ConfigType::Double => match value.trim().parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => Ok(()),
            _ => invalid("Value must be a number between 0 and 1".to_string()),
        },
        ConfigType::Boolean => match value.trim().to_ascii_lowercase().as_str() {
            "true" | "false" => Ok(()),
            _ => invalid("Expected value to be either true or false".to_string()),
        },
        ConfigType::List => parse_cleanup_policy(value).map(|_| ()).or_else(invalid),
        ConfigType::String => match name {
            "compression.type" if value.trim() != "producer" => invalid(
                "fastdata stores batches in the codec the producer used; only 'producer' is supported"
                    .to_string(),
            ),
            "message.timestamp.type" if value.trim() == "LogAppendTime" => invalid(
                "fastdata never rewrites batches; only 'CreateTime' is supported".to_string(),
            ),
            "message.timestamp.type" if value.trim() != "CreateTime" => {
                invalid("String must be one of: CreateTime, LogAppendTime".to_string())
            }
            _ => Ok(()),
        },
    }
}

fn parse_cleanup_policy(value: &str) -> Result<CleanupPolicy, String> {
    let mut policy = CleanupPolicy {
        delete: false,
        compact: false,
    };
    for part in value.split(',').map(str::trim) {
        match part {
            "delete" => policy.delete = true,
            "compact" => policy.compact = true,
            other => return Err(format!("'{other}' is not delete or compact")),
        }
    }
    if !(policy.delete || policy.compact) {
        return Err("empty policy".to_string());
    }
    Ok(policy)
}

/// What a topic's configs resolve to: the log engine's part and the broker's part.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicSettings {
    /// For the partition logs.
    pub log: LogConfig,
    /// `message.timestamp.before.max.ms`.
    pub timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`.
    pub timestamp_after_max_ms: i64,
}

/// The effective value of `key` for a topic with `overrides`, and where it came from.
pub fn effective(
    broker: &BrokerConfig,
    overrides: &BTreeMap<String, String>,
    key: &TopicKey,
) -> (String, ConfigSource) {
    if let Some(value) = overrides.get(key.name) {
        return (value.clone(), ConfigSource::DynamicTopic);
    }
    let value = broker.get(key.broker_key).unwrap_or_default();
    let source = if broker.explicit.contains(key.broker_key) {
        ConfigSource::StaticBroker
    } else {
        ConfigSource::Default
    };
    (value, source)
}

/// Resolve a topic's settings. Fails, naming the key, if a value (an override or a broker
/// default) is invalid, or if the combination is one the log engine refuses.
pub fn resolve(
    broker: &BrokerConfig,
    overrides: &BTreeMap<String, String>,
) -> Result<TopicSettings, String> {
    let mut values = BTreeMap::new();
    for key in TOPIC_KEYS {
        let (value, _) = effective(broker, overrides, key);
        validate_override(key.name, &value)?;
        values.insert(key.name, value);
    }
    let long = |name: &str| -> i64 {
        values
            .get(name)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_default()
    };
    let size = |name: &str| -> usize { usize::try_from(long(name)).unwrap_or(usize::MAX) };
    let cleanup_policy = parse_cleanup_policy(values.get("cleanup.policy").map_or("", |v| v))?;
    let log = LogConfig {
        segment_bytes: u64::try_from(long("segment.bytes")).unwrap_or(u64::MAX),
        segment_ms: long("segment.ms"),
        segment_index_bytes: size("segment.index.bytes"),
        index_interval_bytes: size("index.interval.bytes"),
        retention_bytes: long("retention.bytes"),
        retention_ms: long("retention.ms"),
        max_message_bytes: size("max.message.bytes"),
        cleanup_policy,
        delete_retention_ms: long("delete.retention.ms"),
        // Kafka's "never" is Long.MAX_VALUE; the engine's is u64::MAX.
        flush_messages: match long("flush.messages") {
            i64::MAX => u64::MAX,
            n => u64::try_from(n).unwrap_or(u64::MAX),
        },
        flush_ms: long("flush.ms"),
        producer_id_expiration_ms: broker.producer_id_expiration_ms,
        cleaner_dedupe_buffer_bytes: usize::try_from(broker.log_cleaner_dedupe_buffer_size)
            .unwrap_or(usize::MAX),
    };
    log.validate().map_err(|e| e.to_string())?;
    Ok(TopicSettings {
        log,
        timestamp_before_max_ms: long("message.timestamp.before.max.ms"),
        timestamp_after_max_ms: long("message.timestamp.after.max.ms"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overrides(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keys_are_sorted_and_have_broker_synonyms() {
        for pair in TOPIC_KEYS.windows(2) {
            assert!(pair[0].name < pair[1].name);
        }
        let broker = BrokerConfig::default();
        for key in TOPIC_KEYS {
            assert!(broker.get(key.broker_key).is_some(), "{}", key.broker_key);
        }
    }

    #[test]
    fn defaults_are_kafkas() {
        let settings = resolve(&BrokerConfig::default(), &BTreeMap::new()).unwrap();
        assert_eq!(settings.log, LogConfig::default());
        assert_eq!(settings.timestamp_after_max_ms, 3_600_000);
    }

    #[test]
    fn overrides_win_over_broker_defaults() {
        let mut broker = BrokerConfig::default();
        broker.set("log.retention.ms", "5000", "test").unwrap();
        let topic = overrides(&[
            ("cleanup.policy", "compact,delete"),
            ("flush.messages", "1"),
        ]);
        let settings = resolve(&broker, &topic).unwrap();
        assert_eq!(settings.log.retention_ms, 5000);
        assert_eq!(settings.log.flush_messages, 1);
        assert!(settings.log.cleanup_policy.compact && settings.log.cleanup_policy.delete);
        let retention = topic_key("retention.ms").unwrap();
        assert_eq!(
            effective(&broker, &topic, retention),
            ("5000".to_string(), ConfigSource::StaticBroker)
        );
        let flush = topic_key("flush.messages").unwrap();
        assert_eq!(
            effective(&broker, &topic, flush),
            ("1".to_string(), ConfigSource::DynamicTopic)
        );
    }

    #[test]
    fn bad_values_are_refused_with_kafkas_wording() {
        for (name, value, expect) in [
            (
                "no.such.config",
                "1",
                "Unknown topic config name: no.such.config",
            ),
            (
                "retention.ms",
                "soon",
                "Invalid value soon for configuration retention.ms",
            ),
            ("flush.messages", "0", "at least 1"),
            ("cleanup.policy", "forever", "'forever'"),
            ("compression.type", "lz4", "only 'producer'"),
            (
                "message.timestamp.type",
                "LogAppendTime",
                "only 'CreateTime'",
            ),
            ("min.cleanable.dirty.ratio", "2", "between 0 and 1"),
            ("segment.bytes", "4294967296", "right size"),
        ] {
            let err = validate_override(name, value).unwrap_err();
            assert!(err.contains(expect), "{name}={value}: {err}");
        }
        assert!(validate_override("cleanup.policy", "compact").is_ok());
    }
}
