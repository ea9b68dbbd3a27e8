//! fastdata-client (being built).

pub mod admin;
pub mod assignor;
mod cluster;
mod conn;
pub mod consumer;
pub mod error;
pub mod metadata;
mod offsets;
pub mod partitioner;
pub mod producer;
pub mod types;
