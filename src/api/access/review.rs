//! The review of an access request: approval, which may narrow what was asked and
//! creates the grant, and rejection with a reason the applicant sees.

use actix_web::{post, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Reason, columns_of};
use crate::access::{self, AccessRequest, Approval, Grant};
use crate::api::datasets::authorize;
use crate::api::state::AppState;
use crate::audit::Note;
use crate::auth::Principal;
use crate::catalog::DatasetRecord;
use crate::db::AnyConnection;
use crate::error::{Error, Result};
use crate::policy::{Action, Engine};

/// An approval's outcome: the request, now approved, and the grant it created.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovedRequest {
    /// The request, now `approved`, with `grant_id` set.
    pub request: AccessRequest,
    /// The grant the approval created.
    pub grant: Grant,
}

/// The request `id` if `principal` may review its dataset; otherwise as if it did not
/// exist, unless the caller can see the dataset (then 403).
fn request_to_review(
    conn: &mut AnyConnection,
    engine: &Engine,
    principal: &Principal,
    note: &Note,
    id: &str,
) -> Result<(AccessRequest, DatasetRecord)> {
    let request = access::find(conn, id)?
        .ok_or_else(|| Error::not_found("no access request with that id"))?;
    let dataset = authorize(
        conn,
        engine,
        principal,
        note,
        &request.dataset,
        Action::AccessReview,
    )?;
    Ok((request, dataset))
}

/// Approve a pending request, optionally narrowing columns, rows, duration or adding a
/// row quota; the grant is in force from the applicant's next request.
#[utoipa::path(
    tag = "access",
    operation_id = "approve_access_request",
    params(("id" = String, Path, description = "Request id", example = "a8521c1166168b83")),
    request_body = Approval,
    responses(
        (status = 200, description = "The approved request and its grant", body = ApprovedRequest),
        (status = 400, description = "The approval widens the request, or a column or row filter is invalid"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not review requests for this dataset"),
        (status = 404, description = "No such request"),
        (status = 409, description = "The request was decided already"),
        (status = 413, description = "The body is too large"),
        (status = 415, description = "The body is not JSON"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[post("/v1/access-requests/{id}/approve")]
pub async fn approve_access_request(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    id: web::Path<String>,
    body: web::Json<Approval>,
) -> Result<web::Json<ApprovedRequest>> {
    let engine = state.policy.current();
    let id = id.into_inner();
    let approval = body.into_inner();
    let note_for = note.clone();
    let (request, grant) = state
        .db
        .run(move |conn| {
            let (_, dataset) = request_to_review(conn, &engine, &principal, &note_for, &id)?;
            let columns = columns_of(conn, &dataset)?;
            access::approve(
                conn,
                &id,
                dataset.id,
                &columns,
                &principal.subject(),
                &approval,
            )
        })
        .await?;
    note.update(|d| d.rule = Some(format!("grant:{}", grant.id)));
    Ok(web::Json(ApprovedRequest { request, grant }))
}

/// Reject a pending request with a reason the applicant sees.
#[utoipa::path(
    tag = "access",
    operation_id = "reject_access_request",
    params(("id" = String, Path, description = "Request id", example = "a8521c1166168b83")),
    request_body = Reason,
    responses(
        (status = 200, description = "The rejected request", body = AccessRequest),
        (status = 400, description = "The reason is missing"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not review requests for this dataset"),
        (status = 404, description = "No such request"),
        (status = 409, description = "The request was decided already"),
        (status = 413, description = "The body is too large"),
        (status = 415, description = "The body is not JSON"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[post("/v1/access-requests/{id}/reject")]
pub async fn reject_access_request(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    id: web::Path<String>,
    body: web::Json<Reason>,
) -> Result<web::Json<AccessRequest>> {
    let engine = state.policy.current();
    let id = id.into_inner();
    let reason = body.into_inner().reason;
    let request = state
        .db
        .run(move |conn| {
            request_to_review(conn, &engine, &principal, &note, &id)?;
            access::reject(conn, &id, &principal.subject(), &reason)
        })
        .await?;
    Ok(web::Json(request))
}
