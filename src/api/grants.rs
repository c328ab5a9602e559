//! Grants: listed per dataset and subject for reviewers, the caller's own, and revoked by
//! a reviewer of the dataset.

use actix_web::{get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access::{self, Grant};
use crate::api::access::{Reason, reviewable, signed_in};
use crate::api::datasets::{authorize, page_bounds};
use crate::api::state::AppState;
use crate::audit::Note;
use crate::auth::Principal;
use crate::catalog;
use crate::error::{Error, Result};
use crate::policy::Action;

/// A page of grants, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantList {
    /// The grants on this page.
    pub data: Vec<Grant>,
    /// Grants matching the filter, on every page.
    #[schema(example = 1)]
    pub total: i64,
    /// The page size used.
    #[schema(example = 50)]
    pub limit: u32,
    /// Grants skipped before this page.
    #[schema(example = 0)]
    pub offset: u32,
}

/// Which grants to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GrantParams {
    /// Only grants on this dataset (slug).
    #[param(example = "us-census-acs-2012-sample")]
    pub dataset: Option<String>,
    /// Only grants to this subject.
    #[param(example = "user:rita")]
    pub subject: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(example = 50, minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "crate::api::params::limit")]
    pub limit: Option<u32>,
    /// Items to skip.
    #[param(example = 0)]
    #[serde(default, deserialize_with = "crate::api::params::offset")]
    pub offset: Option<u32>,
}

/// List grants on the datasets the caller reviews, by dataset and subject.
#[utoipa::path(
    tag = "access",
    operation_id = "list_grants",
    params(GrantParams),
    responses(
        (status = 200, description = "A page of grants", body = GrantList),
        (status = 400, description = "A parameter is invalid"),
        (status = 401, description = "No or invalid credentials"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[get("/v1/grants")]
pub async fn list_grants(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    params: web::Query<GrantParams>,
) -> Result<web::Json<GrantList>> {
    signed_in(&principal, "listing grants")?;
    let params = params.into_inner();
    let (limit, offset) = page_bounds(params.limit, params.offset)?;
    let engine = state.policy.current();
    note.update(|d| d.action = Some(Action::AccessReview.as_str().to_owned()));
    let (data, total) = state
        .db
        .run(move |conn| {
            let mut ids = reviewable(conn, &engine, &principal)?;
            if let Some(slug) = &params.dataset {
                let only = catalog::DatasetSlug::parse(slug)
                    .ok()
                    .map(|s| catalog::find_dataset(conn, &s))
                    .transpose()?
                    .flatten()
                    .map(|d| d.id);
                ids.retain(|id| Some(*id) == only);
            }
            access::list_grants(
                conn,
                params.subject.as_deref(),
                Some(&ids),
                i64::from(limit),
                i64::from(offset),
            )
        })
        .await?;
    Ok(web::Json(GrantList {
        data,
        total,
        limit,
        offset,
    }))
}

/// List the caller's own grants, lapsed ones included.
#[utoipa::path(
    tag = "access",
    operation_id = "list_my_grants",
    params(crate::api::params::PageParams),
    responses(
        (status = 200, description = "A page of the caller's grants", body = GrantList),
        (status = 400, description = "A parameter is invalid"),
        (status = 401, description = "No or invalid credentials"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[get("/v1/me/grants")]
pub async fn list_my_grants(
    state: web::Data<AppState>,
    principal: Principal,
    params: web::Query<crate::api::params::PageParams>,
) -> Result<web::Json<GrantList>> {
    let subject = signed_in(&principal, "listing your grants")?;
    let (limit, offset) = page_bounds(params.limit, params.offset)?;
    let (data, total) = state
        .db
        .run(move |conn| {
            access::list_grants(
                conn,
                Some(&subject),
                None,
                i64::from(limit),
                i64::from(offset),
            )
        })
        .await?;
    Ok(web::Json(GrantList {
        data,
        total,
        limit,
        offset,
    }))
}

/// Revoke a grant; the grantee is refused from the next request on.
#[utoipa::path(
    tag = "access",
    operation_id = "revoke_grant",
    params(("id" = String, Path, description = "Grant id", example = "9d8d8e2fb3534da3")),
    request_body = Reason,
    responses(
        (status = 200, description = "The revoked grant", body = Grant),
        (status = 400, description = "The reason is missing"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not review this dataset's access"),
        (status = 404, description = "No such grant"),
        (status = 409, description = "The grant is revoked already"),
        (status = 413, description = "The body is too large"),
        (status = 415, description = "The body is not JSON"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[post("/v1/grants/{id}/revoke")]
pub async fn revoke_grant(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    id: web::Path<String>,
    body: web::Json<Reason>,
) -> Result<web::Json<Grant>> {
    let engine = state.policy.current();
    let id = id.into_inner();
    let reason = body.into_inner().reason;
    let note_for = note.clone();
    let grant = state
        .db
        .run(move |conn| {
            let (grant, _) = access::find_grant(conn, &id)?
                .ok_or_else(|| Error::not_found("no grant with that id"))?;
            authorize(
                conn,
                &engine,
                &principal,
                &note_for,
                &grant.dataset,
                Action::AccessReview,
            )?;
            access::revoke_grant(conn, &id, &principal.subject(), &reason)
        })
        .await?;
    note.update(|d| d.rule = Some(format!("grant:{}", grant.id)));
    Ok(web::Json(grant))
}
