//! Admin routes of column rules: read and replace, per dataset, the
//! treatment of each column and the row filter for each role. Guarded like
//! the other policy edits (`policy:admin` on object `policy`).

use actix_web::{get, put, web};

use crate::api::guard;
use crate::api::state::AppState;
use crate::audit::Note;
use crate::auth::Principal;
use crate::catalog::{self, DatasetRecord, DatasetSlug};
use crate::db::AnyConnection;
use crate::error::{Error, Result};
use crate::masks::{self, ColumnRules, ColumnRulesEdit};

fn require_admin(state: &AppState, principal: &Principal, note: &Note) -> Result<()> {
    guard::require(
        &state.policy.current(),
        principal,
        note,
        "policy",
        "policy:admin",
        "managing column rules",
    )
}

fn dataset(conn: &mut AnyConnection, slug: &str) -> Result<DatasetRecord> {
    let missing = || {
        Error::not_found(format!(
            "no dataset named '{}'; list datasets with GET /v1/datasets",
            slug.chars().take(80).collect::<String>()
        ))
    };
    let parsed = DatasetSlug::parse(slug).map_err(|_| missing())?;
    catalog::find_dataset(conn, &parsed)?.ok_or_else(missing)
}

/// Read a dataset's column rules: per role, the treatment of columns and the row filter.
#[utoipa::path(
    tag = "policy",
    params(("slug" = String, Path, description = "Dataset slug", example = "us-census-acs-2012-sample")),
    responses(
        (status = 200, description = "The dataset's column rules", body = ColumnRules),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not administer the policy"),
        (status = 404, description = "No such dataset"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[get("/v1/admin/datasets/{slug}/column-rules")]
pub async fn get_column_rules(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    slug: web::Path<String>,
) -> Result<web::Json<ColumnRules>> {
    require_admin(&state, &principal, &note)?;
    let slug = slug.into_inner();
    note.update(|d| d.dataset = Some(slug.chars().take(80).collect()));
    let rules = state
        .db
        .run(move |conn| {
            let dataset = dataset(conn, &slug)?;
            masks::rules_of(conn, &dataset)
        })
        .await?;
    Ok(web::Json(rules))
}

/// Replace a dataset's column rules; in force from the next request.
#[utoipa::path(
    tag = "policy",
    params(("slug" = String, Path, description = "Dataset slug", example = "us-census-acs-2012-sample")),
    request_body = ColumnRulesEdit,
    responses(
        (status = 200, description = "The rules now in force", body = ColumnRules),
        (status = 400, description = "An unknown role or column, a bad bucket or a row filter that does not parse or fit the columns (the error names it and the valid choices)"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not administer the policy"),
        (status = 404, description = "No such dataset"),
        (status = 409, description = "The dataset has no data yet"),
        (status = 413, description = "The body is too large"),
        (status = 415, description = "The body is not JSON"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[put("/v1/admin/datasets/{slug}/column-rules")]
pub async fn set_column_rules(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    slug: web::Path<String>,
    body: web::Json<ColumnRulesEdit>,
) -> Result<web::Json<ColumnRules>> {
    require_admin(&state, &principal, &note)?;
    let slug = slug.into_inner();
    note.update(|d| d.dataset = Some(slug.chars().take(80).collect()));
    let author = principal.subject();
    let edit = body.into_inner();
    let rules = state
        .db
        .run(move |conn| {
            let dataset = dataset(conn, &slug)?;
            masks::set_rules(conn, &dataset, edit, &author)
        })
        .await?;
    Ok(web::Json(rules))
}
