//! fastdata-client (being built).

mod cluster;
mod conn;
pub mod error;
pub mod metadata;
pub mod partitioner;
pub mod assignor;
pub mod producer;
pub mod types;
