//! fastdata-cql: the CQL-lite language, with no storage.
//!
//! Owns what a CQL statement *is*: its types ([`types::CqlType`], as `system_schema` and
//! DESCRIBE write them), its values ([`value::Value`]: the native protocol's serialization of
//! each type, the order Cassandra sorts them in, their literal form), and (being built) the
//! lexer, the parser and the statement tree the store's executor (`fastdata-kv`) runs. It does
//! not own storage, networking or sessions.

pub mod ast;
pub mod error;
pub mod lexer;
pub mod parser;
mod print;
pub mod types;
pub mod value;

pub use error::CqlError;
pub use parser::{parse_script, parse_statement};
pub use types::CqlType;
pub use value::Value;
