//! SIGKILL the node during a write load: every write the scylla driver saw acknowledged (many
//! concurrent inserts at consistency ONE) is there, with its value, after the restart; with
//! the default `commitlog.sync periodic` (the RocksDB WAL is in the kernel's page cache when
//! the node answers, and a killed process loses nothing the kernel has) and with
//! `commitlog.sync batch` (fsync before the answer).

mod cql_common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cql_common::{connect, create_keyspace, exec, runtime};
use fastdata_tests::{loopback_host, DataDir, Node};
use scylla::response::{PagingState, PagingStateResponse};
use scylla::statement::{Consistency, Statement};

/// Writers in flight at once.
const CONCURRENCY: usize = 64;

/// Acknowledged writes to wait for before the kill (or the time limit below, whichever first).
const ACKED_BEFORE_KILL: usize = 3000;
const LOAD_TIME_LIMIT: Duration = Duration::from_secs(20);

/// How long one insert may take (bounds the writers once the node is gone).
const INSERT_TIMEOUT: Duration = Duration::from_secs(5);

fn acknowledged_writes_survive_sigkill(name: &str, config: &[(&str, &str)]) {
    let dir = DataDir::new(name).unwrap();
    let mut builder = Node::builder(&dir).host(loopback_host());
    for (key, value) in config {
        builder = builder.config(*key, *value);
    }
    let mut node = builder.start().unwrap();
    let rt = runtime();
    let acked: Arc<Mutex<Vec<i32>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers = rt.block_on(async {
        let session = Arc::new(connect(&node).await);
        create_keyspace(&session, "durable_ks").await;
        exec(
            &session,
            "CREATE TABLE durable_ks.w (k int PRIMARY KEY, v text, n bigint)",
        )
        .await;
        let mut insert = session
            .prepare("INSERT INTO durable_ks.w (k, v, n) VALUES (?, ?, ?)")
            .await
            .unwrap();
        insert.set_consistency(Consistency::One);
        insert.set_request_timeout(Some(INSERT_TIMEOUT));
        let next = Arc::new(AtomicI32::new(0));
        (0..CONCURRENCY)
            .map(|_| {
                let (session, insert, next) = (session.clone(), insert.clone(), next.clone());
                let (acked, stop) = (acked.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let values = (k, format!("value {k}"), i64::from(k) * 3);
                        match session.execute_unpaged(&insert, values).await {
                            Ok(_) => acked.lock().unwrap().push(k),
                            // The node is gone: what was not acknowledged may or may not be there.
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect::<Vec<_>>()
    });
    let deadline = Instant::now() + LOAD_TIME_LIMIT;
    while acked.lock().unwrap().len() < ACKED_BEFORE_KILL && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    node.kill().unwrap();
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for writer in writers {
            writer.await.unwrap();
        }
    });
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.len() >= 100,
        "only {} writes were acknowledged before the kill",
        acked.len()
    );

    node.restart().unwrap();
    let found = rt.block_on(async {
        let session = connect(&node).await;
        let mut statement = Statement::new("SELECT k, v, n FROM durable_ks.w");
        statement.set_page_size(1000);
        let mut found = BTreeMap::new();
        let mut state = PagingState::start();
        loop {
            let (result, next) = session
                .query_single_page(statement.clone(), (), state)
                .await
                .unwrap();
            let rows = result.into_rows_result().unwrap();
            for row in rows.rows::<(i32, String, i64)>().unwrap() {
                let (k, v, n) = row.unwrap();
                found.insert(k, (v, n));
            }
            match next {
                PagingStateResponse::HasMorePages { state: s } => state = s,
                PagingStateResponse::NoMorePages => return found,
            }
        }
    });
    let lost: Vec<i32> = acked
        .iter()
        .copied()
        .filter(|k| found.get(k) != Some(&(format!("value {k}"), i64::from(*k) * 3)))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost or changed after SIGKILL, first {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(20)]
    );
    node.terminate().unwrap();
}

#[test]
fn acknowledged_writes_survive_sigkill_with_periodic_commitlog_sync() {
    acknowledged_writes_survive_sigkill("cql-kill-periodic", &[]);
}

#[test]
fn acknowledged_writes_survive_sigkill_with_batch_commitlog_sync() {
    acknowledged_writes_survive_sigkill("cql-kill-batch", &[("commitlog.sync", "batch")]);
}
