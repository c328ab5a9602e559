//! Which datasets a caller may see: what the policy knows of each dataset,
//! the policy's answer as a value, and its SQL form over datasets joined
//! with their organisation.

use diesel::expression::BoxableExpression;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::names::Tier;
use crate::db::schema::{datasets, organizations};
use crate::db::{AnyConnection, MultiBackend};
use crate::error::Result;

/// Which datasets a caller may see, from `policy::visibility`: those allowed by tier,
/// organisation or slug (or all), minus those denied by any of them (or all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visible {
    pub all: bool,
    pub tiers: Vec<String>,
    pub orgs: Vec<String>,
    pub datasets: Vec<String>,
    pub deny_all: bool,
    pub deny_tiers: Vec<String>,
    pub deny_orgs: Vec<String>,
    pub deny_datasets: Vec<String>,
}

impl Visible {
    /// What the caller sees, as the audit record's rule: `visible: tier:open, org:x`.
    pub fn describe(&self) -> String {
        let named = |prefix: &str, items: &[String]| {
            items
                .iter()
                .map(|i| format!("{prefix}:{i}"))
                .collect::<Vec<_>>()
        };
        let mut seen = named("tier", &self.tiers);
        seen.extend(named("org", &self.orgs));
        seen.extend(named("dataset", &self.datasets));
        if self.all {
            seen = vec!["*".to_owned()];
        }
        let mut hidden = named("tier", &self.deny_tiers);
        hidden.extend(named("org", &self.deny_orgs));
        hidden.extend(named("dataset", &self.deny_datasets));
        if self.deny_all {
            hidden = vec!["*".to_owned()];
        }
        let mut text = format!("visible: {}", seen.join(", "));
        if !hidden.is_empty() {
            text.push_str(&format!("; denied: {}", hidden.join(", ")));
        }
        text
    }
}

/// The id of every dataset `visible` selects.
pub fn visible_dataset_ids(conn: &mut AnyConnection, visible: &Visible) -> Result<Vec<i64>> {
    if visible.deny_all {
        return Ok(Vec::new());
    }
    Ok(datasets::table
        .inner_join(organizations::table)
        .filter(visible_filter(visible))
        .select(datasets::id)
        .load(conn)?)
}

/// The organisation id of every dataset `visible` lets a caller see.
pub fn visible_dataset_orgs(conn: &mut AnyConnection, visible: &Visible) -> Result<Vec<i64>> {
    if visible.deny_all {
        return Ok(Vec::new());
    }
    Ok(datasets::table
        .inner_join(organizations::table)
        .filter(visible_filter(visible))
        .select(datasets::organization_id)
        .load(conn)?)
}

pub(super) type Joined =
    diesel::helper_types::InnerJoinQuerySource<datasets::table, organizations::table>;

/// The SQL form of `visible` over datasets joined with their organisation: allowed by
/// tier, organisation or slug, and denied by none of them.
pub(super) fn visible_filter(
    visible: &Visible,
) -> Box<dyn BoxableExpression<Joined, MultiBackend, SqlType = Bool>> {
    let allowed: Box<dyn BoxableExpression<Joined, MultiBackend, SqlType = Bool>> = if visible.all {
        Box::new(true.into_sql::<Bool>())
    } else {
        Box::new(
            datasets::tier
                .eq_any(visible.tiers.clone())
                .or(organizations::slug.eq_any(visible.orgs.clone()))
                .or(datasets::slug.eq_any(visible.datasets.clone())),
        )
    };
    Box::new(
        allowed
            .and(datasets::tier.ne_all(visible.deny_tiers.clone()))
            .and(organizations::slug.ne_all(visible.deny_orgs.clone()))
            .and(datasets::slug.ne_all(visible.deny_datasets.clone())),
    )
}

/// Every dataset as the policy sees it: slug, tier and owning organisation, by slug.
pub fn policy_targets(conn: &mut AnyConnection) -> Result<Vec<(String, Tier, String)>> {
    let rows: Vec<(String, String, String)> = datasets::table
        .inner_join(organizations::table)
        .order(datasets::slug.asc())
        .select((datasets::slug, datasets::tier, organizations::slug))
        .load(conn)?;
    rows.into_iter()
        .map(|(slug, tier, org)| Ok((slug, Tier::parse(&tier)?, org)))
        .collect()
}
