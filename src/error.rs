//! The one error type of the crate and its `application/problem+json` form
//! (RFC 9457). Client mistakes carry a detail that says what to change;
//! internal failures carry only a generic sentence, their cause is logged once
//! at the boundary and never sent to the client.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of failure an [`Error`] is; it decides the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BadRequest,
    Unauthorized,
    /// A bearer token was sent and is not valid (RFC 6750 `invalid_token`).
    InvalidToken,
    Forbidden,
    NotFound,
    /// The path exists, not with this method.
    MethodNotAllowed,
    NotAcceptable,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    /// The request head is over `max_header_bytes` (431).
    HeadersTooLarge,
    TooManyRequests,
    Unavailable,
    Internal,
    /// The client closed the connection before the request was complete;
    /// nobody receives the answer, but the audit record keeps its status.
    ClientClosed,
}

impl Kind {
    pub fn status(self) -> StatusCode {
        match self {
            Kind::BadRequest => StatusCode::BAD_REQUEST,
            Kind::Unauthorized | Kind::InvalidToken => StatusCode::UNAUTHORIZED,
            Kind::Forbidden => StatusCode::FORBIDDEN,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Kind::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Kind::Conflict => StatusCode::CONFLICT,
            Kind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Kind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            // nginx's "client closed request"; a valid code, never delivered.
            Kind::ClientClosed => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Kind::BadRequest => "bad-request",
            Kind::Unauthorized => "unauthorized",
            Kind::InvalidToken => "invalid-token",
            Kind::Forbidden => "forbidden",
            Kind::NotFound => "not-found",
            Kind::MethodNotAllowed => "method-not-allowed",
            Kind::NotAcceptable => "not-acceptable",
            Kind::Conflict => "conflict",
            Kind::PayloadTooLarge => "payload-too-large",
            Kind::UnsupportedMediaType => "unsupported-media-type",
            Kind::HeadersTooLarge => "request-header-fields-too-large",
            Kind::TooManyRequests => "too-many-requests",
            Kind::Unavailable => "unavailable",
            Kind::Internal => "internal",
            Kind::ClientClosed => "client-closed",
        }
    }
}

/// The crate's error: a kind, a detail for the client, and for internal
/// failures the cause that is logged but never shown.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
    detail: String,
    source: Option<BoxError>,
    /// Seconds the client should wait (`Retry-After`), for a 429 or 503.
    retry_after: Option<u64>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, detail: impl Into<String>) -> Self {
        Error {
            kind,
            detail: detail.into(),
            source: None,
            retry_after: None,
        }
    }

    /// Sends `Retry-After: secs` with the answer.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(Kind::BadRequest, detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(Kind::Unauthorized, detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(Kind::Forbidden, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, detail)
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, detail)
    }
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(Kind::Unavailable, detail)
    }
    /// An internal failure: `context` says what was being done (logged), the
    /// source is the cause (logged); the client sees neither.
    pub fn internal(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error {
            kind: Kind::Internal,
            detail: context.into(),
            source: Some(source.into()),
            retry_after: None,
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The problem document for this error; `instance` is the request id.
    pub fn problem(&self, instance: Option<&str>) -> Problem {
        let status = self.kind.status();
        let detail = match self.kind {
            // Internal details stay in the log.
            Kind::Internal => "the server failed to answer this request; quote the request id (instance) when reporting it".to_string(),
            _ => self.detail.clone(),
        };
        Problem {
            r#type: format!("urn:kaifang:problem:{}", self.kind.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail,
            instance: instance.map(str::to_string),
        }
    }

    /// Adds context to an internal error while it crosses a layer.
    pub fn context(mut self, context: impl Into<String>) -> Self {
        if self.kind == Kind::Internal {
            self.detail = format!("{}: {}", context.into(), self.detail);
        }
        self
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {}", self.detail, source),
            None => f.write_str(&self.detail),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A problem document (RFC 9457), the body of every error response.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:kaifang:problem:bad-request",
    "title": "Bad Request",
    "status": 400,
    "detail": "unknown column 'delay'; columns are: year, month, day, dep_delay",
    "instance": "8ec4b376-a492-c977-c868-c39be984106b"
}))]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[schema(example = "urn:kaifang:problem:bad-request")]
    pub r#type: String,
    /// The HTTP status phrase.
    #[schema(example = "Bad Request")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 400)]
    pub status: u16,
    /// What went wrong and what to change.
    #[schema(example = "unknown column 'delay'; columns are: year, month, day, dep_delay")]
    pub detail: String,
    /// The request id, to quote when reporting the problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "8ec4b376-a492-c977-c868-c39be984106b")]
    pub instance: Option<String>,
}

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The RFC 6750 challenge of a 401: a bare `Bearer` when credentials are
/// missing, with `error="invalid_token"` and the reason when a token was
/// refused. The reason is the gateway's own fixed text, never token content;
/// quotes and backslashes are dropped all the same.
fn challenge(p: &Problem) -> String {
    if p.r#type.ends_with(":invalid-token") {
        let reason: String = p
            .detail
            .chars()
            .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
            .collect();
        format!("Bearer error=\"invalid_token\", error_description=\"{reason}\"")
    } else {
        "Bearer".to_string()
    }
}

impl Problem {
    pub fn into_response(self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&self).unwrap_or_else(|_| "{}".to_string());
        let mut res = HttpResponse::build(status);
        res.content_type(PROBLEM_JSON);
        if status == StatusCode::UNAUTHORIZED {
            res.insert_header(("WWW-Authenticate", challenge(&self)));
        }
        res.body(body)
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.kind.status()
    }

    fn error_response(&self) -> HttpResponse {
        // The request-id middleware re-renders this with `instance` set, keeping the
        // headers set here.
        let mut res = self.problem(None).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = actix_web::http::header::HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, v);
        }
        res
    }
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as D};
        match e {
            D::NotFound => Error::not_found("not found"),
            D::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Error::conflict(format!("already exists ({})", info.message()))
            }
            // A PostgreSQL server that stopped or restarted under an open
            // connection: the request may succeed once it is back.
            D::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                tracing::error!(error = %info.message(), "the database connection was lost");
                Error::unavailable("the database is unavailable; try again shortly")
            }
            other if connection_lost(&other.to_string()) => {
                tracing::error!(error = %other, "the database connection was lost");
                Error::unavailable("the database is unavailable; try again shortly")
            }
            other => Error::internal("database query failed", other),
        }
    }
}

/// libpq's and the server's words for a connection that went away
/// (SQLSTATE 57P01 admin shutdown, 57P02 crash shutdown, a reset socket).
fn connection_lost(text: &str) -> bool {
    [
        "terminating connection",
        "server closed the connection",
        "no connection to the server",
        "connection to server",
        "could not receive data from server",
        "could not send data to server",
        "the database system is shutting down",
        "the database system is starting up",
    ]
    .iter()
    .any(|w| text.contains(w))
}

impl From<r2d2::Error> for Error {
    fn from(e: r2d2::Error) -> Self {
        tracing::error!(error = %e, "database pool exhausted or unreachable");
        Error::unavailable("the database is unavailable; try again shortly")
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(e: tokio::task::JoinError) -> Self {
        Error::internal("background task failed", e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = Error::internal("loading rows", std::io::Error::other("disk on fire"));
        let p = e.problem(Some("r1"));
        assert_eq!(p.status, 500);
        assert!(!p.detail.contains("disk"));
        assert_eq!(p.instance.as_deref(), Some("r1"));
    }

    #[test]
    fn client_errors_keep_their_detail() {
        let p = Error::bad_request("unknown column 'x'").problem(None);
        assert_eq!(p.status, 400);
        assert_eq!(p.detail, "unknown column 'x'");
        assert_eq!(p.r#type, "urn:kaifang:problem:bad-request");
    }
}
