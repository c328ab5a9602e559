//! Dataset versions: each import makes one, with its own row table; the
//! dataset's pointer to its current version moves in one transaction.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::datasets::DatasetRecord;
use crate::data::types::Column;
use crate::db::AnyConnection;
use crate::db::schema::{dataset_versions, datasets};
use crate::error::{Error, Result};

/// A version as the rooms below the API see it.
#[derive(Debug, Clone)]
pub struct VersionRecord {
    pub id: i64,
    pub dataset_id: i64,
    pub number: i32,
    pub table_name: String,
    pub row_count: i64,
    pub columns: Vec<Column>,
    pub indexed: Vec<String>,
    pub source_name: String,
    pub source_sha256: String,
    pub source_bytes: i64,
    pub imported_at: String,
    pub imported_by: String,
}

/// A published version of a dataset.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionInfo {
    /// Version number, counting from 1.
    #[schema(example = 1)]
    pub number: i32,
    /// Rows in this version.
    #[schema(example = 20000)]
    pub row_count: i64,
    /// Columns that carry an index (fast to filter and sort on).
    #[schema(example = json!(["carrier", "origin", "dest", "time_hour"]))]
    pub indexed: Vec<String>,
    /// Name of the imported file.
    #[schema(example = "bts_nyc_flights_2013_first20000.csv")]
    pub source_name: String,
    /// SHA-256 of the imported file, hex.
    #[schema(example = "7b31bc78e4e571fedd4ece0bd12f7d3a47fadc5ae4cb14d3d8362e9c9da4e2de")]
    pub source_sha256: String,
    /// Size of the imported file in bytes.
    #[schema(example = 1834545)]
    pub source_bytes: i64,
    /// When the version was published (RFC 3339).
    #[schema(example = "2026-11-29T06:23:48Z")]
    pub imported_at: String,
    /// Who published it: the caller's subject, `cli:<user>` for `kaifang import`, or `demo`.
    #[schema(example = "demo")]
    pub imported_by: String,
}

impl VersionRecord {
    pub fn info(&self) -> VersionInfo {
        VersionInfo {
            number: self.number,
            row_count: self.row_count,
            indexed: self.indexed.clone(),
            source_name: self.source_name.clone(),
            source_sha256: self.source_sha256.clone(),
            source_bytes: self.source_bytes,
            imported_at: self.imported_at.clone(),
            imported_by: self.imported_by.clone(),
        }
    }
}

type Row = (
    i64,
    i64,
    i32,
    String,
    i64,
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
);

macro_rules! version_columns {
    () => {
        (
            dataset_versions::id,
            dataset_versions::dataset_id,
            dataset_versions::number,
            dataset_versions::table_name,
            dataset_versions::row_count,
            dataset_versions::column_schema,
            dataset_versions::indexed,
            dataset_versions::source_name,
            dataset_versions::source_sha256,
            dataset_versions::source_bytes,
            dataset_versions::imported_at,
            dataset_versions::imported_by,
        )
    };
}

fn record(row: Row) -> Result<VersionRecord> {
    let (id, dataset_id, number, table_name, row_count, columns, indexed, name, sha, bytes, at, by) =
        row;
    Ok(VersionRecord {
        id,
        dataset_id,
        number,
        table_name,
        row_count,
        columns: serde_json::from_str(&columns)
            .map_err(|e| Error::internal("reading version columns", e))?,
        indexed: serde_json::from_str(&indexed)
            .map_err(|e| Error::internal("reading version indexes", e))?,
        source_name: name,
        source_sha256: sha,
        source_bytes: bytes,
        imported_at: at,
        imported_by: by,
    })
}

pub(super) fn list_versions(
    conn: &mut AnyConnection,
    dataset_id: i64,
) -> Result<Vec<VersionRecord>> {
    let rows: Vec<Row> = dataset_versions::table
        .filter(dataset_versions::dataset_id.eq(dataset_id))
        .order(dataset_versions::number.desc())
        .limit(1000)
        .select(version_columns!())
        .load(conn)?;
    rows.into_iter().map(record).collect()
}

/// The version readers see now, if the dataset has data.
pub fn current_version(
    conn: &mut AnyConnection,
    dataset: &DatasetRecord,
) -> Result<Option<VersionRecord>> {
    let Some(id) = dataset.current_version_id else {
        return Ok(None);
    };
    let row: Option<Row> = dataset_versions::table
        .find(id)
        .select(version_columns!())
        .first(conn)
        .optional()?;
    row.map(record).transpose()
}

/// What an import made, ready to become the current version.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub table_name: String,
    pub row_count: i64,
    pub columns: Vec<Column>,
    pub indexed: Vec<String>,
    pub source_name: String,
    pub source_sha256: String,
    pub source_bytes: i64,
    pub imported_by: String,
}

/// Records `new` as the next version of the dataset and makes it current,
/// in one transaction that takes the write lock first (so two imports
/// finishing together number their versions one after the other). Returns
/// the new version and the table of the version it replaced, which the
/// caller may drop.
pub fn record_version(
    conn: &mut AnyConnection,
    dataset_id: i64,
    new: &NewVersion,
) -> Result<(VersionRecord, Option<String>)> {
    let columns =
        serde_json::to_string(&new.columns).map_err(|e| Error::internal("encoding columns", e))?;
    let indexed =
        serde_json::to_string(&new.indexed).map_err(|e| Error::internal("encoding indexes", e))?;
    conn.transaction(|conn| {
        // Writing the dataset row first takes the write lock (SQLite) or the
        // row lock (PostgreSQL) before anything is read, so imports that
        // finish together are numbered one after the other.
        let now = super::now_text();
        diesel::update(datasets::table.find(dataset_id))
            .set(datasets::updated_at.eq(&now))
            .execute(conn)?;
        let max: Option<i32> = dataset_versions::table
            .filter(dataset_versions::dataset_id.eq(dataset_id))
            .select(diesel::dsl::max(dataset_versions::number))
            .first(conn)?;
        let number = max.unwrap_or(0) + 1;
        let previous: Option<i64> = datasets::table
            .find(dataset_id)
            .select(datasets::current_version_id)
            .first(conn)?;
        let old_table: Option<String> = match previous {
            Some(v) => Some(
                dataset_versions::table
                    .find(v)
                    .select(dataset_versions::table_name)
                    .first(conn)?,
            ),
            None => None,
        };
        diesel::insert_into(dataset_versions::table)
            .values((
                dataset_versions::dataset_id.eq(dataset_id),
                dataset_versions::number.eq(number),
                dataset_versions::table_name.eq(&new.table_name),
                dataset_versions::row_count.eq(new.row_count),
                dataset_versions::column_schema.eq(&columns),
                dataset_versions::indexed.eq(&indexed),
                dataset_versions::source_name.eq(&new.source_name),
                dataset_versions::source_sha256.eq(&new.source_sha256),
                dataset_versions::source_bytes.eq(new.source_bytes),
                dataset_versions::imported_at.eq(&now),
                dataset_versions::imported_by.eq(&new.imported_by),
            ))
            .execute(conn)?;
        let row: Row = dataset_versions::table
            .filter(dataset_versions::dataset_id.eq(dataset_id))
            .filter(dataset_versions::number.eq(number))
            .select(version_columns!())
            .first(conn)?;
        let version = record(row)?;
        diesel::update(datasets::table.find(dataset_id))
            .set((
                datasets::current_version_id.eq(Some(version.id)),
                datasets::updated_at.eq(&now),
            ))
            .execute(conn)?;
        super::note_change(conn)?;
        Ok((version, old_table))
    })
}

/// Every table name a version still points to (to find orphans of a crash).
pub fn live_tables(conn: &mut AnyConnection) -> Result<Vec<String>> {
    Ok(datasets::table
        .inner_join(
            dataset_versions::table
                .on(datasets::current_version_id.eq(dataset_versions::id.nullable())),
        )
        .select(dataset_versions::table_name)
        .load(conn)?)
}
