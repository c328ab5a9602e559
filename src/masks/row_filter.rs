//! Row filters of column rules: filter text in the query language of
//! `filter=`, which may also name the caller's attributes as
//! `:principal.<name>`. Each placeholder is read as a marked text literal,
//! checked against the columns at `PUT` time, and replaced by the caller's
//! value, typed for the column it is compared with, at query time. A caller
//! lacking the attribute (or whose value does not fit the column's type)
//! matches no row through that filter: it fails closed.

use std::collections::BTreeMap;

use crate::data::query::{Expr, Literal, parse_filter, write_filter};
use crate::data::sql::{Dialect, SqlBuilder};
use crate::data::types::{Column, ColumnType};
use crate::error::{Error, Result};

/// Starts the text literal a placeholder becomes; refused in rule text, so
/// no literal written by hand can pass for a placeholder.
const MARK: char = '\u{0}';
const PREFIX: &str = ":principal.";

/// Longest attribute name.
const MAX_NAME: usize = 64;

/// Rewrites each `:principal.<name>` outside quotes as the literal
/// `'<MARK><name>'`.
fn mark_placeholders(text: &str) -> Result<String> {
    if text.contains(MARK) {
        return Err(Error::bad_request(
            "the row filter holds a NUL character; remove it",
        ));
    }
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if quote.is_none()
            && let Some(after) = rest.strip_prefix(PREFIX)
        {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            let name = after.get(..len).unwrap_or("");
            if name.is_empty() || name.len() > MAX_NAME {
                return Err(Error::bad_request(format!(
                    "'{PREFIX}' must be followed by an attribute name of 1 to {MAX_NAME} \
                     letters, digits or '_', e.g. :principal.org"
                )));
            }
            out.push('\'');
            out.push(MARK);
            out.push_str(name);
            out.push('\'');
            rest = after.get(len..).unwrap_or("");
            continue;
        }
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        out.push(c);
        rest = rest.get(c.len_utf8()..).unwrap_or("");
    }
    Ok(out)
}

/// Parses a row filter, placeholders marked.
pub fn parse(text: &str) -> Result<Expr> {
    let marked = mark_placeholders(text)?;
    parse_filter(&marked).map_err(|e| Error::bad_request(format!("{e}")))
}

/// The attribute a marked literal stands for.
fn placeholder(lit: &Literal) -> Option<&str> {
    match lit {
        Literal::Text(s) => s.strip_prefix(MARK),
        _ => None,
    }
}

/// The caller's value typed for a column of `ty`; `None` when it does not fit.
fn typed(ty: ColumnType, value: &str) -> Option<Literal> {
    match ty {
        ColumnType::Text | ColumnType::Date | ColumnType::Timestamp => {
            Some(Literal::Text(value.to_string()))
        }
        ColumnType::Integer => value.parse().ok().map(Literal::Int),
        ColumnType::Real => value
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Literal::Real),
        ColumnType::Boolean => match value {
            "true" => Some(Literal::Bool(true)),
            "false" => Some(Literal::Bool(false)),
            _ => None,
        },
    }
}

/// A stand-in value of the column's type, to check a filter at `PUT` time.
fn sample(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Text => "x",
        ColumnType::Date => "2000-01-01",
        ColumnType::Timestamp => "2000-01-01T00:00:00Z",
        ColumnType::Integer => "0",
        ColumnType::Real => "0.5",
        ColumnType::Boolean => "true",
    }
}

/// `expr` with every placeholder replaced through `value(attribute, type)`;
/// `None` when some placeholder has no value.
fn substitute(
    expr: &Expr,
    columns: &[Column],
    value: &dyn Fn(&str, ColumnType) -> Option<Literal>,
) -> Option<Expr> {
    let ty = |name: &str| columns.iter().find(|c| c.name == name).map(|c| c.ty);
    // An unknown column keeps its literal: compiling reports the column.
    let lit = |column: &str, l: &Literal| -> Option<Literal> {
        match (placeholder(l), ty(column)) {
            (Some(attr), Some(t)) => value(attr, t),
            _ => Some(l.clone()),
        }
    };
    let cmp = |column: &String, l: &Literal| lit(column, l).map(|v| (column.clone(), v));
    Some(match expr {
        Expr::And { args } => Expr::And {
            args: args
                .iter()
                .map(|a| substitute(a, columns, value))
                .collect::<Option<_>>()?,
        },
        Expr::Or { args } => Expr::Or {
            args: args
                .iter()
                .map(|a| substitute(a, columns, value))
                .collect::<Option<_>>()?,
        },
        Expr::Not { arg } => Expr::Not {
            arg: Box::new(substitute(arg, columns, value)?),
        },
        Expr::Eq { column, value: v } => {
            cmp(column, v).map(|(column, value)| Expr::Eq { column, value })?
        }
        Expr::Ne { column, value: v } => {
            cmp(column, v).map(|(column, value)| Expr::Ne { column, value })?
        }
        Expr::Lt { column, value: v } => {
            cmp(column, v).map(|(column, value)| Expr::Lt { column, value })?
        }
        Expr::Le { column, value: v } => {
            cmp(column, v).map(|(column, value)| Expr::Le { column, value })?
        }
        Expr::Gt { column, value: v } => {
            cmp(column, v).map(|(column, value)| Expr::Gt { column, value })?
        }
        Expr::Ge { column, value: v } => {
            cmp(column, v).map(|(column, value)| Expr::Ge { column, value })?
        }
        Expr::In { column, values } => Expr::In {
            column: column.clone(),
            values: values
                .iter()
                .map(|v| lit(column, v))
                .collect::<Option<_>>()?,
        },
        Expr::Like { column, pattern } => Expr::Like {
            column: column.clone(),
            pattern: match pattern.strip_prefix(MARK) {
                Some(attr) => match value(attr, ColumnType::Text)? {
                    Literal::Text(s) => s,
                    other => other.to_string(),
                },
                None => pattern.clone(),
            },
        },
        other @ (Expr::IsNull { .. } | Expr::IsNotNull { .. }) => other.clone(),
    })
}

/// Checks a row filter against the dataset's columns: syntax, column
/// names, and the types of literals and placeholders.
pub fn validate(text: &str, columns: &[Column]) -> Result<()> {
    let expr = parse(text)?;
    let filled = substitute(&expr, columns, &|_, t| typed(t, sample(t)))
        .ok_or_else(|| Error::bad_request("a placeholder cannot be checked"))?;
    let mut b = SqlBuilder::new(Dialect::Sqlite);
    write_filter(&filled, columns, &mut b).map_err(|e| Error::bad_request(format!("{e}")))
}

/// The row filter for a caller with `attributes`; `None` when it names an
/// attribute the caller lacks or whose value does not fit: then the filter
/// admits no row.
pub fn bind(
    expr: &Expr,
    columns: &[Column],
    attributes: &BTreeMap<String, String>,
) -> Option<Expr> {
    substitute(expr, columns, &|attr, t| {
        attributes.get(attr).and_then(|v| typed(t, v))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cols() -> Vec<Column> {
        vec![
            Column {
                name: "state".into(),
                ty: ColumnType::Text,
            },
            Column {
                name: "age".into(),
                ty: ColumnType::Integer,
            },
        ]
    }

    #[test]
    fn placeholders_outside_quotes_become_marked_literals() {
        assert_eq!(
            mark_placeholders("state = :principal.state and x = ':principal.no'").unwrap(),
            "state = '\u{0}state' and x = ':principal.no'"
        );
        assert_eq!(
            mark_placeholders("\"a:principal.b\" = 1").unwrap(),
            "\"a:principal.b\" = 1"
        );
        assert!(mark_placeholders("state = :principal.").is_err());
        assert!(mark_placeholders("state = '\u{0}x'").is_err());
    }

    #[test]
    fn validation_checks_columns_and_types() {
        validate("state = :principal.state", &cols()).unwrap();
        validate(
            "age >= :principal.age or state in ('A', :principal.org)",
            &cols(),
        )
        .unwrap();
        validate("state like :principal.prefix", &cols()).unwrap();
        let e = validate("region = :principal.region", &cols()).unwrap_err();
        assert!(e.detail().contains("'region'"), "{}", e.detail());
        assert!(validate("age = 'x'", &cols()).is_err());
        assert!(validate("state = ", &cols()).is_err());
        assert!(validate("state = :org", &cols()).is_err());
    }

    #[test]
    fn binding_types_the_value_and_fails_closed() {
        let expr = parse("state = :principal.state and age < :principal.age").unwrap();
        let mut attrs = BTreeMap::new();
        attrs.insert("state".to_string(), "CA".to_string());
        assert_eq!(bind(&expr, &cols(), &attrs), None);
        attrs.insert("age".to_string(), "forty".to_string());
        assert_eq!(bind(&expr, &cols(), &attrs), None);
        attrs.insert("age".to_string(), "40".to_string());
        assert_eq!(
            bind(&expr, &cols(), &attrs).unwrap().to_string(),
            "state = 'CA' and age < 40"
        );
    }
}
