//! Constants to values: a [`Literal`] against its receiver's type, as Cassandra's
//! `Constants.Literal.prepare` does it. First the kind must fit the type (a STRING fits ascii,
//! text, inet, date, time and timestamp; an INTEGER every number type, date, time and
//! timestamp; a FLOAT decimal, double and float; a UUID uuid and timeuuid; a HEX blob), or the
//! error is `Invalid STRING constant (foo) for "k" of type int`; then the text is parsed the way
//! the type's `fromString` parses it, with its message (`Unable to make int from
//! '3000000000'`, `Unable to coerce 'x' to a formatted date (long)`).
//!
//! The text parsers for dates, times, timestamps and decimals are public: the shell and the
//! executor read the same formats.

use std::net::IpAddr;

use bytes::Bytes;
use num_bigint::BigInt;
use uuid::Uuid;

use crate::ast::Literal;
use crate::bind::ColumnSpec;
use crate::error::CqlError;
use crate::types::CqlType;
use crate::value::{days_from_civil, Value, DATE_EPOCH, NANOS_PER_DAY};

/// Whether a constant of this kind can be assigned to a receiver of type `ty`.
pub(crate) fn literal_fits(literal: &Literal, ty: &CqlType) -> bool {
    use CqlType::*;
    let ty = ty.unfrozen();
    match literal {
        Literal::String(_) => matches!(ty, Ascii | Text | Inet | Date | Time | Timestamp),
        Literal::Integer(_) => matches!(
            ty,
            BigInt
                | Counter
                | Date
                | Decimal
                | Double
                | Float
                | Int
                | SmallInt
                | Time
                | Timestamp
                | TinyInt
                | VarInt
        ),
        Literal::Float(_) => matches!(ty, Decimal | Double | Float),
        Literal::Boolean(_) => matches!(ty, Boolean),
        Literal::Uuid(_) => matches!(ty, Uuid | TimeUuid),
        Literal::Hex(_) => matches!(ty, Blob),
    }
}

/// The value of `literal` for the receiver `spec`; `now_ms` is what `'now'` means for a
/// timestamp.
pub fn literal_value(literal: &Literal, spec: &ColumnSpec, now_ms: i64) -> Result<Value, CqlError> {
    if !literal_fits(literal, &spec.ty) {
        return Err(CqlError::invalid(format!(
            "Invalid {} constant ({}) for \"{}\" of type {}",
            literal.kind_name(),
            literal.raw_text(),
            spec.name,
            spec.ty
        )));
    }
    let text = literal.raw_text();
    let fail = |what: &str| CqlError::invalid(format!("Unable to make {what} from '{text}'"));
    Ok(match spec.ty.unfrozen() {
        CqlType::Ascii => {
            if !text.is_ascii() {
                return Err(CqlError::invalid(format!(
                    "Invalid ASCII character in string literal: {text}"
                )));
            }
            Value::Ascii(text.to_string())
        }
        CqlType::Text => Value::Text(text.to_string()),
        CqlType::Inet => Value::Inet(text.parse::<IpAddr>().map_err(|_| fail("inet address"))?),
        CqlType::Date => Value::Date(parse_date(text).map_err(CqlError::Invalid)?),
        CqlType::Time => Value::Time(parse_time(text).map_err(CqlError::Invalid)?),
        CqlType::Timestamp => {
            Value::Timestamp(parse_timestamp(text, now_ms).map_err(CqlError::Invalid)?)
        }
        CqlType::Int => Value::Int(text.parse().map_err(|_| fail("int"))?),
        CqlType::BigInt => Value::BigInt(text.parse().map_err(|_| fail("long"))?),
        CqlType::Counter => Value::Counter(text.parse().map_err(|_| fail("long"))?),
        CqlType::SmallInt => Value::SmallInt(text.parse().map_err(|_| fail("short"))?),
        CqlType::TinyInt => Value::TinyInt(text.parse().map_err(|_| fail("byte"))?),
        CqlType::VarInt => Value::VarInt(
            text.parse::<BigInt>()
                .map_err(|_| CqlError::invalid(format!("unable to make int from '{text}'")))?,
        ),
        CqlType::Decimal => {
            let (unscaled, scale) = parse_decimal(text).ok_or_else(|| {
                CqlError::invalid(format!("unable to make BigDecimal from '{text}'"))
            })?;
            Value::Decimal { unscaled, scale }
        }
        CqlType::Double => Value::Double(parse_float(text).ok_or_else(|| fail("double"))?),
        CqlType::Float => Value::Float(parse_float(text).ok_or_else(|| fail("float"))?),
        CqlType::Boolean => Value::Boolean(text == "true"),
        CqlType::Uuid => Value::Uuid(Uuid::parse_str(text).map_err(|_| fail("UUID"))?),
        CqlType::TimeUuid => {
            let u = Uuid::parse_str(text).map_err(|_| {
                CqlError::invalid(format!("Unknown timeuuid representation: {text}"))
            })?;
            if u.get_version_num() != 1 {
                return Err(CqlError::invalid("TimeUUID supports only version 1 UUIDs"));
            }
            Value::TimeUuid(u)
        }
        CqlType::Blob => {
            let hex = text.get(2..).unwrap_or_default();
            Value::Blob(
                parse_hex(hex).ok_or_else(|| {
                    CqlError::invalid(format!("cannot parse '{hex}' as hex bytes"))
                })?,
            )
        }
        other => {
            return Err(CqlError::invalid(format!(
                "Invalid {} constant ({text}) for \"{}\" of type {other}",
                literal.kind_name(),
                spec.name
            )))
        }
    })
}

fn parse_hex(hex: &str) -> Option<Bytes> {
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes = hex.as_bytes();
    let digit = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len() / 2);
    for pair in bytes.chunks(2) {
        out.push(u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?);
    }
    Some(Bytes::from(out))
}

/// A float as Java's `Double.parseDouble` / `Float.parseFloat` read Cassandra's FLOAT and
/// INTEGER texts (too large is infinite, not an error).
fn parse_float<T: std::str::FromStr>(text: &str) -> Option<T> {
    let special = matches!(text, "NaN" | "Infinity" | "-Infinity");
    let numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    if special || numeric {
        text.parse().ok()
    } else {
        None
    }
}

/// A decimal as Java's `BigDecimal(String)` reads it: `-12.50` is (-1250, 2), `1.5e3` is
/// (15, -2).
pub fn parse_decimal(text: &str) -> Option<(BigInt, i32)> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i64>().ok()?),
        None => (text, 0),
    };
    let (sign, digits) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let unscaled: BigInt = format!("{sign}{int}{frac}").parse().ok()?;
    let scale = i64::try_from(frac.len()).ok()? - exponent;
    Some((unscaled, i32::try_from(scale).ok()?))
}

fn all_digits(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit())
}

/// A `date` as Cassandra's `SimpleDateSerializer` reads it: `yyyy-mm-dd` (ISO, strict), or a
/// raw unsigned day count with the epoch at 2^31.
pub fn parse_date(text: &str) -> Result<u32, String> {
    if all_digits(text) {
        return text
            .parse::<u32>()
            .map_err(|_| format!("Unable to make unsigned int (for date) from: '{text}'"));
    }
    let bad = || format!("Unable to coerce '{text}' to a formatted date (long)");
    let (y, m, d) = iso_date(text).ok_or_else(bad)?;
    let days = days_from_civil(y, m, d);
    let shifted = days + i64::from(DATE_EPOCH);
    u32::try_from(shifted).map_err(|_| bad())
}

/// `yyyy-mm-dd` (a sign and more year digits allowed, as `DateTimeFormatter.ISO_LOCAL_DATE`),
/// with a real day of the month.
fn iso_date(text: &str) -> Option<(i64, u32, u32)> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => (1, text),
    };
    let mut parts = rest.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    // Four digits, or more with a sign (ISO's "exceeds pad" rule); a negative year any width.
    let year_width = match text.as_bytes().first() {
        Some(b'+') => 5..=9,
        Some(b'-') => 4..=9,
        _ => 4..=4,
    };
    let year_ok = y.bytes().all(|b| b.is_ascii_digit()) && year_width.contains(&y.len());
    if !year_ok || !digits(m, 2) || !digits(d, 2) {
        return None;
    }
    let year = sign * y.parse::<i64>().ok()?;
    let (month, day) = (m.parse::<u32>().ok()?, d.parse::<u32>().ok()?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some((year, month, day))
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A `time` as Cassandra's `TimeSerializer` reads it: `hh:mm:ss[.fffffffff]`, or raw
/// nanoseconds since midnight.
pub fn parse_time(text: &str) -> Result<i64, String> {
    if all_digits(text) {
        return text
            .parse::<i64>()
            .ok()
            .filter(|n| (0..NANOS_PER_DAY).contains(n))
            .ok_or_else(|| format!("Unable to make long (for time) from: '{text}'"));
    }
    let bad = || format!("(TimeType) Unable to coerce '{text}' to a formatted time (long)");
    let s = text.trim();
    let mut parts = s.splitn(3, ':');
    let (h, m, rest) = (
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
    );
    let (sec, frac) = match rest.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (rest, None),
    };
    let num = |s: &str, max: i64| -> Result<i64, String> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<i64>().ok().filter(|v| *v < max).ok_or_else(bad)
    };
    let (h, m, sec) = (num(h, 24)?, num(m, 60)?, num(sec, 60)?);
    let nanos = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{f:0<9}").parse::<i64>().map_err(|_| bad())?
        }
        Some(_) => return Err(bad()),
    };
    Ok(((h * 60 + m) * 60 + sec) * 1_000_000_000 + nanos)
}

/// A `timestamp` as Cassandra's `TimestampSerializer` reads it: milliseconds since the epoch,
/// `now`, or `yyyy-mm-dd[( |T)hh:mm[:ss[.fff]]][zone]` where the zone is `Z`, `+hh`, `+hhmm`,
/// `+hh:mm`, `UTC` or `GMT` (optionally after a space); no zone means UTC.
pub fn parse_timestamp(text: &str, now_ms: i64) -> Result<i64, String> {
    if text.eq_ignore_ascii_case("now") {
        return Ok(now_ms);
    }
    if all_digits(text) {
        return text
            .parse::<i64>()
            .map_err(|_| format!("Unable to make long (for date) from: '{text}'"));
    }
    let bad = || format!("Unable to coerce '{text}' to a formatted date (long)");
    let date_end = text
        .char_indices()
        .skip(1)
        .find(|&(_, c)| c == ' ' || c == 'T' || c == '+' || c == 'Z' || c.is_ascii_alphabetic())
        .map_or(text.len(), |(i, _)| i);
    // A date may end with a zone offset that starts with '-': find the third '-'.
    let (date_text, rest) = split_date(text, date_end);
    let (y, m, d) = lenient_date(date_text).ok_or_else(bad)?;
    let mut ms = days_from_civil(y, m, d)
        .checked_mul(86_400_000)
        .ok_or_else(bad)?;
    let mut rest = rest;
    if let Some(time) = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('T')) {
        if time.starts_with(|c: char| c.is_ascii_digit()) {
            let (time_ms, after) = time_of_day(time).ok_or_else(bad)?;
            ms = ms.checked_add(time_ms).ok_or_else(bad)?;
            rest = after;
        }
    }
    let offset_ms = zone_offset(rest).ok_or_else(bad)?;
    ms.checked_sub(offset_ms).ok_or_else(bad)
}

/// Splits `2024-01-31-0500` style text into the date and what follows.
fn split_date(text: &str, first_stop: usize) -> (&str, &str) {
    let head = &text[..first_stop];
    let dashes: Vec<usize> = head.match_indices('-').map(|(i, _)| i).collect();
    // yyyy-mm-dd has two dashes after a possible leading sign; a third is a zone offset.
    let skip = usize::from(head.starts_with('-'));
    match dashes.get(skip + 2) {
        Some(&i) => (&text[..i], &text[i..]),
        None => (head, &text[first_stop..]),
    }
}

/// `yyyy-M-d` as `SimpleDateFormat` reads it (1 or 2 digit month and day, 1+ digit year).
fn lenient_date(text: &str) -> Option<(i64, u32, u32)> {
    let mut parts = text.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !ok(y, 9) || !ok(m, 2) || !ok(d, 2) {
        return None;
    }
    let (year, month, day) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some((year, month, day))
}

/// `HH:mm[:ss[.SSS]]` and the text after it.
fn time_of_day(text: &str) -> Option<(i64, &str)> {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == ':' || c == '.'))
        .unwrap_or(text.len());
    let (time, rest) = text.split_at(end);
    let (hms, frac) = match time.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (time, None),
    };
    let fields: Vec<&str> = hms.split(':').collect();
    let num = |s: &str, max: i64| -> Option<i64> {
        (!s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
            .filter(|v| *v < max)
    };
    let (h, m, s) = match fields.as_slice() {
        [h, m] if frac.is_none() => (num(h, 24)?, num(m, 60)?, 0),
        [h, m, s] => (num(h, 24)?, num(m, 60)?, num(s, 60)?),
        _ => return None,
    };
    // SimpleDateFormat reads `SSS` as a number of milliseconds: `.5` is 5 ms.
    let millis = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            f.parse::<i64>().ok().filter(|v| *v < 1000)?
        }
        Some(_) => return None,
    };
    Some((((h * 60 + m) * 60 + s) * 1000 + millis, rest))
}

/// A zone's offset from UTC in milliseconds: nothing, `Z`, `UTC`, `GMT`, `+hh`, `+hhmm`,
/// `+hh:mm` (a space before it allowed).
fn zone_offset(text: &str) -> Option<i64> {
    let z = text.strip_prefix(' ').unwrap_or(text);
    if z.is_empty() || z == "Z" || z.eq_ignore_ascii_case("UTC") || z.eq_ignore_ascii_case("GMT") {
        return Some(0);
    }
    let z = z
        .strip_prefix("GMT")
        .or_else(|| z.strip_prefix("UTC"))
        .unwrap_or(z);
    let sign = match z.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &z[1..];
    let (h, m) = match body.len() {
        2 => (body, "00"),
        4 => (&body[..2], &body[2..]),
        5 if body.as_bytes()[2] == b':' => (&body[..2], &body[3..]),
        _ => return None,
    };
    if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 60 + m) * 60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(literal: Literal, ty: &str) -> Result<Value, CqlError> {
        literal_value(
            &literal,
            &ColumnSpec::new("k", CqlType::parse(ty).unwrap()),
            42,
        )
    }

    fn int(s: &str) -> Literal {
        Literal::Integer(s.into())
    }

    fn string(s: &str) -> Literal {
        Literal::String(s.into())
    }

    fn error(r: Result<Value, CqlError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn kinds_that_do_not_fit_the_type_are_cassandras_invalid_constant() {
        assert_eq!(
            error(value(string("foo"), "int")),
            "Invalid STRING constant (foo) for \"k\" of type int"
        );
        assert_eq!(
            error(value(Literal::Float("1.5".into()), "int")),
            "Invalid FLOAT constant (1.5) for \"k\" of type int"
        );
        assert_eq!(
            error(value(int("1"), "text")),
            "Invalid INTEGER constant (1) for \"k\" of type text"
        );
        assert_eq!(
            error(value(Literal::Boolean(true), "list<int>")),
            "Invalid BOOLEAN constant (true) for \"k\" of type list<int>"
        );
        assert_eq!(
            error(value(
                string("6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
                "uuid"
            )),
            "Invalid STRING constant (6ba7b810-9dad-11d1-80b4-00c04fd430c8) for \"k\" of type uuid"
        );
        assert_eq!(
            error(value(Literal::Hex("0x01".into()), "int")),
            "Invalid HEX constant (0x01) for \"k\" of type int"
        );
    }

    #[test]
    fn integers_fit_every_number_type_with_range_checks() {
        assert_eq!(value(int("-7"), "int").unwrap(), Value::Int(-7));
        assert_eq!(
            error(value(int("3000000000"), "int")),
            "Unable to make int from '3000000000'"
        );
        assert_eq!(
            value(int("3000000000"), "bigint").unwrap(),
            Value::BigInt(3_000_000_000)
        );
        assert_eq!(
            error(value(int("9223372036854775808"), "bigint")),
            "Unable to make long from '9223372036854775808'"
        );
        assert_eq!(
            value(int("-32768"), "smallint").unwrap(),
            Value::SmallInt(-32768)
        );
        assert_eq!(
            error(value(int("32768"), "smallint")),
            "Unable to make short from '32768'"
        );
        assert_eq!(value(int("127"), "tinyint").unwrap(), Value::TinyInt(127));
        assert_eq!(
            error(value(int("128"), "tinyint")),
            "Unable to make byte from '128'"
        );
        assert_eq!(value(int("5"), "counter").unwrap(), Value::Counter(5));
        assert_eq!(
            value(int("123456789012345678901234567890"), "varint").unwrap(),
            Value::VarInt("123456789012345678901234567890".parse().unwrap())
        );
        assert_eq!(value(int("3"), "double").unwrap(), Value::Double(3.0));
        assert_eq!(value(int("3"), "float").unwrap(), Value::Float(3.0));
        assert_eq!(
            value(int("-12"), "decimal").unwrap(),
            Value::Decimal {
                unscaled: BigInt::from(-12),
                scale: 0
            }
        );
        // Integers are raw values for dates (unsigned days), times (ns) and timestamps (ms).
        assert_eq!(
            value(int("2147483649"), "date").unwrap(),
            Value::Date(DATE_EPOCH + 1)
        );
        assert_eq!(value(int("1000"), "time").unwrap(), Value::Time(1000));
        assert_eq!(
            error(value(int("86400000000000"), "time")),
            "Unable to make long (for time) from: '86400000000000'"
        );
        assert_eq!(value(int("-5"), "timestamp").unwrap(), Value::Timestamp(-5));
        assert_eq!(
            error(value(int("-1"), "date")),
            "Unable to make unsigned int (for date) from: '-1'"
        );
    }

    #[test]
    fn floats_and_their_special_values() {
        assert_eq!(
            value(Literal::Float("1.5e3".into()), "double").unwrap(),
            Value::Double(1500.0)
        );
        assert!(
            matches!(value(Literal::Float("NaN".into()), "double").unwrap(), Value::Double(d) if d.is_nan())
        );
        assert_eq!(
            value(Literal::Float("-Infinity".into()), "float").unwrap(),
            Value::Float(f32::NEG_INFINITY)
        );
        assert_eq!(
            value(Literal::Float("1.50".into()), "decimal").unwrap(),
            Value::Decimal {
                unscaled: BigInt::from(150),
                scale: 2
            }
        );
        assert_eq!(parse_decimal("1.5e3"), Some((BigInt::from(15), -2)));
        assert_eq!(parse_decimal("-0.005"), Some((BigInt::from(-5), 3)));
        assert_eq!(parse_decimal("1e99999999999"), None);
        assert_eq!(
            error(value(Literal::Float("NaN".into()), "decimal")),
            "unable to make BigDecimal from 'NaN'"
        );
    }

    #[test]
    fn strings_for_text_inet_dates_times_and_timestamps() {
        assert_eq!(
            value(string("it's"), "text").unwrap(),
            Value::Text("it's".into())
        );
        assert_eq!(
            value(string("abc"), "ascii").unwrap(),
            Value::Ascii("abc".into())
        );
        assert!(error(value(string("é"), "ascii")).starts_with("Invalid ASCII character"));
        assert_eq!(
            value(string("::1"), "inet").unwrap(),
            Value::Inet("::1".parse().unwrap())
        );
        assert_eq!(
            error(value(string("nope"), "inet")),
            "Unable to make inet address from 'nope'"
        );
        assert_eq!(
            value(string("1970-01-02"), "date").unwrap(),
            Value::Date(DATE_EPOCH + 1)
        );
        assert_eq!(
            value(string("1969-12-31"), "date").unwrap(),
            Value::Date(DATE_EPOCH - 1)
        );
        assert_eq!(
            error(value(string("2023-02-29"), "date")),
            "Unable to coerce '2023-02-29' to a formatted date (long)"
        );
        assert_eq!(
            value(string("2024-02-29"), "date").unwrap(),
            Value::Date(DATE_EPOCH + 19782)
        );
        assert_eq!(
            value(string("01:02:03.5"), "time").unwrap(),
            Value::Time(3_723_500_000_000)
        );
        assert_eq!(
            error(value(string("25:00:00"), "time")),
            "(TimeType) Unable to coerce '25:00:00' to a formatted time (long)"
        );
        assert_eq!(
            value(string("now"), "timestamp").unwrap(),
            Value::Timestamp(42)
        );
        assert_eq!(
            value(string("12345"), "timestamp").unwrap(),
            Value::Timestamp(12345)
        );
        assert_eq!(
            error(value(string("yesterday"), "timestamp")),
            "Unable to coerce 'yesterday' to a formatted date (long)"
        );
    }

    #[test]
    fn timestamps_in_every_format_cassandra_reads() {
        let t = |s: &str| parse_timestamp(s, 0);
        let base = 1_706_695_200_000; // 2024-01-31 10:00:00 UTC
        for s in [
            "2024-01-31 10:00:00+0000",
            "2024-01-31 10:00:00",
            "2024-01-31 10:00",
            "2024-01-31T10:00:00Z",
            "2024-01-31T10:00:00.000+00:00",
            "2024-01-31 10:00:00 UTC",
            "2024-01-31 11:00:00+0100",
            "2024-01-31 11:00+01",
            "2024-01-31 05:00:00-0500",
            "2024-01-31T12:00:00 GMT+02:00",
        ] {
            assert_eq!(t(s), Ok(base), "{s}");
        }
        assert_eq!(t("2024-01-31"), Ok(base - 36_000_000));
        assert_eq!(t("2024-01-31+0000"), Ok(base - 36_000_000));
        assert_eq!(t("2024-01-31 10:00:00.123"), Ok(base + 123));
        assert_eq!(t("1969-12-31 23:59:59.999Z"), Ok(-1));
        for bad in [
            "2024-13-01",
            "2024-01-31 10:60",
            "2024-01-31 10:00:00+2500",
            "10:00",
            "2024-01-31 x",
        ] {
            assert!(t(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uuids_booleans_and_blobs() {
        let v1 = "5f6e6a10-8f2a-11ee-b9d1-0242ac120002";
        let v4 = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";
        assert!(matches!(
            value(Literal::Uuid(v1.into()), "timeuuid").unwrap(),
            Value::TimeUuid(_)
        ));
        assert!(matches!(
            value(Literal::Uuid(v4.into()), "uuid").unwrap(),
            Value::Uuid(_)
        ));
        assert_eq!(
            error(value(Literal::Uuid(v4.into()), "timeuuid")),
            "TimeUUID supports only version 1 UUIDs"
        );
        assert_eq!(
            value(Literal::Boolean(false), "boolean").unwrap(),
            Value::Boolean(false)
        );
        assert_eq!(
            value(Literal::Hex("0xCAFE".into()), "blob").unwrap(),
            Value::Blob(Bytes::from_static(b"\xca\xfe"))
        );
        assert_eq!(
            value(Literal::Hex("0x".into()), "blob").unwrap(),
            Value::Blob(Bytes::new())
        );
        assert_eq!(
            error(value(Literal::Hex("0xabc".into()), "blob")),
            "cannot parse 'abc' as hex bytes"
        );
    }
}
