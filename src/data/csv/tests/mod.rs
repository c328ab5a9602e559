//! Tests of the import as a whole, through `scan` and `rows` on real files:
//! the rules in `rules.rs`, malformed and random input in `garbage.rs`, and
//! the shared datasets in `datasets.rs`.

mod datasets;
mod garbage;
mod rules;

use std::io::Write;

use super::*;
use crate::data::types::{ColumnType, Value};

/// A temporary file holding `bytes`, removed when dropped.
fn file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
    f
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn scan_bytes(bytes: &[u8]) -> Result<Scan, ImportError> {
    let f = file(bytes);
    scan(f.path(), &mut |_| {})
}

/// Scans `bytes`, then reads every row back with the scanned columns.
fn import(bytes: &[u8]) -> Result<(Scan, Vec<Vec<Value>>), ImportError> {
    let f = file(bytes);
    let scanned = scan(f.path(), &mut |_| {})?;
    let rows = rows(f.path(), &scanned.columns)?.collect::<Result<Vec<_>, _>>()?;
    Ok((scanned, rows))
}

fn types(scan: &Scan) -> Vec<ColumnType> {
    scan.columns.iter().map(|c| c.ty).collect()
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}
