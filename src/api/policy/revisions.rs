//! Policy revisions: the history of the rules in force, one revision each, read
//! and restored by administrators.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{invalid, require_admin};
use crate::api::params::PageParams;
use crate::api::state::AppState;
use crate::audit::Note;
use crate::auth::Principal;
use crate::error::Result;
use crate::policy::store::{self, Author, RevisionInfo};
use crate::policy::{Rule, edits};

/// A page of revisions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionList {
    /// The revisions on this page, newest first.
    pub data: Vec<RevisionInfo>,
    /// Revisions there are.
    #[schema(example = 2)]
    pub total: i64,
    /// The page size used.
    #[schema(example = 50)]
    pub limit: u32,
    /// Revisions skipped before this page.
    #[schema(example = 0)]
    pub offset: u32,
}

/// List policy revisions, newest first.
#[utoipa::path(
    tag = "policy",
    operation_id = "list_policy_revisions",
    params(PageParams),
    responses(
        (status = 200, description = "A page of revisions", body = RevisionList),
        (status = 400, description = "A parameter is invalid"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not administer the policy"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[get("/v1/admin/policy/revisions")]
pub async fn list_policy_revisions(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    params: web::Query<PageParams>,
) -> Result<web::Json<RevisionList>> {
    require_admin(&state, &principal, &note)?;
    let (limit, offset) = crate::api::datasets::page_bounds(params.limit, params.offset)?;
    let (data, total) = state
        .db
        .run(move |conn| store::revisions(conn, i64::from(limit), i64::from(offset)))
        .await?;
    Ok(web::Json(RevisionList {
        data,
        total,
        limit,
        offset,
    }))
}

/// One revision and the full rule set in force right after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionDetail {
    /// Who made the revision, when and why.
    pub revision: RevisionInfo,
    /// Every rule in force right after it.
    pub rules: Vec<Rule>,
}

/// Read a revision: who made it, when, why, and the full rule set then.
#[utoipa::path(
    tag = "policy",
    operation_id = "get_policy_revision",
    params(("number" = i64, Path, description = "Revision number", example = 1)),
    responses(
        (status = 200, description = "The revision and its rule set", body = RevisionDetail),
        (status = 400, description = "The number is not a whole number"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not administer the policy"),
        (status = 404, description = "No such revision"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[get("/v1/admin/policy/revisions/{number}")]
pub async fn get_policy_revision(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    number: web::Path<i64>,
) -> Result<web::Json<RevisionDetail>> {
    require_admin(&state, &principal, &note)?;
    let number = number.into_inner();
    let (revision, rules) = state
        .db
        .run(move |conn| store::revision(conn, number))
        .await?;
    Ok(web::Json(RevisionDetail { revision, rules }))
}

/// Why a revision is restored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// Why, 1 to 500 characters; kept with the new revision.
    #[schema(
        example = "undo the researcher grant",
        min_length = 1,
        max_length = 500
    )]
    pub reason: String,
}

/// Restore a revision: its rule set becomes the rules in force, as a new revision.
#[utoipa::path(
    tag = "policy",
    operation_id = "restore_policy_revision",
    params(("number" = i64, Path, description = "Revision number", example = 1)),
    request_body = RestoreRequest,
    responses(
        (status = 201, description = "The new revision, equal in rules to the restored one", body = RevisionInfo),
        (status = 400, description = "The reason is missing"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not administer the policy"),
        (status = 404, description = "No such revision"),
        (status = 413, description = "The body is too large"),
        (status = 415, description = "The body is not JSON"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[post("/v1/admin/policy/revisions/{number}/restore")]
pub async fn restore_policy_revision(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    number: web::Path<i64>,
    body: web::Json<RestoreRequest>,
) -> Result<HttpResponse> {
    require_admin(&state, &principal, &note)?;
    let number = number.into_inner();
    let reason = edits::check_reason(&body.reason).map_err(invalid)?;
    let author = Author {
        subject: principal.subject(),
        reason: format!("restore of revision {number}: {reason}"),
    };
    let revision = state
        .db
        .run(move |conn| {
            let (_, rules) = store::revision(conn, number)?;
            store::replace_all(conn, &rules, &author)
        })
        .await?;
    state.policy.reload(&state.db).await?;
    Ok(HttpResponse::Created().json(revision))
}
