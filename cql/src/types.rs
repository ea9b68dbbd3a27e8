//! CQL types: the native types, collections, tuples and `frozen<>`, as `system_schema.columns`
//! and DESCRIBE write them (`frozen<map<text, int>>`) and as the native protocol numbers them.

use std::fmt;

/// A CQL type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CqlType {
    Ascii,
    BigInt,
    Blob,
    Boolean,
    Counter,
    Date,
    Decimal,
    Double,
    Float,
    Inet,
    Int,
    SmallInt,
    /// `text`; `varchar` is its alias and is printed as `text`.
    Text,
    Time,
    Timestamp,
    TimeUuid,
    TinyInt,
    Uuid,
    VarInt,
    List(Box<CqlType>),
    Set(Box<CqlType>),
    Map(Box<CqlType>, Box<CqlType>),
    /// Tuples are always frozen; printed as `frozen<tuple<...>>` as Cassandra 5 does.
    Tuple(Vec<CqlType>),
    /// `frozen<T>`: a collection (or tuple) stored and compared as one value.
    Frozen(Box<CqlType>),
}

/// The native protocol's type option ids (spec v4 §4.2.5.2).
pub mod option_id {
    pub const CUSTOM: u16 = 0x0000;
    pub const ASCII: u16 = 0x0001;
    pub const BIGINT: u16 = 0x0002;
    pub const BLOB: u16 = 0x0003;
    pub const BOOLEAN: u16 = 0x0004;
    pub const COUNTER: u16 = 0x0005;
    pub const DECIMAL: u16 = 0x0006;
    pub const DOUBLE: u16 = 0x0007;
    pub const FLOAT: u16 = 0x0008;
    pub const INT: u16 = 0x0009;
    pub const TIMESTAMP: u16 = 0x000B;
    pub const UUID: u16 = 0x000C;
    pub const VARCHAR: u16 = 0x000D;
    pub const VARINT: u16 = 0x000E;
    pub const TIMEUUID: u16 = 0x000F;
    pub const INET: u16 = 0x0010;
    pub const DATE: u16 = 0x0011;
    pub const TIME: u16 = 0x0012;
    pub const SMALLINT: u16 = 0x0013;
    pub const TINYINT: u16 = 0x0014;
    pub const LIST: u16 = 0x0020;
    pub const MAP: u16 = 0x0021;
    pub const SET: u16 = 0x0022;
    pub const UDT: u16 = 0x0030;
    pub const TUPLE: u16 = 0x0031;
}

/// Why a type name did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid type '{text}': {reason}")]
pub struct TypeParseError {
    pub text: String,
    pub reason: String,
}

impl CqlType {
    /// The type without an outer `frozen<>`.
    pub fn unfrozen(&self) -> &CqlType {
        match self {
            CqlType::Frozen(inner) => inner.unfrozen(),
            other => other,
        }
    }

    /// Whether values of this type are one cell (native types, frozen collections, tuples)
    /// rather than a collection of cells.
    pub fn is_frozen_or_native(&self) -> bool {
        !matches!(
            self,
            CqlType::List(_) | CqlType::Set(_) | CqlType::Map(_, _)
        )
    }

    /// Whether this is a (non-frozen or frozen) collection.
    pub fn is_collection(&self) -> bool {
        matches!(
            self.unfrozen(),
            CqlType::List(_) | CqlType::Set(_) | CqlType::Map(_, _)
        )
    }

    /// The native protocol's option id of the (unfrozen) type.
    pub fn option_id(&self) -> u16 {
        use option_id::*;
        match self.unfrozen() {
            CqlType::Ascii => ASCII,
            CqlType::BigInt => BIGINT,
            CqlType::Blob => BLOB,
            CqlType::Boolean => BOOLEAN,
            CqlType::Counter => COUNTER,
            CqlType::Date => DATE,
            CqlType::Decimal => DECIMAL,
            CqlType::Double => DOUBLE,
            CqlType::Float => FLOAT,
            CqlType::Inet => INET,
            CqlType::Int => INT,
            CqlType::SmallInt => SMALLINT,
            CqlType::Text => VARCHAR,
            CqlType::Time => TIME,
            CqlType::Timestamp => TIMESTAMP,
            CqlType::TimeUuid => TIMEUUID,
            CqlType::TinyInt => TINYINT,
            CqlType::Uuid => UUID,
            CqlType::VarInt => VARINT,
            CqlType::List(_) => LIST,
            CqlType::Set(_) => SET,
            CqlType::Map(_, _) => MAP,
            CqlType::Tuple(_) => TUPLE,
            CqlType::Frozen(_) => CUSTOM,
        }
    }

    /// Parse a type as CQL writes it: `int`, `varchar`, `frozen<list<text>>`,
    /// `map<text, frozen<set<int>>>`, `tuple<int, text>`. Case-insensitive, spaces allowed.
    pub fn parse(text: &str) -> Result<CqlType, TypeParseError> {
        let mut p = TypeParser {
            text,
            chars: text.char_indices().peekable(),
        };
        let t = p.parse_type()?;
        p.skip_spaces();
        if p.chars.peek().is_some() {
            return Err(p.error("trailing characters"));
        }
        Ok(t)
    }

    /// The native type named `name` (lower case), if any.
    pub fn native(name: &str) -> Option<CqlType> {
        Some(match name {
            "ascii" => CqlType::Ascii,
            "bigint" => CqlType::BigInt,
            "blob" => CqlType::Blob,
            "boolean" => CqlType::Boolean,
            "counter" => CqlType::Counter,
            "date" => CqlType::Date,
            "decimal" => CqlType::Decimal,
            "double" => CqlType::Double,
            "float" => CqlType::Float,
            "inet" => CqlType::Inet,
            "int" => CqlType::Int,
            "smallint" => CqlType::SmallInt,
            "text" | "varchar" => CqlType::Text,
            "time" => CqlType::Time,
            "timestamp" => CqlType::Timestamp,
            "timeuuid" => CqlType::TimeUuid,
            "tinyint" => CqlType::TinyInt,
            "uuid" => CqlType::Uuid,
            "varint" => CqlType::VarInt,
            _ => return None,
        })
    }
}

impl fmt::Display for CqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            CqlType::Ascii => "ascii",
            CqlType::BigInt => "bigint",
            CqlType::Blob => "blob",
            CqlType::Boolean => "boolean",
            CqlType::Counter => "counter",
            CqlType::Date => "date",
            CqlType::Decimal => "decimal",
            CqlType::Double => "double",
            CqlType::Float => "float",
            CqlType::Inet => "inet",
            CqlType::Int => "int",
            CqlType::SmallInt => "smallint",
            CqlType::Text => "text",
            CqlType::Time => "time",
            CqlType::Timestamp => "timestamp",
            CqlType::TimeUuid => "timeuuid",
            CqlType::TinyInt => "tinyint",
            CqlType::Uuid => "uuid",
            CqlType::VarInt => "varint",
            CqlType::List(e) => return write!(f, "list<{e}>"),
            CqlType::Set(e) => return write!(f, "set<{e}>"),
            CqlType::Map(k, v) => return write!(f, "map<{k}, {v}>"),
            CqlType::Tuple(items) => {
                write!(f, "frozen<tuple<")?;
                for (i, t) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{t}")?;
                }
                return write!(f, ">>");
            }
            CqlType::Frozen(inner) => {
                return match inner.as_ref() {
                    // A tuple prints its own frozen<>.
                    CqlType::Tuple(_) => write!(f, "{inner}"),
                    _ => write!(f, "frozen<{inner}>"),
                };
            }
        };
        f.write_str(name)
    }
}

struct TypeParser<'a> {
    text: &'a str,
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
}

impl TypeParser<'_> {
    fn error(&self, reason: &str) -> TypeParseError {
        TypeParseError {
            text: self.text.to_string(),
            reason: reason.to_string(),
        }
    }

    fn skip_spaces(&mut self) {
        while self.chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            self.chars.next();
        }
    }

    fn word(&mut self) -> String {
        self.skip_spaces();
        let mut w = String::new();
        while let Some(&(_, c)) = self.chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                w.push(c.to_ascii_lowercase());
                self.chars.next();
            } else {
                break;
            }
        }
        w
    }

    fn expect(&mut self, want: char) -> Result<(), TypeParseError> {
        self.skip_spaces();
        match self.chars.next() {
            Some((_, c)) if c == want => Ok(()),
            _ => Err(self.error(&format!("expected '{want}'"))),
        }
    }

    fn args(&mut self, count: Option<usize>) -> Result<Vec<CqlType>, TypeParseError> {
        self.expect('<')?;
        let mut items = vec![self.parse_type()?];
        loop {
            self.skip_spaces();
            match self.chars.next() {
                Some((_, ',')) => items.push(self.parse_type()?),
                Some((_, '>')) => break,
                _ => return Err(self.error("expected ',' or '>'")),
            }
        }
        if count.is_some_and(|n| n != items.len()) {
            return Err(self.error(&format!(
                "expected {} type arguments, found {}",
                count.unwrap_or(0),
                items.len()
            )));
        }
        Ok(items)
    }

    fn parse_type(&mut self) -> Result<CqlType, TypeParseError> {
        let name = self.word();
        if name.is_empty() {
            return Err(self.error("expected a type name"));
        }
        if let Some(t) = CqlType::native(&name) {
            return Ok(t);
        }
        let one =
            |p: &mut Self| -> Result<CqlType, TypeParseError> { Ok(p.args(Some(1))?.remove(0)) };
        Ok(match name.as_str() {
            "list" => CqlType::List(Box::new(one(self)?)),
            "set" => CqlType::Set(Box::new(one(self)?)),
            "map" => {
                let mut kv = self.args(Some(2))?;
                let v = kv.remove(1);
                CqlType::Map(Box::new(kv.remove(0)), Box::new(v))
            }
            "tuple" => CqlType::Tuple(self.args(None)?),
            "frozen" => match one(self)? {
                t @ CqlType::Tuple(_) => t,
                CqlType::Frozen(inner) => CqlType::Frozen(inner),
                t => CqlType::Frozen(Box::new(t)),
            },
            other => return Err(self.error(&format!("unknown type '{other}'"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse_and_print_as_cassandra_writes_them() {
        for (text, printed) in [
            ("int", "int"),
            ("VARCHAR", "text"),
            ("frozen<list<text>>", "frozen<list<text>>"),
            ("map<text,frozen<set<int>>>", "map<text, frozen<set<int>>>"),
            ("tuple<int, text>", "frozen<tuple<int, text>>"),
            (
                "frozen<tuple<double, double>>",
                "frozen<tuple<double, double>>",
            ),
            ("set<timeuuid>", "set<timeuuid>"),
        ] {
            let t = CqlType::parse(text).unwrap();
            assert_eq!(t.to_string(), printed, "{text}");
            assert_eq!(CqlType::parse(printed).unwrap(), t, "{printed}");
        }
    }

    #[test]
    fn bad_types_say_why() {
        for text in [
            "",
            "integer",
            "list<int",
            "map<int>",
            "list<int>x",
            "frozen<>",
        ] {
            assert!(CqlType::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn frozen_and_collections_are_classified() {
        let list = CqlType::parse("list<int>").unwrap();
        assert!(list.is_collection() && !list.is_frozen_or_native());
        let frozen = CqlType::parse("frozen<list<int>>").unwrap();
        assert!(frozen.is_collection() && frozen.is_frozen_or_native());
        assert_eq!(frozen.option_id(), option_id::LIST);
        assert!(CqlType::Int.is_frozen_or_native() && !CqlType::Int.is_collection());
    }
}
