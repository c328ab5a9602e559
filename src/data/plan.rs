//! The query compiler: from a parsed query and a version's columns to the
//! SQL statements that answer it — a page (with its keyset predicate), an
//! exact count, an aggregate, an export. Names are checked against the
//! version's columns and quoted; every value is a bound parameter.

use super::cursor::{self, CursorKey, CursorPayload};
use super::query::{Expr, write_filter};
use super::render::{self, Field, Source};
use super::request::{AggregateFn, Direction, Format, OrderItem, RowsQuery};
use super::sql::{Dialect, SqlBuilder};
use super::store::ROW_COLUMN;
use super::types::{Column, ColumnType, Value};
use crate::error::{Error, Result};

const MAX_ORDER_KEYS: usize = 8;
const MAX_GROUP_BY: usize = 20;
const MAX_AGGREGATES: usize = 50;

/// Page size rules from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub default_limit: u32,
    pub max_limit: u32,
}

/// The table a query reads: one version of a dataset.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub version_id: i64,
    pub version_number: i32,
    pub table: &'a str,
    pub columns: &'a [Column],
    pub dialect: Dialect,
}

/// One SQL statement with its values.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sql: String,
    pub binds: Vec<Value>,
}

impl From<SqlBuilder> for Statement {
    fn from(b: SqlBuilder) -> Self {
        let (sql, binds) = b.into_parts();
        Statement { sql, binds }
    }
}

/// Everything needed to run a query and shape its answer.
#[derive(Debug, Clone)]
pub struct Plan {
    pub fields: Vec<Field>,
    pub format: Format,
    /// Selects `r` (the rendered row) and, when `keyed`, `k` (the sort keys).
    pub rows: Statement,
    pub count: Option<Statement>,
    /// Rows per page; `None` for an export, which returns every row.
    pub limit: Option<u32>,
    pub keyed: bool,
    pub version_id: i64,
    pub fingerprint: String,
}

fn column<'c>(columns: &'c [Column], name: &str) -> Result<&'c Column> {
    columns.iter().find(|c| c.name == name).ok_or_else(|| {
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        Error::bad_request(format!(
            "unknown column '{}'; columns are: {}",
            name.chars().take(100).collect::<String>(),
            names.join(", ")
        ))
    })
}

fn push_filter(b: &mut SqlBuilder, filter: Option<&Expr>, columns: &[Column]) -> Result<()> {
    match filter {
        Some(expr) => {
            write_filter(expr, columns, b).map_err(|e| Error::bad_request(format!("filter: {e}")))
        }
        None => {
            b.push("1 = 1");
            Ok(())
        }
    }
}

fn check_limit(limit: Option<u32>, limits: Limits) -> Result<u32> {
    let limit = limit.unwrap_or(limits.default_limit);
    if limit == 0 {
        return Err(Error::bad_request("limit must be at least 1"));
    }
    if limit > limits.max_limit {
        return Err(Error::bad_request(format!(
            "limit {limit} is over the maximum of {}; ask for fewer rows and follow next_cursor, or use the export endpoint for everything",
            limits.max_limit
        )));
    }
    Ok(limit)
}

fn order_text(order: &[OrderItem]) -> String {
    order
        .iter()
        .map(|o| match o.direction {
            Direction::Asc => format!("{:?} asc", o.column),
            Direction::Desc => format!("{:?} desc", o.column),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn push_direction(b: &mut SqlBuilder, d: Direction) {
    // Nulls sort as the smallest value on every backend.
    b.push(match d {
        Direction::Asc => " ASC NULLS FIRST",
        Direction::Desc => " DESC NULLS LAST",
    });
}

/// Plans a page of rows, or every row when `limits` is `None` (export).
pub fn plan_rows(
    target: Target<'_>,
    query: &RowsQuery,
    format: Format,
    limits: Option<Limits>,
    key: &CursorKey,
) -> Result<Plan> {
    if query.is_aggregate() {
        return plan_aggregate(target, query, format, limits);
    }
    let columns = target.columns;
    let fields: Vec<Field> = match &query.select {
        None => columns
            .iter()
            .map(|c| Field {
                name: c.name.clone(),
                source: Source::Column(c.name.clone()),
                ty: c.ty,
            })
            .collect(),
        Some(names) => {
            if names.is_empty() || names.iter().all(|n| n.is_empty()) {
                return Err(Error::bad_request(
                    "select is empty; name at least one column, or leave select out for all",
                ));
            }
            let mut out: Vec<Field> = Vec::with_capacity(names.len());
            for name in names {
                let c = column(columns, name)?;
                if out.iter().any(|f| f.name == c.name) {
                    return Err(Error::bad_request(format!(
                        "column '{}' is selected twice",
                        c.name
                    )));
                }
                out.push(Field {
                    name: c.name.clone(),
                    source: Source::Column(c.name.clone()),
                    ty: c.ty,
                });
            }
            out
        }
    };
    if query.order.len() > MAX_ORDER_KEYS {
        return Err(Error::bad_request(format!(
            "at most {MAX_ORDER_KEYS} sort keys"
        )));
    }
    let mut order: Vec<(&Column, Direction)> = Vec::with_capacity(query.order.len());
    for item in &query.order {
        let c = column(columns, &item.column)?;
        if order.iter().any(|(o, _)| o.name == c.name) {
            return Err(Error::bad_request(format!(
                "column '{}' appears twice in order",
                c.name
            )));
        }
        order.push((c, item.direction));
    }
    let filter_text = query
        .filter
        .as_ref()
        .map(|f| f.to_string())
        .unwrap_or_default();
    let order_spec = order_text(&query.order);
    let fingerprint = cursor::fingerprint(&[&filter_text, &order_spec]);

    let limit = limits.map(|l| check_limit(query.limit, l)).transpose()?;
    let keyset = match (&query.cursor, limit) {
        (Some(_), None) => {
            return Err(Error::bad_request(
                "an export returns every row; leave out cursor",
            ));
        }
        (Some(c), Some(_)) => {
            let payload = cursor::decode(key, c)?;
            if payload.q != fingerprint {
                return Err(Error::bad_request(
                    "the cursor belongs to a query with another filter or order; send the same filter and order as the page it came from",
                ));
            }
            if payload.v != target.version_id {
                return Err(Error::conflict(format!(
                    "the dataset has changed since this cursor was issued (it is now at version {}); start again without cursor",
                    target.version_number
                )));
            }
            Some(payload)
        }
        (None, _) => None,
    };

    let mut b = SqlBuilder::new(target.dialect);
    b.push("SELECT ");
    render::push_row(&mut b, &fields, format);
    b.push(" AS r");
    let keyed = limit.is_some();
    if keyed {
        b.push(", json_array(");
        for (c, _) in &order {
            b.push_ident(&c.name).push(", ");
        }
        b.push_ident(ROW_COLUMN).push(") AS k");
    }
    b.push(" FROM ").push_ident(target.table).push(" WHERE (");
    push_filter(&mut b, query.filter.as_ref(), columns)?;
    b.push(")");
    if let Some(payload) = &keyset {
        b.push(" AND (");
        push_keyset(&mut b, &order, &payload.k)?;
        b.push(")");
    }
    b.push(" ORDER BY ");
    for (c, d) in &order {
        b.push_ident(&c.name);
        push_direction(&mut b, *d);
        b.push(", ");
    }
    b.push_ident(ROW_COLUMN).push(" ASC");
    if let Some(limit) = limit {
        // One row more than asked tells whether there is a next page.
        b.push(" LIMIT ")
            .push_bind(Value::Int(i64::from(limit) + 1));
    }

    let count = if query.count {
        let mut c = SqlBuilder::new(target.dialect);
        c.push("SELECT COUNT(*) AS n FROM ")
            .push_ident(target.table)
            .push(" WHERE (");
        push_filter(&mut c, query.filter.as_ref(), columns)?;
        c.push(")");
        Some(c.into())
    } else {
        None
    };

    Ok(Plan {
        fields,
        format,
        rows: b.into(),
        count,
        limit,
        keyed,
        version_id: target.version_id,
        fingerprint,
    })
}

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
fn push_keyset(
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
                v => b.push(" = ").push_bind(v.clone()).push(" AND "),
            };
        }
        match (order.get(i), values.get(i)) {
            (Some((c, Direction::Asc)), Some(Value::Null)) => {
                b.push_ident(&c.name).push(" IS NOT NULL");
            }
            (Some((c, Direction::Asc)), Some(v)) => {
                b.push_ident(&c.name).push(" > ").push_bind(v.clone());
            }
            (Some((_, Direction::Desc)), Some(Value::Null)) => {
                b.push("1 = 0");
            }
            (Some((c, Direction::Desc)), Some(v)) => {
                b.push("(")
                    .push_ident(&c.name)
                    .push(" < ")
                    .push_bind(v.clone())
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

fn check_alias(alias: &str) -> Result<()> {
    if alias.is_empty() || alias.len() > 128 || alias.chars().any(char::is_control) {
        return Err(Error::bad_request(format!(
            "aggregate name '{}' must be 1 to 128 printable characters",
            alias.chars().take(40).collect::<String>()
        )));
    }
    Ok(())
}

fn plan_aggregate(
    target: Target<'_>,
    query: &RowsQuery,
    format: Format,
    limits: Option<Limits>,
) -> Result<Plan> {
    let columns = target.columns;
    if query.select.is_some() {
        return Err(Error::bad_request(
            "select does not combine with group_by/aggregates: grouped rows hold the group columns and the aggregates",
        ));
    }
    if query.cursor.is_some() {
        return Err(Error::bad_request(
            "grouped queries have no cursor; narrow them with filter, order and limit",
        ));
    }
    if query.group_by.len() > MAX_GROUP_BY || query.aggregates.len() > MAX_AGGREGATES {
        return Err(Error::bad_request(format!(
            "at most {MAX_GROUP_BY} group_by columns and {MAX_AGGREGATES} aggregates"
        )));
    }
    let mut fields: Vec<Field> = Vec::new();
    for name in &query.group_by {
        let c = column(columns, name)?;
        if fields.iter().any(|f| f.name == c.name) {
            return Err(Error::bad_request(format!(
                "column '{}' is grouped twice",
                c.name
            )));
        }
        fields.push(Field {
            name: c.name.clone(),
            source: Source::Column(c.name.clone()),
            ty: c.ty,
        });
    }
    let group_count = fields.len();
    let aggregates = if query.aggregates.is_empty() {
        vec![super::request::Aggregate {
            function: AggregateFn::Count,
            column: None,
            alias: None,
        }]
    } else {
        query.aggregates.clone()
    };
    for a in &aggregates {
        let col = a
            .column
            .as_deref()
            .map(|n| column(columns, n))
            .transpose()?;
        let ty = match (a.function, col) {
            (AggregateFn::Count, _) => ColumnType::Integer,
            (f, None) => {
                return Err(Error::bad_request(format!("{} needs a column", f.name())));
            }
            (AggregateFn::Sum | AggregateFn::Avg, Some(c)) if !c.ty.is_numeric() => {
                return Err(Error::bad_request(format!(
                    "{} needs a numeric column; '{}' is {}",
                    a.function.name(),
                    c.name,
                    c.ty
                )));
            }
            (AggregateFn::Sum, Some(c)) => c.ty,
            (AggregateFn::Avg, Some(_)) => ColumnType::Real,
            (AggregateFn::Min | AggregateFn::Max, Some(c)) => c.ty,
        };
        let name = match (&a.alias, col) {
            (Some(alias), _) => {
                check_alias(alias)?;
                alias.clone()
            }
            (None, Some(c)) => format!("{}_{}", a.function.name(), c.name),
            (None, None) => a.function.name().to_string(),
        };
        if fields.iter().any(|f| f.name == name) {
            return Err(Error::bad_request(format!(
                "two result fields are named '{name}'; give one an 'as' name"
            )));
        }
        fields.push(Field {
            name,
            source: Source::Aggregate(a.function, col.map(|c| c.name.clone())),
            ty,
        });
    }
    if query.order.len() > MAX_ORDER_KEYS {
        return Err(Error::bad_request(format!(
            "at most {MAX_ORDER_KEYS} sort keys"
        )));
    }
    let mut order: Vec<(&Field, Direction)> = Vec::new();
    for item in &query.order {
        let f = fields
            .iter()
            .find(|f| f.name == item.column)
            .ok_or_else(|| {
                let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                Error::bad_request(format!(
                    "cannot order by '{}'; a grouped query orders by its fields: {}",
                    item.column.chars().take(100).collect::<String>(),
                    names.join(", ")
                ))
            })?;
        order.push((f, item.direction));
    }
    let limit = limits.map(|l| check_limit(query.limit, l)).transpose()?;

    let mut b = SqlBuilder::new(target.dialect);
    b.push("SELECT ");
    render::push_row(&mut b, &fields, format);
    b.push(" AS r FROM ")
        .push_ident(target.table)
        .push(" WHERE (");
    push_filter(&mut b, query.filter.as_ref(), columns)?;
    b.push(")");
    let groups = fields.get(..group_count).unwrap_or(&[]);
    push_group_by(&mut b, groups);
    let mut first = true;
    for (f, d) in order
        .iter()
        .copied()
        .chain(groups.iter().map(|g| (g, Direction::Asc)))
    {
        b.push(if first { " ORDER BY " } else { ", " });
        first = false;
        render::push_value(&mut b, f);
        push_direction(&mut b, d);
    }
    if let Some(limit) = limit {
        b.push(" LIMIT ")
            .push_bind(Value::Int(i64::from(limit) + 1));
    }

    let count = if query.count {
        let mut c = SqlBuilder::new(target.dialect);
        c.push("SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM ")
            .push_ident(target.table)
            .push(" WHERE (");
        push_filter(&mut c, query.filter.as_ref(), columns)?;
        c.push(")");
        push_group_by(&mut c, groups);
        c.push(") AS g");
        Some(c.into())
    } else {
        None
    };
    Ok(Plan {
        fields,
        format,
        rows: b.into(),
        count,
        limit,
        keyed: false,
        version_id: target.version_id,
        fingerprint: String::new(),
    })
}

fn push_group_by(b: &mut SqlBuilder, groups: &[Field]) {
    for (i, g) in groups.iter().enumerate() {
        b.push(if i == 0 { " GROUP BY " } else { ", " });
        render::push_value(b, g);
    }
}

/// The cursor that continues after a row whose sort keys were `k`.
pub fn next_cursor(key: &CursorKey, plan: &Plan, k: &str) -> Result<String> {
    let k: Vec<serde_json::Value> =
        serde_json::from_str(k).map_err(|e| Error::internal("reading sort keys", e))?;
    cursor::encode(
        key,
        &CursorPayload {
            v: plan.version_id,
            q: plan.fingerprint.clone(),
            k,
        },
    )
}
