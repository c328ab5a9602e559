//! Column masks and row filters: the rules admins set per dataset and role
//! (`show`, `mask`, `hash`, `hide` per column, and a row filter in the query
//! language), their validation and storage, and the decision of what one
//! caller sees of one dataset. The SQL side of masking (the mask functions
//! and where the planner applies them) lives in `data::mask` and
//! `data::plan`; this room decides, it never reads rows.
//!
//! Hook for access grants: `Viewer::grant` takes a `GrantScope` (allowed
//! columns, extra row filter); `view_for` applies it.

pub mod explain;
pub mod row_filter;
pub mod rules;
pub mod store;
pub mod view;

pub use explain::{Carried, carried};
pub use rules::{ColumnRules, ColumnRulesEdit, RoleRules, Treatment};
pub use view::{GrantScope, Owner, View, Viewer, decide};

use crate::catalog::DatasetRecord;
use crate::data::types::Column;
use crate::db::AnyConnection;
use crate::error::Result;

/// What `viewer` sees of `dataset`'s version with `columns`, under the
/// dataset's stored rules.
pub fn view_for(
    conn: &mut AnyConnection,
    dataset: &DatasetRecord,
    columns: &[Column],
    viewer: &Viewer,
) -> Result<View> {
    let (rules, _) = store::load(conn, dataset.id)?;
    Ok(view_under(dataset, columns, viewer, &rules))
}

/// What `viewer` sees of `dataset`'s version with `columns`, under `rules`
/// already read.
pub fn view_under(
    dataset: &DatasetRecord,
    columns: &[Column],
    viewer: &Viewer,
    rules: &[RoleRules],
) -> View {
    decide(
        viewer,
        &Owner {
            org: &dataset.organization,
            sensitive: &dataset.sensitive_columns,
        },
        columns,
        rules,
    )
}

/// The stored rules of `dataset`.
pub fn rules_of(conn: &mut AnyConnection, dataset: &DatasetRecord) -> Result<ColumnRules> {
    let (rules, stamp) = store::load(conn, dataset.id)?;
    Ok(ColumnRules {
        dataset: dataset.slug.clone(),
        sensitive_columns: dataset.sensitive_columns.clone(),
        rules,
        updated_at: stamp.as_ref().map(|s| s.at.clone()),
        updated_by: stamp.map(|s| s.by),
    })
}

/// Checks `edit` against the columns of `dataset`'s current version and
/// the roles the policy knows, then makes it the dataset's rules. A dataset
/// without data yet has no columns to name: 409.
pub fn set_rules(
    conn: &mut AnyConnection,
    dataset: &DatasetRecord,
    edit: ColumnRulesEdit,
    author: &str,
) -> Result<ColumnRules> {
    let version = crate::catalog::current_version(conn, dataset)?.ok_or_else(|| {
        crate::error::Error::conflict(format!(
            "dataset '{}' has no data yet, so no columns to set rules on; upload its data first",
            dataset.slug
        ))
    })?;
    let known = crate::policy::store::known_names(conn)?;
    let rules = rules::validate(edit, &version.columns, &known.roles)?;
    store::replace(conn, dataset.id, &rules, author)?;
    rules_of(conn, dataset)
}
