//! The keyset predicate of cursor paging: rows strictly after the last row
//! of the previous page, in the page's sort order.

use crate::data::request::Direction;
use crate::data::sql::SqlBuilder;
use crate::data::store::ROW_COLUMN;
use crate::data::types::{Column, ColumnType, Value};
use crate::error::{Error, Result};

fn key_value(ty: ColumnType, v: &serde_json::Value) -> Result<Value> {
    let bad =
        || Error::bad_request("the cursor does not fit this dataset; start again without cursor");
    Ok(match (ty, v) {
        (_, serde_json::Value::Null) => Value::Null,
        (ColumnType::Integer | ColumnType::Boolean, serde_json::Value::Number(n)) => {
            Value::Int(n.as_i64().ok_or_else(bad)?)
        }
        (ColumnType::Boolean, serde_json::Value::Bool(b)) => Value::Bool(*b),
        (ColumnType::Real, serde_json::Value::Number(n)) => {
            Value::Real(n.as_f64().ok_or_else(bad)?)
        }
        (
            ColumnType::Text | ColumnType::Date | ColumnType::Timestamp,
            serde_json::Value::String(s),
        ) => Value::Text(s.clone()),
        _ => return Err(bad()),
    })
}

/// Rows strictly after the cursor's row in the page order: for keys
/// k1..kn then the row number, `k1 after v1 OR (k1 = v1 AND k2 after v2) …`.
pub(super) fn push_keyset(
    b: &mut SqlBuilder,
    order: &[(&Column, Direction)],
    k: &[serde_json::Value],
) -> Result<()> {
    let bad =
        || Error::bad_request("the cursor does not fit this query; start again without cursor");
    if k.len() != order.len() + 1 {
        return Err(bad());
    }
    let row = match k.last() {
        Some(serde_json::Value::Number(n)) => n.as_i64().ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    let mut values = Vec::with_capacity(order.len());
    for ((c, _), v) in order.iter().zip(k) {
        values.push(key_value(c.ty, v)?);
    }
    for i in 0..=order.len() {
        if i > 0 {
            b.push(" OR ");
        }
        b.push("(");
        for ((c, _), v) in order.iter().zip(&values).take(i) {
            b.push_ident(&c.name);
            match v {
                Value::Null => b.push(" IS NULL AND "),
                v => b.push(" = ").push_bind_for(v.clone(), c.ty).push(" AND "),
            };
        }
        match (order.get(i), values.get(i)) {
            (Some((c, Direction::Asc)), Some(Value::Null)) => {
                b.push_ident(&c.name).push(" IS NOT NULL");
            }
            (Some((c, Direction::Asc)), Some(v)) => {
                b.push_ident(&c.name)
                    .push(" > ")
                    .push_bind_for(v.clone(), c.ty);
            }
            (Some((_, Direction::Desc)), Some(Value::Null)) => {
                b.push("1 = 0");
            }
            (Some((c, Direction::Desc)), Some(v)) => {
                b.push("(")
                    .push_ident(&c.name)
                    .push(" < ")
                    .push_bind_for(v.clone(), c.ty)
                    .push(" OR ")
                    .push_ident(&c.name)
                    .push(" IS NULL)");
            }
            _ => {
                b.push_ident(ROW_COLUMN)
                    .push(" > ")
                    .push_bind(Value::Int(row));
            }
        }
        b.push(")");
    }
    Ok(())
}
