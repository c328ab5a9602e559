//! CSV import: turns a CSV file already on disk into typed rows, in two
//! streaming passes with memory bounded per column, never per row.
//! [`scan`] (pass 1) checks every record, infers each column's type and
//! picks the columns to index; [`rows`] (pass 2) yields each record as
//! typed [`Value`](crate::data::types::Value)s for other code to insert.
//! This module must never touch a database, hold the whole file, or panic
//! on any input bytes: every problem is an [`ImportError`] naming the line
//! (where the record starts; the header is line 1) and column to fix.
//!
//! # What a file must look like
//! - UTF-8, with or without a byte order mark; gzip-compressed or not,
//!   decided by the magic bytes `1f 8b`, never by the name.
//! - A header row of unique names (ignoring case, as SQL does), each at
//!   most 128 bytes, without control characters, not starting with `__`
//!   (reserved for the gateway's own columns); at most 2,000 columns.
//! - Comma-separated, with records ended by LF, CRLF or CR. A field may be
//!   quoted to hold commas, line breaks and quotes written twice (`""`).
//!   Blank lines are skipped wherever they are (as the `csv` crate and
//!   pandas do), so a trailing blank line is fine.
//! - Every record has as many fields as the header; no field over 1 MiB,
//!   no record over 16 MiB; at least one data row.
//!
//! # Quotes
//! - A quote inside an unquoted field (`5'10"`) is taken literally, as
//!   RFC 4180-lenient readers do: it cannot mean anything else.
//! - Text after a closing quote (`"ab"c`) is refused. It is what an
//!   undoubled quote inside a quoted value looks like (`"say "hi""`), and
//!   any reading of it would guess.
//! - A quoted field still open at the end of the file is refused: the
//!   `csv` crate would silently close it, swallowing the rest of the file
//!   into one value. See `tracker.rs` for how this is detected.
//!
//! # Types (see `infer.rs`)
//! A column takes the first type in this list that all its non-empty
//! values fit; empty fields are missing values (`Null`) in any type, and a
//! column with no values at all is Text. Values are never trimmed.
//! - Integer: `-?[0-9]+` within i64, with no leading zero except `0`
//!   itself, so codes such as `01001` stay Text; `-0` and `+5` are Text.
//! - Real: an integer as above, or a finite decimal with a fraction or
//!   exponent (`1.5`, `-0.25`, `1e5`, `2.5E-3`) and the same leading-zero
//!   rule. `.5` is accepted (spreadsheets and hand-typed data write it);
//!   `5.`, `inf` and `NaN` are not.
//! - Boolean: `true` / `false` in any case.
//! - Date: `YYYY-MM-DD`; Timestamp: RFC 3339 or `YYYY-MM-DD HH:MM:SS`,
//!   whole seconds; both as judged by `types::canonical_date` /
//!   `canonical_timestamp`, and yielded in their canonical text.
//! - Text: anything else, yielded exactly as in the file.
//!
//! # Indexes (see `index.rs`)
//! Date and Timestamp columns are indexed; Text, Integer and Boolean
//! columns are indexed when they hold 2 to 1,000 distinct non-empty values.
//! Distinct values are counted by hash and counting stops past 1,000.

mod error;
mod header;
mod index;
mod infer;
mod records;
mod rows;
mod scan;
mod source;
mod tracker;

pub use error::ImportError;
pub use infer::{Inference, infer_type};
pub use rows::{Rows, rows};
pub use scan::{Scan, ScanProgress, scan};

#[cfg(test)]
mod tests;
