//! Access requests for conditional datasets: filing and withdrawing one's own, and review
//! (list, approve with an optional narrowing, reject) by whoever the policy lets
//! `access:review` the dataset: its organisation's reviewers and admins.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access::{self, AccessRequest, NewAccessRequest, RequestFilter, RequestStatus};
use crate::api::datasets::{authorize, page_bounds};
use crate::api::state::AppState;
use crate::audit::Note;
use crate::auth::Principal;
use crate::catalog::{self, DatasetRecord};
use crate::data::types::Column;
use crate::db::AnyConnection;
use crate::error::{Error, Result};
use crate::policy::{self, Action, Engine};

pub mod review;

/// A page of access requests, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessRequestList {
    /// The requests on this page.
    pub data: Vec<AccessRequest>,
    /// Requests matching the filter, on every page.
    #[schema(example = 1)]
    pub total: i64,
    /// The page size used.
    #[schema(example = 50)]
    pub limit: u32,
    /// Requests skipped before this page.
    #[schema(example = 0)]
    pub offset: u32,
}

/// Which requests to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RequestParams {
    /// Only requests in this state.
    #[param(example = "pending")]
    pub status: Option<RequestStatus>,
    /// Only requests for this dataset (slug).
    #[param(example = "us-census-acs-2012-sample")]
    pub dataset: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(example = 50, minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "crate::api::params::limit")]
    pub limit: Option<u32>,
    /// Items to skip.
    #[param(example = 0)]
    #[serde(default, deserialize_with = "crate::api::params::offset")]
    pub offset: Option<u32>,
}

/// A rejection or revocation reason, shown to the applicant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Why, in plain words, 1 to 2,000 characters; the applicant or grantee reads it.
    #[schema(
        example = "the purpose does not need personal income data",
        min_length = 1,
        max_length = 2000
    )]
    pub reason: String,
}

pub(crate) fn signed_in(principal: &Principal, doing: &str) -> Result<String> {
    match principal {
        Principal::Anonymous => Err(Error::unauthorized(format!(
            "{doing} needs credentials; send Authorization: Bearer <token>"
        ))),
        p => Ok(p.subject()),
    }
}

pub(super) fn columns_of(conn: &mut AnyConnection, dataset: &DatasetRecord) -> Result<Vec<Column>> {
    Ok(catalog::current_version(conn, dataset)?
        .map(|v| v.columns)
        .unwrap_or_default())
}

/// The ids of the datasets `principal` may review, for listings.
pub(crate) fn reviewable(
    conn: &mut AnyConnection,
    engine: &Engine,
    principal: &Principal,
) -> Result<Vec<i64>> {
    let visible =
        policy::reach_datasets(engine, &policy::identities(principal), Action::AccessReview);
    catalog::visible_dataset_ids(conn, &visible)
}

/// Ask for the data of a conditional dataset.
#[utoipa::path(
    tag = "access",
    operation_id = "create_access_request",
    params(("slug" = String, Path, description = "Dataset slug", example = "us-census-acs-2012-sample")),
    request_body = NewAccessRequest,
    responses(
        (status = 201, description = "The request, pending review", body = AccessRequest),
        (status = 400, description = "Terms not accepted, purpose too short, a duration or column is invalid"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not request access to this dataset"),
        (status = 404, description = "No such dataset"),
        (status = 409, description = "The dataset is open, or the caller has a pending request for it"),
        (status = 413, description = "The body is too large"),
        (status = 415, description = "The body is not JSON"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[post("/v1/datasets/{slug}/access-requests")]
pub async fn create_access_request(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    slug: web::Path<String>,
    body: web::Json<NewAccessRequest>,
) -> Result<HttpResponse> {
    let engine = state.policy.current();
    let new = body.into_inner();
    let slug = slug.into_inner();
    let request = state
        .db
        .run(move |conn| {
            let dataset = authorize(
                conn,
                &engine,
                &principal,
                &note,
                &slug,
                Action::AccessRequest,
            )?;
            let subject = signed_in(&principal, "requesting access")?;
            let columns = columns_of(conn, &dataset)?;
            access::create(conn, &dataset, &columns, &subject, &new)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/me/access-requests/{}", request.id)))
        .json(request))
}

/// List the caller's own access requests.
#[utoipa::path(
    tag = "access",
    operation_id = "list_my_access_requests",
    params(RequestParams),
    responses(
        (status = 200, description = "A page of the caller's requests", body = AccessRequestList),
        (status = 400, description = "A parameter is invalid"),
        (status = 401, description = "No or invalid credentials"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[get("/v1/me/access-requests")]
pub async fn list_my_access_requests(
    state: web::Data<AppState>,
    principal: Principal,
    params: web::Query<RequestParams>,
) -> Result<web::Json<AccessRequestList>> {
    let subject = signed_in(&principal, "listing your access requests")?;
    let params = params.into_inner();
    let (limit, offset) = page_bounds(params.limit, params.offset)?;
    let filter = RequestFilter {
        subject: Some(subject),
        dataset_ids: None,
        status: params.status,
        limit: i64::from(limit),
        offset: i64::from(offset),
    };
    let dataset = params.dataset;
    let (data, total) = state
        .db
        .run(move |conn| {
            let mut filter = filter;
            if let Some(slug) = dataset {
                filter.dataset_ids = Some(dataset_id(conn, &slug)?.into_iter().collect());
            }
            access::list_requests(conn, &filter)
        })
        .await?;
    Ok(web::Json(AccessRequestList {
        data,
        total,
        limit,
        offset,
    }))
}

fn dataset_id(conn: &mut AnyConnection, slug: &str) -> Result<Option<i64>> {
    let Ok(parsed) = catalog::DatasetSlug::parse(slug) else {
        return Ok(None);
    };
    Ok(catalog::find_dataset(conn, &parsed)?.map(|d| d.id))
}

/// Withdraw one of the caller's pending requests.
#[utoipa::path(
    tag = "access",
    operation_id = "withdraw_access_request",
    params(("id" = String, Path, description = "Request id", example = "a8521c1166168b83")),
    responses(
        (status = 200, description = "The withdrawn request", body = AccessRequest),
        (status = 401, description = "No or invalid credentials"),
        (status = 404, description = "The caller has no request with that id"),
        (status = 409, description = "The request was decided already"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[post("/v1/me/access-requests/{id}/withdraw")]
pub async fn withdraw_access_request(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    id: web::Path<String>,
) -> Result<web::Json<AccessRequest>> {
    let subject = signed_in(&principal, "withdrawing a request")?;
    let id = id.into_inner();
    let request = state
        .db
        .run(move |conn| access::withdraw(conn, &id, &subject))
        .await?;
    note.update(|d| {
        d.dataset = Some(request.dataset.clone());
        d.action = Some(Action::AccessRequest.as_str().to_owned());
    });
    Ok(web::Json(request))
}

/// List the access requests the caller may review (its organisation's datasets).
#[utoipa::path(
    tag = "access",
    operation_id = "list_access_requests",
    params(RequestParams),
    responses(
        (status = 200, description = "A page of requests for datasets the caller reviews", body = AccessRequestList),
        (status = 400, description = "A parameter is invalid"),
        (status = 401, description = "No or invalid credentials"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[get("/v1/access-requests")]
pub async fn list_access_requests(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    params: web::Query<RequestParams>,
) -> Result<web::Json<AccessRequestList>> {
    signed_in(&principal, "reviewing access requests")?;
    let params = params.into_inner();
    let (limit, offset) = page_bounds(params.limit, params.offset)?;
    let engine = state.policy.current();
    note.update(|d| d.action = Some(Action::AccessReview.as_str().to_owned()));
    let (data, total) = state
        .db
        .run(move |conn| {
            let mut ids = reviewable(conn, &engine, &principal)?;
            if let Some(slug) = params.dataset {
                let only = dataset_id(conn, &slug)?;
                ids.retain(|id| Some(*id) == only);
            }
            let filter = RequestFilter {
                subject: None,
                dataset_ids: Some(ids),
                status: params.status,
                limit: i64::from(limit),
                offset: i64::from(offset),
            };
            access::list_requests(conn, &filter)
        })
        .await?;
    Ok(web::Json(AccessRequestList {
        data,
        total,
        limit,
        offset,
    }))
}
