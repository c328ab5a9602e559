//! Publishing a CSV file as a new version of a dataset. The file is read
//! twice, streaming: once to validate it and infer column types, once to
//! load the rows into a new table beside the current one. Only when the new
//! table is complete and indexed does the dataset's pointer move, in one
//! short transaction; on any failure the new table is dropped and the
//! previous version stays exactly as it was.

use std::path::Path;

use diesel::Connection;

use super::copy_in;
use super::csv::{self, ScanProgress};
use super::store::{self, Inserter};
use crate::catalog::{self, DatasetRecord, NewVersion, VersionRecord};
use crate::db::AnyConnection;
use crate::error::{Error, Result};

/// Rows inserted per transaction: small enough that other writers (and the
/// audit log) are not kept waiting behind a long import.
const ROWS_PER_TRANSACTION: u64 = 20_000;

/// Most columns a dataset may have (SQLite allows 2000 per table).
const MAX_COLUMNS: usize = 1000;

/// Callbacks that report an import's progress (a progress bar, a log line).
pub trait ImportProgress {
    fn scanned(&mut self, _bytes: u64, _rows: u64) {}
    fn loading(&mut self, _done: u64, _total: u64) {}
    fn indexing(&mut self, _columns: &[String]) {}
}

/// Reports nothing.
pub struct NoProgress;
impl ImportProgress for NoProgress {}

/// Where the file came from and who publishes it, for the version record.
#[derive(Debug, Clone)]
pub struct ImportSource {
    pub name: String,
    pub imported_by: String,
}

/// Imports `path` as the next version of `dataset` and makes it current.
/// Blocking: run it on a blocking thread.
pub fn import_file(
    conn: &mut AnyConnection,
    dataset: &DatasetRecord,
    path: &Path,
    source: &ImportSource,
    progress: &mut dyn ImportProgress,
) -> Result<VersionRecord> {
    let scan = csv::scan(path, &mut |p: ScanProgress| {
        progress.scanned(p.bytes, p.rows)
    })
    .map_err(|e| Error::bad_request(format!("the CSV file was not imported: {e}")))?;
    if scan.columns.len() > MAX_COLUMNS {
        return Err(Error::bad_request(format!(
            "the CSV file has {} columns; at most {MAX_COLUMNS} are allowed",
            scan.columns.len()
        )));
    }
    // Each attempt builds its own table, so concurrent imports of one
    // dataset never touch each other's rows; the version number is taken
    // only when the finished table is switched in.
    let table = store::table_name(dataset.id);
    store::create_table(conn, &table, &scan.columns)?;
    let loaded = load_rows(conn, &table, path, &scan, progress).and_then(|rows| {
        progress.indexing(&scan.indexed);
        store::create_indexes(conn, &table, &scan.indexed)?;
        let new = NewVersion {
            table_name: table.clone(),
            row_count: i64::try_from(rows).unwrap_or(i64::MAX),
            columns: scan.columns.clone(),
            indexed: scan.indexed.clone(),
            source_name: source.name.clone(),
            source_sha256: scan.sha256.clone(),
            source_bytes: i64::try_from(scan.bytes).unwrap_or(i64::MAX),
            imported_by: source.imported_by.clone(),
        };
        catalog::record_version(conn, dataset.id, &new)
    });
    match loaded {
        Ok((version, old_table)) => {
            if let Some(old) = old_table
                && let Err(e) = store::drop_table(conn, &old)
            {
                // The new version is live; a stale table only costs disk
                // and is collected at the next start.
                tracing::warn!(error = %e, table = %old, "could not drop the replaced version's table");
            }
            Ok(version)
        }
        Err(e) => {
            if let Err(drop_err) = store::drop_table(conn, &table) {
                tracing::warn!(error = %drop_err, table = %table, "could not drop a failed import's table");
            }
            Err(e)
        }
    }
}

fn load_rows(
    conn: &mut AnyConnection,
    table: &str,
    path: &Path,
    scan: &csv::Scan,
    progress: &mut dyn ImportProgress,
) -> Result<u64> {
    let mut rows = csv::rows(path, &scan.columns)
        .map_err(|e| Error::bad_request(format!("the CSV file was not imported: {e}")))?;
    let mut inserter = Inserter::new(conn, table, &scan.columns);
    let mut done: u64 = 0;
    // Before the first batch, so a rate measured from here counts it.
    progress.loading(0, scan.rows);
    loop {
        let mut batch_end = false;
        conn.transaction::<_, Error, _>(|conn| match conn {
            // PostgreSQL's bulk path; SQLite has none faster than prepared
            // multi-row INSERTs.
            AnyConnection::Postgres(pg) => {
                let mut taken: u64 = 0;
                let mut next = || {
                    if taken == ROWS_PER_TRANSACTION {
                        return None;
                    }
                    match rows.next() {
                        None => {
                            batch_end = true;
                            None
                        }
                        Some(Err(e)) => Some(Err(Error::bad_request(format!(
                            "the CSV file was not imported: {e}"
                        )))),
                        Some(Ok(row)) => {
                            taken += 1;
                            done += 1;
                            Some(Ok((i64::try_from(done).unwrap_or(i64::MAX), row)))
                        }
                    }
                };
                copy_in::copy_rows(pg, table, &scan.columns, &mut next).map(|_| ())
            }
            AnyConnection::Sqlite(_) => {
                for _ in 0..ROWS_PER_TRANSACTION {
                    match rows.next() {
                        Some(row) => {
                            let row = row.map_err(|e| {
                                Error::bad_request(format!("the CSV file was not imported: {e}"))
                            })?;
                            done += 1;
                            inserter.push(conn, i64::try_from(done).unwrap_or(i64::MAX), row)?;
                        }
                        None => {
                            batch_end = true;
                            break;
                        }
                    }
                }
                inserter.flush(conn)
            }
        })?;
        progress.loading(done, scan.rows);
        if batch_end {
            return Ok(done);
        }
    }
}
