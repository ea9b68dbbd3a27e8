//! The crate's one error type, [`CqlError`]: syntax errors with the position Cassandra prints
//! (`line 1:7 ...`: 1-based line, 0-based column in characters), the bounds the parser enforces,
//! and invalid requests (a literal that does not fit its column's type, an unknown function),
//! worded as Cassandra words them.
//!
//! The server maps [`CqlError::is_syntax`] errors to the native protocol's Syntax error (0x2000)
//! and every other variant to Invalid (0x2200).

/// Why a statement did not parse or a term did not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CqlError {
    /// The text is not CQL: `line 1:14 no viable alternative at input 'FROM' (SELECT a, [FROM]...)`.
    #[error("line {line}:{column} {message}")]
    Syntax {
        /// 1-based line of the offending token.
        line: usize,
        /// 0-based column (in characters) of the offending token.
        column: usize,
        /// What went wrong, with Cassandra's query snippet where it gives one.
        message: String,
    },
    /// The input is longer than [`crate::MAX_STATEMENT_BYTES`].
    #[error("statement of {length} bytes exceeds the maximum of {max} bytes")]
    StatementTooLong { length: usize, max: usize },
    /// Terms, types or selectors nested deeper than [`crate::MAX_NESTING_DEPTH`].
    #[error("line {line}:{column} nesting deeper than {max} levels")]
    TooDeep {
        line: usize,
        column: usize,
        max: usize,
    },
    /// A collection literal (or IN list) longer than [`crate::MAX_COLLECTION_LITERAL_ELEMENTS`].
    #[error("line {line}:{column} collection literal with more than {max} elements")]
    CollectionTooLarge {
        line: usize,
        column: usize,
        max: usize,
    },
    /// More bind markers than the protocol can bind ([`crate::MAX_BIND_MARKERS`]).
    #[error("Too many markers(?). {count} markers exceed the allowed maximum of {max}")]
    TooManyMarkers { count: usize, max: usize },
    /// A statement Cassandra has but fastdata does not (CREATE INDEX, GRANT, SELECT JSON...).
    #[error("{0} is not supported")]
    Unsupported(String),
    /// A well-formed statement that cannot be run as written: Cassandra's InvalidRequest
    /// (`Invalid STRING constant (foo) for "k" of type int`).
    #[error("{0}")]
    Invalid(String),
}

impl CqlError {
    /// Whether the protocol reports this as a Syntax error (0x2000) rather than Invalid
    /// (0x2200).
    pub fn is_syntax(&self) -> bool {
        matches!(
            self,
            CqlError::Syntax { .. }
                | CqlError::StatementTooLong { .. }
                | CqlError::TooDeep { .. }
                | CqlError::CollectionTooLarge { .. }
        )
    }

    /// The (line, column) the error points at, for the errors that have one.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            CqlError::Syntax { line, column, .. }
            | CqlError::TooDeep { line, column, .. }
            | CqlError::CollectionTooLarge { line, column, .. } => Some((*line, *column)),
            _ => None,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> CqlError {
        CqlError::Invalid(message.into())
    }
}
