//! What a caller asks of a dataset's rows, in both spellings: the query
//! string of `GET …/rows` and the typed JSON body of `POST …/query`. Both
//! end as one `RowsQuery`; nothing here knows a dataset's columns.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::query::{Expr, parse_filter};
use crate::error::{Error, Result};

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(example = "desc")]
pub enum Direction {
    /// Smallest first; nulls first.
    #[default]
    Asc,
    /// Largest first; nulls last.
    Desc,
}

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderItem {
    /// Column name (or, in an aggregate query, a group column or aggregate name).
    #[schema(example = "dep_delay")]
    pub column: String,
    /// `asc` (default) or `desc`.
    #[serde(default)]
    pub direction: Direction,
}

/// Aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(example = "avg")]
pub enum AggregateFn {
    /// Rows (without a column) or non-null values of a column.
    Count,
    /// Sum of a numeric column.
    Sum,
    /// Average of a numeric column.
    Avg,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
}

impl AggregateFn {
    pub fn name(self) -> &'static str {
        match self {
            AggregateFn::Count => "count",
            AggregateFn::Sum => "sum",
            AggregateFn::Avg => "avg",
            AggregateFn::Min => "min",
            AggregateFn::Max => "max",
        }
    }
}

/// One aggregate of a grouped query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Aggregate {
    /// The function.
    pub function: AggregateFn,
    /// The column it applies to; omit for `count` of rows.
    #[schema(example = "dep_delay")]
    pub column: Option<String>,
    /// Name of the result field; defaults to `<function>_<column>` or `count`.
    #[serde(rename = "as")]
    #[schema(example = "avg_delay")]
    pub alias: Option<String>,
}

/// Body of `POST /v1/datasets/{slug}/query`: the query as typed JSON.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "filter": {"op": "and", "args": [
        {"op": "eq", "column": "carrier", "value": "UA"},
        {"op": "gt", "column": "dep_delay", "value": 30}
    ]},
    "group_by": ["origin"],
    "aggregates": [{"function": "count"}, {"function": "avg", "column": "dep_delay", "as": "avg_delay"}],
    "order": [{"column": "avg_delay", "direction": "desc"}],
    "limit": 10
}))]
pub struct QueryBody {
    /// Columns to return, in order; all when omitted. Not with `group_by`/`aggregates`.
    #[schema(example = json!(["carrier", "flight", "dep_delay"]))]
    pub select: Option<Vec<String>>,
    /// Row filter as an expression tree.
    pub filter: Option<Expr>,
    /// Sort keys; the file's row order when omitted.
    #[serde(default)]
    #[schema(example = json!([{"column": "dep_delay", "direction": "desc"}]))]
    pub order: Vec<OrderItem>,
    /// Rows per page (default 100, at most the configured maximum).
    #[schema(example = 10)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page; valid only with the same filter and order, on
    /// the version it was made on.
    #[schema(
        example = "eyJkIjoxLCJ2IjoxLCJxIjoiN2Y1Y2JmYzFlYTRhZDViMSIsImsiOlszNjYsNjAyNl19.LY1ZjMAikQ1NFyJU-dpprg"
    )]
    pub cursor: Option<String>,
    /// Also return the exact number of matching rows in `total`.
    #[serde(default)]
    #[schema(example = false)]
    pub count: bool,
    /// Columns to group by.
    #[serde(default)]
    #[schema(example = json!(["origin"]))]
    pub group_by: Vec<String>,
    /// Aggregates to compute (per group, or over all matching rows).
    #[serde(default)]
    #[schema(example = json!([{"function": "count"}, {"function": "avg", "column": "dep_delay", "as": "avg_delay"}]))]
    pub aggregates: Vec<Aggregate>,
}

/// A query, whichever way it arrived.
pub type RowsQuery = QueryBody;

/// Splits a comma-separated list, honouring double-quoted names (`"a,b"`,
/// with `""` for a quote inside).
fn split_names(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            }
            '"' if cur.trim().is_empty() => {
                cur.clear();
                quoted = true;
                was_quoted = true;
            }
            ',' if !quoted => {
                out.push(finish(&mut cur, &mut was_quoted));
            }
            _ => cur.push(c),
        }
    }
    if quoted {
        return Err(Error::bad_request(format!(
            "unclosed double quote in '{}'",
            s.chars().take(200).collect::<String>()
        )));
    }
    out.push(finish(&mut cur, &mut was_quoted));
    Ok(out)
}

fn finish(cur: &mut String, was_quoted: &mut bool) -> String {
    let s = if *was_quoted {
        cur.clone()
    } else {
        cur.trim().to_string()
    };
    cur.clear();
    *was_quoted = false;
    s
}

fn parse_order(s: &str) -> Result<Vec<OrderItem>> {
    let mut items = Vec::new();
    for raw in split_order_items(s) {
        let item = raw.trim();
        if item.is_empty() {
            return Err(Error::bad_request(
                "empty sort key in 'order'; write order=col1,-col2 or order=col1 asc,col2 desc",
            ));
        }
        let (name, direction) = if let Some(rest) = item.strip_prefix('-') {
            (rest.trim(), Direction::Desc)
        } else {
            let lower = item.to_ascii_lowercase();
            if lower.ends_with(" desc") {
                (
                    item.get(..item.len() - 5).unwrap_or(item).trim(),
                    Direction::Desc,
                )
            } else if lower.ends_with(" asc") {
                (
                    item.get(..item.len() - 4).unwrap_or(item).trim(),
                    Direction::Asc,
                )
            } else {
                (item, Direction::Asc)
            }
        };
        let names = split_names(name)?;
        let [column] = names.as_slice() else {
            return Err(Error::bad_request(format!("cannot read sort key '{item}'")));
        };
        items.push(OrderItem {
            column: column.clone(),
            direction,
        });
    }
    Ok(items)
}

/// Splits `order` at commas outside double quotes.
fn split_order_items(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if c == ',' && !quoted {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

impl QueryBody {
    /// Builds a query from the text parameters of `GET …/rows`.
    pub fn from_params(
        select: Option<&str>,
        filter: Option<&str>,
        order: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
        count: Option<&str>,
    ) -> Result<QueryBody> {
        let select = select.map(split_names).transpose()?;
        let filter = match filter {
            Some(f) if !f.trim().is_empty() => {
                Some(parse_filter(f).map_err(|e| Error::bad_request(format!("filter {e}")))?)
            }
            _ => None,
        };
        let order = match order {
            Some(o) if !o.trim().is_empty() => parse_order(o)?,
            _ => Vec::new(),
        };
        let count = match count {
            None | Some("") | Some("none") => false,
            Some("exact") => true,
            Some(other) => {
                return Err(Error::bad_request(format!(
                    "unknown count '{}'; use count=exact or leave it out",
                    other.chars().take(40).collect::<String>()
                )));
            }
        };
        Ok(QueryBody {
            select,
            filter,
            order,
            limit,
            cursor: cursor.filter(|c| !c.is_empty()).map(str::to_string),
            count,
            group_by: Vec::new(),
            aggregates: Vec::new(),
        })
    }

    pub fn is_aggregate(&self) -> bool {
        !self.group_by.is_empty() || !self.aggregates.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_with_quotes() {
        assert_eq!(split_names("a, b ,c").unwrap(), vec!["a", "b", "c"]);
        assert_eq!(split_names("\"x,y\",z").unwrap(), vec!["x,y", "z"]);
        assert_eq!(
            split_names("\"say \"\"hi\"\"\"").unwrap(),
            vec!["say \"hi\""]
        );
        assert!(split_names("\"open").is_err());
    }

    #[test]
    fn order_accepts_both_spellings() {
        let o = parse_order("carrier,-dep_delay, origin desc,dest ASC").unwrap();
        let dirs: Vec<_> = o.iter().map(|i| (i.column.as_str(), i.direction)).collect();
        assert_eq!(
            dirs,
            vec![
                ("carrier", Direction::Asc),
                ("dep_delay", Direction::Desc),
                ("origin", Direction::Desc),
                ("dest", Direction::Asc)
            ]
        );
        assert!(parse_order("a,,b").is_err());
    }

    #[test]
    fn count_is_checked() {
        assert!(
            QueryBody::from_params(None, None, None, None, None, Some("exact"))
                .unwrap()
                .count
        );
        assert!(QueryBody::from_params(None, None, None, None, None, Some("maybe")).is_err());
    }
}
