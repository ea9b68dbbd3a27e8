//! The node's connection handling over real sockets, against a scripted backend (the store's
//! semantics are the store's tests; here: framing, streams, bounds, events, shutdown).
//! Requests are encoded and answers decoded by the `cassandra-protocol` crate, an
//! independent implementation of the protocol.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cassandra_protocol::compression::Compression as TheirCompression;
use cassandra_protocol::consistency::Consistency as TheirConsistency;
use cassandra_protocol::frame::events::{SchemaChangeOptions, ServerEvent, SimpleServerEvent};
use cassandra_protocol::frame::message_error::ErrorType;
use cassandra_protocol::frame::message_execute::BodyReqExecuteOwned;
use cassandra_protocol::frame::message_prepare::BodyReqPrepare;
use cassandra_protocol::frame::message_query::BodyReqQuery;
use cassandra_protocol::frame::message_register::BodyReqRegister;
use cassandra_protocol::frame::message_response::ResponseBody;
use cassandra_protocol::frame::message_result::{ResResultBody, RowsMetadataFlags};
use cassandra_protocol::frame::message_startup::BodyReqStartup;
use cassandra_protocol::frame::{
    Direction, Envelope, Flags, Opcode as TheirOpcode, Serialize as _, Version,
};
use cassandra_protocol::query::{QueryParams, QueryValues};
use cassandra_protocol::types::value::Value as TheirValue;
use cassandra_protocol::types::{CBytes, CBytesShort};
use fastdata_cql::CqlType;
use fastdata_kv::api::{
    BatchStatement, BatchType, BoundValue, BoundValues, ChangeTarget, ChangeType, ColumnSpec,
    Error, Prepared, QueryResult, Request, Rows, SchemaChange, StoreMetrics,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::config::ConfigTable;

/// A backend that follows a script instead of running CQL.
#[derive(Default)]
struct Scripted {
    prepared: Mutex<HashMap<[u8; 16], String>>,
    running: AtomicUsize,
    most_running: AtomicUsize,
    closed: AtomicBool,
    /// `STALL` calls the script held back, and those it ran.
    held_back: AtomicUsize,
    stalls_run: AtomicUsize,
}

fn blob_column(name: &str) -> ColumnSpec {
    ColumnSpec {
        keyspace: "ks".to_string(),
        table: "t".to_string(),
        name: name.to_string(),
        ty: CqlType::Blob,
    }
}

impl Scripted {
    /// `SLEEP ms`, `USE ks`, `CREATE t`, `KEYSPACE` (a row with the request's keyspace),
    /// `ECHO` (a row of the bound values, paged when a paging state is sent), `PANIC`, `STALL`
    /// (a write the store holds back when it must not wait, and runs otherwise);
    /// anything else is a syntax error.
    fn run(&self, query: &str, request: &Request) -> Result<QueryResult, Error> {
        let words: Vec<&str> = query.split_whitespace().collect();
        match words.as_slice() {
            ["SLEEP", ms] => {
                let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
                self.most_running.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
                self.running.fetch_sub(1, Ordering::SeqCst);
                Ok(QueryResult::Void)
            }
            ["USE", ks] => Ok(QueryResult::SetKeyspace(ks.to_string())),
            ["CREATE", table] => Ok(QueryResult::SchemaChange(SchemaChange {
                change: ChangeType::Created,
                target: ChangeTarget::Table {
                    keyspace: request.keyspace.clone().unwrap_or_default(),
                    table: table.to_string(),
                },
            })),
            ["KEYSPACE"] => Ok(QueryResult::Rows(Rows {
                columns: vec![blob_column("keyspace")],
                rows: vec![vec![request
                    .keyspace
                    .clone()
                    .map(|k| Bytes::from(k.into_bytes()))]],
                paging_state: None,
            })),
            ["ECHO"] => {
                let values: Vec<Option<Bytes>> = match &request.values {
                    BoundValues::Positional(v) => v
                        .iter()
                        .map(|v| match v {
                            BoundValue::Value(b) => Some(b.clone()),
                            BoundValue::Null => None,
                            BoundValue::Unset => Some(Bytes::from_static(b"unset")),
                        })
                        .collect(),
                    _ => vec![],
                };
                Ok(QueryResult::Rows(Rows {
                    columns: (0..values.len())
                        .map(|i| blob_column(&format!("v{i}")))
                        .collect(),
                    rows: vec![values],
                    paging_state: request.paging_state.clone(),
                }))
            }
            ["PANIC"] => panic!("the scripted store panics"),
            ["STALL"] if request.no_wait => {
                self.held_back.fetch_add(1, Ordering::SeqCst);
                Err(Error::WouldWait)
            }
            ["STALL"] => {
                self.stalls_run.fetch_add(1, Ordering::SeqCst);
                Ok(QueryResult::Void)
            }
            _ => Err(Error::Syntax(format!(
                "line 1:0 no viable alternative at input '{}'",
                words.first().unwrap_or(&"")
            ))),
        }
    }
}

impl Backend for Scripted {
    fn query(&self, query: &str, request: &Request) -> Result<QueryResult, Error> {
        self.run(query, request)
    }

    fn prepare(&self, query: &str, keyspace: Option<&str>) -> Result<Prepared, Error> {
        let mut id = [0u8; 16];
        for (i, b) in query.bytes().enumerate() {
            id[i % 16] ^= b;
        }
        self.prepared.lock().unwrap().insert(id, query.to_string());
        Ok(Prepared {
            id,
            query: query.to_string(),
            keyspace: keyspace.map(str::to_string),
            bind_columns: vec![blob_column("k")],
            pk_indexes: vec![0],
            result_columns: Some(vec![blob_column("v0")]),
        })
    }

    fn execute(&self, id: &[u8; 16], request: &Request) -> Result<QueryResult, Error> {
        let query = self.prepared.lock().unwrap().get(id).cloned();
        match query {
            Some(q) => self.run(&q, request),
            None => Err(Error::Unprepared(*id)),
        }
    }

    /// Every prepared statement but `SLEEP` is brief.
    fn runs_briefly(&self, id: &[u8; 16]) -> bool {
        let prepared = self.prepared.lock().unwrap();
        prepared.get(id).is_some_and(|q| !q.starts_with("SLEEP"))
    }

    fn batch(
        &self,
        _batch_type: BatchType,
        statements: &[BatchStatement],
        request: &Request,
    ) -> Result<QueryResult, Error> {
        for s in statements {
            match s {
                BatchStatement::Query { query, .. } => {
                    self.run(query, request)?;
                }
                BatchStatement::Prepared { id, .. } => {
                    self.execute(id, request)?;
                }
            }
        }
        Ok(QueryResult::Void)
    }

    fn metrics(&self) -> StoreMetrics {
        StoreMetrics {
            rows_read: 7,
            ..StoreMetrics::default()
        }
    }

    fn close(&self) -> Result<(), Error> {
        self.closed.store(true, Ordering::SeqCst);
        Ok(())
    }
}

fn test_config() -> NodeConfig {
    let mut config = NodeConfig::default();
    config.set("native.transport.port", "0", "test").unwrap();
    config
}

async fn start(config: NodeConfig) -> (RunningNode, Arc<Scripted>) {
    let backend = Arc::new(Scripted::default());
    let b = backend.clone();
    let running = start_node_with(config, move |_| Ok(b)).await.unwrap();
    (running, backend)
}

/// A raw protocol client on `cassandra-protocol`'s encoder and decoder.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    compression: TheirCompression,
}

impl Client {
    /// Prepare `query` and return its id.
    async fn prepare(&mut self, stream: i16, query: &str) -> CBytesShort {
        let body = BodyReqPrepare::new(query.to_string(), None).serialize_to_vec(Version::V4);
        self.send(stream, TheirOpcode::Prepare, body).await;
        let ResponseBody::Result(ResResultBody::Prepared(prepared)) = self.body().await.1 else {
            panic!("not Prepared");
        };
        prepared.id
    }

    async fn execute(&mut self, stream: i16, id: &CBytesShort) {
        let body = BodyReqExecuteOwned::new(id.clone(), None, params());
        self.send(
            stream,
            TheirOpcode::Execute,
            body.serialize_to_vec(Version::V4),
        )
        .await;
    }

    async fn connect(addr: SocketAddr) -> Client {
        Client {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
            compression: TheirCompression::None,
        }
    }

    /// Connected and started (OPTIONS, STARTUP), with `compression`.
    async fn ready(addr: SocketAddr, compression: Option<&str>) -> Client {
        let mut c = Client::connect(addr).await;
        c.send(0, TheirOpcode::Options, vec![]).await;
        assert!(matches!(c.body().await.1, ResponseBody::Supported(_)));
        let startup = BodyReqStartup::new(compression.map(str::to_string), Version::V4);
        c.send(
            1,
            TheirOpcode::Startup,
            startup.serialize_to_vec(Version::V4),
        )
        .await;
        c.compression = compression.map_or(TheirCompression::None, |s| {
            TheirCompression::from(s.to_string())
        });
        assert_eq!(c.body().await, (1, ResponseBody::Ready));
        c
    }

    async fn send(&mut self, stream: i16, opcode: TheirOpcode, body: Vec<u8>) {
        let envelope = Envelope::new(
            Version::V4,
            Direction::Request,
            Flags::empty(),
            opcode,
            stream,
            body,
            None,
            vec![],
        );
        let wire = envelope.encode_with(self.compression).unwrap();
        self.stream.write_all(&wire).await.unwrap();
    }

    async fn query(&mut self, stream: i16, query: &str, params: QueryParams) {
        let body = BodyReqQuery {
            query: query.to_string(),
            query_params: params,
        };
        self.send(
            stream,
            TheirOpcode::Query,
            body.serialize_to_vec(Version::V4),
        )
        .await;
    }

    /// The next frame, or `None` once the node closed the connection.
    async fn next(&mut self) -> Option<Envelope> {
        loop {
            if let Ok(parsed) = Envelope::from_buffer(&self.buf, self.compression) {
                self.buf.drain(..parsed.envelope_len);
                return Some(parsed.envelope);
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
                .await
                .expect("an answer within 10 s")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn body(&mut self) -> (i16, ResponseBody) {
        let envelope = self.next().await.expect("a frame");
        (envelope.stream_id, envelope.response_body().unwrap())
    }
}

fn params() -> QueryParams {
    QueryParams {
        consistency: TheirConsistency::One,
        ..QueryParams::default()
    }
}

fn rows(body: ResponseBody) -> cassandra_protocol::frame::message_result::BodyResResultRows {
    match body {
        ResponseBody::Result(ResResultBody::Rows(r)) => r,
        other => panic!("not rows: {other:?}"),
    }
}

#[tokio::test]
async fn a_session_from_options_to_prepared_execution() {
    let (node, backend) = start(test_config()).await;
    let mut c = Client::ready(node.cql_addr, None).await;

    c.query(2, "USE ks", params()).await;
    let (stream, body) = c.body().await;
    assert_eq!(stream, 2);
    assert_eq!(
        body,
        ResponseBody::Result(ResResultBody::SetKeyspace(
            cassandra_protocol::frame::message_result::BodyResResultSetKeyspace::new(
                "ks".to_string()
            )
        ))
    );
    c.query(3, "KEYSPACE", params()).await;
    let r = rows(c.body().await.1);
    assert_eq!(r.rows_content[0][0], CBytes::new(b"ks".to_vec()));

    // Values: a value, null, unset; a paging state comes back with Has_more_pages.
    let mut p = params();
    p.values = Some(QueryValues::SimpleValues(vec![
        TheirValue::Some(vec![1, 2]),
        TheirValue::Null,
        TheirValue::NotSet,
    ]));
    p.paging_state = Some(CBytes::new(b"page2".to_vec()));
    p.page_size = Some(10);
    c.query(4, "ECHO", p).await;
    let r = rows(c.body().await.1);
    assert_eq!(
        r.rows_content[0],
        vec![
            CBytes::new(vec![1, 2]),
            CBytes::new_null(),
            CBytes::new(b"unset".to_vec())
        ]
    );
    assert_eq!(
        r.metadata.paging_state,
        Some(CBytes::new(b"page2".to_vec()))
    );

    c.send(
        5,
        TheirOpcode::Prepare,
        BodyReqPrepare::new("ECHO".to_string(), None).serialize_to_vec(Version::V4),
    )
    .await;
    let ResponseBody::Result(ResResultBody::Prepared(prepared)) = c.body().await.1 else {
        panic!("not Prepared");
    };
    assert_eq!(prepared.metadata.pk_indexes, vec![0]);
    let mut p = params();
    p.values = Some(QueryValues::SimpleValues(vec![TheirValue::Some(vec![9])]));
    let execute = BodyReqExecuteOwned::new(prepared.id.clone(), None, p);
    c.send(
        6,
        TheirOpcode::Execute,
        execute.serialize_to_vec(Version::V4),
    )
    .await;
    let r = rows(c.body().await.1);
    assert_eq!(r.rows_content[0], vec![CBytes::new(vec![9])]);

    // An id the store does not know: Unprepared, with the id, so the driver re-prepares.
    let unknown = BodyReqExecuteOwned::new(CBytesShort::new(vec![0xEE; 16]), None, params());
    c.send(
        7,
        TheirOpcode::Execute,
        unknown.serialize_to_vec(Version::V4),
    )
    .await;
    let (stream, ResponseBody::Error(e)) = c.body().await else {
        panic!("not an error");
    };
    assert_eq!(stream, 7);
    let ErrorType::Unprepared(u) = e.ty else {
        panic!("{e:?}");
    };
    assert_eq!(u.id, CBytesShort::new(vec![0xEE; 16]));

    // The store's errors keep their code and message.
    c.query(8, "SELEKT", params()).await;
    let (_, ResponseBody::Error(e)) = c.body().await else {
        panic!("not an error");
    };
    assert_eq!(e.ty, ErrorType::Syntax);
    assert_eq!(
        e.message,
        "line 1:0 no viable alternative at input 'SELEKT'"
    );

    let metrics = node.node().render_metrics();
    assert!(
        metrics.contains("fastdata_cql_requests_total{opcode=\"EXECUTE\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fastdata_cql_errors_total{opcode=\"QUERY\",error=\"Syntax\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fastdata_store_rows_read_total 7"),
        "{metrics}"
    );
    assert!(metrics.contains("fastdata_cql_connections 1"), "{metrics}");
    assert_eq!(node.node().name(), "node");
    node.shutdown().await;
    assert!(backend.closed.load(Ordering::SeqCst));
}

#[tokio::test]
async fn skip_metadata_answers_rows_without_column_specs() {
    let (node, _) = start(test_config()).await;
    let mut c = Client::ready(node.cql_addr, None).await;
    // cassandra-protocol cannot set skip_metadata: write the QUERY body by hand.
    let mut body = Vec::new();
    body.extend_from_slice(&4i32.to_be_bytes());
    body.extend_from_slice(b"ECHO");
    body.extend_from_slice(&[0, 1, 0x01 | 0x02, 0, 1, 0, 0, 0, 1, 42]);
    c.send(3, TheirOpcode::Query, body).await;
    let r = rows(c.body().await.1);
    assert!(r.metadata.flags.contains(RowsMetadataFlags::NO_METADATA));
    assert!(r.metadata.col_specs.is_empty());
    assert_eq!(r.rows_content[0], vec![CBytes::new(vec![42])]);
    node.shutdown().await;
}

#[tokio::test]
async fn streams_are_answered_as_they_finish_not_as_they_came() {
    let (node, _) = start(test_config()).await;
    let mut c = Client::ready(node.cql_addr, None).await;
    c.query(10, "SLEEP 300", params()).await;
    c.query(11, "USE fast", params()).await;
    assert_eq!(c.body().await.0, 11, "the fast answer first");
    assert_eq!(c.body().await.0, 10);
    node.shutdown().await;
}

#[tokio::test]
async fn requests_in_flight_are_bounded_per_connection() {
    let mut config = test_config();
    config
        .set("native.transport.max.requests.per.connection", "2", "test")
        .unwrap();
    let (node, backend) = start(config).await;
    let mut c = Client::ready(node.cql_addr, None).await;
    for stream in 0..6 {
        c.query(stream, "SLEEP 50", params()).await;
    }
    let mut answered = Vec::new();
    for _ in 0..6 {
        answered.push(c.body().await.0);
    }
    answered.sort();
    assert_eq!(answered, vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(backend.most_running.load(Ordering::SeqCst), 2);
    node.shutdown().await;
}

#[tokio::test]
async fn registered_connections_get_schema_change_events() {
    let (node, _) = start(test_config()).await;
    let mut watcher = Client::ready(node.cql_addr, None).await;
    let register = BodyReqRegister {
        events: vec![SimpleServerEvent::SchemaChange],
    };
    watcher
        .send(
            2,
            TheirOpcode::Register,
            register.serialize_to_vec(Version::V4),
        )
        .await;
    assert_eq!(watcher.body().await, (2, ResponseBody::Ready));
    let mut quiet = Client::ready(node.cql_addr, None).await;

    let mut ddl = Client::ready(node.cql_addr, Some("lz4")).await;
    ddl.query(3, "USE ks", params()).await;
    ddl.body().await;
    ddl.query(4, "CREATE t", params()).await;
    let (_, body) = ddl.body().await;
    assert!(matches!(
        body,
        ResponseBody::Result(ResResultBody::SchemaChange(_))
    ));

    let event = watcher.next().await.unwrap();
    assert_eq!(event.stream_id, -1);
    let ResponseBody::Event(e) = event.response_body().unwrap() else {
        panic!("not an event");
    };
    let ServerEvent::SchemaChange(change) = e.event else {
        panic!("{e:?}");
    };
    assert_eq!(
        change.options,
        SchemaChangeOptions::TableType("ks".to_string(), "t".to_string())
    );
    // The connection that did not register hears nothing: its next frame is its answer.
    quiet.send(5, TheirOpcode::Options, vec![]).await;
    assert_eq!(quiet.body().await.0, 5);
    node.shutdown().await;
}

#[tokio::test]
async fn compressed_sessions_work_both_ways() {
    let (node, _) = start(test_config()).await;
    for compression in ["lz4", "snappy"] {
        let mut c = Client::ready(node.cql_addr, Some(compression)).await;
        let mut p = params();
        p.values = Some(QueryValues::SimpleValues(vec![TheirValue::Some(
            b"x".repeat(5000),
        )]));
        c.query(3, "ECHO", p).await;
        let envelope = c.next().await.unwrap();
        assert!(envelope.flags.contains(Flags::COMPRESSION), "{compression}");
        let r = rows(envelope.response_body().unwrap());
        assert_eq!(r.rows_content[0], vec![CBytes::new(b"x".repeat(5000))]);
    }
    node.shutdown().await;
}

#[tokio::test]
async fn bad_frames_are_answered_and_the_connection_goes_on() {
    let mut config = test_config();
    config
        .set("native.transport.max.frame.size.bytes", "1024", "test")
        .unwrap();
    let (node, _) = start(config).await;
    let mut c = Client::connect(node.cql_addr).await;
    // Before STARTUP.
    c.query(1, "USE ks", params()).await;
    let (_, ResponseBody::Error(e)) = c.body().await else {
        panic!("not an error");
    };
    assert_eq!(e.ty, ErrorType::Protocol);
    assert_eq!(
        e.message,
        "Unexpected message QUERY, expecting STARTUP or OPTIONS"
    );
    // Too big: answered Invalid on its stream, skipped.
    let mut p = params();
    p.values = Some(QueryValues::SimpleValues(vec![TheirValue::Some(vec![
        0;
        2000
    ])]));
    c.query(2, "ECHO", p).await;
    let (stream, ResponseBody::Error(e)) = c.body().await else {
        panic!("not an error");
    };
    assert_eq!(stream, 2);
    assert_eq!(e.ty, ErrorType::Invalid);
    assert!(e.message.starts_with("Request is too big"), "{}", e.message);
    // An unknown opcode, then the connection still answers.
    c.stream
        .write_all(&[4, 0, 0, 3, 0x04, 0, 0, 0, 0])
        .await
        .unwrap();
    let (stream, ResponseBody::Error(e)) = c.body().await else {
        panic!("not an error");
    };
    assert_eq!((stream, e.message.as_str()), (3, "Unknown opcode 4"));
    c.send(4, TheirOpcode::Options, vec![]).await;
    assert!(matches!(c.body().await, (4, ResponseBody::Supported(_))));
    node.shutdown().await;
}

#[tokio::test]
async fn other_protocol_versions_are_refused_so_drivers_step_down() {
    let (node, _) = start(test_config()).await;
    for version in [0x42u8, 0x41, 0x05, 0x03] {
        let mut c = Client::connect(node.cql_addr).await;
        c.stream
            .write_all(&[version, 0, 0, 7, 0x05, 0, 0, 0, 0])
            .await
            .unwrap();
        let envelope = c.next().await.unwrap();
        assert_eq!(envelope.version, Version::V4, "a v4 response header");
        assert_eq!(envelope.stream_id, 7);
        let ResponseBody::Error(e) = envelope.response_body().unwrap() else {
            panic!("not an error");
        };
        assert_eq!(e.ty, ErrorType::Protocol);
        assert!(e.is_bad_protocol(), "{}", e.message);
        assert!(c.next().await.is_none(), "then the node closes");
    }
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brief_executions_are_answered_beside_slow_ones_and_survive_a_panic() {
    let (node, _) = start(test_config()).await;
    let mut c = Client::ready(node.cql_addr, None).await;
    let slow = c.prepare(1, "SLEEP 300").await;
    let brief = c.prepare(2, "KEYSPACE").await;
    let panics = c.prepare(3, "PANIC").await;
    // The slow one runs on a blocking thread; the brief ones, sent after it, answer first.
    c.execute(10, &slow).await;
    c.execute(11, &brief).await;
    c.execute(12, &panics).await;
    let mut answers = vec![c.body().await, c.body().await];
    answers.sort_by_key(|(stream, _)| *stream);
    let [(11, ResponseBody::Result(ResResultBody::Rows(_))), (12, ResponseBody::Error(e))] =
        answers.as_slice()
    else {
        panic!("not the brief answers first: {answers:?}");
    };
    assert_eq!(e.ty, ErrorType::Server);
    assert_eq!(c.body().await.0, 10);
    // A panic on an async worker did not take the connection down.
    c.execute(13, &brief).await;
    assert_eq!(c.body().await.0, 13);
    node.shutdown().await;
}

#[tokio::test]
async fn a_brief_write_the_store_holds_back_runs_again_where_it_may_wait() {
    let (node, backend) = start(test_config()).await;
    let mut c = Client::ready(node.cql_addr, None).await;
    let stall = c.prepare(1, "STALL").await;
    for stream in [2, 3] {
        c.execute(stream, &stall).await;
        let (answered, body) = c.body().await;
        assert_eq!(answered, stream);
        assert!(
            matches!(body, ResponseBody::Result(ResResultBody::Void)),
            "{body:?}"
        );
    }
    // Each went first to an async worker (with no_wait), then to a blocking thread.
    assert_eq!(backend.held_back.load(Ordering::SeqCst), 2);
    assert_eq!(backend.stalls_run.load(Ordering::SeqCst), 2);
    let metrics = node.node().render_metrics();
    assert!(
        metrics.contains("fastdata_cql_writes_held_back_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fastdata_cql_requests_total{opcode=\"EXECUTE\"} 2"),
        "{metrics}"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn a_store_that_panics_answers_a_server_error() {
    let (node, _) = start(test_config()).await;
    let mut c = Client::ready(node.cql_addr, None).await;
    c.query(1, "PANIC", params()).await;
    let (stream, ResponseBody::Error(e)) = c.body().await else {
        panic!("not an error");
    };
    assert_eq!((stream, e.ty), (1, ErrorType::Server));
    c.query(2, "USE ks", params()).await;
    assert_eq!(c.body().await.0, 2, "the connection goes on");
    node.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed() {
    let mut config = test_config();
    config
        .set("native.transport.max.concurrent.connections", "1", "test")
        .unwrap();
    let (node, _) = start(config).await;
    let mut first = Client::ready(node.cql_addr, None).await;
    let mut second = Client::connect(node.cql_addr).await;
    second.send(0, TheirOpcode::Options, vec![]).await;
    assert!(second.next().await.is_none());
    first.send(2, TheirOpcode::Options, vec![]).await;
    assert_eq!(first.body().await.0, 2);
    node.shutdown().await;
}

#[tokio::test]
async fn shutdown_answers_what_is_in_flight_then_closes_the_store() {
    let (node, backend) = start(test_config()).await;
    let addr = node.cql_addr;
    let ready = node.node().clone();
    let mut c = Client::ready(addr, None).await;
    c.query(1, "SLEEP 300", params()).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stopping = tokio::spawn(node.shutdown());
    assert_eq!(c.body().await.0, 1, "the request in flight is answered");
    assert!(c.next().await.is_none(), "then the connection closes");
    stopping.await.unwrap();
    assert!(!ready.is_ready());
    assert!(backend.closed.load(Ordering::SeqCst));
    assert!(TcpStream::connect(addr).await.is_err(), "no more listener");
}

#[tokio::test]
async fn request_bytes_in_flight_are_bounded_across_connections() {
    let mut config = test_config();
    for key in [
        "native.transport.max.frame.size.bytes",
        "native.transport.max.request.data.in.flight.bytes",
    ] {
        config.set(key, "1024", "test").unwrap();
    }
    let (node, _) = start(config).await;
    // A announces a frame of the whole budget and sends half of it.
    let mut a = Client::connect(node.cql_addr).await;
    let mut frame = vec![4, 0, 0, 1, 0x05];
    frame.extend_from_slice(&1015u32.to_be_bytes());
    frame.extend_from_slice(&[0; 1015]);
    a.stream.write_all(&frame[..500]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // B's small request waits for budget.
    let mut b = Client::connect(node.cql_addr).await;
    b.send(2, TheirOpcode::Options, vec![]).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), b.next())
            .await
            .is_err(),
        "answered beyond the budget"
    );
    // A's frame completes and is answered; its bytes go back, and B is answered.
    a.stream.write_all(&frame[500..]).await.unwrap();
    assert!(matches!(a.body().await, (1, ResponseBody::Supported(_))));
    assert!(matches!(b.body().await, (2, ResponseBody::Supported(_))));
    node.shutdown().await;
}
