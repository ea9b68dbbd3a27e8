//! The broker's configuration: one struct, one table of keys, four sources.
//!
//! Every setting has a Kafka-style dotted key (`num.partitions`, `log.retention.ms`; Kafka's own
//! name wherever Kafka has the setting) and Kafka's default. [`BrokerConfig`] and the table
//! [`KEYS`] are generated from one list, so the TOML file, the command-line flags, the
//! environment and `--print-config` can never disagree. Sources, lowest to highest:
//!
//! 1. the defaults below;
//! 2. a TOML file (`--config FILE`): `num.partitions = 3` and `[log.retention]\nms = 1000` are
//!    the same key (tables are flattened with dots);
//! 3. environment variables: `FASTDATA_` + the key upper-cased with dots as underscores
//!    (`FASTDATA_LOG_RETENTION_MS`);
//! 4. flags: `--` + the key with dots as dashes (`--log-retention-ms 1000`).
//!
//! Keys never contain `_` or `-`, so each mapping is reversible. [`BrokerConfig::explicit`]
//! remembers which keys a source set: DescribeConfigs reports those as static broker configs and
//! the rest as defaults.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

/// A configuration problem: which key, and what is wrong with its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The key is not a broker setting.
    #[error("unknown configuration key '{key}' (from {source_name})")]
    UnknownKey { key: String, source_name: String },
    /// The value does not parse or is out of range.
    #[error("invalid value '{value}' for {key} (from {source_name}): {reason}")]
    InvalidValue {
        key: String,
        value: String,
        source_name: String,
        reason: String,
    },
    /// The configuration file could not be read or parsed.
    #[error("cannot read configuration file {path}: {reason}")]
    File { path: String, reason: String },
}

/// A configuration value type: parsed from text (flags, environment, TOML scalars) and printed
/// back the same way.
pub trait ConfigValue: Sized {
    /// Parse from the text form.
    fn parse_value(text: &str) -> Result<Self, String>;
    /// The text form, as `--print-config` and DescribeConfigs show it.
    fn render(&self) -> String;
    /// The TOML form, for `--print-config`.
    fn to_toml(&self) -> toml::Value;
}

macro_rules! int_value {
    ($($ty:ty),*) => {$(
        impl ConfigValue for $ty {
            fn parse_value(text: &str) -> Result<Self, String> {
                text.trim().parse().map_err(|e| format!("{e}"))
            }
            fn render(&self) -> String {
                self.to_string()
            }
            fn to_toml(&self) -> toml::Value {
                toml::Value::Integer(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_value!(i16, i32, i64);

impl ConfigValue for bool {
    fn parse_value(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(format!("'{other}' is not true or false")),
        }
    }
    fn render(&self) -> String {
        self.to_string()
    }
    fn to_toml(&self) -> toml::Value {
        toml::Value::Boolean(*self)
    }
}

impl ConfigValue for String {
    fn parse_value(text: &str) -> Result<Self, String> {
        Ok(text.to_string())
    }
    fn render(&self) -> String {
        self.clone()
    }
    fn to_toml(&self) -> toml::Value {
        toml::Value::String(self.clone())
    }
}

/// One key of the table: its name and documentation.
#[derive(Debug, Clone, Copy)]
pub struct KeyInfo {
    /// The dotted key.
    pub name: &'static str,
    /// One line of documentation.
    pub doc: &'static str,
}

impl KeyInfo {
    /// The command-line flag of this key (without the leading dashes).
    pub fn flag(&self) -> String {
        self.name.replace('.', "-")
    }

    /// The environment variable of this key.
    pub fn env_var(&self) -> String {
        format!(
            "FASTDATA_{}",
            self.name.replace('.', "_").to_ascii_uppercase()
        )
    }
}

/// The shared behaviour of every configuration table (the broker's, the node's): keys with
/// documentation, setting from text with the source named in errors, the TOML file, the
/// environment, and `--print-config`. [`config_table!`] implements it.
pub trait ConfigTable: Default {
    /// Every key, in the order `--print-config` shows them.
    const KEYS: &'static [KeyInfo];

    /// Set `key` from its text form; `source_name` names where it came from, for errors.
    fn set(&mut self, key: &str, value: &str, source_name: &str) -> Result<(), ConfigError>;

    /// The text form of `key`'s value, `None` for an unknown key.
    fn get(&self, key: &str) -> Option<String>;

    /// The TOML form of `key`'s value, `None` for an unknown key.
    fn get_toml(&self, key: &str) -> Option<toml::Value>;

    /// The keys a file, the environment or a flag set (the rest are defaults).
    fn explicit(&self) -> &BTreeSet<&'static str>;

    /// Apply a TOML document: every table flattened to dotted keys.
    fn apply_toml(&mut self, text: &str, source_name: &str) -> Result<(), ConfigError> {
        for (key, value) in flatten_toml(text, source_name)? {
            self.set(&key, &value, source_name)?;
        }
        Ok(())
    }

    /// Apply a TOML file.
    fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        self.apply_toml(&text, &path.display().to_string())
    }

    /// Apply every `FASTDATA_*` variable of `vars` that names one of this table's keys; other
    /// `FASTDATA_*` variables are left alone (other tables and tools read some).
    fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        for (name, value) in vars {
            if let Some(key) = Self::KEYS.iter().find(|k| k.env_var() == name) {
                self.set(key.name, &value, &name)?;
            }
        }
        Ok(())
    }

    /// The effective configuration as a TOML document with each key's documentation, for
    /// `--print-config`. Loading it back gives the same configuration.
    fn to_toml_string(&self) -> String {
        self.to_toml_string_of(|_| true)
    }

    /// [`to_toml_string`](Self::to_toml_string) of the keys `keep` accepts.
    fn to_toml_string_of(&self, keep: impl Fn(&str) -> bool) -> String {
        let mut out = String::new();
        for key in Self::KEYS.iter().filter(|key| keep(key.name)) {
            let value = self.get_toml(key.name).unwrap_or(toml::Value::from(""));
            let origin = if self.explicit().contains(key.name) {
                "set"
            } else {
                "default"
            };
            let _ = writeln!(out, "# {} ({origin})", key.doc);
            let _ = writeln!(out, "\"{}\" = {}", key.name, value);
        }
        out
    }
}

/// Define a configuration struct and its [`ConfigTable`] from one list of
/// `/// doc` `"dotted.key" => field: Type = default;` entries.
#[macro_export]
macro_rules! config_table {
    ($(#[doc = $sdoc:literal])+ $name:ident {
        $($(#[doc = $doc:literal])+ $key:literal => $field:ident: $ty:ty = $default:expr;)*
    }) => {
        $(#[doc = $sdoc])+
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $($(#[doc = $doc])+ pub $field: $ty,)*
            /// The keys a file, the environment or a flag set (the rest are defaults).
            pub explicit: std::collections::BTreeSet<&'static str>,
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    $($field: $default,)*
                    explicit: std::collections::BTreeSet::new(),
                }
            }
        }

        impl $crate::config::ConfigTable for $name {
            const KEYS: &'static [$crate::config::KeyInfo] = &[
                $($crate::config::KeyInfo { name: $key, doc: concat!($($doc),+) },)*
            ];

            fn set(&mut self, key: &str, value: &str, source_name: &str) -> Result<(), $crate::config::ConfigError> {
                let invalid = |reason: String| $crate::config::ConfigError::InvalidValue {
                    key: key.to_string(),
                    value: value.to_string(),
                    source_name: source_name.to_string(),
                    reason,
                };
                match key {
                    $($key => {
                        self.$field = <$ty as $crate::config::ConfigValue>::parse_value(value).map_err(invalid)?;
                        self.explicit.insert($key);
                    })*
                    _ => {
                        return Err($crate::config::ConfigError::UnknownKey {
                            key: key.to_string(),
                            source_name: source_name.to_string(),
                        })
                    }
                }
                Ok(())
            }

            fn get(&self, key: &str) -> Option<String> {
                match key {
                    $($key => Some($crate::config::ConfigValue::render(&self.$field)),)*
                    _ => None,
                }
            }

            fn get_toml(&self, key: &str) -> Option<toml::Value> {
                match key {
                    $($key => Some($crate::config::ConfigValue::to_toml(&self.$field)),)*
                    _ => None,
                }
            }

            fn explicit(&self) -> &std::collections::BTreeSet<&'static str> {
                &self.explicit
            }
        }
    };
}

/// Every key of the broker's configuration, in the order `--print-config` shows them.
pub const KEYS: &[KeyInfo] = <BrokerConfig as ConfigTable>::KEYS;

config_table! {
    /// The broker's configuration; see the module documentation for its sources.
    BrokerConfig {
    /// This broker's id in Metadata and FindCoordinator answers.
    "node.id" => node_id: i32 = 0;
    /// Where partitions, topic metadata and producer-id blocks live.
    "data.dir" => data_dir: String = "./data".to_string();
    /// The Kafka listener, HOST:PORT (a `PLAINTEXT://` prefix is accepted; port 0 picks one).
    "listeners" => listeners: String = "127.0.0.1:9092".to_string();
    /// The HOST:PORT clients are told to connect to (empty: the bound listener address).
    "advertised.listeners" => advertised_listeners: String = String::new();
    /// The HTTP admin listener (/health, /ready, /metrics), HOST:PORT.
    "admin.listener" => admin_listener: String = "127.0.0.1:9644".to_string();
    /// Largest Produce request frame accepted, in bytes; a larger one closes the connection.
    "socket.request.max.bytes" => socket_request_max_bytes: i32 = 104_857_600;
    /// Largest frame of any other request (decoded requests can be tens of times larger than
    /// their frames); a larger one closes the connection.
    "nonproduce.request.max.bytes" => nonproduce_request_max_bytes: i32 = 1_048_576;
    /// Request bytes read but not yet answered, across all connections; beyond it the broker
    /// reads no new request until answers drain. At least socket.request.max.bytes.
    "queued.max.request.bytes" => queued_max_request_bytes: i64 = 536_870_912;
    /// Most client connections served at once; further ones are closed on accept.
    "max.connections" => max_connections: i32 = 1000;
    /// Requests of one connection processed concurrently (answers still go out in order);
    /// beyond it the broker stops reading that connection until answers drain.
    "max.inflight.requests.per.connection" => max_inflight_requests_per_connection: i32 = 16;
    /// Close a connection idle this long.
    "connections.max.idle.ms" => connections_max_idle_ms: i64 = 600_000;
    /// Upper bound on one Fetch response, whatever the client asks.
    "fetch.max.bytes" => fetch_max_bytes: i32 = 57_671_680;
    /// How long a clean shutdown waits for requests in flight before closing the logs.
    "shutdown.timeout.ms" => shutdown_timeout_ms: i64 = 30_000;
    /// Partitions of an auto-created topic, and of CreateTopics asking for the default (-1).
    "num.partitions" => num_partitions: i32 = 1;
    /// Replication factor of topics asking for the default; one broker serves only 1.
    "default.replication.factor" => default_replication_factor: i16 = 1;
    /// Create a topic when a client asks Metadata for one that does not exist.
    "auto.create.topics.enable" => auto_create_topics_enable: bool = true;
    /// Allow DeleteTopics.
    "delete.topic.enable" => delete_topic_enable: bool = true;
    /// Default of the topic config max.message.bytes: the largest record batch accepted.
    "message.max.bytes" => message_max_bytes: i32 = 1_048_588;
    /// Default of segment.bytes.
    "log.segment.bytes" => log_segment_bytes: i32 = 1_073_741_824;
    /// Default of segment.ms (Kafka's log.roll.hours, 168).
    "log.roll.ms" => log_roll_ms: i64 = 604_800_000;
    /// Default of retention.ms (Kafka's log.retention.hours, 168).
    "log.retention.ms" => log_retention_ms: i64 = 604_800_000;
    /// Default of retention.bytes (-1: no limit).
    "log.retention.bytes" => log_retention_bytes: i64 = -1;
    /// How often retention deletes old segments.
    "log.retention.check.interval.ms" => log_retention_check_interval_ms: i64 = 300_000;
    /// Default of cleanup.policy (delete, compact, or compact,delete).
    "log.cleanup.policy" => log_cleanup_policy: String = "delete".to_string();
    /// Run the log cleaner on compacted topics.
    "log.cleaner.enable" => log_cleaner_enable: bool = true;
    /// Pause between two cleaner passes over the compacted partitions.
    "log.cleaner.backoff.ms" => log_cleaner_backoff_ms: i64 = 15_000;
    /// Default of delete.retention.ms: how long tombstones survive compaction.
    "log.cleaner.delete.retention.ms" => log_cleaner_delete_retention_ms: i64 = 86_400_000;
    /// Memory bound of one cleaner pass's key map, in bytes.
    "log.cleaner.dedupe.buffer.size" => log_cleaner_dedupe_buffer_size: i64 = 134_217_728;
    /// Default of min.cleanable.dirty.ratio.
    "log.cleaner.min.cleanable.ratio" => log_cleaner_min_cleanable_ratio: String = "0.5".to_string();
    /// Default of min.compaction.lag.ms.
    "log.cleaner.min.compaction.lag.ms" => log_cleaner_min_compaction_lag_ms: i64 = 0;
    /// Default of max.compaction.lag.ms.
    "log.cleaner.max.compaction.lag.ms" => log_cleaner_max_compaction_lag_ms: i64 = i64::MAX;
    /// Default of flush.messages: fsync after this many messages (Kafka's default: never).
    "log.flush.interval.messages" => log_flush_interval_messages: i64 = i64::MAX;
    /// Default of flush.ms: fsync once the oldest unflushed message is this old (default never).
    "log.flush.interval.ms" => log_flush_interval_ms: i64 = i64::MAX;
    /// How often flush.ms is checked.
    "log.flush.scheduler.interval.ms" => log_flush_scheduler_interval_ms: i64 = 100;
    /// Default of index.interval.bytes.
    "log.index.interval.bytes" => log_index_interval_bytes: i32 = 4096;
    /// Default of segment.index.bytes.
    "log.index.size.max.bytes" => log_index_size_max_bytes: i32 = 10_485_760;
    /// Default of message.timestamp.type (only CreateTime is supported).
    "log.message.timestamp.type" => log_message_timestamp_type: String = "CreateTime".to_string();
    /// Default of message.timestamp.before.max.ms.
    "log.message.timestamp.before.max.ms" => log_message_timestamp_before_max_ms: i64 = i64::MAX;
    /// Default of message.timestamp.after.max.ms (Kafka 4's default: one hour).
    "log.message.timestamp.after.max.ms" => log_message_timestamp_after_max_ms: i64 = 3_600_000;
    /// Default of compression.type (only producer: batches are stored as the client sent them).
    "compression.type" => compression_type: String = "producer".to_string();
    /// Default of min.insync.replicas (kept for replication; one broker is always in sync).
    "min.insync.replicas" => min_insync_replicas: i32 = 1;
    /// Default of unclean.leader.election.enable (kept for replication).
    "unclean.leader.election.enable" => unclean_leader_election_enable: bool = false;
    /// Idempotent-producer state idle this long is dropped.
    "producer.id.expiration.ms" => producer_id_expiration_ms: i64 = 86_400_000;
    /// How often idle producer state is dropped.
    "producer.id.expiration.check.interval.ms" => producer_id_expiration_check_interval_ms: i64 = 600_000;
    /// Partitions of the internal __consumer_offsets topic (fixed once created).
    "offsets.topic.num.partitions" => offsets_topic_num_partitions: i32 = 50;
    /// segment.bytes of __consumer_offsets.
    "offsets.topic.segment.bytes" => offsets_topic_segment_bytes: i32 = 104_857_600;
    /// Committed offsets of a group with no members expire after this long.
    "offsets.retention.minutes" => offsets_retention_minutes: i32 = 10_080;
    /// How often expired offsets are removed.
    "offsets.retention.check.interval.ms" => offsets_retention_check_interval_ms: i64 = 600_000;
    /// Largest metadata string an OffsetCommit may carry.
    "offset.metadata.max.bytes" => offset_metadata_max_bytes: i32 = 4096;
    /// How long a new group waits for more members before its first rebalance completes.
    "group.initial.rebalance.delay.ms" => group_initial_rebalance_delay_ms: i64 = 3000;
    /// Smallest session.timeout.ms a member may ask for.
    "group.min.session.timeout.ms" => group_min_session_timeout_ms: i32 = 6000;
    /// Largest session.timeout.ms a member may ask for.
    "group.max.session.timeout.ms" => group_max_session_timeout_ms: i32 = 1_800_000;
    /// Most members of one group.
    "group.max.size" => group_max_size: i32 = 1000;
    /// Most groups the coordinator keeps (members or committed offsets); JoinGroup and
    /// OffsetCommit for a new group beyond it are refused.
    "group.max.count" => group_max_count: i32 = 100_000;
    }
}

impl BrokerConfig {
    /// Check the combinations and ranges the broker cannot work with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, reason: &str| {
            Err(ConfigError::InvalidValue {
                key: key.to_string(),
                value: self.get(key).unwrap_or_default(),
                source_name: "configuration".to_string(),
                reason: reason.to_string(),
            })
        };
        let positive: [(&str, i64); 13] = [
            (
                "socket.request.max.bytes",
                self.socket_request_max_bytes.into(),
            ),
            (
                "nonproduce.request.max.bytes",
                self.nonproduce_request_max_bytes.into(),
            ),
            ("max.connections", self.max_connections.into()),
            (
                "max.inflight.requests.per.connection",
                self.max_inflight_requests_per_connection.into(),
            ),
            ("fetch.max.bytes", self.fetch_max_bytes.into()),
            ("num.partitions", self.num_partitions.into()),
            (
                "offsets.topic.num.partitions",
                self.offsets_topic_num_partitions.into(),
            ),
            (
                "offsets.retention.minutes",
                self.offsets_retention_minutes.into(),
            ),
            (
                "log.retention.check.interval.ms",
                self.log_retention_check_interval_ms,
            ),
            ("log.cleaner.backoff.ms", self.log_cleaner_backoff_ms),
            (
                "log.flush.scheduler.interval.ms",
                self.log_flush_scheduler_interval_ms,
            ),
            ("group.max.size", self.group_max_size.into()),
            ("group.max.count", self.group_max_count.into()),
        ];
        for (key, value) in positive {
            if value <= 0 {
                return bad(key, "must be positive");
            }
        }
        if self.queued_max_request_bytes < i64::from(self.socket_request_max_bytes)
            || self.queued_max_request_bytes > i64::from(u32::MAX)
        {
            return bad(
                "queued.max.request.bytes",
                "must be at least socket.request.max.bytes and at most 4294967295",
            );
        }
        if self.default_replication_factor != 1 {
            return bad(
                "default.replication.factor",
                "a single broker serves replication factor 1 only",
            );
        }
        if self.group_min_session_timeout_ms > self.group_max_session_timeout_ms {
            return bad(
                "group.min.session.timeout.ms",
                "must not exceed group.max.session.timeout.ms",
            );
        }
        if self.group_initial_rebalance_delay_ms < 0 {
            return bad("group.initial.rebalance.delay.ms", "must not be negative");
        }
        Ok(())
    }

    /// The listener address without a `PLAINTEXT://` prefix.
    pub fn listener_address(&self) -> &str {
        strip_scheme(&self.listeners)
    }

    /// The advertised address without a `PLAINTEXT://` prefix (empty: not set).
    pub fn advertised_address(&self) -> &str {
        strip_scheme(&self.advertised_listeners)
    }
}

fn strip_scheme(address: &str) -> &str {
    address
        .split_once("://")
        .map_or(address, |(_, rest)| rest)
        .trim()
}

/// A TOML document's (dotted key, text value) pairs, nested tables flattened with dots: what
/// a process serving several services (`fastdata dev`) hands each service's table.
pub fn flatten_toml(text: &str, source_name: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::File {
            path: source_name.to_string(),
            reason: e.to_string(),
        })?;
    let mut flat = Vec::new();
    flatten(&table, "", &mut flat);
    Ok(flat)
}

/// Flatten nested TOML tables into (dotted key, text value) pairs.
fn flatten(table: &toml::Table, prefix: &str, out: &mut Vec<(String, String)>) {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            toml::Value::Table(inner) => flatten(inner, &key, out),
            toml::Value::String(s) => out.push((key, s.clone())),
            other => out.push((key, other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_flags_and_environment_reversibly() {
        for key in KEYS {
            assert!(
                !key.name.contains('_') && !key.name.contains('-'),
                "{}",
                key.name
            );
            assert!(
                BrokerConfig::default().get(key.name).is_some(),
                "{}",
                key.name
            );
        }
        let key = KEYS.iter().find(|k| k.name == "log.retention.ms").unwrap();
        assert_eq!(key.flag(), "log-retention-ms");
        assert_eq!(key.env_var(), "FASTDATA_LOG_RETENTION_MS");
    }

    #[test]
    fn sources_override_in_order_and_are_remembered() {
        let mut config = BrokerConfig::default();
        config
            .apply_toml(
                "num.partitions = 3\n\"auto.create.topics.enable\" = false\n[log.retention]\nms = 1000\n",
                "test.toml",
            )
            .unwrap();
        assert_eq!(config.num_partitions, 3);
        assert_eq!(config.log_retention_ms, 1000);
        assert!(!config.auto_create_topics_enable);
        config
            .apply_env([
                ("FASTDATA_NUM_PARTITIONS".to_string(), "5".to_string()),
                ("FASTDATA_BIN".to_string(), "/not/a/key".to_string()),
            ])
            .unwrap();
        assert_eq!(config.num_partitions, 5);
        config
            .set("num.partitions", "7", "--num-partitions")
            .unwrap();
        assert_eq!(config.num_partitions, 7);
        assert!(config.explicit.contains("num.partitions"));
        assert!(!config.explicit.contains("log.segment.bytes"));
    }

    #[test]
    fn errors_name_the_key_the_value_and_the_source() {
        let mut config = BrokerConfig::default();
        let err = config
            .set("num.partitions", "many", "--num-partitions")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("num.partitions")
                && err.contains("many")
                && err.contains("--num-partitions"),
            "{err}"
        );
        let err = config.apply_toml("no.such.key = 1", "f.toml").unwrap_err();
        assert!(matches!(err, ConfigError::UnknownKey { ref key, .. } if key == "no.such.key"));
        config.set("num.partitions", "0", "flag").unwrap();
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("num.partitions"));
    }

    #[test]
    fn print_config_loads_back_to_the_same_values() {
        let mut config = BrokerConfig::default();
        config
            .set("listeners", "PLAINTEXT://127.0.0.9:0", "flag")
            .unwrap();
        config.set("log.retention.bytes", "12345", "flag").unwrap();
        let printed = config.to_toml_string();
        let mut again = BrokerConfig::default();
        again.apply_toml(&printed, "printed").unwrap();
        for key in KEYS {
            assert_eq!(again.get(key.name), config.get(key.name), "{}", key.name);
        }
        assert_eq!(again.listener_address(), "127.0.0.9:0");
    }
}
