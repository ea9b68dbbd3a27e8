//! Terms to values: [`Term::resolve`] gives a term's value for a receiver ([`ColumnSpec`]: a
//! column, an element of one, `[limit]`...), the way Cassandra prepares and binds terms.
//! Literals go through [`crate::literal`]; collection literals and tuples are checked against
//! the receiver's collection or tuple type element by element (`value(tags)`, `key(m)`,
//! `t[0]`); bind markers take the bound bytes from the [`Context`] and decode them as the
//! receiver's type; casts (`(int) ?`) and the native functions drivers and users send in
//! terms (`now()`, `uuid()`, `toTimestamp(now())`, `currentTimestamp()`, `minTimeuuid(...)`,
//! `intAsBlob(...)`, ...) are evaluated here.
//!
//! `token(...)` is not evaluated here: on the right of a token relation the executor computes
//! the token from the resolved arguments ([`Term::as_token_call`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use num_bigint::BigInt;
use uuid::Uuid;

use crate::ast::{QualifiedName, Term};
use crate::bind::{ColumnSpec, Part};
use crate::error::CqlError;
use crate::literal::{literal_fits, literal_value};
use crate::types::CqlType;
use crate::value::{Value, DATE_EPOCH};

/// A value as the protocol binds it to a marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundValue {
    /// Length -1.
    Null,
    /// Length -2 (v4): leave the column as it is.
    Unset,
    /// The value's protocol serialization.
    Value(Bytes),
}

/// What resolving a term gives.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    Null,
    Unset,
    Value(Value),
}

/// What terms are resolved with: the bound values (by marker index) and the statement's
/// "now".
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub values: &'a [BoundValue],
    /// Milliseconds since the epoch: `currentTimestamp()`, `'now'`, the time in `now()`.
    pub now_ms: i64,
}

impl<'a> Context<'a> {
    /// A context for `values`, with the current time.
    pub fn new(values: &'a [BoundValue]) -> Context<'a> {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Context { values, now_ms }
    }
}

/// 100-nanosecond intervals between the UUID epoch (1582-10-15) and the Unix epoch.
const UUID_EPOCH_OFFSET: i64 = 0x01B2_1DD2_1381_4000;

/// Cassandra's `minTimeuuid` clock sequence and node (the smallest in its signed-byte order).
const MIN_CLOCK_SEQ_AND_NODE: u64 = 0x8080_8080_8080_8080;
/// Cassandra's `maxTimeuuid` clock sequence and node.
const MAX_CLOCK_SEQ_AND_NODE: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// A version 1 uuid at `ticks` (100 ns since the UUID epoch).
fn timeuuid_at(ticks: u64, clock_seq_and_node: u64) -> Uuid {
    let msb = ((ticks & 0xffff_ffff) << 32)
        | (((ticks >> 32) & 0xffff) << 16)
        | 0x1000
        | ((ticks >> 48) & 0x0fff);
    Uuid::from_u64_pair(msb, clock_seq_and_node)
}

fn ticks_of_ms(ms: i64) -> Option<u64> {
    ms.checked_mul(10_000)
        .and_then(|t| t.checked_add(UUID_EPOCH_OFFSET))
        .and_then(|t| u64::try_from(t).ok())
        .filter(|t| *t < 1 << 60)
}

/// The Unix time in milliseconds of a version 1 uuid.
pub fn timeuuid_ms(u: &Uuid) -> i64 {
    let (msb, _) = u.as_u64_pair();
    let ticks = ((msb & 0x0fff) << 48) | (((msb >> 16) & 0xffff) << 32) | (msb >> 32);
    (ticks as i64 - UUID_EPOCH_OFFSET).div_euclid(10_000)
}

/// A new timeuuid at `now_ms` or later: unique and increasing in this process, as Cassandra's
/// `now()` is.
pub fn next_timeuuid(now_ms: i64) -> Uuid {
    static LAST: AtomicU64 = AtomicU64::new(0);
    static NODE: OnceLock<u64> = OnceLock::new();
    let node = *NODE.get_or_init(|| {
        let (_, random) = Uuid::new_v4().as_u64_pair();
        // RFC 4122 variant, multicast bit set (a random node id).
        (random & 0x3fff_feff_ffff_ffff) | 0x8000_0100_0000_0000
    });
    let now = ticks_of_ms(now_ms).unwrap_or(0);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return timeuuid_at(next, node),
            Err(seen) => last = seen,
        }
    }
}

/// Whether a value of type `from` can be stored where `to` is expected (Cassandra's
/// `isValueCompatibleWith`: the same type, ascii as text, timeuuid as uuid, integers as
/// varint, bigint and timestamp as each other, anything as blob).
fn compatible(to: &CqlType, from: &CqlType) -> bool {
    use CqlType::*;
    let (to, from) = (to.unfrozen(), from.unfrozen());
    to == from
        || matches!(
            (to, from),
            (Text, Ascii)
                | (Uuid, TimeUuid)
                | (BigInt, Timestamp)
                | (Timestamp, BigInt)
                | (VarInt, Int | BigInt | Timestamp)
                | (Blob, _)
        )
}

/// `value` (of type `from`) as a value of type `to`, when [`compatible`].
fn convert(value: Value, to: &CqlType) -> Value {
    match (to.unfrozen(), value) {
        (CqlType::Text, Value::Ascii(s)) => Value::Text(s),
        (CqlType::Uuid, Value::TimeUuid(u)) => Value::Uuid(u),
        (CqlType::BigInt, Value::Timestamp(n)) => Value::BigInt(n),
        (CqlType::Timestamp, Value::BigInt(n)) => Value::Timestamp(n),
        (CqlType::VarInt, Value::Int(n)) => Value::VarInt(BigInt::from(n)),
        (CqlType::VarInt, Value::BigInt(n) | Value::Timestamp(n)) => Value::VarInt(BigInt::from(n)),
        (CqlType::Blob, Value::Blob(b)) => Value::Blob(b),
        (CqlType::Blob, v) => Value::Blob(v.encode()),
        (_, v) => v,
    }
}

/// A native function's signatures: (argument types, return type). `None`: not a function
/// CQL-lite evaluates.
fn signatures(name: &str) -> Option<Vec<(Vec<CqlType>, CqlType)>> {
    use CqlType::*;
    Some(match name {
        "now" | "currenttimeuuid" => vec![(vec![], TimeUuid)],
        "uuid" => vec![(vec![], Uuid)],
        "currenttimestamp" => vec![(vec![], Timestamp)],
        "currentdate" => vec![(vec![], Date)],
        "currenttime" => vec![(vec![], Time)],
        "totimestamp" => vec![(vec![TimeUuid], Timestamp), (vec![Date], Timestamp)],
        "todate" => vec![(vec![TimeUuid], Date), (vec![Timestamp], Date)],
        "tounixtimestamp" => vec![
            (vec![TimeUuid], BigInt),
            (vec![Timestamp], BigInt),
            (vec![Date], BigInt),
        ],
        "mintimeuuid" | "maxtimeuuid" => vec![(vec![Timestamp], TimeUuid)],
        _ => {
            if let Some(t) = name.strip_suffix("asblob").and_then(CqlType::native) {
                vec![(vec![t], Blob)]
            } else if let Some(t) = name.strip_prefix("blobas").and_then(CqlType::native) {
                vec![(vec![Blob], t)]
            } else {
                return None;
            }
        }
    })
}

fn native_name(name: &QualifiedName) -> Option<&str> {
    match &name.keyspace {
        Some(ks) if ks.as_str() != "system" => None,
        _ => Some(name.name.as_str()),
    }
}

fn unknown_function(name: &QualifiedName) -> CqlError {
    CqlError::invalid(format!("Unknown function {name} called"))
}

fn show_signature(name: &str, args: &[CqlType]) -> String {
    let args: Vec<String> = args.iter().map(ToString::to_string).collect();
    format!("system.{name} : ({}) -> ", args.join(", "))
}

/// The type of a bind marker given as argument `index` of `function` (for the prepared
/// statement's metadata): ambiguous when the function has several signatures.
pub(crate) fn function_arg_type(
    function: &QualifiedName,
    index: usize,
) -> Result<CqlType, CqlError> {
    let name = native_name(function).ok_or_else(|| unknown_function(function))?;
    if name == "token" {
        return Err(CqlError::invalid(
            "token() is only supported on the right of a token relation",
        ));
    }
    let sigs = signatures(name).ok_or_else(|| unknown_function(function))?;
    let mut types = sigs.iter().filter_map(|(args, _)| args.get(index));
    match (types.next(), types.next()) {
        (Some(t), None) => Ok(t.clone()),
        (Some(_), Some(_)) => Err(ambiguous(name, &sigs)),
        (None, _) => Err(CqlError::invalid(format!(
            "Invalid number of arguments in call to function system.{name}: {} required but {} provided",
            sigs[0].0.len(),
            index + 1
        ))),
    }
}

fn ambiguous(name: &str, sigs: &[(Vec<CqlType>, CqlType)]) -> CqlError {
    let shown: Vec<String> = sigs
        .iter()
        .map(|(args, ret)| format!("{}{ret}", show_signature(name, args)))
        .collect();
    CqlError::invalid(format!(
        "Ambiguous call to function system.{name} (can be matched by following signatures: {}): use type casts to disambiguate",
        shown.join(", ")
    ))
}

impl Term {
    /// The type the term has whatever receives it, when it has one (a function's return
    /// type, a cast's type).
    fn exact_type(&self) -> Option<CqlType> {
        match self {
            Term::Cast { ty, .. } => Some(ty.clone()),
            Term::Function { name, args } => {
                let name = native_name(name)?;
                let sigs = signatures(name)?;
                let candidates: Vec<_> = sigs
                    .into_iter()
                    .filter(|(params, _)| {
                        params.len() == args.len()
                            && params.iter().zip(args).all(|(p, a)| a.fits(p))
                    })
                    .collect();
                match candidates.as_slice() {
                    [(_, ret)] => Some(ret.clone()),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Whether the term could be assigned to a receiver of type `ty` (Cassandra's
    /// `testAssignment`, as far as overload resolution needs it).
    fn fits(&self, ty: &CqlType) -> bool {
        match self {
            Term::Literal(l) => literal_fits(l, ty),
            Term::Null | Term::Bind(_) => true,
            Term::Negate(t) => t.fits(ty),
            Term::Function { .. } | Term::Cast { .. } => {
                self.exact_type().is_none_or(|t| compatible(ty, &t))
            }
            Term::List(_) => matches!(ty.unfrozen(), CqlType::List(_)),
            Term::Set(items) => {
                matches!(ty.unfrozen(), CqlType::Set(_))
                    || (items.is_empty() && matches!(ty.unfrozen(), CqlType::Map(_, _)))
            }
            Term::Map(_) => matches!(ty.unfrozen(), CqlType::Map(_, _)),
            Term::Tuple(_) => matches!(ty.unfrozen(), CqlType::Tuple(_)),
        }
    }

    /// The term's value for `receiver`: Cassandra's errors when it does not fit
    /// (`Invalid STRING constant (foo) for "k" of type int`, `Invalid list literal for k of
    /// type int`, `null is not supported inside collections`, ...).
    pub fn resolve(&self, receiver: &ColumnSpec, ctx: &Context<'_>) -> Result<Resolved, CqlError> {
        Ok(match self {
            Term::Literal(l) => Resolved::Value(literal_value(l, receiver, ctx.now_ms)?),
            Term::Null => Resolved::Null,
            Term::Bind(m) => match ctx.values.get(m.index) {
                None => {
                    return Err(CqlError::invalid(format!(
                        "No value bound for marker {} ({})",
                        m.index, receiver.name
                    )))
                }
                Some(BoundValue::Null) => Resolved::Null,
                Some(BoundValue::Unset) => Resolved::Unset,
                Some(BoundValue::Value(b)) => Resolved::Value(
                    Value::decode(&receiver.ty, b)
                        .map_err(|e| CqlError::invalid(format!("{} ({})", e, receiver.name)))?,
                ),
            },
            Term::List(items) => {
                let element = receiver.part(Part::ListElement)?;
                Resolved::Value(Value::List(elements(items, &element, ctx)?))
            }
            Term::Set(items) => {
                if items.is_empty() && matches!(receiver.ty.unfrozen(), CqlType::Map(_, _)) {
                    return Ok(Resolved::Value(Value::Map(Vec::new())));
                }
                let element = receiver.part(Part::SetElement)?;
                Resolved::Value(Value::set(elements(items, &element, ctx)?))
            }
            Term::Map(entries) => {
                let key = receiver.part(Part::MapKey)?;
                let value = receiver.part(Part::MapValue)?;
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    out.push((element(k, &key, ctx)?, element(v, &value, ctx)?));
                }
                Resolved::Value(Value::map(out))
            }
            Term::Tuple(items) => {
                let CqlType::Tuple(types) = receiver.ty.unfrozen() else {
                    return Err(CqlError::invalid(format!(
                        "Invalid tuple type literal for {} of type {}",
                        receiver.name, receiver.ty
                    )));
                };
                let mut out = Vec::with_capacity(types.len());
                for (i, t) in items.iter().enumerate() {
                    let spec = receiver.part(Part::TupleComponent(i))?;
                    out.push(match t.resolve(&spec, ctx)? {
                        Resolved::Null => None,
                        Resolved::Value(v) => Some(v),
                        Resolved::Unset => return Err(unset_inside(&spec)),
                    });
                }
                out.resize(types.len(), None);
                Resolved::Value(Value::Tuple(out))
            }
            Term::Cast { ty, term } => {
                let cast = ColumnSpec::new(format!("({ty}){term}"), ty.clone());
                if !compatible(&receiver.ty, ty) {
                    return Err(CqlError::invalid(format!(
                        "Cannot assign value {self} to {} of type {}",
                        receiver.name, receiver.ty
                    )));
                }
                match term.resolve(&cast, ctx)? {
                    Resolved::Value(v) => Resolved::Value(convert(v, &receiver.ty)),
                    other => other,
                }
            }
            Term::Negate(term) => match term.resolve(receiver, ctx)? {
                Resolved::Value(v) => Resolved::Value(negate(v).ok_or_else(|| {
                    CqlError::invalid(format!(
                        "Invalid negation of {term} for {} of type {}",
                        receiver.name, receiver.ty
                    ))
                })?),
                other => other,
            },
            Term::Function { name, args } => call(name, args, receiver, ctx)?,
        })
    }
}

fn unset_inside(spec: &ColumnSpec) -> CqlError {
    CqlError::invalid(format!("Invalid unset value for {}", spec.name))
}

/// One collection element: never null or unset.
fn element(term: &Term, spec: &ColumnSpec, ctx: &Context<'_>) -> Result<Value, CqlError> {
    match term.resolve(spec, ctx)? {
        Resolved::Value(v) => Ok(v),
        Resolved::Null => Err(CqlError::invalid(
            "null is not supported inside collections",
        )),
        Resolved::Unset => Err(unset_inside(spec)),
    }
}

fn elements(items: &[Term], spec: &ColumnSpec, ctx: &Context<'_>) -> Result<Vec<Value>, CqlError> {
    items.iter().map(|t| element(t, spec, ctx)).collect()
}

fn negate(v: Value) -> Option<Value> {
    Some(match v {
        Value::Int(n) => Value::Int(n.checked_neg()?),
        Value::BigInt(n) => Value::BigInt(n.checked_neg()?),
        Value::Counter(n) => Value::Counter(n.checked_neg()?),
        Value::SmallInt(n) => Value::SmallInt(n.checked_neg()?),
        Value::TinyInt(n) => Value::TinyInt(n.checked_neg()?),
        Value::VarInt(n) => Value::VarInt(-n),
        Value::Decimal { unscaled, scale } => Value::Decimal {
            unscaled: -unscaled,
            scale,
        },
        Value::Double(d) => Value::Double(-d),
        Value::Float(f) => Value::Float(-f),
        _ => return None,
    })
}

fn date_of_ms(ms: i64) -> Option<Value> {
    let days = ms.div_euclid(86_400_000) + i64::from(DATE_EPOCH);
    u32::try_from(days).ok().map(Value::Date)
}

fn ms_of_date(days: u32) -> i64 {
    (i64::from(days) - i64::from(DATE_EPOCH)) * 86_400_000
}

/// Evaluates a native function call for `receiver`.
fn call(
    name: &QualifiedName,
    args: &[Term],
    receiver: &ColumnSpec,
    ctx: &Context<'_>,
) -> Result<Resolved, CqlError> {
    let fname = native_name(name).ok_or_else(|| unknown_function(name))?;
    if fname == "token" {
        return Err(CqlError::invalid(
            "token() is only supported on the right of a token relation",
        ));
    }
    let sigs = signatures(fname).ok_or_else(|| unknown_function(name))?;
    let arity: Vec<_> = sigs.iter().filter(|(p, _)| p.len() == args.len()).collect();
    if arity.is_empty() {
        return Err(CqlError::invalid(format!(
            "Invalid number of arguments in call to function system.{fname}: {} required but {} provided",
            sigs[0].0.len(),
            args.len()
        )));
    }
    let candidates: Vec<_> = arity
        .into_iter()
        .filter(|(params, _)| params.iter().zip(args).all(|(p, a)| a.fits(p)))
        .collect();
    let (params, ret) = match candidates.as_slice() {
        [one] => (&one.0, &one.1),
        [] => {
            return Err(CqlError::invalid(format!(
                "Invalid call to function system.{fname}, none of its type signatures match"
            )))
        }
        _ => return Err(ambiguous(fname, &sigs)),
    };
    if !compatible(&receiver.ty, ret) {
        return Err(CqlError::invalid(format!(
            "Type error: cannot assign result of function system.{fname} (type {ret}) to {} (type {})",
            receiver.name, receiver.ty
        )));
    }
    let mut values = Vec::with_capacity(args.len());
    for (i, (arg, ty)) in args.iter().zip(params).enumerate() {
        let spec = ColumnSpec::new(format!("arg{i}(system.{fname})"), ty.clone());
        match arg.resolve(&spec, ctx)? {
            Resolved::Value(v) => values.push(v),
            // Native functions of a null are null.
            Resolved::Null => return Ok(Resolved::Null),
            Resolved::Unset => {
                return Err(CqlError::invalid(format!(
                    "Invalid unset value for argument in call to function system.{fname}"
                )))
            }
        }
    }
    let out_of_range =
        || CqlError::invalid(format!("The value is out of range for system.{fname}"));
    let ms_of = |v: &Value| match v {
        Value::TimeUuid(u) => Some(timeuuid_ms(u)),
        Value::Timestamp(ms) => Some(*ms),
        Value::Date(d) => Some(ms_of_date(*d)),
        _ => None,
    };
    let value = match (fname, values.as_slice()) {
        ("now" | "currenttimeuuid", []) => Value::TimeUuid(next_timeuuid(ctx.now_ms)),
        ("uuid", []) => Value::Uuid(Uuid::new_v4()),
        ("currenttimestamp", []) => Value::Timestamp(ctx.now_ms),
        ("currentdate", []) => date_of_ms(ctx.now_ms).ok_or_else(out_of_range)?,
        ("currenttime", []) => Value::Time(ctx.now_ms.rem_euclid(86_400_000) * 1_000_000),
        ("totimestamp", [v]) => Value::Timestamp(ms_of(v).ok_or_else(out_of_range)?),
        ("todate", [v]) => {
            date_of_ms(ms_of(v).ok_or_else(out_of_range)?).ok_or_else(out_of_range)?
        }
        ("tounixtimestamp", [v]) => Value::BigInt(ms_of(v).ok_or_else(out_of_range)?),
        ("mintimeuuid", [Value::Timestamp(ms)]) => Value::TimeUuid(timeuuid_at(
            ticks_of_ms(*ms).ok_or_else(out_of_range)?,
            MIN_CLOCK_SEQ_AND_NODE,
        )),
        ("maxtimeuuid", [Value::Timestamp(ms)]) => {
            let next = ms
                .checked_add(1)
                .and_then(ticks_of_ms)
                .ok_or_else(out_of_range)?;
            Value::TimeUuid(timeuuid_at(next - 1, MAX_CLOCK_SEQ_AND_NODE))
        }
        (_, [v]) if fname.ends_with("asblob") => Value::Blob(v.encode()),
        (_, [Value::Blob(b)]) if fname.starts_with("blobas") => {
            Value::decode(ret, b).map_err(|e| CqlError::invalid(e.to_string()))?
        }
        _ => return Err(unknown_function(name)),
    };
    Ok(Resolved::Value(convert(value, &receiver.ty)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::{Predicate, Relation, Statement};
    use crate::parse_statement;

    /// The term of `SELECT * FROM t WHERE k = <term>`.
    fn term(text: &str) -> Term {
        match parse_statement(&format!("SELECT * FROM t WHERE k = {text}")).unwrap() {
            Statement::Select(s) => match &s.where_clause[0] {
                Relation::Column {
                    predicate: Predicate::Compare(_, t),
                    ..
                } => t.clone(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    fn spec(name: &str, ty: &str) -> ColumnSpec {
        ColumnSpec::new(name, CqlType::parse(ty).unwrap())
    }

    fn ctx(values: &[BoundValue]) -> Context<'_> {
        Context {
            values,
            now_ms: 1_706_695_200_000,
        }
    }

    fn resolve_with(text: &str, ty: &str, values: &[BoundValue]) -> Result<Resolved, CqlError> {
        term(text).resolve(&spec("c", ty), &ctx(values))
    }

    fn value(text: &str, ty: &str) -> Value {
        match resolve_with(text, ty, &[]) {
            Ok(Resolved::Value(v)) => v,
            other => panic!("{text} as {ty}: {other:?}"),
        }
    }

    fn error(text: &str, ty: &str) -> String {
        match resolve_with(text, ty, &[]) {
            Err(e) => e.to_string(),
            Ok(v) => panic!("{text} as {ty}: {v:?}"),
        }
    }

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn collection_literals_against_collection_types() {
        assert_eq!(
            value("[2, 1, 2]", "list<int>"),
            Value::List(vec![Value::Int(2), Value::Int(1), Value::Int(2)])
        );
        assert_eq!(
            value("{'b', 'a', 'b'}", "set<text>"),
            Value::Set(vec![text("a"), text("b")])
        );
        assert_eq!(
            value("{'b': 2, 'a': 1}", "map<text, int>"),
            Value::Map(vec![(text("a"), Value::Int(1)), (text("b"), Value::Int(2))])
        );
        assert_eq!(value("{}", "map<text, int>"), Value::Map(vec![]));
        assert_eq!(value("{}", "set<int>"), Value::Set(vec![]));
        assert_eq!(
            value("[[1], []]", "list<frozen<list<int>>>"),
            Value::List(vec![Value::List(vec![Value::Int(1)]), Value::List(vec![])])
        );
        assert_eq!(
            value("(1, 'a')", "tuple<int, text, double>"),
            Value::Tuple(vec![Some(Value::Int(1)), Some(text("a")), None])
        );
        assert_eq!(
            value("(null, 'a')", "tuple<int, text>"),
            Value::Tuple(vec![None, Some(text("a"))])
        );
        assert_eq!(
            error("[1]", "set<int>"),
            "Invalid list literal for c of type set<int>"
        );
        assert_eq!(
            error("{1}", "list<int>"),
            "Invalid set literal for c of type list<int>"
        );
        assert_eq!(
            error("{1: 2}", "int"),
            "Invalid map literal for c of type int"
        );
        assert_eq!(
            error("(1, 2)", "int"),
            "Invalid tuple type literal for c of type int"
        );
        assert_eq!(
            error("['x']", "list<int>"),
            "Invalid STRING constant (x) for \"value(c)\" of type int"
        );
        assert_eq!(
            error("{'k': 'v'}", "map<text, int>"),
            "Invalid STRING constant (v) for \"value(c)\" of type int"
        );
        assert_eq!(
            error("{1: 2}", "map<text, int>"),
            "Invalid INTEGER constant (1) for \"key(c)\" of type text"
        );
        assert_eq!(
            error("(1, 2, 3)", "tuple<int, int>"),
            "Invalid tuple literal for c: too many elements. Type frozen<tuple<int, int>> expects 2 but got 3"
        );
        assert_eq!(
            error("[null]", "list<int>"),
            "null is not supported inside collections"
        );
        assert_eq!(
            error("1", "list<int>"),
            "Invalid INTEGER constant (1) for \"c\" of type list<int>"
        );
    }

    #[test]
    fn bind_markers_decode_the_bound_bytes() {
        let four = BoundValue::Value(Bytes::from_static(&[0, 0, 0, 7]));
        assert_eq!(
            resolve_with("?", "int", std::slice::from_ref(&four)),
            Ok(Resolved::Value(Value::Int(7)))
        );
        assert_eq!(
            resolve_with("?", "int", &[BoundValue::Null]),
            Ok(Resolved::Null)
        );
        assert_eq!(
            resolve_with("?", "int", &[BoundValue::Unset]),
            Ok(Resolved::Unset)
        );
        assert_eq!(
            resolve_with("[?, ?]", "list<int>", &[four.clone(), four.clone()]),
            Ok(Resolved::Value(Value::List(vec![
                Value::Int(7),
                Value::Int(7)
            ])))
        );
        assert_eq!(
            resolve_with("[?]", "list<int>", &[BoundValue::Null])
                .unwrap_err()
                .to_string(),
            "null is not supported inside collections"
        );
        assert_eq!(
            resolve_with("[?]", "list<int>", &[BoundValue::Unset])
                .unwrap_err()
                .to_string(),
            "Invalid unset value for value(c)"
        );
        assert_eq!(
            resolve_with("?", "bigint", &[four])
                .unwrap_err()
                .to_string(),
            "invalid bigint value: expected 8 bytes, got 4 (c)"
        );
        assert_eq!(
            resolve_with("?", "int", &[]).unwrap_err().to_string(),
            "No value bound for marker 0 (c)"
        );
    }

    #[test]
    fn native_functions_in_terms() {
        let Value::TimeUuid(a) = value("now()", "timeuuid") else {
            panic!()
        };
        let Value::TimeUuid(b) = value("now()", "timeuuid") else {
            panic!()
        };
        assert_eq!(a.get_version_num(), 1);
        assert!(
            crate::value::timeuuid_cmp(&a, &b).is_lt(),
            "now() increases"
        );
        assert!(timeuuid_ms(&a) >= 1_706_695_200_000);
        assert!(matches!(value("now()", "uuid"), Value::Uuid(u) if u.get_version_num() == 1));
        assert!(matches!(value("uuid()", "uuid"), Value::Uuid(u) if u.get_version_num() == 4));
        assert_eq!(
            value("currentTimestamp()", "timestamp"),
            Value::Timestamp(1_706_695_200_000)
        );
        assert_eq!(
            value("currentdate()", "date"),
            Value::Date(DATE_EPOCH + 19_753)
        );
        assert_eq!(
            value("currenttime()", "time"),
            Value::Time(36_000_000_000_000)
        );
        assert_eq!(
            value("toTimestamp(now())", "timestamp"),
            Value::Timestamp(1_706_695_200_000)
        );
        assert_eq!(
            value("todate('2024-01-31 10:00:00')", "date"),
            Value::Date(DATE_EPOCH + 19_753)
        );
        assert_eq!(
            value("totimestamp((date) '1970-01-02')", "timestamp"),
            Value::Timestamp(86_400_000)
        );
        assert_eq!(
            value("tounixtimestamp(currenttimestamp())", "bigint"),
            Value::BigInt(1_706_695_200_000)
        );
        let Value::TimeUuid(min) = value("minTimeuuid('2024-01-31 10:00:00+0000')", "timeuuid")
        else {
            panic!()
        };
        let Value::TimeUuid(max) = value("maxTimeuuid('2024-01-31 10:00:00+0000')", "timeuuid")
        else {
            panic!()
        };
        assert_eq!(timeuuid_ms(&min), 1_706_695_200_000);
        assert_eq!(timeuuid_ms(&max), 1_706_695_200_000);
        assert!(crate::value::timeuuid_cmp(&min, &a).is_lt());
        assert!(crate::value::timeuuid_cmp(&min, &max).is_lt());
        assert_eq!(
            value("intAsBlob(1)", "blob"),
            Value::Blob(Bytes::from_static(&[0, 0, 0, 1]))
        );
        assert_eq!(value("blobAsInt(0x00000002)", "int"), Value::Int(2));
        assert_eq!(
            value("textasblob('a')", "blob"),
            Value::Blob(Bytes::from_static(b"a"))
        );
        assert_eq!(
            resolve_with("totimestamp((date) null)", "timestamp", &[]),
            Ok(Resolved::Null)
        );
        assert!(error("totimestamp(null)", "timestamp").starts_with("Ambiguous call"));
        assert_eq!(
            error("now()", "int"),
            "Type error: cannot assign result of function system.now (type timeuuid) to c (type int)"
        );
        assert_eq!(error("nosuch(1)", "int"), "Unknown function nosuch called");
        assert_eq!(error("ks.now()", "int"), "Unknown function ks.now called");
        assert_eq!(
            error("now(1)", "timeuuid"),
            "Invalid number of arguments in call to function system.now: 0 required but 1 provided"
        );
        assert!(error("totimestamp(?)", "timestamp")
            .starts_with("Ambiguous call to function system.totimestamp"));
        assert_eq!(
            error("token(1)", "bigint"),
            "token() is only supported on the right of a token relation"
        );
    }

    #[test]
    fn casts_and_negation() {
        let seven = [BoundValue::Value(Bytes::from_static(&[0, 0, 0, 7]))];
        assert_eq!(
            resolve_with("(int) ?", "int", &seven),
            Ok(Resolved::Value(Value::Int(7)))
        );
        assert_eq!(
            resolve_with("(int) ?", "varint", &seven),
            Ok(Resolved::Value(Value::VarInt(BigInt::from(7))))
        );
        assert_eq!(value("(ascii) 'a'", "text"), text("a"));
        assert_eq!(
            value("(bigint) 5", "blob"),
            Value::Blob(Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 5]))
        );
        assert_eq!(
            error("(text) 'a'", "int"),
            "Cannot assign value (text) 'a' to c of type int"
        );
        assert_eq!(
            error("(int) 'a'", "int"),
            "Invalid STRING constant (a) for \"(int)'a'\" of type int"
        );
        assert_eq!(value("- 5", "int"), Value::Int(-5));
        assert_eq!(value("- -5", "bigint"), Value::BigInt(5));
        assert_eq!(value("- 1.5", "double"), Value::Double(-1.5));
        assert_eq!(
            resolve_with("-?", "int", &seven),
            Ok(Resolved::Value(Value::Int(-7)))
        );
        assert_eq!(
            error("- -128", "tinyint"),
            "Invalid negation of -128 for c of type tinyint"
        );
        assert_eq!(
            error("- 'a'", "text"),
            "Invalid negation of 'a' for c of type text"
        );
    }

    #[test]
    fn timeuuids_are_cassandras_layout() {
        // 2024-01-31 10:00:00 UTC as a version 1 uuid: the time fields, then the node.
        let u = timeuuid_at(
            ticks_of_ms(1_706_695_200_000).unwrap(),
            MIN_CLOCK_SEQ_AND_NODE,
        );
        assert_eq!(u.get_version_num(), 1);
        assert_eq!(timeuuid_ms(&u), 1_706_695_200_000);
        assert_eq!(u.as_u64_pair().1, MIN_CLOCK_SEQ_AND_NODE);
        let known = Uuid::parse_str("5f6e6a10-8f2a-11ee-b9d1-0242ac120002").unwrap();
        // 2023-11-30 (Docker's uuid1 example): the decoded time is that day.
        assert_eq!(
            crate::value::date_string(
                DATE_EPOCH + u32::try_from(timeuuid_ms(&known) / 86_400_000).unwrap()
            ),
            "2023-11-30"
        );
        assert_eq!(ticks_of_ms(i64::MAX), None);
    }
}
