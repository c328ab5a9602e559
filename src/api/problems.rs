//! Every error as `application/problem+json` carrying the request id: the
//! shape the pipeline gives a response or an error that is not one yet.
//! Internal causes are logged here, once, and never sent.

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::CONTENT_TYPE;

use crate::error::{Error, PROBLEM_JSON, Problem};

/// Makes every error answer a problem+json document carrying the request id.
pub(super) fn shape(res: ServiceResponse<BoxBody>, id: &str) -> ServiceResponse<BoxBody> {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_problem = res
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    let error = res.response().error();
    if error.is_none() && is_problem {
        return res;
    }
    let problem = match error {
        Some(e) => problem_for(e, id),
        None => generic_problem(status, id),
    };
    let (req, old) = res.into_parts();
    let mut new = problem.into_response();
    // Keep headers such as WWW-Authenticate, Allow or Retry-After, but none that
    // describe the old body: the compressor may already have marked it gzip.
    for (name, value) in old.headers() {
        use actix_web::http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
        if name != CONTENT_TYPE && name != CONTENT_LENGTH && name != CONTENT_ENCODING {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(req, new)
}

pub(super) fn problem_for(err: &actix_web::Error, id: &str) -> Problem {
    let status = err.as_response_error().status_code();
    match err.as_error::<Error>() {
        Some(e) => {
            if status.is_server_error() {
                tracing::error!(request.id = %id, error = %e, "request failed");
            }
            e.problem(Some(id))
        }
        None => {
            if status.is_server_error() {
                tracing::error!(request.id = %id, error = %err, "request failed");
                generic_problem(status, id)
            } else {
                Error::new(kind_for(status), err.to_string()).problem(Some(id))
            }
        }
    }
}

fn kind_for(status: actix_web::http::StatusCode) -> crate::error::Kind {
    use crate::error::Kind;
    match status.as_u16() {
        401 => Kind::Unauthorized,
        403 => Kind::Forbidden,
        404 => Kind::NotFound,
        406 => Kind::NotAcceptable,
        409 => Kind::Conflict,
        413 => Kind::PayloadTooLarge,
        429 => Kind::TooManyRequests,
        415 => Kind::UnsupportedMediaType,
        431 => Kind::HeadersTooLarge,
        503 => Kind::Unavailable,
        s if s >= 500 => Kind::Internal,
        _ => Kind::BadRequest,
    }
}

fn generic_problem(status: actix_web::http::StatusCode, id: &str) -> Problem {
    let detail = match status.as_u16() {
        404 => "no such resource; the API is described at /openapi.json and /docs".to_string(),
        405 => "this method is not allowed on this resource; see /docs for what is".to_string(),
        s if s >= 500 => "the server failed to answer this request".to_string(),
        _ => status.canonical_reason().unwrap_or("error").to_string(),
    };
    Error::new(kind_for(status), detail).problem(Some(id))
}
