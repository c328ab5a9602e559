//! Fair use over HTTP: the caller's own use and limits, and the limits in
//! force, read and changed by administrators (policy action `limits:admin`
//! on `limits`); every change is audited with its reason.

use actix_web::{HttpMessage, HttpRequest, delete, get, put, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access;
use crate::api::guard;
use crate::api::state::AppState;
use crate::audit::Note;
use crate::auth::Principal;
use crate::error::{Error, Result};
use crate::fair_use::{self as fair, FairUse, Limits, Meter, Source, UsageReport};

/// The caller's fair-use meter, left by the request pipeline.
pub(crate) fn meter_of(req: &HttpRequest) -> Option<Meter> {
    req.extensions().get::<Meter>().cloned()
}

fn require_limits_admin(state: &AppState, principal: &Principal, note: &Note) -> Result<()> {
    guard::require(
        &state.policy.current(),
        principal,
        note,
        "limits",
        "limits:admin",
        "administering the rate limits and quotas",
    )
}

/// The limits in force and where they come from.
#[derive(Debug, Serialize, ToSchema)]
pub struct LimitsView {
    /// The limits in force: the default and those of roles with their own.
    #[schema(example = json!({"default": {"rate_per_second": 10.0, "burst": 100, "daily_rows": 1000000, "daily_bytes": null},
        "roles": {"researcher": {"rate_per_second": 50.0, "burst": 200, "daily_rows": null, "daily_bytes": null}}}))]
    pub limits: Limits,
    /// `config` (the configuration file and variables) or `admin` (set through this API,
    /// kept in the database; wins over the configuration until deleted).
    #[schema(example = json!("admin"))]
    pub source: Source,
    /// When an administrator set them (RFC 3339); null when they come from the
    /// configuration.
    #[schema(example = "2026-11-29T06:30:00Z")]
    pub updated_at: Option<String>,
    /// Who set them; null when they come from the configuration.
    #[schema(example = "user:alice")]
    pub updated_by: Option<String>,
    /// Why; null when they come from the configuration.
    #[schema(example = "raise the researchers' daily rows for the census release")]
    pub reason: Option<String>,
}

/// New limits, replacing all of those in force.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLimits {
    /// The new limits, all of them: the default and every role with its own.
    #[schema(example = json!({"default": {"rate_per_second": 10.0, "burst": 100, "daily_rows": 1000000, "daily_bytes": null},
        "roles": {"researcher": {"rate_per_second": 50.0, "burst": 200, "daily_rows": null, "daily_bytes": null}}}))]
    pub limits: Limits,
    /// Why they change (1 to 2000 characters); kept with them and in the audit log.
    #[schema(example = "raise the researchers' daily rows for the census release")]
    pub reason: String,
}

/// Why the administrator's limits are dropped.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ResetParams {
    /// Why (1 to 2000 characters); kept in the audit log.
    #[param(example = "back to the configured limits after the release")]
    pub reason: String,
}

async fn view(state: &AppState, fair: &FairUse) -> Result<LimitsView> {
    let in_force = fair.in_force();
    let stored = match in_force.source {
        Source::Admin => state.db.run(fair::load_stored).await?,
        Source::Config => None,
    };
    Ok(LimitsView {
        limits: in_force.limits.clone(),
        source: in_force.source,
        updated_at: stored.as_ref().map(|s| s.updated_at.clone()),
        updated_by: stored.as_ref().map(|s| s.updated_by.clone()),
        reason: stored.map(|s| s.reason),
    })
}

/// Read the caller's use of data today and the limits that apply to it.
#[utoipa::path(
    tag = "fair use",
    operation_id = "get_my_usage",
    responses(
        (status = 200, description = "Rows and bytes of data sent to the caller today (UTC), its limits and what is left; anonymous callers are counted per client address", body = UsageReport),
        (status = 401, description = "The credentials are invalid"),
    ),
    security((), ("bearer" = []), ("api_key" = []))
)]
#[get("/v1/me/usage")]
pub async fn get_my_usage(
    req: HttpRequest,
    state: web::Data<AppState>,
    fair: web::Data<FairUse>,
    principal: Principal,
) -> Result<web::Json<UsageReport>> {
    let meter = meter_of(&req).ok_or_else(|| {
        Error::unavailable("fair use is not set up on this server; try again shortly")
    })?;
    let grants = match &principal {
        Principal::Anonymous => Vec::new(),
        p => {
            let subject = p.subject();
            state
                .db
                .run(move |conn| {
                    let (grants, _) = access::list_grants(conn, Some(&subject), None, 1000, 0)?;
                    let now = crate::catalog::now_text();
                    Ok(grants
                        .into_iter()
                        .filter(|g| g.active_at(&now))
                        .filter_map(|g| {
                            let quota = u64::try_from(g.row_quota?).ok()?;
                            Some((g.id, g.dataset, quota))
                        })
                        .collect())
                })
                .await?
        }
    };
    let report = fair
        .into_inner()
        .counting(move |fair| fair.report(&meter, grants))
        .await?;
    Ok(web::Json(report))
}

/// Read the rate limits and daily quotas in force.
#[utoipa::path(
    tag = "fair use",
    operation_id = "get_limits",
    responses(
        (status = 200, description = "The limits in force, per role, and where they come from", body = LimitsView),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not administer the limits (action limits:admin)"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[get("/v1/admin/limits")]
pub async fn get_limits(
    state: web::Data<AppState>,
    fair: web::Data<FairUse>,
    principal: Principal,
    note: Note,
) -> Result<web::Json<LimitsView>> {
    require_limits_admin(&state, &principal, &note)?;
    Ok(web::Json(view(&state, &fair).await?))
}

/// Replace the rate limits and daily quotas; in force from the next request on this
/// instance and within a second on every other on the database, kept across restarts,
/// audited with the reason.
#[utoipa::path(
    tag = "fair use",
    operation_id = "set_limits",
    request_body = SetLimits,
    responses(
        (status = 200, description = "The limits now in force", body = LimitsView),
        (status = 400, description = "A limit or a role name is invalid (the error names it), or the reason is missing"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not administer the limits (action limits:admin)"),
        (status = 413, description = "The body is too large"),
        (status = 415, description = "The body is not JSON"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[put("/v1/admin/limits")]
pub async fn set_limits(
    state: web::Data<AppState>,
    fair: web::Data<FairUse>,
    principal: Principal,
    note: Note,
    body: web::Json<SetLimits>,
) -> Result<web::Json<LimitsView>> {
    require_limits_admin(&state, &principal, &note)?;
    let SetLimits { limits, reason } = body.into_inner();
    let by = principal.subject();
    let (stored, version) = state
        .db
        .run(move |conn| fair::set_limits(conn, limits, &by, &reason))
        .await?;
    let change = serde_json::json!({"set_limits": stored.limits, "reason": stored.reason});
    note.update(|d| d.query = Some(change.to_string()));
    // Other instances follow within a second (see `startup`'s watch).
    fair.set_admin(version, Some(stored.limits));
    Ok(web::Json(view(&state, &fair).await?))
}

/// Drop the limits set through the API, so the configuration's apply again (on every
/// instance within a second).
#[utoipa::path(
    tag = "fair use",
    operation_id = "reset_limits",
    params(ResetParams),
    responses(
        (status = 200, description = "The configuration's limits, now in force", body = LimitsView),
        (status = 400, description = "The reason is missing or too long"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not administer the limits (action limits:admin)"),
        (status = 409, description = "No limits were set through the API; the configuration's are in force already"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[delete("/v1/admin/limits")]
pub async fn reset_limits(
    state: web::Data<AppState>,
    fair: web::Data<FairUse>,
    principal: Principal,
    note: Note,
    params: web::Query<ResetParams>,
) -> Result<web::Json<LimitsView>> {
    require_limits_admin(&state, &principal, &note)?;
    let reason = fair::check_reason(&params.reason)?;
    let version = state.db.run(fair::reset_limits).await?;
    let change = serde_json::json!({"reset_limits": true, "reason": reason});
    note.update(|d| d.query = Some(change.to_string()));
    fair.set_admin(version, None);
    Ok(web::Json(view(&state, &fair).await?))
}
