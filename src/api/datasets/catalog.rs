//! Catalog handlers: list, read and create datasets.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::resolve::authorize;
use crate::api::etag::json_with_etag;
use crate::api::state::AppState;
use crate::audit::Note;
use crate::auth::Principal;
use crate::catalog::{self, DatasetDetail, DatasetFilter, DatasetSummary, NewDataset, Tier};
use crate::error::{Error, Result};
use crate::masks::{self, Viewer};
use crate::policy::{self, Action};

/// Query parameters of the dataset listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Words that must each appear in the title, description or a tag (case-insensitive).
    #[param(example = "flights")]
    pub q: Option<String>,
    /// Only datasets of this organisation (slug).
    #[param(example = "us-dot-bts")]
    pub organization: Option<String>,
    /// Only datasets with this tag.
    #[param(example = "transport")]
    pub tag: Option<String>,
    /// Only datasets of this tier.
    #[param(example = "open")]
    pub tier: Option<Tier>,
    /// Datasets per page, 1 to 500 (default 50).
    #[param(example = 50, minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "crate::api::params::limit")]
    pub limit: Option<u32>,
    /// Datasets to skip.
    #[param(example = 0)]
    #[serde(default, deserialize_with = "crate::api::params::offset")]
    pub offset: Option<u32>,
}

/// A page of the dataset listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetList {
    /// The datasets of this page.
    pub data: Vec<DatasetSummary>,
    /// Matching datasets the caller may see, over all pages.
    #[schema(example = 5)]
    pub total: i64,
    /// Page size used.
    #[schema(example = 50)]
    pub limit: u32,
    /// Offset used.
    #[schema(example = 0)]
    pub offset: u32,
}

pub(crate) fn page_bounds(limit: Option<u32>, offset: Option<u32>) -> Result<(u32, u32)> {
    let limit = limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Error::bad_request("limit must be between 1 and 500"));
    }
    let offset = offset.unwrap_or(0);
    // The spec declares offsets as int32, as generated clients hold them.
    if offset > i32::MAX as u32 {
        return Err(Error::bad_request(format!(
            "offset must be at most {}",
            i32::MAX
        )));
    }
    Ok((limit, offset))
}

/// List datasets the caller may see, with search and filters.
#[utoipa::path(
    tag = "catalog",
    params(
        ListParams,
        ("If-None-Match" = Option<String>, Header, description = "ETag of a page the client holds; 304 when it is still what this caller would get", example = "\"5f2a9c0b1d3e4f67\"")
    ),
    responses(
        (status = 200, description = "A page of datasets", body = DatasetList,
            headers(("ETag" = String, description = "Changes whenever this page, as this caller sees it, changes"))),
        (status = 304, description = "The page named by If-None-Match is still current",
            headers(("ETag" = String, description = "The current ETag"))),
        (status = 400, description = "A parameter is invalid"),
        (status = 401, description = "The credentials are invalid"),
    ),
    security((), ("bearer" = []), ("api_key" = []))
)]
#[get("/v1/datasets")]
pub async fn list_datasets(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    params: web::Query<ListParams>,
) -> Result<HttpResponse> {
    let params = params.into_inner();
    let (limit, offset) = page_bounds(params.limit, params.offset)?;
    let filter = DatasetFilter {
        q: params.q,
        organization: params.organization,
        tag: params.tag,
        tier: params.tier,
    };
    let visible = policy::visibility(&state.policy.current(), &policy::identities(&principal));
    let rule = visible.describe();
    note.update(|d| {
        d.action = Some(Action::CatalogRead.as_str().to_string());
        d.decision = Some("allow".to_string());
        d.rule = Some(rule);
    });
    let (data, total) = state
        .db
        .run(move |conn| {
            catalog::list_datasets(conn, &filter, &visible, i64::from(limit), i64::from(offset))
        })
        .await?;
    json_with_etag(
        &req,
        &DatasetList {
            data,
            total,
            limit,
            offset,
        },
    )
}

/// Read a dataset's metadata: columns with types, row count, versions, licence.
#[utoipa::path(
    tag = "catalog",
    params(
        ("slug" = String, Path, description = "Dataset slug", example = "nyc-flights-2013"),
        ("If-None-Match" = Option<String>, Header, description = "ETag of a copy the client holds; 304 when it is still current", example = "\"5f2a9c0b1d3e4f67\"")
    ),
    responses(
        (status = 200, description = "The dataset's metadata", body = DatasetDetail,
            headers(("ETag" = String, description = "Changes whenever the metadata or the current version changes"))),
        (status = 304, description = "The copy named by If-None-Match is still current",
            headers(("ETag" = String, description = "The current ETag"))),
        (status = 401, description = "The credentials are invalid"),
        (status = 404, description = "No such dataset, or not visible to the caller"),
    ),
    security((), ("bearer" = []), ("api_key" = []))
)]
#[get("/v1/datasets/{slug}")]
pub async fn get_dataset(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    slug: web::Path<String>,
) -> Result<HttpResponse> {
    let slug = slug.into_inner();
    let engine = state.policy.current();
    let detail = state
        .db
        .run(move |conn| {
            let dataset = authorize(conn, &engine, &principal, &note, &slug, Action::CatalogRead)?;
            let mut detail = dataset.detail(conn)?;
            let columns = detail.columns.clone();
            masks::view_for(conn, &dataset, &columns, &Viewer::of(&principal))?
                .shape_detail(&mut detail);
            Ok(detail)
        })
        .await?;
    json_with_etag(&req, &detail)
}

/// Create a dataset (metadata only; upload its data with `PUT …/data`).
#[utoipa::path(
    tag = "publishing",
    request_body = NewDataset,
    responses(
        (status = 201, description = "The dataset was created", body = DatasetDetail),
        (status = 400, description = "The metadata is invalid"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not publish, or publishing over HTTP is off"),
        (status = 409, description = "The slug is taken"),
        (status = 413, description = "The body is too large"),
        (status = 415, description = "The body is not JSON"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[post("/v1/datasets")]
pub async fn create_dataset(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    body: web::Json<NewDataset>,
) -> Result<HttpResponse> {
    let new = body.into_inner();
    note.update(|d| {
        d.dataset = Some(new.slug.chars().take(80).collect());
        d.action = Some(Action::DatasetPublish.as_str().to_string());
    });
    super::publish::require_publishing_on(&state, &note)?;
    let target = policy::DatasetRef {
        slug: &new.slug,
        tier: new.tier,
        org: &new.organization,
    };
    let decision = policy::decide_dataset(
        &state.policy.current(),
        &policy::identities(&principal),
        &target,
        Action::DatasetPublish,
    );
    note.update(|d| {
        d.decision = Some(if decision.allowed { "allow" } else { "deny" }.to_string());
        d.rule = decision.rule.clone();
    });
    if !decision.allowed {
        return Err(match principal {
            Principal::Anonymous => Error::unauthorized(
                "creating a dataset needs credentials; send Authorization: Bearer <token>",
            ),
            _ => Error::forbidden(format!(
                "you may not publish for organisation '{}'; publishers publish for their own organisation only",
                new.organization.chars().take(80).collect::<String>()
            )),
        });
    }
    let detail = state
        .db
        .run(move |conn| catalog::create_dataset(conn, &new)?.detail(conn))
        .await?;
    // A new organisation brings its publisher and reviewer rules.
    state.refresh_policy().await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/datasets/{}", detail.summary.slug)))
        .json(detail))
}
