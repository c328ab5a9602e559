//! The `column_rules` table: one row per dataset and role. Rules are
//! replaced whole per dataset, in one transaction, so readers see the old
//! set or the new one, never a mix.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::rules::{RoleRules, Treatment};
use crate::db::AnyConnection;
use crate::db::schema::column_rules;
use crate::error::{Error, Result};

type Row = (String, String, String, Option<String>, String, String);

/// Who changed the rules last, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub at: String,
    pub by: String,
}

/// The rules of dataset `dataset_id`, by role, and the last change.
pub fn load(conn: &mut AnyConnection, dataset_id: i64) -> Result<(Vec<RoleRules>, Option<Stamp>)> {
    let rows: Vec<Row> = column_rules::table
        .filter(column_rules::dataset_id.eq(dataset_id))
        .order(column_rules::role.asc())
        .select((
            column_rules::role,
            column_rules::treatments,
            column_rules::buckets,
            column_rules::row_filter,
            column_rules::updated_at,
            column_rules::updated_by,
        ))
        .load(conn)?;
    let mut stamp = None;
    let mut out = Vec::with_capacity(rows.len());
    for (role, columns, buckets, row_filter, at, by) in rows {
        let columns: BTreeMap<String, Treatment> = serde_json::from_str(&columns)
            .map_err(|e| Error::internal("reading column rules", e))?;
        let buckets: BTreeMap<String, i64> = serde_json::from_str(&buckets)
            .map_err(|e| Error::internal("reading column rule buckets", e))?;
        out.push(RoleRules {
            role,
            columns,
            buckets,
            row_filter,
        });
        stamp = Some(Stamp { at, by });
    }
    Ok((out, stamp))
}

/// Makes `rules` the rules of dataset `dataset_id`.
pub fn replace(
    conn: &mut AnyConnection,
    dataset_id: i64,
    rules: &[RoleRules],
    author: &str,
) -> Result<()> {
    let now = crate::catalog::now_text();
    crate::db::write_transaction(conn, |conn| {
        diesel::delete(column_rules::table.filter(column_rules::dataset_id.eq(dataset_id)))
            .execute(conn)?;
        for r in rules {
            let columns = serde_json::to_string(&r.columns)
                .map_err(|e| Error::internal("encoding column rules", e))?;
            let buckets = serde_json::to_string(&r.buckets)
                .map_err(|e| Error::internal("encoding column rule buckets", e))?;
            diesel::insert_into(column_rules::table)
                .values((
                    column_rules::dataset_id.eq(dataset_id),
                    column_rules::role.eq(&r.role),
                    column_rules::treatments.eq(&columns),
                    column_rules::buckets.eq(&buckets),
                    column_rules::row_filter.eq(r.row_filter.as_deref()),
                    column_rules::updated_at.eq(&now),
                    column_rules::updated_by.eq(author),
                ))
                .execute(conn)?;
        }
        crate::catalog::note_change(conn)
    })
}
