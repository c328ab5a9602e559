//! Publishing handler: upload a CSV body as the next version of a dataset.
//! The body is streamed to a temporary file (never held in memory), bounded
//! by the configured size, then imported on a blocking thread.

use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, put, web};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};

use super::resolve::authorize;
use crate::api::state::AppState;
use crate::audit::Note;
use crate::auth::Principal;
use crate::catalog::VersionInfo;
use crate::data::import::{ImportSource, NoProgress, import_file};
use crate::data::types::Column;
use crate::error::{Error, Kind, Result};
use crate::policy::Action;

/// Refuses every upload when the server accepts no credentials at all.
pub fn require_publishing_on(state: &AppState, note: &Note) -> Result<()> {
    if !state.publishing_enabled {
        note.update(|d| {
            d.decision = Some("deny".to_string());
            d.rule = Some("publishing_off".to_string());
        });
        return Err(Error::forbidden(
            "publishing over HTTP is off on this server: it has neither an admin_token nor JWT keys configured; publish with `kaifang import`",
        ));
    }
    Ok(())
}

/// Query parameters of an upload.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PublishParams {
    /// Name of the source file, recorded with the version.
    #[param(example = "flights-2013.csv")]
    pub source_name: Option<String>,
}

/// The version an upload created.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedVersion {
    /// Dataset slug.
    #[schema(example = "nyc-flights-2013")]
    pub dataset: String,
    /// The new current version.
    pub version: VersionInfo,
    /// Its columns with their inferred types.
    #[schema(example = json!([{"name": "carrier", "type": "text"}, {"name": "flight", "type": "integer"}, {"name": "dep_delay", "type": "integer"}]))]
    pub columns: Vec<Column>,
}

/// The raw bytes of an uploaded file, as the spec describes them.
pub struct FileBytes;

impl utoipa::PartialSchema for FileBytes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("The raw bytes of a file"))
            .examples([serde_json::json!(
                "year,month,day,dep_time,sched_dep_time,dep_delay,arr_time,sched_arr_time,arr_delay,carrier,flight,tailnum,origin,dest,air_time,distance,hour,minute,time_hour\n2013,1,1,517,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15,2013-01-01T10:00:00Z\n"
            )])
            .into()
    }
}

impl utoipa::ToSchema for FileBytes {}

fn check_content_type(req: &HttpRequest) -> Result<()> {
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ct.as_str() {
        // Gzip is told by the bytes, so a generic binary upload is as good as either.
        "text/csv"
        | "application/csv"
        | "application/gzip"
        | "application/x-gzip"
        | "application/octet-stream" => Ok(()),
        _ => Err(Error::new(
            Kind::UnsupportedMediaType,
            "send the file as CSV with Content-Type: text/csv (application/gzip for a gzipped CSV, or application/octet-stream for either)",
        )),
    }
}

fn too_large(max: u64) -> Error {
    Error::new(
        Kind::PayloadTooLarge,
        format!(
            "the upload is larger than the limit of {max} bytes (max_upload_bytes); split the file or ask the operator to raise the limit"
        ),
    )
}

/// Upload a CSV file as the next version of a dataset. The new version
/// replaces the current one atomically; a rejected file changes nothing.
#[utoipa::path(
    tag = "publishing",
    params(
        ("slug" = String, Path, description = "Dataset slug", example = "nyc-flights-2013"),
        PublishParams
    ),
    request_body(
        description = "The CSV file: a header row, UTF-8, comma-separated; may be gzipped (told by its bytes, whatever the content type)",
        content((String = "text/csv"), (String = "application/gzip"), (FileBytes = "application/octet-stream"))
    ),
    responses(
        (status = 201, description = "The new version is current", body = PublishedVersion),
        (status = 400, description = "The file is not valid CSV; `detail` names the line and column"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not publish, or publishing over HTTP is off"),
        (status = 404, description = "No such dataset"),
        (status = 413, description = "The file is larger than max_upload_bytes"),
        (status = 415, description = "The body is not CSV"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[put("/v1/datasets/{slug}/data")]
pub async fn publish_dataset_data(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    slug: web::Path<String>,
    params: web::Query<PublishParams>,
    mut body: web::Payload,
) -> Result<HttpResponse> {
    let slug = slug.into_inner();
    note.update(|d| {
        d.dataset = Some(slug.chars().take(80).collect());
        d.action = Some(Action::DatasetPublish.as_str().to_string());
    });
    require_publishing_on(&state, &note)?;
    let check_slug = slug.clone();
    let check_principal = principal.clone();
    let check_note = note.clone();
    let engine = state.policy.current();
    let dataset = state
        .db
        .run(move |conn| {
            authorize(
                conn,
                &engine,
                &check_principal,
                &check_note,
                &check_slug,
                Action::DatasetPublish,
            )
        })
        .await?;
    check_content_type(&req)?;
    let max = state.max_upload_bytes;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large(max));
    }

    let spool = tempfile::NamedTempFile::new()
        .map_err(|e| Error::internal("creating upload spool file", e))?;
    let mut file = tokio::fs::File::from_std(
        spool
            .reopen()
            .map_err(|e| Error::internal("opening upload spool file", e))?,
    );
    let mut written: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Incomplete(_) => Error::new(
                Kind::ClientClosed,
                "the client closed the connection before the upload was complete",
            ),
            other => Error::bad_request(format!("reading the upload failed: {other}")),
        })?;
        written += chunk.len() as u64;
        if written > max {
            return Err(too_large(max));
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| Error::internal("writing upload spool file", e))?;
    }
    file.flush()
        .await
        .map_err(|e| Error::internal("writing upload spool file", e))?;
    drop(file);

    let source = ImportSource {
        name: params
            .into_inner()
            .source_name
            .filter(|n| !n.is_empty())
            .map(|n| n.chars().take(200).collect())
            .unwrap_or_else(|| "upload.csv".to_string()),
        imported_by: principal.subject().to_string(),
    };
    let version = state
        .db
        .run(move |conn| {
            let version = import_file(conn, &dataset, spool.path(), &source, &mut NoProgress)?;
            drop(spool);
            Ok(version)
        })
        .await?;
    tracing::info!(dataset.slug = %slug, version = version.number, rows = version.row_count, "published");
    note.update(|d| d.rows = Some(version.row_count));
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/datasets/{slug}")))
        .json(PublishedVersion {
            dataset: slug,
            columns: version.columns.clone(),
            version: version.info(),
        }))
}
