//! How a query is written into the audit log: its select, filter, order
//! and grouping as compact JSON, cut at a fixed size.

use super::query::{Expr, Literal};
use super::request::{Direction, QueryBody};

/// What stands in the audit log for a value compared against a protected column.
pub const REDACTED: &str = "***";

/// Which filter values an audit text leaves out.
#[derive(Debug, Clone, Copy)]
pub enum Redact<'a> {
    /// Every value: before the caller's view of the dataset is known.
    All,
    /// Values compared against these columns (those the caller does not
    /// see in full), so a probe of a masked value never reaches the log.
    Columns(&'a [String]),
}

impl Redact<'_> {
    fn covers(&self, column: &str) -> bool {
        match self {
            Redact::All => true,
            Redact::Columns(cols) => cols.iter().any(|c| c == column),
        }
    }
}

/// `expr` with the values `redact` covers replaced by `REDACTED`.
fn redacted(expr: &Expr, redact: Redact<'_>) -> Expr {
    let hide = |column: &str, v: &Literal| {
        if redact.covers(column) {
            Literal::Text(REDACTED.to_string())
        } else {
            v.clone()
        }
    };
    match expr {
        Expr::And { args } => Expr::And {
            args: args.iter().map(|a| redacted(a, redact)).collect(),
        },
        Expr::Or { args } => Expr::Or {
            args: args.iter().map(|a| redacted(a, redact)).collect(),
        },
        Expr::Not { arg } => Expr::Not {
            arg: Box::new(redacted(arg, redact)),
        },
        Expr::Eq { column, value } => Expr::Eq {
            column: column.clone(),
            value: hide(column, value),
        },
        Expr::Ne { column, value } => Expr::Ne {
            column: column.clone(),
            value: hide(column, value),
        },
        Expr::Lt { column, value } => Expr::Lt {
            column: column.clone(),
            value: hide(column, value),
        },
        Expr::Le { column, value } => Expr::Le {
            column: column.clone(),
            value: hide(column, value),
        },
        Expr::Gt { column, value } => Expr::Gt {
            column: column.clone(),
            value: hide(column, value),
        },
        Expr::Ge { column, value } => Expr::Ge {
            column: column.clone(),
            value: hide(column, value),
        },
        Expr::In { column, values } => Expr::In {
            column: column.clone(),
            values: values.iter().map(|v| hide(column, v)).collect(),
        },
        Expr::Like { column, pattern } => Expr::Like {
            column: column.clone(),
            pattern: if redact.covers(column) {
                REDACTED.to_string()
            } else {
                pattern.clone()
            },
        },
        other @ (Expr::IsNull { .. } | Expr::IsNotNull { .. }) => other.clone(),
    }
}

/// Longest query text kept in an audit record; a filter of many values is
/// cut there (the record says so) rather than bloating the log.
const MAX_AUDIT_QUERY: usize = 16 * 1024;

impl QueryBody {
    /// The query as the audit log keeps it: select, filter, order and
    /// grouping as compact JSON; the cursor, which only repeats a position,
    /// is left out.
    pub fn audit_text(&self) -> String {
        self.audit_text_redacting(Redact::Columns(&[]))
    }

    /// `audit_text` with the filter values `redact` covers replaced by
    /// `***` (columns, operators and the other values stay).
    pub fn audit_text_redacting(&self, redact: Redact<'_>) -> String {
        let order: Vec<String> = self
            .order
            .iter()
            .map(|o| match o.direction {
                Direction::Asc => o.column.clone(),
                Direction::Desc => format!("-{}", o.column),
            })
            .collect();
        let mut doc = serde_json::Map::new();
        if let Some(select) = &self.select {
            doc.insert("select".into(), serde_json::json!(select));
        }
        if let Some(filter) = &self.filter {
            let shown = redacted(filter, redact).to_string();
            doc.insert("filter".into(), serde_json::json!(shown));
        }
        if !order.is_empty() {
            doc.insert("order".into(), serde_json::json!(order));
        }
        if !self.group_by.is_empty() {
            doc.insert("group_by".into(), serde_json::json!(self.group_by));
        }
        if !self.aggregates.is_empty() {
            let aggs: Vec<String> = self
                .aggregates
                .iter()
                .map(|a| {
                    format!(
                        "{}({})",
                        a.function.name(),
                        a.column.as_deref().unwrap_or("*")
                    )
                })
                .collect();
            doc.insert("aggregates".into(), serde_json::json!(aggs));
        }
        let text = serde_json::Value::Object(doc).to_string();
        if text.len() <= MAX_AUDIT_QUERY {
            return text;
        }
        let mut cut = MAX_AUDIT_QUERY;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        serde_json::json!({"truncated": text.get(..cut).unwrap_or("")}).to_string()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::data::query::parse_filter;

    fn body(filter: &str) -> QueryBody {
        QueryBody {
            filter: Some(parse_filter(filter).unwrap()),
            ..QueryBody::default()
        }
    }

    #[test]
    fn values_compared_with_protected_columns_are_replaced() {
        let q = body("income > 50000 and state = 'CA' or income in (1, 2) or name like 'Jo%'");
        let protected = ["income".to_string(), "name".to_string()];
        let text = q.audit_text_redacting(Redact::Columns(&protected));
        assert!(!text.contains("50000") && !text.contains("Jo%"), "{text}");
        assert!(
            text.contains("'CA'") && text.contains("income > '***'"),
            "{text}"
        );
        let all = q.audit_text_redacting(Redact::All);
        assert!(!all.contains("CA") && !all.contains("50000"), "{all}");
        assert!(q.audit_text().contains("50000"));
    }
}
