//! Organisations: the public bodies that publish datasets.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::names::OrgSlug;
use super::visibility::{Visible, visible_dataset_orgs};
use crate::db::AnyConnection;
use crate::db::schema::{datasets, organizations};
use crate::error::Result;

/// A publishing organisation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Organization {
    /// URL name.
    #[schema(example = "us-dot-bts")]
    pub slug: String,
    /// Display name; an organisation created by publishing a dataset is named by its slug.
    #[schema(example = "us-dot-bts")]
    pub name: String,
    /// Free text about the organisation; empty when none was written.
    #[schema(example = "")]
    pub description: String,
    /// Number of datasets of this organisation the caller can see.
    #[schema(example = 1)]
    pub datasets: i64,
}

/// The organisation's id, created with `name` if it does not exist yet.
pub fn ensure_organization(conn: &mut AnyConnection, slug: &OrgSlug, name: &str) -> Result<i64> {
    // In a savepoint: on PostgreSQL a failed statement (the duplicate)
    // aborts the enclosing transaction unless rolled back to one.
    let inserted = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::insert_into(organizations::table)
            .values((
                organizations::slug.eq(slug.as_str()),
                organizations::name.eq(name),
                organizations::created_at.eq(super::now_text()),
            ))
            .execute(conn)
    });
    crate::db::ignore_duplicate(inserted)?;
    Ok(organizations::table
        .filter(organizations::slug.eq(slug.as_str()))
        .select(organizations::id)
        .first(conn)?)
}

/// Organisations with the number of their datasets `visible` to the caller, paged.
pub fn list_organizations(
    conn: &mut AnyConnection,
    visible: &Visible,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Organization>, i64)> {
    // An organisation whose every dataset is hidden from the caller is not
    // shown either: its existence would reveal that hidden data exists.
    let mut counts: HashMap<i64, i64> = HashMap::new();
    for org in visible_dataset_orgs(conn, visible)? {
        *counts.entry(org).or_default() += 1;
    }
    let ids: Vec<i64> = counts.keys().copied().collect();
    let build = || organizations::table.filter(organizations::id.eq_any(ids.clone()));
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
    Ok((
        rows.into_iter()
            .map(|(id, slug, name, description)| Organization {
                slug,
                name,
                description,
                datasets: counts.get(&id).copied().unwrap_or(0),
            })
            .collect(),
        total,
    ))
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
