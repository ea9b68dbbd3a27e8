//! [`ProducerConfig`]: the Java producer's settings, under its names (dots as underscores, units
//! in the names) and with its defaults.

use std::time::Duration;

use fastdata_log::batch::Compression;

use crate::cluster::{parse_bootstrap, NetworkConfig};
use crate::conn::ConnectionConfig;
use crate::error::{Error, Result};

/// `acks`: how many replicas must have a batch before the broker answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acks {
    /// `acks=0`: the broker does not answer; a record's offset is reported as -1.
    None,
    /// `acks=1`: the leader has it.
    Leader,
    /// `acks=all` (-1): every in-sync replica has it.
    All,
}

impl Acks {
    /// The wire value.
    pub fn value(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }

    /// Parses Kafka's spellings: `0`, `1`, `all` or `-1`.
    pub fn parse(s: &str) -> Result<Acks> {
        match s.trim() {
            "0" => Ok(Acks::None),
            "1" => Ok(Acks::Leader),
            "all" | "-1" => Ok(Acks::All),
            other => Err(Error::config(
                "acks",
                format!("{other:?} is not 0, 1 or all"),
            )),
        }
    }
}

/// Parses a `compression.type` name: `none`, `gzip`, `snappy`, `lz4` or `zstd`.
pub fn parse_compression(name: &str) -> Result<Compression> {
    Compression::ALL
        .into_iter()
        .find(|c| c.name() == name.trim())
        .ok_or_else(|| {
            Error::config(
                "compression.type",
                format!("{name:?} is not none, gzip, snappy, lz4 or zstd"),
            )
        })
}

/// The producer's configuration. Defaults are the Java client's.
#[derive(Clone, Debug)]
pub struct ProducerConfig {
    /// `bootstrap.servers`: `HOST:PORT[,HOST:PORT...]`, used only to discover the cluster.
    pub bootstrap_servers: String,
    /// `client.id`, sent in every request.
    pub client_id: String,
    /// `acks` (default all).
    pub acks: Acks,
    /// `linger.ms`: how long a batch waits for more records (default 5).
    pub linger_ms: u64,
    /// `batch.size`: a batch is sent once it holds this many bytes (default 16384).
    pub batch_size: usize,
    /// `compression.type` (default none).
    pub compression: Compression,
    /// `enable.idempotence` (default true): producer id, sequence numbers, no duplicates on
    /// retry. Requires `acks=all`, `retries > 0` and at most 5 requests in flight.
    pub enable_idempotence: bool,
    /// `max.in.flight.requests.per.connection` (default 5).
    pub max_in_flight_requests_per_connection: usize,
    /// `retries` (default `i32::MAX`: bounded by `delivery.timeout.ms` instead).
    pub retries: u32,
    /// `retry.backoff.ms` (default 100).
    pub retry_backoff_ms: u64,
    /// `delivery.timeout.ms`: the bound on a record's time from `send` to its outcome
    /// (default 120000); at least `linger.ms + request.timeout.ms`.
    pub delivery_timeout_ms: u64,
    /// `request.timeout.ms` (default 30000).
    pub request_timeout_ms: u64,
    /// `buffer.memory`: bytes of records waiting to be sent; `send` waits while it is full
    /// (default 32 MiB).
    pub buffer_memory: usize,
    /// `max.request.size`: the largest Produce request, and so the largest record
    /// (default 1 MiB).
    pub max_request_size: usize,
    /// `max.block.ms`: how long `send` may wait for metadata and buffer space
    /// (default 60000).
    pub max_block_ms: u64,
    /// `metadata.max.age.ms`: metadata is refreshed at least this often (default 300000).
    pub metadata_max_age_ms: u64,
    /// `reconnect.backoff.ms` (default 50).
    pub reconnect_backoff_ms: u64,
    /// `reconnect.backoff.max.ms` (default 1000).
    pub reconnect_backoff_max_ms: u64,
    /// `socket.connection.setup.timeout.ms` (default 10000).
    pub socket_connection_setup_timeout_ms: u64,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            bootstrap_servers: "127.0.0.1:9092".to_owned(),
            client_id: "fastdata-producer".to_owned(),
            acks: Acks::All,
            linger_ms: 5,
            batch_size: 16_384,
            compression: Compression::None,
            enable_idempotence: true,
            max_in_flight_requests_per_connection: 5,
            retries: i32::MAX as u32,
            retry_backoff_ms: 100,
            delivery_timeout_ms: 120_000,
            request_timeout_ms: 30_000,
            buffer_memory: 32 * 1024 * 1024,
            max_request_size: 1024 * 1024,
            max_block_ms: 60_000,
            metadata_max_age_ms: 300_000,
            reconnect_backoff_ms: 50,
            reconnect_backoff_max_ms: 1000,
            socket_connection_setup_timeout_ms: 10_000,
        }
    }
}

/// Requests in flight per partition an idempotent producer allows (the broker keeps the last
/// five batches per producer to answer duplicates).
pub(crate) const MAX_IDEMPOTENT_IN_FLIGHT: usize = 5;

impl ProducerConfig {
    /// A configuration for `bootstrap_servers` with every other setting at its default.
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        ProducerConfig {
            bootstrap_servers: bootstrap_servers.into(),
            ..ProducerConfig::default()
        }
    }

    /// Checks the settings against each other, as the Java client does.
    pub fn validate(&self) -> Result<()> {
        parse_bootstrap(&self.bootstrap_servers)?;
        if self.enable_idempotence {
            if self.acks != Acks::All {
                return Err(Error::config(
                    "enable.idempotence",
                    "requires acks=all (set enable_idempotence to false for acks 0 or 1)",
                ));
            }
            if self.retries == 0 {
                return Err(Error::config("enable.idempotence", "requires retries > 0"));
            }
            if self.max_in_flight_requests_per_connection > MAX_IDEMPOTENT_IN_FLIGHT {
                return Err(Error::config(
                    "enable.idempotence",
                    "requires max.in.flight.requests.per.connection <= 5",
                ));
            }
        }
        if self.max_in_flight_requests_per_connection == 0 {
            return Err(Error::config(
                "max.in.flight.requests.per.connection",
                "must be at least 1",
            ));
        }
        if self.delivery_timeout_ms < self.linger_ms.saturating_add(self.request_timeout_ms) {
            return Err(Error::config(
                "delivery.timeout.ms",
                "must be at least linger.ms + request.timeout.ms",
            ));
        }
        if self.max_request_size < 1024 {
            return Err(Error::config("max.request.size", "must be at least 1024"));
        }
        if self.buffer_memory < self.max_request_size {
            return Err(Error::config(
                "buffer.memory",
                "must be at least max.request.size",
            ));
        }
        if self.request_timeout_ms == 0 {
            return Err(Error::config("request.timeout.ms", "must be positive"));
        }
        Ok(())
    }

    pub(crate) fn network(&self) -> Result<NetworkConfig> {
        Ok(NetworkConfig {
            bootstrap: parse_bootstrap(&self.bootstrap_servers)?,
            connection: ConnectionConfig {
                client_id: self.client_id.clone(),
                request_timeout: self.request_timeout(),
                connect_timeout: Duration::from_millis(self.socket_connection_setup_timeout_ms),
                max_in_flight: self.max_in_flight_requests_per_connection,
                max_frame_bytes: 100 * 1024 * 1024,
            },
            metadata_max_age: Duration::from_millis(self.metadata_max_age_ms),
            reconnect_backoff: Duration::from_millis(self.reconnect_backoff_ms),
            reconnect_backoff_max: Duration::from_millis(self.reconnect_backoff_max_ms),
            allow_auto_create_topics: true,
        })
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_java_clients() {
        let c = ProducerConfig::default();
        assert_eq!(c.acks, Acks::All);
        assert_eq!((c.linger_ms, c.batch_size), (5, 16_384));
        assert!(c.enable_idempotence);
        assert_eq!(c.max_in_flight_requests_per_connection, 5);
        assert_eq!(
            (c.delivery_timeout_ms, c.request_timeout_ms),
            (120_000, 30_000)
        );
        assert_eq!(
            (c.buffer_memory, c.max_request_size),
            (33_554_432, 1_048_576)
        );
        c.validate().unwrap();
    }

    #[test]
    fn idempotence_needs_acks_all_retries_and_few_in_flight() {
        let bad = [
            ProducerConfig {
                acks: Acks::Leader,
                ..Default::default()
            },
            ProducerConfig {
                retries: 0,
                ..Default::default()
            },
            ProducerConfig {
                max_in_flight_requests_per_connection: 6,
                ..Default::default()
            },
        ];
        for c in bad {
            assert!(matches!(
                c.validate(),
                Err(Error::Config {
                    key: "enable.idempotence",
                    ..
                })
            ));
        }
        ProducerConfig {
            acks: Acks::None,
            enable_idempotence: false,
            ..Default::default()
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn delivery_timeout_covers_linger_and_request_timeout() {
        let c = ProducerConfig {
            delivery_timeout_ms: 1000,
            ..Default::default()
        };
        assert!(matches!(
            c.validate(),
            Err(Error::Config {
                key: "delivery.timeout.ms",
                ..
            })
        ));
    }

    #[test]
    fn acks_and_codecs_parse_by_kafka_name() {
        assert_eq!(Acks::parse("all").unwrap(), Acks::All);
        assert_eq!(Acks::parse("-1").unwrap().value(), -1);
        assert_eq!(Acks::parse("0").unwrap(), Acks::None);
        assert!(Acks::parse("2").is_err());
        assert_eq!(parse_compression("lz4").unwrap(), Compression::Lz4);
        assert_eq!(parse_compression("zstd").unwrap(), Compression::Zstd);
        assert!(parse_compression("brotli").is_err());
    }
}
