//! Conditional GET for JSON answers: the ETag is a digest of the exact body
//! the caller would receive (so it differs between callers who see
//! different things), and a matching `If-None-Match` answers 304 without a
//! body. Nothing here decides what a caller may see.

use actix_web::http::header::{ETAG, IF_NONE_MATCH};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::Digest;

use crate::error::{Error, Result};

/// `value` as JSON with its ETag, or 304 when the request already holds it.
pub fn json_with_etag<T: Serialize>(req: &HttpRequest, value: &T) -> Result<HttpResponse> {
    let body = serde_json::to_vec(value).map_err(|e| Error::internal("encoding the answer", e))?;
    let digest = sha2::Sha256::digest(&body);
    let tag: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let etag = format!("\"{tag}\"");
    let held = req
        .headers()
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == "*" || t.trim().trim_start_matches("W/") == etag)
        });
    if held {
        return Ok(HttpResponse::NotModified()
            .insert_header((ETAG, etag))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .insert_header((ETAG, etag))
        .content_type("application/json")
        .body(body))
}
