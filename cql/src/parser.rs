//! The CQL-lite parser: tokens to [`Statement`]s, by hand-written recursive descent over the
//! lexer's tokens, following Cassandra's `Parser.g` rule by rule where CQL-lite has the rule.
//!
//! [`parse_statement`] reads one statement (as a QUERY or PREPARE carries it: trailing `;`
//! allowed), [`parse_script`] a `;`-separated script. Syntax errors read like Cassandra's
//! (`line 1:9 mismatched input 'FORM' expecting K_FROM (SELECT * [FORM] t)`), with the position
//! of the offending token and the same query snippet (ten tokens before it, two after, hidden
//! ones counted). Statements Cassandra has and CQL-lite does not (CREATE INDEX, GRANT, SELECT
//! JSON, GROUP BY, ...) are [`CqlError::Unsupported`]. Nesting, collection literal sizes, bind
//! marker counts and the input length are bounded by the constants below.

use crate::ast::*;
use crate::error::CqlError;
use crate::lexer::{end_position, tokenize, Token, TokenKind};
use crate::types::CqlType;

/// The longest statement or script accepted, in bytes (the native protocol's default frame
/// limit).
pub const MAX_STATEMENT_BYTES: usize = 16 * 1024 * 1024;

/// How deeply terms, types and selectors may nest (`[[[1]]]`, `frozen<list<frozen<...>>>`,
/// `f(g(h(x)))`).
pub const MAX_NESTING_DEPTH: usize = 64;

/// The most elements a collection literal, tuple or `IN (...)` list may have.
pub const MAX_COLLECTION_LITERAL_ELEMENTS: usize = 65_535;

/// The most bind markers one statement may have (the protocol counts values in 16 bits).
pub const MAX_BIND_MARKERS: usize = 65_535;

/// Cassandra 5.0's reserved keywords (`reserved_keywords.txt`): they cannot be unquoted
/// identifiers, and names equal to them are printed quoted.
pub const RESERVED: [&str; 57] = [
    "ADD",
    "ALLOW",
    "ALTER",
    "AND",
    "APPLY",
    "ASC",
    "AUTHORIZE",
    "BATCH",
    "BEGIN",
    "BY",
    "COLUMNFAMILY",
    "CREATE",
    "DELETE",
    "DESC",
    "DESCRIBE",
    "DROP",
    "ENTRIES",
    "EXECUTE",
    "FROM",
    "FULL",
    "GRANT",
    "IF",
    "IN",
    "INDEX",
    "INFINITY",
    "INSERT",
    "INTO",
    "IS",
    "KEYSPACE",
    "LIMIT",
    "MATERIALIZED",
    "MODIFY",
    "NAN",
    "NORECURSIVE",
    "NOT",
    "NULL",
    "OF",
    "ON",
    "OR",
    "ORDER",
    "PRIMARY",
    "RENAME",
    "REVOKE",
    "SCHEMA",
    "SELECT",
    "SET",
    "TABLE",
    "TO",
    "TOKEN",
    "TRUNCATE",
    "UNLOGGED",
    "UPDATE",
    "USE",
    "USING",
    "VIEW",
    "WHERE",
    "WITH",
];

/// Whether `word` is a reserved keyword (case-insensitive). `true` and `false` are literals
/// and count as reserved too.
pub fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
        || word.eq_ignore_ascii_case("true")
        || word.eq_ignore_ascii_case("false")
}

/// Parse one statement; trailing `;` are allowed, anything else after it is an error.
pub fn parse_statement(text: &str) -> Result<Statement, CqlError> {
    let mut p = Parser::new(text)?;
    let statement = p.statement()?;
    while p.eat_punct(";") {}
    if p.peek().is_some() {
        return Err(p.mismatched("EOF"));
    }
    p.check_markers()?;
    Ok(statement)
}

/// Parse a script: statements separated (and optionally ended) by `;`, with comments. Bind
/// markers are numbered per statement.
pub fn parse_script(text: &str) -> Result<Vec<Statement>, CqlError> {
    let mut p = Parser::new(text)?;
    let mut statements = Vec::new();
    loop {
        while p.eat_punct(";") {}
        if p.peek().is_none() {
            break;
        }
        p.markers = 0;
        statements.push(p.statement()?);
        p.check_markers()?;
        if p.peek().is_some() && !p.at_punct(";") {
            return Err(p.mismatched("';'"));
        }
    }
    Ok(statements)
}

type PResult<T> = Result<T, CqlError>;

/// The recursive-descent parser over one text.
struct Parser<'a> {
    src: &'a str,
    /// Every token, hidden ones included (the error snippet counts them).
    all: Vec<Token>,
    /// Indices in `all` of the tokens the grammar sees.
    visible: Vec<usize>,
    /// The next visible token.
    pos: usize,
    depth: usize,
    /// Bind markers numbered so far in the current statement.
    markers: usize,
}

/// The name ANTLR gives a keyword token in "expecting" messages.
fn keyword_token_name(keyword: &str) -> String {
    match keyword {
        "TABLE" => "K_COLUMNFAMILY".to_string(),
        other => format!("K_{other}"),
    }
}

fn is_native_type_name(word: &str) -> bool {
    CqlType::native(&word.to_ascii_lowercase()).is_some()
}

fn is_type_constructor(word: &str) -> bool {
    ["list", "set", "map", "tuple", "frozen"]
        .iter()
        .any(|w| w.eq_ignore_ascii_case(word))
}

fn operator_of(token: &Token) -> Option<Operator> {
    if token.kind != TokenKind::Punct {
        return None;
    }
    Some(match token.text.as_str() {
        "=" => Operator::Eq,
        "<" => Operator::Lt,
        "<=" => Operator::Lte,
        ">" => Operator::Gt,
        ">=" => Operator::Gte,
        "!=" => Operator::Neq,
        _ => return None,
    })
}

fn literal_of(token: &Token) -> Option<Literal> {
    let text = token.text.clone();
    Some(match token.kind {
        TokenKind::String => Literal::String(text),
        TokenKind::Integer => Literal::Integer(text),
        TokenKind::Float => Literal::Float(text),
        TokenKind::Boolean => Literal::Boolean(text.eq_ignore_ascii_case("true")),
        TokenKind::Uuid => Literal::Uuid(text),
        TokenKind::Hex => Literal::Hex(text),
        _ => return None,
    })
}

/// `frozen<T>` as Cassandra freezes it: the collections and tuples inside are frozen too.
fn freeze(ty: CqlType) -> CqlType {
    match ty {
        CqlType::List(e) => CqlType::Frozen(Box::new(CqlType::List(Box::new(freeze_inner(*e))))),
        CqlType::Set(e) => CqlType::Frozen(Box::new(CqlType::Set(Box::new(freeze_inner(*e))))),
        CqlType::Map(k, v) => CqlType::Frozen(Box::new(CqlType::Map(
            Box::new(freeze_inner(*k)),
            Box::new(freeze_inner(*v)),
        ))),
        CqlType::Tuple(items) => CqlType::Tuple(items.into_iter().map(freeze_inner).collect()),
        other => other,
    }
}

fn freeze_inner(ty: CqlType) -> CqlType {
    match ty {
        CqlType::List(_) | CqlType::Set(_) | CqlType::Map(_, _) | CqlType::Tuple(_) => freeze(ty),
        CqlType::Frozen(inner) => freeze(*inner),
        other => other,
    }
}

/// Checks and freezes a type as written; `in_frozen` when a `frozen<>` or a tuple encloses it
/// (nested collections are then frozen rather than refused).
fn normalize_type(ty: CqlType, in_frozen: bool) -> PResult<CqlType> {
    let open = |t: &CqlType| matches!(t, CqlType::List(_) | CqlType::Set(_) | CqlType::Map(_, _));
    let check = |t: CqlType, inner: &[&CqlType]| {
        if !in_frozen && inner.iter().any(|e| open(e)) {
            return Err(CqlError::invalid(format!(
                "Non-frozen collections are not allowed inside collections: {t}"
            )));
        }
        Ok(t)
    };
    match ty {
        CqlType::Frozen(inner) => {
            if !matches!(
                *inner,
                CqlType::List(_)
                    | CqlType::Set(_)
                    | CqlType::Map(_, _)
                    | CqlType::Tuple(_)
                    | CqlType::Frozen(_)
            ) {
                return Err(CqlError::invalid(
                    "frozen<> is only allowed on collections, tuples, and user-defined types",
                ));
            }
            Ok(freeze(normalize_type(*inner, true)?))
        }
        CqlType::List(e) => {
            let e = normalize_type(*e, in_frozen)?;
            let inner = e.clone();
            check(CqlType::List(Box::new(e)), &[&inner])
        }
        CqlType::Set(e) => {
            let e = normalize_type(*e, in_frozen)?;
            let inner = e.clone();
            check(CqlType::Set(Box::new(e)), &[&inner])
        }
        CqlType::Map(k, v) => {
            let (k, v) = (
                normalize_type(*k, in_frozen)?,
                normalize_type(*v, in_frozen)?,
            );
            let (ik, iv) = (k.clone(), v.clone());
            check(CqlType::Map(Box::new(k), Box::new(v)), &[&ik, &iv])
        }
        CqlType::Tuple(items) => Ok(CqlType::Tuple(
            items
                .into_iter()
                .map(|t| normalize_type(t, true).map(freeze_inner))
                .collect::<PResult<_>>()?,
        )),
        other => Ok(other),
    }
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> PResult<Parser<'a>> {
        if src.len() > MAX_STATEMENT_BYTES {
            return Err(CqlError::StatementTooLong {
                length: src.len(),
                max: MAX_STATEMENT_BYTES,
            });
        }
        let all = tokenize(src)?;
        let visible = (0..all.len()).filter(|&i| !all[i].is_hidden()).collect();
        Ok(Parser {
            src,
            all,
            visible,
            pos: 0,
            depth: 0,
            markers: 0,
        })
    }

    // ---- token access ----

    fn peek(&self) -> Option<&Token> {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> Option<&Token> {
        self.visible.get(self.pos + n).map(|&i| &self.all[i])
    }

    fn advance(&mut self) -> Option<Token> {
        let t = self.peek().cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn at_kw(&self, keyword: &str) -> bool {
        self.peek().is_some_and(|t| t.is_word(keyword))
    }

    fn at_kw_at(&self, n: usize, keyword: &str) -> bool {
        self.peek_at(n).is_some_and(|t| t.is_word(keyword))
    }

    fn eat_kw(&mut self, keyword: &str) -> bool {
        if self.at_kw(keyword) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, keyword: &str) -> PResult<()> {
        if self.eat_kw(keyword) {
            Ok(())
        } else {
            Err(self.mismatched(&keyword_token_name(keyword)))
        }
    }

    fn at_punct(&self, p: &str) -> bool {
        self.peek().is_some_and(|t| t.is_punct(p))
    }

    fn at_punct_at(&self, n: usize, p: &str) -> bool {
        self.peek_at(n).is_some_and(|t| t.is_punct(p))
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.at_punct(p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, p: &str) -> PResult<()> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(self.mismatched(&format!("'{p}'")))
        }
    }

    // ---- errors ----

    /// (line, column, index in `all`) of the next token, or of the end of the input.
    fn here(&self) -> (usize, usize, usize) {
        match self.visible.get(self.pos) {
            Some(&i) => (self.all[i].line, self.all[i].column, i),
            None => {
                let (line, column) = end_position(self.src);
                (line, column, self.all.len())
            }
        }
    }

    fn current_display(&self) -> String {
        match self.peek() {
            None => "<EOF>".to_string(),
            Some(t) => t
                .text
                .replace('\n', "\\n")
                .replace('\r', "\\r")
                .replace('\t', "\\t"),
        }
    }

    fn syntax_error(&self, message: String) -> CqlError {
        let (line, column, index) = self.here();
        CqlError::Syntax {
            line,
            column,
            message: format!("{message}{}", self.snippet(index)),
        }
    }

    /// An error at the next token without Cassandra's snippet (its `addRecognitionError`).
    fn plain_error(&self, message: impl Into<String>) -> CqlError {
        self.error_at(self.pos, message)
    }

    /// [`Self::plain_error`] at the visible token `pos`.
    fn error_at(&self, pos: usize, message: impl Into<String>) -> CqlError {
        let (line, column) = match self.visible.get(pos) {
            Some(&i) => (self.all[i].line, self.all[i].column),
            None => end_position(self.src),
        };
        CqlError::Syntax {
            line,
            column,
            message: message.into(),
        }
    }

    fn no_viable(&self) -> CqlError {
        self.syntax_error(format!(
            "no viable alternative at input '{}'",
            self.current_display()
        ))
    }

    fn mismatched(&self, expecting: &str) -> CqlError {
        self.syntax_error(format!(
            "mismatched input '{}' expecting {expecting}",
            self.current_display()
        ))
    }

    /// Cassandra's `ErrorCollector.appendSnippet`: ` (...tokens [offending] tokens...)`.
    fn snippet(&self, index: usize) -> String {
        let size = self.all.len();
        if size == 0 {
            return String::new();
        }
        let from = &self.all[index.saturating_sub(10)];
        let to = &self.all[(index + 2).min(size - 1)];
        let offending = &self.all[index.min(size - 1)];
        let mut lines: Vec<Vec<char>> = self.src.split('\n').map(|l| l.chars().collect()).collect();
        // Java's split drops trailing empty strings.
        while lines.len() > 1 && lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let len = |t: &Token| self.src[t.start..t.end].chars().count();
        let last_char = |t: &Token| t.column + len(t);
        let include_start = from.line == 1 && from.column == 0;
        let include_end =
            to.line == lines.len() && lines.last().is_some_and(|l| last_char(to) == l.len());
        let (from_line, to_line) = (from.line - 1, to.line - 1);
        if to_line < lines.len() {
            let end = last_char(to);
            lines[to_line].truncate(end);
        }
        let off_line = offending.line - 1;
        if let Some(line) = lines.get_mut(off_line) {
            let end = last_char(offending).min(line.len());
            line.insert(end, ']');
            line.insert(offending.column.min(end), '[');
        }
        if let Some(line) = lines.get_mut(from_line) {
            let start = from.column.min(line.len());
            line.drain(..start);
        }
        let mut out = String::from(" (");
        if !include_start {
            out.push_str("...");
        }
        for line in lines.iter().take(to_line + 1).skip(from_line) {
            out.extend(line.iter());
        }
        if !include_end {
            out.push_str("...");
        }
        out.push(')');
        out
    }

    fn check_markers(&self) -> PResult<()> {
        if self.markers > MAX_BIND_MARKERS {
            return Err(CqlError::TooManyMarkers {
                count: self.markers,
                max: MAX_BIND_MARKERS,
            });
        }
        Ok(())
    }

    /// Enter one nesting level (terms, types, selectors).
    fn enter(&mut self) -> PResult<()> {
        if self.depth >= MAX_NESTING_DEPTH {
            let (line, column, _) = self.here();
            return Err(CqlError::TooDeep {
                line,
                column,
                max: MAX_NESTING_DEPTH,
            });
        }
        self.depth += 1;
        Ok(())
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        self.enter()?;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// Parses `item`s separated by `,` until `close` (not consumed), bounded in number.
    fn comma_list<T>(
        &mut self,
        close: &str,
        mut item: impl FnMut(&mut Self) -> PResult<T>,
    ) -> PResult<Vec<T>> {
        let (line, column, _) = self.here();
        let mut items = Vec::new();
        if self.at_punct(close) {
            return Ok(items);
        }
        loop {
            if items.len() == MAX_COLLECTION_LITERAL_ELEMENTS {
                return Err(CqlError::CollectionTooLarge {
                    line,
                    column,
                    max: MAX_COLLECTION_LITERAL_ELEMENTS,
                });
            }
            items.push(item(self)?);
            if !self.eat_punct(",") {
                return Ok(items);
            }
        }
    }

    // ---- names ----

    /// Whether the next token can be an identifier.
    fn at_ident(&self) -> bool {
        self.at_ident_at(0)
    }

    fn at_ident_at(&self, n: usize) -> bool {
        self.peek_at(n).is_some_and(|t| match t.kind {
            TokenKind::Word => !is_reserved(&t.text),
            TokenKind::QuotedName => true,
            _ => false,
        })
    }

    /// Whether a name (or the bind marker Cassandra refuses there) is `n` tokens ahead.
    fn at_name_at(&self, n: usize) -> bool {
        self.at_ident_at(n) || self.peek_at(n).is_some_and(|t| t.kind == TokenKind::QMark)
    }

    /// `IDENT | QUOTED_NAME | unreserved_keyword`.
    fn ident(&mut self) -> PResult<Ident> {
        if !self.at_ident() {
            return Err(self.no_viable());
        }
        let t = self.advance().ok_or_else(|| self.no_viable())?;
        Ok(match t.kind {
            TokenKind::QuotedName => Ident(t.text),
            _ => Ident(t.text.to_ascii_lowercase()),
        })
    }

    /// An identifier where Cassandra refuses bind markers with a message of its own.
    fn name_ident(&mut self, what: &str) -> PResult<Ident> {
        if self.peek().is_some_and(|t| t.kind == TokenKind::QMark) {
            return Err(self.plain_error(format!("Bind variables cannot be used for {what} names")));
        }
        self.ident()
    }

    fn keyspace_name(&mut self) -> PResult<Ident> {
        self.name_ident("keyspace")
    }

    /// `[ks.]name`.
    fn qualified_name(&mut self, what: &str) -> PResult<QualifiedName> {
        let first = self.name_ident(if self.at_punct_at(1, ".") {
            "keyspace"
        } else {
            what
        })?;
        if self.eat_punct(".") {
            let name = self.name_ident(what)?;
            return Ok(QualifiedName {
                keyspace: Some(first),
                name,
            });
        }
        Ok(QualifiedName {
            keyspace: None,
            name: first,
        })
    }

    fn table_name(&mut self) -> PResult<QualifiedName> {
        self.qualified_name("table")
    }

    /// Whether a function call starts here: `name(`, `ks.name(`, `token(`.
    fn at_function_call(&self) -> bool {
        let name_at = |n: usize| {
            self.peek_at(n).is_some_and(|t| match t.kind {
                TokenKind::Word => !is_reserved(&t.text) || t.text.eq_ignore_ascii_case("token"),
                TokenKind::QuotedName => true,
                _ => false,
            })
        };
        name_at(0)
            && (self.at_punct_at(1, "(")
                || (self.at_punct_at(1, ".") && name_at(2) && self.at_punct_at(3, "(")))
    }

    /// A function name: `[ks.]name`, lower-cased unless quoted; `token` is allowed.
    fn function_name(&mut self) -> PResult<QualifiedName> {
        let part = |p: &mut Self| -> PResult<Ident> {
            if p.at_kw("token") {
                p.pos += 1;
                return Ok(Ident::new("token"));
            }
            p.ident()
        };
        let first = part(self)?;
        if self.eat_punct(".") {
            let name = part(self)?;
            return Ok(QualifiedName {
                keyspace: Some(first),
                name,
            });
        }
        Ok(QualifiedName {
            keyspace: None,
            name: first,
        })
    }

    fn ident_list(&mut self) -> PResult<Vec<Ident>> {
        self.expect_punct("(")?;
        let mut items = vec![self.ident()?];
        while self.eat_punct(",") {
            items.push(self.ident()?);
        }
        self.expect_punct(")")?;
        Ok(items)
    }

    fn if_not_exists(&mut self) -> PResult<bool> {
        if self.eat_kw("IF") {
            self.expect_kw("NOT")?;
            self.expect_kw("EXISTS")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn if_exists(&mut self) -> PResult<bool> {
        if self.eat_kw("IF") {
            self.expect_kw("EXISTS")?;
            return Ok(true);
        }
        Ok(false)
    }

    // ---- types ----

    /// A type as Cassandra prepares it: `frozen<>` freezes everything inside it, tuples freeze
    /// their components, and a non-frozen collection cannot be inside another collection.
    fn cql_type(&mut self) -> PResult<CqlType> {
        let raw = self.raw_type()?;
        normalize_type(raw, false)
    }

    fn raw_type(&mut self) -> PResult<CqlType> {
        self.nested(Self::raw_type_inner)
    }

    fn type_args(&mut self, count: Option<usize>) -> PResult<Vec<CqlType>> {
        self.expect_punct("<")?;
        let mut items = vec![self.raw_type()?];
        while count.is_none_or(|n| items.len() < n) && self.eat_punct(",") {
            items.push(self.raw_type()?);
        }
        if count.is_some_and(|n| items.len() < n) {
            return Err(self.mismatched("','"));
        }
        self.expect_punct(">")?;
        Ok(items)
    }

    /// A type as written (`frozen<>` kept as a wrapper, nothing checked yet).
    fn raw_type_inner(&mut self) -> PResult<CqlType> {
        let Some(t) = self.peek().cloned() else {
            return Err(self.no_viable());
        };
        if t.kind == TokenKind::String {
            return Err(CqlError::Unsupported(format!("custom type '{}'", t.text)));
        }
        if t.kind != TokenKind::Word && t.kind != TokenKind::QuotedName {
            return Err(self.no_viable());
        }
        let word = t.text.to_ascii_lowercase();
        let constructor = t.kind == TokenKind::Word && self.at_punct_at(1, "<");
        if t.kind == TokenKind::Word {
            if let Some(native) = CqlType::native(&word) {
                self.pos += 1;
                return Ok(native);
            }
        }
        match word.as_str() {
            "list" | "set" | "frozen" if constructor => {
                self.pos += 1;
                let inner = Box::new(self.type_args(Some(1))?.remove(0));
                Ok(match word.as_str() {
                    "list" => CqlType::List(inner),
                    "set" => CqlType::Set(inner),
                    _ => CqlType::Frozen(inner),
                })
            }
            "map" if constructor => {
                self.pos += 1;
                let mut kv = self.type_args(Some(2))?;
                let v = kv.remove(1);
                Ok(CqlType::Map(Box::new(kv.remove(0)), Box::new(v)))
            }
            "tuple" if constructor => {
                self.pos += 1;
                Ok(CqlType::Tuple(self.type_args(None)?))
            }
            "duration" | "vector" if t.kind == TokenKind::Word => {
                Err(CqlError::Unsupported(format!("the {word} type")))
            }
            _ => {
                // A user-defined type name: `[ks.]name`.
                let name = self.qualified_name("type")?;
                Err(CqlError::invalid(format!("Unknown type {name}")))
            }
        }
    }

    // ---- terms ----

    fn marker(&mut self, name: Option<Ident>) -> BindMarker {
        let index = self.markers;
        self.markers += 1;
        BindMarker { index, name }
    }

    /// `?` or `:name`, if one starts here.
    fn try_marker(&mut self) -> PResult<Option<BindMarker>> {
        if self.peek().is_some_and(|t| t.kind == TokenKind::QMark) {
            self.pos += 1;
            return Ok(Some(self.marker(None)));
        }
        if self.at_punct(":") {
            self.pos += 1;
            let name = self.ident()?;
            return Ok(Some(self.marker(Some(name))));
        }
        Ok(None)
    }

    /// `['-'] simpleTerm` (the nesting level is counted in `simple_term`).
    fn term(&mut self) -> PResult<Term> {
        if self.eat_punct("-") {
            return Ok(Term::Negate(Box::new(self.simple_term()?)));
        }
        self.simple_term()
    }

    /// Whether `( type )` (a cast) starts here rather than a tuple.
    fn at_cast(&self) -> bool {
        let Some(t) = self.peek_at(1) else {
            return false;
        };
        self.at_punct("(")
            && t.kind == TokenKind::Word
            && ((is_native_type_name(&t.text) && self.at_punct_at(2, ")"))
                || (is_type_constructor(&t.text) && self.at_punct_at(2, "<")))
    }

    fn simple_term(&mut self) -> PResult<Term> {
        self.nested(Self::simple_term_inner)
    }

    fn simple_term_inner(&mut self) -> PResult<Term> {
        let Some(t) = self.peek().cloned() else {
            return Err(self.no_viable());
        };
        if let Some(literal) = literal_of(&t) {
            self.pos += 1;
            return Ok(Term::Literal(literal));
        }
        if t.is_word("null") {
            self.pos += 1;
            return Ok(Term::Null);
        }
        if let Some(m) = self.try_marker()? {
            return Ok(Term::Bind(m));
        }
        if self.eat_punct("[") {
            let items = self.comma_list("]", Self::term)?;
            self.expect_punct("]")?;
            return Ok(Term::List(items));
        }
        if self.eat_punct("{") {
            if self.eat_punct("}") {
                return Ok(Term::Set(Vec::new()));
            }
            let first = self.term()?;
            if self.eat_punct(":") {
                let value = self.term()?;
                let mut entries = vec![(first, value)];
                while self.eat_punct(",") {
                    if entries.len() == MAX_COLLECTION_LITERAL_ELEMENTS {
                        return Err(self.too_large(&t));
                    }
                    let k = self.term()?;
                    self.expect_punct(":")?;
                    entries.push((k, self.term()?));
                }
                self.expect_punct("}")?;
                return Ok(Term::Map(entries));
            }
            let mut items = vec![first];
            while self.eat_punct(",") {
                if items.len() == MAX_COLLECTION_LITERAL_ELEMENTS {
                    return Err(self.too_large(&t));
                }
                items.push(self.term()?);
            }
            self.expect_punct("}")?;
            return Ok(Term::Set(items));
        }
        if self.at_cast() {
            self.pos += 1;
            let ty = self.cql_type()?;
            self.expect_punct(")")?;
            let term = self.simple_term()?;
            return Ok(Term::Cast {
                ty,
                term: Box::new(term),
            });
        }
        if self.eat_punct("(") {
            let items = self.comma_list(")", Self::term)?;
            if items.is_empty() {
                return Err(self.no_viable());
            }
            self.expect_punct(")")?;
            return Ok(Term::Tuple(items));
        }
        if self.at_function_call() {
            let name = self.function_name()?;
            self.expect_punct("(")?;
            let args = self.comma_list(")", Self::term)?;
            self.expect_punct(")")?;
            return Ok(Term::Function { name, args });
        }
        Err(self.no_viable())
    }

    fn too_large(&self, open: &Token) -> CqlError {
        CqlError::CollectionTooLarge {
            line: open.line,
            column: open.column,
            max: MAX_COLLECTION_LITERAL_ELEMENTS,
        }
    }

    /// `INTEGER | marker` (LIMIT, TTL, TIMESTAMP).
    fn int_value(&mut self) -> PResult<Term> {
        if let Some(m) = self.try_marker()? {
            return Ok(Term::Bind(m));
        }
        match self.peek() {
            Some(t) if t.kind == TokenKind::Integer => {
                let text = t.text.clone();
                self.pos += 1;
                Ok(Term::Literal(Literal::Integer(text)))
            }
            _ => Err(self.no_viable()),
        }
    }

    /// A constant: what `WITH` options and their maps take.
    fn constant(&mut self) -> PResult<Literal> {
        match self.peek().and_then(literal_of) {
            Some(l) => {
                self.pos += 1;
                Ok(l)
            }
            None => Err(self.no_viable()),
        }
    }

    // ---- statements ----

    fn statement(&mut self) -> PResult<Statement> {
        let Some(t) = self.peek().cloned() else {
            return Err(self.no_viable());
        };
        let word = if t.kind == TokenKind::Word {
            t.text.to_ascii_uppercase()
        } else {
            String::new()
        };
        match word.as_str() {
            "SELECT" => Ok(Statement::Select(self.select()?)),
            "INSERT" => Ok(Statement::Insert(self.insert()?)),
            "UPDATE" => Ok(Statement::Update(self.update()?)),
            "DELETE" => Ok(Statement::Delete(self.delete()?)),
            "BEGIN" => Ok(Statement::Batch(self.batch()?)),
            "USE" => {
                self.pos += 1;
                Ok(Statement::Use(self.keyspace_name()?))
            }
            "TRUNCATE" => {
                self.pos += 1;
                if !self.eat_kw("TABLE") {
                    self.eat_kw("COLUMNFAMILY");
                }
                Ok(Statement::Truncate(self.table_name()?))
            }
            "CREATE" => self.create(),
            "ALTER" => self.alter(),
            "DROP" => self.drop(),
            "DESCRIBE" | "DESC" => Ok(Statement::Describe(self.describe()?)),
            "GRANT" | "REVOKE" | "LIST" => Err(CqlError::Unsupported(word)),
            "ADD" if self.at_kw_at(1, "IDENTITY") => {
                Err(CqlError::Unsupported("ADD IDENTITY".to_string()))
            }
            _ => Err(self.no_viable()),
        }
    }

    fn unsupported_object(&self, verb: &str) -> Option<CqlError> {
        let object = [
            "INDEX",
            "CUSTOM",
            "TYPE",
            "FUNCTION",
            "AGGREGATE",
            "OR",
            "MATERIALIZED",
            "TRIGGER",
            "ROLE",
            "USER",
            "IDENTITY",
        ]
        .into_iter()
        .find(|w| self.at_kw(w))?;
        let what = match object {
            "MATERIALIZED" => "MATERIALIZED VIEW",
            "CUSTOM" => "CUSTOM INDEX",
            "OR" => "OR REPLACE",
            other => other,
        };
        Some(CqlError::Unsupported(format!("{verb} {what}")))
    }

    fn create(&mut self) -> PResult<Statement> {
        self.expect_kw("CREATE")?;
        if self.eat_kw("KEYSPACE") || self.eat_kw("SCHEMA") {
            let if_not_exists = self.if_not_exists()?;
            let name = self.keyspace_name()?;
            self.expect_kw("WITH")?;
            let options = self.properties()?;
            return Ok(Statement::CreateKeyspace(CreateKeyspace {
                if_not_exists,
                name,
                options,
            }));
        }
        if self.eat_kw("TABLE") || self.eat_kw("COLUMNFAMILY") {
            return Ok(Statement::CreateTable(self.create_table()?));
        }
        Err(self
            .unsupported_object("CREATE")
            .unwrap_or_else(|| self.no_viable()))
    }

    fn alter(&mut self) -> PResult<Statement> {
        self.expect_kw("ALTER")?;
        if self.eat_kw("KEYSPACE") || self.eat_kw("SCHEMA") {
            let if_exists = self.if_exists()?;
            let name = self.keyspace_name()?;
            self.expect_kw("WITH")?;
            let options = self.properties()?;
            return Ok(Statement::AlterKeyspace(AlterKeyspace {
                if_exists,
                name,
                options,
            }));
        }
        if self.eat_kw("TABLE") || self.eat_kw("COLUMNFAMILY") {
            return Ok(Statement::AlterTable(self.alter_table()?));
        }
        Err(self
            .unsupported_object("ALTER")
            .unwrap_or_else(|| self.no_viable()))
    }

    fn drop(&mut self) -> PResult<Statement> {
        self.expect_kw("DROP")?;
        if self.eat_kw("KEYSPACE") || self.eat_kw("SCHEMA") {
            let if_exists = self.if_exists()?;
            let name = self.keyspace_name()?;
            return Ok(Statement::DropKeyspace(DropKeyspace { if_exists, name }));
        }
        if self.eat_kw("TABLE") || self.eat_kw("COLUMNFAMILY") {
            let if_exists = self.if_exists()?;
            let name = self.table_name()?;
            return Ok(Statement::DropTable(DropTable { if_exists, name }));
        }
        Err(self
            .unsupported_object("DROP")
            .unwrap_or_else(|| self.no_viable()))
    }

    /// `property (AND property)*`; a name given twice is Cassandra's syntax error.
    fn properties(&mut self) -> PResult<Vec<TableOption>> {
        let mut options: Vec<TableOption> = Vec::new();
        loop {
            self.property(&mut options)?;
            if !self.eat_kw("AND") {
                return Ok(options);
            }
        }
    }

    /// `name = constant | name = {map} | name = word`.
    fn property(&mut self, options: &mut Vec<TableOption>) -> PResult<()> {
        let name_at = self.pos;
        let name = self.ident()?;
        self.expect_punct("=")?;
        let value = if self.at_punct("{") {
            let open = self.advance().ok_or_else(|| self.no_viable())?;
            let mut entries: Vec<(Literal, Literal)> = Vec::new();
            if !self.at_punct("}") {
                loop {
                    if entries.len() == MAX_COLLECTION_LITERAL_ELEMENTS {
                        return Err(self.too_large(&open));
                    }
                    let key_at = self.pos;
                    let k = self.constant()?;
                    self.expect_punct(":")?;
                    let v = self.constant()?;
                    if entries.iter().any(|(e, _)| e.raw_text() == k.raw_text()) {
                        return Err(self.error_at(
                            key_at,
                            format!("Multiple definition for property {}", k.raw_text()),
                        ));
                    }
                    entries.push((k, v));
                    if !self.eat_punct(",") {
                        break;
                    }
                }
            }
            self.expect_punct("}")?;
            OptionValue::Map(entries)
        } else if self.at_ident() && self.peek().is_some_and(|t| t.kind == TokenKind::Word) {
            OptionValue::Word(self.ident()?)
        } else {
            OptionValue::Literal(self.constant()?)
        };
        if options.iter().any(|o| o.name == name) {
            return Err(self.error_at(name_at, format!("Multiple definition for property {name}")));
        }
        options.push(TableOption { name, value });
        Ok(())
    }

    fn create_table(&mut self) -> PResult<CreateTable> {
        let if_not_exists = self.if_not_exists()?;
        let name = self.table_name()?;
        self.expect_punct("(")?;
        let mut columns = Vec::new();
        let mut primary_key: Option<PrimaryKey> = None;
        let set_key = |slot: &mut Option<PrimaryKey>, key: PrimaryKey| {
            if slot.is_some() {
                return Err(CqlError::invalid(
                    "Multiple PRIMARY KEYs specified (exactly one required)",
                ));
            }
            *slot = Some(key);
            Ok(())
        };
        loop {
            if self.eat_kw("PRIMARY") {
                self.expect_kw("KEY")?;
                self.expect_punct("(")?;
                let partition_key = if self.at_punct("(") {
                    self.ident_list()?
                } else {
                    vec![self.ident()?]
                };
                let mut clustering = Vec::new();
                while self.eat_punct(",") {
                    clustering.push(self.ident()?);
                }
                self.expect_punct(")")?;
                set_key(
                    &mut primary_key,
                    PrimaryKey {
                        partition_key,
                        clustering,
                    },
                )?;
            } else {
                let column = self.column_definition()?;
                if self.eat_kw("PRIMARY") {
                    self.expect_kw("KEY")?;
                    set_key(
                        &mut primary_key,
                        PrimaryKey {
                            partition_key: vec![column.name.clone()],
                            clustering: Vec::new(),
                        },
                    )?;
                }
                if columns.len() == MAX_COLLECTION_LITERAL_ELEMENTS {
                    return Err(self.plain_error("too many columns"));
                }
                columns.push(column);
            }
            // `( ',' tableColumns? )*`: a trailing comma is allowed.
            if !self.eat_punct(",") {
                break;
            }
            while self.eat_punct(",") {}
            if self.at_punct(")") {
                break;
            }
        }
        self.expect_punct(")")?;
        let primary_key = primary_key.ok_or_else(|| {
            CqlError::invalid(format!(
                "No PRIMARY KEY specifed for table '{name}' (exactly one required)"
            ))
        })?;
        for key in primary_key
            .partition_key
            .iter()
            .chain(&primary_key.clustering)
        {
            if !columns.iter().any(|c: &ColumnDefinition| &c.name == key) {
                return Err(CqlError::invalid(format!(
                    "Unknown definition {key} referenced in PRIMARY KEY"
                )));
            }
        }
        let mut clustering_order = Vec::new();
        let mut options = Vec::new();
        if self.eat_kw("WITH") {
            loop {
                if self.eat_kw("COMPACT") {
                    self.expect_kw("STORAGE")?;
                    return Err(CqlError::invalid(
                        "Compact tables are not allowed in Cassandra starting with 4.0 version.",
                    ));
                }
                if self.eat_kw("CLUSTERING") {
                    self.expect_kw("ORDER")?;
                    self.expect_kw("BY")?;
                    self.expect_punct("(")?;
                    loop {
                        let column = self.ident()?;
                        let desc = if self.eat_kw("DESC") {
                            true
                        } else if self.eat_kw("ASC") {
                            false
                        } else {
                            return Err(self.no_viable());
                        };
                        clustering_order.push((column, desc));
                        if !self.eat_punct(",") {
                            break;
                        }
                    }
                    self.expect_punct(")")?;
                } else {
                    self.property(&mut options)?;
                }
                if !self.eat_kw("AND") {
                    break;
                }
            }
        }
        Ok(CreateTable {
            if_not_exists,
            name,
            columns,
            primary_key,
            clustering_order,
            options,
        })
    }

    /// `name type [STATIC]`.
    fn column_definition(&mut self) -> PResult<ColumnDefinition> {
        let name = self.ident()?;
        let ty = self.cql_type()?;
        let is_static = self.eat_kw("STATIC");
        if self.at_kw("MASKED") {
            return Err(CqlError::Unsupported("MASKED columns".to_string()));
        }
        Ok(ColumnDefinition {
            name,
            ty,
            is_static,
        })
    }

    fn alter_table(&mut self) -> PResult<AlterTable> {
        let if_exists = self.if_exists()?;
        let name = self.table_name()?;
        let action = if self.eat_kw("ADD") {
            let if_not_exists = self.if_not_exists()?;
            let columns = if self.eat_punct("(") {
                let columns = self.comma_list(")", Self::column_definition)?;
                self.expect_punct(")")?;
                columns
            } else {
                vec![self.column_definition()?]
            };
            if columns.is_empty() {
                return Err(self.no_viable());
            }
            AlterTableAction::Add {
                if_not_exists,
                columns,
            }
        } else if self.eat_kw("DROP") {
            if self.at_kw("COMPACT") {
                return Err(CqlError::Unsupported("DROP COMPACT STORAGE".to_string()));
            }
            let if_exists = self.if_exists()?;
            let columns = if self.at_punct("(") {
                self.ident_list()?
            } else {
                vec![self.ident()?]
            };
            let timestamp = if self.eat_kw("USING") {
                self.expect_kw("TIMESTAMP")?;
                match self.peek() {
                    Some(t) if t.kind == TokenKind::Integer => {
                        let text = t.text.clone();
                        self.pos += 1;
                        Some(text.parse::<i64>().map_err(|_| {
                            CqlError::invalid(format!("Unable to make long from '{text}'"))
                        })?)
                    }
                    _ => return Err(self.mismatched("INTEGER")),
                }
            } else {
                None
            };
            AlterTableAction::Drop {
                if_exists,
                columns,
                timestamp,
            }
        } else if self.eat_kw("RENAME") {
            let if_exists = self.if_exists()?;
            let mut renames = Vec::new();
            loop {
                let from = self.ident()?;
                self.expect_kw("TO")?;
                renames.push((from, self.ident()?));
                if !self.eat_kw("AND") {
                    break;
                }
            }
            AlterTableAction::Rename { if_exists, renames }
        } else if self.eat_kw("WITH") {
            AlterTableAction::With(self.properties()?)
        } else if self.eat_kw("ALTER") {
            self.eat_kw("IF");
            self.eat_kw("EXISTS");
            self.ident()?;
            if self.at_kw("TYPE") {
                return Err(CqlError::invalid(
                    "Altering column types is no longer supported",
                ));
            }
            return Err(CqlError::Unsupported(
                "ALTER TABLE ... ALTER (column masks and constraints)".to_string(),
            ));
        } else {
            return Err(self.no_viable());
        };
        Ok(AlterTable {
            if_exists,
            name,
            action,
        })
    }

    fn using(&mut self) -> PResult<Vec<UsingParameter>> {
        let mut params = Vec::new();
        if !self.eat_kw("USING") {
            return Ok(params);
        }
        loop {
            if self.eat_kw("TTL") {
                params.push(UsingParameter::Ttl(self.int_value()?));
            } else if self.eat_kw("TIMESTAMP") {
                params.push(UsingParameter::Timestamp(self.int_value()?));
            } else {
                return Err(self.no_viable());
            }
            if !self.eat_kw("AND") {
                return Ok(params);
            }
        }
    }

    fn insert(&mut self) -> PResult<Insert> {
        self.expect_kw("INSERT")?;
        self.expect_kw("INTO")?;
        let table = self.table_name()?;
        if self.at_kw("JSON") {
            return Err(CqlError::Unsupported("INSERT JSON".to_string()));
        }
        let columns = self.ident_list()?;
        self.expect_kw("VALUES")?;
        self.expect_punct("(")?;
        let values = self.comma_list(")", Self::term)?;
        if values.is_empty() {
            return Err(self.no_viable());
        }
        self.expect_punct(")")?;
        if columns.len() != values.len() {
            return Err(CqlError::invalid("Unmatched column names/values"));
        }
        let if_not_exists = self.if_not_exists()?;
        let using = self.using()?;
        Ok(Insert {
            table,
            columns,
            values,
            if_not_exists,
            using,
        })
    }

    fn update(&mut self) -> PResult<Update> {
        self.expect_kw("UPDATE")?;
        let table = self.table_name()?;
        let using = self.using()?;
        self.expect_kw("SET")?;
        let mut assignments = vec![self.assignment()?];
        while self.eat_punct(",") {
            assignments.push(self.assignment()?);
        }
        self.expect_kw("WHERE")?;
        let where_clause = self.where_clause()?;
        let condition = self.update_condition()?;
        Ok(Update {
            table,
            using,
            assignments,
            where_clause,
            condition,
        })
    }

    /// One `SET` item (Cassandra's `columnOperation`).
    fn assignment(&mut self) -> PResult<Assignment> {
        let column = self.ident()?;
        if self.eat_punct("[") {
            let key = self.term()?;
            self.expect_punct("]")?;
            self.expect_punct("=")?;
            let value = self.term()?;
            return Ok(Assignment::SetElement { column, key, value });
        }
        if self.eat_punct("+=") {
            let value = self.term()?;
            return Ok(Assignment::Add { column, value });
        }
        if self.eat_punct("-=") {
            let value = self.term()?;
            return Ok(Assignment::Subtract { column, value });
        }
        self.expect_punct("=")?;
        if self.at_ident() && !self.at_function_call() {
            // `c = c + v`, `c = c - v`, `c = c -3`.
            let other_at = self.pos;
            let other = self.ident()?;
            let sign = if self.at_punct("+") {
                "+"
            } else if self.at_punct("-") {
                "-"
            } else if self
                .peek()
                .is_some_and(|t| t.kind == TokenKind::Integer && t.text.starts_with('-'))
            {
                "-3"
            } else {
                return Err(self.no_viable());
            };
            if other != column {
                let form = if sign == "-3" { "- " } else { sign };
                return Err(self.error_at(
                    other_at,
                    format!("Only expressions of the form X = X {form}<value> are supported."),
                ));
            }
            if sign == "-3" {
                let value = self.int_value()?;
                return Ok(Assignment::Add { column, value });
            }
            self.pos += 1;
            let value = self.term()?;
            return Ok(if sign == "+" {
                Assignment::Add { column, value }
            } else {
                Assignment::Subtract { column, value }
            });
        }
        let value = self.term()?;
        if self.eat_punct("+") {
            let other_at = self.pos;
            let other = self.ident()?;
            if other != column {
                return Err(self.error_at(
                    other_at,
                    "Only expressions of the form X = <value> + X are supported.",
                ));
            }
            return Ok(Assignment::Prepend { column, value });
        }
        Ok(Assignment::Set { column, value })
    }

    fn update_condition(&mut self) -> PResult<Option<UpdateCondition>> {
        if !self.eat_kw("IF") {
            return Ok(None);
        }
        // `IF exists = 1` is a condition on a column named `exists`.
        let continues = self.at_punct_at(1, "[")
            || self.peek_at(1).and_then(operator_of).is_some()
            || self.at_kw_at(1, "IN")
            || self.at_kw_at(1, "CONTAINS");
        if self.at_kw("EXISTS") && !continues {
            self.pos += 1;
            return Ok(Some(UpdateCondition::Exists));
        }
        let mut conditions = vec![self.condition()?];
        while self.eat_kw("AND") {
            conditions.push(self.condition()?);
        }
        Ok(Some(UpdateCondition::Columns(conditions)))
    }

    fn condition(&mut self) -> PResult<Condition> {
        let column = self.ident()?;
        let element = if self.eat_punct("[") {
            let e = self.term()?;
            self.expect_punct("]")?;
            Some(e)
        } else {
            None
        };
        let predicate = self.predicate(element.is_none())?;
        Ok(Condition {
            column,
            element,
            predicate,
        })
    }

    /// `op term | IN values | CONTAINS [KEY] term` (CONTAINS only where `contains` is true).
    fn predicate(&mut self, contains: bool) -> PResult<Predicate> {
        if let Some(op) = self.peek().and_then(operator_of) {
            self.pos += 1;
            return Ok(Predicate::Compare(op, self.term()?));
        }
        if self.eat_kw("IN") {
            return Ok(Predicate::In(self.in_values()?));
        }
        if contains && self.eat_kw("CONTAINS") {
            // `CONTAINS key.f()` calls `key.f`; `key` alone is never a function name.
            if self.at_kw("KEY") && !self.at_punct_at(1, ".") {
                self.pos += 1;
                return Ok(Predicate::ContainsKey(self.term()?));
            }
            return Ok(Predicate::Contains(self.term()?));
        }
        Err(self.no_viable())
    }

    fn in_values(&mut self) -> PResult<InValues> {
        if let Some(m) = self.try_marker()? {
            return Ok(InValues::Marker(m));
        }
        self.expect_punct("(")?;
        let terms = self.comma_list(")", Self::term)?;
        self.expect_punct(")")?;
        Ok(InValues::Terms(terms))
    }

    fn where_clause(&mut self) -> PResult<Vec<Relation>> {
        let mut relations = vec![self.relation()?];
        while self.eat_kw("AND") {
            if relations.len() == MAX_COLLECTION_LITERAL_ELEMENTS {
                return Err(self.plain_error("too many relations"));
            }
            relations.push(self.relation()?);
        }
        Ok(relations)
    }

    fn relation(&mut self) -> PResult<Relation> {
        if self.at_kw("TOKEN") && self.at_punct_at(1, "(") {
            self.pos += 1;
            let columns = self.ident_list()?;
            let Some(operator) = self.peek().and_then(operator_of) else {
                return Err(self.no_viable());
            };
            self.pos += 1;
            let value = self.term()?;
            return Ok(Relation::Token {
                columns,
                operator,
                value,
            });
        }
        if self.at_punct("(") {
            let columns = self.ident_list()?;
            let predicate = if self.eat_kw("IN") {
                Predicate::In(self.multi_in_values()?)
            } else if let Some(op) = self.peek().and_then(operator_of) {
                self.pos += 1;
                Predicate::Compare(op, self.multi_value()?)
            } else {
                return Err(self.no_viable());
            };
            return Ok(Relation::Tuple { columns, predicate });
        }
        let column = self.ident()?;
        if self.eat_punct("[") {
            let key = self.term()?;
            self.expect_punct("]")?;
            let Some(operator) = self.peek().and_then(operator_of) else {
                return Err(self.no_viable());
            };
            self.pos += 1;
            let value = self.term()?;
            return Ok(Relation::Element {
                column,
                key,
                operator,
                value,
            });
        }
        let predicate = self.predicate(true)?;
        Ok(Relation::Column { column, predicate })
    }

    /// `(a, b)` or a marker: the value of a multi-column comparison.
    fn multi_value(&mut self) -> PResult<Term> {
        if let Some(m) = self.try_marker()? {
            return Ok(Term::Bind(m));
        }
        if !self.at_punct("(") {
            return Err(self.no_viable());
        }
        self.tuple_literal()
    }

    fn tuple_literal(&mut self) -> PResult<Term> {
        self.nested(|p| {
            p.expect_punct("(")?;
            let items = p.comma_list(")", Self::term)?;
            if items.is_empty() {
                return Err(p.no_viable());
            }
            p.expect_punct(")")?;
            Ok(Term::Tuple(items))
        })
    }

    /// `IN ()`, `IN ?`, `IN ((1, 2), (3, 4))`, `IN (?, ?)`.
    fn multi_in_values(&mut self) -> PResult<InValues> {
        if let Some(m) = self.try_marker()? {
            return Ok(InValues::Marker(m));
        }
        self.expect_punct("(")?;
        let items = self.comma_list(")", Self::multi_value)?;
        self.expect_punct(")")?;
        Ok(InValues::Terms(items))
    }

    fn select(&mut self) -> PResult<Select> {
        self.expect_kw("SELECT")?;
        // `json` and `distinct` are also column names: `SELECT distinct FROM t`.
        let modifier_at = |p: &Self, kw: &str| {
            p.at_kw(kw) && !(p.at_kw_at(1, "FROM") || p.at_punct_at(1, ",") || p.at_kw_at(1, "AS"))
        };
        if modifier_at(self, "JSON") {
            return Err(CqlError::Unsupported("SELECT JSON".to_string()));
        }
        let distinct = modifier_at(self, "DISTINCT");
        if distinct {
            self.pos += 1;
        }
        let selectors = if self.eat_punct("*") {
            Vec::new()
        } else {
            let mut selectors = vec![self.selector()?];
            while self.eat_punct(",") {
                if selectors.len() == MAX_COLLECTION_LITERAL_ELEMENTS {
                    return Err(self.plain_error("too many selectors"));
                }
                selectors.push(self.selector()?);
            }
            selectors
        };
        self.expect_kw("FROM")?;
        let table = self.table_name()?;
        let where_clause = if self.eat_kw("WHERE") {
            self.where_clause()?
        } else {
            Vec::new()
        };
        if self.at_kw("GROUP") && self.at_kw_at(1, "BY") {
            return Err(CqlError::Unsupported("GROUP BY".to_string()));
        }
        let mut order_by = Vec::new();
        if self.eat_kw("ORDER") {
            self.expect_kw("BY")?;
            loop {
                let column = self.ident()?;
                let desc = if self.eat_kw("DESC") {
                    true
                } else {
                    self.eat_kw("ASC");
                    false
                };
                order_by.push((column, desc));
                if !self.eat_punct(",") {
                    break;
                }
            }
        }
        let per_partition_limit = if self.at_kw("PER") {
            self.pos += 1;
            self.expect_kw("PARTITION")?;
            self.expect_kw("LIMIT")?;
            Some(self.int_value()?)
        } else {
            None
        };
        let limit = if self.eat_kw("LIMIT") {
            Some(self.int_value()?)
        } else {
            None
        };
        let allow_filtering = if self.eat_kw("ALLOW") {
            self.expect_kw("FILTERING")?;
            true
        } else {
            false
        };
        Ok(Select {
            distinct,
            selectors,
            table,
            where_clause,
            order_by,
            per_partition_limit,
            limit,
            allow_filtering,
        })
    }

    fn selector(&mut self) -> PResult<Selector> {
        let expr = self.selector_expr()?;
        let alias = if self.eat_kw("AS") {
            Some(self.ident()?)
        } else {
            None
        };
        Ok(Selector { expr, alias })
    }

    fn selector_expr(&mut self) -> PResult<SelectorExpr> {
        self.nested(Self::selector_expr_inner)
    }

    fn selector_expr_inner(&mut self) -> PResult<SelectorExpr> {
        let call = self.at_punct_at(1, "(");
        if call && self.at_kw("COUNT") && self.at_punct_at(2, "*") {
            self.pos += 2;
            self.expect_punct("*")?;
            self.expect_punct(")")?;
            return Ok(SelectorExpr::CountRows);
        }
        for (kw, make) in [
            (
                "WRITETIME",
                SelectorExpr::WriteTime as fn(Ident) -> SelectorExpr,
            ),
            ("MAXWRITETIME", SelectorExpr::MaxWriteTime),
            ("TTL", SelectorExpr::Ttl),
        ] {
            if call && self.at_kw(kw) {
                self.pos += 2;
                let column = self.ident()?;
                self.expect_punct(")")?;
                return Ok(make(column));
            }
        }
        if call && self.at_kw("CAST") {
            self.pos += 2;
            let expr = self.selector_expr()?;
            self.expect_kw("AS")?;
            let ty = self.cql_type()?;
            if ty.is_collection() || matches!(ty, CqlType::Tuple(_)) {
                return Err(self.no_viable());
            }
            self.expect_punct(")")?;
            return Ok(SelectorExpr::Cast {
                expr: Box::new(expr),
                ty,
            });
        }
        if self.at_function_call() {
            let name = self.function_name()?;
            self.expect_punct("(")?;
            let args = self.comma_list(")", Self::selector_expr)?;
            self.expect_punct(")")?;
            return Ok(SelectorExpr::Function { name, args });
        }
        if self.at_ident() {
            return Ok(SelectorExpr::Column(self.ident()?));
        }
        let is_term = self.peek().is_some_and(|t| {
            literal_of(t).is_some() || t.is_word("null") || t.kind == TokenKind::QMark
        }) || self.at_punct(":");
        if is_term {
            return Ok(SelectorExpr::Term(self.simple_term()?));
        }
        Err(self.no_viable())
    }

    fn delete(&mut self) -> PResult<Delete> {
        self.expect_kw("DELETE")?;
        let mut columns = Vec::new();
        if !self.at_kw("FROM") {
            loop {
                let column = self.ident()?;
                let element = if self.eat_punct("[") {
                    let e = self.term()?;
                    self.expect_punct("]")?;
                    Some(e)
                } else {
                    None
                };
                columns.push(DeleteSelection { column, element });
                if !self.eat_punct(",") {
                    break;
                }
            }
        }
        self.expect_kw("FROM")?;
        let table = self.table_name()?;
        let timestamp = if self.eat_kw("USING") {
            self.expect_kw("TIMESTAMP")?;
            Some(self.int_value()?)
        } else {
            None
        };
        self.expect_kw("WHERE")?;
        let where_clause = self.where_clause()?;
        let condition = self.update_condition()?;
        Ok(Delete {
            columns,
            table,
            timestamp,
            where_clause,
            condition,
        })
    }

    fn batch(&mut self) -> PResult<Batch> {
        self.expect_kw("BEGIN")?;
        let kind = if self.eat_kw("UNLOGGED") {
            BatchKind::Unlogged
        } else if self.eat_kw("COUNTER") {
            BatchKind::Counter
        } else {
            self.eat_kw("LOGGED");
            BatchKind::Logged
        };
        self.expect_kw("BATCH")?;
        let using = self.using()?;
        let mut statements = Vec::new();
        loop {
            let statement = if self.at_kw("INSERT") {
                BatchStatement::Insert(self.insert()?)
            } else if self.at_kw("UPDATE") {
                BatchStatement::Update(self.update()?)
            } else if self.at_kw("DELETE") {
                BatchStatement::Delete(self.delete()?)
            } else {
                break;
            };
            if statements.len() == MAX_COLLECTION_LITERAL_ELEMENTS {
                return Err(self.plain_error("too many statements in the batch"));
            }
            statements.push(statement);
            self.eat_punct(";");
        }
        self.expect_kw("APPLY")?;
        self.expect_kw("BATCH")?;
        Ok(Batch {
            kind,
            using,
            statements,
        })
    }

    fn describe(&mut self) -> PResult<Describe> {
        if !self.eat_kw("DESCRIBE") {
            self.expect_kw("DESC")?;
        }
        let target = if self.eat_kw("CLUSTER") {
            DescribeTarget::Cluster
        } else if self.eat_kw("FULL") {
            self.expect_kw("SCHEMA")?;
            DescribeTarget::Schema { full: true }
        } else if self.eat_kw("SCHEMA") {
            DescribeTarget::Schema { full: false }
        } else if self.eat_kw("KEYSPACES") {
            DescribeTarget::Keyspaces
        } else if self.at_kw("KEYSPACE") || (self.at_kw("ONLY") && self.at_kw_at(1, "KEYSPACE")) {
            let only = self.eat_kw("ONLY");
            self.expect_kw("KEYSPACE")?;
            let name = if self.at_name_at(0) {
                Some(self.keyspace_name()?)
            } else {
                None
            };
            DescribeTarget::Keyspace { name, only }
        } else if self.eat_kw("TABLES") || self.eat_kw("COLUMNFAMILIES") {
            DescribeTarget::Tables
        } else if self.eat_kw("TABLE") || self.eat_kw("COLUMNFAMILY") {
            DescribeTarget::Table(self.table_name()?)
        } else if self.eat_kw("INDEX") {
            DescribeTarget::Index(self.qualified_name("index")?)
        } else if self.eat_kw("MATERIALIZED") {
            self.expect_kw("VIEW")?;
            DescribeTarget::MaterializedView(self.table_name()?)
        } else if self.eat_kw("TYPES") {
            DescribeTarget::Types
        } else if self.at_kw("TYPE") && self.at_name_at(1) {
            self.pos += 1;
            DescribeTarget::Type(self.qualified_name("type")?)
        } else if self.eat_kw("FUNCTIONS") {
            DescribeTarget::Functions
        } else if self.at_kw("FUNCTION") && self.at_name_at(1) {
            self.pos += 1;
            DescribeTarget::Function(self.qualified_name("function")?)
        } else if self.eat_kw("AGGREGATES") {
            DescribeTarget::Aggregates
        } else if self.at_kw("AGGREGATE") && self.at_name_at(1) {
            self.pos += 1;
            DescribeTarget::Aggregate(self.qualified_name("aggregate")?)
        } else {
            DescribeTarget::Name(self.qualified_name("table")?)
        };
        let with_internals = if self.eat_kw("WITH") {
            self.expect_kw("INTERNALS")?;
            true
        } else {
            false
        };
        Ok(Describe {
            target,
            with_internals,
        })
    }
}

#[cfg(test)]
mod tests;
