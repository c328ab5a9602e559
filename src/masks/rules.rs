//! Column rules as admins write them: per role and dataset, a treatment for
//! each named column and an optional row filter; and their validation
//! against the dataset's columns and the roles the policy knows. Every
//! refusal names the field and the valid choices.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::row_filter;
use crate::data::mask::Protection;
use crate::data::types::Column;
use crate::error::{Error, Result};

/// How a column reaches the callers a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(example = "mask")]
pub enum Treatment {
    /// The raw value.
    Show,
    /// A partial value by type: text keeps its first and last character,
    /// numbers are rounded down to a bucket, dates to their month,
    /// booleans become null.
    Mask,
    /// A keyed HMAC-SHA256, 32 hex characters: equal values give equal
    /// hashes in every dataset, so joins still work.
    Hash,
    /// Not shown at all, not even in the metadata.
    Hide,
}

impl Treatment {
    pub fn as_str(self) -> &'static str {
        match self {
            Treatment::Show => "show",
            Treatment::Mask => "mask",
            Treatment::Hash => "hash",
            Treatment::Hide => "hide",
        }
    }

    /// Order of what a treatment reveals, most first: show, mask, hash, hide.
    /// A caller holding several roles gets the most revealing one.
    pub fn openness(self) -> u8 {
        match self {
            Treatment::Show => 3,
            Treatment::Mask => 2,
            Treatment::Hash => 1,
            Treatment::Hide => 0,
        }
    }

    /// The planner's form; `None` for `show`.
    pub fn protection(self, bucket: Option<i64>) -> Option<Protection> {
        match self {
            Treatment::Show => None,
            Treatment::Mask => Some(Protection::Mask { bucket }),
            Treatment::Hash => Some(Protection::Hash),
            Treatment::Hide => Some(Protection::Hide),
        }
    }
}

/// The rules of one role on one dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRules {
    /// The identity the rules apply to: a role without its `role:` prefix
    /// (`researcher`, `publisher`, `publisher:us-faa`), or `registered`
    /// (every signed-in caller) or `anonymous` (every caller).
    #[schema(example = "researcher")]
    pub role: String,
    /// Treatment per column; columns not named keep their default
    /// (`mask` when sensitive, else `show`).
    #[serde(default)]
    #[schema(example = json!({"income": "hash", "race": "hide"}))]
    pub columns: BTreeMap<String, Treatment>,
    /// Bucket width per masked numeric column (a positive whole number),
    /// instead of the automatic 10^(digits-1).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(example = json!({"age": 10}))]
    pub buckets: BTreeMap<String, i64>,
    /// Only rows matching this filter (the query language of `filter=`),
    /// which may name the caller's attributes as `:principal.<name>`
    /// (`org`, `sub`, and the token's other string claims).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "age >= 18")]
    pub row_filter: Option<String>,
}

/// Body of `PUT /v1/admin/datasets/{slug}/column-rules`: the complete
/// rules of the dataset, replacing those stored.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"rules": [
    {"role": "researcher", "columns": {"income": "show", "race": "hash"}},
    {"role": "registered", "columns": {"disability": "hide"}, "row_filter": "age >= 18"}
]}))]
pub struct ColumnRulesEdit {
    /// One entry per role, at most 200; an empty list removes every rule.
    #[schema(
        example = json!([{"role": "researcher", "columns": {"income": "show", "race": "hash"}}]),
        max_items = 200
    )]
    pub rules: Vec<RoleRules>,
}

/// A dataset's column rules.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ColumnRules {
    /// The dataset's slug.
    #[schema(example = "us-census-acs-2012-sample")]
    pub dataset: String,
    /// Columns its publisher marked sensitive: `mask` by default for
    /// everyone but the owning organisation's publishers and admins.
    #[schema(example = json!(["income", "race", "citizen", "disability"]))]
    pub sensitive_columns: Vec<String>,
    /// The rules, by role.
    #[schema(example = json!([{"role": "researcher", "columns": {"income": "show", "race": "hash"}}]))]
    pub rules: Vec<RoleRules>,
    /// Last change (RFC 3339); null when no rule was ever set.
    #[schema(example = "2026-11-29T07:40:12Z")]
    pub updated_at: Option<String>,
    /// Who made the last change; null when no rule was ever set.
    #[schema(example = "user:ci-admin")]
    pub updated_by: Option<String>,
}

/// Most role entries the column rules of one dataset may hold.
pub const MAX_RULES: usize = 200;

/// The rule role names that are identities of their own rather than roles.
pub const PSEUDO_ROLES: [&str; 2] = ["anonymous", "registered"];

/// The identity (as `policy::identities` spells it) a rule's role stands for.
pub fn identity_of(role: &str) -> String {
    if PSEUDO_ROLES.contains(&role) {
        role.to_string()
    } else {
        format!("role:{role}")
    }
}

fn choices(valid: impl IntoIterator<Item = String>) -> String {
    valid.into_iter().collect::<Vec<_>>().join(", ")
}

fn check_column<'c>(columns: &'c [Column], name: &str, role: &str) -> Result<&'c Column> {
    columns.iter().find(|c| c.name == name).ok_or_else(|| {
        Error::bad_request(format!(
            "unknown column '{}' in the rules of role '{role}'; columns are: {}",
            name.chars().take(100).collect::<String>(),
            choices(columns.iter().map(|c| c.name.clone()))
        ))
    })
}

/// Checks `edit` against the dataset's `columns` and the `roles` the policy
/// knows (without `role:`); returns the rules sorted by role.
pub fn validate(
    edit: ColumnRulesEdit,
    columns: &[Column],
    roles: &BTreeSet<String>,
) -> Result<Vec<RoleRules>> {
    if edit.rules.len() > MAX_RULES {
        return Err(Error::bad_request(format!(
            "at most {MAX_RULES} role entries per dataset"
        )));
    }
    let mut valid_roles = roles.clone();
    valid_roles.extend(PSEUDO_ROLES.iter().map(|r| r.to_string()));
    valid_roles.extend(["publisher".to_string(), "reviewer".to_string()]);
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(edit.rules.len());
    for rule in edit.rules {
        if !valid_roles.contains(&rule.role) {
            return Err(Error::bad_request(format!(
                "unknown role '{}'; roles are: {}",
                rule.role.chars().take(100).collect::<String>(),
                choices(valid_roles.iter().cloned())
            )));
        }
        if !seen.insert(rule.role.clone()) {
            return Err(Error::bad_request(format!(
                "role '{}' has two entries; merge them into one",
                rule.role
            )));
        }
        for name in rule.columns.keys() {
            check_column(columns, name, &rule.role)?;
        }
        for (name, width) in &rule.buckets {
            let c = check_column(columns, name, &rule.role)?;
            if rule.columns.get(name) != Some(&Treatment::Mask) || !c.ty.is_numeric() {
                return Err(Error::bad_request(format!(
                    "bucket of column '{name}' in the rules of role '{}': a bucket applies only \
                     to a numeric column whose treatment there is 'mask'",
                    rule.role
                )));
            }
            if *width <= 0 {
                return Err(Error::bad_request(format!(
                    "bucket of column '{name}' must be a positive whole number, not {width}"
                )));
            }
        }
        if let Some(text) = &rule.row_filter {
            row_filter::validate(text, columns).map_err(|e| {
                Error::bad_request(format!(
                    "row_filter of role '{}': {}",
                    rule.role,
                    e.detail()
                ))
            })?;
        }
        out.push(rule);
    }
    out.sort_by(|a, b| a.role.cmp(&b.role));
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::data::types::ColumnType;

    fn cols() -> Vec<Column> {
        vec![
            Column {
                name: "income".into(),
                ty: ColumnType::Integer,
            },
            Column {
                name: "state".into(),
                ty: ColumnType::Text,
            },
        ]
    }

    fn roles() -> BTreeSet<String> {
        ["admin".to_string(), "researcher".to_string()].into()
    }

    fn edit(v: serde_json::Value) -> ColumnRulesEdit {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn good_rules_pass_sorted() {
        let r = validate(
            edit(serde_json::json!({"rules": [
                {"role": "researcher", "columns": {"income": "mask"}, "buckets": {"income": 1000}},
                {"role": "anonymous", "row_filter": "state = :principal.state"}
            ]})),
            &cols(),
            &roles(),
        )
        .unwrap();
        assert_eq!(r[0].role, "anonymous");
        assert_eq!(r[1].buckets["income"], 1000);
    }

    #[test]
    fn unknown_names_are_refused_with_the_choices() {
        let e = validate(
            edit(serde_json::json!({"rules": [{"role": "reseacher"}]})),
            &cols(),
            &roles(),
        )
        .unwrap_err();
        assert!(e.detail().contains("'reseacher'"), "{}", e.detail());
        assert!(e.detail().contains("researcher"), "{}", e.detail());
        let e = validate(
            edit(serde_json::json!({"rules": [{"role": "researcher", "columns": {"incme": "hide"}}]})),
            &cols(),
            &roles(),
        )
        .unwrap_err();
        assert!(e.detail().contains("'incme'") && e.detail().contains("income, state"));
        let e = validate(
            edit(serde_json::json!({"rules": [{"role": "researcher", "row_filter": "nope = 1"}]})),
            &cols(),
            &roles(),
        )
        .unwrap_err();
        assert!(e.detail().contains("'nope'"), "{}", e.detail());
        assert!(
            serde_json::from_value::<ColumnRulesEdit>(
                serde_json::json!({"rules": [{"role": "x", "columns": {"a": "blur"}}]})
            )
            .is_err()
        );
    }

    #[test]
    fn buckets_need_a_masked_numeric_column() {
        for bad in [
            serde_json::json!({"role": "researcher", "columns": {"income": "hash"}, "buckets": {"income": 10}}),
            serde_json::json!({"role": "researcher", "columns": {"state": "mask"}, "buckets": {"state": 10}}),
            serde_json::json!({"role": "researcher", "columns": {"income": "mask"}, "buckets": {"income": 0}}),
        ] {
            assert!(
                validate(
                    edit(serde_json::json!({ "rules": [bad] })),
                    &cols(),
                    &roles()
                )
                .is_err()
            );
        }
    }
}
