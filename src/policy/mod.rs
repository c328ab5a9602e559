//! Decisions: may this principal do this action on this dataset? Deny by
//! default. This is the foundation's fixed tier policy — anonymous callers
//! read open datasets and the metadata of conditional ones, restricted
//! datasets are invisible, the admin may do everything — which the Casbin
//! policy of the identity work replaces behind the same `decide` call.

use crate::auth::Principal;
use crate::catalog::Tier;

/// What a caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CatalogRead,
    DataQuery,
    DataExport,
    DatasetPublish,
    DatasetManage,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::CatalogRead => "catalog:read",
            Action::DataQuery => "data:query",
            Action::DataExport => "data:export",
            Action::DatasetPublish => "dataset:publish",
            Action::DatasetManage => "dataset:manage",
        }
    }
}

/// The outcome of a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// The caller may see the dataset exists but not do this.
    Deny,
    /// The caller may not even know the dataset exists (answer 404).
    Hidden,
}

/// Decides `action` by `principal` on a dataset of `tier`.
pub fn decide(principal: &Principal, tier: Tier, action: Action) -> Decision {
    if principal.is_admin() {
        return Decision::Allow;
    }
    match (tier, action) {
        (Tier::Restricted, _) => Decision::Hidden,
        (Tier::Open, Action::CatalogRead | Action::DataQuery | Action::DataExport) => {
            Decision::Allow
        }
        (Tier::Conditional, Action::CatalogRead) => Decision::Allow,
        _ => Decision::Deny,
    }
}

/// The tiers whose datasets `principal` may see in listings.
pub fn visible_tiers(principal: &Principal) -> Vec<&'static str> {
    [Tier::Open, Tier::Conditional, Tier::Restricted]
        .into_iter()
        .filter(|t| decide(principal, *t, Action::CatalogRead) == Decision::Allow)
        .map(Tier::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_sees_open_and_conditional_metadata_only() {
        let a = Principal::Anonymous;
        assert_eq!(decide(&a, Tier::Open, Action::DataExport), Decision::Allow);
        assert_eq!(
            decide(&a, Tier::Conditional, Action::CatalogRead),
            Decision::Allow
        );
        assert_eq!(
            decide(&a, Tier::Conditional, Action::DataQuery),
            Decision::Deny
        );
        assert_eq!(
            decide(&a, Tier::Restricted, Action::CatalogRead),
            Decision::Hidden
        );
        assert_eq!(
            decide(&a, Tier::Open, Action::DatasetPublish),
            Decision::Deny
        );
        assert_eq!(visible_tiers(&a), vec!["open", "conditional"]);
    }

    #[test]
    fn admin_may_do_everything() {
        assert_eq!(
            decide(&Principal::Admin, Tier::Restricted, Action::DatasetManage),
            Decision::Allow
        );
        assert_eq!(visible_tiers(&Principal::Admin).len(), 3);
    }
}
