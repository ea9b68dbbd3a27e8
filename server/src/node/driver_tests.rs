//! The node on the real store, driven by the `scylla` driver as an application would: it
//! connects (OPTIONS, STARTUP, REGISTER, the system tables, all prepared and paged), creates
//! schema, writes through prepared statements routed by their partition-key indexes, pages,
//! batches, and re-prepares transparently after a restart. The end-to-end suites (`tests/`)
//! run a `fastdata node` process with more clients; this one checks the service alone.

use std::net::SocketAddr;

use futures::TryStreamExt;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::{ExecutionError, RequestAttemptError};
use scylla::statement::batch::{Batch, BatchType};

use super::*;
use crate::config::ConfigTable;

fn config(dir: &std::path::Path, port: u16) -> NodeConfig {
    let mut config = NodeConfig::default();
    config
        .set("data.dir", &dir.display().to_string(), "test")
        .unwrap();
    config
        .set("native.transport.port", &port.to_string(), "test")
        .unwrap();
    config
}

async fn session(addr: SocketAddr) -> Session {
    SessionBuilder::new()
        .known_node(addr.to_string())
        .build()
        .await
        .unwrap()
}

fn db_error(e: ExecutionError) -> (scylla::errors::DbError, String) {
    match e {
        ExecutionError::LastAttemptError(RequestAttemptError::DbError(code, message)) => {
            (code, message)
        }
        other => panic!("not a database error: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scylla_driver_creates_writes_pages_and_batches() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(config(dir.path(), 0)).await.unwrap();
    let session = session(node.cql_addr).await;

    // What the driver made of the system tables on connect.
    let state = session.get_cluster_state();
    assert_eq!(state.get_nodes_info().len(), 1);
    assert!(state.get_keyspace("system").is_some());

    session
        .query_unpaged(
            "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
            &[],
        )
        .await
        .unwrap();
    session
        .query_unpaged(
            "CREATE TABLE ks.t (k int, c int, v text, PRIMARY KEY (k, c))",
            &[],
        )
        .await
        .unwrap();
    session.await_schema_agreement().await.unwrap();

    let insert = session
        .prepare("INSERT INTO ks.t (k, c, v) VALUES (?, ?, ?)")
        .await
        .unwrap();
    let pk: Vec<u16> = insert
        .get_variable_pk_indexes()
        .iter()
        .map(|i| i.index)
        .collect();
    assert_eq!(
        pk,
        vec![0],
        "token-aware routing needs the partition key's marker"
    );
    for c in 0..250 {
        session
            .execute_unpaged(&insert, (1, c, format!("v{c}")))
            .await
            .unwrap();
    }

    let mut select = session
        .prepare("SELECT c, v FROM ks.t WHERE k = ?")
        .await
        .unwrap();
    select.set_page_size(100);
    let rows: Vec<(i32, String)> = session
        .execute_iter(select, (1,))
        .await
        .unwrap()
        .rows_stream::<(i32, String)>()
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 250);
    assert!(rows
        .iter()
        .enumerate()
        .all(|(i, (c, v))| *c == i as i32 && *v == format!("v{i}")));

    let mut batch = Batch::new(BatchType::Unlogged);
    batch.append_statement(insert.clone());
    batch.append_statement("INSERT INTO ks.t (k, c, v) VALUES (2, 1, 'b')");
    session.batch(&batch, ((2, 0, "a"), ())).await.unwrap();

    session.use_keyspace("ks", false).await.unwrap();
    let result = session
        .query_unpaged("SELECT c, v FROM t WHERE k = 2", &[])
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let rows: Vec<(i32, String)> = result
        .rows::<(i32, String)>()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows, vec![(0, "a".to_string()), (1, "b".to_string())]);

    let (code, message) = db_error(
        session
            .query_unpaged("SELECT * FROM no_such_table", &[])
            .await
            .unwrap_err(),
    );
    assert_eq!(code, scylla::errors::DbError::Invalid, "{message}");
    let (code, _) = db_error(session.query_unpaged("SELEC 1", &[]).await.unwrap_err());
    assert_eq!(code, scylla::errors::DbError::SyntaxError);

    let metrics = node.node().render_metrics();
    assert!(
        metrics.contains("fastdata_cql_requests_total{opcode=\"EXECUTE\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fastdata_store_write_duration_seconds_count"),
        "{metrics}"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepared_statement_survives_a_restart_by_being_prepared_again() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(config(dir.path(), 0)).await.unwrap();
    let addr = node.cql_addr;
    let session = session(addr).await;
    session
        .query_unpaged(
            "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
            &[],
        )
        .await
        .unwrap();
    session
        .query_unpaged("CREATE TABLE ks.kv (k int PRIMARY KEY, v int)", &[])
        .await
        .unwrap();
    let insert = session
        .prepare("INSERT INTO ks.kv (k, v) VALUES (?, ?)")
        .await
        .unwrap();
    session.execute_unpaged(&insert, (1, 10)).await.unwrap();
    node.shutdown().await;

    // The same port, a node that has prepared nothing: EXECUTE gets Unprepared, and the
    // driver prepares again and retries on its own.
    let node = start_node(config(dir.path(), addr.port())).await.unwrap();
    let mut written = false;
    for _ in 0..100 {
        if session.execute_unpaged(&insert, (2, 20)).await.is_ok() {
            written = true;
            break;
        }
        // Until the driver has reconnected.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(written, "the driver never got the write through");
    let result = session
        .query_unpaged("SELECT k, v FROM ks.kv", &[])
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let mut rows: Vec<(i32, i32)> = result
        .rows::<(i32, i32)>()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.sort();
    assert_eq!(rows, vec![(1, 10), (2, 20)]);
    let metrics = node.node().render_metrics();
    assert!(
        metrics.contains("fastdata_cql_errors_total{opcode=\"EXECUTE\",error=\"Unprepared\"} 1"),
        "{metrics}"
    );
    node.shutdown().await;
}
