//! Order-preserving key encodings: byte strings that sort (unsigned, lexicographically) exactly
//! as CQL orders the values they encode ([`fastdata_cql::Value::cql_cmp`]), and the layout of
//! the keys of a table's column family built from them.
//!
//! A value's *order bytes* ([`order_bytes`]) sort like the value; a *component*
//! ([`encode_component`]) is its order bytes escaped (`00` → `00 FF`) and terminated (`00 00`),
//! so components are prefix-free and can be concatenated; a descending clustering column's
//! component is bitwise NOT-ed, which reverses its order and keeps it prefix-free.
//!
//! Key layout (one column family per table; see [`KeyKind`] and [`RowEntry`]):
//!
//! ```text
//! partition prefix = token (8 bytes, sign bit flipped, big-endian) ‖ escape(partition key bytes)
//! prefix ‖ 00                                   partition tombstone
//! prefix ‖ 01 ‖ escape(start) ‖ s ‖ escape(end) ‖ e   range tombstone (s, e: bound inclusive?)
//! prefix ‖ 02 ‖ 02 ‖ column id ‖ [cell path]     static cells
//! prefix ‖ 03 ‖ clustering components ‖ 00         row tombstone
//! prefix ‖ 03 ‖ clustering components ‖ 01         row marker (INSERT's liveness)
//! prefix ‖ 03 ‖ clustering components ‖ 02 ‖ column id ‖ [cell path]   cells
//! ```
//!
//! The partition key bytes are the serialized value (single column) or the CompositeType
//! encoding, so partitions of one token sort as Cassandra sorts decorated keys. A complex
//! (non-frozen collection) column's cell without a path is its collection tombstone; its
//! elements' paths are the order bytes of the set element, map key or list timeuuid.

use bytes::Bytes;
use fastdata_cql::{CqlType, Value};
use num_bigint::{BigInt, Sign};
use uuid::Uuid;

use crate::api::Error;

/// The kind byte after the partition prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum KeyKind {
    PartitionDeletion = 0,
    RangeTombstone = 1,
    Static = 2,
    Row = 3,
}

/// The byte after a row's clustering components (and after the static kind byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RowEntry {
    Deletion = 0,
    Marker = 1,
    Cell = 2,
}

fn corrupt(what: &str) -> Error {
    Error::Server(format!("corrupt key: {what}"))
}

/// The token's 8 key bytes: big-endian with the sign bit flipped, so byte order is token order.
pub fn token_bytes(token: i64) -> [u8; 8] {
    ((token as u64) ^ (1 << 63)).to_be_bytes()
}

/// The token a key starts with.
pub fn key_token(key: &[u8]) -> Result<i64, Error> {
    let head = key.first_chunk::<8>().ok_or_else(|| corrupt("no token"))?;
    Ok((u64::from_be_bytes(*head) ^ (1 << 63)) as i64)
}

/// Append `bytes` escaped (`00` → `00 FF`) and terminated (`00 00`), all XOR-ed with `flip`
/// (0x00 ascending, 0xFF descending).
pub fn escape_into(out: &mut Vec<u8>, bytes: &[u8], flip: u8) {
    for &b in bytes {
        out.push(b ^ flip);
        if b == 0 {
            out.push(0xFF ^ flip);
        }
    }
    out.push(flip);
    out.push(flip);
}

/// Read one escaped, terminated string written by [`escape_into`] with the same `flip`:
/// the unescaped bytes and how many input bytes it took.
pub fn unescape(input: &[u8], flip: u8) -> Result<(Vec<u8>, usize), Error> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < input.len() {
        let b = input[i] ^ flip;
        if b == 0 {
            match input.get(i + 1).map(|n| n ^ flip) {
                Some(0) => return Ok((out, i + 2)),
                Some(0xFF) => {
                    out.push(0);
                    i += 2;
                }
                _ => return Err(corrupt("bad escape")),
            }
        } else {
            out.push(b);
            i += 1;
        }
    }
    Err(corrupt("unterminated component"))
}

/// Skip one escaped component (see [`unescape`]) and return its length.
pub fn skip_escaped(input: &[u8], flip: u8) -> Result<usize, Error> {
    let mut i = 0;
    while i + 1 < input.len() {
        if input[i] ^ flip == 0 {
            if input[i + 1] ^ flip == 0 {
                return Ok(i + 2);
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    Err(corrupt("unterminated component"))
}

fn flip_i64(n: i64) -> [u8; 8] {
    ((n as u64) ^ (1 << 63)).to_be_bytes()
}

fn unflip_i64(b: [u8; 8]) -> i64 {
    (u64::from_be_bytes(b) ^ (1 << 63)) as i64
}

/// Cassandra's `TimeUUIDType.reorderTimestampBytes`: time_hi, time_mid, time_low.
fn reorder(msb: u64) -> u64 {
    (msb << 48) | ((msb << 16) & 0xFFFF_0000_0000) | (msb >> 32)
}

fn unreorder(r: u64) -> u64 {
    (r << 32) | ((r >> 16) & 0xFFFF_0000) | (r >> 48)
}

fn uuid_halves(u: &Uuid) -> (u64, u64) {
    let n = u.as_u128();
    ((n >> 64) as u64, n as u64)
}

fn uuid_of(msb: u64, lsb: u64) -> Uuid {
    Uuid::from_u128((u128::from(msb) << 64) | u128::from(lsb))
}

const TIMEUUID_LSB_FLIP: u64 = 0x8080_8080_8080_8080;

/// A decimal without trailing zeros in its unscaled part (1.50 → 1.5; zero → 0): equal
/// decimals (1.5 = 1.50, as Cassandra compares them) get one encoding.
fn normalize_decimal(unscaled: &BigInt, scale: i32) -> (BigInt, i64) {
    let ten = BigInt::from(10);
    let zero = BigInt::from(0);
    if *unscaled == zero {
        return (zero, 0);
    }
    let mut u = unscaled.clone();
    let mut s = i64::from(scale);
    while s > i64::from(i32::MIN) && &u % &ten == zero {
        u /= &ten;
        s -= 1;
    }
    (u, s)
}

/// Append the order bytes of `value`: bytes whose unsigned lexicographic order is the value's
/// CQL order. Values that compare equal (1.0 and 1.00) get the same bytes.
pub fn order_bytes(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Ascii(s) | Value::Text(s) => out.extend_from_slice(s.as_bytes()),
        Value::Blob(b) => out.extend_from_slice(b),
        Value::BigInt(n) | Value::Counter(n) | Value::Timestamp(n) | Value::Time(n) => {
            out.extend_from_slice(&flip_i64(*n))
        }
        Value::Int(n) => out.extend_from_slice(&((*n as u32) ^ (1 << 31)).to_be_bytes()),
        Value::SmallInt(n) => out.extend_from_slice(&((*n as u16) ^ (1 << 15)).to_be_bytes()),
        Value::TinyInt(n) => out.push((*n as u8) ^ 0x80),
        Value::Date(d) => out.extend_from_slice(&d.to_be_bytes()),
        Value::Boolean(b) => out.push(u8::from(*b)),
        Value::Double(d) => {
            let bits = d.to_bits();
            let key = if bits >> 63 == 1 {
                !bits
            } else {
                bits | (1 << 63)
            };
            out.extend_from_slice(&key.to_be_bytes());
        }
        Value::Float(f) => {
            let bits = f.to_bits();
            let key = if bits >> 31 == 1 {
                !bits
            } else {
                bits | (1 << 31)
            };
            out.extend_from_slice(&key.to_be_bytes());
        }
        Value::Uuid(u) => {
            let (msb, lsb) = uuid_halves(u);
            let version = ((msb >> 12) & 0xf) as u8;
            out.push(version);
            let high = if version == 1 { reorder(msb) } else { msb };
            out.extend_from_slice(&high.to_be_bytes());
            out.extend_from_slice(&lsb.to_be_bytes());
        }
        Value::TimeUuid(u) => {
            let (msb, lsb) = uuid_halves(u);
            out.extend_from_slice(&reorder(msb).to_be_bytes());
            out.extend_from_slice(&(lsb ^ TIMEUUID_LSB_FLIP).to_be_bytes());
        }
        Value::Inet(std::net::IpAddr::V4(a)) => out.extend_from_slice(&a.octets()),
        Value::Inet(std::net::IpAddr::V6(a)) => out.extend_from_slice(&a.octets()),
        Value::VarInt(n) => varint_order_bytes(n, out),
        Value::Decimal { unscaled, scale } => {
            let (u, s) = normalize_decimal(unscaled, *scale);
            if u.sign() == Sign::NoSign {
                out.push(0x02);
                return;
            }
            let digits = u.magnitude().to_string();
            let exponent = digits.len() as i64 - s;
            let mut body = flip_i64(exponent).to_vec();
            body.extend_from_slice(digits.as_bytes());
            body.push(0);
            if u.sign() == Sign::Minus {
                out.push(0x01);
                out.extend(body.iter().map(|b| !b));
            } else {
                out.push(0x03);
                out.extend_from_slice(&body);
            }
        }
        Value::List(items) | Value::Set(items) => {
            for v in items {
                out.push(1);
                encode_component(v, false, out);
            }
            out.push(0);
        }
        Value::Map(entries) => {
            for (k, v) in entries {
                out.push(1);
                encode_component(k, false, out);
                encode_component(v, false, out);
            }
            out.push(0);
        }
        Value::Tuple(items) => {
            for v in items {
                match v {
                    None => out.push(1),
                    Some(v) => {
                        out.push(2);
                        encode_component(v, false, out);
                    }
                }
            }
            out.push(0);
        }
    }
}

fn varint_order_bytes(n: &BigInt, out: &mut Vec<u8>) {
    let (sign, magnitude) = n.to_bytes_be();
    match sign {
        Sign::NoSign => out.push(0x02),
        Sign::Plus => {
            out.push(0x03);
            out.extend_from_slice(&(magnitude.len() as u32).to_be_bytes());
            out.extend_from_slice(&magnitude);
        }
        Sign::Minus => {
            out.push(0x01);
            out.extend((magnitude.len() as u32).to_be_bytes().iter().map(|b| !b));
            out.extend(magnitude.iter().map(|b| !b));
        }
    }
}

/// Append `value` as a key component: its order bytes escaped and terminated, NOT-ed when
/// `descending`.
pub fn encode_component(value: &Value, descending: bool, out: &mut Vec<u8>) {
    let mut raw = Vec::new();
    order_bytes(value, &mut raw);
    escape_into(out, &raw, if descending { 0xFF } else { 0x00 });
}

/// Read a component written by [`encode_component`]: the value and the bytes it took.
pub fn decode_component(
    ty: &CqlType,
    descending: bool,
    input: &[u8],
) -> Result<(Value, usize), Error> {
    let (raw, used) = unescape(input, if descending { 0xFF } else { 0x00 })?;
    Ok((decode_order_bytes(ty, &raw)?, used))
}

/// The value of type `ty` whose [`order_bytes`] are `bytes` (all of them).
pub fn decode_order_bytes(ty: &CqlType, bytes: &[u8]) -> Result<Value, Error> {
    let mut r = OrderReader { bytes };
    let v = r.value(ty)?;
    if !r.bytes.is_empty() {
        return Err(corrupt("trailing bytes after a value"));
    }
    Ok(v)
}

struct OrderReader<'a> {
    bytes: &'a [u8],
}

impl OrderReader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let (head, rest) = self
            .bytes
            .split_first_chunk::<N>()
            .ok_or_else(|| corrupt("truncated value"))?;
        self.bytes = rest;
        Ok(*head)
    }

    fn rest(&mut self) -> &[u8] {
        std::mem::take(&mut self.bytes)
    }

    fn component(&mut self, ty: &CqlType) -> Result<Value, Error> {
        let (v, used) = decode_component(ty, false, self.bytes)?;
        self.bytes = &self.bytes[used..];
        Ok(v)
    }

    fn value(&mut self, ty: &CqlType) -> Result<Value, Error> {
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| corrupt("text not UTF-8"));
        Ok(match ty {
            CqlType::Frozen(inner) => return self.value(inner),
            CqlType::Ascii => Value::Ascii(text(self.rest())?),
            CqlType::Text => Value::Text(text(self.rest())?),
            CqlType::Blob => Value::Blob(Bytes::copy_from_slice(self.rest())),
            CqlType::BigInt => Value::BigInt(unflip_i64(self.take()?)),
            CqlType::Counter => Value::Counter(unflip_i64(self.take()?)),
            CqlType::Timestamp => Value::Timestamp(unflip_i64(self.take()?)),
            CqlType::Time => Value::Time(unflip_i64(self.take()?)),
            CqlType::Int => Value::Int((u32::from_be_bytes(self.take()?) ^ (1 << 31)) as i32),
            CqlType::SmallInt => {
                Value::SmallInt((u16::from_be_bytes(self.take()?) ^ (1 << 15)) as i16)
            }
            CqlType::TinyInt => Value::TinyInt((self.take::<1>()?[0] ^ 0x80) as i8),
            CqlType::Date => Value::Date(u32::from_be_bytes(self.take()?)),
            CqlType::Boolean => Value::Boolean(self.take::<1>()?[0] != 0),
            CqlType::Double => {
                let key = u64::from_be_bytes(self.take()?);
                let bits = if key >> 63 == 1 {
                    key ^ (1 << 63)
                } else {
                    !key
                };
                Value::Double(f64::from_bits(bits))
            }
            CqlType::Float => {
                let key = u32::from_be_bytes(self.take()?);
                let bits = if key >> 31 == 1 {
                    key ^ (1 << 31)
                } else {
                    !key
                };
                Value::Float(f32::from_bits(bits))
            }
            CqlType::Uuid => {
                let version = self.take::<1>()?[0];
                let high = u64::from_be_bytes(self.take()?);
                let lsb = u64::from_be_bytes(self.take()?);
                let msb = if version == 1 { unreorder(high) } else { high };
                Value::Uuid(uuid_of(msb, lsb))
            }
            CqlType::TimeUuid => {
                let msb = unreorder(u64::from_be_bytes(self.take()?));
                let lsb = u64::from_be_bytes(self.take()?) ^ TIMEUUID_LSB_FLIP;
                Value::TimeUuid(uuid_of(msb, lsb))
            }
            CqlType::Inet => {
                let b = self.rest();
                match b.len() {
                    4 => Value::Inet(std::net::IpAddr::from(
                        <[u8; 4]>::try_from(b).map_err(|_| corrupt("inet"))?,
                    )),
                    16 => Value::Inet(std::net::IpAddr::from(
                        <[u8; 16]>::try_from(b).map_err(|_| corrupt("inet"))?,
                    )),
                    _ => return Err(corrupt("inet length")),
                }
            }
            CqlType::VarInt => {
                let sign = self.take::<1>()?[0];
                match sign {
                    0x02 => Value::VarInt(BigInt::from(0)),
                    0x03 | 0x01 => {
                        let negative = sign == 0x01;
                        let flip = |b: u8| if negative { !b } else { b };
                        let len = u32::from_be_bytes(self.take::<4>()?.map(flip)) as usize;
                        if self.bytes.len() < len {
                            return Err(corrupt("varint length"));
                        }
                        let magnitude: Vec<u8> =
                            self.bytes[..len].iter().map(|&b| flip(b)).collect();
                        self.bytes = &self.bytes[len..];
                        let s = if negative { Sign::Minus } else { Sign::Plus };
                        Value::VarInt(BigInt::from_bytes_be(s, &magnitude))
                    }
                    _ => return Err(corrupt("varint sign")),
                }
            }
            CqlType::Decimal => {
                let sign = self.take::<1>()?[0];
                if sign == 0x02 {
                    return Ok(Value::Decimal {
                        unscaled: BigInt::from(0),
                        scale: 0,
                    });
                }
                let negative = match sign {
                    0x01 => true,
                    0x03 => false,
                    _ => return Err(corrupt("decimal sign")),
                };
                let body: Vec<u8> = self
                    .rest()
                    .iter()
                    .map(|&b| if negative { !b } else { b })
                    .collect();
                let (exponent, digits) = body
                    .split_first_chunk::<8>()
                    .ok_or_else(|| corrupt("decimal"))?;
                let exponent = unflip_i64(*exponent);
                let digits = digits
                    .strip_suffix(&[0])
                    .ok_or_else(|| corrupt("decimal end"))?;
                let text = std::str::from_utf8(digits).map_err(|_| corrupt("decimal digits"))?;
                let magnitude: BigInt = text.parse().map_err(|_| corrupt("decimal digits"))?;
                let scale = i32::try_from(digits.len() as i64 - exponent)
                    .map_err(|_| corrupt("decimal scale"))?;
                Value::Decimal {
                    unscaled: if negative { -magnitude } else { magnitude },
                    scale,
                }
            }
            CqlType::List(e) | CqlType::Set(e) => {
                let mut items = Vec::new();
                loop {
                    match self.take::<1>()?[0] {
                        0 => break,
                        1 => items.push(self.component(e)?),
                        _ => return Err(corrupt("collection marker")),
                    }
                }
                if matches!(ty, CqlType::Set(_)) {
                    Value::Set(items)
                } else {
                    Value::List(items)
                }
            }
            CqlType::Map(k, v) => {
                let mut entries = Vec::new();
                loop {
                    match self.take::<1>()?[0] {
                        0 => break,
                        1 => {
                            let key = self.component(k)?;
                            entries.push((key, self.component(v)?));
                        }
                        _ => return Err(corrupt("map marker")),
                    }
                }
                Value::Map(entries)
            }
            CqlType::Tuple(types) => {
                let mut items = Vec::new();
                let mut types = types.iter();
                loop {
                    match self.take::<1>()?[0] {
                        0 => break,
                        1 => {
                            types.next();
                            items.push(None);
                        }
                        2 => {
                            let t = types.next().ok_or_else(|| corrupt("tuple arity"))?;
                            items.push(Some(self.component(t)?));
                        }
                        _ => return Err(corrupt("tuple marker")),
                    }
                }
                Value::Tuple(items)
            }
        })
    }
}

/// The shortest byte string greater than every string starting with `prefix` (`None` when
/// `prefix` is all 0xFF: nothing is greater).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last != 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

/// The partition prefix of every key of a partition: token ‖ escape(key bytes).
pub fn partition_prefix(token: i64, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + key.len() + 2);
    out.extend_from_slice(&token_bytes(token));
    escape_into(&mut out, key, 0);
    out
}

/// A key's partition prefix length and the partition key bytes.
pub fn split_partition(key: &[u8]) -> Result<(usize, Vec<u8>), Error> {
    if key.len() < 8 {
        return Err(corrupt("no token"));
    }
    let (pk, used) = unescape(&key[8..], 0)?;
    Ok((8 + used, pk))
}

/// The length of the clustering components at the start of `input` (one per entry of
/// `descending`, the clustering columns' orders).
pub fn clustering_len(input: &[u8], descending: &[bool]) -> Result<usize, Error> {
    let mut at = 0;
    for &desc in descending {
        at += skip_escaped(&input[at..], if desc { 0xFF } else { 0 })?;
    }
    Ok(at)
}

/// A key's entry after its partition prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry<'a> {
    PartitionDeletion,
    /// The encoded range tombstone bounds (see [`range_tombstone_key`]).
    RangeTombstone(&'a [u8]),
    /// A static cell: column id and cell path.
    Static {
        column: u16,
        path: &'a [u8],
    },
    /// A row's entry: its encoded clustering and what follows it.
    Row {
        clustering: &'a [u8],
        item: RowItem<'a>,
    },
}

/// What a row key holds after the clustering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowItem<'a> {
    Deletion,
    Marker,
    Cell { column: u16, path: &'a [u8] },
}

fn cell_ref(rest: &[u8]) -> Result<(u16, &[u8]), Error> {
    let (id, path) = rest
        .split_first_chunk::<2>()
        .ok_or_else(|| corrupt("no column id"))?;
    Ok((u16::from_be_bytes(*id), path))
}

/// Parse what follows a key's partition prefix, for a table whose clustering columns have the
/// orders `descending`.
pub fn parse_entry<'a>(rest: &'a [u8], descending: &[bool]) -> Result<Entry<'a>, Error> {
    let (&kind, rest) = rest.split_first().ok_or_else(|| corrupt("no kind"))?;
    match kind {
        0 => Ok(Entry::PartitionDeletion),
        1 => Ok(Entry::RangeTombstone(rest)),
        2 => {
            let (&entry, rest) = rest.split_first().ok_or_else(|| corrupt("static entry"))?;
            if entry != RowEntry::Cell as u8 {
                return Err(corrupt("static entry kind"));
            }
            let (column, path) = cell_ref(rest)?;
            Ok(Entry::Static { column, path })
        }
        3 => {
            let n = clustering_len(rest, descending)?;
            let (clustering, rest) = rest.split_at(n);
            let (&entry, rest) = rest.split_first().ok_or_else(|| corrupt("row entry"))?;
            let item = match entry {
                0 => RowItem::Deletion,
                1 => RowItem::Marker,
                2 => {
                    let (column, path) = cell_ref(rest)?;
                    RowItem::Cell { column, path }
                }
                _ => return Err(corrupt("row entry kind")),
            };
            Ok(Entry::Row { clustering, item })
        }
        _ => Err(corrupt("kind")),
    }
}

/// The key of a partition's tombstone.
pub fn partition_deletion_key(prefix: &[u8]) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.push(KeyKind::PartitionDeletion as u8);
    k
}

/// A bound of a clustering range: encoded clustering prefix and whether it is inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub prefix: Vec<u8>,
    pub inclusive: bool,
}

impl Bound {
    /// The bound that includes everything (an empty prefix, inclusive).
    pub fn open() -> Bound {
        Bound {
            prefix: Vec::new(),
            inclusive: true,
        }
    }
}

/// Whether an encoded clustering lies at or after a start bound.
pub fn after_start(clustering: &[u8], start: &Bound) -> bool {
    if start.inclusive {
        clustering >= start.prefix.as_slice()
    } else {
        clustering > start.prefix.as_slice() && !clustering.starts_with(&start.prefix)
    }
}

/// Whether an encoded clustering lies at or before an end bound.
pub fn before_end(clustering: &[u8], end: &Bound) -> bool {
    if end.inclusive {
        clustering < end.prefix.as_slice() || clustering.starts_with(&end.prefix)
    } else {
        clustering < end.prefix.as_slice()
    }
}

/// The key of a range tombstone over `[start, end]` in key order.
pub fn range_tombstone_key(prefix: &[u8], start: &Bound, end: &Bound) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.push(KeyKind::RangeTombstone as u8);
    escape_into(&mut k, &start.prefix, 0);
    k.push(u8::from(start.inclusive));
    escape_into(&mut k, &end.prefix, 0);
    k.push(u8::from(end.inclusive));
    k
}

/// The bounds of a range tombstone from the bytes after its kind byte.
pub fn parse_range_tombstone(rest: &[u8]) -> Result<(Bound, Bound), Error> {
    let (start, used) = unescape(rest, 0)?;
    let rest = &rest[used..];
    let (&si, rest) = rest
        .split_first()
        .ok_or_else(|| corrupt("range tombstone"))?;
    let (end, used) = unescape(rest, 0)?;
    let ei = *rest.get(used).ok_or_else(|| corrupt("range tombstone"))?;
    Ok((
        Bound {
            prefix: start,
            inclusive: si != 0,
        },
        Bound {
            prefix: end,
            inclusive: ei != 0,
        },
    ))
}

/// The key of a static cell (`path` empty for a simple column or a collection tombstone).
pub fn static_cell_key(prefix: &[u8], column: u16, path: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 4 + path.len());
    k.extend_from_slice(prefix);
    k.push(KeyKind::Static as u8);
    k.push(RowEntry::Cell as u8);
    k.extend_from_slice(&column.to_be_bytes());
    k.extend_from_slice(path);
    k
}

/// The start of a row's keys: prefix ‖ 03 ‖ clustering.
pub fn row_prefix(prefix: &[u8], clustering: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 1 + clustering.len() + 4);
    k.extend_from_slice(prefix);
    k.push(KeyKind::Row as u8);
    k.extend_from_slice(clustering);
    k
}

/// The key of a row's tombstone or marker.
pub fn row_entry_key(prefix: &[u8], clustering: &[u8], entry: RowEntry) -> Vec<u8> {
    let mut k = row_prefix(prefix, clustering);
    k.push(entry as u8);
    k
}

/// The key of a row's cell.
pub fn row_cell_key(prefix: &[u8], clustering: &[u8], column: u16, path: &[u8]) -> Vec<u8> {
    let mut k = row_prefix(prefix, clustering);
    k.push(RowEntry::Cell as u8);
    k.extend_from_slice(&column.to_be_bytes());
    k.extend_from_slice(path);
    k
}

/// The order bytes of a collection cell path (set element, map key, list timeuuid).
pub fn cell_path(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    order_bytes(value, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Ordering;
    use std::net::IpAddr;

    fn arb_uuid() -> impl Strategy<Value = Uuid> {
        (any::<u128>(), 0u8..6).prop_map(|(n, v)| {
            // Every version, including 1 (time-based), with the RFC variant.
            let n = (n & !(0xF << 76)) | (u128::from(v) << 76);
            Uuid::from_u128(n)
        })
    }

    fn arb_timeuuid() -> impl Strategy<Value = Uuid> {
        any::<u128>().prop_map(|n| Uuid::from_u128((n & !(0xF << 76)) | (1 << 76)))
    }

    fn arb_decimal() -> impl Strategy<Value = Value> {
        (any::<i64>(), -20i32..20, 0u32..3).prop_map(|(u, s, pad)| {
            // Padding with zeros makes equal decimals with different scales (1.5 and 1.50).
            let unscaled = BigInt::from(u) * BigInt::from(10).pow(pad);
            Value::Decimal {
                unscaled,
                scale: s + pad as i32,
            }
        })
    }

    fn arb_varint() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<i64>().prop_map(|n| Value::VarInt(BigInt::from(n))),
            (any::<i128>(), any::<i64>())
                .prop_map(|(a, b)| Value::VarInt(BigInt::from(a) * BigInt::from(b))),
            Just(Value::VarInt(BigInt::from(0))),
        ]
    }

    fn arb_text() -> impl Strategy<Value = String> {
        prop_oneof![".{0,8}", "[a\u{0}\u{ff}é]{0,6}"]
    }

    fn native(ty: &CqlType) -> BoxedStrategy<Value> {
        match ty {
            CqlType::Ascii => "[\u{0}-\u{7f}]{0,8}".prop_map(Value::Ascii).boxed(),
            CqlType::Text => arb_text().prop_map(Value::Text).boxed(),
            CqlType::Blob => {
                proptest::collection::vec(prop_oneof![Just(0u8), Just(0xFF), any::<u8>()], 0..8)
                    .prop_map(|b| Value::Blob(Bytes::from(b)))
                    .boxed()
            }
            CqlType::BigInt => any::<i64>().prop_map(Value::BigInt).boxed(),
            CqlType::Int => any::<i32>().prop_map(Value::Int).boxed(),
            CqlType::SmallInt => any::<i16>().prop_map(Value::SmallInt).boxed(),
            CqlType::TinyInt => any::<i8>().prop_map(Value::TinyInt).boxed(),
            CqlType::Boolean => any::<bool>().prop_map(Value::Boolean).boxed(),
            CqlType::Date => any::<u32>().prop_map(Value::Date).boxed(),
            CqlType::Time => (0..fastdata_cql::value::NANOS_PER_DAY)
                .prop_map(Value::Time)
                .boxed(),
            CqlType::Timestamp => any::<i64>().prop_map(Value::Timestamp).boxed(),
            CqlType::Double => prop_oneof![
                any::<f64>(),
                Just(0.0),
                Just(-0.0),
                Just(f64::INFINITY),
                Just(f64::NEG_INFINITY),
                Just(f64::NAN)
            ]
            .prop_map(Value::Double)
            .boxed(),
            CqlType::Float => prop_oneof![any::<f32>(), Just(-0.0f32), Just(f32::NAN)]
                .prop_map(Value::Float)
                .boxed(),
            CqlType::Uuid => arb_uuid().prop_map(Value::Uuid).boxed(),
            CqlType::TimeUuid => arb_timeuuid().prop_map(Value::TimeUuid).boxed(),
            CqlType::Inet => prop_oneof![
                any::<[u8; 4]>().prop_map(IpAddr::from),
                any::<[u8; 16]>().prop_map(IpAddr::from),
            ]
            .prop_map(Value::Inet)
            .boxed(),
            CqlType::VarInt => arb_varint().boxed(),
            CqlType::Decimal => arb_decimal().boxed(),
            other => panic!("not native: {other}"),
        }
    }

    fn arb_value(ty: &CqlType) -> BoxedStrategy<Value> {
        match ty {
            CqlType::Frozen(inner) => arb_value(inner),
            CqlType::List(e) => proptest::collection::vec(arb_value(e), 0..4)
                .prop_map(Value::List)
                .boxed(),
            CqlType::Set(e) => proptest::collection::vec(arb_value(e), 0..4)
                .prop_map(Value::set)
                .boxed(),
            CqlType::Map(k, v) => proptest::collection::vec((arb_value(k), arb_value(v)), 0..4)
                .prop_map(Value::map)
                .boxed(),
            CqlType::Tuple(types) => {
                let parts: Vec<BoxedStrategy<Option<Value>>> = types
                    .iter()
                    .map(|t| proptest::option::of(arb_value(t)).boxed())
                    .collect();
                parts.prop_map(Value::Tuple).boxed()
            }
            t => native(t),
        }
    }

    fn check_pair(ty: &CqlType, a: &Value, b: &Value, desc: bool) {
        let (mut ea, mut eb) = (Vec::new(), Vec::new());
        encode_component(a, desc, &mut ea);
        encode_component(b, desc, &mut eb);
        let want = if desc { b.cql_cmp(a) } else { a.cql_cmp(b) };
        assert_eq!(ea.cmp(&eb), want, "{ty}: {a:?} vs {b:?} (desc {desc})");
        // The component decodes to a value equal to the original, and takes all its bytes.
        let (back, used) = decode_component(ty, desc, &ea).unwrap();
        assert_eq!(used, ea.len());
        assert_eq!(
            back.cql_cmp(a),
            Ordering::Equal,
            "{ty}: {a:?} decoded as {back:?}"
        );
    }

    fn pair(ty: &str) -> impl Strategy<Value = (CqlType, Value, Value)> {
        let ty = CqlType::parse(ty).unwrap();
        (Just(ty.clone()), arb_value(&ty), arb_value(&ty))
    }

    /// One property per type: its component encoding sorts as CQL orders its values,
    /// ascending and descending, and decodes back.
    macro_rules! order_properties {
        ($($name:ident: $ty:expr,)*) => {
            proptest! {
                #![proptest_config(ProptestConfig::with_cases(256))]
                $(
                    #[test]
                    fn $name((ty, a, b) in pair($ty)) {
                        check_pair(&ty, &a, &b, false);
                        check_pair(&ty, &a, &b, true);
                    }
                )*
            }
        };
    }

    order_properties! {
        ascii_sorts_as_cql: "ascii",
        text_sorts_as_cql: "text",
        blob_sorts_as_cql: "blob",
        bigint_sorts_as_cql: "bigint",
        int_sorts_as_cql: "int",
        smallint_sorts_as_cql: "smallint",
        tinyint_sorts_as_cql: "tinyint",
        boolean_sorts_as_cql: "boolean",
        date_sorts_as_cql: "date",
        time_sorts_as_cql: "time",
        timestamp_sorts_as_cql: "timestamp",
        double_sorts_as_cql: "double",
        float_sorts_as_cql: "float",
        uuid_sorts_as_cql: "uuid",
        timeuuid_sorts_as_cql: "timeuuid",
        inet_sorts_as_cql: "inet",
        varint_sorts_as_cql: "varint",
        decimal_sorts_as_cql: "decimal",
        frozen_list_sorts_as_cql: "frozen<list<int>>",
        frozen_set_sorts_as_cql: "frozen<set<text>>",
        frozen_map_sorts_as_cql: "frozen<map<text, bigint>>",
        tuple_sorts_as_cql: "tuple<int, text>",
        nested_frozen_sorts_as_cql: "frozen<list<frozen<tuple<blob, double>>>>",
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Composite clustering keys (an ASC and a DESC column, or both of either) sort
        /// column by column, each in its own order.
        #[test]
        fn composite_clustering_sorts_column_by_column(
            a1 in arb_value(&CqlType::Text), a2 in arb_value(&CqlType::Int),
            b1 in arb_value(&CqlType::Text), b2 in arb_value(&CqlType::Int),
            d1 in any::<bool>(), d2 in any::<bool>(),
        ) {
            let enc = |x: &Value, y: &Value| {
                let mut out = Vec::new();
                encode_component(x, d1, &mut out);
                encode_component(y, d2, &mut out);
                out
            };
            let ord = |o: Ordering, d: bool| if d { o.reverse() } else { o };
            let want = ord(a1.cql_cmp(&b1), d1).then(ord(a2.cql_cmp(&b2), d2));
            prop_assert_eq!(enc(&a1, &a2).cmp(&enc(&b1, &b2)), want);
            let e = enc(&a1, &a2);
            prop_assert_eq!(clustering_len(&e, &[d1, d2]).unwrap(), e.len());
        }

        /// Escaping keeps the order of arbitrary byte strings and round-trips.
        #[test]
        fn escaping_preserves_order(a in proptest::collection::vec(any::<u8>(), 0..6),
                                    b in proptest::collection::vec(any::<u8>(), 0..6)) {
            for flip in [0u8, 0xFF] {
                let (mut ea, mut eb) = (Vec::new(), Vec::new());
                escape_into(&mut ea, &a, flip);
                escape_into(&mut eb, &b, flip);
                let want = if flip == 0 { a.cmp(&b) } else { b.cmp(&a) };
                prop_assert_eq!(ea.cmp(&eb), want);
                prop_assert_eq!(unescape(&ea, flip).unwrap(), (a.clone(), ea.len()));
                prop_assert_eq!(skip_escaped(&ea, flip).unwrap(), ea.len());
            }
        }
    }

    #[test]
    fn equal_decimals_share_one_encoding_and_decode_normalized() {
        let d = |u: i64, s| Value::Decimal {
            unscaled: BigInt::from(u),
            scale: s,
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        order_bytes(&d(150, 2), &mut a);
        order_bytes(&d(15, 1), &mut b);
        assert_eq!(a, b);
        assert_eq!(decode_order_bytes(&CqlType::Decimal, &a).unwrap(), d(15, 1));
        let mut z = Vec::new();
        order_bytes(&d(0, 7), &mut z);
        assert_eq!(decode_order_bytes(&CqlType::Decimal, &z).unwrap(), d(0, 0));
    }

    #[test]
    fn key_layout_parses_back() {
        let prefix = partition_prefix(-5, b"k\0ey");
        assert_eq!(key_token(&prefix).unwrap(), -5);
        let (n, pk) = split_partition(&prefix).unwrap();
        assert_eq!((n, pk.as_slice()), (prefix.len(), &b"k\0ey"[..]));
        let mut ck = Vec::new();
        encode_component(&Value::Int(7), true, &mut ck);
        encode_component(&Value::Text("a".into()), false, &mut ck);
        let desc = [true, false];
        let cell = row_cell_key(&prefix, &ck, 3, b"path");
        assert_eq!(
            parse_entry(&cell[n..], &desc).unwrap(),
            Entry::Row {
                clustering: &ck,
                item: RowItem::Cell {
                    column: 3,
                    path: b"path"
                }
            }
        );
        let marker = row_entry_key(&prefix, &ck, RowEntry::Marker);
        assert_eq!(
            parse_entry(&marker[n..], &desc).unwrap(),
            Entry::Row {
                clustering: &ck,
                item: RowItem::Marker
            }
        );
        let st = static_cell_key(&prefix, 9, b"");
        assert_eq!(
            parse_entry(&st[n..], &desc).unwrap(),
            Entry::Static {
                column: 9,
                path: b""
            }
        );
        let start = Bound {
            prefix: ck[..4].to_vec(),
            inclusive: false,
        };
        let rt = range_tombstone_key(&prefix, &start, &Bound::open());
        let Entry::RangeTombstone(rest) = parse_entry(&rt[n..], &desc).unwrap() else {
            panic!("not a range tombstone")
        };
        assert_eq!(parse_range_tombstone(rest).unwrap(), (start, Bound::open()));
        // Partition-level entries sort before the rows.
        let pd = partition_deletion_key(&prefix);
        assert!(pd < rt && rt < st && st < marker && marker < cell);
    }

    #[test]
    fn bounds_include_and_exclude_prefixes() {
        let mut five = Vec::new();
        encode_component(&Value::Int(5), false, &mut five);
        let mut five_a = five.clone();
        encode_component(&Value::Text("a".into()), false, &mut five_a);
        let mut six = Vec::new();
        encode_component(&Value::Int(6), false, &mut six);
        let incl = Bound {
            prefix: five.clone(),
            inclusive: true,
        };
        let excl = Bound {
            prefix: five.clone(),
            inclusive: false,
        };
        assert!(after_start(&five_a, &incl) && !after_start(&five_a, &excl));
        assert!(after_start(&six, &excl));
        assert!(before_end(&five_a, &incl) && !before_end(&five_a, &excl));
        assert!(!before_end(&six, &incl));
        assert_eq!(prefix_successor(&[1, 0xFF, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xFF]), None);
    }
}
