//! fastdata-kv: the node's storage engine on RocksDB and the local executor of CQL statements.
//!
//! It owns what a node stores and how: the schema catalog ([`schema`]), Cassandra's
//! Murmur3 tokens ([`token`]), order-preserving keys ([`keys`]) and LWW cells ([`cell`]) in
//! a RocksDB column family per table ([`engine`]), tombstones, TTL and their purge by
//! compaction ([`compaction`]), reads of partitions and token ranges ([`read`]) and writes
//! ([`write`]), and the executor of CQL-lite statements behind [`Store`], the contract with the
//! CQL service ([`api`]). It does not own networking, sessions or the protocol's framing
//! (`fastdata-server`), nor the language (`fastdata-cql`), nor replication (the cluster issue).

pub mod api;
pub mod cell;
pub mod clock;
pub mod compaction;
pub mod engine;
mod exec;
pub mod keys;
pub mod read;
pub mod schema;
pub mod token;
pub mod write;

pub use api::{Error, StoreConfig};
pub use clock::{Clock, ManualClock, SystemClock};
pub use exec::{cql_error, prepared_id, Store};
