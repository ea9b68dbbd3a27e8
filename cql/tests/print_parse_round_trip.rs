//! Property test: every generated statement prints as CQL that parses back, and printing what
//! was parsed gives the same text again (so parse → print → parse is the identity on the tree,
//! bind marker numbering included). The generator covers every statement form and every term,
//! relation, assignment, option and type shape the AST has, with identifiers that need quoting.

use fastdata_cql::ast::*;
use fastdata_cql::parser::is_reserved;
use fastdata_cql::{parse_statement, CqlType};
use proptest::prelude::*;

/// Unreserved words that also introduce a clause or a form where a name can stand (`SELECT
/// distinct FROM t` is a column, `SELECT DISTINCT x` is not): the parser reads them as
/// Cassandra's does, so names equal to them are left to the unit tests.
fn usable(name: &Ident) -> bool {
    !matches!(
        name.as_str(),
        "distinct"
            | "json"
            | "as"
            | "cast"
            | "count"
            | "writetime"
            | "maxwritetime"
            | "ttl"
            | "clustering"
            | "compact"
            | "cluster"
            | "keyspaces"
            | "tables"
            | "columnfamilies"
            | "types"
            | "functions"
            | "aggregates"
            | "type"
            | "function"
            | "aggregate"
            | "only"
            | "group"
            | "per"
            | "masked"
    )
}

/// Bare and quoted identifiers, including unreserved keywords that are valid names and names
/// only quoting allows.
fn ident() -> impl Strategy<Value = Ident> {
    prop_oneof![
        4 => "c_[a-z0-9_]{0,6}".prop_map(Ident),
        1 => "[a-z][a-z0-9_]{0,6}"
            .prop_filter("reserved", |s| !is_reserved(s))
            .prop_map(Ident),
        1 => prop::sample::select(vec!["key", "values", "frozen", "static", "keys", "filtering", "options", "exists"])
            .prop_map(Ident::new),
        1 => "[A-Za-z \"'.;]{1,6}".prop_map(Ident),
        1 => prop::sample::select(vec!["select", "from", "token", "Key", "1a", "nan", "true"]).prop_map(Ident::new),
    ]
    .prop_filter("keyword forms", usable)
}

fn qualified() -> impl Strategy<Value = QualifiedName> {
    (prop::option::of(ident()), ident())
        .prop_map(|(keyspace, name)| QualifiedName { keyspace, name })
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any::<String>().prop_map(Literal::String),
        "-?[0-9]{1,20}".prop_map(Literal::Integer),
        prop_oneof![
            "-?[0-9]{1,5}\\.[0-9]{0,5}",
            "-?[0-9]{1,3}(\\.[0-9]{1,2})?[eE][-+]?[0-9]{1,3}",
            Just("NaN".to_string()),
            Just("Infinity".to_string()),
            Just("-Infinity".to_string()),
        ]
        .prop_map(Literal::Float),
        any::<bool>().prop_map(Literal::Boolean),
        any::<u128>().prop_map(|n| Literal::Uuid(uuid::Uuid::from_u128(n).to_string())),
        "0[xX][0-9a-fA-F]{0,9}".prop_map(Literal::Hex),
    ]
}

fn marker() -> impl Strategy<Value = BindMarker> {
    prop::option::of(ident()).prop_map(|name| BindMarker { index: 0, name })
}

fn function_name() -> impl Strategy<Value = QualifiedName> {
    prop_oneof![
        3 => qualified(),
        1 => prop::sample::select(vec!["now", "token", "totimestamp", "int", "uuid"])
            .prop_map(|n| QualifiedName { keyspace: None, name: Ident::new(n) }),
    ]
}

fn native_type() -> impl Strategy<Value = CqlType> {
    prop::sample::select(vec![
        CqlType::Ascii,
        CqlType::BigInt,
        CqlType::Blob,
        CqlType::Boolean,
        CqlType::Counter,
        CqlType::Date,
        CqlType::Decimal,
        CqlType::Double,
        CqlType::Float,
        CqlType::Inet,
        CqlType::Int,
        CqlType::SmallInt,
        CqlType::Text,
        CqlType::Time,
        CqlType::Timestamp,
        CqlType::TimeUuid,
        CqlType::TinyInt,
        CqlType::Uuid,
        CqlType::VarInt,
    ])
}

/// Types as the parser normalizes them: collections inside collections and tuples frozen.
fn frozen_inner_type() -> impl Strategy<Value = CqlType> {
    native_type().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            inner
                .clone()
                .prop_map(|e| CqlType::Frozen(Box::new(CqlType::List(Box::new(e))))),
            inner
                .clone()
                .prop_map(|e| CqlType::Frozen(Box::new(CqlType::Set(Box::new(e))))),
            (inner.clone(), inner.clone()).prop_map(|(k, v)| CqlType::Frozen(Box::new(
                CqlType::Map(Box::new(k), Box::new(v))
            ))),
            prop::collection::vec(inner, 1..4).prop_map(CqlType::Tuple),
        ]
    })
}

fn column_type() -> impl Strategy<Value = CqlType> {
    let e = frozen_inner_type;
    prop_oneof![
        3 => native_type(),
        1 => e().prop_map(|t| CqlType::List(Box::new(t))),
        1 => e().prop_map(|t| CqlType::Set(Box::new(t))),
        1 => (e(), e()).prop_map(|(k, v)| CqlType::Map(Box::new(k), Box::new(v))),
        1 => e(),
    ]
}

fn term() -> impl Strategy<Value = Term> {
    let leaf = prop_oneof![
        4 => literal().prop_map(Term::Literal),
        1 => Just(Term::Null),
        2 => marker().prop_map(Term::Bind),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Term::List),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Term::Set),
            prop::collection::vec((inner.clone(), inner.clone()), 1..3).prop_map(Term::Map),
            prop::collection::vec(inner.clone(), 1..4).prop_map(Term::Tuple),
            (function_name(), prop::collection::vec(inner.clone(), 0..3))
                .prop_map(|(name, args)| Term::Function { name, args }),
            (column_type(), inner.clone())
                .prop_filter("a cast applies to a simple term", |(_, t)| !matches!(
                    t,
                    Term::Negate(_)
                ))
                .prop_map(|(ty, t)| Term::Cast {
                    ty,
                    term: Box::new(t)
                }),
            inner
                .prop_filter("no double negation", |t| !matches!(t, Term::Negate(_)))
                .prop_map(|t| Term::Negate(Box::new(t))),
        ]
    })
}

fn int_value() -> impl Strategy<Value = Term> {
    prop_oneof![
        "-?[0-9]{1,9}".prop_map(|s| Term::Literal(Literal::Integer(s))),
        marker().prop_map(Term::Bind),
    ]
}

fn operator() -> impl Strategy<Value = Operator> {
    prop::sample::select(vec![
        Operator::Eq,
        Operator::Lt,
        Operator::Lte,
        Operator::Gt,
        Operator::Gte,
        Operator::Neq,
    ])
}

fn in_values() -> impl Strategy<Value = InValues> {
    prop_oneof![
        prop::collection::vec(term(), 0..4).prop_map(InValues::Terms),
        marker().prop_map(InValues::Marker),
    ]
}

fn predicate(contains: bool) -> BoxedStrategy<Predicate> {
    let base = prop_oneof![
        (operator(), term()).prop_map(|(op, t)| Predicate::Compare(op, t)),
        in_values().prop_map(Predicate::In),
    ];
    if contains {
        prop_oneof![
            3 => base,
            1 => term().prop_map(Predicate::Contains),
            1 => term().prop_map(Predicate::ContainsKey),
        ]
        .boxed()
    } else {
        base.boxed()
    }
}

fn multi_value() -> impl Strategy<Value = Term> {
    prop_oneof![
        prop::collection::vec(term(), 1..4).prop_map(Term::Tuple),
        marker().prop_map(Term::Bind),
    ]
}

fn relation() -> impl Strategy<Value = Relation> {
    let columns = || prop::collection::vec(ident(), 1..4);
    prop_oneof![
        4 => (ident(), predicate(true)).prop_map(|(column, predicate)| Relation::Column { column, predicate }),
        1 => (ident(), term(), operator(), term())
            .prop_map(|(column, key, operator, value)| Relation::Element { column, key, operator, value }),
        1 => (columns(), operator(), prop_oneof![
                term(),
                prop::collection::vec(term(), 1..3).prop_map(|args| Term::Function {
                    name: QualifiedName { keyspace: None, name: Ident::new("token") },
                    args,
                }),
            ])
            .prop_map(|(columns, operator, value)| Relation::Token { columns, operator, value }),
        1 => (columns(), prop_oneof![
                (operator(), multi_value()).prop_map(|(op, v)| Predicate::Compare(op, v)),
                prop::collection::vec(multi_value(), 0..3).prop_map(|t| Predicate::In(InValues::Terms(t))),
                marker().prop_map(|m| Predicate::In(InValues::Marker(m))),
            ])
            .prop_map(|(columns, predicate)| Relation::Tuple { columns, predicate }),
    ]
}

fn where_clause(min: usize) -> impl Strategy<Value = Vec<Relation>> {
    prop::collection::vec(relation(), min..4)
}

fn using() -> impl Strategy<Value = Vec<UsingParameter>> {
    prop::collection::vec(
        prop_oneof![
            int_value().prop_map(UsingParameter::Ttl),
            int_value().prop_map(UsingParameter::Timestamp),
        ],
        0..3,
    )
}

fn condition() -> impl Strategy<Value = Option<UpdateCondition>> {
    let one = (ident(), prop::option::of(term())).prop_flat_map(|(column, element)| {
        let contains = element.is_none();
        predicate(contains).prop_map(move |predicate| Condition {
            column: column.clone(),
            element: element.clone(),
            predicate,
        })
    });
    prop::option::of(prop_oneof![
        Just(UpdateCondition::Exists),
        prop::collection::vec(one, 1..3).prop_map(UpdateCondition::Columns),
    ])
}

fn insert() -> impl Strategy<Value = Insert> {
    (
        qualified(),
        prop::collection::vec((ident(), term()), 1..4),
        any::<bool>(),
        using(),
    )
        .prop_map(|(table, pairs, if_not_exists, using)| {
            let (columns, values) = pairs.into_iter().unzip();
            Insert {
                table,
                columns,
                values,
                if_not_exists,
                using,
            }
        })
}

fn assignment() -> impl Strategy<Value = Assignment> {
    prop_oneof![
        (ident(), term()).prop_map(|(column, value)| Assignment::Set { column, value }),
        (ident(), term()).prop_map(|(column, value)| Assignment::Add { column, value }),
        (ident(), term()).prop_map(|(column, value)| Assignment::Subtract { column, value }),
        (ident(), term()).prop_map(|(column, value)| Assignment::Prepend { column, value }),
        (ident(), term(), term()).prop_map(|(column, key, value)| Assignment::SetElement {
            column,
            key,
            value
        }),
    ]
}

fn update() -> impl Strategy<Value = Update> {
    (
        qualified(),
        using(),
        prop::collection::vec(assignment(), 1..4),
        where_clause(1),
        condition(),
    )
        .prop_map(
            |(table, using, assignments, where_clause, condition)| Update {
                table,
                using,
                assignments,
                where_clause,
                condition,
            },
        )
}

fn delete() -> impl Strategy<Value = Delete> {
    (
        prop::collection::vec(
            (ident(), prop::option::of(term()))
                .prop_map(|(column, element)| DeleteSelection { column, element }),
            0..3,
        ),
        qualified(),
        prop::option::of(int_value()),
        where_clause(1),
        condition(),
    )
        .prop_map(
            |(columns, table, timestamp, where_clause, condition)| Delete {
                columns,
                table,
                timestamp,
                where_clause,
                condition,
            },
        )
}

fn selector_expr() -> impl Strategy<Value = SelectorExpr> {
    let leaf = prop_oneof![
        4 => ident().prop_map(SelectorExpr::Column),
        1 => Just(SelectorExpr::CountRows),
        1 => ident().prop_map(SelectorExpr::WriteTime),
        1 => ident().prop_map(SelectorExpr::MaxWriteTime),
        1 => ident().prop_map(SelectorExpr::Ttl),
        1 => prop_oneof![
            literal().prop_map(Term::Literal),
            Just(Term::Null),
            marker().prop_map(Term::Bind),
        ]
        .prop_map(SelectorExpr::Term),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (function_name(), prop::collection::vec(inner.clone(), 0..3))
                .prop_map(|(name, args)| SelectorExpr::Function { name, args }),
            (inner, native_type()).prop_map(|(e, ty)| SelectorExpr::Cast {
                expr: Box::new(e),
                ty
            }),
        ]
    })
}

fn select() -> impl Strategy<Value = Select> {
    (
        any::<bool>(),
        prop::collection::vec(
            (selector_expr(), prop::option::of(ident()))
                .prop_map(|(expr, alias)| Selector { expr, alias }),
            0..4,
        ),
        qualified(),
        where_clause(0),
        prop::collection::vec((ident(), any::<bool>()), 0..3),
        prop::option::of(int_value()),
        prop::option::of(int_value()),
        any::<bool>(),
    )
        .prop_map(
            |(
                distinct,
                selectors,
                table,
                where_clause,
                order_by,
                per_partition_limit,
                limit,
                allow_filtering,
            )| {
                Select {
                    distinct,
                    selectors,
                    table,
                    where_clause,
                    order_by,
                    per_partition_limit,
                    limit,
                    allow_filtering,
                }
            },
        )
}

fn option_value() -> impl Strategy<Value = OptionValue> {
    prop_oneof![
        literal().prop_map(OptionValue::Literal),
        prop::collection::vec((literal(), literal()), 0..4).prop_map(|entries| {
            let mut seen = std::collections::HashSet::new();
            OptionValue::Map(
                entries
                    .into_iter()
                    .filter(|(k, _)| seen.insert(k.raw_text().to_string()))
                    .collect(),
            )
        }),
        "c_[a-z]{1,5}".prop_map(|w| OptionValue::Word(Ident(w))),
    ]
}

fn options(min: usize) -> impl Strategy<Value = Vec<TableOption>> {
    prop::collection::btree_map("o_[a-z_]{1,8}", option_value(), min..5).prop_map(|m| {
        m.into_iter()
            .map(|(name, value)| TableOption {
                name: Ident(name),
                value,
            })
            .collect()
    })
}

fn column_definition() -> impl Strategy<Value = ColumnDefinition> {
    (ident(), column_type(), any::<bool>()).prop_map(|(name, ty, is_static)| ColumnDefinition {
        name,
        ty,
        is_static,
    })
}

fn create_table() -> impl Strategy<Value = CreateTable> {
    (
        any::<bool>(),
        qualified(),
        prop::collection::btree_map(ident(), (column_type(), any::<bool>()), 1..6),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        prop::collection::vec((ident(), any::<bool>()), 0..3),
        options(0),
    )
        .prop_map(
            |(if_not_exists, name, columns, pk_len, ck_len, clustering_order, options)| {
                let columns: Vec<ColumnDefinition> = columns
                    .into_iter()
                    .map(|(name, (ty, is_static))| ColumnDefinition {
                        name,
                        ty,
                        is_static,
                    })
                    .collect();
                let names: Vec<Ident> = columns.iter().map(|c| c.name.clone()).collect();
                let pk = 1 + pk_len.index(names.len());
                let ck = ck_len.index(names.len() - pk + 1);
                CreateTable {
                    if_not_exists,
                    name,
                    columns,
                    primary_key: PrimaryKey {
                        partition_key: names[..pk].to_vec(),
                        clustering: names[pk..pk + ck].to_vec(),
                    },
                    clustering_order,
                    options,
                }
            },
        )
}

fn alter_table() -> impl Strategy<Value = AlterTable> {
    let action = prop_oneof![
        (
            any::<bool>(),
            prop::collection::vec(column_definition(), 1..3)
        )
            .prop_map(|(if_not_exists, columns)| AlterTableAction::Add {
                if_not_exists,
                columns
            }),
        (
            any::<bool>(),
            prop::collection::vec(ident(), 1..3),
            prop::option::of(any::<i64>())
        )
            .prop_map(|(if_exists, columns, timestamp)| AlterTableAction::Drop {
                if_exists,
                columns,
                timestamp
            }),
        (
            any::<bool>(),
            prop::collection::vec((ident(), ident()), 1..3)
        )
            .prop_map(|(if_exists, renames)| AlterTableAction::Rename { if_exists, renames }),
        options(1).prop_map(AlterTableAction::With),
    ];
    (any::<bool>(), qualified(), action).prop_map(|(if_exists, name, action)| AlterTable {
        if_exists,
        name,
        action,
    })
}

fn describe() -> impl Strategy<Value = Describe> {
    use DescribeTarget::*;
    let target = prop_oneof![
        Just(Cluster),
        any::<bool>().prop_map(|full| Schema { full }),
        Just(Keyspaces),
        (prop::option::of(ident()), any::<bool>()).prop_map(|(name, only)| Keyspace { name, only }),
        Just(Tables),
        qualified().prop_map(Table),
        qualified().prop_map(Index),
        qualified().prop_map(MaterializedView),
        Just(Types),
        qualified().prop_map(Type),
        Just(Functions),
        qualified().prop_map(Function),
        Just(Aggregates),
        qualified().prop_map(Aggregate),
        qualified().prop_map(Name),
    ];
    (target, any::<bool>()).prop_map(|(target, with_internals)| Describe {
        target,
        with_internals,
    })
}

fn statement() -> impl Strategy<Value = Statement> {
    prop_oneof![
        1 => (any::<bool>(), ident(), options(1))
            .prop_map(|(if_not_exists, name, options)| Statement::CreateKeyspace(CreateKeyspace {
                if_not_exists,
                name,
                options
            })),
        1 => (any::<bool>(), ident(), options(1))
            .prop_map(|(if_exists, name, options)| Statement::AlterKeyspace(AlterKeyspace { if_exists, name, options })),
        1 => (any::<bool>(), ident()).prop_map(|(if_exists, name)| Statement::DropKeyspace(DropKeyspace { if_exists, name })),
        1 => ident().prop_map(Statement::Use),
        1 => create_table().prop_map(Statement::CreateTable),
        1 => alter_table().prop_map(Statement::AlterTable),
        1 => (any::<bool>(), qualified()).prop_map(|(if_exists, name)| Statement::DropTable(DropTable { if_exists, name })),
        1 => qualified().prop_map(Statement::Truncate),
        3 => insert().prop_map(Statement::Insert),
        3 => update().prop_map(Statement::Update),
        3 => delete().prop_map(Statement::Delete),
        1 => (
            prop::sample::select(vec![BatchKind::Logged, BatchKind::Unlogged, BatchKind::Counter]),
            using(),
            prop::collection::vec(
                prop_oneof![
                    insert().prop_map(BatchStatement::Insert),
                    update().prop_map(BatchStatement::Update),
                    delete().prop_map(BatchStatement::Delete),
                ],
                0..3
            )
        )
            .prop_map(|(kind, using, statements)| Statement::Batch(Batch { kind, using, statements })),
        4 => select().prop_map(Statement::Select),
        1 => describe().prop_map(Statement::Describe),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn printed_statements_parse_back_to_the_same_tree(s in statement()) {
        let printed = s.to_string();
        let parsed = parse_statement(&printed)
            .map_err(|e| TestCaseError::fail(format!("{printed}\n{e}")))?;
        let again = parsed.to_string();
        prop_assert_eq!(&again, &printed);
        prop_assert_eq!(parse_statement(&again).ok(), Some(parsed.clone()));
        // The tree is the generated one, up to the numbering of its bind markers.
        prop_assert_eq!(parsed.bind_markers().len(), s.bind_markers().len());
    }
}
