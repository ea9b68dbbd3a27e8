//! Golden bytes of the messages every driver exchanges on connect, and cross-checks against
//! the `cassandra-protocol` crate: it decodes what we encode, and we decode what it encodes.

use bytes::{BufMut, Bytes, BytesMut};
use cassandra_protocol::compression::Compression as TheirCompression;
use cassandra_protocol::consistency::Consistency as TheirConsistency;
use cassandra_protocol::frame::events::{SchemaChangeOptions, SchemaChangeType, ServerEvent};
use cassandra_protocol::frame::message_batch::{
    BatchQuery as TheirBatchQuery, BatchQuerySubj, BatchType, BodyReqBatch,
};
use cassandra_protocol::frame::message_error::ErrorType;
use cassandra_protocol::frame::message_execute::BodyReqExecuteOwned;
use cassandra_protocol::frame::message_response::ResponseBody;
use cassandra_protocol::frame::message_result::{
    ColType, ColTypeOption, ColTypeOptionValue, ResResultBody, RowsMetadataFlags,
};
use cassandra_protocol::frame::{
    Direction, Envelope, Flags, Opcode as TheirOpcode, Serialize as _, Version,
};
use cassandra_protocol::query::{QueryParams, QueryValues};
use cassandra_protocol::types::value::Value as TheirValue;
use cassandra_protocol::types::{CBytes, CBytesShort};

use super::*;

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn frame_bytes(response: &Response, stream: i16, compression: Compression) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_response(&mut out, stream, response, compression).unwrap();
    out.to_vec()
}

/// Our response frame, decoded by `cassandra-protocol`.
fn theirs(response: &Response, compression: Compression) -> ResponseBody {
    let their_compression = match compression {
        Compression::None => TheirCompression::None,
        Compression::Lz4 => TheirCompression::Lz4,
        Compression::Snappy => TheirCompression::Snappy,
    };
    let wire = frame_bytes(response, 3, compression);
    let parsed = Envelope::from_buffer(&wire, their_compression).unwrap();
    assert_eq!(parsed.envelope_len, wire.len());
    assert_eq!(parsed.envelope.stream_id, 3);
    assert_eq!(parsed.envelope.direction, Direction::Response);
    parsed.envelope.response_body().unwrap()
}

/// A request as `cassandra-protocol` frames it, decoded by us.
fn ours(opcode: TheirOpcode, body: Vec<u8>, compression: Compression) -> Request {
    let envelope = Envelope::new(
        Version::V4,
        Direction::Request,
        Flags::empty(),
        opcode,
        11,
        body,
        None,
        vec![],
    );
    let their_compression = match compression {
        Compression::None => TheirCompression::None,
        Compression::Lz4 => TheirCompression::Lz4,
        Compression::Snappy => TheirCompression::Snappy,
    };
    let wire = envelope.encode_with(their_compression).unwrap();
    let mut buf = BytesMut::from(&wire[..]);
    let frame = FrameDecoder::new(1 << 20)
        .decode(&mut buf)
        .unwrap()
        .unwrap();
    assert!(buf.is_empty());
    assert_eq!(frame.stream, 11);
    decode_request(&frame, compression, 1 << 20).unwrap()
}

fn request_frame(opcode: u8, flags: u8, body: &[u8]) -> Frame {
    Frame {
        flags,
        stream: 1,
        opcode,
        body: Bytes::copy_from_slice(body),
    }
}

fn column(table: &str, name: &str, ty: ColumnType) -> ColumnSpec {
    ColumnSpec {
        keyspace: "ks".to_string(),
        table: table.to_string(),
        name: name.to_string(),
        ty,
    }
}

const INT: ColumnType = ColumnType::Native(0x0009);
const TEXT: ColumnType = ColumnType::Native(0x000D);

#[test]
fn supported_golden_bytes() {
    let mut body = vec![0, 3];
    string(&mut body, "CQL_VERSION");
    body.extend_from_slice(&[0, 1]);
    string(&mut body, "3.4.6");
    string(&mut body, "COMPRESSION");
    body.extend_from_slice(&[0, 2]);
    string(&mut body, "lz4");
    string(&mut body, "snappy");
    string(&mut body, "PROTOCOL_VERSIONS");
    body.extend_from_slice(&[0, 1]);
    string(&mut body, "4/v4");
    assert_eq!(body.len(), 79);
    let mut wire = vec![0x84, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 79];
    wire.extend_from_slice(&body);
    assert_eq!(frame_bytes(&supported(), 0, Compression::None), wire);

    let ResponseBody::Supported(s) = theirs(&supported(), Compression::None) else {
        panic!("not SUPPORTED");
    };
    assert_eq!(s.data["CQL_VERSION"], vec!["3.4.6"]);
    assert_eq!(s.data["COMPRESSION"], vec!["lz4", "snappy"]);
}

#[test]
fn startup_and_ready_golden_bytes() {
    // python-driver's STARTUP: CQL_VERSION echoed from SUPPORTED, driver name and version.
    let mut body = vec![0, 3];
    for s in [
        "CQL_VERSION",
        "3.4.6",
        "DRIVER_NAME",
        "Apache Cassandra Python Driver",
        "DRIVER_VERSION",
        "3.30.1",
    ] {
        string(&mut body, s);
    }
    let mut wire = vec![0x04, 0x00, 0x00, 0x01, 0x01];
    wire.extend_from_slice(&(body.len() as u32).to_be_bytes());
    wire.extend_from_slice(&body);
    let mut buf = BytesMut::from(&wire[..]);
    let frame = FrameDecoder::new(1024).decode(&mut buf).unwrap().unwrap();
    assert_eq!(frame.stream, 1);
    let Request::Startup(options) = decode_request(&frame, Compression::None, 1024).unwrap() else {
        panic!("not STARTUP");
    };
    assert_eq!(options[0], ("CQL_VERSION".to_string(), "3.4.6".to_string()));
    assert_eq!(options[1].1, "Apache Cassandra Python Driver");
    assert_eq!(startup_compression(&options), Ok(Compression::None));

    assert_eq!(
        frame_bytes(&Response::Ready, 1, Compression::None),
        [0x84, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00]
    );
    assert_eq!(
        theirs(&Response::Ready, Compression::None),
        ResponseBody::Ready
    );
}

fn two_rows(paging_state: Option<Bytes>, no_metadata: bool) -> Response {
    let specs = vec![column("t", "k", INT), column("t", "v", TEXT)];
    Response::Result(ResultBody::Rows(RowsResult {
        columns: if no_metadata {
            RowsColumns::Count(specs.len())
        } else {
            RowsColumns::Specs(specs)
        },
        rows: vec![
            vec![
                Some(Bytes::from_static(&[0, 0, 0, 1])),
                Some(Bytes::from_static(b"a")),
            ],
            vec![Some(Bytes::from_static(&[0, 0, 0, 2])), None],
        ],
        paging_state,
    }))
}

#[test]
fn rows_result_golden_bytes() {
    let mut body = vec![0, 0, 0, 2]; // Rows
    body.extend_from_slice(&[0, 0, 0, 3]); // Global_tables_spec | Has_more_pages
    body.extend_from_slice(&[0, 0, 0, 2]); // columns
    body.extend_from_slice(&[0, 0, 0, 2, b'p', b's']); // paging state
    string(&mut body, "ks");
    string(&mut body, "t");
    string(&mut body, "k");
    body.extend_from_slice(&[0x00, 0x09]);
    string(&mut body, "v");
    body.extend_from_slice(&[0x00, 0x0D]);
    body.extend_from_slice(&[0, 0, 0, 2]); // rows
    body.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 1, b'a']);
    body.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 2, 0xFF, 0xFF, 0xFF, 0xFF]);
    let rows = two_rows(Some(Bytes::from_static(b"ps")), false);
    let wire = frame_bytes(&rows, 5, Compression::None);
    assert_eq!(&wire[..5], &[0x84, 0x00, 0x00, 0x05, 0x08]);
    assert_eq!(&wire[5..9], &(body.len() as u32).to_be_bytes());
    assert_eq!(&wire[9..], &body[..]);

    let ResponseBody::Result(ResResultBody::Rows(r)) = theirs(&rows, Compression::None) else {
        panic!("not Rows");
    };
    assert_eq!(r.rows_count, 2);
    assert_eq!(r.metadata.paging_state, Some(CBytes::new(b"ps".to_vec())));
    assert_eq!(r.metadata.global_table_spec.unwrap().table_name, "t");
    assert_eq!(r.metadata.col_specs[1].name, "v");
    assert_eq!(r.metadata.col_specs[1].col_type.id, ColType::Varchar);
    assert_eq!(r.rows_content[0][1], CBytes::new(b"a".to_vec()));
    assert_eq!(r.rows_content[1][1], CBytes::new_null());
}

#[test]
fn rows_without_metadata_when_the_request_skipped_it() {
    let rows = two_rows(Some(Bytes::from_static(b"ps")), true);
    let wire = frame_bytes(&rows, 0, Compression::None);
    // Rows, flags Has_more_pages | No_metadata, 2 columns, the paging state, 2 rows.
    assert_eq!(
        &wire[9..31],
        &[0, 0, 0, 2, 0, 0, 0, 6, 0, 0, 0, 2, 0, 0, 0, 2, b'p', b's', 0, 0, 0, 2]
    );
    let ResponseBody::Result(ResResultBody::Rows(r)) = theirs(&rows, Compression::None) else {
        panic!("not Rows");
    };
    assert!(r.metadata.flags.contains(RowsMetadataFlags::NO_METADATA));
    assert!(r.metadata.col_specs.is_empty());
    assert_eq!(r.metadata.columns_count, 2);
    assert_eq!(r.rows_content.len(), 2);

    // The last page: no paging state, no Has_more_pages.
    let ResponseBody::Result(ResResultBody::Rows(r)) =
        theirs(&two_rows(None, false), Compression::None)
    else {
        panic!("not Rows");
    };
    assert!(!r.metadata.flags.contains(RowsMetadataFlags::HAS_MORE_PAGES));
}

#[test]
fn columns_of_several_tables_carry_their_own_table() {
    let rows = Response::Result(ResultBody::Rows(RowsResult {
        columns: RowsColumns::Specs(vec![column("t1", "a", INT), column("t2", "b", INT)]),
        rows: vec![],
        paging_state: None,
    }));
    let ResponseBody::Result(ResResultBody::Rows(r)) = theirs(&rows, Compression::None) else {
        panic!("not Rows");
    };
    assert!(r.metadata.global_table_spec.is_none());
    assert_eq!(
        r.metadata.col_specs[1]
            .table_spec
            .as_ref()
            .unwrap()
            .table_name,
        "t2"
    );
}

#[test]
fn nested_types_are_described_by_their_options() {
    let ty = |t: ColumnType| {
        let rows = Response::Result(ResultBody::Rows(RowsResult {
            columns: RowsColumns::Specs(vec![column("t", "c", t)]),
            rows: vec![],
            paging_state: None,
        }));
        let ResponseBody::Result(ResResultBody::Rows(r)) = theirs(&rows, Compression::None) else {
            panic!("not Rows");
        };
        r.metadata.col_specs[0].col_type.clone()
    };
    let native = |id| ColTypeOption { id, value: None };
    assert_eq!(
        ty(ColumnType::List(Box::new(INT))),
        ColTypeOption {
            id: ColType::List,
            value: Some(ColTypeOptionValue::CList(Box::new(native(ColType::Int))))
        }
    );
    // map<text, frozen<set<int>>>: the frozen set is described as a set.
    assert_eq!(
        ty(ColumnType::Map(
            Box::new(TEXT),
            Box::new(ColumnType::Set(Box::new(INT)))
        )),
        ColTypeOption {
            id: ColType::Map,
            value: Some(ColTypeOptionValue::CMap(
                Box::new(native(ColType::Varchar)),
                Box::new(ColTypeOption {
                    id: ColType::Set,
                    value: Some(ColTypeOptionValue::CSet(Box::new(native(ColType::Int))))
                })
            ))
        }
    );
    let tuple = ty(ColumnType::Tuple(vec![
        INT,
        TEXT,
        ColumnType::Native(0x0002),
    ]));
    let Some(ColTypeOptionValue::TupleType(t)) = tuple.value else {
        panic!("not a tuple: {tuple:?}");
    };
    assert_eq!(
        t.types,
        vec![
            native(ColType::Int),
            native(ColType::Varchar),
            native(ColType::Bigint)
        ]
    );
}

fn prepared_select() -> Response {
    Response::Result(ResultBody::Prepared(PreparedResult {
        id: Bytes::from((0u8..16).collect::<Vec<_>>()),
        bind_columns: vec![column("t", "k", INT), column("t", "c", INT)],
        pk_indexes: vec![0],
        result_columns: Some(vec![column("t", "v", TEXT)]),
    }))
}

#[test]
fn prepared_result_golden_bytes_with_pk_index() {
    let mut body = vec![0, 0, 0, 4]; // Prepared
    body.extend_from_slice(&[0, 16]);
    body.extend(0u8..16);
    body.extend_from_slice(&[0, 0, 0, 1]); // Global_tables_spec
    body.extend_from_slice(&[0, 0, 0, 2]); // bind markers
    body.extend_from_slice(&[0, 0, 0, 1]); // pk_count
    body.extend_from_slice(&[0, 0]); // pk_index[0] = marker 0
    string(&mut body, "ks");
    string(&mut body, "t");
    string(&mut body, "k");
    body.extend_from_slice(&[0x00, 0x09]);
    string(&mut body, "c");
    body.extend_from_slice(&[0x00, 0x09]);
    body.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]); // result metadata: global, 1 column
    string(&mut body, "ks");
    string(&mut body, "t");
    string(&mut body, "v");
    body.extend_from_slice(&[0x00, 0x0D]);
    let wire = frame_bytes(&prepared_select(), 2, Compression::None);
    assert_eq!(&wire[9..], &body[..]);

    let ResponseBody::Result(ResResultBody::Prepared(p)) =
        theirs(&prepared_select(), Compression::None)
    else {
        panic!("not Prepared");
    };
    assert_eq!(p.id, CBytesShort::new((0u8..16).collect()));
    assert_eq!(p.metadata.pk_indexes, vec![0]);
    assert_eq!(p.metadata.col_specs.len(), 2);
    assert_eq!(p.result_metadata.col_specs[0].name, "v");
}

#[test]
fn prepared_result_of_a_write_has_empty_result_metadata() {
    let insert = Response::Result(ResultBody::Prepared(PreparedResult {
        id: Bytes::from_static(&[9; 16]),
        bind_columns: vec![],
        pk_indexes: vec![],
        result_columns: None,
    }));
    let wire = frame_bytes(&insert, 0, Compression::None);
    let tail: [u8; 20] = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // no flags, no markers, no pk
        0, 0, 0, 4, 0, 0, 0, 0, // No_metadata, 0 columns
    ];
    assert_eq!(&wire[wire.len() - 20..], &tail);
    let ResponseBody::Result(ResResultBody::Prepared(p)) = theirs(&insert, Compression::None)
    else {
        panic!("not Prepared");
    };
    assert!(p
        .result_metadata
        .flags
        .contains(RowsMetadataFlags::NO_METADATA));
}

#[test]
fn error_bodies_carry_each_codes_fields() {
    let error = |code, detail| {
        Response::Error(ErrorBody {
            code,
            message: "m".to_string(),
            detail,
        })
    };
    let ResponseBody::Error(e) = theirs(
        &error(
            0x2400,
            ErrorDetail::AlreadyExists {
                keyspace: "ks".to_string(),
                table: "t".to_string(),
            },
        ),
        Compression::None,
    ) else {
        panic!("not ERROR");
    };
    let ErrorType::AlreadyExists(a) = e.ty else {
        panic!("{e:?}");
    };
    assert_eq!((a.ks.as_str(), a.table.as_str()), ("ks", "t"));

    let id = Bytes::from_static(&[7; 16]);
    let ResponseBody::Error(e) = theirs(
        &error(0x2500, ErrorDetail::Unprepared { id: id.clone() }),
        Compression::None,
    ) else {
        panic!("not ERROR");
    };
    let ErrorType::Unprepared(u) = e.ty else {
        panic!("{e:?}");
    };
    assert_eq!(u.id, CBytesShort::new(id.to_vec()));

    let ResponseBody::Error(e) = theirs(
        &error(
            0x1000,
            ErrorDetail::Unavailable {
                consistency: 0x0004,
                required: 2,
                alive: 1,
            },
        ),
        Compression::None,
    ) else {
        panic!("not ERROR");
    };
    let ErrorType::Unavailable(u) = e.ty else {
        panic!("{e:?}");
    };
    assert_eq!(
        (u.cl, u.required, u.alive),
        (TheirConsistency::Quorum, 2, 1)
    );

    let protocol = Response::Error(ErrorBody::new(
        PROTOCOL_ERROR,
        "Invalid or unsupported protocol version (5); supported versions are (4/v4)",
    ));
    let ResponseBody::Error(e) = theirs(&protocol, Compression::None) else {
        panic!("not ERROR");
    };
    assert!(e.is_bad_protocol(), "drivers step down on it");
}

#[test]
fn schema_change_result_and_event_share_a_body() {
    let change = SchemaChange {
        change: ChangeType::Created,
        target: ChangeTarget::Table {
            keyspace: "ks".to_string(),
            table: "t".to_string(),
        },
    };
    let ResponseBody::Result(ResResultBody::SchemaChange(c)) = theirs(
        &Response::Result(ResultBody::SchemaChange(change.clone())),
        Compression::None,
    ) else {
        panic!("not Schema_change");
    };
    assert_eq!(c.change_type, SchemaChangeType::Created);
    assert_eq!(
        c.options,
        SchemaChangeOptions::TableType("ks".to_string(), "t".to_string())
    );
    let event = Response::SchemaChangeEvent(SchemaChange {
        change: ChangeType::Dropped,
        target: ChangeTarget::Keyspace("ks".to_string()),
    });
    let wire = frame_bytes(&event, EVENT_STREAM, Compression::None);
    assert_eq!(&wire[..5], &[0x84, 0x00, 0xFF, 0xFF, 0x0C]);
    let ResponseBody::Event(e) = theirs(&event, Compression::None) else {
        panic!("not EVENT");
    };
    let ServerEvent::SchemaChange(c) = e.event else {
        panic!("{e:?}");
    };
    assert_eq!(c.change_type, SchemaChangeType::Dropped);
    assert_eq!(c.options, SchemaChangeOptions::Keyspace("ks".to_string()));
}

#[test]
fn compressed_responses_decode_with_either_algorithm() {
    let big = Response::Result(ResultBody::Rows(RowsResult {
        columns: RowsColumns::Specs(vec![column("t", "v", TEXT)]),
        rows: (0..200)
            .map(|i| vec![Some(Bytes::from(format!("row number {i}")))])
            .collect(),
        paging_state: None,
    }));
    let plain = frame_bytes(&big, 3, Compression::None);
    for compression in [Compression::Lz4, Compression::Snappy] {
        let wire = frame_bytes(&big, 3, compression);
        assert_eq!(wire[1], flags::COMPRESSION, "{compression:?}");
        assert!(wire.len() < plain.len() / 2, "{compression:?}");
        let ResponseBody::Result(ResResultBody::Rows(r)) = theirs(&big, compression) else {
            panic!("not Rows");
        };
        assert_eq!(r.rows_count, 200);
        assert_eq!(
            r.rows_content[199][0],
            CBytes::new(b"row number 199".to_vec())
        );
    }
    // Even an empty body is compressed once compression is on, as Cassandra does.
    assert_eq!(
        theirs(&Response::Ready, Compression::Lz4),
        ResponseBody::Ready
    );
}

fn params(values: Option<QueryValues>, with_names: bool) -> QueryParams {
    QueryParams {
        consistency: TheirConsistency::LocalQuorum,
        with_names,
        values,
        page_size: Some(100),
        paging_state: Some(CBytes::new(b"state".to_vec())),
        serial_consistency: Some(TheirConsistency::LocalSerial),
        timestamp: Some(1_700_000_000_000_000),
        keyspace: None,
        now_in_seconds: None,
    }
}

#[test]
fn query_parameters_from_a_third_party_encoder() {
    let values = QueryValues::SimpleValues(vec![
        TheirValue::Some(vec![0, 0, 0, 42]),
        TheirValue::Null,
        TheirValue::NotSet,
        TheirValue::Some(vec![]),
    ]);
    let body = cassandra_protocol::frame::message_query::BodyReqQuery {
        query: "SELECT * FROM ks.t WHERE k = ?".to_string(),
        query_params: params(Some(values), false),
    };
    for compression in [Compression::None, Compression::Lz4, Compression::Snappy] {
        let request = ours(
            TheirOpcode::Query,
            body.serialize_to_vec(Version::V4),
            compression,
        );
        let Request::Query { query, params } = request else {
            panic!("not QUERY");
        };
        assert_eq!(query, "SELECT * FROM ks.t WHERE k = ?");
        assert_eq!(
            params,
            QueryParameters {
                consistency: 0x0006,
                skip_metadata: false,
                values: Values::Positional(vec![
                    Value::Set(Bytes::from_static(&[0, 0, 0, 42])),
                    Value::Null,
                    Value::Unset,
                    Value::Set(Bytes::new()),
                ]),
                page_size: Some(100),
                paging_state: Some(Bytes::from_static(b"state")),
                serial_consistency: Some(0x0009),
                timestamp: Some(1_700_000_000_000_000),
            }
        );
    }
}

#[test]
fn named_values_and_execute() {
    let named = QueryValues::NamedValues(
        [("k".to_string(), TheirValue::Some(vec![1]))]
            .into_iter()
            .collect(),
    );
    let body = BodyReqExecuteOwned::new(
        CBytesShort::new(vec![5; 16]),
        None,
        params(Some(named), true),
    );
    let Request::Execute { id, params } = ours(
        TheirOpcode::Execute,
        body.serialize_to_vec(Version::V4),
        Compression::None,
    ) else {
        panic!("not EXECUTE");
    };
    assert_eq!(id, Bytes::from_static(&[5; 16]));
    assert_eq!(
        params.values,
        Values::Named(vec![(
            "k".to_string(),
            Value::Set(Bytes::from_static(&[1]))
        )])
    );
}

#[test]
fn skip_metadata_and_named_values_keep_their_order() {
    let mut body = BytesMut::new();
    body.put_slice(&[0, 16]);
    body.put_slice(&[1; 16]);
    body.put_u16(0x0001); // ONE
    body.put_u8(0x01 | 0x02 | 0x40); // values, skip_metadata, names
    body.put_u16(2);
    for (name, value) in [("b", 2u8), ("a", 1)] {
        body.put_u16(1);
        body.put_slice(name.as_bytes());
        body.put_i32(1);
        body.put_u8(value);
    }
    let Request::Execute { params, .. } =
        decode_request(&request_frame(0x0A, 0, &body), Compression::None, 1024).unwrap()
    else {
        panic!("not EXECUTE");
    };
    assert!(params.skip_metadata);
    assert_eq!(
        params.values,
        Values::Named(vec![
            ("b".to_string(), Value::Set(Bytes::from_static(&[2]))),
            ("a".to_string(), Value::Set(Bytes::from_static(&[1]))),
        ])
    );
    assert_eq!((params.page_size, params.timestamp), (None, None));
}

#[test]
fn batch_prepare_register_from_a_third_party_encoder() {
    let batch = BodyReqBatch::new(
        BatchType::Unlogged,
        vec![
            TheirBatchQuery::new(
                BatchQuerySubj::QueryString("INSERT INTO ks.t (k) VALUES (?)".to_string()),
                QueryValues::SimpleValues(vec![TheirValue::Some(vec![0, 0, 0, 1])]),
            ),
            TheirBatchQuery::new(
                BatchQuerySubj::PreparedId(CBytesShort::new(vec![3; 16])),
                QueryValues::SimpleValues(vec![TheirValue::Null, TheirValue::NotSet]),
            ),
        ],
        TheirConsistency::Quorum,
        Some(TheirConsistency::Serial),
        Some(-5),
        None,
        None,
    );
    let Request::Batch(b) = ours(
        TheirOpcode::Batch,
        batch.serialize_to_vec(Version::V4),
        Compression::None,
    ) else {
        panic!("not BATCH");
    };
    assert_eq!(
        b,
        Batch {
            batch_type: 1,
            statements: vec![
                (
                    BatchQuery::Query("INSERT INTO ks.t (k) VALUES (?)".to_string()),
                    Values::Positional(vec![Value::Set(Bytes::from_static(&[0, 0, 0, 1]))])
                ),
                (
                    BatchQuery::Prepared(Bytes::from_static(&[3; 16])),
                    Values::Positional(vec![Value::Null, Value::Unset])
                ),
            ],
            consistency: 0x0004,
            serial_consistency: Some(0x0008),
            timestamp: Some(-5),
        }
    );

    let prepare = cassandra_protocol::frame::message_prepare::BodyReqPrepare::new(
        "SELECT v FROM ks.t WHERE k = ?".to_string(),
        None,
    );
    assert_eq!(
        ours(
            TheirOpcode::Prepare,
            prepare.serialize_to_vec(Version::V4),
            Compression::Snappy
        ),
        Request::Prepare {
            query: "SELECT v FROM ks.t WHERE k = ?".to_string()
        }
    );

    use cassandra_protocol::frame::events::SimpleServerEvent;
    let register = cassandra_protocol::frame::message_register::BodyReqRegister {
        events: vec![
            SimpleServerEvent::TopologyChange,
            SimpleServerEvent::StatusChange,
            SimpleServerEvent::SchemaChange,
        ],
    };
    assert_eq!(
        ours(
            TheirOpcode::Register,
            register.serialize_to_vec(Version::V4),
            Compression::None
        ),
        Request::Register {
            events: vec![
                "TOPOLOGY_CHANGE".to_string(),
                "STATUS_CHANGE".to_string(),
                "SCHEMA_CHANGE".to_string()
            ]
        }
    );

    let startup = cassandra_protocol::frame::message_startup::BodyReqStartup::new(
        Some("lz4".to_string()),
        Version::V4,
    );
    let Request::Startup(options) = ours(
        TheirOpcode::Startup,
        startup.serialize_to_vec(Version::V4),
        Compression::None,
    ) else {
        panic!("not STARTUP");
    };
    assert_eq!(startup_compression(&options), Ok(Compression::Lz4));
}

#[test]
fn truncated_bodies_are_errors_at_every_cut() {
    let body = BodyReqExecuteOwned::new(
        CBytesShort::new(vec![5; 16]),
        None,
        params(
            Some(QueryValues::SimpleValues(vec![TheirValue::Some(vec![
                1, 2,
            ])])),
            false,
        ),
    )
    .serialize_to_vec(Version::V4);
    for cut in 0..body.len() {
        let err = decode_request(
            &request_frame(0x0A, 0, &body[..cut]),
            Compression::None,
            1024,
        )
        .unwrap_err();
        assert_eq!(err.stream(), 1);
        assert_eq!(err.code(), PROTOCOL_ERROR);
        assert!(!err.closes_connection());
        assert!(err.to_string().contains("Not enough bytes"), "{err}");
    }
}

#[test]
fn malformed_requests_say_what_is_wrong() {
    let message = |frame: Frame, compression| {
        decode_request(&frame, compression, 1024)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        message(request_frame(0x04, 0, b""), Compression::None),
        "Unknown opcode 4"
    );
    assert!(message(request_frame(0x02, 0, b""), Compression::None).contains("READY"));
    assert!(message(
        request_frame(0x05, flags::COMPRESSION, b""),
        Compression::None
    )
    .contains("no compression was negotiated"));
    assert!(message(
        request_frame(0x05, flags::COMPRESSION, b"junk"),
        Compression::Lz4
    )
    .contains("lz4"));
    // A batch with an unknown type, an unknown statement kind, or names for values.
    assert!(message(request_frame(0x0D, 0, &[3, 0, 0]), Compression::None).contains("batch type"));
    assert!(message(
        request_frame(0x0D, 0, &[0, 0, 1, 2, 0, 0, 0, 0]),
        Compression::None
    )
    .contains("Must be 0 or 1 but got 2"));
    assert!(message(
        request_frame(0x0D, 0, &[0, 0, 0, 0, 1, 0x40]),
        Compression::None
    )
    .contains("Named values are not supported"));
    // 65535 values announced by a body that holds none.
    assert!(message(
        request_frame(0x07, 0, &[0, 0, 0, 0, 0, 1, 0x01, 0xFF, 0xFF]),
        Compression::None
    )
    .contains("65535"));
}

#[test]
fn a_custom_payload_is_read_past() {
    let mut body = BytesMut::new();
    body.put_u16(1);
    body.put_u16(3);
    body.put_slice(b"key");
    body.put_i32(2);
    body.put_slice(b"vv");
    body.put_i32(5);
    body.put_slice(b"USE k");
    body.put_u16(1);
    body.put_u8(0);
    let request = decode_request(
        &request_frame(0x07, flags::CUSTOM_PAYLOAD | 0x02, &body),
        Compression::None,
        1024,
    )
    .unwrap();
    assert!(matches!(request, Request::Query { ref query, .. } if query == "USE k"));
}

#[test]
fn startup_is_checked_as_cassandra_checks_it() {
    let options = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        startup_compression(&options(&[
            ("CQL_VERSION", "4.0.0"),
            ("COMPRESSION", "snappy")
        ])),
        Ok(Compression::Snappy)
    );
    assert_eq!(
        startup_compression(&options(&[("DRIVER_NAME", "x")])),
        Err("Missing value CQL_VERSION in STARTUP message".to_string())
    );
    assert!(startup_compression(&options(&[("CQL_VERSION", "2.0.0")]))
        .unwrap_err()
        .contains(">= 3.0.0"));
    assert_eq!(
        startup_compression(&options(&[("CQL_VERSION", "three")])),
        Err("Invalid version value: three".to_string())
    );
    assert_eq!(
        startup_compression(&options(&[
            ("CQL_VERSION", "3.0.0"),
            ("COMPRESSION", "zstd")
        ])),
        Err("Unknown compression algorithm: zstd".to_string())
    );
}
