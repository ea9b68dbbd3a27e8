//! Bad input gets a clear error with Cassandra's code, and the node keeps serving: syntax
//! errors with their position, unknown keyspace, table and column, type mismatches, a missing
//! partition key, a value over `max.value.size.bytes`, the wrong number of bind values (sent
//! over raw TCP: drivers check that themselves), and malformed frames over raw TCP (other
//! protocol versions, garbage, an oversized length, an unknown opcode, a request before
//! STARTUP, a truncated frame). After each, the same session and a new client still work.

mod cql_common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use cql_common::{connect, create_keyspace, exec, runtime};
use fastdata_tests::{loopback_host, DataDir, Node};
use scylla::client::session::Session;
use scylla::errors::{DbError, ExecutionError, PrepareError, RequestAttemptError};

/// The node's value limit in these tests.
const MAX_VALUE_BYTES: usize = 4096;

const IO_TIMEOUT: Duration = Duration::from_secs(10);

const OPCODE_ERROR: u8 = 0x00;
const OPCODE_STARTUP: u8 = 0x01;
const OPCODE_READY: u8 = 0x02;
const OPCODE_OPTIONS: u8 = 0x05;
const OPCODE_SUPPORTED: u8 = 0x06;
const OPCODE_QUERY: u8 = 0x07;
const OPCODE_RESULT: u8 = 0x08;
const OPCODE_PREPARE: u8 = 0x09;
const OPCODE_EXECUTE: u8 = 0x0A;

/// The server error of a failed request: (code, message).
fn server_error(err: &ExecutionError) -> (i32, String) {
    let attempt = match err {
        ExecutionError::LastAttemptError(a) => a,
        ExecutionError::PrepareError(PrepareError::AllAttemptsFailed { first_attempt }) => {
            first_attempt
        }
        other => panic!("not a server error: {other}"),
    };
    let RequestAttemptError::DbError(db, message) = attempt else {
        panic!("not a server error: {attempt}");
    };
    let code = match db {
        DbError::SyntaxError => 0x2000,
        DbError::Invalid => 0x2200,
        DbError::ConfigError => 0x2300,
        DbError::AlreadyExists { .. } => 0x2400,
        DbError::ProtocolError => 0x000A,
        DbError::ServerError => 0x0000,
        other => panic!("unexpected error kind {other:?}: {message}"),
    };
    (code, message.clone())
}

async fn refused(session: &Session, statement: &str) -> (i32, String) {
    match session.query_unpaged(statement, ()).await {
        Ok(_) => panic!("{statement} succeeded"),
        Err(err) => server_error(&err),
    }
}

/// The node still serves: the session reads what it wrote, and so does a new client.
async fn still_serving(node: &Node, session: &Session, round: i32) {
    session
        .query_unpaged(
            format!("INSERT INTO bad_ks.t (k, v) VALUES ({round}, 'round {round}')"),
            (),
        )
        .await
        .unwrap_or_else(|e| panic!("the session stopped working after round {round}: {e}"));
    let other = connect(node).await;
    let rows = other
        .query_unpaged(format!("SELECT v FROM bad_ks.t WHERE k = {round}"), ())
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let (v,): (String,) = rows.single_row().unwrap();
    assert_eq!(v, format!("round {round}"));
}

fn start() -> (DataDir, Node) {
    let dir = DataDir::new("cql-bad-input").unwrap();
    let node = Node::builder(&dir)
        .host(loopback_host())
        .config("max.value.size.bytes", MAX_VALUE_BYTES.to_string())
        .start()
        .unwrap();
    (dir, node)
}

#[test]
fn bad_statements_get_cassandras_codes_and_the_node_keeps_serving() {
    let (_dir, node) = start();
    let rt = runtime();
    rt.block_on(async {
        let session = connect(&node).await;
        create_keyspace(&session, "bad_ks").await;
        exec(
            &session,
            "CREATE TABLE bad_ks.t (k int PRIMARY KEY, v text, b blob)",
        )
        .await;
        let cases: Vec<(&str, i32, String)> = vec![
            ("SELEC * FROM bad_ks.t", 0x2000, "line 1:0 ".into()),
            ("SELECT * FROM bad_ks.t WHERE", 0x2000, "line 1:".into()),
            ("SELECT * FROM nope_ks.t", 0x2200, "nope_ks".into()),
            ("SELECT * FROM bad_ks.nope", 0x2200, "unconfigured table nope".into()),
            ("SELECT nope FROM bad_ks.t", 0x2200, "Undefined column name nope".into()),
            (
                "INSERT INTO bad_ks.t (k, v) VALUES ('x', 'y')",
                0x2200,
                "Invalid STRING constant (x) for \"k\" of type int".into(),
            ),
            (
                "INSERT INTO bad_ks.t (v) VALUES ('y')",
                0x2200,
                "Some partition key parts are missing: k".into(),
            ),
            // Cassandra's grammar requires a WHERE clause on UPDATE: a syntax error.
            (
                "UPDATE bad_ks.t SET v = 'y'",
                0x2000,
                "line 1:27 mismatched input '<EOF>' expecting K_WHERE".into(),
            ),
            (
                "CREATE KEYSPACE bad_ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
                0x2400,
                "bad_ks".into(),
            ),
        ];
        for (round, (statement, code, needle)) in cases.into_iter().enumerate() {
            let (got_code, message) = refused(&session, statement).await;
            assert_eq!(
                got_code, code,
                "{statement}: code {got_code:#06x}, expected {code:#06x} ({message})"
            );
            assert!(
                message.contains(&needle),
                "{statement}: message {message:?} does not contain {needle:?}"
            );
            still_serving(&node, &session, round as i32).await;
        }

        // A value over the limit, bound to a prepared statement, and as a literal.
        let insert = session
            .prepare("INSERT INTO bad_ks.t (k, b) VALUES (?, ?)")
            .await
            .unwrap();
        let err = session
            .execute_unpaged(&insert, (100, vec![7u8; MAX_VALUE_BYTES * 2]))
            .await
            .expect_err("a value over max.value.size.bytes");
        let (code, message) = server_error(&err);
        assert_eq!(code, 0x2200, "{message}");
        assert!(message.contains("max value size"), "{message}");
        let literal = format!(
            "INSERT INTO bad_ks.t (k, v) VALUES (101, '{}')",
            "x".repeat(MAX_VALUE_BYTES * 2)
        );
        let (code, message) = refused(&session, &literal).await;
        assert_eq!(code, 0x2200, "{message}");
        assert!(message.contains("max value size"), "{message}");
        // Just under the limit is fine.
        session
            .execute_unpaged(&insert, (102, vec![7u8; MAX_VALUE_BYTES - 64]))
            .await
            .unwrap();
        still_serving(&node, &session, 100).await;
    });
}

/// A v4 request frame.
fn frame(version: u8, stream: i16, opcode: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![version, 0];
    out.extend(stream.to_be_bytes());
    out.push(opcode);
    out.extend(u32::try_from(body.len()).unwrap().to_be_bytes());
    out.extend(body);
    out
}

fn string(s: &str) -> Vec<u8> {
    let mut out = u16::try_from(s.len()).unwrap().to_be_bytes().to_vec();
    out.extend(s.as_bytes());
    out
}

fn long_string(s: &str) -> Vec<u8> {
    let mut out = u32::try_from(s.len()).unwrap().to_be_bytes().to_vec();
    out.extend(s.as_bytes());
    out
}

fn startup_body() -> Vec<u8> {
    let mut body = 1u16.to_be_bytes().to_vec();
    body.extend(string("CQL_VERSION"));
    body.extend(string("3.0.0"));
    body
}

/// Query parameters at ONE with these values (each a 4-byte int).
fn params(values: &[i32]) -> Vec<u8> {
    let mut out = 1u16.to_be_bytes().to_vec();
    out.push(if values.is_empty() { 0 } else { 0x01 });
    if !values.is_empty() {
        out.extend(u16::try_from(values.len()).unwrap().to_be_bytes());
        for v in values {
            out.extend(4i32.to_be_bytes());
            out.extend(v.to_be_bytes());
        }
    }
    out
}

/// A response frame: (version byte, stream, opcode, body).
fn read_frame(conn: &mut TcpStream) -> std::io::Result<(u8, i16, u8, Vec<u8>)> {
    let mut header = [0u8; 9];
    conn.read_exact(&mut header)?;
    let len = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) as usize;
    assert!(len < 1 << 24, "a response body of {len} bytes");
    let mut body = vec![0; len];
    conn.read_exact(&mut body)?;
    Ok((
        header[0],
        i16::from_be_bytes([header[2], header[3]]),
        header[4],
        body,
    ))
}

/// An ERROR body: (code, message).
fn error_body(body: &[u8]) -> (i32, String) {
    let code = i32::from_be_bytes(body[0..4].try_into().unwrap());
    let len = usize::from(u16::from_be_bytes([body[4], body[5]]));
    (
        code,
        String::from_utf8_lossy(&body[6..6 + len]).into_owned(),
    )
}

fn raw_connect(addr: SocketAddr) -> TcpStream {
    let conn = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    conn.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    conn.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    conn
}

/// A connection that has done STARTUP.
fn ready_connection(addr: SocketAddr) -> TcpStream {
    let mut conn = raw_connect(addr);
    conn.write_all(&frame(4, 1, OPCODE_STARTUP, &startup_body()))
        .unwrap();
    let (version, stream, opcode, body) = read_frame(&mut conn).unwrap();
    assert_eq!(
        (version, stream, opcode),
        (0x84, 1, OPCODE_READY),
        "{body:?}"
    );
    conn
}

/// Sends `bytes` on a fresh connection; the ERROR the node answers with, or `None` if it
/// closed the connection without one.
fn send_raw(addr: SocketAddr, bytes: &[u8]) -> Option<(i32, String)> {
    let mut conn = raw_connect(addr);
    // The node may close as soon as it has seen enough; a failed write is that.
    let _ = conn.write_all(bytes);
    match read_frame(&mut conn) {
        Ok((_, _, OPCODE_ERROR, body)) => Some(error_body(&body)),
        Ok((_, _, opcode, body)) => panic!("answered opcode {opcode:#04x}: {body:?}"),
        Err(_) => None,
    }
}

#[test]
fn wrong_bind_value_counts_and_malformed_frames_get_errors_and_the_node_keeps_serving() {
    let (_dir, node) = start();
    let addr = node.cql_addr();
    let rt = runtime();
    let session = rt.block_on(async {
        let session = connect(&node).await;
        create_keyspace(&session, "bad_ks").await;
        exec(
            &session,
            "CREATE TABLE bad_ks.t (k int PRIMARY KEY, v text, b blob)",
        )
        .await;
        session
    });

    // OPTIONS answers SUPPORTED with CQL_VERSION and COMPRESSION.
    let mut conn = raw_connect(addr);
    conn.write_all(&frame(4, 0, OPCODE_OPTIONS, &[])).unwrap();
    let (_, _, opcode, body) = read_frame(&mut conn).unwrap();
    assert_eq!(opcode, OPCODE_SUPPORTED);
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("CQL_VERSION") && text.contains("COMPRESSION"),
        "{text}"
    );

    // The wrong number of bind values, for a prepared statement and a plain query.
    let mut conn = ready_connection(addr);
    let insert = "INSERT INTO bad_ks.t (k, v) VALUES (?, ?)";
    conn.write_all(&frame(4, 2, OPCODE_PREPARE, &long_string(insert)))
        .unwrap();
    let (_, _, opcode, body) = read_frame(&mut conn).unwrap();
    assert_eq!(opcode, OPCODE_RESULT, "{body:?}");
    assert_eq!(
        i32::from_be_bytes(body[0..4].try_into().unwrap()),
        4,
        "Prepared"
    );
    let id_len = usize::from(u16::from_be_bytes([body[4], body[5]]));
    let id = &body[6..6 + id_len];
    let mut execute = (id_len as u16).to_be_bytes().to_vec();
    execute.extend(id);
    execute.extend(params(&[1]));
    conn.write_all(&frame(4, 3, OPCODE_EXECUTE, &execute))
        .unwrap();
    let (_, stream, opcode, body) = read_frame(&mut conn).unwrap();
    assert_eq!((stream, opcode), (3, OPCODE_ERROR), "{body:?}");
    let (code, message) = error_body(&body);
    assert_eq!(code, 0x2200, "{message}");
    assert!(message.contains("marker"), "{message}");
    let mut query = long_string(insert);
    query.extend(params(&[1, 2, 3]));
    conn.write_all(&frame(4, 4, OPCODE_QUERY, &query)).unwrap();
    let (_, stream, opcode, body) = read_frame(&mut conn).unwrap();
    assert_eq!((stream, opcode), (4, OPCODE_ERROR), "{body:?}");
    let (code, message) = error_body(&body);
    assert_eq!(code, 0x2200, "{message}");
    // The same connection still answers.
    let mut query = long_string("SELECT k FROM bad_ks.t WHERE k = 1");
    query.extend(params(&[]));
    conn.write_all(&frame(4, 5, OPCODE_QUERY, &query)).unwrap();
    let (_, stream, opcode, body) = read_frame(&mut conn).unwrap();
    assert_eq!((stream, opcode), (5, OPCODE_RESULT), "{body:?}");

    // Malformed frames, each on a connection of its own.
    for version in [0x05u8, 0x42, 0x41, 0x03] {
        let (code, message) = send_raw(addr, &frame(version, 0, OPCODE_OPTIONS, &[]))
            .unwrap_or_else(|| panic!("version {version:#04x}: closed without an error"));
        assert_eq!(code, 0x000A, "version {version:#04x}: {message}");
        assert!(
            message
                .to_lowercase()
                .contains("unsupported protocol version"),
            "version {version:#04x}: {message}"
        );
    }
    // (what, the bytes, whether the node must answer with an ERROR rather than just close)
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("garbage", vec![0xff; 64], false),
        (
            "an oversized length",
            {
                let mut f = frame(4, 0, OPCODE_QUERY, &[]);
                f[5..9].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
                f
            },
            true,
        ),
        ("an unknown opcode", frame(4, 0, 0x33, &[]), true),
        (
            "a QUERY before STARTUP",
            {
                let mut q = long_string("SELECT * FROM system.local");
                q.extend(params(&[]));
                frame(4, 0, OPCODE_QUERY, &q)
            },
            true,
        ),
        (
            "a QUERY with a garbage body",
            frame(4, 0, OPCODE_QUERY, &[0xff; 7]),
            false,
        ),
        (
            "a STARTUP without CQL_VERSION",
            frame(4, 0, OPCODE_STARTUP, &[0, 0]),
            true,
        ),
    ];
    for (what, bytes, must_answer) in &cases {
        let answer = send_raw(addr, bytes);
        assert!(
            answer.is_some() || !must_answer,
            "{what}: closed without an ERROR"
        );
        if let Some((code, message)) = answer {
            // Cassandra answers a frame over the limit with Invalid ("Request is too big"),
            // other malformed frames with Protocol or Server errors.
            let allowed: &[i32] = if *what == "an oversized length" {
                &[0x2200]
            } else {
                &[0x000A, 0x0000]
            };
            assert!(
                allowed.contains(&code),
                "{what}: code {code:#06x} ({message})"
            );
            assert!(!message.is_empty(), "{what}: an error without a message");
        }
        rt.block_on(async {
            let rows = session
                .query_unpaged("SELECT release_version FROM system.local", ())
                .await
                .unwrap_or_else(|e| panic!("the node stopped serving after {what}: {e}"));
            assert_eq!(rows.into_rows_result().unwrap().rows_num(), 1);
        });
    }
    // A frame cut short, then the connection closed.
    let mut conn = raw_connect(addr);
    let truncated = frame(4, 0, OPCODE_OPTIONS, &[0; 100]);
    conn.write_all(&truncated[..20]).unwrap();
    drop(conn);
    // A garbage frame after a good STARTUP.
    let mut conn = ready_connection(addr);
    conn.write_all(&frame(4, 9, OPCODE_QUERY, &[1, 2, 3]))
        .unwrap();
    if let Ok((_, stream, opcode, body)) = read_frame(&mut conn) {
        assert_eq!((stream, opcode), (9, OPCODE_ERROR), "{body:?}");
    }
    rt.block_on(async {
        let fresh = connect(&node).await;
        fresh
            .query_unpaged(
                "INSERT INTO bad_ks.t (k, v) VALUES (7, 'after the garbage')",
                (),
            )
            .await
            .unwrap();
    });
}
