//! Pass 1: reads the whole file once, checking every record and narrowing
//! each column's type, and reports what pass 2 and the table need. Must
//! never keep rows or values: memory is per column, not per row.

use std::path::Path;

use ::csv::ByteRecord;

use crate::data::types::Column;

use super::error::ImportError;
use super::index::{Distinct, wants_index};
use super::infer::Inference;
use super::records::{Records, field_str};

/// Rows between progress reports.
const PROGRESS_EVERY: u64 = 1 << 16;

/// How far the scan has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanProgress {
    /// Bytes of the file as stored (compressed, for gzip) read so far.
    pub bytes: u64,
    /// Data rows checked so far.
    pub rows: u64,
}

/// What a successful scan learned about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Columns in file order, with their inferred types.
    pub columns: Vec<Column>,
    /// Data rows, header excluded.
    pub rows: u64,
    /// Lowercase hex SHA-256 of the file as stored (compressed, for gzip).
    pub sha256: String,
    /// Size of the file as stored.
    pub bytes: u64,
    /// Names of the columns to index, in column order.
    pub indexed: Vec<String>,
}

/// Pass 1 over the CSV file at `path` (plain or gzip-compressed): validates
/// every record, infers column types and picks columns to index. Calls
/// `progress` every 65,536 rows and once at the end.
pub fn scan(path: &Path, progress: &mut dyn FnMut(ScanProgress)) -> Result<Scan, ImportError> {
    let mut records = Records::open(path, true)?;
    let width = records.names().len();
    let mut inference = vec![Inference::new(); width];
    let mut distinct: Vec<Distinct> = (0..width).map(|_| Distinct::default()).collect();
    let mut record = ByteRecord::new();
    let mut rows: u64 = 0;
    while let Some(line) = records.read(&mut record)? {
        let columns = inference.iter_mut().zip(distinct.iter_mut());
        for ((field, name), (inference, distinct)) in
            record.iter().zip(records.names()).zip(columns)
        {
            let value = field_str(field, line, name)?;
            inference.observe(value);
            distinct.observe(value);
        }
        rows += 1;
        if rows.is_multiple_of(PROGRESS_EVERY) {
            progress(ScanProgress {
                bytes: records.stored_bytes(),
                rows,
            });
        }
    }
    if rows == 0 {
        return Err(ImportError::new(
            1,
            None,
            "the file has a header row but no data rows; add at least one row of data",
        ));
    }
    let columns: Vec<Column> = records
        .names()
        .iter()
        .zip(&inference)
        .map(|(name, inference)| Column {
            name: name.clone(),
            ty: inference.finish(),
        })
        .collect();
    let indexed = columns
        .iter()
        .zip(&distinct)
        .filter(|(column, distinct)| wants_index(column.ty, distinct))
        .map(|(column, _)| column.name.clone())
        .collect();
    let (sha256, bytes) = records.finish()?;
    progress(ScanProgress { bytes, rows });
    Ok(Scan {
        columns,
        rows,
        sha256,
        bytes,
        indexed,
    })
}
