//! CQL text for every AST node ([`std::fmt::Display`]): what the parser reads back to the same
//! tree. Names are quoted only where Cassandra quotes them (not `[a-z][a-z0-9_]*`, or a
//! reserved keyword); strings are single-quoted with `''`; other literals print as written.
//! `CREATE KEYSPACE` and `CREATE TABLE` print in the exact layout of Cassandra 5.0's DESCRIBE
//! (four-space column indent, one option per line, the keyspace's `  AND`), which is what
//! `DESCRIBE` answers with once the executor builds the statement from its schema.

use std::fmt::{self, Display, Formatter, Write as _};

use crate::ast::*;
use crate::parser::is_reserved;

/// Writes `items` separated by `sep`.
fn join<T: Display>(f: &mut Formatter<'_>, items: &[T], sep: &str) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl Display for Ident {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let s = self.as_str();
        let plain = s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !is_reserved(s);
        if plain {
            f.write_str(s)
        } else {
            f.write_char('"')?;
            f.write_str(&s.replace('"', "\"\""))?;
            f.write_char('"')
        }
    }
}

impl Display for QualifiedName {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(ks) = &self.keyspace {
            write!(f, "{ks}.")?;
        }
        write!(f, "{}", self.name)
    }
}

/// A function name: as a qualified name, except that `token` (a reserved word the grammar
/// allows as a function name) stays unquoted, and the unreserved keywords the grammar does not
/// allow as function names (`writetime`, `key`, ...) are quoted.
struct FunctionName<'a>(&'a QualifiedName);

impl Display for FunctionName<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let QualifiedName { keyspace, name } = self.0;
        if let Some(ks) = keyspace {
            write!(f, "{ks}.")?;
        }
        match name.as_str() {
            "token" => f.write_str("token"),
            "ttl" | "writetime" | "maxwritetime" | "key" | "cast" | "json" | "distinct" => {
                write!(f, "\"{}\"", name.as_str())
            }
            _ => write!(f, "{name}"),
        }
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(s) => {
                f.write_char('\'')?;
                f.write_str(&s.replace('\'', "''"))?;
                f.write_char('\'')
            }
            other => f.write_str(other.raw_text()),
        }
    }
}

impl Display for BindMarker {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, ":{name}"),
            None => f.write_char('?'),
        }
    }
}

impl Display for Term {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Term::Literal(l) => write!(f, "{l}"),
            Term::Null => f.write_str("null"),
            Term::Bind(m) => write!(f, "{m}"),
            Term::List(items) => {
                f.write_char('[')?;
                join(f, items, ", ")?;
                f.write_char(']')
            }
            Term::Set(items) => {
                f.write_char('{')?;
                join(f, items, ", ")?;
                f.write_char('}')
            }
            Term::Map(entries) => {
                f.write_char('{')?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_char('}')
            }
            Term::Tuple(items) => {
                f.write_char('(')?;
                join(f, items, ", ")?;
                f.write_char(')')
            }
            Term::Function { name, args } => {
                write!(f, "{}(", FunctionName(name))?;
                join(f, args, ", ")?;
                f.write_char(')')
            }
            Term::Cast { ty, term } => write!(f, "({ty}) {term}"),
            // The space keeps `- 5` a negation: `-5` is one integer token.
            Term::Negate(term) => write!(f, "- {term}"),
        }
    }
}

impl Display for Operator {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operator::Eq => "=",
            Operator::Lt => "<",
            Operator::Lte => "<=",
            Operator::Gt => ">",
            Operator::Gte => ">=",
            Operator::Neq => "!=",
        })
    }
}

impl Display for InValues {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            InValues::Terms(terms) => {
                f.write_char('(')?;
                join(f, terms, ", ")?;
                f.write_char(')')
            }
            InValues::Marker(m) => write!(f, "{m}"),
        }
    }
}

impl Display for Predicate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Predicate::Compare(op, term) => write!(f, "{op} {term}"),
            Predicate::In(values) => write!(f, "IN {values}"),
            Predicate::Contains(term) => write!(f, "CONTAINS {term}"),
            Predicate::ContainsKey(term) => write!(f, "CONTAINS KEY {term}"),
        }
    }
}

/// `(a, b)`.
struct IdentTuple<'a>(&'a [Ident]);

impl Display for IdentTuple<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('(')?;
        join(f, self.0, ", ")?;
        f.write_char(')')
    }
}

impl Display for Relation {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Relation::Column { column, predicate } => write!(f, "{column} {predicate}"),
            Relation::Element {
                column,
                key,
                operator,
                value,
            } => write!(f, "{column}[{key}] {operator} {value}"),
            Relation::Token {
                columns,
                operator,
                value,
            } => write!(f, "token{} {operator} {value}", IdentTuple(columns)),
            Relation::Tuple { columns, predicate } => {
                write!(f, "{} {predicate}", IdentTuple(columns))
            }
        }
    }
}

impl Display for Condition {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.column)?;
        if let Some(e) = &self.element {
            write!(f, "[{e}]")?;
        }
        write!(f, " {}", self.predicate)
    }
}

/// ` WHERE a AND b` (nothing when empty).
struct Where<'a>(&'a [Relation]);

impl Display for Where<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if !self.0.is_empty() {
            f.write_str(" WHERE ")?;
            join(f, self.0, " AND ")?;
        }
        Ok(())
    }
}

impl Display for UpdateCondition {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            UpdateCondition::Exists => f.write_str("IF EXISTS"),
            UpdateCondition::Columns(conditions) => {
                f.write_str("IF ")?;
                join(f, conditions, " AND ")
            }
        }
    }
}

impl Display for UsingParameter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            UsingParameter::Ttl(t) => write!(f, "TTL {t}"),
            UsingParameter::Timestamp(t) => write!(f, "TIMESTAMP {t}"),
        }
    }
}

/// ` USING TTL x AND TIMESTAMP y` (nothing when empty).
struct Using<'a>(&'a [UsingParameter]);

impl Display for Using<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if !self.0.is_empty() {
            f.write_str(" USING ")?;
            join(f, self.0, " AND ")?;
        }
        Ok(())
    }
}

impl Display for OptionValue {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            OptionValue::Literal(l) => write!(f, "{l}"),
            OptionValue::Word(w) => write!(f, "{w}"),
            OptionValue::Map(entries) => {
                f.write_char('{')?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_char('}')
            }
        }
    }
}

impl Display for TableOption {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.name, self.value)
    }
}

impl Display for ColumnDefinition {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.ty)?;
        if self.is_static {
            f.write_str(" static")?;
        }
        Ok(())
    }
}

impl Display for PrimaryKey {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("PRIMARY KEY (")?;
        if self.partition_key.len() == 1 {
            write!(f, "{}", self.partition_key[0])?;
        } else {
            write!(f, "{}", IdentTuple(&self.partition_key))?;
        }
        for c in &self.clustering {
            write!(f, ", {c}")?;
        }
        f.write_char(')')
    }
}

impl Display for CreateKeyspace {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("CREATE KEYSPACE ")?;
        if self.if_not_exists {
            f.write_str("IF NOT EXISTS ")?;
        }
        write!(f, "{}", self.name)?;
        // DESCRIBE's layout: `WITH replication = {...}  AND durable_writes = true`.
        for (i, option) in self.options.iter().enumerate() {
            f.write_str(if i == 0 { " WITH " } else { "  AND " })?;
            write!(f, "{option}")?;
        }
        Ok(())
    }
}

impl Display for AlterKeyspace {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("ALTER KEYSPACE ")?;
        if self.if_exists {
            f.write_str("IF EXISTS ")?;
        }
        write!(f, "{} WITH ", self.name)?;
        join(f, &self.options, " AND ")
    }
}

impl Display for CreateTable {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("CREATE TABLE ")?;
        if self.if_not_exists {
            f.write_str("IF NOT EXISTS ")?;
        }
        write!(f, "{} (", self.name)?;
        let pk = &self.primary_key;
        // DESCRIBE writes a lone partition key column with no clustering inline.
        let inline = pk.partition_key.len() == 1 && pk.clustering.is_empty();
        for (i, column) in self.columns.iter().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            write!(f, "\n    {column}")?;
            if inline && column.name == pk.partition_key[0] {
                f.write_str(" PRIMARY KEY")?;
            }
        }
        if !inline {
            write!(f, ",\n    {pk}")?;
        }
        f.write_str("\n)")?;
        let mut first = true;
        let mut next = |f: &mut Formatter<'_>| {
            let sep = if first { " WITH " } else { "\n    AND " };
            first = false;
            f.write_str(sep)
        };
        if !self.clustering_order.is_empty() {
            next(f)?;
            f.write_str("CLUSTERING ORDER BY (")?;
            for (i, (c, desc)) in self.clustering_order.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{c} {}", if *desc { "DESC" } else { "ASC" })?;
            }
            f.write_char(')')?;
        }
        for option in &self.options {
            next(f)?;
            write!(f, "{option}")?;
        }
        Ok(())
    }
}

impl Display for AlterTable {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("ALTER TABLE ")?;
        if self.if_exists {
            f.write_str("IF EXISTS ")?;
        }
        write!(f, "{} ", self.name)?;
        match &self.action {
            AlterTableAction::Add {
                if_not_exists,
                columns,
            } => {
                f.write_str("ADD ")?;
                if *if_not_exists {
                    f.write_str("IF NOT EXISTS ")?;
                }
                if columns.len() == 1 {
                    write!(f, "{}", columns[0])
                } else {
                    f.write_char('(')?;
                    join(f, columns, ", ")?;
                    f.write_char(')')
                }
            }
            AlterTableAction::Drop {
                if_exists,
                columns,
                timestamp,
            } => {
                f.write_str("DROP ")?;
                if *if_exists {
                    f.write_str("IF EXISTS ")?;
                }
                if columns.len() == 1 {
                    write!(f, "{}", columns[0])?;
                } else {
                    write!(f, "{}", IdentTuple(columns))?;
                }
                if let Some(ts) = timestamp {
                    write!(f, " USING TIMESTAMP {ts}")?;
                }
                Ok(())
            }
            AlterTableAction::Rename { if_exists, renames } => {
                f.write_str("RENAME ")?;
                if *if_exists {
                    f.write_str("IF EXISTS ")?;
                }
                for (i, (from, to)) in renames.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" AND ")?;
                    }
                    write!(f, "{from} TO {to}")?;
                }
                Ok(())
            }
            AlterTableAction::With(options) => {
                f.write_str("WITH ")?;
                join(f, options, " AND ")
            }
        }
    }
}

impl Display for Insert {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "INSERT INTO {} ", self.table)?;
        write!(f, "{} VALUES (", IdentTuple(&self.columns))?;
        join(f, &self.values, ", ")?;
        f.write_char(')')?;
        if self.if_not_exists {
            f.write_str(" IF NOT EXISTS")?;
        }
        write!(f, "{}", Using(&self.using))
    }
}

impl Display for Assignment {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Assignment::Set { column, value } => write!(f, "{column} = {value}"),
            Assignment::Add { column, value } => write!(f, "{column} = {column} + {value}"),
            Assignment::Subtract { column, value } => write!(f, "{column} = {column} - {value}"),
            Assignment::Prepend { column, value } => write!(f, "{column} = {value} + {column}"),
            Assignment::SetElement { column, key, value } => {
                write!(f, "{column}[{key}] = {value}")
            }
        }
    }
}

impl Display for Update {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "UPDATE {}{} SET ", self.table, Using(&self.using))?;
        join(f, &self.assignments, ", ")?;
        write!(f, "{}", Where(&self.where_clause))?;
        if let Some(c) = &self.condition {
            write!(f, " {c}")?;
        }
        Ok(())
    }
}

impl Display for DeleteSelection {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.column)?;
        if let Some(e) = &self.element {
            write!(f, "[{e}]")?;
        }
        Ok(())
    }
}

impl Display for Delete {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("DELETE ")?;
        if !self.columns.is_empty() {
            join(f, &self.columns, ", ")?;
            f.write_char(' ')?;
        }
        write!(f, "FROM {}", self.table)?;
        if let Some(ts) = &self.timestamp {
            write!(f, " USING TIMESTAMP {ts}")?;
        }
        write!(f, "{}", Where(&self.where_clause))?;
        if let Some(c) = &self.condition {
            write!(f, " {c}")?;
        }
        Ok(())
    }
}

impl Display for BatchStatement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            BatchStatement::Insert(s) => write!(f, "{s}"),
            BatchStatement::Update(s) => write!(f, "{s}"),
            BatchStatement::Delete(s) => write!(f, "{s}"),
        }
    }
}

impl Display for Batch {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            BatchKind::Logged => "BEGIN BATCH",
            BatchKind::Unlogged => "BEGIN UNLOGGED BATCH",
            BatchKind::Counter => "BEGIN COUNTER BATCH",
        })?;
        write!(f, "{}", Using(&self.using))?;
        for s in &self.statements {
            write!(f, "\n    {s};")?;
        }
        f.write_str("\nAPPLY BATCH")
    }
}

impl Display for SelectorExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SelectorExpr::Column(c) => write!(f, "{c}"),
            SelectorExpr::CountRows => f.write_str("count(*)"),
            SelectorExpr::WriteTime(c) => write!(f, "writetime({c})"),
            SelectorExpr::MaxWriteTime(c) => write!(f, "maxwritetime({c})"),
            SelectorExpr::Ttl(c) => write!(f, "ttl({c})"),
            SelectorExpr::Function { name, args } => {
                write!(f, "{}(", FunctionName(name))?;
                join(f, args, ", ")?;
                f.write_char(')')
            }
            SelectorExpr::Cast { expr, ty } => write!(f, "CAST({expr} AS {ty})"),
            SelectorExpr::Term(t) => write!(f, "{t}"),
        }
    }
}

impl Display for Selector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        if let Some(alias) = &self.alias {
            write!(f, " AS {alias}")?;
        }
        Ok(())
    }
}

impl Display for Select {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        if self.distinct {
            f.write_str("DISTINCT ")?;
        }
        if self.selectors.is_empty() {
            f.write_char('*')?;
        } else {
            join(f, &self.selectors, ", ")?;
        }
        write!(f, " FROM {}{}", self.table, Where(&self.where_clause))?;
        if !self.order_by.is_empty() {
            f.write_str(" ORDER BY ")?;
            for (i, (c, desc)) in self.order_by.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{c} {}", if *desc { "DESC" } else { "ASC" })?;
            }
        }
        if let Some(n) = &self.per_partition_limit {
            write!(f, " PER PARTITION LIMIT {n}")?;
        }
        if let Some(n) = &self.limit {
            write!(f, " LIMIT {n}")?;
        }
        if self.allow_filtering {
            f.write_str(" ALLOW FILTERING")?;
        }
        Ok(())
    }
}

impl Display for DescribeTarget {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            DescribeTarget::Cluster => f.write_str("CLUSTER"),
            DescribeTarget::Schema { full } => {
                f.write_str(if *full { "FULL SCHEMA" } else { "SCHEMA" })
            }
            DescribeTarget::Keyspaces => f.write_str("KEYSPACES"),
            DescribeTarget::Keyspace { name, only } => {
                if *only {
                    f.write_str("ONLY ")?;
                }
                f.write_str("KEYSPACE")?;
                if let Some(name) = name {
                    write!(f, " {name}")?;
                }
                Ok(())
            }
            DescribeTarget::Tables => f.write_str("TABLES"),
            DescribeTarget::Table(n) => write!(f, "TABLE {n}"),
            DescribeTarget::Index(n) => write!(f, "INDEX {n}"),
            DescribeTarget::MaterializedView(n) => write!(f, "MATERIALIZED VIEW {n}"),
            DescribeTarget::Types => f.write_str("TYPES"),
            DescribeTarget::Type(n) => write!(f, "TYPE {n}"),
            DescribeTarget::Functions => f.write_str("FUNCTIONS"),
            DescribeTarget::Function(n) => write!(f, "FUNCTION {n}"),
            DescribeTarget::Aggregates => f.write_str("AGGREGATES"),
            DescribeTarget::Aggregate(n) => write!(f, "AGGREGATE {n}"),
            DescribeTarget::Name(n) => write!(f, "{n}"),
        }
    }
}

impl Display for Describe {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "DESCRIBE {}", self.target)?;
        if self.with_internals {
            f.write_str(" WITH INTERNALS")?;
        }
        Ok(())
    }
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Statement::CreateKeyspace(s) => write!(f, "{s}"),
            Statement::AlterKeyspace(s) => write!(f, "{s}"),
            Statement::DropKeyspace(s) => {
                f.write_str("DROP KEYSPACE ")?;
                if s.if_exists {
                    f.write_str("IF EXISTS ")?;
                }
                write!(f, "{}", s.name)
            }
            Statement::Use(ks) => write!(f, "USE {ks}"),
            Statement::CreateTable(s) => write!(f, "{s}"),
            Statement::AlterTable(s) => write!(f, "{s}"),
            Statement::DropTable(s) => {
                f.write_str("DROP TABLE ")?;
                if s.if_exists {
                    f.write_str("IF EXISTS ")?;
                }
                write!(f, "{}", s.name)
            }
            Statement::Truncate(t) => write!(f, "TRUNCATE TABLE {t}"),
            Statement::Insert(s) => write!(f, "{s}"),
            Statement::Update(s) => write!(f, "{s}"),
            Statement::Delete(s) => write!(f, "{s}"),
            Statement::Batch(s) => write!(f, "{s}"),
            Statement::Select(s) => write!(f, "{s}"),
            Statement::Describe(s) => write!(f, "{s}"),
        }
    }
}
