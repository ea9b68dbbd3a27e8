//! `SELECT token(k)` answers Cassandra's Murmur3 token for every row of
//! `vectors/murmur3_tokens.tsv` (keys and tokens computed by real Cassandra drivers):
//! each key is written, typed as its `what` column says (text, int, bigint, uuid, blob, or a
//! composite partition key of those), into a table of that key type, and its token read back.

mod cql_common;

use cql_common::{connect, create_keyspace, exec, runtime};
use fastdata_tests::{loopback_host, DataDir, Node};
use scylla::value::CqlValue;

/// One vector: the key's bytes, the token, the description.
struct Vector {
    key: Vec<u8>,
    token: i64,
    what: String,
}

fn vectors() -> Vec<Vector> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors/murmur3_tokens.tsv");
    let text = std::fs::read_to_string(&path).expect("vectors/murmur3_tokens.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("key_hex") && !l.trim().is_empty())
        .map(|l| {
            let mut fields = l.split('\t');
            let hex = fields.next().unwrap();
            let token = fields.next().unwrap().parse().unwrap();
            let what = fields.next().unwrap_or_default().to_owned();
            let key = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            Vector { key, token, what }
        })
        .collect()
}

/// The CQL type of a (component of a) key, from the start of its description.
fn key_type(what: &str) -> Option<&'static str> {
    let word = what.split_whitespace().next()?;
    Some(match word {
        "text" => "text",
        "int" => "int",
        "bigint" => "bigint",
        "uuid" => "uuid",
        "bytes" => "blob",
        _ => return None,
    })
}

/// The value of `bytes` as a key of type `typ`.
fn value(typ: &str, bytes: &[u8]) -> CqlValue {
    match typ {
        "text" => CqlValue::Text(String::from_utf8(bytes.to_vec()).unwrap()),
        "int" => CqlValue::Int(i32::from_be_bytes(bytes.try_into().unwrap())),
        "bigint" => CqlValue::BigInt(i64::from_be_bytes(bytes.try_into().unwrap())),
        "uuid" => CqlValue::Uuid(uuid::Uuid::from_slice(bytes).unwrap()),
        "blob" => CqlValue::Blob(bytes.to_vec()),
        other => panic!("no such key type {other}"),
    }
}

/// The components of a CompositeType encoding: per component a u16 length, the bytes, 0x00.
fn components(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let len = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
        out.push(bytes[2..2 + len].to_vec());
        assert_eq!(bytes[2 + len], 0, "end-of-component byte");
        bytes = &bytes[3 + len..];
    }
    out
}

/// The key's column types and values: one for a simple key, several for a composite one
/// (`composite (int 1, text 'a')`).
fn typed_key(v: &Vector) -> Option<(Vec<&'static str>, Vec<CqlValue>)> {
    if let Some(inner) = v.what.strip_prefix("composite (") {
        let types: Option<Vec<&str>> = inner
            .trim_end_matches(')')
            .split(", ")
            .map(key_type)
            .collect();
        let types = types?;
        let parts = components(&v.key);
        assert_eq!(parts.len(), types.len(), "{}", v.what);
        let values = types.iter().zip(&parts).map(|(t, b)| value(t, b)).collect();
        return Some((types, values));
    }
    let typ = key_type(&v.what)?;
    Some((vec![typ], vec![value(typ, &v.key)]))
}

#[test]
fn select_token_answers_cassandras_token_for_every_shared_vector() {
    let all = vectors();
    assert!(all.len() >= 20, "{} vectors", all.len());
    let dir = DataDir::new("cql-tokens").unwrap();
    let node = Node::builder(&dir).host(loopback_host()).start().unwrap();
    let rt = runtime();
    let mut wrong = Vec::new();
    let mut unexpressed = Vec::new();
    rt.block_on(async {
        let session = connect(&node).await;
        create_keyspace(&session, "tokens_ks").await;
        let mut tables = std::collections::BTreeMap::new();
        for (n, v) in all.iter().enumerate() {
            let Some((types, values)) = typed_key(v) else {
                unexpressed.push(v.what.clone());
                continue;
            };
            let table = format!("t_{}", types.join("_"));
            let columns: Vec<String> = (0..types.len()).map(|i| format!("k{i}")).collect();
            if !tables.contains_key(&table) {
                let defs: Vec<String> = columns
                    .iter()
                    .zip(&types)
                    .map(|(c, t)| format!("{c} {t}"))
                    .collect();
                exec(
                    &session,
                    &format!(
                        "CREATE TABLE tokens_ks.{table} ({}, n int, PRIMARY KEY (({})))",
                        defs.join(", "),
                        columns.join(", ")
                    ),
                )
                .await;
                tables.insert(table.clone(), ());
            }
            let marks = vec!["?"; columns.len()].join(", ");
            let insert = session
                .prepare(format!(
                    "INSERT INTO tokens_ks.{table} ({}, n) VALUES ({marks}, ?)",
                    columns.join(", ")
                ))
                .await
                .unwrap();
            let mut bound = values.clone();
            bound.push(CqlValue::Int(i32::try_from(n).unwrap()));
            session.execute_unpaged(&insert, &bound).await.unwrap();
            let wheres: Vec<String> = columns.iter().map(|c| format!("{c} = ?")).collect();
            let select = session
                .prepare(format!(
                    "SELECT token({}) FROM tokens_ks.{table} WHERE {}",
                    columns.join(", "),
                    wheres.join(" AND ")
                ))
                .await
                .unwrap();
            let rows = session
                .execute_unpaged(&select, &values)
                .await
                .unwrap()
                .into_rows_result()
                .unwrap();
            let (token,): (i64,) = rows.single_row().unwrap();
            if token != v.token {
                wrong.push(format!("{}: node {token}, Cassandra {}", v.what, v.token));
            }
        }
    });
    assert!(
        unexpressed.is_empty(),
        "vectors without a key type: {unexpressed:?}"
    );
    assert!(wrong.is_empty(), "wrong tokens:\n{}", wrong.join("\n"));
}
