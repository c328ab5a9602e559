//! Strict CORS: only the origins listed in `cors_allowed_origins` get CORS
//! headers, echoed one by one (never `*`, never credentials: the API takes
//! tokens in headers, not cookies). A preflight from another origin is
//! refused with 403; a plain request from one is served without CORS
//! headers, so the browser does not hand the answer to the page. With no
//! origin configured this middleware does nothing. It runs inside the
//! pipeline, so preflights are audited like every request.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD,
    HeaderMap, HeaderValue, ORIGIN, VARY,
};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use crate::error::Error;

/// The origins browsers may call the API from, exactly as configured.
#[derive(Debug, Clone, Default)]
pub struct CorsOrigins(pub Vec<String>);

const METHODS: &str = "GET, POST, PUT, DELETE";
const REQUEST_HEADERS: &str = "authorization, content-type, x-api-key, x-request-id, if-none-match";
const EXPOSED: &str = "etag, location, retry-after, ratelimit, ratelimit-policy, x-request-id, x-next-cursor, x-total-count";

fn allow(headers: &mut HeaderMap, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
}

pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let origins = req
        .app_data::<web::Data<CorsOrigins>>()
        .filter(|o| !o.0.is_empty())
        .cloned();
    let Some(origins) = origins else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let origin = req
        .headers()
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let allowed = origin
        .as_deref()
        .filter(|o| origins.0.iter().any(|a| a == o))
        .map(str::to_string);
    let preflight = req.method() == Method::OPTIONS
        && origin.is_some()
        && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let Some(origin) = allowed else {
            let refusal = Error::forbidden(format!(
                "origin '{}' may not call this API from a browser; the operator lists allowed origins in cors_allowed_origins",
                origin
                    .unwrap_or_default()
                    .chars()
                    .take(100)
                    .collect::<String>()
            ));
            return Ok(req.error_response(refusal));
        };
        let mut res = HttpResponse::NoContent().finish();
        let headers = res.headers_mut();
        allow(headers, &origin);
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(METHODS),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(REQUEST_HEADERS),
        );
        headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        headers.append(VARY, HeaderValue::from_static("Origin"));
        return Ok(req.into_response(res));
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    let headers = res.headers_mut();
    headers.append(VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed {
        allow(headers, &origin);
        headers.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
    }
    Ok(res)
}
