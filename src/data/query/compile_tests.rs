//! Unit tests for `write_filter` and `columns_used`: SQL shape, binding,
//! type coercion and error messages. Test-only.

// Tests fail by panicking; `unwrap` is the plain way to say "this must work".
#![allow(clippy::unwrap_used)]

use super::*;
use crate::data::query::parse_filter;

pub(super) fn flights() -> Vec<Column> {
    [
        ("year", ColumnType::Integer),
        ("dep_delay", ColumnType::Integer),
        ("air_time", ColumnType::Real),
        ("carrier", ColumnType::Text),
        ("code", ColumnType::Text),
        ("dest name", ColumnType::Text),
        ("région", ColumnType::Text),
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

fn compile(dialect: Dialect, filter: &str) -> Result<(String, Vec<Value>), FilterError> {
    let expr = parse_filter(filter).unwrap();
    let mut b = SqlBuilder::new(dialect);
    write_filter(&expr, &flights(), &mut b)?;
    Ok(b.into_parts())
}

fn sqlite(filter: &str) -> (String, Vec<Value>) {
    compile(Dialect::Sqlite, filter).unwrap()
}

fn fail(filter: &str) -> String {
    compile(Dialect::Sqlite, filter).unwrap_err().to_string()
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

#[test]
fn every_operator_becomes_bound_sql() {
    let cases = [
        ("year = 2013", r#"("year" = ?)"#, Value::Int(2013)),
        ("year != 2013", r#"("year" <> ?)"#, Value::Int(2013)),
        ("year < 2013", r#"("year" < ?)"#, Value::Int(2013)),
        ("year <= 2013", r#"("year" <= ?)"#, Value::Int(2013)),
        ("year > 2013", r#"("year" > ?)"#, Value::Int(2013)),
        ("year >= 2013", r#"("year" >= ?)"#, Value::Int(2013)),
        ("carrier like 'U%'", r#"("carrier" LIKE ?)"#, text("U%")),
    ];
    for (filter, sql, v) in cases {
        assert_eq!(sqlite(filter), (sql.to_owned(), vec![v]), "{filter}");
    }
    assert_eq!(
        sqlite("carrier in ('UA', 'AA')"),
        (
            r#"("carrier" IN (?, ?))"#.to_owned(),
            vec![text("UA"), text("AA")]
        )
    );
    assert_eq!(sqlite("carrier is null").0, r#"("carrier" IS NULL)"#);
    assert_eq!(
        sqlite("carrier is not null").0,
        r#"("carrier" IS NOT NULL)"#
    );
}

#[test]
fn groups_and_not_are_parenthesised() {
    let (sql, binds) = sqlite("not (carrier = 'UA' or year = 1) and \"dest name\" not like 'S%'");
    assert_eq!(
        sql,
        r#"((NOT (("carrier" = ?) OR ("year" = ?))) AND (NOT ("dest name" LIKE ?)))"#
    );
    assert_eq!(binds, vec![text("UA"), Value::Int(1), text("S%")]);
}

#[test]
fn postgres_numbers_placeholders_and_uses_ilike() {
    let (sql, binds) = compile(
        Dialect::Postgres,
        "year in (1, 2) and carrier like 'u%' and \"région\" = 'Île'",
    )
    .unwrap();
    assert_eq!(
        sql,
        r#"(("year" IN ($1::bigint, $2::bigint)) AND ("carrier" ILIKE $3) AND ("région" = $4::text))"#
    );
    assert_eq!(binds.len(), 4);
}

#[test]
fn literals_are_coerced_to_the_column_type() {
    assert_eq!(sqlite("air_time > 60").1, vec![Value::Real(60.0)]);
    assert_eq!(sqlite("dep_delay > 2.5").1, vec![Value::Real(2.5)]);
    assert_eq!(sqlite("cancelled = true").1, vec![Value::Bool(true)]);
    assert_eq!(sqlite("day = '2013-06-01'").1, vec![text("2013-06-01")]);
    assert_eq!(
        sqlite("time_hour >= '2013-06-01T02:00:00+02:00'").1,
        vec![text("2013-06-01T00:00:00Z")]
    );
    assert_eq!(
        sqlite("time_hour < '2013-06-02'").1,
        vec![text("2013-06-02T00:00:00Z")]
    );
}

#[test]
fn hostile_text_only_ever_travels_as_a_bound_value() {
    let (sql, binds) = sqlite("carrier = '''; DROP TABLE x; --'");
    assert_eq!(sql, r#"("carrier" = ?)"#);
    assert_eq!(binds, vec![text("'; DROP TABLE x; --")]);
}

#[test]
fn type_mismatches_say_what_to_write() {
    assert_eq!(
        fail("code = 1001"),
        "column 'code' is text: quote the value, e.g. code = '1001'"
    );
    assert_eq!(
        fail("dep_delay = 'abc'"),
        "column 'dep_delay' is integer: compare it with a whole number, not 'abc'"
    );
    assert!(fail("dep_delay = true").contains("whole number, not true"));
    assert!(fail("air_time = 'x'").contains("is real: compare it with a number"));
    assert!(fail("cancelled = 1").contains("true or false, not 1"));
    assert!(fail("day = '2013-02-30'").contains("'YYYY-MM-DD'"));
    assert!(fail("day = 20130601").contains("not 20130601"));
    assert!(fail("time_hour = '2013-06-01T00:00:00.5Z'").contains("whole seconds"));
    assert!(fail("\"dest name\" in ('a', 2)").contains("e.g. \"dest name\" = '2'"));
}

#[test]
fn unknown_columns_list_the_real_ones() {
    assert_eq!(
        fail("delay > 1"),
        "unknown column 'delay'; columns are: year, dep_delay, air_time, carrier, code, \
         dest name, région, cancelled, day, time_hour"
    );
    assert!(fail("Carrier = 'UA'").contains("did you mean 'carrier'?"));
    assert!(fail("\"carrier \" is null").contains("unknown column 'carrier '"));
}

#[test]
fn like_needs_a_text_column() {
    assert_eq!(
        fail("year like '20%'"),
        "'like' works only on text columns, and column 'year' is integer: \
         use =, <, >, or 'in' instead"
    );
}

#[test]
fn json_only_shapes_are_refused() {
    let cols = flights();
    let mut b = SqlBuilder::new(Dialect::Sqlite);
    let empty_and: Expr = serde_json::from_str(r#"{"op":"and","args":[]}"#).unwrap();
    assert_eq!(
        write_filter(&empty_and, &cols, &mut b),
        Err(FilterError::EmptyGroup { op: "and" })
    );
    let empty_in: Expr =
        serde_json::from_str(r#"{"op":"in","column":"year","values":[]}"#).unwrap();
    assert!(matches!(
        write_filter(&empty_in, &cols, &mut b),
        Err(FilterError::EmptyInList { .. })
    ));
    let big_in = Expr::In {
        column: "year".into(),
        values: vec![Literal::Int(1); MAX_IN_VALUES + 1],
    };
    assert!(matches!(
        write_filter(&big_in, &cols, &mut b),
        Err(FilterError::TooManyValues { count: 1001, .. })
    ));
    let nan = Expr::Eq {
        column: "air_time".into(),
        value: Literal::Real(f64::NAN),
    };
    assert!(matches!(
        write_filter(&nan, &cols, &mut b),
        Err(FilterError::TypeMismatch { .. })
    ));
}

fn nested_nots(n: usize) -> Expr {
    let mut e = Expr::IsNull {
        column: "year".into(),
    };
    for _ in 0..n {
        e = Expr::Not { arg: Box::new(e) };
    }
    e
}

#[test]
fn depth_limit_matches_the_parser() {
    let cols = flights();
    let mut b = SqlBuilder::new(Dialect::Sqlite);
    assert!(write_filter(&nested_nots(MAX_DEPTH), &cols, &mut b).is_ok());
    let mut b = SqlBuilder::new(Dialect::Sqlite);
    assert_eq!(
        write_filter(&nested_nots(MAX_DEPTH + 1), &cols, &mut b),
        Err(FilterError::TooDeep)
    );
    // Deep JSON arrives without the parser; the compiler stops it early.
    let mut b = SqlBuilder::new(Dialect::Sqlite);
    assert!(write_filter(&nested_nots(5000), &cols, &mut b).is_err());
    assert!(FilterError::TooDeep.to_string().contains("32 levels"));
}

#[test]
fn columns_used_lists_each_column_once_in_order() {
    let e = parse_filter("b = 1 and (a = 2 or not b is null) and c in (1) and \"d e\" like 'x'")
        .unwrap();
    assert_eq!(columns_used(&e), vec!["b", "a", "c", "d e"]);
    assert_eq!(columns_used(&nested_nots(5000)), vec!["year"]);
}
