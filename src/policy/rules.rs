//! The rule type: one Casbin policy line as a typed value, its CSV form, and the naming
//! scheme for identities and objects. Knows nothing about which datasets exist (see
//! `validate`) and nothing about Casbin's API (see `engine`).

use serde::{Deserialize, Serialize};

use super::error::{PolicyError, shorten};

/// Every action the gateway asks about; rules may also use `*` for "any action".
pub const ACTIONS: [&str; 11] = [
    "catalog:read",
    "data:query",
    "data:export",
    "dataset:publish",
    "dataset:manage",
    "access:request",
    "access:review",
    "policy:admin",
    "audit:read",
    "metrics:read",
    "limits:admin",
];

pub const TIERS: [&str; 3] = ["open", "conditional", "restricted"];

/// Objects that are not datasets or groups of datasets.
pub const SYSTEM_OBJECTS: [&str; 4] = ["policy", "audit", "metrics", "limits"];

/// Role kinds every organisation has, named `role:<kind>:<org>`.
pub(crate) const ORG_ROLE_KINDS: [&str; 2] = ["publisher", "reviewer"];

/// Longest field accepted, in bytes: far above any real slug, far below what a log line or
/// an admin table should have to carry.
pub(crate) const MAX_FIELD_BYTES: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        }
    }
}

/// One policy line. JSON: `{"kind":"allow","sub":"anonymous","obj":"tier:open",
/// "act":"data:query"}`, `{"kind":"role","member":"user:bob","role":"role:admin"}`,
/// `{"kind":"group","dataset":"dataset:nyc-flights-2013","group":"tier:open"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// `p, sub, obj, act, allow`
    Allow {
        /// Who: `anonymous`, `registered`, `user:<id>` or `role:<name>`.
        #[schema(example = "role:researcher")]
        sub: String,
        /// What: `*`, `policy`, `audit`, `metrics`, `dataset:<slug>`, `tier:<tier>` or `org:<slug>`.
        #[schema(example = "tier:conditional")]
        obj: String,
        /// The action, or `*`.
        #[schema(example = "data:query")]
        act: String,
    },
    /// `p, sub, obj, act, deny`; beats every allow for the same request.
    Deny {
        /// Who: `anonymous`, `registered`, `user:<id>` or `role:<name>`.
        #[schema(example = "user:mallory")]
        sub: String,
        /// What: `*`, `policy`, `audit`, `metrics`, `dataset:<slug>`, `tier:<tier>` or `org:<slug>`.
        #[schema(example = "dataset:us-census-acs-2012-sample")]
        obj: String,
        /// The action, or `*`.
        #[schema(example = "data:export")]
        act: String,
    },
    /// `g, member, role`: `member` holds every permission of `role`.
    Role {
        /// `user:<id>`, `role:<name>`, `registered` or `anonymous`.
        #[schema(example = "user:alice")]
        member: String,
        /// `role:<name>`, `registered` or `anonymous`.
        #[schema(example = "role:auditor")]
        role: String,
    },
    /// `g2, dataset, group`: rules on `group` (a tier or an org) apply to `dataset`.
    Group {
        /// `dataset:<slug>`.
        #[schema(example = "dataset:nyc-flights-2013")]
        dataset: String,
        /// `tier:<tier>` or `org:<slug>`.
        #[schema(example = "org:us-dot-bts")]
        group: String,
    },
}

impl Rule {
    /// The Casbin section and policy type this rule is stored under.
    pub fn ptype(&self) -> &'static str {
        match self {
            Rule::Allow { .. } | Rule::Deny { .. } => "p",
            Rule::Role { .. } => "g",
            Rule::Group { .. } => "g2",
        }
    }

    /// The values Casbin stores, in the order the model declares them.
    pub fn values(&self) -> Vec<String> {
        match self {
            Rule::Allow { sub, obj, act } | Rule::Deny { sub, obj, act } => {
                let eft = self.effect().map_or("", Effect::as_str);
                vec![sub.clone(), obj.clone(), act.clone(), eft.to_owned()]
            }
            Rule::Role { member, role } => vec![member.clone(), role.clone()],
            Rule::Group { dataset, group } => vec![dataset.clone(), group.clone()],
        }
    }

    pub fn effect(&self) -> Option<Effect> {
        match self {
            Rule::Allow { .. } => Some(Effect::Allow),
            Rule::Deny { .. } => Some(Effect::Deny),
            Rule::Role { .. } | Rule::Group { .. } => None,
        }
    }

    /// Field names (as in JSON and in error messages) paired with their values.
    pub(crate) fn named_fields(&self) -> Vec<(&'static str, &str)> {
        match self {
            Rule::Allow { sub, obj, act } | Rule::Deny { sub, obj, act } => {
                vec![("sub", sub), ("obj", obj), ("act", act)]
            }
            Rule::Role { member, role } => vec![("member", member), ("role", role)],
            Rule::Group { dataset, group } => vec![("dataset", dataset), ("group", group)],
        }
    }

    /// `p, anonymous, tier:open, data:query, allow`: the form `policy.csv` holds and
    /// decisions cite.
    pub fn to_csv_line(&self) -> String {
        let mut parts = vec![self.ptype().to_owned()];
        parts.extend(self.values());
        parts.join(", ")
    }

    /// The rule Casbin stores as `values` under `ptype` (trailing empty values ignored),
    /// the inverse of `ptype` and `values`.
    pub fn from_values(ptype: &str, values: &[String]) -> Result<Rule, PolicyError> {
        let mut line = vec![ptype];
        line.extend(values.iter().map(String::as_str));
        while line.len() > 1 && line.last().is_some_and(|v| v.is_empty()) {
            line.pop();
        }
        Rule::parse_csv_line(&line.join(","))
    }

    /// Reads one rule line. Comment and blank lines are errors here; `parse_csv` skips them.
    pub fn parse_csv_line(line: &str) -> Result<Rule, PolicyError> {
        let fail = |reason: String| PolicyError::Parse {
            line: shorten(line),
            reason,
        };
        let parts: Vec<&str> = line.trim().split(',').map(str::trim).collect();
        let rule = match parts.as_slice() {
            ["p", sub, obj, act, eft] => {
                let (sub, obj, act) = (sub.to_string(), obj.to_string(), act.to_string());
                match *eft {
                    "allow" => Rule::Allow { sub, obj, act },
                    "deny" => Rule::Deny { sub, obj, act },
                    other => return Err(fail(format!("effect '{other}' is not allow or deny"))),
                }
            }
            ["g", member, role] => Rule::Role {
                member: member.to_string(),
                role: role.to_string(),
            },
            ["g2", dataset, group] => Rule::Group {
                dataset: dataset.to_string(),
                group: group.to_string(),
            },
            [kind @ ("p" | "g" | "g2"), ..] => {
                let want = if *kind == "p" { 5 } else { 3 };
                return Err(fail(format!(
                    "'{kind}' lines have {want} comma-separated fields, this one has {}",
                    parts.len()
                )));
            }
            [kind, ..] => {
                return Err(fail(format!(
                    "line type '{}' is not one of p, g, g2",
                    shorten(kind)
                )));
            }
            [] => return Err(fail("empty line".to_owned())),
        };
        rule.check_syntax()?;
        Ok(rule)
    }

    /// Refuses values Casbin's CSV or an admin screen would misread: empty, padded, with
    /// separators, control or invisible characters, or too long.
    pub fn check_syntax(&self) -> Result<(), PolicyError> {
        for (field, value) in self.named_fields() {
            check_field(field, value)?;
        }
        Ok(())
    }
}

pub(crate) fn check_field(field: &'static str, value: &str) -> Result<(), PolicyError> {
    let bad = |reason: &str| PolicyError::InvalidField {
        field,
        value: shorten(value),
        reason: reason.to_owned(),
        choices: Vec::new(),
    };
    if value.is_empty() {
        return Err(bad("must not be empty"));
    }
    if value.len() > MAX_FIELD_BYTES {
        return Err(bad(&format!("longer than {MAX_FIELD_BYTES} bytes")));
    }
    if let Some(c) = value.chars().find(|c| is_forbidden(*c)) {
        return Err(bad(&format!(
            "contains {:?}; whitespace, control and invisible characters, ',', '\"' and '#' \
             are not allowed",
            c
        )));
    }
    Ok(())
}

/// `,` `"` `#` have meaning in Casbin's CSV; invisible and bidi characters would let two
/// different rules look identical to the admin reviewing them.
fn is_forbidden(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(c, ',' | '"' | '#')
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}')
        || matches!(c, '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{00AD}')
}

/// Reads a whole `policy.csv`, skipping blank and `#` lines; errors name the line number.
pub fn parse_csv(text: &str) -> Result<Vec<Rule>, PolicyError> {
    let mut rules = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let rule = Rule::parse_csv_line(trimmed).map_err(|e| PolicyError::Parse {
            line: format!("line {}: {}", n + 1, shorten(trimmed)),
            reason: match e {
                PolicyError::Parse { reason, .. } => reason,
                other => other.to_string(),
            },
        })?;
        rules.push(rule);
    }
    Ok(rules)
}

/// The rules the gateway adds when an organisation is created; see the header of
/// `policies/policy.csv`.
pub fn org_rules(org: &str) -> Vec<Rule> {
    let grant = |kind: &str, act: &str| Rule::Allow {
        sub: format!("role:{kind}:{org}"),
        obj: format!("org:{org}"),
        act: act.to_owned(),
    };
    vec![
        grant("publisher", "catalog:read"),
        grant("publisher", "data:query"),
        grant("publisher", "data:export"),
        grant("publisher", "dataset:publish"),
        grant("publisher", "dataset:manage"),
        grant("reviewer", "catalog:read"),
        grant("reviewer", "access:review"),
    ]
}

/// The identities a caller holds: `anonymous` always; a signed-in caller also `registered`
/// and `user:<subject>`; each token role as `role:<name>`.
pub fn principal_identities(subject: Option<&str>, roles: &[&str]) -> Vec<String> {
    let mut ids = Vec::with_capacity(roles.len() + 3);
    if let Some(subject) = subject {
        ids.push(format!("user:{subject}"));
    }
    ids.extend(roles.iter().map(|r| format!("role:{r}")));
    if subject.is_some() {
        ids.push("registered".to_owned());
    }
    ids.push("anonymous".to_owned());
    ids
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
