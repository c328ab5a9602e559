//! Loading a version table on PostgreSQL with `COPY … FROM STDIN` (text
//! format), the server's bulk path: no statement to parse or plan per batch
//! and no bound parameters. Values reach the table as the same text the
//! INSERT path casts (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ`), so both paths
//! store the same thing. It must never commit: the caller's transaction
//! decides, and a failed COPY leaves that transaction to roll back.

use std::cell::RefCell;
use std::io::Write;

use diesel::pg::{CopyTarget, PgConnection};
use diesel::prelude::*;
use diesel::query_builder::AstPass;

use super::sql::{Dialect, SqlBuilder};
use super::store::ROW_COLUMN;
use super::types::{Column, Value};
use crate::error::{Error, Result};

/// Bytes gathered before they are handed to libpq: one call per row would
/// cost more than the formatting.
const CHUNK_BYTES: usize = 64 * 1024;

diesel::table! {
    /// Stands in for the version table in diesel's types only: `copy_from`
    /// wants a `Table`, and [`VersionTable`] writes the real name.
    kaifang_copy_target (__row) {
        __row -> BigInt,
    }
}

thread_local! {
    /// The quoted table name and column list of the COPY running on this
    /// thread. diesel 2.3's `CopyTarget::walk_target` takes no `self`
    /// (targets are tables known at compile time), so a table named at run
    /// time reaches the statement this way; it is set and cleared around
    /// one synchronous `execute` in [`copy_rows`].
    static TARGET: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The version table being loaded, as a COPY target.
struct VersionTable;

impl CopyTarget for VersionTable {
    type Table = kaifang_copy_target::table;
    type SqlType = diesel::sql_types::BigInt;

    fn walk_target(mut pass: AstPass<'_, '_, diesel::pg::Pg>) -> QueryResult<()> {
        TARGET.with(|t| {
            let target = t.borrow();
            if target.is_empty() {
                return Err(diesel::result::Error::QueryBuilderError(
                    "COPY target not set".into(),
                ));
            }
            pass.push_sql(&target);
            Ok(())
        })
    }
}

/// Clears the thread's target even when the COPY panics or fails.
struct TargetGuard;

impl TargetGuard {
    fn set(target: String) -> TargetGuard {
        TARGET.with(|t| *t.borrow_mut() = target);
        TargetGuard
    }
}

impl Drop for TargetGuard {
    fn drop(&mut self) {
        TARGET.with(|t| t.borrow_mut().clear());
    }
}

/// Appends `v` in COPY's text format: `\N` for null, `t`/`f`, and
/// backslash escapes for the characters that delimit fields and rows.
fn push_field(buf: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => buf.extend_from_slice(b"\\N"),
        // write! into a Vec cannot fail.
        Value::Int(i) => {
            let _ = write!(buf, "{i}");
        }
        // `{:?}` is the shortest text that reads back to the same double
        // (`-0.0`, `1e300`, `5e-324`), which PostgreSQL parses exactly.
        Value::Real(f) => {
            let _ = write!(buf, "{f:?}");
        }
        Value::Bool(b) => buf.push(if *b { b't' } else { b'f' }),
        Value::Text(s) => {
            for &c in s.as_bytes() {
                match c {
                    b'\\' => buf.extend_from_slice(b"\\\\"),
                    b'\t' => buf.extend_from_slice(b"\\t"),
                    b'\n' => buf.extend_from_slice(b"\\n"),
                    b'\r' => buf.extend_from_slice(b"\\r"),
                    _ => buf.push(c),
                }
            }
        }
    }
}

/// The statement's target: `"table" ("__row", "a", …)`.
fn target_sql(table: &str, columns: &[Column]) -> String {
    let mut b = SqlBuilder::new(Dialect::Postgres);
    b.push_ident(table).push(" (").push_ident(ROW_COLUMN);
    for c in columns {
        b.push(", ").push_ident(&c.name);
    }
    b.push(")");
    b.sql().to_string()
}

/// Copies the rows `next` yields (each with its row number) into `table`,
/// until it yields `None`; returns how many were copied. An `Err` from
/// `next` aborts the COPY and is returned as it is.
pub fn copy_rows(
    conn: &mut PgConnection,
    table: &str,
    columns: &[Column],
    next: &mut dyn FnMut() -> Option<Result<(i64, Vec<Value>)>>,
) -> Result<u64> {
    let next = RefCell::new(next);
    // diesel reports a COPY the callback aborted as the server's error
    // ("COPY from stdin failed: …"); the caller's own error is kept here.
    let failure: RefCell<Option<Error>> = RefCell::new(None);
    let copied = std::cell::Cell::new(0u64);
    let _guard = TargetGuard::set(target_sql(table, columns));
    let query = diesel::copy_from(kaifang_copy_target::table).from_raw_data(
        VersionTable,
        |out: &mut dyn Write| -> std::result::Result<(), diesel::result::Error> {
            let mut next = next.borrow_mut();
            let mut buf: Vec<u8> = Vec::with_capacity(CHUNK_BYTES + 4096);
            loop {
                let row = match (*next)() {
                    None => break,
                    Some(Ok(row)) => row,
                    Some(Err(e)) => {
                        let message = e.to_string();
                        *failure.borrow_mut() = Some(e);
                        return Err(diesel::result::Error::QueryBuilderError(message.into()));
                    }
                };
                let (number, values) = row;
                let _ = write!(buf, "{number}");
                for v in &values {
                    buf.push(b'\t');
                    push_field(&mut buf, v);
                }
                buf.push(b'\n');
                copied.set(copied.get() + 1);
                if buf.len() >= CHUNK_BYTES {
                    out.write_all(&buf)
                        .map_err(|e| diesel::result::Error::QueryBuilderError(e.into()))?;
                    buf.clear();
                }
            }
            out.write_all(&buf)
                .map_err(|e| diesel::result::Error::QueryBuilderError(e.into()))
        },
    );
    let result = diesel::ExecuteCopyFromDsl::execute(query, conn);
    if let Some(e) = failure.into_inner() {
        return Err(e);
    }
    result.map_err(|e| Error::internal(format!("copying rows into {table}"), e))?;
    Ok(copied.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(values: &[Value]) -> String {
        let mut buf = Vec::new();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                buf.push(b'\t');
            }
            push_field(&mut buf, v);
        }
        String::from_utf8(buf).unwrap_or_default()
    }

    #[test]
    fn fields_are_escaped_for_the_text_format() {
        assert_eq!(
            line(&[
                Value::Null,
                Value::Int(-42),
                Value::Bool(true),
                Value::Bool(false),
                Value::Text("a\tb\nc\rd\\e \\N".to_string()),
                Value::Text(String::new()),
            ]),
            "\\N\t-42\tt\tf\ta\\tb\\nc\\rd\\\\e \\\\N\t"
        );
    }

    #[test]
    fn reals_keep_every_bit() {
        for f in [0.1, -0.0, 1e300, 5e-324, 1.7976931348623157e308, 10.0] {
            let text = line(&[Value::Real(f)]);
            let back: f64 = text.parse().unwrap_or(f64::NAN);
            assert_eq!(back.to_bits(), f.to_bits(), "{text}");
        }
    }

    #[test]
    fn the_target_quotes_every_name() {
        let columns = vec![Column {
            name: "say \"x\"".to_string(),
            ty: super::super::types::ColumnType::Text,
        }];
        assert_eq!(
            target_sql("ds_1_ab", &columns),
            "\"ds_1_ab\" (\"__row\", \"say \"\"x\"\"\")"
        );
    }
}
