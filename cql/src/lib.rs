//! fastdata-cql: the CQL-lite language, with no storage.

pub mod ast;
pub mod bind;
pub mod error;
pub mod lexer;
pub mod literal;
pub mod parser;
mod print;
pub mod resolve;
pub mod types;
pub mod value;

pub use error::CqlError;
pub use parser::{parse_script, parse_statement};
pub use types::CqlType;
pub use value::Value;
