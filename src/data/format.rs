//! The formats rows are answered in (JSON, CSV, NDJSON): their names, media
//! types and file extensions, and the one an `Accept` header asks for.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Error, Result};

/// Output format of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(example = "json")]
pub enum Format {
    /// `application/json`: `{"data": [...], "next_cursor": ..., "total": ...}`.
    Json,
    /// `text/csv` with a header row.
    Csv,
    /// `application/x-ndjson`: one JSON object per line.
    Ndjson,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "ndjson" | "jsonl" => Ok(Format::Ndjson),
            _ => Err(Error::bad_request(format!(
                "unknown format '{}'; formats are: json, csv, ndjson",
                s.chars().take(40).collect::<String>()
            ))),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Ndjson => "application/x-ndjson",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }

    /// The format an `Accept` header asks for; `None` when it names only
    /// types Kaifang cannot produce.
    pub fn from_accept(accept: Option<&str>) -> Option<Format> {
        let Some(accept) = accept else {
            return Some(Format::Json);
        };
        for part in accept.split(',') {
            let media = part
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            match media.as_str() {
                "application/json" | "application/*" | "*/*" | "application/problem+json" => {
                    return Some(Format::Json);
                }
                "text/csv" | "text/*" => return Some(Format::Csv),
                "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
                    return Some(Format::Ndjson);
                }
                _ => {}
            }
        }
        if accept.trim().is_empty() {
            Some(Format::Json)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        assert_eq!(Format::from_accept(None), Some(Format::Json));
        assert_eq!(Format::from_accept(Some("text/csv")), Some(Format::Csv));
        assert_eq!(
            Format::from_accept(Some("application/x-ndjson;q=1")),
            Some(Format::Ndjson)
        );
        assert_eq!(Format::from_accept(Some("image/png")), None);
    }
}
