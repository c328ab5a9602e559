//! Query handlers: a page of rows (query string or typed JSON) and the
//! streamed export of every matching row.

use actix_web::http::header::{ACCEPT, CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::resolve::{Lookup, authorize_view, target};
use crate::api::fair_use::meter_of;
use crate::api::state::AppState;
use crate::audit::{Note, StreamOutcome};
use crate::auth::Principal;
use crate::data::plan::{Limits, plan_rows};
use crate::data::read::{Left, SendLimit, start_export};
use crate::data::{Format, QueryBody, Redact};
use crate::error::{Error, Kind, Result};
use crate::fair_use::{Budget, GrantQuota, Meter};
use crate::policy::Action;

/// Query parameters of `GET …/rows`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RowsParams {
    /// Columns to return, comma-separated (double-quote names holding commas); all when omitted.
    #[param(example = "carrier,flight,origin,dest,dep_delay")]
    pub select: Option<String>,
    /// Row filter in the query language: comparisons (`= != < <= > >=`), `in (…)`, `like`,
    /// `is null`, `and`, `or`, `not`, parentheses; strings in single quotes.
    #[param(example = "carrier = 'UA' and dep_delay > 30")]
    pub filter: Option<String>,
    /// Sort keys, comma-separated; `-col` or `col desc` for descending.
    #[param(example = "-dep_delay,flight")]
    pub order: Option<String>,
    /// Rows per page (default 100, at most the configured maximum, 10000 by default).
    #[param(example = 100, minimum = 1)]
    #[serde(default, deserialize_with = "crate::api::params::limit")]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page, unchanged; valid only with the same `filter`
    /// and `order`, on the version it was made on.
    #[param(
        example = "eyJkIjoxLCJ2IjoxLCJxIjoiMTljNWQ1ZWIyYmNmZjFiYSIsImsiOls2OSwxMDY2LDYwODddfQ.wPMVCJQfeyHxDH3n08EAgw"
    )]
    pub cursor: Option<String>,
    /// `exact` to also return the number of matching rows.
    #[param(example = "exact")]
    pub count: Option<String>,
    /// Output format; overrides the Accept header.
    #[param(inline, example = "json")]
    pub format: Option<Format>,
}

/// Query parameters of `GET …/export`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// Columns to export, comma-separated; all when omitted.
    #[param(example = "carrier,flight,origin,dest")]
    pub select: Option<String>,
    /// Row filter in the query language.
    #[param(example = "origin = 'JFK'")]
    pub filter: Option<String>,
    /// Sort keys, comma-separated; `-col` for descending. File order when omitted.
    #[param(example = "flight")]
    pub order: Option<String>,
    /// Output format (default csv); overrides the Accept header.
    #[param(inline, example = "csv")]
    pub format: Option<Format>,
}

/// Output format of `POST …/query`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FormatParam {
    /// Output format; overrides the Accept header.
    #[param(inline, example = "json")]
    pub format: Option<Format>,
}

/// A page of rows (JSON format).
#[derive(Debug, Serialize, ToSchema)]
pub struct RowsPage {
    /// The rows, each an object of column name to value.
    #[schema(example = json!([{"carrier": "UA", "flight": 1545, "dep_delay": 2}]))]
    pub data: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Pass as `cursor` to get the next page; null on the last page.
    #[schema(
        example = "eyJkIjoxLCJ2IjoxLCJxIjoiMTljNWQ1ZWIyYmNmZjFiYSIsImsiOls2OSwxMDY2LDYwODddfQ.wPMVCJQfeyHxDH3n08EAgw"
    )]
    pub next_cursor: Option<String>,
    /// Number of matching rows when `count=exact` was asked; else null.
    #[schema(example = 288)]
    pub total: Option<i64>,
}

fn negotiate(req: &HttpRequest, explicit: Option<Format>, default: Format) -> Result<Format> {
    if let Some(f) = explicit {
        return Ok(f);
    }
    let accept = req.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
    match accept {
        None => Ok(default),
        Some(a) if a.contains("*/*") && default != Format::Json => Ok(default),
        Some(a) => Format::from_accept(Some(a)).ok_or_else(|| {
            Error::new(
                Kind::NotAcceptable,
                "cannot answer in the media type of Accept; ask for application/json, text/csv or application/x-ndjson, or use format=",
            )
        }),
    }
}

pub(super) fn limits(state: &AppState) -> Limits {
    state.limits
}

/// Before data is read: 429 when a daily quota is used up, else the budget to charge.
pub(super) fn budget_for(
    meter: Option<Meter>,
    grant: Option<GrantQuota>,
) -> Result<Option<Budget>> {
    meter
        .map(|m| m.budget(grant))
        .transpose()
        .map(|b| b.filter(Budget::limited))
}

/// An export's `SendLimit`: the caller's (and its grant's) quotas, charged per chunk.
struct QuotaLimit(Budget);

impl SendLimit for QuotaLimit {
    fn remaining(&self) -> Result<Left> {
        let a = self.0.remaining()?;
        Ok((a.rows, a.bytes))
    }

    fn sent(&mut self, rows: u64, bytes: u64) -> Result<Left> {
        self.0.charge(rows, bytes)?;
        self.remaining()
    }

    fn exceeded(&self) -> Error {
        self.0.exceeded()
    }
}

/// Query a dataset's rows with select, filter, order, limit and cursor paging.
#[utoipa::path(
    tag = "data",
    params(("slug" = String, Path, description = "Dataset slug", example = "nyc-flights-2013"), RowsParams),
    responses(
        (status = 200, description = "A page of rows",
            headers(
                ("X-Next-Cursor" = String, description = "Cursor of the next page, when there is one"),
                ("X-Total-Count" = i64, description = "Matching rows, with count=exact")
            ),
            content((RowsPage = "application/json"), (String = "text/csv"), (String = "application/x-ndjson"))),
        (status = 400, description = "A parameter is invalid: unknown column, malformed filter, limit over the maximum, altered cursor"),
        (status = 401, description = "The credentials are invalid"),
        (status = 403, description = "The dataset's data is not open to the caller, or the query filters, orders, groups or aggregates by a column the caller sees masked, hashed or hidden, or selects a hidden one (the error names the column)"),
        (status = 404, description = "No such dataset, or not visible to the caller"),
        (status = 406, description = "The Accept header names no format Kaifang produces"),
        (status = 409, description = "The dataset has no data yet, changed since the cursor was issued, or its row filter for the caller no longer fits its columns"),
    ),
    security((), ("bearer" = []), ("api_key" = []))
)]
#[get("/v1/datasets/{slug}/rows")]
pub async fn query_rows(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    slug: web::Path<String>,
    params: web::Query<RowsParams>,
) -> Result<HttpResponse> {
    let p = params.into_inner();
    let format = negotiate(&req, p.format, Format::Json)?;
    let query = QueryBody::from_params(
        p.select.as_deref(),
        p.filter.as_deref(),
        p.order.as_deref(),
        p.limit,
        p.cursor.as_deref(),
        p.count.as_deref(),
    )?;
    let meter = meter_of(&req);
    super::page::run_page(
        &state,
        principal,
        note,
        meter,
        slug.into_inner(),
        query,
        format,
    )
    .await
}

/// Query a dataset with a typed JSON body: the same query as `GET …/rows`
/// plus `group_by` and aggregates (count, sum, avg, min, max).
#[utoipa::path(
    tag = "data",
    params(("slug" = String, Path, description = "Dataset slug", example = "nyc-flights-2013"), FormatParam),
    request_body = QueryBody,
    responses(
        (status = 200, description = "A page of rows or groups",
            headers(
                ("X-Next-Cursor" = String, description = "Cursor of the next page, when there is one"),
                ("X-Total-Count" = i64, description = "Matching rows (or groups), with count")
            ),
            content((RowsPage = "application/json"), (String = "text/csv"), (String = "application/x-ndjson"))),
        (status = 400, description = "The query is invalid"),
        (status = 401, description = "The credentials are invalid"),
        (status = 403, description = "The dataset's data is not open to the caller, or the query filters, orders, groups or aggregates by a column the caller sees masked, hashed or hidden, or selects a hidden one (the error names the column)"),
        (status = 404, description = "No such dataset, or not visible to the caller"),
        (status = 406, description = "The Accept header names no format Kaifang produces"),
        (status = 409, description = "The dataset has no data yet, changed since the cursor was issued, or its row filter for the caller no longer fits its columns"),
        (status = 413, description = "The body is too large"),
        (status = 415, description = "The body is not JSON"),
    ),
    security((), ("bearer" = []), ("api_key" = []))
)]
#[post("/v1/datasets/{slug}/query")]
pub async fn query_dataset(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    slug: web::Path<String>,
    params: web::Query<FormatParam>,
    body: web::Json<QueryBody>,
) -> Result<HttpResponse> {
    let format = negotiate(&req, params.into_inner().format, Format::Json)?;
    super::page::run_page(
        &state,
        principal,
        note,
        meter_of(&req),
        slug.into_inner(),
        body.into_inner(),
        format,
    )
    .await
}

/// Export every matching row, streamed (CSV, NDJSON or a JSON array);
/// gzip-compressed when the client accepts it.
#[utoipa::path(
    tag = "data",
    params(("slug" = String, Path, description = "Dataset slug", example = "nyc-flights-2013"), ExportParams),
    responses(
        (status = 200, description = "Every matching row",
            headers(("Content-Disposition" = String, description = "attachment; filename=\"<slug>.<ext>\"")),
            content((String = "text/csv"), (String = "application/x-ndjson"), (Vec<serde_json::Map<String, serde_json::Value>> = "application/json"))),
        (status = 400, description = "A parameter is invalid"),
        (status = 401, description = "The credentials are invalid"),
        (status = 403, description = "The dataset's data is not open to the caller, or the query filters, orders, groups or aggregates by a column the caller sees masked, hashed or hidden, or selects a hidden one (the error names the column)"),
        (status = 404, description = "No such dataset, or not visible to the caller"),
        (status = 406, description = "The Accept header names no format Kaifang produces"),
        (status = 409, description = "The dataset has no data yet, or its row filter for the caller no longer fits its columns"),
    ),
    security((), ("bearer" = []), ("api_key" = []))
)]
#[get("/v1/datasets/{slug}/export")]
pub async fn export_rows(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    slug: web::Path<String>,
    params: web::Query<ExportParams>,
) -> Result<HttpResponse> {
    let p = params.into_inner();
    let format = negotiate(&req, p.format, Format::Csv)?;
    let query = QueryBody::from_params(
        p.select.as_deref(),
        p.filter.as_deref(),
        p.order.as_deref(),
        None,
        None,
        None,
    )?;
    note.update(|d| d.query = Some(query.audit_text_redacting(Redact::All)));
    let key = state.cursor_key.clone();
    let mask_key = state.mask_key.clone();
    let backend = state.db.backend();
    let engine = state.policy.current();
    let catalog = std::sync::Arc::clone(&state.catalog);
    let slug = slug.into_inner();
    let plan_slug = slug.clone();
    let plan_note = note.clone();
    let meter = meter_of(&req);
    let (plan, budget) = state
        .db
        .run(move |conn| {
            let readable = authorize_view(
                conn,
                Lookup {
                    catalog: &catalog,
                    engine: &engine,
                },
                &principal,
                &plan_note,
                &plan_slug,
                Action::DataExport,
                &query,
            )?;
            let budget = budget_for(meter, readable.quota)?;
            let restriction = readable.view.restriction(&mask_key);
            plan_rows(
                target(&readable.version, backend, &restriction),
                &query,
                format,
                None,
                &key,
            )
            .map(|plan| (plan, budget))
        })
        .await?;
    let limit = budget.map(|b| Box::new(QuotaLimit(b)) as Box<dyn SendLimit>);
    let mut export = start_export(&state.db, plan, limit);
    // The first chunk decides the status: an error before any byte is sent
    // is still a proper problem response.
    let first: Option<Bytes> = match export.chunks.recv().await {
        Some(Ok(chunk)) => Some(chunk),
        Some(Err(e)) => return Err(e),
        None => None,
    };
    let rest = crate::api::channel_body(export.chunks);
    let stream = futures_util::stream::iter(first.map(Ok::<Bytes, actix_web::Error>)).chain(rest);
    let done = export.done;
    let log_slug = slug.clone();
    let (outcome_tx, outcome_rx) = tokio::sync::oneshot::channel();
    note.update(|d| d.export_done = Some(outcome_rx));
    tokio::spawn(async move {
        if let Ok(stats) = done.await {
            tracing::info!(dataset.slug = %log_slug, rows = stats.rows, bytes = stats.bytes, complete = stats.complete, "export finished");
            // Nobody waits when the audit is off.
            let _ = outcome_tx.send(StreamOutcome {
                rows: i64::try_from(stats.rows).unwrap_or(i64::MAX),
                bytes: i64::try_from(stats.bytes).unwrap_or(i64::MAX),
                complete: stats.complete,
            });
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, format.content_type()))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{slug}.{}\"", format.extension()),
        ))
        .streaming(stream))
}

use futures_util::StreamExt as _;
