//! Datasets: creation, lookup by slug and the filtered, paged listing.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::names::{DatasetSlug, OrgSlug, Tier};
use super::organizations::ensure_organization;
use super::versions::{VersionInfo, list_versions};
use super::visibility::{Visible, visible_filter};
use crate::data::types::Column;

use crate::db::AnyConnection;
use crate::db::schema::{dataset_tags, dataset_versions, datasets, organizations};
use crate::error::{Error, Result};

/// What a publisher gives to create a dataset.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDataset {
    /// URL name: 1 to 64 lowercase letters, digits, '-' or '_'.
    #[schema(example = "nyc-flights-2013")]
    pub slug: String,
    /// Human title.
    #[schema(example = "NYC flights 2013")]
    pub title: String,
    /// Free text description.
    #[serde(default)]
    #[schema(example = "On-time record of every flight that departed NYC in 2013.")]
    pub description: String,
    /// Slug of the publishing organisation; created if it does not exist.
    #[schema(example = "us-dot-bts")]
    pub organization: String,
    /// Licence or terms of use.
    #[serde(default)]
    #[schema(example = "Public domain (U.S. federal government work)")]
    pub licence: String,
    /// Keywords for search and filtering.
    #[serde(default)]
    #[schema(example = json!(["transport", "aviation"]))]
    pub tags: Vec<String>,
    /// Openness tier; `open` when omitted.
    #[serde(default = "default_tier")]
    pub tier: Tier,
    /// Columns holding sensitive values (masked by later policy).
    #[serde(default)]
    #[schema(example = json!(["tailnum"]))]
    pub sensitive_columns: Vec<String>,
}

fn default_tier() -> Tier {
    Tier::Open
}

/// A dataset as the rooms below the API see it.
#[derive(Debug, Clone)]
pub struct DatasetRecord {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub organization: String,
    pub licence: String,
    pub tier: Tier,
    pub sensitive_columns: Vec<String>,
    pub current_version_id: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

/// A dataset in a listing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DatasetSummary {
    /// URL name.
    #[schema(example = "nyc-flights-2013")]
    pub slug: String,
    /// Human title.
    #[schema(example = "NYC flights 2013 (first 20,000 departures)")]
    pub title: String,
    /// Free text description.
    #[schema(
        example = "On-time record of flights that departed New York City (EWR, JFK, LGA) in 2013."
    )]
    pub description: String,
    /// Slug of the publishing organisation.
    #[schema(example = "us-dot-bts")]
    pub organization: String,
    /// Licence or terms of use.
    #[schema(example = "Public domain (U.S. federal government work); package CC0")]
    pub licence: String,
    /// Keywords, sorted.
    #[schema(example = json!(["aviation", "on-time", "transport"]))]
    pub tags: Vec<String>,
    /// Openness tier.
    pub tier: Tier,
    /// Rows in the current version; null before the first import.
    #[schema(example = 20000)]
    pub row_count: Option<i64>,
    /// Last change of metadata or data (RFC 3339).
    #[schema(example = "2026-11-29T06:23:48Z")]
    pub updated_at: String,
}

/// A dataset's full metadata.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DatasetDetail {
    #[serde(flatten)]
    pub summary: DatasetSummary,
    /// Columns marked sensitive by the publisher (those hidden from the caller left out).
    #[schema(example = json!(["tailnum"]))]
    pub sensitive_columns: Vec<String>,
    /// Columns of the current version with their types, as the caller may see them
    /// (hidden columns left out); empty before the first import.
    pub columns: Vec<Column>,
    /// Columns the caller receives masked or hashed, with the treatment (`mask`, `hash`).
    #[schema(example = json!({"tailnum": "mask"}))]
    pub masked_columns: std::collections::BTreeMap<String, String>,
    /// The current version; null before the first import.
    pub version: Option<VersionInfo>,
    /// Every version, newest first.
    pub versions: Vec<VersionInfo>,
    /// Creation time (RFC 3339).
    #[schema(example = "2026-11-29T06:23:46Z")]
    pub created_at: String,
}

/// Filters of the dataset listing.
#[derive(Debug, Clone, Default)]
pub struct DatasetFilter {
    /// Words that must each appear in the title, description or a tag.
    pub q: Option<String>,
    pub organization: Option<String>,
    pub tag: Option<String>,
    pub tier: Option<Tier>,
}

type Row = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    String,
    String,
);

fn record(row: Row) -> Result<DatasetRecord> {
    let (
        id,
        slug,
        title,
        description,
        organization,
        licence,
        tier,
        sensitive,
        cur,
        created,
        updated,
    ) = row;
    Ok(DatasetRecord {
        id,
        slug,
        title,
        description,
        organization,
        licence,
        tier: Tier::parse(&tier)?,
        sensitive_columns: serde_json::from_str(&sensitive)
            .map_err(|e| Error::internal("reading sensitive columns", e))?,
        current_version_id: cur,
        created_at: created,
        updated_at: updated,
    })
}

macro_rules! dataset_columns {
    () => {
        (
            datasets::id,
            datasets::slug,
            datasets::title,
            datasets::description,
            organizations::slug,
            datasets::licence,
            datasets::tier,
            datasets::sensitive_columns,
            datasets::current_version_id,
            datasets::created_at,
            datasets::updated_at,
        )
    };
}

fn validate(new: &NewDataset) -> Result<(DatasetSlug, OrgSlug)> {
    let slug = DatasetSlug::parse(&new.slug)?;
    let org = OrgSlug::parse(&new.organization)?;
    if new.title.trim().is_empty() || new.title.len() > 300 {
        return Err(Error::bad_request("title must be 1 to 300 characters"));
    }
    if new.description.len() > 20_000 {
        return Err(Error::bad_request(
            "description must be at most 20000 bytes",
        ));
    }
    if new.tags.len() > 50 {
        return Err(Error::bad_request("at most 50 tags"));
    }
    for tag in &new.tags {
        if tag.trim().is_empty() || tag.len() > 64 {
            return Err(Error::bad_request("each tag must be 1 to 64 characters"));
        }
    }
    if new.sensitive_columns.len() > 1000 {
        return Err(Error::bad_request("at most 1000 sensitive columns"));
    }
    Ok((slug, org))
}

/// Creates a dataset without data. A taken slug is a 409.
pub fn create_dataset(conn: &mut AnyConnection, new: &NewDataset) -> Result<DatasetRecord> {
    let (slug, org) = validate(new)?;
    let sensitive = serde_json::to_string(&new.sensitive_columns)
        .map_err(|e| Error::internal("encoding sensitive columns", e))?;
    crate::db::write_transaction(conn, |conn| {
        if find_dataset(conn, &slug)?.is_some() {
            return Err(Error::conflict(format!(
                "a dataset with slug '{slug}' already exists; choose another slug"
            )));
        }
        let org_id = ensure_organization(conn, &org, org.as_str())?;
        let now = super::now_text();
        let search_text = format!(
            "{}\n{}\n{}",
            new.title.trim(),
            new.description,
            new.tags.join("\n")
        )
        .to_lowercase();
        diesel::insert_into(datasets::table)
            .values((
                datasets::slug.eq(slug.as_str()),
                datasets::title.eq(new.title.trim()),
                datasets::description.eq(&new.description),
                datasets::organization_id.eq(org_id),
                datasets::licence.eq(&new.licence),
                datasets::tier.eq(new.tier.as_str()),
                datasets::sensitive_columns.eq(&sensitive),
                datasets::search_text.eq(&search_text),
                datasets::created_at.eq(&now),
                datasets::updated_at.eq(&now),
            ))
            .execute(conn)?;
        let record = find_dataset(conn, &slug)?
            .ok_or_else(|| Error::internal("creating dataset", "row vanished after insert"))?;
        let mut tags: Vec<&str> = new.tags.iter().map(|t| t.trim()).collect();
        tags.sort_unstable();
        tags.dedup();
        for tag in tags {
            diesel::insert_into(dataset_tags::table)
                .values((
                    dataset_tags::dataset_id.eq(record.id),
                    dataset_tags::tag.eq(tag),
                ))
                .execute(conn)?;
        }
        Ok(record)
    })
}

pub fn find_dataset(conn: &mut AnyConnection, slug: &DatasetSlug) -> Result<Option<DatasetRecord>> {
    let row: Option<Row> = datasets::table
        .inner_join(organizations::table)
        .filter(datasets::slug.eq(slug.as_str()))
        .select(dataset_columns!())
        .first(conn)
        .optional()?;
    row.map(record).transpose()
}

fn tags_of(conn: &mut AnyConnection, id: i64) -> Result<Vec<String>> {
    Ok(dataset_tags::table
        .filter(dataset_tags::dataset_id.eq(id))
        .select(dataset_tags::tag)
        .order(dataset_tags::tag.asc())
        .load(conn)?)
}

fn like_pattern(word: &str) -> String {
    let escaped = word
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

impl DatasetRecord {
    pub fn summary(&self, conn: &mut AnyConnection) -> Result<DatasetSummary> {
        let row_count = match self.current_version_id {
            Some(v) => Some(
                dataset_versions::table
                    .find(v)
                    .select(dataset_versions::row_count)
                    .first(conn)?,
            ),
            None => None,
        };
        Ok(DatasetSummary {
            slug: self.slug.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            organization: self.organization.clone(),
            licence: self.licence.clone(),
            tags: tags_of(conn, self.id)?,
            tier: self.tier,
            row_count,
            updated_at: self.updated_at.clone(),
        })
    }

    pub fn detail(&self, conn: &mut AnyConnection) -> Result<DatasetDetail> {
        let versions = list_versions(conn, self.id)?;
        let current = versions
            .iter()
            .find(|v| Some(v.id) == self.current_version_id)
            .cloned();
        Ok(DatasetDetail {
            summary: self.summary(conn)?,
            sensitive_columns: self.sensitive_columns.clone(),
            columns: current
                .as_ref()
                .map(|v| v.columns.clone())
                .unwrap_or_default(),
            masked_columns: Default::default(),
            version: current.map(|v| v.info()),
            versions: versions.iter().map(|v| v.info()).collect(),
            created_at: self.created_at.clone(),
        })
    }
}

/// Datasets `visible` to the caller matching `filter`, ordered by slug, paged;
/// the total counts only what the caller may see.
pub fn list_datasets(
    conn: &mut AnyConnection,
    filter: &DatasetFilter,
    visible: &Visible,
    limit: i64,
    offset: i64,
) -> Result<(Vec<DatasetSummary>, i64)> {
    let words: Vec<String> = filter
        .q
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .take(10)
        .map(|w| like_pattern(&w.to_lowercase()))
        .collect();
    if visible.deny_all {
        return Ok((Vec::new(), 0));
    }
    let build = || {
        let mut query = datasets::table
            .inner_join(organizations::table)
            .filter(visible_filter(visible))
            .into_boxed();
        if let Some(org) = &filter.organization {
            query = query.filter(organizations::slug.eq(org.clone()));
        }
        if let Some(tier) = filter.tier {
            query = query.filter(datasets::tier.eq(tier.as_str()));
        }
        if let Some(tag) = &filter.tag {
            let tagged = dataset_tags::table
                .filter(dataset_tags::tag.eq(tag.clone()))
                .select(dataset_tags::dataset_id);
            query = query.filter(datasets::id.eq_any(tagged));
        }
        for w in &words {
            query = query.filter(datasets::search_text.like(w.clone()).escape('\\'));
        }
        query
    };
    let total: i64 = build().count().get_result(conn)?;
    let rows: Vec<Row> = build()
        .select(dataset_columns!())
        .order(datasets::slug.asc())
        .limit(limit)
        .offset(offset)
        .load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(record(row)?.summary(conn)?);
    }
    Ok((out, total))
}
