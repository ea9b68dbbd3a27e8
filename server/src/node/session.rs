//! One connection's protocol state, as Cassandra's `ServerConnection` keeps it: not yet
//! started (only OPTIONS and STARTUP allowed), then ready; the body compression STARTUP chose;
//! the keyspace `USE` set; whether REGISTER asked for schema-change events.
//!
//! [`Session::step`] decides what a decoded frame needs: an answer the connection writes at
//! once (OPTIONS, STARTUP, REGISTER, every protocol error), an answer after which it closes (a
//! frame of another protocol version), or a [`Call`] on the store, run on a blocking thread.
//! It touches no socket and no store, so it is tested as it is.

use fastdata_kv::api::{BatchStatement, BatchType, Request};
use fastdata_protocol::cql::{
    self as wire, decode_request, startup_compression, Compression, CqlFrameError, ErrorBody,
    Frame, Opcode, Request as WireRequest, Response, PROTOCOL_ERROR,
};

use super::convert;

/// What the store must do for a request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Call {
    Query {
        query: String,
        request: Request,
        skip_metadata: bool,
    },
    Prepare {
        query: String,
        keyspace: Option<String>,
    },
    Execute {
        id: [u8; 16],
        request: Request,
        skip_metadata: bool,
    },
    Batch {
        batch_type: BatchType,
        statements: Vec<BatchStatement>,
        request: Request,
    },
}

/// What the connection does with a frame.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// Write this answer on the frame's stream now.
    Answer(Response),
    /// Write this answer, then close the connection.
    Close(Response),
    /// Run this on the store and answer with its outcome.
    Call(Call),
}

/// A frame's stream and opcode (for the answer and the metrics) and what it needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decision {
    pub stream: i16,
    /// The request's name (`QUERY`), or `UNKNOWN` for a frame that is none.
    pub opcode: &'static str,
    pub step: Step,
}

/// The connection's protocol state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Session {
    started: bool,
    compression: Compression,
    keyspace: Option<String>,
    schema_events: bool,
}

fn protocol_error(message: impl Into<String>) -> Step {
    Step::Answer(Response::Error(ErrorBody::new(PROTOCOL_ERROR, message)))
}

impl Session {
    /// The compression answers are written with.
    pub(crate) fn compression(&self) -> Compression {
        self.compression
    }

    /// Whether REGISTER asked for SCHEMA_CHANGE events.
    pub(crate) fn wants_schema_events(&self) -> bool {
        self.schema_events
    }

    /// A statement's outcome set the keyspace (`USE`).
    pub(crate) fn use_keyspace(&mut self, keyspace: String) {
        self.keyspace = Some(keyspace);
    }

    /// Decide what `decoded` needs (see the module documentation). Bodies decompress to at
    /// most `max_body_bytes`.
    pub(crate) fn step(
        &mut self,
        decoded: Result<Frame, CqlFrameError>,
        max_body_bytes: usize,
    ) -> Decision {
        let frame = match decoded {
            Ok(frame) => frame,
            Err(e) => {
                let error = Response::Error(ErrorBody::new(e.code(), e.to_string()));
                return Decision {
                    stream: e.stream(),
                    opcode: "UNKNOWN",
                    step: if e.closes_connection() {
                        Step::Close(error)
                    } else {
                        Step::Answer(error)
                    },
                };
            }
        };
        let opcode = wire::request_opcode(frame.opcode)
            .map(Opcode::name)
            .unwrap_or("UNKNOWN");
        let step = match decode_request(&frame, self.compression, max_body_bytes) {
            Ok(request) => self.request(request),
            Err(e) => Step::Answer(Response::Error(ErrorBody::new(e.code(), e.to_string()))),
        };
        Decision {
            stream: frame.stream,
            opcode,
            step,
        }
    }

    fn request(&mut self, request: WireRequest) -> Step {
        let out_of_order = match (&request, self.started) {
            (WireRequest::Startup(_), true) => {
                Some("Unexpected message STARTUP, the connection is already initialized".into())
            }
            (WireRequest::Options | WireRequest::Startup(_), _) | (_, true) => None,
            (other, false) => Some(format!(
                "Unexpected message {}, expecting STARTUP or OPTIONS",
                name(other)
            )),
        };
        if let Some(message) = out_of_order {
            return protocol_error(message);
        }
        match request {
            WireRequest::Options => Step::Answer(wire::supported()),
            WireRequest::Startup(options) => match startup_compression(&options) {
                Ok(compression) => {
                    self.started = true;
                    self.compression = compression;
                    Step::Answer(Response::Ready)
                }
                Err(message) => protocol_error(message),
            },
            WireRequest::Register { events } => {
                for event in &events {
                    match event.as_str() {
                        "SCHEMA_CHANGE" => self.schema_events = true,
                        // A single node never joins, leaves, goes up or down.
                        "TOPOLOGY_CHANGE" | "STATUS_CHANGE" => {}
                        other => {
                            return protocol_error(format!(
                                "Unknown event type {other} (expected TOPOLOGY_CHANGE, STATUS_CHANGE or SCHEMA_CHANGE)"
                            ))
                        }
                    }
                }
                Step::Answer(Response::Ready)
            }
            WireRequest::AuthResponse { .. } => protocol_error(
                "Unexpected message AUTH_RESPONSE: this node does not authenticate clients",
            ),
            WireRequest::Query { query, params } => {
                let skip_metadata = params.skip_metadata;
                match convert::request(params, self.keyspace.clone()) {
                    Ok(request) => Step::Call(Call::Query {
                        query,
                        request,
                        skip_metadata,
                    }),
                    Err(e) => Step::Answer(Response::Error(e)),
                }
            }
            WireRequest::Prepare { query } => Step::Call(Call::Prepare {
                query,
                keyspace: self.keyspace.clone(),
            }),
            WireRequest::Execute { id, params } => {
                let skip_metadata = params.skip_metadata;
                let call = convert::prepared_id(&id).and_then(|id| {
                    Ok(Call::Execute {
                        id,
                        request: convert::request(params, self.keyspace.clone())?,
                        skip_metadata,
                    })
                });
                match call {
                    Ok(call) => Step::Call(call),
                    Err(e) => Step::Answer(Response::Error(e)),
                }
            }
            WireRequest::Batch(batch) => match self.batch(batch) {
                Ok(call) => Step::Call(call),
                Err(e) => Step::Answer(Response::Error(e)),
            },
        }
    }

    fn batch(&self, batch: wire::Batch) -> Result<Call, ErrorBody> {
        let statements = batch
            .statements
            .into_iter()
            .map(|(query, values)| {
                let values = convert::values(values);
                Ok(match query {
                    wire::BatchQuery::Query(query) => BatchStatement::Query { query, values },
                    wire::BatchQuery::Prepared(id) => BatchStatement::Prepared {
                        id: convert::prepared_id(&id)?,
                        values,
                    },
                })
            })
            .collect::<Result<_, ErrorBody>>()?;
        Ok(Call::Batch {
            batch_type: convert::batch_type(batch.batch_type),
            statements,
            request: Request {
                keyspace: self.keyspace.clone(),
                consistency: convert::consistency(batch.consistency)?,
                serial_consistency: batch
                    .serial_consistency
                    .map(convert::consistency)
                    .transpose()?,
                timestamp: batch.timestamp,
                ..Request::default()
            },
        })
    }
}

/// A request's message name, as Cassandra names it in errors.
fn name(request: &WireRequest) -> &'static str {
    match request {
        WireRequest::Startup(_) => "STARTUP",
        WireRequest::Options => "OPTIONS",
        WireRequest::Query { .. } => "QUERY",
        WireRequest::Prepare { .. } => "PREPARE",
        WireRequest::Execute { .. } => "EXECUTE",
        WireRequest::Register { .. } => "REGISTER",
        WireRequest::Batch(_) => "BATCH",
        WireRequest::AuthResponse { .. } => "AUTH_RESPONSE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, Bytes, BytesMut};
    use fastdata_kv::api::{BoundValue, BoundValues, Consistency};

    fn string(out: &mut BytesMut, s: &str) {
        out.put_u16(s.len() as u16);
        out.put_slice(s.as_bytes());
    }

    fn frame(opcode: Opcode, stream: i16, body: BytesMut) -> Result<Frame, CqlFrameError> {
        Ok(Frame {
            flags: 0,
            stream,
            opcode: opcode as u8,
            body: body.freeze(),
        })
    }

    fn startup(compression: Option<&str>) -> Result<Frame, CqlFrameError> {
        let mut body = BytesMut::new();
        body.put_u16(1 + u16::from(compression.is_some()));
        string(&mut body, "CQL_VERSION");
        string(&mut body, "3.4.6");
        if let Some(c) = compression {
            string(&mut body, "COMPRESSION");
            string(&mut body, c);
        }
        frame(Opcode::Startup, 1, body)
    }

    fn query(text: &str, consistency: u16) -> Result<Frame, CqlFrameError> {
        let mut body = BytesMut::new();
        body.put_i32(text.len() as i32);
        body.put_slice(text.as_bytes());
        body.put_u16(consistency);
        body.put_u8(0x01 | 0x02);
        body.put_u16(1);
        body.put_i32(-2);
        frame(Opcode::Query, 9, body)
    }

    fn error_message(step: &Step) -> String {
        match step {
            Step::Answer(Response::Error(e)) => {
                assert_eq!(e.code, PROTOCOL_ERROR);
                e.message.clone()
            }
            other => panic!("not a protocol error: {other:?}"),
        }
    }

    #[test]
    fn only_options_and_startup_before_startup() {
        let mut s = Session::default();
        let d = s.step(frame(Opcode::Options, 0, BytesMut::new()), 1024);
        assert_eq!(d.step, Step::Answer(wire::supported()));
        assert_eq!((d.stream, d.opcode), (0, "OPTIONS"));
        let d = s.step(query("SELECT 1", 1), 1024);
        assert_eq!(
            error_message(&d.step),
            "Unexpected message QUERY, expecting STARTUP or OPTIONS"
        );
        assert_eq!(d.stream, 9);
        let d = s.step(startup(Some("snappy")), 1024);
        assert_eq!(d.step, Step::Answer(Response::Ready));
        assert_eq!(s.compression(), Compression::Snappy);
        let d = s.step(startup(None), 1024);
        assert_eq!(
            error_message(&d.step),
            "Unexpected message STARTUP, the connection is already initialized"
        );
        assert_eq!(s.compression(), Compression::Snappy, "unchanged");
    }

    #[test]
    fn a_bad_startup_leaves_the_connection_unstarted() {
        let mut s = Session::default();
        let d = s.step(startup(Some("zstd")), 1024);
        assert_eq!(
            error_message(&d.step),
            "Unknown compression algorithm: zstd"
        );
        assert!(error_message(&s.step(query("SELECT 1", 1), 1024).step).contains("STARTUP"));
    }

    #[test]
    fn register_subscribes_to_schema_changes_only() {
        let mut s = Session::default();
        s.step(startup(None), 1024);
        let mut body = BytesMut::new();
        body.put_u16(2);
        string(&mut body, "TOPOLOGY_CHANGE");
        string(&mut body, "STATUS_CHANGE");
        let d = s.step(frame(Opcode::Register, 2, body), 1024);
        assert_eq!(d.step, Step::Answer(Response::Ready));
        assert!(!s.wants_schema_events());
        let mut body = BytesMut::new();
        body.put_u16(1);
        string(&mut body, "SCHEMA_CHANGE");
        s.step(frame(Opcode::Register, 3, body), 1024);
        assert!(s.wants_schema_events());
        let mut body = BytesMut::new();
        body.put_u16(1);
        string(&mut body, "NO_SUCH_EVENT");
        let d = s.step(frame(Opcode::Register, 4, body), 1024);
        assert!(error_message(&d.step).contains("NO_SUCH_EVENT"));
    }

    #[test]
    fn queries_become_calls_in_the_connections_keyspace() {
        let mut s = Session::default();
        s.step(startup(None), 1024);
        s.use_keyspace("ks".to_string());
        let d = s.step(query("SELECT * FROM t", 0x000A), 1024);
        assert_eq!(d.opcode, "QUERY");
        assert_eq!(
            d.step,
            Step::Call(Call::Query {
                query: "SELECT * FROM t".to_string(),
                request: Request {
                    keyspace: Some("ks".to_string()),
                    consistency: Consistency::LocalOne,
                    values: BoundValues::Positional(vec![BoundValue::Unset]),
                    ..Request::default()
                },
                skip_metadata: true,
            })
        );
        let d = s.step(query("SELECT * FROM t", 0x0077), 1024);
        assert_eq!(
            error_message(&d.step),
            "Unknown code 119 for a consistency level"
        );
    }

    #[test]
    fn execute_of_an_id_that_is_no_md5_is_unprepared() {
        let mut s = Session::default();
        s.step(startup(None), 1024);
        let mut body = BytesMut::new();
        body.put_u16(3);
        body.put_slice(&[1, 2, 3]);
        body.put_u16(1);
        body.put_u8(0);
        let d = s.step(frame(Opcode::Execute, 5, body), 1024);
        let Step::Answer(Response::Error(e)) = d.step else {
            panic!("{d:?}");
        };
        assert_eq!(e.code, 0x2500);
        assert_eq!(
            e.detail,
            wire::ErrorDetail::Unprepared {
                id: Bytes::from_static(&[1, 2, 3])
            }
        );
    }

    #[test]
    fn frame_errors_are_answered_and_other_versions_close() {
        let mut s = Session::default();
        let d = s.step(
            Err(CqlFrameError::UnsupportedVersion {
                version: 5,
                stream: 0,
            }),
            1024,
        );
        let Step::Close(Response::Error(e)) = d.step else {
            panic!("{d:?}");
        };
        assert!(e
            .message
            .contains("Invalid or unsupported protocol version (5)"));
        let d = s.step(
            Err(CqlFrameError::TooBig {
                stream: 4,
                length: 100,
                limit: 10,
            }),
            1024,
        );
        assert_eq!(d.stream, 4);
        assert!(matches!(d.step, Step::Answer(Response::Error(ref e)) if e.code == 0x2200));
        // A compressed frame before compression was negotiated.
        let mut s = Session::default();
        let d = s.step(
            Ok(Frame {
                flags: 0x01,
                stream: 6,
                opcode: Opcode::Options as u8,
                body: Bytes::from_static(b"junk"),
            }),
            1024,
        );
        assert!(error_message(&d.step).contains("no compression was negotiated"));
    }

    #[test]
    fn batches_carry_their_statements_and_consistency() {
        let mut s = Session::default();
        s.step(startup(None), 1024);
        let mut body = BytesMut::new();
        body.put_u8(0);
        body.put_u16(2);
        body.put_u8(0);
        let q = "INSERT INTO t (k) VALUES (1)";
        body.put_i32(q.len() as i32);
        body.put_slice(q.as_bytes());
        body.put_u16(0);
        body.put_u8(1);
        body.put_u16(16);
        body.put_slice(&[7; 16]);
        body.put_u16(1);
        body.put_i32(-1);
        body.put_u16(0x0004);
        body.put_u8(0x20);
        body.put_i64(42);
        let d = s.step(frame(Opcode::Batch, 8, body), 1024);
        assert_eq!(
            d.step,
            Step::Call(Call::Batch {
                batch_type: BatchType::Logged,
                statements: vec![
                    BatchStatement::Query {
                        query: q.to_string(),
                        values: BoundValues::Positional(vec![])
                    },
                    BatchStatement::Prepared {
                        id: [7; 16],
                        values: BoundValues::Positional(vec![BoundValue::Null])
                    },
                ],
                request: Request {
                    consistency: Consistency::Quorum,
                    timestamp: Some(42),
                    ..Request::default()
                },
            })
        );
    }
}
