//! CQL values: one Rust value per CQL type, their native-protocol serialization (spec v4 §6:
//! the same bytes clients send as bind values and receive in rows, and what the store keeps in
//! cells), their CQL literal form, and the order Cassandra sorts them in (clustering order).
//!
//! Null is not a [`Value`]: a nullable value is an `Option<Value>` (the protocol's length -1).
//! Set elements and map keys are kept sorted and unique, in CQL order.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::net::IpAddr;

use bytes::{BufMut, Bytes, BytesMut};
use num_bigint::BigInt;
use uuid::Uuid;

use crate::types::CqlType;

/// `date`: days since 1970-01-01, stored with 2^31 at the epoch (spec v4 §6.18).
pub const DATE_EPOCH: u32 = 1 << 31;

/// Nanoseconds in a day: the bound of `time` values.
pub const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// A non-null CQL value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Ascii(String),
    BigInt(i64),
    Blob(Bytes),
    Boolean(bool),
    Counter(i64),
    /// Days, with [`DATE_EPOCH`] at 1970-01-01.
    Date(u32),
    /// `unscaled × 10^-scale`.
    Decimal {
        unscaled: BigInt,
        scale: i32,
    },
    Double(f64),
    Float(f32),
    Inet(IpAddr),
    Int(i32),
    SmallInt(i16),
    Text(String),
    /// Nanoseconds since midnight.
    Time(i64),
    /// Milliseconds since the epoch.
    Timestamp(i64),
    TimeUuid(Uuid),
    TinyInt(i8),
    Uuid(Uuid),
    VarInt(BigInt),
    List(Vec<Value>),
    /// Sorted and unique in CQL order.
    Set(Vec<Value>),
    /// Sorted by key, keys unique, in CQL order.
    Map(Vec<(Value, Value)>),
    Tuple(Vec<Option<Value>>),
}

/// Why bytes are not a value of a type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {ty} value: {reason}")]
pub struct ValueError {
    pub ty: String,
    pub reason: String,
}

fn invalid(ty: &CqlType, reason: impl Into<String>) -> ValueError {
    ValueError {
        ty: ty.to_string(),
        reason: reason.into(),
    }
}

fn fixed<const N: usize>(ty: &CqlType, bytes: &[u8]) -> Result<[u8; N], ValueError> {
    bytes
        .try_into()
        .map_err(|_| invalid(ty, format!("expected {N} bytes, got {}", bytes.len())))
}

/// Reads `[int n][bytes]` items (the collection element framing).
struct Reader<'a> {
    ty: &'a CqlType,
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn int(&mut self) -> Result<i32, ValueError> {
        let (head, rest) = self
            .bytes
            .split_first_chunk::<4>()
            .ok_or_else(|| invalid(self.ty, "truncated length"))?;
        self.bytes = rest;
        Ok(i32::from_be_bytes(*head))
    }

    /// `None` for a negative length (null).
    fn item(&mut self) -> Result<Option<&'a [u8]>, ValueError> {
        let len = self.int()?;
        let Ok(len) = usize::try_from(len) else {
            return Ok(None);
        };
        if len > self.bytes.len() {
            return Err(invalid(
                self.ty,
                format!("element of {len} bytes, {} left", self.bytes.len()),
            ));
        }
        let (item, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(Some(item))
    }

    fn count(&mut self) -> Result<usize, ValueError> {
        let n = self.int()?;
        let n = usize::try_from(n).map_err(|_| invalid(self.ty, format!("negative count {n}")))?;
        // Every element takes at least its 4-byte length: a count beyond that is a lie.
        if n > self.bytes.len() / 4 {
            return Err(invalid(
                self.ty,
                format!("{n} elements cannot fit in {} bytes", self.bytes.len()),
            ));
        }
        Ok(n)
    }

    fn finish(&self) -> Result<(), ValueError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(invalid(
                self.ty,
                format!("{} trailing bytes", self.bytes.len()),
            ))
        }
    }
}

impl Value {
    /// Decode the protocol serialization of a value of type `ty` (not null: the caller handles
    /// the -1 length).
    pub fn decode(ty: &CqlType, bytes: &[u8]) -> Result<Value, ValueError> {
        let text =
            |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| invalid(ty, "not valid UTF-8"));
        Ok(match ty {
            CqlType::Frozen(inner) => return Value::decode(inner, bytes),
            CqlType::Ascii => {
                if !bytes.is_ascii() {
                    return Err(invalid(ty, "not US-ASCII"));
                }
                Value::Ascii(text(bytes)?)
            }
            CqlType::Text => Value::Text(text(bytes)?),
            CqlType::Blob => Value::Blob(Bytes::copy_from_slice(bytes)),
            CqlType::BigInt => Value::BigInt(i64::from_be_bytes(fixed(ty, bytes)?)),
            CqlType::Counter => Value::Counter(i64::from_be_bytes(fixed(ty, bytes)?)),
            CqlType::Timestamp => Value::Timestamp(i64::from_be_bytes(fixed(ty, bytes)?)),
            CqlType::Time => {
                let ns = i64::from_be_bytes(fixed(ty, bytes)?);
                if !(0..NANOS_PER_DAY).contains(&ns) {
                    return Err(invalid(ty, format!("{ns} ns is outside a day")));
                }
                Value::Time(ns)
            }
            CqlType::Int => Value::Int(i32::from_be_bytes(fixed(ty, bytes)?)),
            CqlType::Date => Value::Date(u32::from_be_bytes(fixed(ty, bytes)?)),
            CqlType::SmallInt => Value::SmallInt(i16::from_be_bytes(fixed(ty, bytes)?)),
            CqlType::TinyInt => Value::TinyInt(i8::from_be_bytes(fixed(ty, bytes)?)),
            CqlType::Boolean => Value::Boolean(fixed::<1>(ty, bytes)?[0] != 0),
            CqlType::Double => Value::Double(f64::from_be_bytes(fixed(ty, bytes)?)),
            CqlType::Float => Value::Float(f32::from_be_bytes(fixed(ty, bytes)?)),
            CqlType::Uuid => Value::Uuid(Uuid::from_bytes(fixed(ty, bytes)?)),
            CqlType::TimeUuid => {
                let u = Uuid::from_bytes(fixed(ty, bytes)?);
                if u.get_version_num() != 1 {
                    return Err(invalid(
                        ty,
                        format!("{u} is not a version 1 (time-based) UUID"),
                    ));
                }
                Value::TimeUuid(u)
            }
            CqlType::Inet => match bytes.len() {
                4 => Value::Inet(IpAddr::from(fixed::<4>(ty, bytes)?)),
                16 => Value::Inet(IpAddr::from(fixed::<16>(ty, bytes)?)),
                n => return Err(invalid(ty, format!("expected 4 or 16 bytes, got {n}"))),
            },
            CqlType::VarInt => {
                if bytes.is_empty() {
                    return Err(invalid(ty, "empty"));
                }
                Value::VarInt(BigInt::from_signed_bytes_be(bytes))
            }
            CqlType::Decimal => {
                let (scale, unscaled) = bytes
                    .split_first_chunk::<4>()
                    .ok_or_else(|| invalid(ty, "shorter than its scale"))?;
                if unscaled.is_empty() {
                    return Err(invalid(ty, "no unscaled value"));
                }
                Value::Decimal {
                    unscaled: BigInt::from_signed_bytes_be(unscaled),
                    scale: i32::from_be_bytes(*scale),
                }
            }
            CqlType::List(e) | CqlType::Set(e) => {
                let mut r = Reader { ty, bytes };
                let n = r.count()?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    let item = r.item()?.ok_or_else(|| invalid(ty, "null element"))?;
                    items.push(Value::decode(e, item)?);
                }
                r.finish()?;
                if matches!(ty, CqlType::Set(_)) {
                    Value::set(items)
                } else {
                    Value::List(items)
                }
            }
            CqlType::Map(k, v) => {
                let mut r = Reader { ty, bytes };
                let n = r.count()?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let key = r.item()?.ok_or_else(|| invalid(ty, "null key"))?;
                    let value = r.item()?.ok_or_else(|| invalid(ty, "null value"))?;
                    entries.push((Value::decode(k, key)?, Value::decode(v, value)?));
                }
                r.finish()?;
                Value::map(entries)
            }
            CqlType::Tuple(types) => {
                let mut r = Reader { ty, bytes };
                let mut items = Vec::with_capacity(types.len());
                for t in types {
                    // A tuple may be sent with fewer components than its type: the rest are null.
                    if r.bytes.is_empty() {
                        items.push(None);
                        continue;
                    }
                    items.push(match r.item()? {
                        Some(b) => Some(Value::decode(t, b)?),
                        None => None,
                    });
                }
                r.finish()?;
                Value::Tuple(items)
            }
        })
    }

    /// The protocol serialization (the inverse of [`Value::decode`]).
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode_into(&mut out);
        out.freeze()
    }

    /// [`Value::encode`] appended to `out`.
    pub fn encode_into(&self, out: &mut BytesMut) {
        fn item(out: &mut BytesMut, v: &Value) {
            let at = out.len();
            out.put_i32(0);
            v.encode_into(out);
            let len = i32::try_from(out.len() - at - 4).unwrap_or(i32::MAX);
            out[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        match self {
            Value::Ascii(s) | Value::Text(s) => out.put_slice(s.as_bytes()),
            Value::Blob(b) => out.put_slice(b),
            Value::BigInt(n) | Value::Counter(n) | Value::Timestamp(n) | Value::Time(n) => {
                out.put_i64(*n)
            }
            Value::Int(n) => out.put_i32(*n),
            Value::Date(d) => out.put_u32(*d),
            Value::SmallInt(n) => out.put_i16(*n),
            Value::TinyInt(n) => out.put_i8(*n),
            Value::Boolean(b) => out.put_u8(u8::from(*b)),
            Value::Double(d) => out.put_f64(*d),
            Value::Float(f) => out.put_f32(*f),
            Value::Uuid(u) | Value::TimeUuid(u) => out.put_slice(u.as_bytes()),
            Value::Inet(IpAddr::V4(a)) => out.put_slice(&a.octets()),
            Value::Inet(IpAddr::V6(a)) => out.put_slice(&a.octets()),
            Value::VarInt(n) => out.put_slice(&n.to_signed_bytes_be()),
            Value::Decimal { unscaled, scale } => {
                out.put_i32(*scale);
                out.put_slice(&unscaled.to_signed_bytes_be());
            }
            Value::List(items) | Value::Set(items) => {
                out.put_i32(count(items.len()));
                for v in items {
                    item(out, v);
                }
            }
            Value::Map(entries) => {
                out.put_i32(count(entries.len()));
                for (k, v) in entries {
                    item(out, k);
                    item(out, v);
                }
            }
            Value::Tuple(items) => {
                for v in items {
                    match v {
                        Some(v) => item(out, v),
                        None => out.put_i32(-1),
                    }
                }
            }
        }
    }

    /// A set: sorted in CQL order, duplicates dropped.
    pub fn set(mut items: Vec<Value>) -> Value {
        items.sort_by(Value::cql_cmp);
        items.dedup_by(|a, b| a.cql_cmp(b) == Ordering::Equal);
        Value::Set(items)
    }

    /// A map: sorted by key in CQL order; of equal keys the last one wins.
    pub fn map(entries: Vec<(Value, Value)>) -> Value {
        let mut out: Vec<(Value, Value)> = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            match out.binary_search_by(|(e, _)| e.cql_cmp(&k)) {
                Ok(i) => out[i].1 = v,
                Err(i) => out.insert(i, (k, v)),
            }
        }
        Value::Map(out)
    }

    /// Cassandra's order of two values of the same type (the order of clustering columns,
    /// set elements and map keys): numbers by value, text and blobs by unsigned bytes, `uuid`
    /// by version then time (version 1) or bytes, `timeuuid` by time then signed bytes, dates
    /// and inets by unsigned bytes, floats by IEEE total order, collections and tuples element
    /// by element (a null tuple component first). Values of different types compare by their
    /// variant.
    pub fn cql_cmp(&self, other: &Value) -> Ordering {
        use Value::*;
        match (self, other) {
            (Ascii(a), Ascii(b)) | (Text(a), Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Blob(a), Blob(b)) => a.cmp(b),
            (BigInt(a), BigInt(b))
            | (Counter(a), Counter(b))
            | (Timestamp(a), Timestamp(b))
            | (Time(a), Time(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Date(a), Date(b)) => a.cmp(b),
            (SmallInt(a), SmallInt(b)) => a.cmp(b),
            (TinyInt(a), TinyInt(b)) => a.cmp(b),
            (Boolean(a), Boolean(b)) => a.cmp(b),
            (Double(a), Double(b)) => a.total_cmp(b),
            (Float(a), Float(b)) => a.total_cmp(b),
            (Uuid(a), Uuid(b)) => uuid_cmp(a, b),
            (TimeUuid(a), TimeUuid(b)) => timeuuid_cmp(a, b),
            (Inet(a), Inet(b)) => inet_bytes(a).cmp(&inet_bytes(b)),
            (VarInt(a), VarInt(b)) => a.cmp(b),
            (
                Decimal {
                    unscaled: a,
                    scale: sa,
                },
                Decimal {
                    unscaled: b,
                    scale: sb,
                },
            ) => decimal_cmp(a, *sa, b, *sb),
            (List(a), List(b)) | (Set(a), Set(b)) => seq_cmp(a.iter(), b.iter(), Value::cql_cmp),
            (Map(a), Map(b)) => seq_cmp(a.iter(), b.iter(), |(ka, va), (kb, vb)| {
                ka.cql_cmp(kb).then_with(|| va.cql_cmp(vb))
            }),
            (Tuple(a), Tuple(b)) => seq_cmp(a.iter(), b.iter(), |x, y| match (x, y) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) => x.cql_cmp(y),
            }),
            _ => self.rank().cmp(&other.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Ascii(_) => 0,
            Value::BigInt(_) => 1,
            Value::Blob(_) => 2,
            Value::Boolean(_) => 3,
            Value::Counter(_) => 4,
            Value::Date(_) => 5,
            Value::Decimal { .. } => 6,
            Value::Double(_) => 7,
            Value::Float(_) => 8,
            Value::Inet(_) => 9,
            Value::Int(_) => 10,
            Value::SmallInt(_) => 11,
            Value::Text(_) => 12,
            Value::Time(_) => 13,
            Value::Timestamp(_) => 14,
            Value::TimeUuid(_) => 15,
            Value::TinyInt(_) => 16,
            Value::Uuid(_) => 17,
            Value::VarInt(_) => 18,
            Value::List(_) => 19,
            Value::Set(_) => 20,
            Value::Map(_) => 21,
            Value::Tuple(_) => 22,
        }
    }

    /// The value as a CQL literal: `'it''s'`, `42`, `0xcafe`, `2024-01-31`, `{1, 2}`,
    /// `{'k': 1}`, `(1, 'a', null)`; parseable again as a value of its type.
    pub fn to_cql_literal(&self) -> String {
        let mut out = String::new();
        self.write_literal(&mut out);
        out
    }

    fn write_literal(&self, out: &mut String) {
        let quoted = |out: &mut String, s: &str| {
            out.push('\'');
            out.push_str(&s.replace('\'', "''"));
            out.push('\'');
        };
        let list =
            |out: &mut String, open: char, close: char, items: &mut dyn Iterator<Item = &Value>| {
                out.push(open);
                for (i, v) in items.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write_literal(out);
                }
                out.push(close);
            };
        match self {
            Value::Ascii(s) | Value::Text(s) => quoted(out, s),
            Value::Blob(b) => {
                out.push_str("0x");
                for byte in b.iter() {
                    let _ = write!(out, "{byte:02x}");
                }
            }
            Value::BigInt(n) | Value::Counter(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Value::SmallInt(n) => {
                let _ = write!(out, "{n}");
            }
            Value::TinyInt(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Boolean(b) => {
                let _ = write!(out, "{b}");
            }
            Value::Double(d) => write_float(out, *d),
            Value::Float(f) => write_float(out, f64::from(*f)),
            Value::VarInt(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Decimal { unscaled, scale } => out.push_str(&decimal_string(unscaled, *scale)),
            Value::Uuid(u) | Value::TimeUuid(u) => {
                let _ = write!(out, "{u}");
            }
            Value::Inet(a) => quoted(out, &a.to_string()),
            Value::Timestamp(ms) => quoted(out, &timestamp_string(*ms)),
            Value::Date(d) => quoted(out, &date_string(*d)),
            Value::Time(ns) => quoted(out, &time_string(*ns)),
            Value::List(items) => list(out, '[', ']', &mut items.iter()),
            Value::Set(items) => list(out, '{', '}', &mut items.iter()),
            Value::Map(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    k.write_literal(out);
                    out.push_str(": ");
                    v.write_literal(out);
                }
                out.push('}');
            }
            Value::Tuple(items) => {
                out.push('(');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    match v {
                        Some(v) => v.write_literal(out),
                        None => out.push_str("null"),
                    }
                }
                out.push(')');
            }
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_cql_literal())
    }
}

fn write_float(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("NaN");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        let _ = write!(out, "{x:?}");
    }
}

fn seq_cmp<'a, T: 'a>(
    a: impl Iterator<Item = &'a T>,
    mut b: impl Iterator<Item = &'a T>,
    cmp: impl Fn(&T, &T) -> Ordering,
) -> Ordering {
    for x in a {
        match b.next() {
            None => return Ordering::Greater,
            Some(y) => match cmp(x, y) {
                Ordering::Equal => {}
                other => return other,
            },
        }
    }
    if b.next().is_some() {
        Ordering::Less
    } else {
        Ordering::Equal
    }
}

fn inet_bytes(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Cassandra's `TimeUUIDType.reorderTimestampBytes`: the 60-bit time first.
fn reorder_timestamp(msb: u64) -> u64 {
    (msb << 48) | ((msb << 16) & 0xFFFF_0000_0000) | (msb >> 32)
}

fn halves(u: &Uuid) -> (u64, u64) {
    let b = u.as_bytes();
    let mut msb = [0u8; 8];
    let mut lsb = [0u8; 8];
    msb.copy_from_slice(&b[..8]);
    lsb.copy_from_slice(&b[8..]);
    (u64::from_be_bytes(msb), u64::from_be_bytes(lsb))
}

/// Cassandra's `UUIDType`: version, then the time (version 1) or the high bits, then the low
/// bits, unsigned.
pub fn uuid_cmp(a: &Uuid, b: &Uuid) -> Ordering {
    let ((ma, la), (mb, lb)) = (halves(a), halves(b));
    let (va, vb) = ((ma >> 12) & 0xf, (mb >> 12) & 0xf);
    va.cmp(&vb)
        .then_with(|| {
            if va == 1 {
                reorder_timestamp(ma).cmp(&reorder_timestamp(mb))
            } else {
                ma.cmp(&mb)
            }
        })
        .then_with(|| la.cmp(&lb))
}

/// Cassandra's `TimeUUIDType`: the time, then the low bytes compared as signed bytes.
pub fn timeuuid_cmp(a: &Uuid, b: &Uuid) -> Ordering {
    let ((ma, la), (mb, lb)) = (halves(a), halves(b));
    let signed = |x: u64| (x ^ 0x0080_8080_8080_8080) as i64;
    reorder_timestamp(ma)
        .cmp(&reorder_timestamp(mb))
        .then_with(|| signed(la).cmp(&signed(lb)))
}

fn pow10(n: u32) -> BigInt {
    BigInt::from(10u32).pow(n)
}

/// Compare `a × 10^-sa` with `b × 10^-sb` (1.0 equals 1.00).
pub fn decimal_cmp(a: &BigInt, sa: i32, b: &BigInt, sb: i32) -> Ordering {
    let top = sa.max(sb);
    let scale_up =
        |x: &BigInt, s: i32| x * pow10(u32::try_from(i64::from(top) - i64::from(s)).unwrap_or(0));
    scale_up(a, sa).cmp(&scale_up(b, sb))
}

/// A decimal's plain digits: `unscaled × 10^-scale`, e.g. (12345, 2) → `123.45`.
pub fn decimal_string(unscaled: &BigInt, scale: i32) -> String {
    let negative = unscaled.sign() == num_bigint::Sign::Minus;
    let digits = unscaled.magnitude().to_string();
    let body = if scale <= 0 {
        let zeros = "0".repeat(usize::try_from(-i64::from(scale)).unwrap_or(0));
        if digits == "0" {
            digits
        } else {
            format!("{digits}{zeros}")
        }
    } else {
        let scale = usize::try_from(scale).unwrap_or(0);
        let padded = if digits.len() <= scale {
            format!("{}{digits}", "0".repeat(scale - digits.len() + 1))
        } else {
            digits
        };
        let (int, frac) = padded.split_at(padded.len() - scale);
        format!("{int}.{frac}")
    };
    if negative {
        format!("-{body}")
    } else {
        body
    }
}

/// Days since the epoch as `yyyy-mm-dd` (proleptic Gregorian).
pub fn date_string(date: u32) -> String {
    let days = i64::from(date) - i64::from(DATE_EPOCH);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Milliseconds since the epoch as `yyyy-mm-dd hh:mm:ss.fff+0000` (UTC), as cqlsh prints them.
pub fn timestamp_string(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, rest) = (in_day / 3_600_000, in_day % 3_600_000);
    let (min, rest) = (rest / 60_000, rest % 60_000);
    let (s, milli) = (rest / 1000, rest % 1000);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02}:{s:02}.{milli:03}+0000")
}

/// Nanoseconds since midnight as `hh:mm:ss.nnnnnnnnn`.
pub fn time_string(ns: i64) -> String {
    let (h, rest) = (ns / 3_600_000_000_000, ns % 3_600_000_000_000);
    let (m, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let (s, n) = (rest / 1_000_000_000, rest % 1_000_000_000);
    format!("{h:02}:{m:02}:{s:02}.{n:09}")
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The day count since 1970-01-01 of a civil date (the inverse of [`civil_from_days`]).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(ty: &str, v: Value) {
        let ty = CqlType::parse(ty).unwrap();
        let bytes = v.encode();
        assert_eq!(Value::decode(&ty, &bytes).unwrap(), v, "{ty}");
    }

    #[test]
    fn every_type_round_trips_through_its_protocol_bytes() {
        round_trip("ascii", Value::Ascii("abc".into()));
        round_trip("text", Value::Text("château".into()));
        round_trip("blob", Value::Blob(Bytes::from_static(b"\x00\xff")));
        round_trip("bigint", Value::BigInt(-5));
        round_trip("int", Value::Int(i32::MIN));
        round_trip("smallint", Value::SmallInt(-2));
        round_trip("tinyint", Value::TinyInt(7));
        round_trip("boolean", Value::Boolean(true));
        round_trip("double", Value::Double(1.5));
        round_trip("float", Value::Float(-0.25));
        round_trip("timestamp", Value::Timestamp(1_700_000_000_123));
        round_trip("date", Value::Date(DATE_EPOCH + 19_000));
        round_trip("time", Value::Time(3_600_000_000_000));
        round_trip(
            "uuid",
            Value::Uuid(Uuid::from_u128(0x123e4567_e89b_12d3_a456_426614174000)),
        );
        round_trip(
            "timeuuid",
            Value::TimeUuid(Uuid::from_u128(0x5f6e6a10_8f2a_11ee_b9d1_0242ac120002)),
        );
        round_trip("inet", Value::Inet("127.0.0.1".parse().unwrap()));
        round_trip("inet", Value::Inet("::1".parse().unwrap()));
        round_trip(
            "varint",
            Value::VarInt(BigInt::from(-1234567890123456789i64) * 1000),
        );
        round_trip(
            "decimal",
            Value::Decimal {
                unscaled: BigInt::from(-12345),
                scale: 2,
            },
        );
        round_trip("list<int>", Value::List(vec![Value::Int(2), Value::Int(1)]));
        round_trip(
            "set<text>",
            Value::set(vec![Value::Text("b".into()), Value::Text("a".into())]),
        );
        round_trip(
            "map<text, int>",
            Value::map(vec![(Value::Text("k".into()), Value::Int(1))]),
        );
        round_trip(
            "tuple<int, text, double>",
            Value::Tuple(vec![Some(Value::Int(1)), None, Some(Value::Double(2.0))]),
        );
        round_trip(
            "frozen<list<frozen<set<int>>>>",
            Value::List(vec![Value::set(vec![Value::Int(3)])]),
        );
    }

    #[test]
    fn bad_bytes_are_errors_not_panics() {
        let int = CqlType::Int;
        assert!(Value::decode(&int, &[0, 1]).is_err());
        assert!(Value::decode(&CqlType::Text, &[0xff]).is_err());
        assert!(Value::decode(&CqlType::Ascii, "é".as_bytes()).is_err());
        let list = CqlType::parse("list<int>").unwrap();
        assert!(
            Value::decode(&list, &[0x7f, 0xff, 0xff, 0xff]).is_err(),
            "a huge count"
        );
        assert!(
            Value::decode(&list, &[0, 0, 0, 1, 0, 0, 0, 9, 1]).is_err(),
            "truncated element"
        );
        assert!(Value::decode(&CqlType::Time, &(-1i64).to_be_bytes()).is_err());
        assert!(
            Value::decode(&CqlType::TimeUuid, &[0u8; 16]).is_err(),
            "version 0"
        );
    }

    #[test]
    fn sets_and_maps_sort_and_deduplicate() {
        let s = Value::set(vec![Value::Int(3), Value::Int(1), Value::Int(3)]);
        assert_eq!(s, Value::Set(vec![Value::Int(1), Value::Int(3)]));
        let m = Value::map(vec![
            (Value::Int(2), Value::Text("b".into())),
            (Value::Int(1), Value::Text("a".into())),
            (Value::Int(2), Value::Text("c".into())),
        ]);
        assert_eq!(
            m,
            Value::Map(vec![
                (Value::Int(1), Value::Text("a".into())),
                (Value::Int(2), Value::Text("c".into())),
            ])
        );
    }

    #[test]
    fn order_is_cassandras() {
        use Ordering::*;
        assert_eq!(Value::Int(-1).cql_cmp(&Value::Int(1)), Less);
        assert_eq!(
            Value::Text("b".into()).cql_cmp(&Value::Text("ab".into())),
            Greater
        );
        let dec = |u: i64, s| Value::Decimal {
            unscaled: BigInt::from(u),
            scale: s,
        };
        assert_eq!(dec(10, 1).cql_cmp(&dec(100, 2)), Equal, "1.0 = 1.00");
        assert_eq!(dec(15, 1).cql_cmp(&dec(2, 0)), Less);
        // timeuuid: by embedded time, not by bytes.
        let early = Uuid::parse_str("ffffffff-0000-1000-8000-000000000000").unwrap();
        let late = Uuid::parse_str("00000000-0001-1000-8000-000000000000").unwrap();
        assert_eq!(timeuuid_cmp(&early, &late), Less);
        assert_eq!(
            Value::Tuple(vec![None]).cql_cmp(&Value::Tuple(vec![Some(Value::Int(0))])),
            Less
        );
        assert_eq!(
            Value::List(vec![Value::Int(1)])
                .cql_cmp(&Value::List(vec![Value::Int(1), Value::Int(0)])),
            Less
        );
    }

    #[test]
    fn literals_print_as_cql() {
        assert_eq!(Value::Text("it's".into()).to_cql_literal(), "'it''s'");
        assert_eq!(
            Value::Blob(Bytes::from_static(b"\xca\xfe")).to_cql_literal(),
            "0xcafe"
        );
        assert_eq!(Value::Date(DATE_EPOCH).to_cql_literal(), "'1970-01-01'");
        assert_eq!(Value::Date(DATE_EPOCH - 1).to_cql_literal(), "'1969-12-31'");
        assert_eq!(
            Value::Timestamp(1_700_000_000_123).to_cql_literal(),
            "'2023-11-14 22:13:20.123+0000'"
        );
        assert_eq!(
            Value::Time(3_661_000_000_001).to_cql_literal(),
            "'01:01:01.000000001'"
        );
        assert_eq!(decimal_string(&BigInt::from(-5), 3), "-0.005");
        assert_eq!(decimal_string(&BigInt::from(12), -2), "1200");
        assert_eq!(Value::Double(1.0).to_cql_literal(), "1.0");
        assert_eq!(
            Value::Tuple(vec![Some(Value::Int(1)), None]).to_cql_literal(),
            "(1, null)"
        );
        for days in [-719_468i64, -1, 0, 1, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
