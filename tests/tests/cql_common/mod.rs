//! What the CQL node's end-to-end tests share (included by each `cql_*.rs` with `mod
//! cql_common;`): a runtime for the scylla driver, a session on a node with no special
//! options, and keyspace creation.

#![allow(dead_code)] // Each test file uses a part of it.

use std::time::Duration;

use fastdata_tests::Node;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;

/// How long one request may take (a debug build of the node, under a parallel test run).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A runtime for the driver: the tests are synchronous (they drive processes) and run their
/// driver parts on it.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A scylla session on `node`, as an application opens one: the contact point and nothing
/// else but a request timeout suited to a debug build.
pub async fn connect(node: &Node) -> Session {
    SessionBuilder::new()
        .known_node(node.contact_point())
        .connection_timeout(REQUEST_TIMEOUT)
        .build()
        .await
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", node.contact_point()))
}

/// Creates keyspace `name` (SimpleStrategy, replication factor 1).
pub async fn create_keyspace(session: &Session, name: &str) {
    session
        .query_unpaged(
            format!(
                "CREATE KEYSPACE {name} WITH replication = \
                 {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
            ),
            (),
        )
        .await
        .unwrap_or_else(|e| panic!("creating keyspace {name}: {e}"));
}

/// Runs `statement` without values, panicking with the statement on an error.
pub async fn exec(session: &Session, statement: &str) {
    session
        .query_unpaged(statement, ())
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}
