//! Deciding what one caller sees of one dataset: each column's treatment
//! and the rows its row filters admit, from the dataset's sensitive columns
//! and column rules and the caller's identities. A pure function of its
//! inputs, so it is tested without a database.
//!
//! The rule, in order:
//! 1. Admins (`role:admin`) and the owning organisation's publishers
//!    (`role:publisher:<org>`) see every column raw and every row.
//! 2. Otherwise a column gets the most revealing treatment (show > mask >
//!    hash > hide) among the rules of the caller's identities that name it;
//!    with none, `mask` when the column is sensitive, else `show`.
//! 3. Rows: those admitted by any row filter of the caller's identities
//!    that set one; every row when none did.
//! 4. Under a grant (`Viewer::grant`), columns the grant does not list are
//!    hidden and the grant's row filter is ANDed in.

use std::collections::BTreeMap;

use super::row_filter;
use super::rules::{RoleRules, Treatment, identity_of};
use crate::auth::Principal;
use crate::catalog::DatasetDetail;
use crate::data::mask::MaskKey;
use crate::data::plan::Restriction;
use crate::data::query::Expr;
use crate::data::types::Column;

/// What a request under an approved access grant may see. The hook for
/// grants: nothing builds one yet; the access room will, from the grant
/// a request is made under, and pass it in `Viewer::grant`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantScope {
    /// The columns the grant allows; every other column is hidden. `None`:
    /// no narrowing.
    pub columns: Option<Vec<String>>,
    /// A row filter the grant adds (query language, `:principal.<name>`
    /// allowed), ANDed with the row filters of the caller's roles.
    pub row_filter: Option<String>,
}

/// Who is looking.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Viewer {
    /// The caller's identities as `policy::identities` spells them
    /// (`user:<sub>`, `role:<name>`, `registered`, `anonymous`).
    pub ids: Vec<String>,
    /// The organisation the caller acts for.
    pub org: Option<String>,
    /// What row filters may name as `:principal.<name>`: `sub`, `org` and
    /// the token's other kept claims.
    pub attributes: BTreeMap<String, String>,
    /// The scope of the access grant the request is made under, if any.
    pub grant: Option<GrantScope>,
}

impl Viewer {
    /// The viewer a principal is, without a grant.
    pub fn of(principal: &Principal) -> Viewer {
        let mut attributes = principal.attributes();
        if let Some(org) = principal.org() {
            attributes.insert("org".to_string(), org.to_string());
        }
        if let Principal::User(u) = principal {
            attributes.insert("sub".to_string(), u.subject.clone());
        }
        Viewer {
            ids: crate::policy::identities(principal),
            org: principal.org().map(str::to_string),
            attributes,
            grant: None,
        }
    }

    fn holds(&self, id: &str) -> bool {
        self.ids.iter().any(|i| i == id)
    }
}

/// What one caller sees of one dataset version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct View {
    /// Treatment (and bucket width, for a masked number) per column.
    pub columns: BTreeMap<String, (Treatment, Option<i64>)>,
    /// Row filters, any of which admits a row; `None`: every row.
    pub row_filter: Option<Vec<Expr>>,
}

/// What the owner of a dataset is.
pub struct Owner<'a> {
    pub org: &'a str,
    pub sensitive: &'a [String],
}

/// Decides `viewer`'s view of a version with `columns` of a dataset owned
/// by `owner`, under `rules`.
pub fn decide(viewer: &Viewer, owner: &Owner<'_>, columns: &[Column], rules: &[RoleRules]) -> View {
    let privileged = privileged(viewer, owner);
    let applicable = applicable(viewer, rules);
    let grant_columns = viewer.grant.as_ref().and_then(|g| g.columns.as_ref());
    let mut view = View::default();
    for c in columns {
        let mut treatment = if privileged {
            (Treatment::Show, None)
        } else {
            applicable
                .iter()
                .filter_map(|r| {
                    r.columns
                        .get(&c.name)
                        .map(|t| (*t, r.buckets.get(&c.name).copied()))
                })
                .max_by_key(|(t, _)| t.openness())
                .unwrap_or(if owner.sensitive.contains(&c.name) {
                    (Treatment::Mask, None)
                } else {
                    (Treatment::Show, None)
                })
        };
        if grant_columns.is_some_and(|g| !g.contains(&c.name)) {
            treatment = (Treatment::Hide, None);
        }
        view.columns.insert(c.name.clone(), treatment);
    }
    if !privileged {
        let texts = role_filters(&applicable);
        if !texts.is_empty() {
            view.row_filter = Some(
                texts
                    .iter()
                    .filter_map(|t| bound(t, columns, &viewer.attributes))
                    .collect(),
            );
        }
    }
    if let Some(text) = viewer.grant.as_ref().and_then(|g| g.row_filter.as_deref()) {
        view.row_filter = Some(match bound(text, columns, &viewer.attributes) {
            None => Vec::new(),
            Some(g) => match view.row_filter.take() {
                None => vec![g],
                Some(roles) => roles
                    .into_iter()
                    .map(|r| Expr::And {
                        args: vec![r, g.clone()],
                    })
                    .collect(),
            },
        });
    }
    view
}

/// Admins and the owning organisation's publishers see everything raw.
pub(super) fn privileged(viewer: &Viewer, owner: &Owner<'_>) -> bool {
    viewer.holds("role:admin") || viewer.holds(&format!("role:publisher:{}", owner.org))
}

/// The rules of the roles `viewer` holds.
pub(super) fn applicable<'r>(viewer: &Viewer, rules: &'r [RoleRules]) -> Vec<&'r RoleRules> {
    rules
        .iter()
        .filter(|r| viewer.holds(&identity_of(&r.role)))
        .collect()
}

/// The row filters the applicable rules set, as stored.
pub(super) fn role_filters<'r>(applicable: &[&'r RoleRules]) -> Vec<&'r str> {
    applicable
        .iter()
        .filter_map(|r| r.row_filter.as_deref())
        .collect()
}

/// A stored filter bound to the caller; `None` (no row) when it does not
/// parse any more or names an attribute the caller lacks.
fn bound(text: &str, columns: &[Column], attrs: &BTreeMap<String, String>) -> Option<Expr> {
    match row_filter::parse(text) {
        Ok(expr) => row_filter::bind(&expr, columns, attrs),
        Err(e) => {
            tracing::warn!(error = %e.detail(), "a stored row filter does not parse; it admits no row");
            None
        }
    }
}

impl View {
    pub fn treatment(&self, column: &str) -> Treatment {
        self.columns
            .get(column)
            .map_or(Treatment::Show, |(t, _)| *t)
    }

    /// Columns not shown raw: their compared values stay out of the audit log.
    pub fn protected(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter(|(_, (t, _))| *t != Treatment::Show)
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// The planner's form of this view.
    pub fn restriction(&self, key: &MaskKey) -> Restriction {
        let protected: BTreeMap<_, _> = self
            .columns
            .iter()
            .filter_map(|(c, (t, b))| t.protection(*b).map(|p| (c.clone(), p)))
            .collect();
        Restriction {
            key: (!protected.is_empty()).then(|| key.clone()),
            protected,
            row_filter: self.row_filter.clone(),
        }
    }

    /// The dataset's metadata as this caller may see it: hidden columns
    /// gone from every list, and the columns it sees masked or hashed named.
    pub fn shape_detail(&self, detail: &mut DatasetDetail) {
        let hidden = |c: &str| self.treatment(c) == Treatment::Hide;
        detail.columns.retain(|c| !hidden(&c.name));
        detail.sensitive_columns.retain(|c| !hidden(c));
        if let Some(v) = detail.version.as_mut() {
            v.indexed.retain(|c| !hidden(c));
        }
        for v in &mut detail.versions {
            v.indexed.retain(|c| !hidden(c));
        }
        detail.masked_columns = self
            .columns
            .iter()
            .filter(|(_, (t, _))| matches!(t, Treatment::Mask | Treatment::Hash))
            .map(|(c, (t, _))| (c.clone(), t.as_str().to_string()))
            .collect();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::data::types::ColumnType;

    fn cols() -> Vec<Column> {
        ["income", "race", "state"]
            .iter()
            .map(|n| Column {
                name: n.to_string(),
                ty: if *n == "income" {
                    ColumnType::Integer
                } else {
                    ColumnType::Text
                },
            })
            .collect()
    }

    fn viewer(ids: &[&str]) -> Viewer {
        Viewer {
            ids: ids.iter().map(|s| s.to_string()).collect(),
            ..Viewer::default()
        }
    }

    fn rule(v: serde_json::Value) -> RoleRules {
        serde_json::from_value(v).unwrap()
    }

    const SENSITIVE: &[&str] = &["income", "race"];

    fn owner() -> Vec<String> {
        SENSITIVE.iter().map(|s| s.to_string()).collect()
    }

    fn view(v: &Viewer, rules: &[RoleRules]) -> View {
        let sensitive = owner();
        decide(
            v,
            &Owner {
                org: "census",
                sensitive: &sensitive,
            },
            &cols(),
            rules,
        )
    }

    #[test]
    fn sensitive_columns_are_masked_except_for_owners_and_admins() {
        let anon = view(&viewer(&["anonymous"]), &[]);
        assert_eq!(anon.treatment("income"), Treatment::Mask);
        assert_eq!(anon.treatment("state"), Treatment::Show);
        assert_eq!(anon.row_filter, None);
        for ids in [
            &[
                "user:p",
                "role:publisher",
                "role:publisher:census",
                "anonymous",
            ][..],
            &["role:admin", "anonymous"],
        ] {
            let v = view(&viewer(ids), &[]);
            assert_eq!(v.treatment("income"), Treatment::Show);
            assert!(v.protected().is_empty());
        }
        let other = view(&viewer(&["role:publisher:noaa", "anonymous"]), &[]);
        assert_eq!(other.treatment("race"), Treatment::Mask);
    }

    #[test]
    fn the_most_revealing_rule_of_the_callers_roles_wins() {
        let rules = [
            rule(
                serde_json::json!({"role": "anonymous", "columns": {"income": "hide", "state": "hash"}}),
            ),
            rule(
                serde_json::json!({"role": "researcher", "columns": {"income": "mask"}, "buckets": {"income": 1000}}),
            ),
        ];
        let anon = view(&viewer(&["anonymous"]), &rules);
        assert_eq!(anon.treatment("income"), Treatment::Hide);
        assert_eq!(anon.treatment("state"), Treatment::Hash);
        assert_eq!(anon.treatment("race"), Treatment::Mask);
        let r = view(&viewer(&["role:researcher", "anonymous"]), &rules);
        assert_eq!(r.columns["income"], (Treatment::Mask, Some(1000)));
        assert_eq!(r.treatment("state"), Treatment::Hash);
    }

    #[test]
    fn row_filters_bind_attributes_and_fail_closed() {
        let rules = [rule(
            serde_json::json!({"role": "registered", "row_filter": "state = :principal.state"}),
        )];
        let mut v = viewer(&["registered", "anonymous"]);
        assert_eq!(view(&v, &rules).row_filter, Some(vec![]));
        v.attributes.insert("state".into(), "CA".into());
        let f = view(&v, &rules).row_filter.unwrap();
        assert_eq!(f[0].to_string(), "state = 'CA'");
        assert_eq!(view(&viewer(&["anonymous"]), &rules).row_filter, None);
    }

    #[test]
    fn a_grant_narrows_columns_and_adds_its_row_filter() {
        let mut v = viewer(&["registered", "anonymous"]);
        v.grant = Some(GrantScope {
            columns: Some(vec!["state".into(), "income".into()]),
            row_filter: Some("state = 'CA'".into()),
        });
        let g = view(&v, &[]);
        assert_eq!(g.treatment("race"), Treatment::Hide);
        assert_eq!(g.treatment("income"), Treatment::Mask);
        assert_eq!(g.row_filter.unwrap()[0].to_string(), "state = 'CA'");
    }
}
