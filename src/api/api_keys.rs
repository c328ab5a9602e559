//! API keys for programs, managed by administrators: create (the secret is
//! shown once), list without secrets, revoke.

use actix_web::{HttpResponse, delete, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::params::PageParams;

use crate::api::state::AppState;
use crate::audit::Note;
use crate::auth::Principal;
use crate::auth::api_keys::{self, ApiKeyInfo, CreatedApiKey, NewApiKey};
use crate::error::Result;

fn require(state: &AppState, principal: &Principal, note: &Note) -> Result<()> {
    let engine = state.policy.current();
    crate::api::guard::require(
        &engine,
        principal,
        note,
        "policy",
        "policy:admin",
        "managing API keys",
    )
}

/// A page of API keys, newest first, without secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    /// The keys on this page.
    pub data: Vec<ApiKeyInfo>,
    /// All keys, revoked ones included.
    #[schema(example = 1)]
    pub total: i64,
    /// The page size used.
    #[schema(example = 50)]
    pub limit: u32,
    /// Keys skipped before this page.
    #[schema(example = 0)]
    pub offset: u32,
}

/// Create an API key; the response holds its secret, shown only this once.
#[utoipa::path(
    tag = "admin",
    operation_id = "create_api_key",
    request_body = NewApiKey,
    responses(
        (status = 201, description = "The key, with its secret", body = CreatedApiKey),
        (status = 400, description = "The owner, a role or the expiry is invalid"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller is not an administrator"),
        (status = 413, description = "The body is too large"),
        (status = 415, description = "The body is not JSON"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[post("/v1/admin/api-keys")]
pub async fn create_api_key(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    body: web::Json<NewApiKey>,
) -> Result<HttpResponse> {
    require(&state, &principal, &note)?;
    let new = body.into_inner();
    let by = principal.subject();
    let created = state
        .db
        .run(move |conn| api_keys::create(conn, &new, &by))
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// List API keys without their secrets.
#[utoipa::path(
    tag = "admin",
    operation_id = "list_api_keys",
    params(PageParams),
    responses(
        (status = 200, description = "A page of keys", body = ApiKeyList),
        (status = 400, description = "A parameter is invalid"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller is not an administrator"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[get("/v1/admin/api-keys")]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    params: web::Query<PageParams>,
) -> Result<web::Json<ApiKeyList>> {
    require(&state, &principal, &note)?;
    let (limit, offset) = crate::api::datasets::page_bounds(params.limit, params.offset)?;
    let (data, total) = state
        .db
        .run(move |conn| api_keys::list(conn, i64::from(limit), i64::from(offset)))
        .await?;
    Ok(web::Json(ApiKeyList {
        data,
        total,
        limit,
        offset,
    }))
}

/// Revoke an API key; it is refused from the next request on.
#[utoipa::path(
    tag = "admin",
    operation_id = "revoke_api_key",
    params(("id" = String, Path, description = "The key's id", example = "f3ccfd85e0d1")),
    responses(
        (status = 200, description = "The revoked key", body = ApiKeyInfo),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller is not an administrator"),
        (status = 404, description = "No key with that id"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[delete("/v1/admin/api-keys/{id}")]
pub async fn revoke_api_key(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    id: web::Path<String>,
) -> Result<web::Json<ApiKeyInfo>> {
    require(&state, &principal, &note)?;
    let id = id.into_inner();
    let info = state
        .db
        .run(move |conn| api_keys::revoke(conn, &id))
        .await?;
    Ok(web::Json(info))
}
