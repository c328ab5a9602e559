//! Who may do what to which object. Deny by default; a deny for any of the
//! caller's identities beats every allow. Decisions come from Casbin's
//! enforcer over `policies/model.conf` and the rules (`policies/policy.csv`
//! plus the per-organisation rules); the engine is rebuilt whole and swapped
//! in when the rules change, never reloaded in place. This module also maps
//! a principal to its identities and a dataset to its groups, so callers
//! ask in terms of datasets and actions, never raw paths.

mod adapter;
pub mod cases;
pub mod edits;
mod engine;
mod error;
mod memo;
mod rules;
mod shared;
pub mod simulate;
pub mod store;
#[cfg(test)]
mod test_support;
mod validate;

pub use adapter::DbAdapter;
pub use engine::{Decision, Engine, Explanation};
pub use error::PolicyError;
pub use rules::{
    ACTIONS, Effect, Rule, SYSTEM_OBJECTS, TIERS, org_rules, parse_csv, principal_identities,
};
pub use shared::SharedEngine;
pub use validate::{Known, validate};

use crate::auth::Principal;
use crate::catalog::{Tier, Visible};

/// The Casbin model shipped with the gateway.
pub const MODEL: &str = include_str!("../../policies/model.conf");
/// The starting rules shipped with the gateway.
pub const DEFAULT_RULES: &str = include_str!("../../policies/policy.csv");

/// What a caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CatalogRead,
    DataQuery,
    DataExport,
    DatasetPublish,
    DatasetManage,
    AccessRequest,
    AccessReview,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::CatalogRead => "catalog:read",
            Action::DataQuery => "data:query",
            Action::DataExport => "data:export",
            Action::DatasetPublish => "dataset:publish",
            Action::DatasetManage => "dataset:manage",
            Action::AccessRequest => "access:request",
            Action::AccessReview => "access:review",
        }
    }
}

/// The identities `principal` holds. Organisation roles from a token
/// (`publisher`, `reviewer` with an `org` claim) become `publisher:<org>`,
/// the roles the per-organisation rules name.
pub fn identities(principal: &Principal) -> Vec<String> {
    let subject = match principal {
        Principal::Anonymous => None,
        other => Some(other.subject()),
    };
    let subject = subject.map(|s| s.strip_prefix("user:").unwrap_or(&s).to_string());
    identities_of(subject.as_deref(), &principal.roles(), principal.org())
}

/// The identities of a caller with `subject` (none: anonymous), token `roles` and
/// organisation `org`; what `identities` computes for a real principal.
pub fn identities_of(subject: Option<&str>, roles: &[String], org: Option<&str>) -> Vec<String> {
    let mut roles = roles.to_vec();
    if let Some(org) = org {
        for kind in ["publisher", "reviewer"] {
            if roles.iter().any(|r| r == kind) {
                roles.push(format!("{kind}:{org}"));
            }
        }
    }
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    principal_identities(subject, &roles)
}

/// A dataset as the policy sees it.
pub struct DatasetRef<'a> {
    pub slug: &'a str,
    pub tier: Tier,
    pub org: &'a str,
}

/// Decides `action` on `dataset` for a caller holding `ids`.
pub fn decide_dataset(
    engine: &Engine,
    ids: &[String],
    dataset: &DatasetRef<'_>,
    action: Action,
) -> Decision {
    let groups = [
        format!("tier:{}", dataset.tier.as_str()),
        format!("org:{}", dataset.org),
    ];
    engine.decide(
        ids,
        &format!("dataset:{}", dataset.slug),
        &groups,
        action.as_str(),
    )
}

/// Which datasets a caller holding `ids` may see in listings, as the catalog filters them.
pub fn visibility(engine: &Engine, ids: &[String]) -> Visible {
    reach_datasets(engine, ids, Action::CatalogRead)
}

/// The datasets on which a caller holding `ids` may do `action`, as a catalog filter.
pub fn reach_datasets(engine: &Engine, ids: &[String], action: Action) -> Visible {
    let (allowed, denied) = engine.reach(ids, action.as_str());
    let mut visible = Visible::default();
    for (objects, deny) in [(allowed, false), (denied, true)] {
        for object in objects {
            let (all, tiers, orgs, datasets) = if deny {
                (
                    &mut visible.deny_all,
                    &mut visible.deny_tiers,
                    &mut visible.deny_orgs,
                    &mut visible.deny_datasets,
                )
            } else {
                (
                    &mut visible.all,
                    &mut visible.tiers,
                    &mut visible.orgs,
                    &mut visible.datasets,
                )
            };
            match object.split_once(':') {
                _ if object == "*" => *all = true,
                Some(("tier", t)) => tiers.push(t.to_owned()),
                Some(("org", o)) => orgs.push(o.to_owned()),
                Some(("dataset", d)) => datasets.push(d.to_owned()),
                _ => {}
            }
        }
    }
    visible
}

/// The shipped rules plus those of each organisation in `orgs`.
pub fn starting_rules(orgs: &[String]) -> Result<Vec<Rule>, PolicyError> {
    let mut rules = parse_csv(DEFAULT_RULES)?;
    for org in orgs {
        rules.extend(org_rules(org));
    }
    Ok(rules)
}

/// Puts the shipped rules into an empty database as revision 1 and adds the rules of
/// organisations that have none yet; a database that already holds rules keeps them.
pub fn prepare_store(conn: &mut crate::db::AnyConnection) -> crate::error::Result<()> {
    let shipped = parse_csv(DEFAULT_RULES)
        .map_err(|e| crate::error::Error::internal("reading policies/policy.csv", e.to_string()))?;
    store::seed(
        conn,
        &shipped,
        &store::Author::system("initial rules from policies/policy.csv"),
    )?;
    store::seed_new_orgs(conn)?;
    Ok(())
}
