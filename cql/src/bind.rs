//! Bind markers and what they bind to: [`Statement::bind_markers`] lists a statement's markers
//! in index order, each with the [`Receiver`] its value is assigned to (a column, an element of
//! a collection column, `token()`, `LIMIT`, `USING TTL`...), and [`Receiver::spec`] turns a
//! receiver into Cassandra's column specification (name and type) once the executor can look
//! up the table's columns: that is the bind metadata of a prepared statement
//! (`value(tags)`, `in(k)`, `[limit]`, `partition key token`, ... as Cassandra names them).
//! The same specifications are what [`crate::resolve`] checks literals against.

use crate::ast::*;
use crate::error::CqlError;
use crate::resolve::function_arg_type;
use crate::types::CqlType;

/// A value's destination with its name and type: Cassandra's `ColumnSpecification`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    /// `k`, `value(tags)`, `key(m)`, `idx(l)`, `in(k)`, `[limit]`, `partition key token`.
    pub name: String,
    pub ty: CqlType,
}

impl ColumnSpec {
    pub fn new(name: impl Into<String>, ty: CqlType) -> ColumnSpec {
        ColumnSpec {
            name: name.into(),
            ty,
        }
    }

    /// The specification of a part of this receiver (an element of a collection literal, a
    /// tuple component, `c[k]`, a CONTAINS value), with Cassandra's message when the receiver
    /// has no such part.
    pub fn part(&self, part: Part) -> Result<ColumnSpec, CqlError> {
        let name = &self.name;
        let ty = self.ty.unfrozen();
        let wrap =
            |prefix: &str, t: &CqlType| ColumnSpec::new(format!("{prefix}({name})"), t.clone());
        let literal_error = |what: &str| {
            CqlError::invalid(format!(
                "Invalid {what} literal for {name} of type {}",
                self.ty
            ))
        };
        match (part, ty) {
            (Part::ListElement, CqlType::List(e)) => Ok(wrap("value", e)),
            (Part::ListElement, _) => Err(literal_error("list")),
            (Part::SetElement, CqlType::Set(e)) => Ok(wrap("value", e)),
            (Part::SetElement, _) => Err(literal_error("set")),
            (Part::MapKey, CqlType::Map(k, _)) => Ok(wrap("key", k)),
            (Part::MapValue, CqlType::Map(_, v)) => Ok(wrap("value", v)),
            (Part::MapKey | Part::MapValue, _) => Err(literal_error("map")),
            (Part::TupleComponent(i), CqlType::Tuple(items)) => match items.get(i) {
                Some(t) => Ok(ColumnSpec::new(format!("{name}[{i}]"), t.clone())),
                None => Err(CqlError::invalid(format!(
                    "Invalid tuple literal for {name}: too many elements. Type {} expects {} but got {}",
                    self.ty,
                    items.len(),
                    i + 1
                ))),
            },
            (Part::TupleComponent(_), _) => Err(CqlError::invalid(format!(
                "Invalid tuple type literal for {name} of type {}",
                self.ty
            ))),
            (Part::Element, CqlType::List(_)) => Ok(ColumnSpec::new(format!("idx({name})"), CqlType::Int)),
            (Part::Element, CqlType::Map(k, _)) => Ok(wrap("key", k)),
            (Part::Element, CqlType::Set(e)) => Ok(wrap("value", e)),
            (Part::ElementValue | Part::ContainsValue, CqlType::List(e) | CqlType::Set(e)) => {
                Ok(wrap("value", e))
            }
            (Part::ElementValue | Part::ContainsValue, CqlType::Map(_, v)) => Ok(wrap("value", v)),
            (Part::ContainsKey, CqlType::Map(k, _)) => Ok(wrap("key", k)),
            (Part::ContainsKey, _) => Err(CqlError::invalid(format!(
                "Cannot use CONTAINS KEY on non-map column {name}"
            ))),
            (Part::ContainsValue, _) => Err(CqlError::invalid(format!(
                "Cannot use CONTAINS on non-collection column {name}"
            ))),
            (Part::Element | Part::ElementValue, _) => Err(CqlError::invalid(format!(
                "Invalid element access for non collection column {name} of type {}",
                self.ty
            ))),
        }
    }
}

/// Which part of a receiver a term is assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// An element of a `[...]` literal.
    ListElement,
    /// An element of a `{...}` set literal.
    SetElement,
    MapKey,
    MapValue,
    /// The i-th component of a `(...)` tuple literal.
    TupleComponent(usize),
    /// `c[k]`'s `k`: a list index, a map key, a set element.
    Element,
    /// The `v` of `c[k] = v`.
    ElementValue,
    /// `c CONTAINS v`.
    ContainsValue,
    /// `c CONTAINS KEY v`.
    ContainsKey,
}

/// Where a term's value goes, before the schema gives it a name and a type.
#[derive(Debug, Clone, PartialEq)]
pub enum Receiver {
    /// A column: `c = ?`, `VALUES (?)`, `c > ?`, an element of `c IN (?, ?)`.
    Column(Ident),
    /// `m = m - ?` on a map removes keys: a set of the key type (any other column: its type).
    Removal(Ident),
    /// A part of another receiver.
    Part(Box<Receiver>, Part),
    /// `c IN ?`: a list of the receiver's values.
    In(Box<Receiver>),
    /// `(a, b) > ?`: a tuple of the columns' values.
    Tuple(Vec<Ident>),
    /// `token(k) > ?`: a token (bigint).
    Token,
    /// `token(a, b) > token(?, ?)`: the i-th argument of `token()`, typed by the relation's
    /// i-th column.
    TokenArgument {
        column: Ident,
        index: usize,
    },
    /// An argument of another function call.
    FunctionArgument {
        function: QualifiedName,
        index: usize,
    },
    /// `(type) ?`: the cast's type (`text` is the cast as written, Cassandra's name for it).
    Cast {
        ty: CqlType,
        text: String,
    },
    Limit,
    PerPartitionLimit,
    Ttl,
    Timestamp,
    /// A marker in a SELECT's selection: it has no type.
    Selection,
}

/// A bind marker, the receiver of its value and the table of that receiver's columns.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkerUse<'a> {
    pub marker: &'a BindMarker,
    pub receiver: Receiver,
    /// The table whose columns the receiver names (in a batch, each statement's own).
    pub table: Option<&'a QualifiedName>,
}

impl Receiver {
    /// The receiver's name and type, looking columns up with `column_type` (Cassandra's
    /// `Undefined column name x` when it finds none).
    pub fn spec(
        &self,
        column_type: &dyn Fn(&Ident) -> Option<CqlType>,
    ) -> Result<ColumnSpec, CqlError> {
        let lookup = |c: &Ident| {
            column_type(c).ok_or_else(|| CqlError::invalid(format!("Undefined column name {c}")))
        };
        Ok(match self {
            Receiver::Column(c) => ColumnSpec::new(c.as_str(), lookup(c)?),
            Receiver::Removal(c) => {
                let ty = lookup(c)?;
                match ty.unfrozen() {
                    CqlType::Map(k, _) => ColumnSpec::new(c.as_str(), CqlType::Set(k.clone())),
                    _ => ColumnSpec::new(c.as_str(), ty),
                }
            }
            Receiver::Part(inner, part) => inner.spec(column_type)?.part(*part)?,
            Receiver::In(inner) => {
                let inner = inner.spec(column_type)?;
                ColumnSpec::new(format!("in({})", inner.name), CqlType::List(Box::new(inner.ty)))
            }
            Receiver::Tuple(columns) => {
                let types = columns.iter().map(lookup).collect::<Result<Vec<_>, _>>()?;
                let names: Vec<&str> = columns.iter().map(Ident::as_str).collect();
                ColumnSpec::new(format!("({})", names.join(",")), CqlType::Tuple(types))
            }
            Receiver::Token => ColumnSpec::new("partition key token", CqlType::BigInt),
            Receiver::TokenArgument { column, index } => {
                ColumnSpec::new(format!("arg{index}(system.token)"), lookup(column)?)
            }
            Receiver::FunctionArgument { function, index } => {
                ColumnSpec::new(
                    format!("arg{index}(system.{})", function.name.as_str()),
                    function_arg_type(function, *index)?,
                )
            }
            Receiver::Cast { ty, text } => ColumnSpec::new(text.clone(), ty.clone()),
            Receiver::Limit => ColumnSpec::new("[limit]", CqlType::Int),
            Receiver::PerPartitionLimit => ColumnSpec::new("[per_partition_limit]", CqlType::Int),
            Receiver::Ttl => ColumnSpec::new("[ttl]", CqlType::Int),
            Receiver::Timestamp => ColumnSpec::new("[timestamp]", CqlType::BigInt),
            Receiver::Selection => {
                return Err(CqlError::invalid(
                    "Cannot infer type for term ? in selection clause (try using a cast to force a type)",
                ))
            }
        })
    }
}

/// Collects marker uses while walking a statement.
struct Walker<'a> {
    uses: Vec<MarkerUse<'a>>,
    table: Option<&'a QualifiedName>,
}

impl<'a> Walker<'a> {
    fn push(&mut self, marker: &'a BindMarker, receiver: Receiver) {
        self.uses.push(MarkerUse {
            marker,
            receiver,
            table: self.table,
        });
    }

    fn term(&mut self, term: &'a Term, receiver: Receiver) {
        let part = |r: &Receiver, p: Part| Receiver::Part(Box::new(r.clone()), p);
        match term {
            Term::Literal(_) | Term::Null => {}
            Term::Bind(m) => self.push(m, receiver),
            Term::List(items) => {
                for t in items {
                    self.term(t, part(&receiver, Part::ListElement));
                }
            }
            Term::Set(items) => {
                for t in items {
                    self.term(t, part(&receiver, Part::SetElement));
                }
            }
            Term::Map(entries) => {
                for (k, v) in entries {
                    self.term(k, part(&receiver, Part::MapKey));
                    self.term(v, part(&receiver, Part::MapValue));
                }
            }
            Term::Tuple(items) => {
                for (i, t) in items.iter().enumerate() {
                    self.term(t, part(&receiver, Part::TupleComponent(i)));
                }
            }
            Term::Function { name, args } => {
                for (index, t) in args.iter().enumerate() {
                    let function = name.clone();
                    self.term(t, Receiver::FunctionArgument { function, index });
                }
            }
            Term::Cast { ty, term: inner } => {
                let text = format!("({ty}){inner}");
                self.term(
                    inner,
                    Receiver::Cast {
                        ty: ty.clone(),
                        text,
                    },
                );
            }
            Term::Negate(inner) => self.term(inner, receiver),
        }
    }

    fn in_values(&mut self, values: &'a InValues, receiver: Receiver) {
        match values {
            InValues::Terms(terms) => {
                for t in terms {
                    self.term(t, receiver.clone());
                }
            }
            InValues::Marker(m) => self.push(m, Receiver::In(Box::new(receiver))),
        }
    }

    fn predicate(&mut self, column: &Ident, predicate: &'a Predicate) {
        let col = Receiver::Column(column.clone());
        match predicate {
            Predicate::Compare(_, t) => self.term(t, col),
            Predicate::In(values) => self.in_values(values, col),
            Predicate::Contains(t) => {
                self.term(t, Receiver::Part(Box::new(col), Part::ContainsValue))
            }
            Predicate::ContainsKey(t) => {
                self.term(t, Receiver::Part(Box::new(col), Part::ContainsKey))
            }
        }
    }

    /// A multi-column value: a tuple literal binds each component to its column, a marker
    /// binds the whole tuple.
    fn multi_value(&mut self, columns: &[Ident], term: &'a Term) {
        match term {
            Term::Tuple(items) => {
                for (i, t) in items.iter().enumerate() {
                    let receiver = match columns.get(i) {
                        Some(c) => Receiver::Column(c.clone()),
                        None => Receiver::Part(
                            Box::new(Receiver::Tuple(columns.to_vec())),
                            Part::TupleComponent(i),
                        ),
                    };
                    self.term(t, receiver);
                }
            }
            other => self.term(other, Receiver::Tuple(columns.to_vec())),
        }
    }

    fn relations(&mut self, relations: &'a [Relation]) {
        for r in relations {
            match r {
                Relation::Column { column, predicate } => self.predicate(column, predicate),
                Relation::Element {
                    column, key, value, ..
                } => {
                    let col = Box::new(Receiver::Column(column.clone()));
                    self.term(key, Receiver::Part(col.clone(), Part::Element));
                    self.term(value, Receiver::Part(col, Part::ElementValue));
                }
                Relation::Token { columns, value, .. } => match value.as_token_call() {
                    Some(args) => {
                        for (index, t) in args.iter().enumerate() {
                            let receiver = match columns.get(index) {
                                Some(column) => Receiver::TokenArgument {
                                    column: column.clone(),
                                    index,
                                },
                                None => Receiver::Token,
                            };
                            self.term(t, receiver);
                        }
                    }
                    None => self.term(value, Receiver::Token),
                },
                Relation::Tuple { columns, predicate } => match predicate {
                    Predicate::In(InValues::Terms(terms)) => {
                        for t in terms {
                            self.multi_value(columns, t);
                        }
                    }
                    Predicate::In(InValues::Marker(m)) => {
                        self.push(m, Receiver::In(Box::new(Receiver::Tuple(columns.clone()))))
                    }
                    Predicate::Compare(_, t)
                    | Predicate::Contains(t)
                    | Predicate::ContainsKey(t) => self.multi_value(columns, t),
                },
            }
        }
    }

    fn using(&mut self, using: &'a [UsingParameter]) {
        for u in using {
            match u {
                UsingParameter::Ttl(t) => self.term(t, Receiver::Ttl),
                UsingParameter::Timestamp(t) => self.term(t, Receiver::Timestamp),
            }
        }
    }

    fn condition(&mut self, condition: &'a Option<UpdateCondition>) {
        let Some(UpdateCondition::Columns(conditions)) = condition else {
            return;
        };
        for c in conditions {
            match &c.element {
                None => self.predicate(&c.column, &c.predicate),
                Some(e) => {
                    let col = Box::new(Receiver::Column(c.column.clone()));
                    self.term(e, Receiver::Part(col.clone(), Part::Element));
                    let value = Receiver::Part(col, Part::ElementValue);
                    match &c.predicate {
                        Predicate::In(values) => self.in_values(values, value),
                        Predicate::Compare(_, t)
                        | Predicate::Contains(t)
                        | Predicate::ContainsKey(t) => self.term(t, value),
                    }
                }
            }
        }
    }

    fn insert(&mut self, s: &'a Insert) {
        self.table = Some(&s.table);
        for (column, value) in s.columns.iter().zip(&s.values) {
            self.term(value, Receiver::Column(column.clone()));
        }
        self.using(&s.using);
    }

    fn update(&mut self, s: &'a Update) {
        self.table = Some(&s.table);
        self.using(&s.using);
        for a in &s.assignments {
            match a {
                Assignment::Set { column, value }
                | Assignment::Add { column, value }
                | Assignment::Prepend { column, value } => {
                    self.term(value, Receiver::Column(column.clone()))
                }
                Assignment::Subtract { column, value } => {
                    self.term(value, Receiver::Removal(column.clone()))
                }
                Assignment::SetElement { column, key, value } => {
                    let col = Box::new(Receiver::Column(column.clone()));
                    self.term(key, Receiver::Part(col.clone(), Part::Element));
                    self.term(value, Receiver::Part(col, Part::ElementValue));
                }
            }
        }
        self.relations(&s.where_clause);
        self.condition(&s.condition);
    }

    fn delete(&mut self, s: &'a Delete) {
        self.table = Some(&s.table);
        for selection in &s.columns {
            if let Some(e) = &selection.element {
                let col = Box::new(Receiver::Column(selection.column.clone()));
                self.term(e, Receiver::Part(col, Part::Element));
            }
        }
        if let Some(t) = &s.timestamp {
            self.term(t, Receiver::Timestamp);
        }
        self.relations(&s.where_clause);
        self.condition(&s.condition);
    }

    fn selector(&mut self, expr: &'a SelectorExpr) {
        match expr {
            SelectorExpr::Function { args, .. } => {
                for a in args {
                    self.selector(a);
                }
            }
            SelectorExpr::Cast { expr, .. } => self.selector(expr),
            SelectorExpr::Term(t) => self.term(t, Receiver::Selection),
            SelectorExpr::Column(_)
            | SelectorExpr::CountRows
            | SelectorExpr::WriteTime(_)
            | SelectorExpr::MaxWriteTime(_)
            | SelectorExpr::Ttl(_) => {}
        }
    }
}

impl Statement {
    /// The statement's bind markers in index order, each with its receiver.
    pub fn bind_markers(&self) -> Vec<MarkerUse<'_>> {
        let mut w = Walker {
            uses: Vec::new(),
            table: None,
        };
        match self {
            Statement::Insert(s) => w.insert(s),
            Statement::Update(s) => w.update(s),
            Statement::Delete(s) => w.delete(s),
            Statement::Batch(b) => {
                w.using(&b.using);
                for s in &b.statements {
                    match s {
                        BatchStatement::Insert(s) => w.insert(s),
                        BatchStatement::Update(s) => w.update(s),
                        BatchStatement::Delete(s) => w.delete(s),
                    }
                }
            }
            Statement::Select(s) => {
                w.table = Some(&s.table);
                for sel in &s.selectors {
                    w.selector(&sel.expr);
                }
                w.relations(&s.where_clause);
                if let Some(t) = &s.per_partition_limit {
                    w.term(t, Receiver::PerPartitionLimit);
                }
                if let Some(t) = &s.limit {
                    w.term(t, Receiver::Limit);
                }
            }
            Statement::CreateKeyspace(_)
            | Statement::AlterKeyspace(_)
            | Statement::DropKeyspace(_)
            | Statement::Use(_)
            | Statement::CreateTable(_)
            | Statement::AlterTable(_)
            | Statement::DropTable(_)
            | Statement::Truncate(_)
            | Statement::Describe(_) => {}
        }
        w.uses.sort_by_key(|u| u.marker.index);
        w.uses
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_statement;

    /// The test table: k int, c int, l list<int>, s set<text>, m map<text, int>,
    /// t tuple<int, text>, ts timestamp, n counter.
    fn column_type(c: &Ident) -> Option<CqlType> {
        let ty = match c.as_str() {
            "k" | "c" => "int",
            "l" => "list<int>",
            "s" => "set<text>",
            "m" => "map<text, int>",
            "t" => "tuple<int, text>",
            "ts" => "timestamp",
            "n" => "counter",
            _ => return None,
        };
        CqlType::parse(ty).ok()
    }

    /// Each marker's (index, name, spec name, spec type).
    fn specs(text: &str) -> Vec<(usize, Option<String>, String, String)> {
        let statement = parse_statement(text).unwrap();
        statement
            .bind_markers()
            .iter()
            .map(|u| {
                let spec = u.receiver.spec(&column_type).unwrap();
                (
                    u.marker.index,
                    u.marker.name.as_ref().map(|n| n.as_str().to_string()),
                    spec.name,
                    spec.ty.to_string(),
                )
            })
            .collect()
    }

    fn names_and_types(text: &str) -> Vec<(String, String)> {
        specs(text).into_iter().map(|(_, _, n, t)| (n, t)).collect()
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn insert_markers_bind_columns_ttl_and_timestamp() {
        assert_eq!(
            specs(
                "INSERT INTO t (k, l, s) VALUES (?, :list, {?, ?}) USING TTL ? AND TIMESTAMP :ts"
            ),
            [
                (0, None, "k".into(), "int".into()),
                (1, Some("list".into()), "l".into(), "list<int>".into()),
                (2, None, "value(s)".into(), "text".into()),
                (3, None, "value(s)".into(), "text".into()),
                (4, None, "[ttl]".into(), "int".into()),
                (5, Some("ts".into()), "[timestamp]".into(), "bigint".into()),
            ]
        );
    }

    #[test]
    fn select_markers_of_every_relation() {
        assert_eq!(
            names_and_types(
                "SELECT * FROM t WHERE token(k) > ? AND token(k) <= token(?) AND k IN ? AND c IN (?, ?) \
                 AND l CONTAINS ? AND m CONTAINS KEY ? AND m[?] = ? AND (k, c) > (?, ?) AND (k, c) IN ? \
                 AND (k, c) < ? AND t = (?, ?) PER PARTITION LIMIT ? LIMIT ?"
            ),
            pairs(&[
                ("partition key token", "bigint"),
                ("arg0(system.token)", "int"),
                ("in(k)", "list<int>"),
                ("c", "int"),
                ("c", "int"),
                ("value(l)", "int"),
                ("key(m)", "text"),
                ("key(m)", "text"),
                ("value(m)", "int"),
                ("k", "int"),
                ("c", "int"),
                ("in((k,c))", "list<frozen<tuple<int, int>>>"),
                ("(k,c)", "frozen<tuple<int, int>>"),
                ("t[0]", "int"),
                ("t[1]", "text"),
                ("[per_partition_limit]", "int"),
                ("[limit]", "int"),
            ])
        );
    }

    #[test]
    fn update_delete_and_condition_markers() {
        assert_eq!(
            names_and_types(
                "UPDATE t USING TIMESTAMP ? SET l = l + ?, l = ? + l, l[?] = ?, m[?] = ?, m = m - ?, \
                 s = s - ?, n = n + ? WHERE k = ? IF c = ? AND m[?] > ? AND k IN ?"
            ),
            pairs(&[
                ("[timestamp]", "bigint"),
                ("l", "list<int>"),
                ("l", "list<int>"),
                ("idx(l)", "int"),
                ("value(l)", "int"),
                ("key(m)", "text"),
                ("value(m)", "int"),
                ("m", "set<text>"),
                ("s", "set<text>"),
                ("n", "counter"),
                ("k", "int"),
                ("c", "int"),
                ("key(m)", "text"),
                ("value(m)", "int"),
                ("in(k)", "list<int>"),
            ])
        );
        assert_eq!(
            names_and_types("DELETE l[?], m[?], s[?] FROM t USING TIMESTAMP ? WHERE k = ?"),
            pairs(&[
                ("idx(l)", "int"),
                ("key(m)", "text"),
                ("value(s)", "text"),
                ("[timestamp]", "bigint"),
                ("k", "int"),
            ])
        );
    }

    #[test]
    fn functions_casts_and_batches() {
        assert_eq!(
            names_and_types("INSERT INTO t (k, ts, c) VALUES ((int) ?, totimestamp(mintimeuuid(?)), blobasint(?))"),
            pairs(&[
                ("(int)?", "int"),
                ("arg0(system.mintimeuuid)", "timestamp"),
                ("arg0(system.blobasint)", "blob"),
            ])
        );
        let s = parse_statement("INSERT INTO t (k, ts) VALUES (0, totimestamp(?))").unwrap();
        let e = s.bind_markers()[0].receiver.spec(&column_type).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Ambiguous call to function system.totimestamp"),
            "{e}"
        );
        let s = parse_statement(
            "BEGIN BATCH USING TIMESTAMP ? INSERT INTO a.x (k) VALUES (?); UPDATE b.y SET c = ? WHERE k = ?; APPLY BATCH",
        )
        .unwrap();
        let uses = s.bind_markers();
        let tables: Vec<Option<String>> = uses
            .iter()
            .map(|u| u.table.map(|t| t.to_string()))
            .collect();
        assert_eq!(
            tables,
            [
                None,
                Some("a.x".into()),
                Some("b.y".into()),
                Some("b.y".into())
            ]
        );
        assert_eq!(uses[0].receiver, Receiver::Timestamp);
    }

    #[test]
    fn receivers_that_cannot_be_typed_say_why() {
        let err = |text: &str| {
            let s = parse_statement(text).unwrap();
            s.bind_markers()[0]
                .receiver
                .spec(&column_type)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("SELECT * FROM t WHERE nope = ?"),
            "Undefined column name nope"
        );
        assert_eq!(
            err("SELECT * FROM t WHERE \"K\" = ?"),
            "Undefined column name \"K\""
        );
        assert_eq!(
            err("INSERT INTO t (k) VALUES ([?])"),
            "Invalid list literal for k of type int"
        );
        assert_eq!(
            err("INSERT INTO t (s) VALUES ({?: 1})"),
            "Invalid map literal for s of type set<text>"
        );
        assert_eq!(
            err("SELECT * FROM t WHERE k CONTAINS KEY ?"),
            "Cannot use CONTAINS KEY on non-map column k"
        );
        assert_eq!(
            err("SELECT ? FROM t"),
            "Cannot infer type for term ? in selection clause (try using a cast to force a type)"
        );
        assert_eq!(
            err("INSERT INTO t (t) VALUES ((1, 'a', ?))"),
            "Invalid tuple literal for t: too many elements. Type frozen<tuple<int, text>> expects 2 but got 3"
        );
        assert!(parse_statement("CREATE TABLE t (k int PRIMARY KEY)")
            .unwrap()
            .bind_markers()
            .is_empty());
    }
}
