//! The review of an access request: withdrawn by its applicant, approved
//! (creating a grant no wider than the request) or rejected by the owning
//! organisation. Each decision is one write transaction on a request still
//! pending, so two reviewers racing cannot both decide it.

use diesel::prelude::*;

use super::grants::{Grant, insert_grant};
use super::new_id;
use super::requests::{AccessRequest, Approval, RequestStatus, check_duration, find};
use super::scope::{check_columns, check_row_filter};
use crate::catalog::now_text;
use crate::data::types::Column;
use crate::db::schema::access_requests;
use crate::db::{AnyConnection, write_transaction};
use crate::error::{Error, Result};

fn pending(conn: &mut AnyConnection, id: &str) -> Result<AccessRequest> {
    let request = find(conn, id)?.ok_or_else(|| not_found(id))?;
    if request.status != RequestStatus::Pending {
        return Err(Error::conflict(format!(
            "request {id} is {} already; only pending requests can change",
            request.status.as_str()
        )));
    }
    Ok(request)
}

fn not_found(id: &str) -> Error {
    Error::not_found(format!(
        "no access request '{}' for you to act on",
        id.chars().take(40).collect::<String>()
    ))
}

fn decide(
    conn: &mut AnyConnection,
    id: &str,
    status: RequestStatus,
    by: &str,
    note: Option<&str>,
    grant: Option<&str>,
) -> Result<()> {
    diesel::update(access_requests::table.filter(access_requests::id.eq(id)))
        .set((
            access_requests::status.eq(status.as_str()),
            access_requests::decided_at.eq(now_text()),
            access_requests::decided_by.eq(by),
            access_requests::decision_note.eq(note),
            access_requests::grant_id.eq(grant),
        ))
        .execute(conn)?;
    Ok(())
}

/// Withdraws `subject`'s own pending request; another's is a 404.
pub fn withdraw(conn: &mut AnyConnection, id: &str, subject: &str) -> Result<AccessRequest> {
    write_transaction(conn, |conn| {
        let request = find(conn, id)?
            .filter(|r| r.subject == subject)
            .ok_or_else(|| not_found(id))?;
        pending(conn, &request.id)?;
        decide(conn, id, RequestStatus::Withdrawn, subject, None, None)?;
        find(conn, id)?.ok_or_else(|| not_found(id))
    })
}

/// Approves a pending request as `reviewer`, creating a grant no wider than the request.
/// `columns` are the dataset's current columns.
pub fn approve(
    conn: &mut AnyConnection,
    id: &str,
    dataset_id: i64,
    columns: &[Column],
    reviewer: &str,
    approval: &Approval,
) -> Result<(AccessRequest, Grant)> {
    write_transaction(conn, |conn| {
        let request = pending(conn, id)?;
        let granted_columns = match (&approval.columns, &request.columns) {
            (None, asked) => asked.clone(),
            (Some(given), asked) => {
                check_columns(given, columns)?;
                if let Some((asked, extra)) = asked
                    .as_ref()
                    .and_then(|a| given.iter().find(|c| !a.contains(c)).map(|e| (a, e)))
                {
                    return Err(Error::bad_request(format!(
                        "column '{extra}' was not requested; a grant can narrow a request, not widen it (requested: {})",
                        asked.join(", ")
                    )));
                }
                Some(given.clone())
            }
        };
        let days = approval.duration_days.unwrap_or(request.duration_days);
        check_duration(days)?;
        if days > request.duration_days {
            return Err(Error::bad_request(format!(
                "duration_days {days} is longer than the {} requested; a grant can shorten a request, not lengthen it",
                request.duration_days
            )));
        }
        if let Some(filter) = &approval.row_filter {
            check_row_filter(filter, columns)?;
        }
        if approval.row_quota.is_some_and(|q| q < 1) {
            return Err(Error::bad_request("row_quota must be at least 1"));
        }
        let grant_id = new_id();
        let expires = chrono::Utc::now() + chrono::Duration::days(i64::from(days));
        let grant = Grant {
            id: grant_id.clone(),
            request_id: request.id.clone(),
            dataset: request.dataset.clone(),
            subject: request.subject.clone(),
            columns: granted_columns,
            row_filter: approval.row_filter.clone(),
            row_quota: approval.row_quota,
            created_at: now_text(),
            created_by: reviewer.to_owned(),
            expires_at: expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            revoked_at: None,
            revoked_by: None,
            revoke_reason: None,
        };
        insert_grant(conn, dataset_id, &grant)?;
        decide(
            conn,
            id,
            RequestStatus::Approved,
            reviewer,
            approval.note.as_deref(),
            Some(&grant_id),
        )?;
        let request = find(conn, id)?.ok_or_else(|| not_found(id))?;
        Ok((request, grant))
    })
}

/// Rejects a pending request as `reviewer`, with a reason the applicant sees.
pub fn reject(
    conn: &mut AnyConnection,
    id: &str,
    reviewer: &str,
    reason: &str,
) -> Result<AccessRequest> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(Error::bad_request(
            "give the applicant a reason of 1 to 2000 characters",
        ));
    }
    write_transaction(conn, |conn| {
        pending(conn, id)?;
        decide(
            conn,
            id,
            RequestStatus::Rejected,
            reviewer,
            Some(reason),
            None,
        )?;
        find(conn, id)?.ok_or_else(|| not_found(id))
    })
}
