//! Planning grouped queries: group columns, aggregates, their names and
//! types, ordering by any result field, and the count of groups.

use super::{
    Limits, Plan, Target, Use, check_limit, mask_key, push_direction, push_where, restricted_column,
};
use crate::data::format::Format;
use crate::data::render::{self, Field, Source};
use crate::data::request::{Aggregate, AggregateFn, Direction, RowsQuery};
use crate::data::sql::SqlBuilder;
use crate::data::types::{ColumnType, Value};
use crate::error::{Error, Result};

const MAX_GROUP_BY: usize = 20;
const MAX_AGGREGATES: usize = 50;
const MAX_ORDER_KEYS: usize = super::MAX_ORDER_KEYS;

fn check_alias(alias: &str) -> Result<()> {
    if alias.is_empty() || alias.len() > 128 || alias.chars().any(char::is_control) {
        return Err(Error::bad_request(format!(
            "aggregate name '{}' must be 1 to 128 printable characters",
            alias.chars().take(40).collect::<String>()
        )));
    }
    Ok(())
}

pub(super) fn plan_aggregate(
    target: Target<'_>,
    query: &RowsQuery,
    format: Format,
    limits: Option<Limits>,
) -> Result<Plan> {
    let visible = target.restriction.visible(target.columns);
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
        let c = restricted_column(&target, &visible, name, Some(Use::Group))?;
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
        vec![Aggregate {
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
            .map(|n| restricted_column(&target, &visible, n, Some(Use::Aggregate)))
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
    b.push(" AS r FROM ").push_ident(target.table);
    push_where(&mut b, &target, &visible, query.filter.as_ref())?;
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
            .push_ident(target.table);
        push_where(&mut c, &target, &visible, query.filter.as_ref())?;
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
        dataset_id: target.dataset_id,
        version_id: target.version_id,
        fingerprint: String::new(),
        mask_key: mask_key(&target),
    })
}

fn push_group_by(b: &mut SqlBuilder, groups: &[Field]) {
    for (i, g) in groups.iter().enumerate() {
        b.push(if i == 0 { " GROUP BY " } else { ", " });
        render::push_value(b, g);
    }
}
