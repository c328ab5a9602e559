//! Pass 2: streams the file again and turns each record into typed values
//! for the columns the scan settled on. Inserting them is other code's job;
//! this file must never touch a database or buffer more than one record.

use std::path::Path;

use ::csv::ByteRecord;

use crate::data::types::{Column, ColumnType, Value, canonical_date, canonical_timestamp};

use super::error::{ImportError, excerpt};
use super::infer::{parse_bool, parse_integer, parse_real};
use super::records::{Records, field_str};

/// Typed rows of a scanned file, in file order. Ends after the first error.
pub struct Rows {
    records: Records,
    columns: Vec<Column>,
    record: ByteRecord,
    done: bool,
}

/// Pass 2 over the file at `path`, converting each record with `columns`
/// (normally `Scan::columns` from pass 1 over the same file). Fails at once
/// if the header no longer matches them.
pub fn rows(path: &Path, columns: &[Column]) -> Result<Rows, ImportError> {
    let records = Records::open(path, false)?;
    let same = records.names().len() == columns.len()
        && records
            .names()
            .iter()
            .zip(columns)
            .all(|(n, c)| *n == c.name);
    if !same {
        return Err(ImportError::new(
            1,
            None,
            "the header does not match the columns of the scan; the file changed since it \
             was scanned, so scan it again",
        ));
    }
    Ok(Rows {
        records,
        columns: columns.to_vec(),
        record: ByteRecord::new(),
        done: false,
    })
}

impl Rows {
    fn next_row(&mut self) -> Result<Option<Vec<Value>>, ImportError> {
        let Some(line) = self.records.read(&mut self.record)? else {
            return Ok(None);
        };
        let mut row = Vec::with_capacity(self.columns.len());
        for (field, column) in self.record.iter().zip(&self.columns) {
            row.push(convert(field, column, line)?);
        }
        Ok(Some(row))
    }
}

impl Iterator for Rows {
    type Item = Result<Vec<Value>, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_row();
        // Past an error the reader's position means nothing, so stop.
        self.done = !matches!(next, Ok(Some(_)));
        next.transpose()
    }
}

/// One field as a value of `column`'s type. Numbers and booleans are read
/// from the bytes directly: their grammars are ASCII, so any other byte is
/// simply a mismatch and no UTF-8 pass is needed.
fn convert(field: &[u8], column: &Column, line: u64) -> Result<Value, ImportError> {
    if field.is_empty() {
        return Ok(Value::Null);
    }
    let converted = match column.ty {
        ColumnType::Integer => parse_integer(field).map(Value::Int),
        ColumnType::Real => parse_real(field).map(Value::Real),
        ColumnType::Boolean => parse_bool(field).map(Value::Bool),
        ColumnType::Date => canonical_date(field_str(field, line, &column.name)?).map(Value::Text),
        ColumnType::Timestamp => {
            canonical_timestamp(field_str(field, line, &column.name)?).map(Value::Text)
        }
        ColumnType::Text => Some(Value::Text(
            field_str(field, line, &column.name)?.to_owned(),
        )),
    };
    converted.ok_or_else(|| {
        let text = String::from_utf8_lossy(field);
        ImportError::new(
            line,
            Some(&column.name),
            format!(
                "'{}' is not a valid {} value; the file changed since it was scanned, so \
                 scan it again",
                excerpt(&text),
                column.ty
            ),
        )
    })
}
