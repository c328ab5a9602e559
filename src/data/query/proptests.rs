//! Property tests for the filter language: every generated filter compiles
//! with all of its values bound, text round-trips through `Display`, and
//! the parser survives arbitrary input. Test-only.

// Tests fail by panicking; `unwrap` is the plain way to say "this must work".
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::strategy::Union;

use super::*;
use crate::data::sql::{Dialect, SqlBuilder};
use crate::data::types::{Column, ColumnType, Value};

fn columns() -> Vec<Column> {
    [
        ("year", ColumnType::Integer),
        ("air_time", ColumnType::Real),
        ("carrier", ColumnType::Text),
        ("dest name", ColumnType::Text),
        ("région", ColumnType::Text),
        (r#"say "hi""#, ColumnType::Text),
        ("cancelled", ColumnType::Boolean),
        ("day", ColumnType::Date),
        ("time_hour", ColumnType::Timestamp),
    ]
    .into_iter()
    .map(|(name, ty)| Column {
        name: name.to_owned(),
        ty,
    })
    .collect()
}

/// Text that would be dangerous if spliced: every value carries a quote,
/// a semicolon or `--`, none of which the generated SQL skeleton contains,
/// so finding one verbatim in the SQL would mean it was spliced.
fn hostile_text() -> impl Strategy<Value = String> {
    let markers = prop::sample::select(vec![
        "'",
        "';",
        "'; DROP TABLE x; --",
        "O'Brien",
        "--",
        ";",
        "é'",
        "中文;",
        "\\'",
        "%'_",
    ]);
    (markers, "[\\PC'\";%_\\-]{0,8}", any::<bool>()).prop_map(|(m, tail, before)| {
        if before {
            format!("{tail}{m}")
        } else {
            format!("{m}{tail}")
        }
    })
}

fn finite_f64() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite", |r| r.is_finite())
}

fn date() -> impl Strategy<Value = String> {
    (1900..2100i32, 1..=12u32, 1..=28u32).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
}

fn timestamp() -> impl Strategy<Value = String> {
    let offset = prop::sample::select(vec!["Z", "+02:00", "-05:30", ""]);
    (date(), 0..24u32, 0..60u32, 0..60u32, offset)
        .prop_map(|(d, h, mi, s, o)| format!("{d}T{h:02}:{mi:02}:{s:02}{o}"))
}

/// A literal that `write_filter` accepts for a column of type `ty`.
fn literal_for(ty: ColumnType) -> BoxedStrategy<Literal> {
    match ty {
        ColumnType::Integer | ColumnType::Real => prop_oneof![
            any::<i64>().prop_map(Literal::Int),
            finite_f64().prop_map(Literal::Real),
        ]
        .boxed(),
        ColumnType::Boolean => any::<bool>().prop_map(Literal::Bool).boxed(),
        ColumnType::Date => date().prop_map(Literal::Text).boxed(),
        ColumnType::Timestamp => prop_oneof![date(), timestamp()]
            .prop_map(Literal::Text)
            .boxed(),
        ColumnType::Text => hostile_text().prop_map(Literal::Text).boxed(),
    }
}

fn comparison(op: u8, column: String, value: Literal) -> Expr {
    match op {
        0 => Expr::Eq { column, value },
        1 => Expr::Ne { column, value },
        2 => Expr::Lt { column, value },
        3 => Expr::Le { column, value },
        4 => Expr::Gt { column, value },
        _ => Expr::Ge { column, value },
    }
}

/// A predicate over `column` comparing with `value`s; `like` only when a
/// `pattern` strategy is given (the compiler refuses it off text columns).
fn predicate(
    column: String,
    value: BoxedStrategy<Literal>,
    pattern: Option<BoxedStrategy<String>>,
) -> BoxedStrategy<Expr> {
    let (c1, c2, c3, c4, c5) = (
        column.clone(),
        column.clone(),
        column.clone(),
        column.clone(),
        column,
    );
    let mut options = vec![
        (0..6u8, value.clone())
            .prop_map(move |(op, v)| comparison(op, c1.clone(), v))
            .boxed(),
        prop::collection::vec(value, 1..5)
            .prop_map(move |values| Expr::In {
                column: c2.clone(),
                values,
            })
            .boxed(),
        Just(Expr::IsNull { column: c3 }).boxed(),
        Just(Expr::IsNotNull { column: c4 }).boxed(),
    ];
    if let Some(pattern) = pattern {
        options.push(
            pattern
                .prop_map(move |pattern| Expr::Like {
                    column: c5.clone(),
                    pattern,
                })
                .boxed(),
        );
    }
    Union::new(options).boxed()
}

fn tree(leaf: BoxedStrategy<Expr>, min_args: usize) -> impl Strategy<Value = Expr> {
    leaf.prop_recursive(4, 32, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), min_args..4).prop_map(|args| Expr::And { args }),
            prop::collection::vec(inner.clone(), min_args..4).prop_map(|args| Expr::Or { args }),
            inner.prop_map(|e| Expr::Not { arg: Box::new(e) }),
        ]
    })
}

/// Well-typed filters over `columns()`.
fn typed_expr() -> impl Strategy<Value = Expr> {
    let leaves = columns()
        .into_iter()
        .map(|c| {
            let pattern = (c.ty == ColumnType::Text).then(|| hostile_text().boxed());
            predicate(c.name, literal_for(c.ty), pattern)
        })
        .collect::<Vec<_>>();
    tree(Union::new(leaves).boxed(), 1)
}

/// Any column name the text syntax can spell (non-empty), keywords and
/// odd characters included, and any finite literal: the canonical shapes
/// that must survive printing and parsing.
fn printable_expr() -> impl Strategy<Value = Expr> {
    let name = prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_]{0,6}",
        prop::sample::select(vec!["and", "OR", "Not", "null", "True", "in", "like", "is"])
            .prop_map(str::to_owned),
        "[0-9 \"'é中;()=-]{1,6}",
        any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
    ];
    let value = prop_oneof![
        any::<bool>().prop_map(Literal::Bool),
        any::<i64>().prop_map(Literal::Int),
        finite_f64().prop_map(Literal::Real),
        any::<String>().prop_map(Literal::Text),
    ]
    .boxed();
    let leaf = name
        .prop_flat_map(move |n| predicate(n, value.clone(), Some(any::<String>().boxed())))
        .boxed();
    tree(leaf, 2)
}

fn count_literals(e: &Expr) -> usize {
    match e {
        Expr::And { args } | Expr::Or { args } => args.iter().map(count_literals).sum(),
        Expr::Not { arg } => count_literals(arg),
        Expr::In { values, .. } => values.len(),
        Expr::IsNull { .. } | Expr::IsNotNull { .. } => 0,
        _ => 1,
    }
}

fn text_literals(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::And { args } | Expr::Or { args } => args.iter().for_each(|a| text_literals(a, out)),
        Expr::Not { arg } => text_literals(arg, out),
        Expr::Eq { value, .. }
        | Expr::Ne { value, .. }
        | Expr::Lt { value, .. }
        | Expr::Le { value, .. }
        | Expr::Gt { value, .. }
        | Expr::Ge { value, .. } => {
            if let Literal::Text(s) = value {
                out.push(s.clone());
            }
        }
        Expr::In { values, .. } => out.extend(values.iter().filter_map(|v| match v {
            Literal::Text(s) => Some(s.clone()),
            _ => None,
        })),
        Expr::Like { pattern, .. } => out.push(pattern.clone()),
        Expr::IsNull { .. } | Expr::IsNotNull { .. } => {}
    }
}

/// The numbers of the `$n` placeholders in `sql`, in order of appearance.
fn dollar_numbers(sql: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut rest = sql;
    while let Some(i) = rest.find('$') {
        rest = &rest[i + 1..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        out.push(digits.parse().unwrap());
    }
    out
}

fn compile(e: &Expr, dialect: Dialect) -> (String, Vec<Value>) {
    let mut b = SqlBuilder::new(dialect);
    if let Err(err) = write_filter(e, &columns(), &mut b) {
        panic!("{e} did not compile: {err}");
    }
    b.into_parts()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_value_is_bound_never_spliced(e in typed_expr()) {
        let (sql, binds) = compile(&e, Dialect::Sqlite);
        prop_assert_eq!(binds.len(), count_literals(&e));
        prop_assert_eq!(sql.matches('?').count(), binds.len());
        prop_assert!(!sql.contains('$'));
        let mut texts = Vec::new();
        text_literals(&e, &mut texts);
        for t in &texts {
            prop_assert!(!sql.contains(t.as_str()), "{:?} spliced into {}", t, sql);
            // Dates and timestamps are bound in canonical form, so only
            // the free text is looked for as is.
            let free_text = t.contains('\'') || t.contains(';') || t.contains("--");
            prop_assert!(!free_text || binds.contains(&Value::Text(t.clone())));
        }

        let (pg, pg_binds) = compile(&e, Dialect::Postgres);
        prop_assert_eq!(pg_binds, binds);
        prop_assert!(!pg.contains('?'));
        let expected: Vec<usize> = (1..=count_literals(&e)).collect();
        prop_assert_eq!(dollar_numbers(&pg), expected);
    }

    #[test]
    fn display_parses_back_to_the_same_tree(e in printable_expr()) {
        let text = e.to_string();
        prop_assert_eq!(parse_filter(&text), Ok(e), "text: {}", text);
    }

    #[test]
    fn parser_never_panics_on_arbitrary_text(s in any::<String>()) {
        let _ = parse_filter(&s);
    }

    #[test]
    fn parser_never_panics_on_token_soup(
        words in prop::collection::vec(prop::sample::select(vec![
            "year", "carrier", "\"dest name\"", "'UA'", "'it''s'", "1", "-2.5", "1e3", "and",
            "or", "not", "in", "like", "is", "null", "true", "(", ")", ",", "=", "<>", ">=",
            "'", "\"", ";", "--", "é", "99999999999999999999",
        ]), 0..24)
    ) {
        let s = words.join(" ");
        if let Ok(e) = parse_filter(&s) {
            // Whatever parses is canonical, so it prints and parses back.
            prop_assert_eq!(parse_filter(&e.to_string()), Ok(e.clone()));
            let mut b = SqlBuilder::new(Dialect::Sqlite);
            if write_filter(&e, &columns(), &mut b).is_ok() {
                prop_assert_eq!(b.sql().matches('?').count(), b.binds().len());
            }
        }
    }
}
