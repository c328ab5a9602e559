//! Grants: what an approval gives one subject on one dataset, until it expires or is
//! revoked. Whether a grant is in force is decided when it is used, against the clock.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::catalog::now_text;
use crate::db::schema::{datasets, grants};
use crate::db::{AnyConnection, write_transaction};
use crate::error::{Error, Result};

/// A grant as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Grant {
    /// The grant's id, 16 hex digits; the `{id}` of the revoke route.
    #[schema(example = "9d8d8e2fb3534da3")]
    pub id: String,
    /// The request it answers.
    #[schema(example = "a8521c1166168b83")]
    pub request_id: String,
    /// The dataset's slug.
    #[schema(example = "us-census-acs-2012-sample")]
    pub dataset: String,
    /// The grantee.
    #[schema(example = "user:rita")]
    pub subject: String,
    /// Columns granted; null for all.
    #[schema(example = json!(["income", "hrs_work"]))]
    pub columns: Option<Vec<String>>,
    /// Rows granted, in the query language; null for all.
    #[schema(example = "age >= 18")]
    pub row_filter: Option<String>,
    /// Most rows per day under this grant; null for no quota of its own.
    #[schema(example = 10000)]
    pub row_quota: Option<i64>,
    /// When the request was approved and the grant began (RFC 3339, UTC).
    #[schema(example = "2026-11-29T06:24:19Z")]
    pub created_at: String,
    /// The reviewer who approved it.
    #[schema(example = "user:ci-admin")]
    pub created_by: String,
    /// When it ends (RFC 3339).
    #[schema(example = "2027-01-28T06:24:19Z")]
    pub expires_at: String,
    /// When a reviewer revoked it (RFC 3339, UTC); null while not revoked.
    #[schema(example = "2026-12-15T09:30:00Z")]
    pub revoked_at: Option<String>,
    /// The reviewer who revoked it; null while not revoked.
    #[schema(example = "user:ci-admin")]
    pub revoked_by: Option<String>,
    /// Why it was revoked, shown to the grantee; null while not revoked.
    #[schema(example = "The thesis was submitted; access no longer needed")]
    pub revoke_reason: Option<String>,
}

impl Grant {
    /// In force at `now` (RFC 3339, UTC, seconds; the stored format compares as text).
    pub fn active_at(&self, now: &str) -> bool {
        self.revoked_at.is_none() && self.expires_at.as_str() > now
    }
}

/// What the grants of one subject on one dataset allow right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantCheck {
    /// A grant in force (the newest, when several are).
    Active(Grant),
    /// Only grants that expired or were revoked; the newest of them.
    Lapsed(Grant),
    None,
}

type Row = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

macro_rules! grant_columns {
    () => {
        (
            grants::id,
            grants::request_id,
            datasets::slug,
            grants::subject,
            grants::column_list,
            grants::row_filter,
            grants::row_quota,
            grants::created_at,
            grants::created_by,
            grants::expires_at,
            grants::revoked_at,
            grants::revoked_by,
            grants::revoke_reason,
        )
    };
}

fn from_row(row: Row) -> Result<Grant> {
    let columns = row
        .4
        .map(|c| serde_json::from_str(&c))
        .transpose()
        .map_err(|e| Error::internal("reading granted columns", e))?;
    Ok(Grant {
        id: row.0,
        request_id: row.1,
        dataset: row.2,
        subject: row.3,
        columns,
        row_filter: row.5,
        row_quota: row.6,
        created_at: row.7,
        created_by: row.8,
        expires_at: row.9,
        revoked_at: row.10,
        revoked_by: row.11,
        revoke_reason: row.12,
    })
}

pub(super) fn insert_grant(conn: &mut AnyConnection, dataset_id: i64, grant: &Grant) -> Result<()> {
    let columns = grant
        .columns
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| Error::internal("writing granted columns", e))?;
    diesel::insert_into(grants::table)
        .values((
            grants::id.eq(&grant.id),
            grants::request_id.eq(&grant.request_id),
            grants::dataset_id.eq(dataset_id),
            grants::subject.eq(&grant.subject),
            grants::column_list.eq(columns),
            grants::row_filter.eq(&grant.row_filter),
            grants::row_quota.eq(grant.row_quota),
            grants::created_at.eq(&grant.created_at),
            grants::created_by.eq(&grant.created_by),
            grants::expires_at.eq(&grant.expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The grants `subject` holds on dataset `dataset_id`, judged at this moment.
pub fn check_grant(conn: &mut AnyConnection, subject: &str, dataset_id: i64) -> Result<GrantCheck> {
    let rows: Vec<Row> = grants::table
        .inner_join(datasets::table)
        .filter(grants::subject.eq(subject))
        .filter(grants::dataset_id.eq(dataset_id))
        .order(grants::created_at.desc())
        .select(grant_columns!())
        .load(conn)?;
    let all: Vec<Grant> = rows.into_iter().map(from_row).collect::<Result<_>>()?;
    let now = now_text();
    Ok(match all.iter().find(|g| g.active_at(&now)) {
        Some(active) => GrantCheck::Active(active.clone()),
        None => all
            .into_iter()
            .next()
            .map_or(GrantCheck::None, GrantCheck::Lapsed),
    })
}

/// Grants filtered by subject and by datasets (`None`: all), newest first, and how many.
pub fn list_grants(
    conn: &mut AnyConnection,
    subject: Option<&str>,
    dataset_ids: Option<&[i64]>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Grant>, i64)> {
    let build = || {
        let mut q = grants::table.inner_join(datasets::table).into_boxed();
        if let Some(s) = subject {
            q = q.filter(grants::subject.eq(s.to_owned()));
        }
        if let Some(ids) = dataset_ids {
            q = q.filter(grants::dataset_id.eq_any(ids.to_vec()));
        }
        q
    };
    let total: i64 = build().count().get_result(conn)?;
    let rows: Vec<Row> = build()
        .order((grants::created_at.desc(), grants::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(grant_columns!())
        .load(conn)?;
    Ok((
        rows.into_iter().map(from_row).collect::<Result<_>>()?,
        total,
    ))
}

/// The grant with `id` and its dataset's id.
pub fn find_grant(conn: &mut AnyConnection, id: &str) -> Result<Option<(Grant, i64)>> {
    let row: Option<(Row, i64)> = grants::table
        .inner_join(datasets::table)
        .filter(grants::id.eq(id))
        .select((grant_columns!(), grants::dataset_id))
        .first(conn)
        .optional()?;
    row.map(|(r, d)| from_row(r).map(|g| (g, d))).transpose()
}

/// Revokes grant `id` as `by`; in force until this commits, refused from the next request.
pub fn revoke_grant(conn: &mut AnyConnection, id: &str, by: &str, reason: &str) -> Result<Grant> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(Error::bad_request(
            "give the grantee a reason of 1 to 2000 characters",
        ));
    }
    write_transaction(conn, |conn| {
        let (grant, _) =
            find_grant(conn, id)?.ok_or_else(|| Error::not_found("no grant with that id"))?;
        if grant.revoked_at.is_some() {
            return Err(Error::conflict(format!("grant {id} is revoked already")));
        }
        diesel::update(grants::table.filter(grants::id.eq(id)))
            .set((
                grants::revoked_at.eq(now_text()),
                grants::revoked_by.eq(by),
                grants::revoke_reason.eq(reason),
            ))
            .execute(conn)?;
        find_grant(conn, id)?
            .map(|(g, _)| g)
            .ok_or_else(|| Error::not_found("no grant with that id"))
    })
}
