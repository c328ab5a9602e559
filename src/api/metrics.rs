//! `GET /metrics`: the gateway's metrics in Prometheus text format, for
//! callers the policy allows `metrics:read` on `metrics` (the `operator`
//! and `admin` roles with the shipped rules). It renders counters kept
//! elsewhere and never computes anything expensive.

use actix_web::{HttpResponse, get, web};

use super::guard;
use super::state::AppState;
use crate::audit::{AuditWriter, Note};
use crate::auth::Principal;
use crate::error::Result;
use crate::metrics::{self, Metrics};

/// Prometheus text exposition format 0.0.4.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The gateway's metrics in Prometheus text format: requests by route and
/// status, latency by route, policy decisions by effect, rows sent and
/// imported, rate-limit refusals, audit batch sizes, commit latency and
/// queue depth, and database pool connections.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "The metrics", content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not read the metrics (action metrics:read)"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[get("/metrics")]
pub async fn get_metrics(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    counters: Option<web::Data<Metrics>>,
    writer: Option<web::Data<AuditWriter>>,
) -> Result<HttpResponse> {
    guard::require(
        &state.policy.current(),
        &principal,
        &note,
        "metrics",
        "metrics:read",
        "reading the metrics",
    )?;
    let mut out = String::with_capacity(16 * 1024);
    if let Some(c) = &counters {
        c.render(&mut out);
    }
    if let Some(w) = &writer {
        w.stats().render(&mut out);
    }
    let (open, idle) = state.db.pool_state();
    let name = "kaifang_db_pool_connections";
    metrics::header(
        &mut out,
        name,
        "gauge",
        "Database pool connections, by state.",
    );
    metrics::sample(
        &mut out,
        name,
        "state=\"in_use\"",
        open.saturating_sub(idle),
    );
    metrics::sample(&mut out, name, "state=\"idle\"", idle);
    Ok(HttpResponse::Ok().content_type(CONTENT_TYPE).body(out))
}
