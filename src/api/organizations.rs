//! Organisation handlers.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::datasets::page_bounds;
use super::etag::json_with_etag;
use super::params::PageParams;
use super::state::AppState;
use crate::auth::Principal;
use crate::catalog::{self, Organization};
use crate::error::Result;
use crate::policy;

/// A page of organisations.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationList {
    /// The organisations of this page.
    pub data: Vec<Organization>,
    /// Organisations with at least one dataset the caller may see (all, for an administrator).
    #[schema(example = 5)]
    pub total: i64,
    /// Page size used.
    #[schema(example = 50)]
    pub limit: u32,
    /// Offset used.
    #[schema(example = 0)]
    pub offset: u32,
}

/// List the publishing organisations with how many of their datasets the caller can see.
#[utoipa::path(
    tag = "catalog",
    params(
        PageParams,
        ("If-None-Match" = Option<String>, Header, description = "ETag of a page the client holds; 304 when it is still what this caller would get", example = "\"5f2a9c0b1d3e4f67\"")
    ),
    responses(
        (status = 200, description = "A page of organisations", body = OrganizationList,
            headers(("ETag" = String, description = "Changes whenever this page, as this caller sees it, changes"))),
        (status = 304, description = "The page named by If-None-Match is still current",
            headers(("ETag" = String, description = "The current ETag"))),
        (status = 400, description = "A parameter is invalid"),
        (status = 401, description = "The credentials are invalid"),
    ),
    security((), ("bearer" = []), ("api_key" = []))
)]
#[get("/v1/organizations")]
pub async fn list_organizations(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    params: web::Query<PageParams>,
) -> Result<HttpResponse> {
    let (limit, offset) = page_bounds(params.limit, params.offset)?;
    let visible = policy::visibility(&state.policy.current(), &policy::identities(&principal));
    let (data, total) = state
        .db
        .run(move |conn| {
            catalog::list_organizations(conn, &visible, i64::from(limit), i64::from(offset))
        })
        .await?;
    json_with_etag(
        &req,
        &OrganizationList {
            data,
            total,
            limit,
            offset,
        },
    )
}
