//! fastdata-server: the broker service, as a library the `fastdata` binary runs.
//!
//! Owns everything between a socket and the log engine for the Kafka side: the broker's
//! configuration ([`config`], Kafka's keys and defaults), topics and their partition logs
//! ([`topics`], [`topic_config`]), producer ids ([`producer_ids`]), the group coordinator and
//! committed offsets ([`group`]), the Kafka listener with one handler per API (`kafka`), the
//! HTTP admin port ([`admin_http`]) and metrics ([`metrics`]). [`broker::start_broker`] opens a
//! data directory and serves; [`broker::RunningBroker::shutdown`] stops cleanly.
//!
//! It does not own the wire format (`fastdata-protocol`), record batches, segments or
//! durability (`fastdata-log`), nor the command line (`fastdata-cli`). Later issues add the
//! store's node (CQL) beside the broker, and replication under both.

pub mod admin_http;
pub mod broker;
pub mod config;
pub mod group;
mod kafka;
pub mod metrics;
pub mod node;
pub mod producer_ids;
pub mod topic_config;
pub mod topics;

pub use broker::{start_broker, Broker, RunningBroker, StartError};
pub use config::BrokerConfig;
