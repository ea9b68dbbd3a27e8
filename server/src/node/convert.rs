//! Between the wire and the store: protocol requests into the store's [`Request`], the
//! store's results into protocol responses, and the store's errors into ERROR bodies, each
//! mapped once, here.

use bytes::Bytes;
use fastdata_cql::CqlType;
use fastdata_kv::api::{
    BatchType, BoundValue, BoundValues, ChangeTarget, ChangeType, ColumnSpec, Consistency, Error,
    Prepared, QueryResult, Request, SchemaChange,
};
use fastdata_protocol::cql::{self as wire, ErrorBody, ErrorDetail, ResultBody, PROTOCOL_ERROR};

/// The level with protocol code `code`, or the protocol error Cassandra answers.
pub(crate) fn consistency(code: u16) -> Result<Consistency, ErrorBody> {
    Consistency::from_code(code).ok_or_else(|| {
        ErrorBody::new(
            PROTOCOL_ERROR,
            format!("Unknown code {code} for a consistency level"),
        )
    })
}

fn bound(value: wire::Value) -> BoundValue {
    match value {
        wire::Value::Null => BoundValue::Null,
        wire::Value::Unset => BoundValue::Unset,
        wire::Value::Set(bytes) => BoundValue::Value(bytes),
    }
}

/// A statement's values as the store takes them.
pub(crate) fn values(values: wire::Values) -> BoundValues {
    match values {
        wire::Values::None => BoundValues::None,
        wire::Values::Positional(v) => BoundValues::Positional(v.into_iter().map(bound).collect()),
        wire::Values::Named(v) => {
            BoundValues::Named(v.into_iter().map(|(n, v)| (n, bound(v))).collect())
        }
    }
}

/// The store's request for QUERY or EXECUTE parameters, in the connection's keyspace.
pub(crate) fn request(
    params: wire::QueryParameters,
    keyspace: Option<String>,
) -> Result<Request, ErrorBody> {
    Ok(Request {
        keyspace,
        consistency: consistency(params.consistency)?,
        serial_consistency: params.serial_consistency.map(consistency).transpose()?,
        values: values(params.values),
        page_size: params.page_size,
        paging_state: params.paging_state,
        timestamp: params.timestamp,
        no_wait: false,
    })
}

/// The batch type of BATCH's type byte (the decoder accepts only 0, 1 and 2).
pub(crate) fn batch_type(byte: u8) -> BatchType {
    match byte {
        0 => BatchType::Logged,
        1 => BatchType::Unlogged,
        _ => BatchType::Counter,
    }
}

/// A prepared id as the store keys them (MD5: 16 bytes); another length cannot be one.
pub(crate) fn prepared_id(id: &Bytes) -> Result<[u8; 16], ErrorBody> {
    <[u8; 16]>::try_from(id.as_ref()).map_err(|_| unprepared(id.clone()))
}

/// Unprepared for an id the node cannot know, with the id as sent.
fn unprepared(id: Bytes) -> ErrorBody {
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    ErrorBody {
        code: 0x2500,
        message: format!("Prepared query with ID {hex} not found (either the query was not prepared on this host (maybe the host has been restarted?) or you have prepared too many queries and it has been evicted from the internal cache)"),
        detail: ErrorDetail::Unprepared { id },
    }
}

/// The protocol's description of a CQL type: frozen types as their inner type.
pub(crate) fn column_type(ty: &CqlType) -> wire::ColumnType {
    use wire::ColumnType as W;
    match ty {
        CqlType::Frozen(inner) => column_type(inner),
        CqlType::List(e) => W::List(Box::new(column_type(e))),
        CqlType::Set(e) => W::Set(Box::new(column_type(e))),
        CqlType::Map(k, v) => W::Map(Box::new(column_type(k)), Box::new(column_type(v))),
        CqlType::Tuple(items) => W::Tuple(items.iter().map(column_type).collect()),
        native => W::Native(native.option_id()),
    }
}

fn column_specs(columns: &[ColumnSpec]) -> Vec<wire::ColumnSpec> {
    columns
        .iter()
        .map(|c| wire::ColumnSpec {
            keyspace: c.keyspace.clone(),
            table: c.table.clone(),
            name: c.name.clone(),
            ty: column_type(&c.ty),
        })
        .collect()
}

/// The SCHEMA_CHANGE body of a store's schema change.
pub(crate) fn schema_change(change: &SchemaChange) -> wire::SchemaChange {
    wire::SchemaChange {
        change: match change.change {
            ChangeType::Created => wire::ChangeType::Created,
            ChangeType::Updated => wire::ChangeType::Updated,
            ChangeType::Dropped => wire::ChangeType::Dropped,
        },
        target: match &change.target {
            ChangeTarget::Keyspace(k) => wire::ChangeTarget::Keyspace(k.clone()),
            ChangeTarget::Table { keyspace, table } => wire::ChangeTarget::Table {
                keyspace: keyspace.clone(),
                table: table.clone(),
            },
            ChangeTarget::Type { keyspace, name } => wire::ChangeTarget::Type {
                keyspace: keyspace.clone(),
                name: name.clone(),
            },
        },
    }
}

/// The RESULT of a statement; `skip_metadata`: the request asked for rows without metadata.
pub(crate) fn result(result: QueryResult, skip_metadata: bool) -> ResultBody {
    match result {
        QueryResult::Void => ResultBody::Void,
        QueryResult::Rows(rows) => ResultBody::Rows(wire::RowsResult {
            // Only the count when the client has the metadata: the specs are not converted.
            columns: if skip_metadata {
                wire::RowsColumns::Count(rows.columns.len())
            } else {
                wire::RowsColumns::Specs(column_specs(&rows.columns))
            },
            rows: rows.rows,
            paging_state: rows.paging_state,
        }),
        QueryResult::SetKeyspace(keyspace) => ResultBody::SetKeyspace(keyspace),
        QueryResult::SchemaChange(change) => ResultBody::SchemaChange(schema_change(&change)),
    }
}

/// The RESULT of a PREPARE.
pub(crate) fn prepared(p: &Prepared) -> ResultBody {
    ResultBody::Prepared(wire::PreparedResult {
        id: Bytes::copy_from_slice(&p.id),
        bind_columns: column_specs(&p.bind_columns),
        pk_indexes: p.pk_indexes.clone(),
        result_columns: p.result_columns.as_deref().map(column_specs),
    })
}

/// The ERROR of a store error, with the fields its code carries.
pub(crate) fn error(e: &Error) -> ErrorBody {
    let detail = match e {
        Error::AlreadyExists {
            keyspace, table, ..
        } => ErrorDetail::AlreadyExists {
            keyspace: keyspace.clone(),
            table: table.clone(),
        },
        Error::Unprepared(id) => ErrorDetail::Unprepared {
            id: Bytes::copy_from_slice(id),
        },
        Error::Unavailable {
            consistency,
            required,
            alive,
        } => ErrorDetail::Unavailable {
            consistency: (0..=0x000A)
                .filter_map(Consistency::from_code)
                .find(|c| c.name() == *consistency)
                .map_or(0, |c| c as u16),
            required: *required,
            alive: *alive,
        },
        _ => ErrorDetail::None,
    };
    ErrorBody {
        code: e.code(),
        message: e.to_string(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_types_are_described_as_their_inner_type() {
        let ty = CqlType::parse("map<text, frozen<list<frozen<tuple<int, blob>>>>>").unwrap();
        assert_eq!(
            column_type(&ty),
            wire::ColumnType::Map(
                Box::new(wire::ColumnType::Native(0x000D)),
                Box::new(wire::ColumnType::List(Box::new(wire::ColumnType::Tuple(
                    vec![
                        wire::ColumnType::Native(0x0009),
                        wire::ColumnType::Native(0x0003),
                    ]
                ))))
            )
        );
        assert_eq!(
            column_type(&CqlType::Counter),
            wire::ColumnType::Native(0x0005)
        );
    }

    #[test]
    fn store_errors_keep_their_code_and_fields() {
        let e = error(&Error::AlreadyExists {
            keyspace: "ks".into(),
            table: String::new(),
            message: "Keyspace ks already exists".into(),
        });
        assert_eq!(e.code, 0x2400);
        assert_eq!(e.message, "Keyspace ks already exists");
        assert_eq!(
            e.detail,
            ErrorDetail::AlreadyExists {
                keyspace: "ks".into(),
                table: String::new()
            }
        );
        let e = error(&Error::Unavailable {
            consistency: "LOCAL_QUORUM",
            required: 2,
            alive: 1,
        });
        assert_eq!(
            e.detail,
            ErrorDetail::Unavailable {
                consistency: 0x0006,
                required: 2,
                alive: 1
            }
        );
        assert_eq!(e.message, "Cannot achieve consistency level LOCAL_QUORUM");
        let id = [0xAB; 16];
        let e = error(&Error::Unprepared(id));
        assert_eq!(e.code, 0x2500);
        assert!(e.message.contains("abababab"), "{}", e.message);
        // An id of another length cannot be one of ours: Unprepared, with the id as sent.
        let short = Bytes::copy_from_slice(&[0xCD; 15]);
        let e = prepared_id(&short).unwrap_err();
        assert_eq!(e.code, 0x2500);
        assert!(e.message.contains(&"cd".repeat(15)), "{}", e.message);
        assert_eq!(e.detail, ErrorDetail::Unprepared { id: short });
        assert_eq!(prepared_id(&Bytes::copy_from_slice(&id)).unwrap(), id);
        assert_eq!(error(&Error::Syntax("line 1:0".into())).code, 0x2000);
    }

    #[test]
    fn unknown_consistency_codes_are_protocol_errors() {
        assert_eq!(consistency(0x000A).unwrap(), Consistency::LocalOne);
        let e = consistency(0x0042).unwrap_err();
        assert_eq!(e.code, PROTOCOL_ERROR);
        assert_eq!(e.message, "Unknown code 66 for a consistency level");
    }

    #[test]
    fn rows_keep_their_values_and_honour_skip_metadata() {
        let rows = fastdata_kv::api::Rows {
            columns: vec![ColumnSpec {
                keyspace: "ks".into(),
                table: "t".into(),
                name: "v".into(),
                ty: CqlType::Frozen(Box::new(CqlType::Set(Box::new(CqlType::Int)))),
            }],
            rows: vec![vec![Some(Bytes::from_static(b"x"))], vec![None]],
            paging_state: Some(Bytes::from_static(b"p")),
        };
        let ResultBody::Rows(r) = result(QueryResult::Rows(rows.clone()), true) else {
            panic!("not rows");
        };
        assert_eq!(r.columns, wire::RowsColumns::Count(1));
        assert_eq!(r.rows[1], vec![None]);
        assert_eq!(r.paging_state.as_deref(), Some(&b"p"[..]));
        let ResultBody::Rows(r) = result(QueryResult::Rows(rows), false) else {
            panic!("not rows");
        };
        let wire::RowsColumns::Specs(specs) = r.columns else {
            panic!("no column specs");
        };
        assert_eq!(
            specs[0].ty,
            wire::ColumnType::Set(Box::new(wire::ColumnType::Native(0x0009)))
        );
    }
}
