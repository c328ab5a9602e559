//! What a proposed rule change would do: every decision, over every dataset, system
//! object, action and known caller, that differs between the rules in force and the
//! rules after the change. Nothing is applied.

use std::collections::BTreeSet;

use serde::Serialize;
use utoipa::ToSchema;

use super::engine::Engine;
use super::rules::{ACTIONS, Rule, SYSTEM_OBJECTS, principal_identities};
use crate::masks::Carried;

/// One kind of caller whose decisions are compared: a role holder, a named user with
/// their assigned roles, or the built-in `anonymous` and `registered`.
#[derive(Debug, Clone)]
pub struct Caller {
    pub label: String,
    pub identities: Vec<String>,
}

/// One object decisions are asked about, with the groups it belongs to.
#[derive(Debug, Clone)]
pub struct Target {
    pub object: String,
    pub groups: Vec<String>,
}

impl Target {
    pub fn dataset(slug: &str, tier: &str, org: &str) -> Target {
        Target {
            object: format!("dataset:{slug}"),
            groups: vec![format!("tier:{tier}"), format!("org:{org}")],
        }
    }
}

/// A decision the change would flip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DecisionChange {
    /// The caller: `anonymous`, `registered`, `role:<name>` or `user:<id>`.
    #[schema(example = "role:researcher")]
    pub caller: String,
    /// The object: `dataset:<slug>`, `policy` or `audit`.
    #[schema(example = "dataset:us-census-acs-2012-sample")]
    pub object: String,
    /// The action decided, one of the policy's actions.
    #[schema(example = "data:query")]
    pub action: String,
    /// Allowed under the rules in force.
    #[schema(example = false)]
    pub before: bool,
    /// Allowed after the change.
    #[schema(example = true)]
    pub after: bool,
    /// The rule that decides after the change, when one does.
    #[schema(example = "p, role:researcher, tier:conditional, data:query, allow")]
    pub rule_after: Option<String>,
    /// For a data action the change would allow on a dataset: the masks and
    /// row filters the caller's reads would carry. Null otherwise.
    pub carries: Option<Carried>,
}

/// The callers worth comparing for `rule_sets`: anonymous, registered, every role and
/// every user any of the rule sets names.
pub fn callers<'a>(rule_sets: impl IntoIterator<Item = &'a [Rule]>) -> Vec<Caller> {
    let mut roles = BTreeSet::new();
    let mut users = BTreeSet::new();
    for rule in rule_sets.into_iter().flatten() {
        for (_, value) in rule.named_fields() {
            if let Some(role) = value.strip_prefix("role:") {
                roles.insert(role.to_owned());
            } else if let Some(user) = value.strip_prefix("user:") {
                users.insert(user.to_owned());
            }
        }
    }
    let mut out = vec![
        Caller {
            label: "anonymous".to_owned(),
            identities: principal_identities(None, &[]),
        },
        Caller {
            label: "registered".to_owned(),
            identities: vec!["registered".to_owned(), "anonymous".to_owned()],
        },
    ];
    out.extend(roles.into_iter().map(|role| Caller {
        identities: vec![
            format!("role:{role}"),
            "registered".to_owned(),
            "anonymous".to_owned(),
        ],
        label: format!("role:{role}"),
    }));
    out.extend(users.into_iter().map(|user| Caller {
        identities: principal_identities(Some(&user), &[]),
        label: format!("user:{user}"),
    }));
    out
}

/// The system objects; datasets are added by the caller, who knows them.
pub fn system_targets() -> Vec<Target> {
    SYSTEM_OBJECTS
        .iter()
        .map(|o| Target {
            object: (*o).to_owned(),
            groups: Vec::new(),
        })
        .collect()
}

/// Every decision that differs between `before` and `after`, and how many were compared.
pub fn changes(
    before: &Engine,
    after: &Engine,
    callers: &[Caller],
    targets: &[Target],
) -> (Vec<DecisionChange>, usize) {
    let mut out = Vec::new();
    let mut compared = 0;
    for caller in callers {
        for target in targets {
            for action in ACTIONS {
                compared += 1;
                let was = before.decide(&caller.identities, &target.object, &target.groups, action);
                let now = after.decide(&caller.identities, &target.object, &target.groups, action);
                if was.allowed != now.allowed {
                    out.push(DecisionChange {
                        caller: caller.label.clone(),
                        object: target.object.clone(),
                        action: action.to_owned(),
                        before: was.allowed,
                        after: now.allowed,
                        rule_after: now.rule,
                        carries: None,
                    });
                }
            }
        }
    }
    (out, compared)
}

#[cfg(test)]
#[path = "simulate_tests.rs"]
mod tests;
