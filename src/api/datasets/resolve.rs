//! Turning a dataset slug in a URL into the dataset and its current
//! version, with the policy decision applied: a dataset the caller may not
//! see answers exactly like one that does not exist.

use std::sync::Arc;

use crate::access::{self, GrantCheck};
use crate::audit::Note;
use crate::auth::Principal;
use crate::catalog::{self, CatalogCache, DatasetRecord, DatasetSlug, Tier, VersionRecord};
use crate::data::plan::{Restriction, Target};
use crate::data::sql::Dialect;
use crate::data::{Redact, RowsQuery};
use crate::db::{AnyConnection, Backend};
use crate::error::{Error, Result};
use crate::fair_use::GrantQuota;
use crate::masks::{self, GrantScope, View, Viewer};
use crate::policy::{self, Action, DatasetRef, Engine};

fn not_found(slug: &str) -> Error {
    Error::not_found(format!(
        "no dataset named '{}'; list datasets with GET /v1/datasets",
        slug.chars().take(80).collect::<String>()
    ))
}

fn denied(principal: &Principal, dataset: &DatasetRecord, action: Action) -> Error {
    match (dataset.tier, action) {
        (Tier::Conditional, Action::DataQuery | Action::DataExport) => Error::forbidden(format!(
            "dataset '{}' is conditionally open: its metadata is public, its data needs an approved access request; read the terms at GET /v1/datasets/{} and apply with POST /v1/datasets/{}/access-requests",
            dataset.slug, dataset.slug, dataset.slug
        )),
        (Tier::Open, Action::AccessRequest) => Error::conflict(format!(
            "dataset '{}' is open: its data needs no access request",
            dataset.slug
        )),
        _ if matches!(principal, Principal::Anonymous) => Error::unauthorized(format!(
            "{} on dataset '{}' needs credentials; send Authorization: Bearer <token>",
            action.as_str(),
            dataset.slug
        )),
        _ => Error::forbidden(format!(
            "you may not {} dataset '{}'",
            action.as_str(),
            dataset.slug
        )),
    }
}

fn lapsed(dataset: &DatasetRecord, grant: &access::Grant) -> Error {
    let ended = match (&grant.revoked_at, &grant.revoke_reason) {
        (Some(at), Some(reason)) => format!("was revoked at {at} ({reason})"),
        (Some(at), None) => format!("was revoked at {at}"),
        _ => format!("expired at {}", grant.expires_at),
    };
    Error::forbidden(format!(
        "your grant {} on dataset '{}' {ended}; to renew it, file a new access request with POST /v1/datasets/{}/access-requests",
        grant.id, dataset.slug, dataset.slug
    ))
}

/// The dataset behind `slug` if `principal` may do `action` on it; the
/// decision and the rule that made it go into the request's audit notes.
pub fn authorize(
    conn: &mut AnyConnection,
    engine: &Engine,
    principal: &Principal,
    note: &Note,
    slug: &str,
    action: Action,
) -> Result<DatasetRecord> {
    note_target(note, slug, action);
    let parsed = DatasetSlug::parse(slug).map_err(|_| not_found(slug))?;
    let dataset = catalog::find_dataset(conn, &parsed)?.ok_or_else(|| not_found(slug))?;
    decide(conn, engine, principal, note, slug, &dataset, action)?;
    Ok(dataset)
}

/// Notes the dataset and action a request is about before anything is decided, so that
/// even a refusal's record names them.
fn note_target(note: &Note, slug: &str, action: Action) {
    note.update(|d| {
        d.dataset = Some(shown(slug));
        d.action = Some(action.as_str().to_string());
    });
}

/// The slug as the audit log shows it: a hostile one is cut short.
fn shown(slug: &str) -> String {
    slug.chars().take(80).collect()
}

/// Whether `principal` may do `action` on `dataset`, the grant that allows it when no
/// rule does; the decision and its rule go into the audit notes.
fn decide(
    conn: &mut AnyConnection,
    engine: &Engine,
    principal: &Principal,
    note: &Note,
    slug: &str,
    dataset: &DatasetRecord,
    action: Action,
) -> Result<Option<access::Grant>> {
    let shown = shown(slug);
    let ids = policy::identities(principal);
    let target = DatasetRef {
        slug: &dataset.slug,
        tier: dataset.tier,
        org: &dataset.organization,
    };
    let decision = policy::decide_dataset(engine, &ids, &target, action);
    // Only a caller allowed to see the dataset learns that it exists.
    let visible = decision.allowed
        || (action != Action::CatalogRead
            && policy::decide_dataset(engine, &ids, &target, Action::CatalogRead).allowed);
    let effect = match (decision.allowed, visible) {
        (true, _) => "allow",
        (false, true) => "deny",
        (false, false) => "hidden",
    };
    let rule = decision
        .rule
        .clone()
        .unwrap_or_else(|| "default deny".to_string());
    // A grant opens the data of a dataset no rule opens to this caller; an explicit deny
    // still wins.
    let grantable = matches!(action, Action::DataQuery | Action::DataExport)
        && visible
        && !decision.allowed
        && decision.rule.is_none()
        && !matches!(principal, Principal::Anonymous);
    if grantable {
        match access::check_grant(conn, &principal.subject(), dataset.id)? {
            GrantCheck::Active(grant) => {
                note.decision(
                    &shown,
                    action.as_str(),
                    "allow",
                    &format!("grant:{}", grant.id),
                );
                return Ok(Some(grant));
            }
            GrantCheck::Lapsed(grant) => {
                note.decision(
                    &shown,
                    action.as_str(),
                    "deny",
                    &format!("grant:{}", grant.id),
                );
                return Err(lapsed(dataset, &grant));
            }
            GrantCheck::None => {}
        }
    }
    note.decision(&shown, action.as_str(), effect, &rule);
    match (decision.allowed, visible) {
        (true, _) => Ok(None),
        (false, true) => Err(denied(principal, dataset, action)),
        (false, false) => Err(not_found(slug)),
    }
}

fn no_data(dataset: &DatasetRecord) -> Error {
    Error::conflict(format!(
        "dataset '{}' has no data yet; its publisher uploads it with PUT /v1/datasets/{}/data",
        dataset.slug, dataset.slug
    ))
}

/// A dataset's current version as a caller may read it.
pub struct Readable {
    pub version: Arc<VersionRecord>,
    /// What the caller sees of it: masks and row filters.
    pub view: View,
    /// The daily row quota of the grant the caller reads under, if any.
    pub quota: Option<GrantQuota>,
}

/// What a read of rows is decided on: the catalog as this instance keeps it and the
/// rules in force.
pub struct Lookup<'a> {
    pub catalog: &'a CatalogCache,
    pub engine: &'a Engine,
}

/// The current version of the dataset behind `slug`, what `principal` sees of it and
/// the grant quota it reads under. The query's audit text is noted again once the view
/// is known, with only the values compared against protected columns left out.
pub fn authorize_view(
    conn: &mut AnyConnection,
    lookup: Lookup<'_>,
    principal: &Principal,
    note: &Note,
    slug: &str,
    action: Action,
    query: &RowsQuery,
) -> Result<Readable> {
    note_target(note, slug, action);
    let parsed = DatasetSlug::parse(slug).map_err(|_| not_found(slug))?;
    let entry = lookup
        .catalog
        .entry(conn, &parsed)?
        .ok_or_else(|| not_found(slug))?;
    let dataset = &entry.dataset;
    let grant = decide(conn, lookup.engine, principal, note, slug, dataset, action)?;
    let version = entry.version.clone().ok_or_else(|| no_data(dataset))?;
    let quota = grant.as_ref().and_then(|g| {
        let rows = u64::try_from(g.row_quota?).ok()?;
        Some(GrantQuota {
            grant_id: g.id.clone(),
            rows,
        })
    });
    let mut viewer = Viewer::of(principal);
    // Under a grant, the caller sees what the grant names: its columns, its rows.
    viewer.grant = grant.map(|g| GrantScope {
        columns: g.columns,
        row_filter: g.row_filter,
    });
    let view = masks::view_under(dataset, &version.columns, &viewer, &entry.rules);
    let protected = view.protected();
    note.update(|d| d.query = Some(query.audit_text_redacting(Redact::Columns(&protected))));
    Ok(Readable {
        version,
        view,
        quota,
    })
}

pub fn target<'a>(
    version: &'a VersionRecord,
    backend: Backend,
    restriction: &'a Restriction,
) -> Target<'a> {
    Target {
        restriction,
        dataset_id: version.dataset_id,
        version_id: version.id,
        version_number: version.number,
        table: &version.table_name,
        columns: &version.columns,
        dialect: match backend {
            Backend::Sqlite => Dialect::Sqlite,
            Backend::Postgres => Dialect::Postgres,
        },
    }
}
