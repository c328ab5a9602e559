//! Verification of every audit chain over HTTP, for administrators and
//! auditors: the same report as `kaifang audit verify`.

use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Reach, reader_reach};
use crate::api::state::AppState;
use crate::audit::verify::{ChainReport, Problem};
use crate::audit::{Note, check};
use crate::auth::Principal;
use crate::error::{Error, Result};

/// The outcome of verifying every audit chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditVerification {
    /// True when no problem was found.
    #[schema(example = true)]
    pub ok: bool,
    /// One summary per chain.
    pub chains: Vec<ChainReport>,
    /// What was found wrong: the first record or checkpoint of each kind of damage.
    pub problems: Vec<Problem>,
}

/// Recompute every audit chain and check its checkpoints.
#[utoipa::path(
    tag = "audit",
    operation_id = "verify_audit_log",
    responses(
        (status = 200, description = "The verification report; ok is false when something was found", body = AuditVerification),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not read the audit log"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[get("/v1/admin/audit/verify")]
pub async fn verify_audit_log(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
) -> Result<web::Json<AuditVerification>> {
    if let Reach::Org(_) = reader_reach(&state, &principal, &note)? {
        note.update(|d| d.decision = Some("deny".to_string()));
        return Err(Error::forbidden(
            "verifying the whole audit log is for administrators and auditors",
        ));
    }
    let key = state.audit_public_key.clone();
    let log = state.audit_log_path.clone();
    let report = state
        .db
        .run(move |conn| check::verify_log(conn, &key, &log))
        .await?;
    Ok(web::Json(AuditVerification {
        ok: report.ok(),
        chains: report.chains,
        problems: report.problems,
    }))
}
