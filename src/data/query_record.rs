//! How a query is written into the audit log: its select, filter, order
//! and grouping as compact JSON, cut at a fixed size.

use super::request::{Direction, QueryBody};

/// Longest query text kept in an audit record; a filter of many values is
/// cut there (the record says so) rather than bloating the log.
const MAX_AUDIT_QUERY: usize = 16 * 1024;

impl QueryBody {
    /// The query as the audit log keeps it: select, filter, order and
    /// grouping as compact JSON; the cursor, which only repeats a position,
    /// is left out.
    pub fn audit_text(&self) -> String {
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
            doc.insert("filter".into(), serde_json::json!(filter.to_string()));
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
