//! The CQL lexer: text to tokens, each with its line and column, following Cassandra's
//! `Lexer.g`: case-insensitive words (keywords and unquoted identifiers), `"quoted"` names,
//! `'strings'` and `$$pg-style$$` strings, integers (a leading `-` belongs to the number, as in
//! Cassandra: `c = c -3` is `c`, `=`, `c`, `-3`), floats (`1.5`, `1e10`, `NaN`, `-Infinity`),
//! `0x` blobs, uuids, booleans, `?`, punctuation and operators. Whitespace and comments (`--` and
//! `//` to the end of the line, `/* */`, not nested) are kept as hidden tokens: syntax errors
//! quote a snippet of the query the way Cassandra's `ErrorCollector` does, counting them.
//!
//! [`tokenize`] lexes a whole text; [`split_statements`] cuts a script at the `;` that end
//! statements (not those inside strings, comments or a `BEGIN BATCH ... APPLY BATCH`), for a
//! shell that sends statements one at a time.

use crate::error::CqlError;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// A word: a keyword or an unquoted identifier (`text` keeps its case).
    Word,
    /// A `"quoted"` identifier (`text` is the name, `""` unescaped).
    QuotedName,
    /// `""`: the empty quoted name.
    EmptyQuotedName,
    /// A `'string'` or `$$string$$` (`text` is the content, `''` unescaped).
    String,
    /// `42`, `-7`.
    Integer,
    /// `1.5`, `-2e10`, `3.`, `NaN`, `Infinity`, `-Infinity` (`text` as written; `-NaN` becomes
    /// `NaN`).
    Float,
    /// `true` or `false` (any case).
    Boolean,
    /// `0xcafe` (`text` includes the `0x`).
    Hex,
    /// `123e4567-e89b-12d3-a456-426614174000`.
    Uuid,
    /// `?`.
    QMark,
    /// Punctuation and operators: `( ) [ ] { } , ; . : = < <= > >= != + - * / % += -=`.
    Punct,
    /// Spaces, tabs, newlines (hidden from the parser).
    Whitespace,
    /// A comment (hidden from the parser).
    Comment,
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    /// The token's value: a word as written, a string's content, a number's text.
    pub text: String,
    /// Byte offsets of the token in the source.
    pub start: usize,
    pub end: usize,
    /// 1-based line of the token's first character.
    pub line: usize,
    /// 0-based column (in characters) of the token's first character.
    pub column: usize,
}

impl Token {
    /// Whether the parser skips this token.
    pub fn is_hidden(&self) -> bool {
        matches!(self.kind, TokenKind::Whitespace | TokenKind::Comment)
    }

    /// Whether this is the punctuation `p`.
    pub fn is_punct(&self, p: &str) -> bool {
        self.kind == TokenKind::Punct && self.text == p
    }

    /// Whether this is the word `keyword` (case-insensitive).
    pub fn is_word(&self, keyword: &str) -> bool {
        self.kind == TokenKind::Word && self.text.eq_ignore_ascii_case(keyword)
    }
}

const PUNCT2: [&str; 5] = ["<=", ">=", "!=", "+=", "-="];
const PUNCT1: [&str; 18] = [
    "(", ")", "[", "]", "{", "}", ",", ";", ".", ":", "=", "<", ">", "+", "-", "*", "/", "%",
];

/// Why lexing stopped: an unterminated string, name or comment (the shell reads on), or a
/// character that starts no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LexFailure {
    Unterminated(CqlError),
    BadCharacter(CqlError),
}

impl LexFailure {
    fn into_error(self) -> CqlError {
        match self {
            LexFailure::Unterminated(e) | LexFailure::BadCharacter(e) => e,
        }
    }
}

/// A cursor over the source that keeps the line and column.
struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
    column: usize,
}

fn is_hex(c: char) -> bool {
    c.is_ascii_hexdigit()
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `s` starts with a uuid (8-4-4-4-12 hex digits).
fn uuid_at(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 36 {
        return false;
    }
    b[..36].iter().enumerate().all(|(i, &c)| match i {
        8 | 13 | 18 | 23 => c == b'-',
        _ => c.is_ascii_hexdigit(),
    })
}

fn display_char(c: Option<char>) -> String {
    match c {
        None => "<EOF>".to_string(),
        Some('\n') => "\\n".to_string(),
        Some('\r') => "\\r".to_string(),
        Some('\t') => "\\t".to_string(),
        Some(c) => c.to_string(),
    }
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.rest().chars().nth(n)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 0;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn bump_n(&mut self, n: usize) {
        for _ in 0..n {
            self.bump();
        }
    }

    fn error_here(&self, message: String) -> CqlError {
        CqlError::Syntax {
            line: self.line,
            column: self.column,
            message,
        }
    }

    fn unterminated(&self, expecting: &str) -> LexFailure {
        LexFailure::Unterminated(self.error_here(format!(
            "mismatched character '<EOF>' expecting {expecting}"
        )))
    }

    /// The next token, or `None` at the end of the input.
    fn next_token(&mut self) -> Result<Option<Token>, LexFailure> {
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let (start, line, column) = (self.pos, self.line, self.column);
        let (kind, text) = self.lex_one(c)?;
        let text = text.unwrap_or_else(|| self.src[start..self.pos].to_string());
        Ok(Some(Token {
            kind,
            text,
            start,
            end: self.pos,
            line,
            column,
        }))
    }

    /// Lexes one token starting with `c`; the text is `None` when it is the source slice.
    fn lex_one(&mut self, c: char) -> Result<(TokenKind, Option<String>), LexFailure> {
        let start = self.pos;
        let rest = self.rest();
        if matches!(c, ' ' | '\t' | '\n' | '\r') {
            while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
                self.bump();
            }
            return Ok((TokenKind::Whitespace, None));
        }
        if rest.starts_with("--") || rest.starts_with("//") {
            while let Some(c) = self.bump() {
                if c == '\n' || c == '\r' {
                    break;
                }
            }
            return Ok((TokenKind::Comment, None));
        }
        if rest.starts_with("/*") {
            self.bump_n(2);
            loop {
                if self.rest().starts_with("*/") {
                    self.bump_n(2);
                    return Ok((TokenKind::Comment, None));
                }
                if self.bump().is_none() {
                    return Err(self.unterminated("'*'"));
                }
            }
        }
        if c == '\'' {
            self.bump();
            let mut text = String::new();
            loop {
                match self.bump() {
                    None => return Err(self.unterminated("'''")),
                    Some('\'') if self.peek() == Some('\'') => {
                        self.bump();
                        text.push('\'');
                    }
                    Some('\'') => return Ok((TokenKind::String, Some(text))),
                    Some(c) => text.push(c),
                }
            }
        }
        if rest.starts_with("$$") {
            self.bump_n(2);
            let Some(end) = self.rest().find("$$") else {
                while self.bump().is_some() {}
                return Err(self.unterminated("'$'"));
            };
            let text = self.rest()[..end].to_string();
            let chars = text.chars().count();
            self.bump_n(chars + 2);
            return Ok((TokenKind::String, Some(text)));
        }
        if c == '"' {
            self.bump();
            let mut text = String::new();
            loop {
                match self.bump() {
                    None => return Err(self.unterminated("'\"'")),
                    Some('"') if self.peek() == Some('"') => {
                        self.bump();
                        text.push('"');
                    }
                    Some('"') if text.is_empty() => {
                        return Ok((TokenKind::EmptyQuotedName, Some(String::new())))
                    }
                    Some('"') => return Ok((TokenKind::QuotedName, Some(text))),
                    Some(c) => text.push(c),
                }
            }
        }
        if is_hex(c) && uuid_at(rest) {
            self.bump_n(36);
            return Ok((TokenKind::Uuid, None));
        }
        if c == '0' && matches!(self.peek_at(1), Some('x' | 'X')) {
            self.bump_n(2);
            while self.peek().is_some_and(is_hex) {
                self.bump();
            }
            return Ok((TokenKind::Hex, None));
        }
        if c.is_ascii_digit() || (c == '-' && self.peek_at(1).is_some_and(|d| d.is_ascii_digit())) {
            return Ok(self.number());
        }
        if c == '-' {
            for (word, text) in [("nan", "NaN"), ("infinity", "-Infinity")] {
                let n = word.len();
                let candidate = rest.get(1..=n);
                if candidate.is_some_and(|w| w.eq_ignore_ascii_case(word))
                    && !rest[1 + n..].starts_with(is_ident_char)
                {
                    self.bump_n(1 + n);
                    return Ok((TokenKind::Float, Some(text.to_string())));
                }
            }
        }
        if c.is_ascii_alphabetic() {
            while self.peek().is_some_and(is_ident_char) {
                self.bump();
            }
            let word = &self.src[start..self.pos];
            if word.eq_ignore_ascii_case("true") || word.eq_ignore_ascii_case("false") {
                return Ok((TokenKind::Boolean, None));
            }
            if word.eq_ignore_ascii_case("nan") {
                return Ok((TokenKind::Float, Some("NaN".to_string())));
            }
            if word.eq_ignore_ascii_case("infinity") {
                return Ok((TokenKind::Float, Some("Infinity".to_string())));
            }
            return Ok((TokenKind::Word, None));
        }
        if c == '?' {
            self.bump();
            return Ok((TokenKind::QMark, None));
        }
        // `..` (a slice in Cassandra's selections) is not CQL-lite: it lexes as two dots.
        for p in PUNCT2 {
            if rest.starts_with(p) {
                self.bump_n(2);
                return Ok((TokenKind::Punct, None));
            }
        }
        for p in PUNCT1 {
            if rest.starts_with(p) {
                self.bump();
                return Ok((TokenKind::Punct, None));
            }
        }
        Err(LexFailure::BadCharacter(self.error_here(format!(
            "no viable alternative at character '{}'",
            display_char(Some(c))
        ))))
    }

    /// `-?digits` then an optional `.digits*` and an optional exponent.
    fn number(&mut self) -> (TokenKind, Option<String>) {
        if self.peek() == Some('-') {
            self.bump();
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        let mut kind = TokenKind::Integer;
        // `1..` is an integer and a range in Cassandra; here the dots are left alone.
        if self.peek() == Some('.') && self.peek_at(1) != Some('.') {
            kind = TokenKind::Float;
            self.bump();
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let sign = usize::from(matches!(self.peek_at(1), Some('+' | '-')));
            if self.peek_at(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                kind = TokenKind::Float;
                self.bump_n(1 + sign);
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                }
            }
        }
        (kind, None)
    }
}

/// Every token of `src`, hidden ones included, in order.
pub fn tokenize(src: &str) -> Result<Vec<Token>, CqlError> {
    let mut lexer = Lexer {
        src,
        pos: 0,
        line: 1,
        column: 0,
    };
    let mut tokens = Vec::new();
    while let Some(t) = lexer.next_token().map_err(LexFailure::into_error)? {
        tokens.push(t);
    }
    Ok(tokens)
}

/// The end of the input as a position: (line, column) after the last character.
pub(crate) fn end_position(src: &str) -> (usize, usize) {
    let line = 1 + src.matches('\n').count();
    let column = src.rsplit('\n').next().map_or(0, |l| l.chars().count());
    (line, column)
}

/// A script cut into statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split<'a> {
    /// Each complete statement's text, without its `;`, trimmed; statements that are only
    /// whitespace and comments are left out.
    pub statements: Vec<&'a str>,
    /// What follows the last complete statement, trimmed: empty, or an incomplete statement
    /// (no `;` yet, or an unterminated string, quoted name or comment) a shell keeps reading.
    pub rest: &'a str,
}

/// Cut a script at the `;` that end statements: not inside strings, quoted names or comments,
/// and not between `BEGIN [UNLOGGED | LOGGED | COUNTER] BATCH` and `APPLY BATCH`. Characters
/// that start no token are left to the parser to report.
pub fn split_statements(script: &str) -> Split<'_> {
    let mut lexer = Lexer {
        src: script,
        pos: 0,
        line: 1,
        column: 0,
    };
    let mut statements = Vec::new();
    // Where the current statement's text starts: after the last `;`, then at its first
    // visible token once there is one.
    let mut start = 0;
    let mut started = false;
    // The statement's words so far (the first three decide whether it opens a batch).
    let mut words: Vec<String> = Vec::new();
    let mut in_batch = false;
    loop {
        let token_start = lexer.pos;
        let token = match lexer.next_token() {
            Ok(Some(t)) => t,
            Ok(None) => break,
            Err(LexFailure::Unterminated(_)) => {
                return Split {
                    statements,
                    rest: script[start..].trim(),
                };
            }
            Err(LexFailure::BadCharacter(_)) => {
                lexer.bump();
                if !started {
                    start = token_start;
                    started = true;
                }
                words.push(String::new());
                continue;
            }
        };
        if token.is_hidden() {
            continue;
        }
        if token.is_punct(";") && !in_batch {
            if started {
                statements.push(script[start..token.start].trim());
            }
            start = token.end;
            started = false;
            words.clear();
            continue;
        }
        if !started {
            start = token.start;
            started = true;
        }
        let word = if token.kind == TokenKind::Word {
            token.text.to_ascii_uppercase()
        } else {
            String::new()
        };
        let opens_batch = word == "BATCH"
            && match words.as_slice() {
                [first] => first == "BEGIN",
                [first, kind] => {
                    first == "BEGIN" && matches!(kind.as_str(), "UNLOGGED" | "LOGGED" | "COUNTER")
                }
                _ => false,
            };
        if opens_batch {
            in_batch = true;
        } else if in_batch && word == "BATCH" && words.last().is_some_and(|w| w == "APPLY") {
            in_batch = false;
        }
        words.push(word);
    }
    Split {
        statements,
        rest: if started { script[start..].trim() } else { "" },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokenKind, std::string::String)> {
        tokenize(src)
            .unwrap()
            .into_iter()
            .filter(|t| !t.is_hidden())
            .map(|t| (t.kind, t.text))
            .collect()
    }

    use TokenKind::*;

    #[test]
    fn words_keep_their_case_and_positions_count_lines_and_columns() {
        let tokens: Vec<Token> = tokenize("SELECT a\n  FROM \"Ks\".t")
            .unwrap()
            .into_iter()
            .filter(|t| !t.is_hidden())
            .collect();
        let at: Vec<(&str, usize, usize)> = tokens
            .iter()
            .map(|t| (t.text.as_str(), t.line, t.column))
            .collect();
        assert_eq!(
            at,
            [
                ("SELECT", 1, 0),
                ("a", 1, 7),
                ("FROM", 2, 2),
                ("Ks", 2, 7),
                (".", 2, 11),
                ("t", 2, 12)
            ]
        );
        assert_eq!(tokens[3].kind, QuotedName);
    }

    #[test]
    fn strings_unescape_quotes_and_dollar_strings_keep_everything() {
        assert_eq!(kinds("'it''s'"), [(String, "it's".into())]);
        assert_eq!(kinds("''"), [(String, "".into())]);
        assert_eq!(kinds("$$a 'b' ; -- c$$"), [(String, "a 'b' ; -- c".into())]);
        assert_eq!(kinds("\"a\"\"b\""), [(QuotedName, "a\"b".into())]);
        assert_eq!(kinds("\"\""), [(EmptyQuotedName, "".into())]);
        assert_eq!(kinds("'é'"), [(String, "é".into())]);
    }

    #[test]
    fn numbers_floats_hex_uuids_and_booleans() {
        assert_eq!(
            kinds("42 -7 1.5 -2e10 3. 1E+3 0xCAFE 0x NaN -nan Infinity -Infinity true FALSE"),
            [
                (Integer, "42".into()),
                (Integer, "-7".into()),
                (Float, "1.5".into()),
                (Float, "-2e10".into()),
                (Float, "3.".into()),
                (Float, "1E+3".into()),
                (Hex, "0xCAFE".into()),
                (Hex, "0x".into()),
                (Float, "NaN".into()),
                (Float, "NaN".into()),
                (Float, "Infinity".into()),
                (Float, "-Infinity".into()),
                (Boolean, "true".into()),
                (Boolean, "FALSE".into()),
            ]
        );
        // A uuid wins over the number or word it starts with.
        assert_eq!(
            kinds("123e4567-e89b-12d3-a456-426614174000 abcdef01-2345-6789-abcd-ef0123456789"),
            [
                (Uuid, "123e4567-e89b-12d3-a456-426614174000".into()),
                (Uuid, "abcdef01-2345-6789-abcd-ef0123456789".into()),
            ]
        );
        // `c = c -3` is Cassandra's `c`, `=`, `c`, `-3`; `c - 3` has a minus.
        assert_eq!(kinds("c-3")[1], (Integer, "-3".into()));
        assert_eq!(kinds("c - 3")[1], (Punct, "-".into()));
        // A word that starts like a keyword-literal is a word.
        assert_eq!(
            kinds("nanx truely"),
            [(Word, "nanx".into()), (Word, "truely".into())]
        );
        assert_eq!(kinds("1e"), [(Integer, "1".into()), (Word, "e".into())]);
    }

    #[test]
    fn operators_markers_and_comments() {
        assert_eq!(
            kinds("a<=b >= != += -= ? :n -- comment\n // another\n /* block\n */ ;"),
            [
                (Word, "a".into()),
                (Punct, "<=".into()),
                (Word, "b".into()),
                (Punct, ">=".into()),
                (Punct, "!=".into()),
                (Punct, "+=".into()),
                (Punct, "-=".into()),
                (QMark, "?".into()),
                (Punct, ":".into()),
                (Word, "n".into()),
                (Punct, ";".into()),
            ]
        );
        assert_eq!(kinds("a -- to the end"), [(Word, "a".into())]);
    }

    #[test]
    fn lexer_errors_carry_their_position() {
        let e = tokenize("SELECT 'abc").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1:11 mismatched character '<EOF>' expecting '''"
        );
        let e = tokenize("a\n  @").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2:2 no viable alternative at character '@'"
        );
        assert!(tokenize("/* open").is_err());
        assert!(tokenize("\"open").is_err());
        assert!(tokenize("$$open").is_err());
        assert!(tokenize("a ! b").is_err());
        assert!(tokenize("é").is_err());
    }

    #[test]
    fn scripts_split_at_statement_ends_only() {
        let s = split_statements(
            "USE ks; INSERT INTO t (a) VALUES ('x;y'); -- c;\n\
             BEGIN UNLOGGED BATCH INSERT INTO t (a) VALUES (1); UPDATE t SET b = 2 WHERE a = 1; APPLY BATCH;\n\
             /* ; */ ;; SELECT * FROM t",
        );
        assert_eq!(
            s.statements,
            [
                "USE ks",
                "INSERT INTO t (a) VALUES ('x;y')",
                "BEGIN UNLOGGED BATCH INSERT INTO t (a) VALUES (1); UPDATE t SET b = 2 WHERE a = 1; APPLY BATCH",
            ]
        );
        assert_eq!(s.rest, "SELECT * FROM t");
        let open = split_statements("SELECT 'a;");
        assert!(open.statements.is_empty());
        assert_eq!(open.rest, "SELECT 'a;");
        assert_eq!(
            split_statements("  -- only a comment\n").statements.len(),
            0
        );
        assert_eq!(split_statements("a @ b; c").statements, ["a @ b"]);
    }
}
