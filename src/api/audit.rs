//! The audit log for those allowed to read it: a filtered, cursor-paged
//! listing (JSON, CSV or NDJSON), a streamed export, and verification of
//! every chain. Nothing here changes a record.

use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::guard;
use crate::api::state::AppState;
use crate::audit::export::{AuditFormat, render, stream};
use crate::audit::store::{AuditFilter, list_records};
use crate::audit::{AuditRecord, Note};
use crate::auth::Principal;
use crate::catalog;
use crate::db::AnyConnection;
use crate::error::{Error, Result};

/// Records per page by default, and at most.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

/// Output format of the audit listing.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(example = "json")]
pub enum AuditFormatParam {
    Json,
    Csv,
    Ndjson,
}

/// Filters of the audit listing and export; all optional, combined with AND.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Records at or after this time (RFC 3339).
    #[param(example = "2026-11-28T00:00:00Z")]
    pub from: Option<String>,
    /// Records before this time (RFC 3339).
    #[param(example = "2026-11-29T00:00:00Z")]
    pub to: Option<String>,
    /// Only this subject (`anonymous`, `admin`, `user:<sub>`, `key:<id>`).
    #[param(example = "anonymous")]
    pub subject: Option<String>,
    /// Only this dataset slug.
    #[param(example = "nyc-flights-2013")]
    pub dataset: Option<String>,
    /// Only this policy action.
    #[param(example = "data:query")]
    pub action: Option<String>,
    /// Only this decision: `allow`, `deny` or `hidden`.
    #[param(example = "deny")]
    pub decision: Option<String>,
    /// Only this HTTP status.
    #[param(example = 403, minimum = 100, maximum = 599)]
    #[serde(default, deserialize_with = "crate::api::params::status")]
    pub status: Option<u32>,
    /// Records per page, 1 to 1000 (default 100).
    #[param(example = 100, minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "crate::api::params::limit")]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(example = "100")]
    pub cursor: Option<String>,
    /// Output format (default json).
    #[param(inline, example = "ndjson")]
    pub format: Option<AuditFormatParam>,
}

/// Output format of the audit export.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(example = "csv")]
pub enum AuditExportFormat {
    Csv,
    Ndjson,
}

/// Filters of the audit export: those of the listing without paging, since the export
/// returns every matching record.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditExportParams {
    /// Records at or after this time (RFC 3339).
    #[param(example = "2026-11-28T00:00:00Z")]
    pub from: Option<String>,
    /// Records before this time (RFC 3339).
    #[param(example = "2026-11-29T00:00:00Z")]
    pub to: Option<String>,
    /// Only this subject (`anonymous`, `admin`, `user:<sub>`, `key:<id>`).
    #[param(example = "anonymous")]
    pub subject: Option<String>,
    /// Only this dataset slug.
    #[param(example = "nyc-flights-2013")]
    pub dataset: Option<String>,
    /// Only this policy action.
    #[param(example = "data:query")]
    pub action: Option<String>,
    /// Only this decision: `allow`, `deny` or `hidden`.
    #[param(example = "deny")]
    pub decision: Option<String>,
    /// Only this HTTP status.
    #[param(example = 403, minimum = 100, maximum = 599)]
    #[serde(default, deserialize_with = "crate::api::params::status")]
    pub status: Option<u32>,
    /// Output format (default csv).
    #[param(inline, example = "ndjson")]
    pub format: Option<AuditExportFormat>,
    // Not in the spec: read only to refuse them with a message that says why, rather
    // than as unknown fields.
    #[param(ignore)]
    #[serde(default, deserialize_with = "crate::api::params::limit")]
    pub limit: Option<u32>,
    #[param(ignore)]
    pub cursor: Option<String>,
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Records, oldest first.
    pub data: Vec<AuditRecord>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(example = "100")]
    pub next_cursor: Option<String>,
}

/// Whose records a caller may read.
enum Reach {
    /// Administrators and auditors: every record.
    All,
    /// A publisher: the records of its organisation's datasets, nothing else.
    Org(String),
}

/// Whom the policy lets read the whole log (`audit:read` on `audit`:
/// administrators and auditors with the shipped rules); failing that, a
/// publisher with an organisation reads its own datasets' records.
fn reader_reach(state: &AppState, principal: &Principal, note: &Note) -> Result<Reach> {
    let engine = state.policy.current();
    let whole = guard::require(
        &engine,
        principal,
        note,
        "audit",
        "audit:read",
        "reading the audit log",
    );
    match (whole, principal.org()) {
        (Ok(()), _) => Ok(Reach::All),
        (Err(_), Some(org)) if principal.has_role("publisher") => {
            note.update(|d| {
                d.decision = Some("allow".to_string());
                d.rule = Some(format!("role:publisher, org:{org} (own datasets only)"));
            });
            Ok(Reach::Org(org.to_string()))
        }
        (Err(e), _) => Err(e),
    }
}

/// Narrows `filter` to what `reach` may see.
fn scope(conn: &mut AnyConnection, reach: &Reach, filter: &mut AuditFilter) -> Result<()> {
    if let Reach::Org(org) = reach {
        filter.datasets_in = Some(catalog::dataset_slugs_of(conn, org)?);
    }
    Ok(())
}

fn time_bound(name: &str, value: Option<String>) -> Result<Option<String>> {
    let Some(v) = value else { return Ok(None) };
    let t = chrono::DateTime::parse_from_rfc3339(&v).map_err(|_| {
        Error::bad_request(format!(
            "{name} must be an RFC 3339 time such as 2026-11-28T00:00:00Z, not '{}'",
            v.chars().take(40).collect::<String>()
        ))
    })?;
    // Records store UTC with microseconds; compare in the same form.
    Ok(Some(
        t.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    ))
}

fn filter_of(p: &mut AuditParams) -> Result<AuditFilter> {
    Ok(AuditFilter {
        from: time_bound("from", p.from.take())?,
        to: time_bound("to", p.to.take())?,
        subject: p.subject.take(),
        dataset: p.dataset.take(),
        action: p.action.take(),
        decision: p.decision.take(),
        status: p.status.and_then(|s| i32::try_from(s).ok()),
        datasets_in: None,
    })
}

fn format_of(p: Option<AuditFormatParam>, default: AuditFormat) -> AuditFormat {
    match p {
        Some(AuditFormatParam::Json) => AuditFormat::Json,
        Some(AuditFormatParam::Csv) => AuditFormat::Csv,
        Some(AuditFormatParam::Ndjson) => AuditFormat::Ndjson,
        None => default,
    }
}

fn content_type(format: AuditFormat) -> &'static str {
    match format {
        AuditFormat::Json => "application/json",
        AuditFormat::Csv => "text/csv; charset=utf-8",
        AuditFormat::Ndjson => "application/x-ndjson",
    }
}

fn bad_cursor() -> Error {
    Error::bad_request(
        "the cursor is invalid; pass next_cursor exactly as received, or start again without cursor",
    )
}

/// List audit records, oldest first, filtered and paged by cursor.
#[utoipa::path(
    tag = "audit",
    operation_id = "list_audit_records",
    params(AuditParams),
    responses(
        (status = 200, description = "A page of audit records",
            headers(("X-Next-Cursor" = String, description = "Cursor of the next page, when there is one")),
            content((AuditPage = "application/json"), (String = "text/csv"), (String = "application/x-ndjson"))),
        (status = 400, description = "A filter, the limit or the cursor is invalid"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not read the audit log"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[get("/v1/admin/audit")]
pub async fn list_audit_records(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    params: web::Query<AuditParams>,
) -> Result<HttpResponse> {
    let reach = reader_reach(&state, &principal, &note)?;
    let mut p = params.into_inner();
    let mut filter = filter_of(&mut p)?;
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::bad_request(format!(
            "limit must be from 1 to {MAX_LIMIT}; use GET /v1/admin/audit/export for everything"
        )));
    }
    let after = match &p.cursor {
        Some(c) => c
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(bad_cursor)?,
        None => 0,
    };
    let format = format_of(p.format, AuditFormat::Json);
    let page = state
        .db
        .run(move |conn| {
            scope(conn, &reach, &mut filter)?;
            list_records(conn, &filter, after, i64::from(limit) + 1)
        })
        .await?;
    let mut page = page;
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    let next = if more {
        page.last().map(|(id, _)| id.to_string())
    } else {
        None
    };
    note.update(|d| d.rows = i64::try_from(page.len()).ok());
    let mut res = HttpResponse::Ok();
    res.insert_header((CONTENT_TYPE, content_type(format)));
    if let Some(c) = &next {
        res.insert_header(("X-Next-Cursor", c.as_str()));
    }
    match format {
        AuditFormat::Json => Ok(res.json(AuditPage {
            data: page.into_iter().map(|(_, r)| r).collect(),
            next_cursor: next,
        })),
        other => Ok(res.body(render(&page, other, true)?)),
    }
}

/// Export every matching audit record, streamed as CSV or NDJSON.
#[utoipa::path(
    tag = "audit",
    operation_id = "export_audit_records",
    params(AuditExportParams),
    responses(
        (status = 200, description = "Every matching record",
            headers(("Content-Disposition" = String, description = "attachment; filename=\"audit.<ext>\"")),
            content((String = "text/csv"), (String = "application/x-ndjson"))),
        (status = 400, description = "A filter is invalid, or limit or cursor were given"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not read the audit log"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[get("/v1/admin/audit/export")]
pub async fn export_audit_records(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    params: web::Query<AuditExportParams>,
) -> Result<HttpResponse> {
    let reach = reader_reach(&state, &principal, &note)?;
    let p = params.into_inner();
    if p.limit.is_some() || p.cursor.is_some() {
        return Err(Error::bad_request(
            "the export returns every matching record; leave out limit and cursor",
        ));
    }
    let mut filter = filter_of(&mut AuditParams {
        from: p.from,
        to: p.to,
        subject: p.subject,
        dataset: p.dataset,
        action: p.action,
        decision: p.decision,
        status: p.status,
        limit: None,
        cursor: None,
        format: None,
    })?;
    let filter = state
        .db
        .run(move |conn| {
            scope(conn, &reach, &mut filter)?;
            Ok(filter)
        })
        .await?;
    let format = match p.format {
        Some(AuditExportFormat::Ndjson) => AuditFormat::Ndjson,
        Some(AuditExportFormat::Csv) | None => AuditFormat::Csv,
    };
    let rx = stream(&state.db, filter, format);
    let body = crate::api::channel_body(rx);
    let ext = if format == AuditFormat::Csv {
        "csv"
    } else {
        "ndjson"
    };
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type(format)))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"audit.{ext}\""),
        ))
        .streaming(body))
}

pub mod verify;
