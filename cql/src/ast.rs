//! The statement tree the parser builds and the executor runs: one type per CQL-lite statement,
//! their clauses (relations, assignments, conditions, `USING`, options) and terms (literals,
//! bind markers, collection literals, function calls, casts).
//!
//! Names are [`Ident`]s, already case-folded as Cassandra folds them (unquoted names to lower
//! case, quoted names as written). Literals keep the text they were written with, as Cassandra's
//! `Constants.Literal` does: they become [`crate::Value`]s only against a receiver's type
//! ([`Term::resolve`](crate::resolve)). Bind markers carry the index the parser gave them, in
//! the order they appear in the text. Every node prints back as CQL ([`std::fmt::Display`], in
//! `print.rs`) so that parsing the printed text gives the same tree; `CREATE KEYSPACE` and
//! `CREATE TABLE` print in the exact layout of Cassandra 5.0's DESCRIBE.

use crate::types::CqlType;

/// An identifier (keyspace, table, column, option or function name), case-folded: `MyTable`
/// is `mytable`, `"MyTable"` is `MyTable`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ident(pub String);

impl Ident {
    pub fn new(name: impl Into<String>) -> Ident {
        Ident(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `[keyspace.]name`: a table, type, index or function name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QualifiedName {
    pub keyspace: Option<Ident>,
    pub name: Ident,
}

/// One parsed statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    CreateKeyspace(CreateKeyspace),
    AlterKeyspace(AlterKeyspace),
    DropKeyspace(DropKeyspace),
    Use(Ident),
    CreateTable(CreateTable),
    AlterTable(AlterTable),
    DropTable(DropTable),
    Truncate(QualifiedName),
    Insert(Insert),
    Update(Update),
    Delete(Delete),
    Batch(Batch),
    Select(Select),
    Describe(Describe),
}

/// `CREATE KEYSPACE [IF NOT EXISTS] ks WITH replication = {...} AND durable_writes = bool`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateKeyspace {
    pub if_not_exists: bool,
    pub name: Ident,
    pub options: Vec<TableOption>,
}

/// `ALTER KEYSPACE [IF EXISTS] ks WITH ...`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlterKeyspace {
    pub if_exists: bool,
    pub name: Ident,
    pub options: Vec<TableOption>,
}

/// `DROP KEYSPACE [IF EXISTS] ks`.
#[derive(Debug, Clone, PartialEq)]
pub struct DropKeyspace {
    pub if_exists: bool,
    pub name: Ident,
}

/// A `name = value` option of a keyspace or table, kept generic so every option Cassandra
/// prints round-trips.
#[derive(Debug, Clone, PartialEq)]
pub struct TableOption {
    pub name: Ident,
    pub value: OptionValue,
}

/// An option's value.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    /// `'99p'`, `0.01`, `864000`, `true`.
    Literal(Literal),
    /// `{'class': 'SimpleStrategy', 'replication_factor': '1'}` (entries in written order).
    Map(Vec<(Literal, Literal)>),
    /// An unquoted word Cassandra accepts as a value (an unreserved keyword, e.g. `KEYS`).
    Word(Ident),
}

/// `CREATE TABLE [IF NOT EXISTS] ks.t (columns, PRIMARY KEY (...)) WITH ...`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateTable {
    pub if_not_exists: bool,
    pub name: QualifiedName,
    /// In written order (DESCRIBE's order when the executor builds one).
    pub columns: Vec<ColumnDefinition>,
    /// Whether inline (`k int PRIMARY KEY`) or as a clause, the key ends up here.
    pub primary_key: PrimaryKey,
    /// `CLUSTERING ORDER BY (c DESC, d ASC)`: (column, descending), as written.
    pub clustering_order: Vec<(Ident, bool)>,
    pub options: Vec<TableOption>,
}

/// A column in `CREATE TABLE` or `ALTER TABLE ADD`.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDefinition {
    pub name: Ident,
    pub ty: CqlType,
    pub is_static: bool,
}

/// `PRIMARY KEY ((a, b), c, d)`.
#[derive(Debug, Clone, PartialEq)]
pub struct PrimaryKey {
    pub partition_key: Vec<Ident>,
    pub clustering: Vec<Ident>,
}

/// `ALTER TABLE [IF EXISTS] ks.t <action>`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlterTable {
    pub if_exists: bool,
    pub name: QualifiedName,
    pub action: AlterTableAction,
}

/// What `ALTER TABLE` does.
#[derive(Debug, Clone, PartialEq)]
pub enum AlterTableAction {
    /// `ADD [IF NOT EXISTS] c type [STATIC]` or `ADD (c type, d type)`.
    Add {
        if_not_exists: bool,
        columns: Vec<ColumnDefinition>,
    },
    /// `DROP [IF EXISTS] c` or `DROP (c, d)`, optionally `USING TIMESTAMP n`.
    Drop {
        if_exists: bool,
        columns: Vec<Ident>,
        timestamp: Option<i64>,
    },
    /// `RENAME [IF EXISTS] a TO b [AND c TO d]`.
    Rename {
        if_exists: bool,
        renames: Vec<(Ident, Ident)>,
    },
    /// `WITH option = value [AND ...]`.
    With(Vec<TableOption>),
}

/// `DROP TABLE [IF EXISTS] ks.t`.
#[derive(Debug, Clone, PartialEq)]
pub struct DropTable {
    pub if_exists: bool,
    pub name: QualifiedName,
}

/// `INSERT INTO t (cols) VALUES (terms) [IF NOT EXISTS] [USING ...]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    pub table: QualifiedName,
    pub columns: Vec<Ident>,
    pub values: Vec<Term>,
    /// A conditional insert (lightweight transaction).
    pub if_not_exists: bool,
    pub using: Vec<UsingParameter>,
}

/// One `USING` parameter, in written order (bind markers are numbered in that order).
#[derive(Debug, Clone, PartialEq)]
pub enum UsingParameter {
    Ttl(Term),
    Timestamp(Term),
}

/// `UPDATE t [USING ...] SET assignments WHERE relations [IF EXISTS | IF conditions]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub table: QualifiedName,
    pub using: Vec<UsingParameter>,
    pub assignments: Vec<Assignment>,
    pub where_clause: Vec<Relation>,
    pub condition: Option<UpdateCondition>,
}

/// `IF EXISTS` or `IF c = v AND ...` (a lightweight transaction).
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateCondition {
    Exists,
    Columns(Vec<Condition>),
}

/// One `SET` item.
#[derive(Debug, Clone, PartialEq)]
pub enum Assignment {
    /// `c = v`.
    Set { column: Ident, value: Term },
    /// `c = c + v`, `c += v` (a counter increment, a list append, set or map additions).
    Add { column: Ident, value: Term },
    /// `c = c - v`, `c -= v` (a decrement, list or set removal, map key removal).
    Subtract { column: Ident, value: Term },
    /// `c = v + c` (a list prepend).
    Prepend { column: Ident, value: Term },
    /// `c[k] = v` (a list index or a map key).
    SetElement {
        column: Ident,
        key: Term,
        value: Term,
    },
}

impl Assignment {
    /// The column the assignment writes.
    pub fn column(&self) -> &Ident {
        match self {
            Assignment::Set { column, .. }
            | Assignment::Add { column, .. }
            | Assignment::Subtract { column, .. }
            | Assignment::Prepend { column, .. }
            | Assignment::SetElement { column, .. } => column,
        }
    }
}

/// `DELETE [selections] FROM t [USING TIMESTAMP ts] WHERE relations [IF ...]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    /// Empty: delete the rows.
    pub columns: Vec<DeleteSelection>,
    pub table: QualifiedName,
    pub timestamp: Option<Term>,
    pub where_clause: Vec<Relation>,
    pub condition: Option<UpdateCondition>,
}

/// `c` or `c[k]` in `DELETE`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteSelection {
    pub column: Ident,
    pub element: Option<Term>,
}

/// `BEGIN [UNLOGGED | COUNTER] BATCH [USING ...] statements APPLY BATCH`.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub kind: BatchKind,
    pub using: Vec<UsingParameter>,
    pub statements: Vec<BatchStatement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchKind {
    /// `BEGIN BATCH` or `BEGIN LOGGED BATCH`.
    Logged,
    Unlogged,
    Counter,
}

/// A statement inside a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchStatement {
    Insert(Insert),
    Update(Update),
    Delete(Delete),
}

/// `SELECT [DISTINCT] selectors FROM t [WHERE ...] [ORDER BY ...] [PER PARTITION LIMIT n]
/// [LIMIT n] [ALLOW FILTERING]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    pub distinct: bool,
    /// Empty: `*`.
    pub selectors: Vec<Selector>,
    pub table: QualifiedName,
    pub where_clause: Vec<Relation>,
    /// (column, descending).
    pub order_by: Vec<(Ident, bool)>,
    pub per_partition_limit: Option<Term>,
    pub limit: Option<Term>,
    pub allow_filtering: bool,
}

/// One selected expression and its alias.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    pub expr: SelectorExpr,
    pub alias: Option<Ident>,
}

/// What a selector computes.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectorExpr {
    Column(Ident),
    /// `count(*)`.
    CountRows,
    /// `writetime(c)`.
    WriteTime(Ident),
    /// `maxwritetime(c)`.
    MaxWriteTime(Ident),
    /// `ttl(c)`.
    Ttl(Ident),
    /// `token(a, b)`, `count(1)`, `ks.f(x)`: a function over selectors.
    Function {
        name: QualifiedName,
        args: Vec<SelectorExpr>,
    },
    /// `CAST(x AS int)`.
    Cast {
        expr: Box<SelectorExpr>,
        ty: CqlType,
    },
    /// A literal, `null` or a bind marker.
    Term(Term),
}

/// A `WHERE` relation.
#[derive(Debug, Clone, PartialEq)]
pub enum Relation {
    /// `c = v`, `c > v`, `c IN (...)`, `c CONTAINS v`, `c CONTAINS KEY v`.
    Column { column: Ident, predicate: Predicate },
    /// `m[k] = v`.
    Element {
        column: Ident,
        key: Term,
        operator: Operator,
        value: Term,
    },
    /// `token(a, b) > v` (v is usually `token(?, ?)`, `?` or a number).
    Token {
        columns: Vec<Ident>,
        operator: Operator,
        value: Term,
    },
    /// `(c1, c2) > (v1, v2)`, `(c1, c2) IN ((..), (..))`.
    Tuple {
        columns: Vec<Ident>,
        predicate: Predicate,
    },
}

/// The right-hand side of a relation or condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    Compare(Operator, Term),
    In(InValues),
    Contains(Term),
    ContainsKey(Term),
}

/// `IN (a, b)` or `IN ?`.
#[derive(Debug, Clone, PartialEq)]
pub enum InValues {
    Terms(Vec<Term>),
    Marker(BindMarker),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
    /// `!=`: parsed, the executor decides where it is allowed.
    Neq,
}

/// One `IF` condition of a conditional update or delete: `c = v`, `c[k] > v`, `c IN (...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub column: Ident,
    pub element: Option<Term>,
    pub predicate: Predicate,
}

/// `DESCRIBE ... [WITH INTERNALS]`, as cqlsh 6 sends it to the server.
#[derive(Debug, Clone, PartialEq)]
pub struct Describe {
    pub target: DescribeTarget,
    pub with_internals: bool,
}

/// What `DESCRIBE` describes.
#[derive(Debug, Clone, PartialEq)]
pub enum DescribeTarget {
    Cluster,
    /// `[FULL] SCHEMA`: FULL includes the system keyspaces.
    Schema {
        full: bool,
    },
    Keyspaces,
    /// `[ONLY] KEYSPACE [ks]`: no name is the session's keyspace; ONLY leaves out its tables.
    Keyspace {
        name: Option<Ident>,
        only: bool,
    },
    Tables,
    Table(QualifiedName),
    Index(QualifiedName),
    MaterializedView(QualifiedName),
    Types,
    Type(QualifiedName),
    Functions,
    Function(QualifiedName),
    Aggregates,
    Aggregate(QualifiedName),
    /// `DESCRIBE name` or `DESCRIBE ks.name`: a keyspace, or any element of the keyspace.
    Name(QualifiedName),
}

/// A constant as written (Cassandra's `Constants.Literal`): its kind decides which types it can
/// be assigned to, its text is parsed only against the receiver's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// `'text'` or `$$text$$`, unescaped.
    String(String),
    /// `42`, `-7`.
    Integer(String),
    /// `1.5`, `2e10`, `NaN`, `Infinity`, `-Infinity`.
    Float(String),
    Boolean(bool),
    /// `123e4567-e89b-12d3-a456-426614174000`.
    Uuid(String),
    /// `0xcafe`, with its `0x`.
    Hex(String),
}

impl Literal {
    /// The kind's name in Cassandra's error messages: `Invalid STRING constant ...`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Literal::String(_) => "STRING",
            Literal::Integer(_) => "INTEGER",
            Literal::Float(_) => "FLOAT",
            Literal::Boolean(_) => "BOOLEAN",
            Literal::Uuid(_) => "UUID",
            Literal::Hex(_) => "HEX",
        }
    }

    /// The literal's text without quotes (a string's content, a number's digits).
    pub fn raw_text(&self) -> &str {
        match self {
            Literal::String(s)
            | Literal::Integer(s)
            | Literal::Float(s)
            | Literal::Uuid(s)
            | Literal::Hex(s) => s,
            Literal::Boolean(true) => "true",
            Literal::Boolean(false) => "false",
        }
    }
}

/// A bind marker: `?` or `:name`, numbered in the order markers appear in the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMarker {
    pub index: usize,
    pub name: Option<Ident>,
}

/// A value expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    Literal(Literal),
    Null,
    Bind(BindMarker),
    /// `[a, b]`.
    List(Vec<Term>),
    /// `{a, b}`; `{}` is an empty set, which a map receiver also accepts.
    Set(Vec<Term>),
    /// `{k: v, ...}`.
    Map(Vec<(Term, Term)>),
    /// `(a, b)`.
    Tuple(Vec<Term>),
    /// `now()`, `toTimestamp(now())`, `token(?, ?)`.
    Function {
        name: QualifiedName,
        args: Vec<Term>,
    },
    /// `(int) ?`.
    Cast {
        ty: CqlType,
        term: Box<Term>,
    },
    /// `- term` (a negative number literal is one [`Literal::Integer`] token instead).
    Negate(Box<Term>),
}

impl Term {
    /// The arguments of a `token(...)` call, for the right-hand side of a token relation.
    pub fn as_token_call(&self) -> Option<&[Term]> {
        match self {
            Term::Function { name, args }
                if name
                    .keyspace
                    .as_ref()
                    .is_none_or(|k| k.as_str() == "system")
                    && name.name.as_str() == "token" =>
            {
                Some(args)
            }
            _ => None,
        }
    }
}

impl Statement {
    /// Whether the statement is a conditional write (a lightweight transaction): `INSERT ...
    /// IF NOT EXISTS`, `UPDATE`/`DELETE ... IF`, or a batch holding one.
    pub fn is_conditional(&self) -> bool {
        match self {
            Statement::Insert(i) => i.if_not_exists,
            Statement::Update(u) => u.condition.is_some(),
            Statement::Delete(d) => d.condition.is_some(),
            Statement::Batch(b) => b.statements.iter().any(|s| match s {
                BatchStatement::Insert(i) => i.if_not_exists,
                BatchStatement::Update(u) => u.condition.is_some(),
                BatchStatement::Delete(d) => d.condition.is_some(),
            }),
            _ => false,
        }
    }
}

/// The parameter of a `USING` list named `TTL`, if any (the last one written wins).
pub fn using_ttl(using: &[UsingParameter]) -> Option<&Term> {
    using.iter().rev().find_map(|u| match u {
        UsingParameter::Ttl(t) => Some(t),
        UsingParameter::Timestamp(_) => None,
    })
}

/// The parameter of a `USING` list named `TIMESTAMP`, if any (the last one written wins).
pub fn using_timestamp(using: &[UsingParameter]) -> Option<&Term> {
    using.iter().rev().find_map(|u| match u {
        UsingParameter::Timestamp(t) => Some(t),
        UsingParameter::Ttl(_) => None,
    })
}
