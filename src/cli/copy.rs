//! `kaifang copy --to postgres://…`: moves a SQLite deployment onto
//! PostgreSQL — settings (cursor and mask keys), catalogue, policy rules and
//! revisions, grants, column rules, every dataset version table and the
//! audit log with its checkpoints — row for row, so hashes, signatures and
//! `audit verify` hold on the copy. Values travel as JSON: SQLite renders
//! each row with `json_object`, PostgreSQL reads it with
//! `json_populate_recordset` into the target's own column types, so every
//! value is bound, never spliced into SQL. Fair-use counters stay behind:
//! a SQLite deployment keeps them in memory, so its tables are empty.

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::data::sql::{Dialect, SqlBuilder};
use crate::data::store;
use crate::data::types::Value;
use crate::db::{AnyConnection, Db};
use crate::error::{Error, Result};

/// Metadata tables, parents before children (foreign keys).
const TABLES: &[&str] = &[
    "settings",
    "organizations",
    "datasets",
    "dataset_tags",
    "dataset_versions",
    "api_keys",
    "policy_rules",
    "policy_revisions",
    "access_requests",
    "grants",
    "column_rules",
    "audit_records",
    "audit_checkpoints",
];

/// Tables whose id comes from a sequence on PostgreSQL: after explicit ids
/// were copied in, the sequence must continue above them.
const SERIAL_TABLES: &[&str] = &[
    "organizations",
    "datasets",
    "dataset_versions",
    "policy_rules",
    "audit_records",
    "audit_checkpoints",
];

/// Rows per INSERT: one JSON array each.
const BATCH: i64 = 2000;

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Json {
    #[diesel(sql_type = Text)]
    j: String,
}

fn sqlite_columns(conn: &mut SqliteConnection, table: &str) -> Result<Vec<String>> {
    let names: Vec<Name> = diesel::sql_query("SELECT name FROM pragma_table_info(?) ORDER BY cid")
        .bind::<Text, _>(table)
        .load(conn)?;
    Ok(names.into_iter().map(|n| n.name).collect())
}

/// Copies every row of `table` from `from` to `to`; returns the count.
fn copy_table(from: &mut SqliteConnection, to: &mut AnyConnection, table: &str) -> Result<u64> {
    let AnyConnection::Postgres(to) = to else {
        return Err(Error::bad_request("the copy's target must be PostgreSQL"));
    };
    let columns = sqlite_columns(from, table)?;
    if columns.is_empty() {
        return Err(Error::internal(
            "copying",
            format!("table {table} has no columns"),
        ));
    }
    let mut copied = 0u64;
    let mut offset: i64 = 0;
    loop {
        // One JSON array of row objects per batch, keys bound as values.
        let mut b = SqlBuilder::new(Dialect::Sqlite);
        b.push("SELECT COALESCE(json_group_array(json(o)), '[]') AS j FROM (SELECT json_object(");
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                b.push(", ");
            }
            b.push_bind(Value::Text(c.clone())).push(", ").push_ident(c);
        }
        b.push(") AS o FROM ")
            .push_ident(table)
            .push(" ORDER BY rowid LIMIT ");
        b.push_bind(Value::Int(BATCH))
            .push(" OFFSET ")
            .push_bind(Value::Int(offset));
        b.push(")");
        let rows: Vec<Json> = store::sqlite_query(b.sql(), b.binds()).load(from)?;
        let json = rows.into_iter().next().map(|r| r.j).unwrap_or_default();
        let n = serde_json::from_str::<Vec<serde_json::Value>>(&json)
            .map_err(|e| Error::internal("reading rows to copy", e))?
            .len() as u64;
        if n == 0 {
            return Ok(copied);
        }
        let mut p = SqlBuilder::new(Dialect::Postgres);
        p.push("INSERT INTO ")
            .push_ident(table)
            .push(" SELECT * FROM json_populate_recordset(NULL::");
        p.push_ident(table).push(", ");
        p.push_bind(Value::Text(json)).push("::json)");
        store::pg_query(p.sql(), p.binds())
            .execute(to)
            .map_err(|e| Error::internal(format!("copying {table}"), e))?;
        copied += n;
        offset += BATCH;
    }
}

/// Copies the SQLite deployment behind `from` into the empty PostgreSQL
/// database behind `to` (migrated first). Prints one line per table.
pub fn copy(from: &Db, to: &Db) -> Result<()> {
    let mut src = from.get()?;
    let mut dst = to.get()?;
    let (AnyConnection::Sqlite(s), AnyConnection::Postgres(_)) = (&mut *src, &*dst) else {
        return Err(Error::bad_request(
            "kaifang copy goes from a SQLite deployment (database_url) to PostgreSQL (--to postgres://…)",
        ));
    };
    let d: &mut AnyConnection = &mut dst;
    let existing: i64 = crate::db::schema::datasets::table.count().get_result(d)?;
    if existing > 0 {
        return Err(Error::bad_request(
            "the target database already holds datasets; copy into an empty database",
        ));
    }
    d.transaction::<_, Error, _>(|d| {
        // The gateway stored PostgreSQL-only settings (mask pads) at start;
        // the copy brings the source's keys, from which they follow again.
        diesel::sql_query("DELETE FROM settings").execute(d)?;
        diesel::sql_query("DELETE FROM policy_rules").execute(d)?;
        diesel::sql_query("DELETE FROM policy_revisions").execute(d)?;
        for table in TABLES {
            let n = copy_table(s, d, table)?;
            println!("{table}: {n} rows");
        }
        let versions: Vec<Name> =
            diesel::sql_query("SELECT table_name AS name FROM dataset_versions").load(s)?;
        for v in versions {
            let schema: Vec<Json> = diesel::sql_query(
                "SELECT column_schema AS j FROM dataset_versions WHERE table_name = ?",
            )
            .bind::<Text, _>(&v.name)
            .load(s)?;
            let columns: Vec<crate::data::types::Column> = schema
                .first()
                .map(|j| serde_json::from_str(&j.j))
                .transpose()
                .map_err(|e| Error::internal("reading a version's columns", e))?
                .unwrap_or_default();
            store::create_table(d, &v.name, &columns)?;
            let n = copy_table(s, d, &v.name)?;
            println!("{}: {n} rows", v.name);
        }
        for table in SERIAL_TABLES {
            let mut p = SqlBuilder::new(Dialect::Postgres);
            p.push("SELECT setval(pg_get_serial_sequence(")
                .push_bind(Value::Text((*table).to_string()))
                .push(", 'id'), (SELECT COALESCE(MAX(id), 0) + 1 FROM ")
                .push_ident(table)
                .push("), false)");
            store::execute(d, p.sql(), p.binds())?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tables left behind, and why: a SQLite deployment counts fair use in
    /// memory, so its counter tables are always empty.
    const NOT_COPIED: &[&str] = &["fair_use_buckets", "fair_use_days"];

    /// A table added by a migration but forgotten here would be lost by
    /// every copy without a word.
    #[test]
    fn every_table_is_copied_or_left_behind_on_purpose() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
        let mut created = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let up = std::fs::read_to_string(entry.unwrap().path().join("up.sql")).unwrap();
            for line in up.lines() {
                if let Some(rest) = line.trim().strip_prefix("CREATE TABLE ") {
                    let name = rest.trim_start_matches("IF NOT EXISTS ");
                    // The audit log's tables, made in its attached file.
                    let name = name.trim_start_matches("audit.");
                    let name: String = name
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    created.push(name);
                }
            }
        }
        assert!(created.len() > 10, "{created:?}");
        for table in &created {
            assert!(
                TABLES.contains(&table.as_str()) || NOT_COPIED.contains(&table.as_str()),
                "table {table} is neither copied (TABLES) nor in NOT_COPIED"
            );
        }
    }
}
