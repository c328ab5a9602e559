//! Liveness and readiness: `/healthz` answers whenever the process serves
//! HTTP; `/readyz` answers 200 only when this instance can really serve
//! (database, migrations, policy, audit writer), so a load balancer sends
//! traffic elsewhere otherwise. Both pass the same pipeline as every other
//! request: they are audited, and they never reveal more than which check
//! failed.

use std::time::Duration;

use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::state::AppState;
use crate::audit::AuditWriter;
use crate::error::{Error, Result};

/// How long one readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The process is up.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: String,
}

/// Every readiness check passed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// Always `ready`.
    #[schema(example = "ready")]
    pub status: String,
    /// The checks made, each `ok`: `database`, `migrations`, `policy`, `audit_writer`.
    #[schema(example = json!({"database": "ok", "migrations": "ok", "policy": "ok", "audit_writer": "ok"}))]
    pub checks: std::collections::BTreeMap<String, String>,
}

/// Whether the process answers HTTP.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "The process answers", body = Health)),
    security(())
)]
#[get("/healthz")]
pub async fn get_health() -> web::Json<Health> {
    web::Json(Health {
        status: "ok".to_string(),
    })
}

/// Whether this instance can serve: the database answers a query, its
/// migrations are those of this build, the policy is loaded and the audit
/// writer commits.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Every check passed", body = Readiness),
        (status = 503, description = "A check failed; the detail names it (database, migrations, policy or audit_writer)"),
    ),
    security(())
)]
#[get("/readyz")]
pub async fn get_readiness(
    state: web::Data<AppState>,
    writer: Option<web::Data<AuditWriter>>,
) -> Result<web::Json<Readiness>> {
    let db = state.db.clone();
    let database = tokio::time::timeout(
        CHECK_TIMEOUT,
        tokio::task::spawn_blocking(move || db.check_ready()),
    )
    .await;
    match database {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err((check, why)))) => return Err(not_ready(check, &why)),
        Ok(Err(e)) => return Err(not_ready("database", &e.to_string())),
        Err(_) => return Err(not_ready("database", "no answer within 2 s")),
    }
    if state.policy.revision() < 1 {
        return Err(not_ready("policy", "no stored policy revision is loaded"));
    }
    if let Some(writer) = &writer
        && let Err(why) = writer.ping(CHECK_TIMEOUT).await
    {
        return Err(not_ready("audit_writer", &why));
    }
    let checks = ["database", "migrations", "policy", "audit_writer"]
        .into_iter()
        .map(|c| (c.to_string(), "ok".to_string()))
        .collect();
    Ok(web::Json(Readiness {
        status: "ready".to_string(),
        checks,
    }))
}

fn not_ready(check: &str, why: &str) -> Error {
    tracing::warn!(check, reason = %why, "not ready");
    Error::unavailable(format!("not ready: check '{check}' failed: {why}"))
}
