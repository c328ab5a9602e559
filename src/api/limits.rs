//! Limits on the request head: a request whose header fields together
//! exceed `max_header_bytes` is answered 431 before any handler runs (actix
//! itself stops reading a head at 128 KiB). Credentials are not counted:
//! they have their own limit (`jwt.max_token_bytes`), answered 401 with a
//! challenge, and the request target has its own (the query language's).
//! Inside the pipeline, so the refusal is audited.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::web;

use crate::error::{Error, Kind};

/// Largest total of header fields accepted, in bytes, credentials aside.
#[derive(Debug, Clone, Copy)]
pub struct MaxHeaderBytes(pub usize);

fn header_bytes(req: &ServiceRequest) -> usize {
    req.headers()
        .iter()
        .filter(|(name, _)| *name != AUTHORIZATION && name.as_str() != "x-api-key")
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

pub async fn header_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Some(max) = req.app_data::<web::Data<MaxHeaderBytes>>() {
        let size = header_bytes(&req);
        if size > max.0 {
            let refusal = Error::new(
                Kind::HeadersTooLarge,
                format!(
                    "the header fields (credentials aside) are {size} bytes, more than the {} this server accepts; send fewer or shorter headers",
                    max.0
                ),
            );
            return Ok(req.error_response(refusal));
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}
