//! Checks a rule against what exists: known actions, roles, datasets and organisations.
//! Run when a rule is written, so a typo is refused with the valid choices instead of
//! becoming a rule that silently never matches.

use std::collections::BTreeSet;

use super::error::{MAX_CHOICES, PolicyError, shorten};
use super::rules::{ACTIONS, ORG_ROLE_KINDS, Rule, SYSTEM_OBJECTS, TIERS};

/// Roles that exist in every deployment, without the `role:` prefix.
const BASE_ROLES: [&str; 3] = ["admin", "auditor", "operator"];

/// What a rule may name. Roles are stored without their `role:` prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    pub actions: BTreeSet<String>,
    pub roles: BTreeSet<String>,
    pub datasets: BTreeSet<String>,
    pub orgs: BTreeSet<String>,
}

impl Known {
    /// All actions, the base roles, and `publisher:<org>` / `reviewer:<org>` for each org.
    pub fn new<D, O>(datasets: D, orgs: O) -> Known
    where
        D: IntoIterator,
        D::Item: Into<String>,
        O: IntoIterator,
        O::Item: Into<String>,
    {
        let orgs: BTreeSet<String> = orgs.into_iter().map(Into::into).collect();
        let mut roles: BTreeSet<String> = BASE_ROLES.iter().map(|r| r.to_string()).collect();
        for org in &orgs {
            roles.extend(ORG_ROLE_KINDS.iter().map(|kind| format!("{kind}:{org}")));
        }
        Known {
            actions: ACTIONS.iter().map(|a| a.to_string()).collect(),
            roles,
            datasets: datasets.into_iter().map(Into::into).collect(),
            orgs,
        }
    }

    /// Adds a deployment-specific role such as `researcher`.
    pub fn with_role(mut self, name: impl Into<String>) -> Known {
        self.roles.insert(name.into());
        self
    }
}

/// Refuses a rule that is malformed or names an action, role, dataset or org that does not
/// exist; the error names the field and lists the closest valid choices.
pub fn validate(rule: &Rule, known: &Known) -> Result<(), PolicyError> {
    rule.check_syntax()?;
    match rule {
        Rule::Allow { sub, obj, act } | Rule::Deny { sub, obj, act } => {
            check_identity("sub", sub, known)?;
            check_object("obj", obj, known)?;
            check_action("act", act, known)
        }
        Rule::Role { member, role } => {
            check_identity("member", member, known)?;
            check_role_target("role", role, known)?;
            if member == role {
                return Err(invalid(
                    "role",
                    role,
                    "a role cannot be a member of itself",
                    [],
                ));
            }
            Ok(())
        }
        Rule::Group { dataset, group } => {
            check_dataset("dataset", dataset, known)?;
            check_group("group", group, known)
        }
    }
}

fn check_identity(field: &'static str, value: &str, known: &Known) -> Result<(), PolicyError> {
    match value.split_once(':') {
        _ if value == "anonymous" || value == "registered" => Ok(()),
        Some(("user", _)) => Ok(()),
        Some(("role", name)) => check_role_name(field, value, name, known),
        _ => Err(invalid(
            field,
            value,
            "not an identity",
            ["anonymous", "registered", "user:<id>", "role:<name>"].map(String::from),
        )),
    }
}

fn check_role_target(field: &'static str, value: &str, known: &Known) -> Result<(), PolicyError> {
    match value.split_once(':') {
        _ if value == "anonymous" || value == "registered" => Ok(()),
        Some(("role", name)) => check_role_name(field, value, name, known),
        _ => Err(invalid(
            field,
            value,
            "only roles can be inherited",
            ["anonymous", "registered", "role:<name>"].map(String::from),
        )),
    }
}

fn check_role_name(
    field: &'static str,
    value: &str,
    name: &str,
    known: &Known,
) -> Result<(), PolicyError> {
    if known.roles.contains(name) {
        return Ok(());
    }
    let choices = closest(value, known.roles.iter().map(|r| format!("role:{r}")));
    Err(invalid(field, value, "unknown role", choices))
}

fn check_object(field: &'static str, value: &str, known: &Known) -> Result<(), PolicyError> {
    if value == "*" || SYSTEM_OBJECTS.contains(&value) {
        return Ok(());
    }
    match value.split_once(':') {
        Some(("dataset", _)) => check_dataset(field, value, known),
        Some(("tier" | "org", _)) => check_group(field, value, known),
        _ => {
            let mut forms: Vec<String> = vec!["*".into()];
            forms.extend(SYSTEM_OBJECTS.iter().map(|o| o.to_string()));
            forms.extend(["dataset:<slug>", "tier:<tier>", "org:<slug>"].map(String::from));
            Err(invalid(field, value, "not an object", forms))
        }
    }
}

fn check_dataset(field: &'static str, value: &str, known: &Known) -> Result<(), PolicyError> {
    match value.split_once(':') {
        Some(("dataset", slug)) if known.datasets.contains(slug) => Ok(()),
        Some(("dataset", _)) => {
            let all = known.datasets.iter().map(|d| format!("dataset:{d}"));
            Err(invalid(
                field,
                value,
                "unknown dataset",
                closest(value, all),
            ))
        }
        _ => Err(invalid(
            field,
            value,
            "not a dataset",
            ["dataset:<slug>".into()],
        )),
    }
}

fn check_group(field: &'static str, value: &str, known: &Known) -> Result<(), PolicyError> {
    match value.split_once(':') {
        Some(("tier", tier)) if TIERS.contains(&tier) => Ok(()),
        Some(("org", org)) if known.orgs.contains(org) => Ok(()),
        Some(("tier", _)) => {
            let all = TIERS.iter().map(|t| format!("tier:{t}"));
            Err(invalid(field, value, "unknown tier", closest(value, all)))
        }
        Some(("org", _)) => {
            let all = known.orgs.iter().map(|o| format!("org:{o}"));
            Err(invalid(
                field,
                value,
                "unknown organisation",
                closest(value, all),
            ))
        }
        _ => Err(invalid(
            field,
            value,
            "not a dataset group",
            ["tier:<tier>", "org:<slug>"].map(String::from),
        )),
    }
}

fn check_action(field: &'static str, value: &str, known: &Known) -> Result<(), PolicyError> {
    if value == "*" || known.actions.contains(value) {
        return Ok(());
    }
    let all = known.actions.iter().cloned().chain(["*".to_owned()]);
    Err(invalid(field, value, "unknown action", closest(value, all)))
}

fn invalid(
    field: &'static str,
    value: &str,
    reason: &str,
    choices: impl IntoIterator<Item = String>,
) -> PolicyError {
    PolicyError::InvalidField {
        field,
        value: shorten(value),
        reason: reason.to_owned(),
        choices: choices.into_iter().take(MAX_CHOICES).collect(),
    }
}

/// Valid values ordered by edit distance to the typo, so with thousands of datasets the
/// listed twenty are the likely intended ones rather than the first twenty alphabetically.
fn closest(value: &str, candidates: impl Iterator<Item = String>) -> Vec<String> {
    let mut ranked: Vec<(usize, String)> =
        candidates.map(|c| (edit_distance(value, &c), c)).collect();
    ranked.sort();
    ranked
        .into_iter()
        .take(MAX_CHOICES)
        .map(|(_, c)| c)
        .collect()
}

/// Levenshtein distance over chars, one row at a time.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut left = i + 1;
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(left);
        for (cb, pair) in b.iter().zip(prev.windows(2)) {
            if let [diag, up] = *pair {
                left = (diag + usize::from(ca != *cb)).min(up + 1).min(left + 1);
            }
            cur.push(left);
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}
