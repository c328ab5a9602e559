//! What a decision on a dataset carries besides allow or deny, for the
//! policy's explain and simulate answers: the columns the caller would see
//! other than raw and the row filters every read of theirs would get.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::rules::{RoleRules, Treatment};
use super::view::{Owner, Viewer, applicable, decide, privileged, role_filters};
use crate::data::types::Column;

/// The masks and row filters a decision carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Carried {
    /// Each column the caller would not see raw, with its treatment
    /// (`mask`, `hash` or `hide`); columns seen raw are left out.
    #[schema(example = json!({"income": "mask", "race": "hide"}))]
    pub columns: BTreeMap<String, Treatment>,
    /// Row filters of the caller's roles, as stored; a row is read when any
    /// of them admits it (`:principal.<name>` is filled from the caller's
    /// token at request time). Empty: every row.
    #[schema(example = json!(["state = :principal.state"]))]
    pub row_filters: Vec<String>,
    /// The row filter of the access grant the caller reads under, ANDed
    /// with the role filters; null when there is none.
    #[schema(example = "state = 'NY'")]
    pub grant_row_filter: Option<String>,
}

/// What `viewer` would get on a dataset owned by `owner` whose current
/// version has `columns`, under the dataset's column `rules`.
pub fn carried(
    viewer: &Viewer,
    owner: &Owner<'_>,
    columns: &[Column],
    rules: &[RoleRules],
) -> Carried {
    let view = decide(viewer, owner, columns, rules);
    let row_filters = if privileged(viewer, owner) {
        Vec::new()
    } else {
        role_filters(&applicable(viewer, rules))
            .into_iter()
            .map(str::to_string)
            .collect()
    };
    Carried {
        columns: view
            .columns
            .into_iter()
            .filter(|(_, (t, _))| *t != Treatment::Show)
            .map(|(c, (t, _))| (c, t))
            .collect(),
        row_filters,
        grant_row_filter: viewer.grant.as_ref().and_then(|g| g.row_filter.clone()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::data::types::ColumnType;
    use crate::masks::GrantScope;

    fn cols() -> Vec<Column> {
        ["income", "race", "state"]
            .iter()
            .map(|n| Column {
                name: n.to_string(),
                ty: ColumnType::Text,
            })
            .collect()
    }

    fn rules() -> Vec<RoleRules> {
        vec![RoleRules {
            role: "researcher".into(),
            columns: [("race".to_string(), Treatment::Hide)].into(),
            buckets: BTreeMap::new(),
            row_filter: Some("state = :principal.state".into()),
        }]
    }

    fn owner<'a>(sensitive: &'a [String]) -> Owner<'a> {
        Owner {
            org: "us-census-bureau",
            sensitive,
        }
    }

    #[test]
    fn a_role_carries_its_masks_and_filters_and_a_grant_its_own() {
        let sensitive = vec!["income".to_string(), "race".to_string()];
        let mut viewer = Viewer {
            ids: vec!["registered".into(), "role:researcher".into()],
            ..Viewer::default()
        };
        let got = carried(&viewer, &owner(&sensitive), &cols(), &rules());
        assert_eq!(
            got.columns,
            [
                ("income".to_string(), Treatment::Mask),
                ("race".to_string(), Treatment::Hide)
            ]
            .into()
        );
        assert_eq!(got.row_filters, ["state = :principal.state"]);
        assert_eq!(got.grant_row_filter, None);

        viewer.grant = Some(GrantScope {
            columns: Some(vec!["state".into(), "income".into()]),
            row_filter: Some("state = 'NY'".into()),
        });
        let got = carried(&viewer, &owner(&sensitive), &cols(), &rules());
        assert_eq!(got.columns.get("race"), Some(&Treatment::Hide));
        assert_eq!(got.grant_row_filter.as_deref(), Some("state = 'NY'"));
    }

    #[test]
    fn the_owning_publisher_carries_nothing() {
        let sensitive = vec!["income".to_string()];
        let viewer = Viewer {
            ids: vec![
                "role:researcher".into(),
                "role:publisher:us-census-bureau".into(),
            ],
            ..Viewer::default()
        };
        assert_eq!(
            carried(&viewer, &owner(&sensitive), &cols(), &rules()),
            Carried::default()
        );
    }
}
