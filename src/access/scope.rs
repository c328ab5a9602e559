//! What a request or grant may name: columns of the dataset's current version and a row
//! filter in the query language over them.

use crate::data::query::{columns_used, parse_filter};
use crate::data::types::Column;
use crate::error::{Error, Result};

/// Refuses column names the dataset does not have, naming them and the real ones.
pub fn check_columns(wanted: &[String], columns: &[Column]) -> Result<()> {
    if wanted.is_empty() {
        return Err(Error::bad_request(
            "columns is empty; omit it to ask for every column",
        ));
    }
    let unknown: Vec<&str> = wanted
        .iter()
        .filter(|w| !columns.iter().any(|c| &c.name == *w))
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    Err(Error::bad_request(format!(
        "unknown column(s) {}; the dataset's columns are: {}",
        unknown
            .iter()
            .map(|u| format!("'{}'", u.chars().take(60).collect::<String>()))
            .collect::<Vec<_>>()
            .join(", "),
        names.join(", ")
    )))
}

/// Refuses a row filter that does not parse or names an unknown column.
pub fn check_row_filter(filter: &str, columns: &[Column]) -> Result<()> {
    let expr = parse_filter(filter)
        .map_err(|e| Error::bad_request(format!("row_filter does not parse: {e}")))?;
    let used: Vec<String> = columns_used(&expr).into_iter().map(str::to_owned).collect();
    if used.is_empty() {
        return Ok(());
    }
    check_columns(&used, columns)
        .map_err(|e| Error::bad_request(format!("row_filter: {}", e.detail())))
}
