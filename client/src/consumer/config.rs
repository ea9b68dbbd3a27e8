//! [`ConsumerConfig`]: the Java consumer's settings, under its names (dots as underscores,
//! units in the names) and with its defaults.

use std::time::Duration;

use crate::assignor::Assignor;
use crate::cluster::{parse_bootstrap, NetworkConfig};
use crate::conn::ConnectionConfig;
use crate::error::{Error, Result};

/// `auto.offset.reset`: where to start when there is no committed offset or the position is
/// out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetReset {
    /// The log start offset.
    Earliest,
    /// The high watermark: only records written from now on.
    Latest,
    /// Fail with [`Error::NoOffsetForPartition`] / [`Error::OffsetOutOfRange`].
    None,
}

impl OffsetReset {
    /// Parses `earliest`, `latest` or `none`.
    pub fn parse(s: &str) -> Result<OffsetReset> {
        match s.trim() {
            "earliest" => Ok(OffsetReset::Earliest),
            "latest" => Ok(OffsetReset::Latest),
            "none" => Ok(OffsetReset::None),
            other => Err(Error::config(
                "auto.offset.reset",
                format!("{other:?} is not earliest, latest or none"),
            )),
        }
    }
}

/// `isolation.level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IsolationLevel {
    /// Read up to the high watermark.
    ReadUncommitted,
    /// Read up to the last stable offset (no transaction in doubt).
    ReadCommitted,
}

impl IsolationLevel {
    /// The wire value.
    pub fn value(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}

/// The consumer's configuration. Defaults are the Java client's.
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    /// `bootstrap.servers`: `HOST:PORT[,HOST:PORT...]`.
    pub bootstrap_servers: String,
    /// `client.id`.
    pub client_id: String,
    /// `group.id`: needed for `subscribe` and for commits.
    pub group_id: Option<String>,
    /// `auto.offset.reset` (default latest).
    pub auto_offset_reset: OffsetReset,
    /// `enable.auto.commit` (default true; only with a group id).
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms` (default 5000).
    pub auto_commit_interval_ms: u64,
    /// `session.timeout.ms` (default 45000).
    pub session_timeout_ms: u64,
    /// `heartbeat.interval.ms` (default 3000).
    pub heartbeat_interval_ms: u64,
    /// `max.poll.interval.ms`: a member that does not poll this often leaves the group; also
    /// the rebalance timeout (default 300000).
    pub max_poll_interval_ms: u64,
    /// `partition.assignment.strategy` (default `[range, cooperative-sticky]`, as Java's).
    pub partition_assignment_strategy: Vec<Assignor>,
    /// `fetch.min.bytes` (default 1).
    pub fetch_min_bytes: i32,
    /// `fetch.max.wait.ms` (default 500).
    pub fetch_max_wait_ms: u64,
    /// `fetch.max.bytes` (default 52428800).
    pub fetch_max_bytes: i32,
    /// `max.partition.fetch.bytes` (default 1048576).
    pub max_partition_fetch_bytes: i32,
    /// `max.poll.records` (default 500).
    pub max_poll_records: usize,
    /// `isolation.level` (default read_uncommitted).
    pub isolation_level: IsolationLevel,
    /// `request.timeout.ms` (default 30000).
    pub request_timeout_ms: u64,
    /// `default.api.timeout.ms`: the bound on `commit_sync`, `committed` and `position`
    /// (default 60000).
    pub default_api_timeout_ms: u64,
    /// `retry.backoff.ms` (default 100).
    pub retry_backoff_ms: u64,
    /// `metadata.max.age.ms` (default 300000).
    pub metadata_max_age_ms: u64,
    /// `allow.auto.create.topics` (default true).
    pub allow_auto_create_topics: bool,
    /// `reconnect.backoff.ms` (default 50).
    pub reconnect_backoff_ms: u64,
    /// `reconnect.backoff.max.ms` (default 1000).
    pub reconnect_backoff_max_ms: u64,
    /// `socket.connection.setup.timeout.ms` (default 10000).
    pub socket_connection_setup_timeout_ms: u64,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            bootstrap_servers: "127.0.0.1:9092".to_owned(),
            client_id: "fastdata-consumer".to_owned(),
            group_id: None,
            auto_offset_reset: OffsetReset::Latest,
            enable_auto_commit: true,
            auto_commit_interval_ms: 5000,
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 3000,
            max_poll_interval_ms: 300_000,
            partition_assignment_strategy: vec![Assignor::Range, Assignor::CooperativeSticky],
            fetch_min_bytes: 1,
            fetch_max_wait_ms: 500,
            fetch_max_bytes: 52_428_800,
            max_partition_fetch_bytes: 1_048_576,
            max_poll_records: 500,
            isolation_level: IsolationLevel::ReadUncommitted,
            request_timeout_ms: 30_000,
            default_api_timeout_ms: 60_000,
            retry_backoff_ms: 100,
            metadata_max_age_ms: 300_000,
            allow_auto_create_topics: true,
            reconnect_backoff_ms: 50,
            reconnect_backoff_max_ms: 1000,
            socket_connection_setup_timeout_ms: 10_000,
        }
    }
}

/// Room in a response frame beyond `fetch.max.bytes` for headers and per-partition fields.
const FRAME_SLACK_BYTES: usize = 1 << 20;

impl ConsumerConfig {
    /// A configuration for `bootstrap_servers` with every other setting at its default.
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        ConsumerConfig {
            bootstrap_servers: bootstrap_servers.into(),
            ..ConsumerConfig::default()
        }
    }

    /// With `group.id`.
    pub fn with_group(mut self, group_id: impl Into<String>) -> Self {
        self.group_id = Some(group_id.into());
        self
    }

    /// Checks the settings against each other, as the Java client does.
    pub fn validate(&self) -> Result<()> {
        parse_bootstrap(&self.bootstrap_servers)?;
        if self.heartbeat_interval_ms >= self.session_timeout_ms {
            return Err(Error::config(
                "heartbeat.interval.ms",
                "must be lower than session.timeout.ms",
            ));
        }
        if self.partition_assignment_strategy.is_empty() {
            return Err(Error::config(
                "partition.assignment.strategy",
                "needs at least one assignor",
            ));
        }
        if self.max_poll_records == 0 {
            return Err(Error::config("max.poll.records", "must be at least 1"));
        }
        if self.fetch_max_bytes <= 0 || self.max_partition_fetch_bytes <= 0 {
            return Err(Error::config("fetch.max.bytes", "must be positive"));
        }
        if self.group_id.as_deref() == Some("") {
            return Err(Error::config("group.id", "must not be empty"));
        }
        if self.request_timeout_ms <= self.fetch_max_wait_ms {
            return Err(Error::config(
                "request.timeout.ms",
                "must be greater than fetch.max.wait.ms",
            ));
        }
        Ok(())
    }

    pub(crate) fn network(&self) -> Result<NetworkConfig> {
        Ok(NetworkConfig {
            bootstrap: parse_bootstrap(&self.bootstrap_servers)?,
            connection: ConnectionConfig {
                client_id: self.client_id.clone(),
                request_timeout: Duration::from_millis(self.request_timeout_ms),
                connect_timeout: Duration::from_millis(self.socket_connection_setup_timeout_ms),
                max_in_flight: 100,
                max_frame_bytes: (self.fetch_max_bytes as usize + FRAME_SLACK_BYTES)
                    .max(100 * 1024 * 1024),
            },
            metadata_max_age: Duration::from_millis(self.metadata_max_age_ms),
            reconnect_backoff: Duration::from_millis(self.reconnect_backoff_ms),
            reconnect_backoff_max: Duration::from_millis(self.reconnect_backoff_max_ms),
            allow_auto_create_topics: self.allow_auto_create_topics,
        })
    }

    /// Whether offsets are committed automatically (needs a group id).
    pub(crate) fn auto_commit(&self) -> bool {
        self.enable_auto_commit && self.group_id.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_java_clients() {
        let c = ConsumerConfig::default();
        assert_eq!(c.auto_offset_reset, OffsetReset::Latest);
        assert!(c.enable_auto_commit);
        assert_eq!(
            (
                c.session_timeout_ms,
                c.heartbeat_interval_ms,
                c.max_poll_interval_ms
            ),
            (45_000, 3000, 300_000)
        );
        assert_eq!(
            c.partition_assignment_strategy,
            [Assignor::Range, Assignor::CooperativeSticky]
        );
        assert_eq!((c.fetch_min_bytes, c.fetch_max_wait_ms), (1, 500));
        assert_eq!(
            (
                c.fetch_max_bytes,
                c.max_partition_fetch_bytes,
                c.max_poll_records
            ),
            (52_428_800, 1_048_576, 500)
        );
        c.validate().unwrap();
        assert!(!c.auto_commit(), "no auto-commit without a group");
        assert!(c.with_group("g").auto_commit());
    }

    #[test]
    fn inconsistent_settings_are_refused() {
        let c = ConsumerConfig {
            heartbeat_interval_ms: 50_000,
            ..Default::default()
        };
        assert!(matches!(
            c.validate(),
            Err(Error::Config {
                key: "heartbeat.interval.ms",
                ..
            })
        ));
        let c = ConsumerConfig {
            partition_assignment_strategy: vec![],
            ..Default::default()
        };
        assert!(c.validate().is_err());
        let c = ConsumerConfig {
            group_id: Some(String::new()),
            ..Default::default()
        };
        assert!(c.validate().is_err());
        assert_eq!(
            OffsetReset::parse("earliest").unwrap(),
            OffsetReset::Earliest
        );
        assert!(OffsetReset::parse("smallest").is_err());
    }
}
