//! Access requests: what an applicant files (checked against the dataset's columns and
//! the longest access allowed), and finding and listing them; their review (withdraw,
//! approve, reject) is in `review`.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::scope::check_columns;
use super::{MAX_DURATION_DAYS, new_id};
use crate::catalog::{DatasetRecord, now_text};
use crate::data::types::Column;
use crate::db::schema::{access_requests, datasets};
use crate::db::{AnyConnection, write_transaction};
use crate::error::{Error, Result};

/// Where an access request stands: `pending` until a reviewer approves or rejects it or
/// the applicant withdraws it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "pending")]
pub enum RequestStatus {
    Pending,
    Approved,
    Rejected,
    Withdrawn,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Rejected => "rejected",
            RequestStatus::Withdrawn => "withdrawn",
        }
    }

    fn parse(s: &str) -> Result<RequestStatus> {
        match s {
            "pending" => Ok(RequestStatus::Pending),
            "approved" => Ok(RequestStatus::Approved),
            "rejected" => Ok(RequestStatus::Rejected),
            "withdrawn" => Ok(RequestStatus::Withdrawn),
            other => Err(Error::internal(
                "reading an access request",
                format!("unknown status '{other}'"),
            )),
        }
    }
}

/// What an applicant sends.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccessRequest {
    /// What the data is for, 10 to 2,000 characters; the reviewer reads it.
    #[schema(
        example = "Study of commute times and income for a master thesis",
        min_length = 10,
        max_length = 2000
    )]
    pub purpose: String,
    /// Columns wanted; omit for all.
    #[schema(example = json!(["income", "time_to_work", "hrs_work"]))]
    pub columns: Option<Vec<String>>,
    /// Days of access wanted, 1 to 366.
    #[schema(example = 90, minimum = 1, maximum = 366)]
    pub duration_days: i32,
    /// Must be true: the applicant accepts the dataset's terms of use (its licence).
    #[schema(example = true)]
    pub accept_terms: bool,
}

/// A reviewer's approval, optionally narrower than what was asked.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// Columns granted: a subset of those requested (all columns when the request named
    /// none); omit to grant what was asked.
    #[schema(example = json!(["income", "hrs_work"]))]
    pub columns: Option<Vec<String>>,
    /// Rows granted, in the query language, ANDed into every query under the grant.
    #[schema(example = "age >= 18")]
    pub row_filter: Option<String>,
    /// Days granted, at most those requested; omit to grant what was asked.
    #[schema(example = 60, minimum = 1, maximum = 366)]
    pub duration_days: Option<i32>,
    /// Most rows the grantee may receive under this grant per day.
    #[schema(example = 10000, minimum = 1)]
    pub row_quota: Option<i64>,
    /// Note to the applicant.
    #[schema(example = "Approved for the thesis; income only with hours.")]
    pub note: Option<String>,
}

/// An access request as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AccessRequest {
    /// The request's id, 16 hex digits; the `{id}` of the review and withdraw routes.
    #[schema(example = "a8521c1166168b83")]
    pub id: String,
    /// The dataset's slug.
    #[schema(example = "us-census-acs-2012-sample")]
    pub dataset: String,
    /// The applicant.
    #[schema(example = "user:rita")]
    pub subject: String,
    /// What the data is for, as the applicant wrote it.
    #[schema(example = "Study of commute times and income for a master thesis")]
    pub purpose: String,
    /// Columns asked for; null for all.
    #[schema(example = json!(["income", "time_to_work", "hrs_work"]))]
    pub columns: Option<Vec<String>>,
    /// Days of access asked for.
    #[schema(example = 90)]
    pub duration_days: i32,
    /// Where the request stands.
    pub status: RequestStatus,
    /// When it was filed (RFC 3339, UTC).
    #[schema(example = "2026-11-29T06:24:19Z")]
    pub created_at: String,
    /// When it was approved, rejected or withdrawn (RFC 3339, UTC); null while pending.
    #[schema(example = "2026-11-29T08:02:41Z")]
    pub decided_at: Option<String>,
    /// Who decided it: the reviewer, or the applicant for a withdrawal; null while pending.
    #[schema(example = "user:ci-admin")]
    pub decided_by: Option<String>,
    /// The reviewer's note or rejection reason.
    #[schema(example = "Approved for the thesis; income only with hours.")]
    pub decision_note: Option<String>,
    /// The grant an approval created.
    #[schema(example = "9d8d8e2fb3534da3")]
    pub grant_id: Option<String>,
}

/// Which requests to list.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub subject: Option<String>,
    /// Only requests for these datasets (a reviewer's); `None` for all.
    pub dataset_ids: Option<Vec<i64>>,
    pub status: Option<RequestStatus>,
    pub limit: i64,
    pub offset: i64,
}

type Row = (
    String,
    String,
    String,
    String,
    Option<String>,
    i32,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

macro_rules! request_columns {
    () => {
        (
            access_requests::id,
            datasets::slug,
            access_requests::subject,
            access_requests::purpose,
            access_requests::column_list,
            access_requests::duration_days,
            access_requests::status,
            access_requests::created_at,
            access_requests::decided_at,
            access_requests::decided_by,
            access_requests::decision_note,
            access_requests::grant_id,
        )
    };
}

fn from_row(row: Row) -> Result<AccessRequest> {
    let columns = row
        .4
        .map(|c| serde_json::from_str(&c))
        .transpose()
        .map_err(|e| Error::internal("reading requested columns", e))?;
    Ok(AccessRequest {
        id: row.0,
        dataset: row.1,
        subject: row.2,
        purpose: row.3,
        columns,
        duration_days: row.5,
        status: RequestStatus::parse(&row.6)?,
        created_at: row.7,
        decided_at: row.8,
        decided_by: row.9,
        decision_note: row.10,
        grant_id: row.11,
    })
}

pub(super) fn check_duration(days: i32) -> Result<()> {
    if !(1..=MAX_DURATION_DAYS).contains(&days) {
        return Err(Error::bad_request(format!(
            "duration_days must be 1 to {MAX_DURATION_DAYS}, not {days}"
        )));
    }
    Ok(())
}

fn to_json(columns: &Option<Vec<String>>) -> Result<Option<String>> {
    columns
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| Error::internal("writing columns", e))
}

/// Files a request by `subject` for `dataset` (whose current columns are `columns`).
pub fn create(
    conn: &mut AnyConnection,
    dataset: &DatasetRecord,
    columns: &[Column],
    subject: &str,
    new: &NewAccessRequest,
) -> Result<AccessRequest> {
    if !new.accept_terms {
        return Err(Error::bad_request(format!(
            "set accept_terms to true to accept the dataset's terms of use ({})",
            dataset.licence
        )));
    }
    let purpose = new.purpose.trim();
    let length = purpose.chars().count();
    if !(10..=2000).contains(&length) {
        return Err(Error::bad_request(
            "purpose must say what the data is for in 10 to 2000 characters",
        ));
    }
    check_duration(new.duration_days)?;
    if let Some(wanted) = &new.columns {
        check_columns(wanted, columns)?;
    }
    let id = new_id();
    write_transaction(conn, |conn| {
        let pending: Option<String> = access_requests::table
            .filter(access_requests::dataset_id.eq(dataset.id))
            .filter(access_requests::subject.eq(subject))
            .filter(access_requests::status.eq(RequestStatus::Pending.as_str()))
            .select(access_requests::id)
            .first(conn)
            .optional()?;
        if let Some(existing) = pending {
            return Err(Error::conflict(format!(
                "you already have a pending request ({existing}) for this dataset; withdraw it with POST /v1/me/access-requests/{existing}/withdraw to file a new one"
            )));
        }
        diesel::insert_into(access_requests::table)
            .values((
                access_requests::id.eq(&id),
                access_requests::dataset_id.eq(dataset.id),
                access_requests::subject.eq(subject),
                access_requests::purpose.eq(purpose),
                access_requests::column_list.eq(to_json(&new.columns)?),
                access_requests::duration_days.eq(new.duration_days),
                access_requests::status.eq(RequestStatus::Pending.as_str()),
                access_requests::created_at.eq(now_text()),
            ))
            .execute(conn)?;
        find(conn, &id)?.ok_or_else(|| Error::internal("filing an access request", "row vanished"))
    })
}

/// The request with `id` and the id of its dataset.
pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<AccessRequest>> {
    let row: Option<Row> = access_requests::table
        .inner_join(datasets::table)
        .filter(access_requests::id.eq(id))
        .select(request_columns!())
        .first(conn)
        .optional()?;
    row.map(from_row).transpose()
}

/// Requests matching `filter`, newest first, and how many match.
pub fn list_requests(
    conn: &mut AnyConnection,
    filter: &RequestFilter,
) -> Result<(Vec<AccessRequest>, i64)> {
    let build = || {
        let mut q = access_requests::table
            .inner_join(datasets::table)
            .into_boxed();
        if let Some(s) = &filter.subject {
            q = q.filter(access_requests::subject.eq(s.clone()));
        }
        if let Some(ids) = &filter.dataset_ids {
            q = q.filter(access_requests::dataset_id.eq_any(ids.clone()));
        }
        if let Some(status) = filter.status {
            q = q.filter(access_requests::status.eq(status.as_str()));
        }
        q
    };
    let total: i64 = build().count().get_result(conn)?;
    let rows: Vec<Row> = build()
        .order((
            access_requests::created_at.desc(),
            access_requests::id.desc(),
        ))
        .limit(filter.limit)
        .offset(filter.offset)
        .select(request_columns!())
        .load(conn)?;
    let data = rows.into_iter().map(from_row).collect::<Result<_>>()?;
    Ok((data, total))
}
