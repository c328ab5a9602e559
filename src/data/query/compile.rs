//! Checks a filter tree against a dataset's columns and writes it as a
//! parenthesised SQL boolean expression. Column names go out only through
//! `push_ident` after an exact match against the catalogue's columns, and
//! every literal only through `push_bind`: this file must never format a
//! client value into SQL text.

use std::fmt;

use super::MAX_DEPTH;
use super::MAX_IN_VALUES;
use super::ast::{Expr, Literal};
use crate::data::sql::{Dialect, SqlBuilder};
use crate::data::types::{Column, ColumnType, Value, canonical_date, canonical_timestamp};

/// Why a filter does not fit a dataset. Each message says what to change.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterError {
    /// No column has this exact (case-sensitive) name.
    UnknownColumn { name: String, valid: Vec<String> },
    /// The literal cannot be compared with a column of this type.
    TypeMismatch {
        column: String,
        ty: ColumnType,
        found: Literal,
    },
    /// `like` on a column that is not text.
    LikeNeedsText { column: String, ty: ColumnType },
    /// An `and` / `or` with no conditions (only the JSON form can say this).
    EmptyGroup { op: &'static str },
    /// An `in` with no values (only the JSON form can say this).
    EmptyInList { column: String },
    /// An `in` list longer than `MAX_IN_VALUES`.
    TooManyValues { column: String, count: usize },
    /// More than `MAX_DEPTH` levels of and/or/not.
    TooDeep,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::UnknownColumn { name, valid } => {
                write!(f, "unknown column '{name}'")?;
                // Names are case-sensitive; the likeliest slip is the case.
                if let Some(near) = valid
                    .iter()
                    .find(|v| v.to_lowercase() == name.to_lowercase())
                {
                    write!(f, "; did you mean '{near}'? (names are case-sensitive)")?;
                }
                write!(f, "; columns are: {}", valid.join(", "))
            }
            FilterError::TypeMismatch { column, ty, found } => {
                write!(f, "column '{column}' is {ty}: ")?;
                match ty {
                    ColumnType::Integer => write!(f, "compare it with a whole number, not {found}"),
                    ColumnType::Real => write!(f, "compare it with a number, not {found}"),
                    ColumnType::Boolean => write!(f, "compare it with true or false, not {found}"),
                    ColumnType::Date => write!(
                        f,
                        "compare it with a date written 'YYYY-MM-DD', e.g. '2013-06-01', \
                         not {found}"
                    ),
                    ColumnType::Timestamp => write!(
                        f,
                        "compare it with a UTC time written 'YYYY-MM-DDTHH:MM:SSZ' in whole \
                         seconds, e.g. '2013-06-01T08:00:00Z', or a date 'YYYY-MM-DD', \
                         not {found}"
                    ),
                    ColumnType::Text => {
                        let quoted = match found {
                            Literal::Text(s) => Literal::Text(s.clone()),
                            Literal::Int(i) => Literal::Text(i.to_string()),
                            Literal::Real(r) => Literal::Text(r.to_string()),
                            Literal::Bool(b) => Literal::Text(b.to_string()),
                        };
                        let example = Expr::Eq {
                            column: column.clone(),
                            value: quoted,
                        };
                        write!(f, "quote the value, e.g. {example}")
                    }
                }
            }
            FilterError::LikeNeedsText { column, ty } => write!(
                f,
                "'like' works only on text columns, and column '{column}' is {ty}: \
                 use =, <, >, or 'in' instead"
            ),
            FilterError::EmptyGroup { op } => write!(
                f,
                "an '{op}' needs at least one condition in \"args\"; remove it or add one"
            ),
            FilterError::EmptyInList { column } => write!(
                f,
                "'in' on column '{column}' needs at least one value in \"values\""
            ),
            FilterError::TooManyValues { column, count } => write!(
                f,
                "'in' on column '{column}' lists {count} values; the limit is \
                 {MAX_IN_VALUES}: split the request or filter on a range instead"
            ),
            FilterError::TooDeep => write!(
                f,
                "the filter nests more than {MAX_DEPTH} levels deep; flatten it, e.g. \
                 one 'and' with many conditions rather than 'and's inside 'and's"
            ),
        }
    }
}

impl std::error::Error for FilterError {}

/// Checks `expr` against `columns` and appends it to `out` as one
/// parenthesised SQL boolean expression.
///
/// `like` is documented as case-insensitive: it becomes `ILIKE` on
/// Postgres and `LIKE` on SQLite (whose `LIKE` ignores case for ASCII
/// letters only). On error `out` may hold a partial expression and must be
/// thrown away.
pub fn write_filter(
    expr: &Expr,
    columns: &[Column],
    out: &mut SqlBuilder,
) -> Result<(), FilterError> {
    write_expr(expr, columns, out, 0)
}

fn write_expr(
    expr: &Expr,
    columns: &[Column],
    out: &mut SqlBuilder,
    depth: usize,
) -> Result<(), FilterError> {
    // JSON filters skip the parser and its limit; checking on the way down
    // also bounds this recursion.
    if depth > MAX_DEPTH {
        return Err(FilterError::TooDeep);
    }
    let compare = |out: &mut SqlBuilder, column: &str, op: &str, value: &Literal| {
        let col = find(columns, column)?;
        let v = coerce(col, value)?;
        out.push("(")
            .push_ident(&col.name)
            .push(op)
            .push_bind_for(v, col.ty)
            .push(")");
        Ok(())
    };
    match expr {
        Expr::And { args } => write_group(args, "and", " AND ", columns, out, depth),
        Expr::Or { args } => write_group(args, "or", " OR ", columns, out, depth),
        Expr::Not { arg } => {
            out.push("(NOT ");
            write_expr(arg, columns, out, depth + 1)?;
            out.push(")");
            Ok(())
        }
        Expr::Eq { column, value } => compare(out, column, " = ", value),
        Expr::Ne { column, value } => compare(out, column, " <> ", value),
        Expr::Lt { column, value } => compare(out, column, " < ", value),
        Expr::Le { column, value } => compare(out, column, " <= ", value),
        Expr::Gt { column, value } => compare(out, column, " > ", value),
        Expr::Ge { column, value } => compare(out, column, " >= ", value),
        Expr::In { column, values } => {
            let col = find(columns, column)?;
            if values.is_empty() {
                return Err(FilterError::EmptyInList {
                    column: column.clone(),
                });
            }
            if values.len() > MAX_IN_VALUES {
                return Err(FilterError::TooManyValues {
                    column: column.clone(),
                    count: values.len(),
                });
            }
            let bound = values
                .iter()
                .map(|v| coerce(col, v))
                .collect::<Result<Vec<_>, _>>()?;
            out.push("(").push_ident(&col.name).push(" IN (");
            for (i, v) in bound.into_iter().enumerate() {
                if i > 0 {
                    out.push(", ");
                }
                out.push_bind_for(v, col.ty);
            }
            out.push("))");
            Ok(())
        }
        Expr::Like { column, pattern } => {
            let col = find(columns, column)?;
            if col.ty != ColumnType::Text {
                return Err(FilterError::LikeNeedsText {
                    column: column.clone(),
                    ty: col.ty,
                });
            }
            let like = match out.dialect() {
                Dialect::Sqlite => " LIKE ",
                Dialect::Postgres => " ILIKE ",
            };
            out.push("(")
                .push_ident(&col.name)
                .push(like)
                .push_bind(Value::Text(pattern.clone()))
                .push(")");
            Ok(())
        }
        Expr::IsNull { column } => {
            let col = find(columns, column)?;
            out.push("(").push_ident(&col.name).push(" IS NULL)");
            Ok(())
        }
        Expr::IsNotNull { column } => {
            let col = find(columns, column)?;
            out.push("(").push_ident(&col.name).push(" IS NOT NULL)");
            Ok(())
        }
    }
}

fn write_group(
    args: &[Expr],
    op: &'static str,
    sep: &str,
    columns: &[Column],
    out: &mut SqlBuilder,
    depth: usize,
) -> Result<(), FilterError> {
    if args.is_empty() {
        return Err(FilterError::EmptyGroup { op });
    }
    out.push("(");
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        write_expr(a, columns, out, depth + 1)?;
    }
    out.push(")");
    Ok(())
}

fn find<'c>(columns: &'c [Column], name: &str) -> Result<&'c Column, FilterError> {
    columns
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| FilterError::UnknownColumn {
            name: name.to_owned(),
            valid: columns.iter().map(|c| c.name.clone()).collect(),
        })
}

/// The bound value for `lit` compared with `col`, in the column's storage
/// form (dates and timestamps as canonical text, which compares in order).
fn coerce(col: &Column, lit: &Literal) -> Result<Value, FilterError> {
    let v = match (col.ty, lit) {
        (ColumnType::Integer, Literal::Int(i)) => Some(Value::Int(*i)),
        // A fractional bound on an integer column is meaningful
        // (`dep_delay > 2.5`), so it stays a real.
        (ColumnType::Integer | ColumnType::Real, Literal::Real(r)) if r.is_finite() => {
            Some(Value::Real(*r))
        }
        (ColumnType::Real, Literal::Int(i)) => Some(Value::Real(*i as f64)),
        (ColumnType::Boolean, Literal::Bool(b)) => Some(Value::Bool(*b)),
        (ColumnType::Date, Literal::Text(s)) => canonical_date(s).map(Value::Text),
        (ColumnType::Timestamp, Literal::Text(s)) => canonical_timestamp(s)
            .or_else(|| canonical_date(s).map(|d| format!("{d}T00:00:00Z")))
            .map(Value::Text),
        (ColumnType::Text, Literal::Text(s)) => Some(Value::Text(s.clone())),
        _ => None,
    };
    v.ok_or_else(|| FilterError::TypeMismatch {
        column: col.name.clone(),
        ty: col.ty,
        found: lit.clone(),
    })
}

/// Every column the filter names, once each, in order of first mention.
/// Works on unchecked trees of any depth (it does not recurse).
pub fn columns_used(expr: &Expr) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        let column = match e {
            // Pushed in reverse so they are visited left to right.
            Expr::And { args } | Expr::Or { args } => {
                stack.extend(args.iter().rev());
                continue;
            }
            Expr::Not { arg } => {
                stack.push(arg);
                continue;
            }
            Expr::Eq { column, .. }
            | Expr::Ne { column, .. }
            | Expr::Lt { column, .. }
            | Expr::Le { column, .. }
            | Expr::Gt { column, .. }
            | Expr::Ge { column, .. }
            | Expr::In { column, .. }
            | Expr::Like { column, .. }
            | Expr::IsNull { column }
            | Expr::IsNotNull { column } => column.as_str(),
        };
        if !out.contains(&column) {
            out.push(column);
        }
    }
    out
}

#[cfg(test)]
#[path = "compile_tests.rs"]
mod tests;
