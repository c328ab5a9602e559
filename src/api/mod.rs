//! The HTTP API: routes and handlers by resource, the middleware, extractor
//! error handling and the OpenAPI document. Every route is registered
//! through `configure`, which is also where the spec collects it, so an
//! undocumented route cannot exist. Handlers stay thin: they take typed
//! input, call the room that owns the work and shape its result.

mod access;
mod api_keys;
mod audit;
mod column_rules;
pub mod cors;
mod datasets;
mod etag;
mod fair_use;
mod grants;
mod guard;
mod health;
pub mod limits;
mod metrics;
pub mod middleware;
mod organizations;
mod params;
mod policy;
mod principals;
mod problems;
mod recording;
mod routes;
pub mod security_headers;
mod spec;
mod spec_links;
pub mod state;

use actix_web::{HttpMessage, HttpRequest, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::{Error, Kind};

pub use spec::{ApiDoc, openapi};

/// Largest JSON body accepted (queries and metadata).
const MAX_JSON_BYTES: usize = 1024 * 1024;

/// Registers every route and the extractor error handlers.
pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.app_data(json_config())
        .app_data(query_config())
        .app_data(path_config())
        .service(datasets::list_datasets)
        .service(datasets::create_dataset)
        .service(datasets::get_dataset)
        .service(datasets::publish_dataset_data)
        .service(datasets::query_rows)
        .service(datasets::query_dataset)
        .service(datasets::export_rows)
        .service(organizations::list_organizations)
        .service(audit::list_audit_records)
        .service(audit::export_audit_records)
        .service(audit::verify::verify_audit_log)
        .service(api_keys::create_api_key)
        .service(api_keys::list_api_keys)
        .service(api_keys::revoke_api_key)
        .service(policy::list_policy_rules)
        .service(policy::add_policy_rules)
        .service(policy::remove_policy_rules)
        .service(policy::revisions::list_policy_revisions)
        .service(policy::revisions::get_policy_revision)
        .service(policy::revisions::restore_policy_revision)
        .service(policy::check::check_policy)
        .service(policy::simulate::simulate_policy)
        .service(principals::get_principal_roles)
        .service(principals::set_principal_roles)
        .service(access::create_access_request)
        .service(access::list_my_access_requests)
        .service(access::withdraw_access_request)
        .service(access::list_access_requests)
        .service(access::review::approve_access_request)
        .service(access::review::reject_access_request)
        .service(grants::list_grants)
        .service(grants::list_my_grants)
        .service(grants::revoke_grant)
        .service(column_rules::get_column_rules)
        .service(column_rules::set_column_rules)
        .service(health::get_health)
        .service(health::get_readiness)
        .service(metrics::get_metrics)
        .service(fair_use::get_my_usage)
        .service(fair_use::get_limits)
        .service(fair_use::set_limits)
        .service(fair_use::reset_limits);
}

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_JSON_BYTES)
        .error_handler(|err, _req: &HttpRequest| {
            use actix_web::error::JsonPayloadError as J;
            let e = match &err {
                J::ContentType => Error::new(
                    Kind::UnsupportedMediaType,
                    "send the body as JSON with Content-Type: application/json",
                ),
                J::Overflow { limit } | J::OverflowKnownLength { limit, .. } => Error::new(
                    Kind::PayloadTooLarge,
                    format!("the JSON body is larger than {limit} bytes"),
                ),
                J::Deserialize(e) => Error::bad_request(format!("the JSON body is invalid: {e}")),
                other => Error::bad_request(format!("the JSON body could not be read: {other}")),
            };
            e.into()
        })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req: &HttpRequest| {
        Error::bad_request(format!("invalid query string: {err}")).into()
    })
}

fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req: &HttpRequest| {
        Error::bad_request(format!("invalid path: {err}")).into()
    })
}

/// Answers requests no route matched: 405 with `Allow` when the path exists with other
/// methods, else 404.
pub async fn no_route(req: HttpRequest) -> Result<actix_web::HttpResponse, Error> {
    let allowed = routes::methods_of(req.path());
    if allowed.is_empty() {
        return Err(Error::not_found(format!(
            "no route for {} {}; the API is described at /openapi.json and /docs",
            req.method(),
            req.path().chars().take(200).collect::<String>()
        )));
    }
    let allow = allowed.join(", ");
    let error = Error::new(
        Kind::MethodNotAllowed,
        format!("{} is not allowed on this path; use {allow}", req.method()),
    );
    let id = req
        .extensions()
        .get::<middleware::RequestId>()
        .map(|r| r.0.clone());
    let mut res = error.problem(id.as_deref()).into_response();
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
        res.headers_mut()
            .insert(actix_web::http::header::ALLOW, value);
    }
    Ok(res)
}

/// A response body that yields the chunks a blocking producer sends on `rx`.
pub(crate) fn channel_body(
    rx: tokio::sync::mpsc::Receiver<crate::error::Result<bytes::Bytes>>,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, actix_web::Error>> {
    futures_util::stream::unfold(rx, |mut rx| async move {
        let item = rx.recv().await?;
        if item.is_err() {
            // An error ends the connection at once, dropping what actix has not yet
            // written; waiting a moment first lets the chunks before it reach the client,
            // which then sees a transfer cut off after them.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Some((item.map_err(actix_web::Error::from), rx))
    })
}
