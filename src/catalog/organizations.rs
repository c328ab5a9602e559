//! Organisations: the public bodies that publish datasets.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::names::OrgSlug;
use crate::db::AnyConnection;
use crate::db::schema::{datasets, organizations};
use crate::error::Result;

/// A publishing organisation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Organization {
    /// URL name.
    #[schema(example = "us-dot-bts")]
    pub slug: String,
    /// Display name.
    #[schema(example = "U.S. DOT Bureau of Transportation Statistics")]
    pub name: String,
    /// Free text about the organisation.
    pub description: String,
    /// Number of datasets of this organisation the caller can see.
    pub datasets: i64,
}

/// The organisation's id, created with `name` if it does not exist yet.
pub fn ensure_organization(conn: &mut AnyConnection, slug: &OrgSlug, name: &str) -> Result<i64> {
    let inserted = diesel::insert_into(organizations::table)
        .values((
            organizations::slug.eq(slug.as_str()),
            organizations::name.eq(name),
            organizations::created_at.eq(super::now_text()),
        ))
        .execute(conn);
    crate::db::ignore_duplicate(inserted)?;
    Ok(organizations::table
        .filter(organizations::slug.eq(slug.as_str()))
        .select(organizations::id)
        .first(conn)?)
}

/// Organisations with the number of datasets in `visible_tiers`, paged.
pub fn list_organizations(
    conn: &mut AnyConnection,
    visible_tiers: &[&str],
    limit: i64,
    offset: i64,
) -> Result<(Vec<Organization>, i64)> {
    // An organisation whose every dataset is hidden from the caller is not
    // shown either: its existence would reveal that hidden data exists.
    let sees_all = visible_tiers.len() == 3;
    let build = || {
        let mut q = organizations::table.into_boxed();
        if !sees_all {
            let visible = datasets::table
                .filter(datasets::tier.eq_any(visible_tiers.to_vec()))
                .select(datasets::organization_id);
            q = q.filter(organizations::id.eq_any(visible));
        }
        q
    };
    let total: i64 = build().count().get_result(conn)?;
    let rows: Vec<(i64, String, String, String)> = build()
        .select((
            organizations::id,
            organizations::slug,
            organizations::name,
            organizations::description,
        ))
        .order(organizations::slug.asc())
        .limit(limit)
        .offset(offset)
        .load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, slug, name, description) in rows {
        let count: i64 = datasets::table
            .filter(datasets::organization_id.eq(id))
            .filter(datasets::tier.eq_any(visible_tiers))
            .count()
            .get_result(conn)?;
        out.push(Organization {
            slug,
            name,
            description,
            datasets: count,
        });
    }
    Ok((out, total))
}

/// Slugs of every dataset of organisation `org` (a publisher's own).
pub fn dataset_slugs_of(conn: &mut AnyConnection, org: &str) -> Result<Vec<String>> {
    Ok(datasets::table
        .inner_join(organizations::table)
        .filter(organizations::slug.eq(org))
        .select(datasets::slug)
        .order(datasets::slug.asc())
        .load(conn)?)
}

/// Every organisation's slug (the policy adds rules for each).
pub fn organization_slugs(conn: &mut AnyConnection) -> Result<Vec<String>> {
    Ok(organizations::table
        .select(organizations::slug)
        .order(organizations::slug.asc())
        .load(conn)?)
}
