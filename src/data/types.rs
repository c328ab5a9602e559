//! The vocabulary shared by import, query and export: column types, column
//! descriptions and the typed values that travel as bound SQL parameters.
//! Nothing here touches a database.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The type of a dataset column, inferred at import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(example = "integer")]
pub enum ColumnType {
    /// 64-bit signed integer.
    Integer,
    /// 64-bit floating point number.
    Real,
    /// `true` or `false`.
    Boolean,
    /// Calendar date, `YYYY-MM-DD`.
    Date,
    /// Instant in UTC, RFC 3339 (`2013-01-01T10:00:00Z`).
    Timestamp,
    /// Any UTF-8 text.
    Text,
}

impl ColumnType {
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::Integer => "integer",
            ColumnType::Real => "real",
            ColumnType::Boolean => "boolean",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
            ColumnType::Text => "text",
        }
    }

    /// Numeric columns can be summed and averaged.
    pub fn is_numeric(self) -> bool {
        matches!(self, ColumnType::Integer | ColumnType::Real)
    }
}

impl std::fmt::Display for ColumnType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One column of a dataset version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Column {
    /// Column name exactly as in the source header.
    #[schema(example = "carrier")]
    pub name: String,
    /// Inferred type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
}

/// A typed value as stored and as bound into SQL. Dates and timestamps
/// travel as their canonical text (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ`),
/// which sorts and compares correctly as text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Bool(bool),
    Text(String),
}

/// Canonical text of a date: exactly `YYYY-MM-DD`, a real calendar day.
pub fn canonical_date(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| d.format("%Y-%m-%d").to_string())
}

/// Canonical text of a timestamp: UTC, whole seconds, `YYYY-MM-DDTHH:MM:SSZ`.
///
/// Accepts RFC 3339 with any offset (converted to UTC) and naive
/// `YYYY-MM-DD HH:MM:SS` / `YYYY-MM-DDTHH:MM:SS` (taken as UTC). Values with
/// a non-zero fraction of a second are refused: keeping whole seconds is what
/// lets the canonical text sort in time order.
pub fn canonical_timestamp(s: &str) -> Option<String> {
    use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
    // Every accepted form starts with a date; this cheap check keeps the
    // common non-timestamp text out of chrono's parsers.
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    let utc: DateTime<Utc> = if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        t.with_timezone(&Utc)
    } else {
        let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
            .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
            .ok()?;
        naive.and_utc()
    };
    if utc.nanosecond() != 0 {
        return None;
    }
    Some(utc.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_strict() {
        assert_eq!(canonical_date("2013-01-31").as_deref(), Some("2013-01-31"));
        assert_eq!(canonical_date("2013-02-30"), None);
        assert_eq!(canonical_date("2013-1-31"), None);
        assert_eq!(canonical_date("01001"), None);
    }

    #[test]
    fn timestamps_become_utc_whole_seconds() {
        assert_eq!(
            canonical_timestamp("2013-01-01T10:00:00Z").as_deref(),
            Some("2013-01-01T10:00:00Z")
        );
        assert_eq!(
            canonical_timestamp("2013-01-01T10:00:00+02:00").as_deref(),
            Some("2013-01-01T08:00:00Z")
        );
        assert_eq!(
            canonical_timestamp("2013-01-01 10:00:00").as_deref(),
            Some("2013-01-01T10:00:00Z")
        );
        assert_eq!(
            canonical_timestamp("2013-01-01T10:00:00.000Z").as_deref(),
            Some("2013-01-01T10:00:00Z")
        );
        assert_eq!(canonical_timestamp("2013-01-01T10:00:00.5Z"), None);
        assert_eq!(canonical_timestamp("2013-01-01"), None);
        assert_eq!(canonical_timestamp("hello world, a long text"), None);
    }
}
