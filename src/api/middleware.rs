//! Cross-cutting HTTP behaviour: the request id (taken from `x-request-id`
//! when sane, else generated, and echoed back), the rule that every error
//! leaves as `application/problem+json` carrying that id (shaped in
//! `problems`), and the audit record of every request, committed before the
//! response head leaves; then one log line and the request metrics per
//! request. The log line names the request id,
//! subject, route and status, never a header value or the query string.

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};

use super::problems::{problem_for, shape};
use super::recording::{Abandoned, Draft, record_export_end};
use crate::audit::{AuditWriter, Note};
use crate::auth::Principal;
use crate::error::{Error, Kind};
use crate::fair_use::{FairUse, RateState};
use crate::metrics::{Metrics, UNMATCHED_ROUTE};

pub const REQUEST_ID: &str = "x-request-id";

/// The id of the request being served.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn sane(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    let ok = (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| s.to_string())
}

/// A random id shaped like a UUID (8-4-4-4-12 lowercase hex digits).
fn generate() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes: [u8; 16] = rand::random();
    let mut id = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            id.push('-');
        }
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    id
}

pub fn request_id_of(req: &HttpRequest) -> Option<String> {
    req.extensions().get::<RequestId>().map(|r| r.0.clone())
}

/// The audit writer, or `None` in a build made to measure the gateway
/// without audit (cargo feature `audit-off`).
fn audit_writer(req: &ServiceRequest) -> Result<Option<AuditWriter>, Error> {
    if cfg!(feature = "audit-off") {
        return Ok(None);
    }
    req.app_data::<web::Data<AuditWriter>>()
        .map(|w| Some(w.get_ref().clone()))
        .ok_or_else(|| {
            Error::unavailable("the audit log is not available, so no request is served")
        })
}

/// What the closing log line and the metrics say about a request.
struct Served<'a> {
    metrics: Option<web::Data<Metrics>>,
    id: &'a str,
    subject: String,
    method: actix_web::http::Method,
    route: String,
    started: std::time::Instant,
}

impl Served<'_> {
    fn done(&self, status: u16) {
        let elapsed = self.started.elapsed();
        if let Some(m) = &self.metrics {
            m.request(&self.route, status, elapsed);
        }
        tracing::info!(
            request.id = %self.id,
            subject = %self.subject,
            http.method = %self.method,
            http.route = %self.route,
            http.status = status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    }
}

/// Counts the policy decision and the rows a finished record reports.
pub(crate) fn observe_record(metrics: Option<&Metrics>, record: &crate::audit::AuditRecord) {
    let Some(m) = metrics else {
        return;
    };
    if let Some(d) = &record.decision {
        m.decision(d);
    }
    let rows = record.rows.and_then(|r| u64::try_from(r).ok());
    if let (Some(rows), true) = (rows, (200..300).contains(&record.status)) {
        match (record.kind.as_str(), record.action.as_deref()) {
            ("export_end", _) => m.rows_exported(rows),
            ("request", Some("data:query")) => m.rows_queried(rows),
            ("request", Some("dataset:publish")) => m.rows_imported(rows),
            _ => {}
        }
    }
}

/// Middleware: request id, problem+json for every error, the audit record,
/// one log line and the metrics per request.
pub async fn pipeline(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(sane)
        .unwrap_or_else(generate);
    req.extensions_mut().insert(RequestId(id.clone()));
    let note = Note::default();
    req.extensions_mut().insert(note.clone());
    let writer = match audit_writer(&req) {
        Ok(w) => w,
        Err(e) => {
            let res = e.problem(Some(&id)).into_response();
            return Ok(req.into_response(res));
        }
    };
    let principal = super::recording::authenticate(&req).await;
    // Shared with the guard that records an abandoned request, not copied.
    let draft = std::sync::Arc::new(Draft::begin(&req, &id, principal.as_ref()));
    let mut abandoned = Abandoned::new(writer.clone(), &draft, &note);
    let served = Served {
        metrics: req.app_data::<web::Data<Metrics>>().cloned(),
        id: &id,
        subject: principal
            .as_ref()
            .map_or_else(|| "unauthenticated".to_string(), Principal::subject),
        method: req.method().clone(),
        route: req
            .match_pattern()
            .unwrap_or_else(|| UNMATCHED_ROUTE.to_string()),
        started: std::time::Instant::now(),
    };
    let metrics = served.metrics.clone();
    let metrics = metrics.as_ref().map(|m| m.get_ref());
    let verdict = match admit(&req, principal.as_ref()).await {
        Ok(v) => v,
        // The counters are unreachable: refused like any request the
        // database cannot serve, never let through uncounted.
        Err(e) => {
            abandoned.disarm();
            let refused = req.into_response(e.problem(Some(&id)).into_response());
            let refused = match &writer {
                Some(w) => match record(w, &draft, &note, &refused, metrics).await {
                    Ok(()) => refused,
                    Err(audit) => {
                        let (req, _) = refused.into_parts();
                        ServiceResponse::new(req, audit.problem(Some(&id)).into_response())
                    }
                },
                None => refused,
            };
            served.done(refused.status().as_u16());
            return Ok(refused);
        }
    };
    // Deny by default: an operation the spec guards never sees an anonymous caller,
    // whatever its body holds.
    let anonymous = matches!(principal.as_ref(), Some(crate::auth::Principal::Anonymous));
    if anonymous && super::routes::requires_credentials(served.method.as_str(), req.path()) {
        abandoned.disarm();
        let problem = Error::unauthorized(format!(
            "{} {} needs credentials; send Authorization: Bearer <token> or X-API-Key",
            served.method,
            req.path().chars().take(200).collect::<String>()
        ))
        .problem(Some(&id));
        let mut refused = req.into_response(problem.into_response());
        refused.headers_mut().insert(
            actix_web::http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer"),
        );
        if let Some(w) = &writer
            && let Err(e) = record(w, &draft, &note, &refused, metrics).await
        {
            let (req, _) = refused.into_parts();
            let res = ServiceResponse::new(req, e.problem(Some(&id)).into_response());
            served.done(res.status().as_u16());
            return Ok(res);
        }
        served.done(refused.status().as_u16());
        return Ok(refused);
    }
    if let Some(state) = verdict.as_ref().filter(|s| !s.verdict.allowed) {
        let v = state.verdict;
        abandoned.disarm();
        if let Some(m) = metrics {
            m.rate_limited();
        }
        let problem = Error::new(
            Kind::TooManyRequests,
            format!(
                "too many requests from you; retry after {} s (the Retry-After header says when)",
                v.reset_secs
            ),
        )
        .problem(Some(&id));
        let mut refused = req.into_response(problem.into_response());
        if let Ok(h) = HeaderValue::from_str(&v.reset_secs.to_string()) {
            refused.headers_mut().insert(RETRY_AFTER, h);
        }
        if let Some(w) = &writer
            && let Err(e) = record(w, &draft, &note, &refused, metrics).await
        {
            let (req, _) = refused.into_parts();
            let res = ServiceResponse::new(req, e.problem(Some(&id)).into_response());
            served.done(res.status().as_u16());
            return Ok(res);
        }
        rate_headers(&mut refused, state);
        served.done(refused.status().as_u16());
        return Ok(refused);
    }
    let res = match next.call(req).await {
        Ok(res) => shape(res.map_into_boxed_body(), &id),
        Err(e) => {
            // Errors raised by middleware before a handler ran.
            let problem = problem_for(&e, &id);
            abandoned.disarm();
            let record = draft.finish(problem.status, &note.take(), None);
            observe_record(metrics, &record);
            if let Some(w) = &writer
                && let Err(audit) = w.append(record).await
            {
                served.done(audit.kind().status().as_u16());
                return Err(audit.into());
            }
            served.done(problem.status);
            return Err(
                actix_web::error::InternalError::from_response(e, problem.into_response()).into(),
            );
        }
    };
    abandoned.disarm();
    let mut res = match &writer {
        Some(w) => match record(w, &draft, &note, &res, metrics).await {
            Ok(()) => res,
            Err(e) => {
                let (req, _) = res.into_parts();
                ServiceResponse::new(req, e.problem(Some(&id)).into_response())
            }
        },
        None => res,
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID), v);
    }
    if let Some(state) = &verdict {
        rate_headers(&mut res, state);
    }
    served.done(res.status().as_u16());
    Ok(res)
}

/// Admits the request under the caller's limits: takes one request from its
/// bucket and leaves its fair-use meter for the handlers. The caller is its
/// subject, or its client address when anonymous (or its credentials failed).
/// Returns the rate state when the caller's rate is limited, an error when
/// the counters cannot be reached.
async fn admit(
    req: &ServiceRequest,
    principal: Option<&Principal>,
) -> Result<Option<RateState>, Error> {
    let Some(fair) = req.app_data::<web::Data<FairUse>>() else {
        return Ok(None);
    };
    let fair = fair.clone().into_inner();
    let (key, roles) = match principal {
        Some(Principal::Anonymous) | None => (
            format!(
                "ip:{}",
                req.peer_addr()
                    .map(|a| a.ip().to_string())
                    .unwrap_or_default()
            ),
            None,
        ),
        Some(p) => (p.subject(), Some(roles_for_limits(req, &fair, p))),
    };
    let admission = fair.admit(key, roles.as_deref()).await?;
    req.extensions_mut().insert(admission.meter);
    Ok(admission.rate)
}

/// The roles a signed-in caller's limits are chosen by: those its token carries and
/// those the policy assigns (`g` links), as decisions see them. Looked up only when
/// some role has limits of its own; else the token's do, at no cost.
fn roles_for_limits(req: &ServiceRequest, fair: &FairUse, principal: &Principal) -> Vec<String> {
    if !fair.by_role() {
        return principal.roles();
    }
    match req.app_data::<web::Data<super::state::AppState>>() {
        Some(state) => state
            .policy
            .current()
            .roles_held(&crate::policy::identities(principal)),
        None => principal.roles(),
    }
}

/// `RateLimit` and `RateLimit-Policy` (IETF httpapi-ratelimit-headers draft): the
/// caller's request quota (a full burst) and window (seconds a burst takes to refill),
/// named after the limit entry it comes from, and what is left of it.
fn rate_headers(res: &mut ServiceResponse<BoxBody>, state: &RateState) {
    let name = &state.policy;
    let policy = format!("\"{name}\";q={};w={}", state.quota, state.window);
    let now = format!(
        "\"{name}\";r={};t={}",
        state.verdict.remaining, state.verdict.reset_secs
    );
    for (header, value) in [("ratelimit-policy", policy), ("ratelimit", now)] {
        if let Ok(h) = HeaderValue::from_str(&value) {
            res.headers_mut().insert(HeaderName::from_static(header), h);
        }
    }
}

/// Commits the record of an answered request (for a streamed export, its
/// start record, and arranges for its completion record).
async fn record(
    writer: &AuditWriter,
    draft: &Draft,
    note: &Note,
    res: &ServiceResponse<BoxBody>,
    metrics: Option<&Metrics>,
) -> Result<(), Error> {
    let mut notes = note.take();
    let export = notes.export_done.take();
    let body = match res.response().body().size() {
        BodySize::Sized(n) => Some(n),
        BodySize::None => Some(0),
        BodySize::Stream => None,
    };
    if notes.dataset.is_none() {
        // Refused before a handler looked the dataset up: the path still names it.
        notes.dataset = res
            .request()
            .match_info()
            .get("slug")
            .map(|s| s.chars().take(80).collect());
    }
    let mut record = draft.finish(res.status().as_u16(), &notes, body);
    if export.is_some() {
        record.kind = "export_start".to_string();
        record.rows = None;
        record.bytes = None;
    }
    observe_record(metrics, &record);
    let start = export.is_some().then(|| record.clone());
    writer.append(record).await?;
    if let (Some(done), Some(record)) = (export, start) {
        let metrics = res.request().app_data::<web::Data<Metrics>>().cloned();
        record_export_end(writer.clone(), draft.clone(), record, done, metrics);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_generated_request_id_is_shaped_like_a_uuid() {
        let id = super::generate();
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
        assert!(
            id.chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(id, super::generate());
    }
}
