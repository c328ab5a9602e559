//! The query compiler: from a parsed query and a version's columns to the
//! SQL statements that answer it — a page (with its keyset predicate), an
//! exact count, an aggregate, an export. Names are checked against the
//! version's columns and quoted; every value is a bound parameter.

mod aggregate;
mod keyset;
mod restrict;

pub use restrict::{Restriction, Use};

use crate::data::cursor::{self, CursorKey, CursorPayload};
use crate::data::format::Format;
use crate::data::mask::MaskKey;
use crate::data::query::{Expr, MAX_FILTER_VALUES, columns_used, write_filter};
use crate::data::render::{self, Field};
use crate::data::request::{Direction, OrderItem, RowsQuery};
use crate::data::sql::{Dialect, SqlBuilder};
use crate::data::store::ROW_COLUMN;
use crate::data::types::{Column, Value};
use crate::error::{Error, Result};

const MAX_ORDER_KEYS: usize = 8;

/// Page size rules from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub default_limit: u32,
    pub max_limit: u32,
}

/// The table a query reads: one version of a dataset.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub dataset_id: i64,
    pub version_id: i64,
    pub version_number: i32,
    pub table: &'a str,
    pub columns: &'a [Column],
    pub dialect: Dialect,
    /// What this caller may see of the version.
    pub restriction: &'a Restriction,
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
    pub dataset_id: i64,
    pub version_id: i64,
    pub fingerprint: String,
    /// Set when the plan renders masked or hashed columns: the mask
    /// functions must be installed, with this key, on the connection first.
    pub mask_key: Option<MaskKey>,
}

pub(crate) fn column<'c>(columns: &'c [Column], name: &str) -> Result<&'c Column> {
    columns.iter().find(|c| c.name == name).ok_or_else(|| {
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        Error::bad_request(format!(
            "unknown column '{}'; columns are: {}",
            name.chars().take(100).collect::<String>(),
            names.join(", ")
        ))
    })
}

/// The column named `name` for a caller restricted by `target.restriction`:
/// a column it does not see in full is refused as `how` (403); an unknown
/// name is a 400 listing only the columns the caller may see.
pub(crate) fn restricted_column<'c>(
    target: &Target<'c>,
    visible: &[Column],
    name: &str,
    how: Option<Use>,
) -> Result<&'c Column> {
    match target.columns.iter().find(|c| c.name == name) {
        Some(c) => {
            if let Some(how) = how {
                target.restriction.check(&c.name, how)?;
            }
            Ok(c)
        }
        None => column(visible, name).and_then(|_| {
            Err(Error::internal(
                "looking up a column",
                "visible but not in the version",
            ))
        }),
    }
}

/// Refuses a caller's filter that names a column it does not see in full.
pub(crate) fn check_filter(target: &Target<'_>, filter: Option<&Expr>) -> Result<()> {
    if let Some(f) = filter {
        for name in columns_used(f) {
            if target.columns.iter().any(|c| c.name == name) {
                target.restriction.check(name, Use::Filter)?;
            }
        }
    }
    Ok(())
}

/// Pushes ` WHERE (<caller's filter>)`, and the caller's row filter after it.
pub(crate) fn push_where(
    b: &mut SqlBuilder,
    target: &Target<'_>,
    visible: &[Column],
    filter: Option<&Expr>,
) -> Result<()> {
    b.push(" WHERE (");
    push_filter(b, filter, visible)?;
    b.push(")");
    target.restriction.push_row_filter(b, target.columns)
}

fn mask_key(target: &Target<'_>) -> Option<MaskKey> {
    if target.restriction.needs_functions() {
        // A hashed column without a key was refused while planning fields.
        Some(
            target
                .restriction
                .key
                .clone()
                .unwrap_or_else(|| MaskKey::new(Vec::new())),
        )
    } else {
        None
    }
}

pub(crate) fn push_filter(
    b: &mut SqlBuilder,
    filter: Option<&Expr>,
    columns: &[Column],
) -> Result<()> {
    match filter {
        Some(expr) => {
            let before = b.binds().len();
            write_filter(expr, columns, b)
                .map_err(|e| Error::bad_request(format!("filter: {e}")))?;
            let values = b.binds().len() - before;
            if values > MAX_FILTER_VALUES {
                return Err(Error::bad_request(format!(
                    "filter: the filter holds {values} values; the limit is {MAX_FILTER_VALUES}: \
                     split the request, or filter on a range instead of listing values"
                )));
            }
            Ok(())
        }
        None => {
            b.push("1 = 1");
            Ok(())
        }
    }
}

pub(crate) fn check_limit(limit: Option<u32>, limits: Limits) -> Result<u32> {
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

pub(crate) fn push_direction(b: &mut SqlBuilder, d: Direction) {
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
    check_filter(&target, query.filter.as_ref())?;
    if query.is_aggregate() {
        return aggregate::plan_aggregate(target, query, format, limits);
    }
    let visible = target.restriction.visible(target.columns);
    let restriction = target.restriction;
    let fields: Vec<Field> = match &query.select {
        None => visible
            .iter()
            .map(|c| restriction.field(c))
            .collect::<Result<_>>()?,
        Some(names) => {
            if names.is_empty() || names.iter().all(|n| n.is_empty()) {
                return Err(Error::bad_request(
                    "select is empty; name at least one column, or leave select out for all",
                ));
            }
            let mut out: Vec<Field> = Vec::with_capacity(names.len());
            for name in names {
                let c = restricted_column(&target, &visible, name, None)?;
                if out.iter().any(|f| f.name == c.name) {
                    return Err(Error::bad_request(format!(
                        "column '{}' is selected twice",
                        c.name
                    )));
                }
                out.push(restriction.field(c)?);
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
        let c = restricted_column(&target, &visible, &item.column, Some(Use::Order))?;
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
            if payload.d != target.dataset_id {
                return Err(Error::bad_request(
                    "the cursor belongs to another dataset; pass a cursor only to the dataset whose page returned it",
                ));
            }
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
        b.push(match target.dialect {
            Dialect::Sqlite => ", json_array(",
            Dialect::Postgres => ", json_build_array(",
        });
        for (c, _) in &order {
            b.push_ident(&c.name).push(", ");
        }
        b.push_ident(ROW_COLUMN);
        b.push(match target.dialect {
            Dialect::Sqlite => ") AS k",
            Dialect::Postgres => ")::text AS k",
        });
    }
    b.push(" FROM ").push_ident(target.table);
    push_where(&mut b, &target, &visible, query.filter.as_ref())?;
    if let Some(payload) = &keyset {
        b.push(" AND (");
        keyset::push_keyset(&mut b, &order, &payload.k)?;
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
            .push_ident(target.table);
        push_where(&mut c, &target, &visible, query.filter.as_ref())?;
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
        dataset_id: target.dataset_id,
        version_id: target.version_id,
        fingerprint,
        mask_key: mask_key(&target),
    })
}

/// The cursor that continues after a row whose sort keys were `k`.
pub fn next_cursor(key: &CursorKey, plan: &Plan, k: &str) -> Result<String> {
    let k: Vec<serde_json::Value> =
        serde_json::from_str(k).map_err(|e| Error::internal("reading sort keys", e))?;
    cursor::encode(
        key,
        &CursorPayload {
            d: plan.dataset_id,
            v: plan.version_id,
            q: plan.fingerprint.clone(),
            k,
        },
    )
}
