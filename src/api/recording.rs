//! The audit side of the request pipeline: the record a request starts
//! with (who, from where, what), the handle through which handlers add
//! what they learn, and the guard that still records a request whose
//! client went away before it was answered.

use std::future::{Ready, ready};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::http::header::USER_AGENT;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::audit::{self, AuditRecord, AuditWriter, Note, NoteData, StreamOutcome};
use crate::auth::{Authenticated, Authenticator, Principal};
use crate::error::{Error, Kind};

/// Status recorded for a request abandoned before its answer (nginx's
/// "client closed request").
const ABANDONED: i32 = 499;
/// Longest header value kept in a record.
const MAX_HEADER_CHARS: usize = 512;

fn clip(s: &str) -> String {
    s.chars().take(MAX_HEADER_CHARS).collect()
}

/// Whether the query string carries a token: URLs end up in logs, proxies
/// and browser history, so a token there is refused, never used.
fn token_in_url(req: &ServiceRequest) -> bool {
    req.query_string().split('&').any(|pair| {
        let key = pair.split('=').next().unwrap_or("");
        key.eq_ignore_ascii_case("access_token") || key.eq_ignore_ascii_case("token")
    })
}

/// Authenticates `req` once for the whole pipeline and stores the outcome
/// for the handlers, whose extraction answers a failure with 401. Returns
/// the principal when there is one.
pub async fn authenticate(req: &ServiceRequest) -> Option<Principal> {
    let result = if token_in_url(req) {
        Err(Error::new(
            Kind::InvalidToken,
            "tokens in the URL are not accepted; send them as Authorization: Bearer <token>",
        ))
    } else {
        match req.app_data::<web::Data<Authenticator>>() {
            Some(auth) => {
                let header = |name| req.headers().get(name).map(|h| h.as_bytes().to_vec());
                let authorization = header(actix_web::http::header::AUTHORIZATION.as_str());
                let key = header("x-api-key");
                auth.authenticate_request(authorization.as_deref(), key.as_deref())
                    .await
            }
            None => Err(Error::unauthorized("this server accepts no credentials")),
        }
    };
    let principal = result.as_ref().ok().cloned();
    req.extensions_mut()
        .insert(Authenticated::from_result(result));
    principal
}

/// The record of a request as known when it arrives.
#[derive(Clone)]
pub struct Draft {
    record: AuditRecord,
    started: Instant,
}

impl Draft {
    pub fn begin(req: &ServiceRequest, request_id: &str, principal: Option<&Principal>) -> Draft {
        let (subject, auth_method, roles, key_id) = match principal {
            Some(p) => (p.subject(), p.auth_method(), p.roles(), p.key_id()),
            None => ("unauthenticated".to_string(), "none", Vec::new(), None),
        };
        let record = AuditRecord {
            chain: String::new(),
            seq: 0,
            time: audit::now(),
            kind: "request".to_string(),
            request_id: request_id.to_string(),
            subject,
            roles,
            auth_method: auth_method.to_string(),
            key_id,
            client_addr: req.peer_addr().map(|a| a.ip().to_string()),
            method: req.method().to_string(),
            route: req.match_pattern(),
            path: clip(req.path()),
            dataset: None,
            action: None,
            decision: None,
            rule: None,
            status: 0,
            rows: None,
            bytes: None,
            duration_us: 0,
            user_agent: req
                .headers()
                .get(USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(clip),
            query: None,
            complete: None,
            prev_hash: String::new(),
            hash: String::new(),
        };
        Draft {
            record,
            started: Instant::now(),
        }
    }

    /// The finished record: what the handlers noted, the status, and the
    /// body size when the handler did not note one.
    pub fn finish(&self, status: u16, notes: &NoteData, body_bytes: Option<u64>) -> AuditRecord {
        let mut r = self.record.clone();
        r.status = i32::from(status);
        r.duration_us = micros(self.started.elapsed());
        if let Some(s) = &notes.subject {
            r.subject.clone_from(s);
        }
        r.dataset.clone_from(&notes.dataset);
        r.action.clone_from(&notes.action);
        r.decision.clone_from(&notes.decision);
        r.rule.clone_from(&notes.rule);
        r.rows = notes.rows;
        r.bytes = notes
            .bytes
            .or_else(|| body_bytes.and_then(|b| i64::try_from(b).ok()));
        r.query.clone_from(&notes.query);
        r
    }

    /// The record closing a streamed export, written after its last byte.
    pub fn export_end(&self, start: &AuditRecord, outcome: StreamOutcome) -> AuditRecord {
        let mut r = start.clone();
        r.kind = "export_end".to_string();
        r.time = audit::now();
        r.rows = Some(outcome.rows);
        r.bytes = Some(outcome.bytes);
        r.complete = Some(outcome.complete);
        r.duration_us = micros(self.started.elapsed());
        r
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Records the request if it is dropped before being answered: actix drops
/// the service future when the client disconnects.
pub struct Abandoned {
    armed: Option<(AuditWriter, Arc<Draft>, Note)>,
}

impl Abandoned {
    pub fn new(writer: Option<AuditWriter>, draft: &Arc<Draft>, note: &Note) -> Abandoned {
        Abandoned {
            armed: writer.map(|w| (w, Arc::clone(draft), note.clone())),
        }
    }

    /// The request reached its answer; the pipeline records it itself.
    pub fn disarm(&mut self) {
        self.armed = None;
    }
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        if let Some((writer, draft, note)) = self.armed.take() {
            let notes = note.take();
            let mut record = draft.finish(0, &notes, None);
            record.status = ABANDONED;
            writer.append_detached(record);
        }
    }
}

/// Records what a streamed export sent once it has ended.
pub fn record_export_end(
    writer: AuditWriter,
    draft: Draft,
    start: AuditRecord,
    done: tokio::sync::oneshot::Receiver<StreamOutcome>,
    metrics: Option<web::Data<crate::metrics::Metrics>>,
) {
    tokio::spawn(async move {
        // A dropped sender means the stream ended without reporting: cut off.
        let outcome = done.await.unwrap_or_default();
        let record = draft.export_end(&start, outcome);
        super::middleware::observe_record(metrics.as_ref().map(|m| m.get_ref()), &record);
        writer.append_detached(record);
    });
}

impl FromRequest for Note {
    type Error = Error;
    type Future = Ready<Result<Note, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Outside the pipeline (never in the server) notes go nowhere.
        ready(Ok(req
            .extensions()
            .get::<Note>()
            .cloned()
            .unwrap_or_default()))
    }
}
