//! The grant and the masks behind a policy answer about a dataset, for
//! `POST /v1/admin/policy/check`: the same steps a real request takes in
//! `api::datasets::resolve`, run for a described caller instead of a
//! signed-in one.

use std::collections::BTreeMap;

use super::grants::{GrantCheck, check_grant};
use crate::catalog::{self, DatasetRecord};
use crate::db::AnyConnection;
use crate::error::Result;
use crate::masks::{self, Carried, GrantScope, Owner, Viewer};

/// A described caller.
pub struct Asker<'a> {
    /// The subject without `user:`; `None` for an anonymous caller.
    pub subject: Option<&'a str>,
    /// Identities as the policy spells them, role links not followed.
    pub ids: Vec<String>,
    pub org: Option<&'a str>,
    pub attributes: BTreeMap<String, String>,
}

/// How a grant figures in the answer.
pub enum GrantEffect {
    /// No grant is consulted: a rule decided, the action is not one a grant
    /// opens, the caller is anonymous, or the dataset is hidden from them.
    NotConsulted,
    /// The caller holds none on this dataset.
    None,
    /// A grant in force opens the action.
    Active(super::Grant),
    /// The newest grant expired or was revoked: the request is refused.
    Lapsed(super::Grant),
}

/// The grant effect, and what the decision carries, for `asker` doing a
/// data action on `dataset`. `rule_decided` says whether a rule (allow or
/// deny) decided; `visible` whether the caller may see the dataset exists.
pub fn explain(
    conn: &mut AnyConnection,
    dataset: &DatasetRecord,
    asker: &Asker<'_>,
    grantable_action: bool,
    rule_decided: bool,
    visible: bool,
) -> Result<(GrantEffect, Carried)> {
    let effect = match asker.subject {
        Some(subject) if grantable_action && visible && !rule_decided => {
            match check_grant(conn, &format!("user:{subject}"), dataset.id)? {
                GrantCheck::Active(g) => GrantEffect::Active(g),
                GrantCheck::Lapsed(g) => GrantEffect::Lapsed(g),
                GrantCheck::None => GrantEffect::None,
            }
        }
        _ => GrantEffect::NotConsulted,
    };
    let mut attributes = asker.attributes.clone();
    if let Some(org) = asker.org {
        attributes.insert("org".to_string(), org.to_string());
    }
    if let Some(subject) = asker.subject {
        attributes.insert("sub".to_string(), subject.to_string());
    }
    let viewer = Viewer {
        ids: asker.ids.clone(),
        org: asker.org.map(str::to_string),
        attributes,
        grant: match &effect {
            GrantEffect::Active(g) => Some(GrantScope {
                columns: g.columns.clone(),
                row_filter: g.row_filter.clone(),
            }),
            _ => None,
        },
    };
    let columns = catalog::current_version(conn, dataset)?
        .map(|v| v.columns)
        .unwrap_or_default();
    let (rules, _) = masks::store::load(conn, dataset.id)?;
    let owner = Owner {
        org: &dataset.organization,
        sensitive: &dataset.sensitive_columns,
    };
    Ok((effect, masks::carried(&viewer, &owner, &columns, &rules)))
}
