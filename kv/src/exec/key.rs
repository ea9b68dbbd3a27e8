//! Primary keys of statements: partition key bytes (a single column's serialized value or the
//! CompositeType encoding of several), their token and key prefix, clustering values encoded
//! in each column's order, and collections assembled from their element cells.

use bytes::{BufMut, Bytes, BytesMut};
use fastdata_cql::{CqlType, Value};

use crate::api::Error;
use crate::keys;
use crate::read::LiveCell;
use crate::schema::{ClusteringOrder, Table};
use crate::token;

/// Cassandra's bound on a partition key's serialized length.
const MAX_KEY_BYTES: usize = 65_535;

/// The partition key bytes of a table from its components' serialized values (in position
/// order), checked as Cassandra checks them.
pub(super) fn partition_key(table: &Table, parts: &[Bytes]) -> Result<Vec<u8>, Error> {
    let blob = if parts.len() == 1 {
        parts[0].to_vec()
    } else {
        for p in parts {
            if p.len() > usize::from(u16::MAX) {
                return Err(key_too_long(p.len()));
            }
        }
        token::composite_key(parts.iter().map(|p| p.as_ref()))
    };
    if blob.is_empty() {
        return Err(Error::Invalid("Key may not be empty".into()));
    }
    if blob.len() > MAX_KEY_BYTES {
        return Err(key_too_long(blob.len()));
    }
    debug_assert_eq!(parts.len(), table.partition_key().count());
    Ok(blob)
}

fn key_too_long(len: usize) -> Error {
    Error::Invalid(format!(
        "Key length of {len} is longer than maximum of {MAX_KEY_BYTES}"
    ))
}

/// The components of partition key bytes.
pub(super) fn partition_parts(table: &Table, blob: &[u8]) -> Result<Vec<Bytes>, Error> {
    if table.partition_key().count() == 1 {
        return Ok(vec![Bytes::copy_from_slice(blob)]);
    }
    token::split_composite_key(blob)
        .map(|parts| parts.into_iter().map(Bytes::copy_from_slice).collect())
        .ok_or_else(|| Error::Server("corrupt partition key".into()))
}

/// The key prefix of a partition.
pub(super) fn prefix(blob: &[u8]) -> Vec<u8> {
    keys::partition_prefix(token::token(blob), blob)
}

/// Clustering values (a prefix of the clustering columns) encoded in key order.
pub(super) fn clustering(table: &Table, values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for (v, c) in values.iter().zip(table.clustering()) {
        keys::encode_component(v, c.order == ClusteringOrder::Desc, &mut out);
    }
    out
}

/// The clustering values of an encoded clustering (all columns).
pub(super) fn clustering_values(table: &Table, mut bytes: &[u8]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for c in table.clustering() {
        if bytes.is_empty() {
            break;
        }
        let (v, used) = keys::decode_component(&c.ty, c.order == ClusteringOrder::Desc, bytes)?;
        out.push(v);
        bytes = &bytes[used..];
    }
    Ok(out)
}

/// The protocol serialization of a non-frozen collection from its live element cells (paths
/// in CQL order).
pub(super) fn collection_bytes(
    ty: &CqlType,
    items: &[(Vec<u8>, LiveCell)],
) -> Result<Bytes, Error> {
    let mut out = BytesMut::new();
    out.put_i32(i32::try_from(items.len()).unwrap_or(i32::MAX));
    let item = |out: &mut BytesMut, b: &[u8]| {
        out.put_i32(i32::try_from(b.len()).unwrap_or(i32::MAX));
        out.put_slice(b);
    };
    match ty.unfrozen() {
        CqlType::List(_) => {
            for (_, cell) in items {
                item(&mut out, &cell.value);
            }
        }
        CqlType::Set(e) => {
            for (path, _) in items {
                item(&mut out, &keys::decode_order_bytes(e, path)?.encode());
            }
        }
        CqlType::Map(k, _) => {
            for (path, cell) in items {
                item(&mut out, &keys::decode_order_bytes(k, path)?.encode());
                item(&mut out, &cell.value);
            }
        }
        other => return Err(Error::Server(format!("{other} is not a collection"))),
    }
    Ok(out.freeze())
}

/// The token of partition key bytes, as a bigint value.
pub(super) fn token_value(blob: &[u8]) -> Bytes {
    Bytes::copy_from_slice(&token::token(blob).to_be_bytes())
}
