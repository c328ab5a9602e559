//! Headers every answer carries, whatever produced it (a handler, an error,
//! the rate limit, a failed audit): `X-Content-Type-Options: nosniff`,
//! `Referrer-Policy: no-referrer`, and `Cache-Control: no-store` on answers
//! to requests that carried credentials, so no shared cache or browser keeps
//! what only that caller may see. The outermost middleware; it changes no
//! status and no body. Middleware inside the pipeline answers refusals as
//! error responses (`ServiceRequest::error_response`), not as `Err`, so
//! they too pass through here.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{
    AUTHORIZATION, CACHE_CONTROL, HeaderName, HeaderValue, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use actix_web::middleware::Next;

/// Whether the request carried credentials (a bearer token or an API key).
fn authenticated(req: &ServiceRequest) -> bool {
    req.headers().contains_key(AUTHORIZATION) || req.headers().contains_key("x-api-key")
}

pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let private = authenticated(&req);
    // The pipeline turns every error into a response, so all answers pass
    // here. (Holding a clone of the request to render an `Err` would break
    // actix's routing, which needs the only reference.)
    let mut res = next.call(req).await?.map_into_boxed_body();
    let headers = res.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if private {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.append(
            HeaderName::from_static("vary"),
            HeaderValue::from_static("Authorization, X-API-Key"),
        );
    }
    Ok(res)
}
