//! The policy's revision history: each revision's summary, the list of
//! them, and the rule set in force right after any one of them.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Change, stored_rule_broken};
use crate::db::AnyConnection;
use crate::db::schema::policy_revisions;
use crate::error::{Error, Result};
use crate::policy::rules::{Rule, parse_csv};

/// One revision, without its rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RevisionInfo {
    /// Revision number; 1 is the rule set loaded from policies/policy.csv.
    #[schema(example = 4)]
    pub number: i64,
    /// When it was made (RFC 3339, UTC).
    #[schema(example = "2026-11-29T06:23:51Z")]
    pub created_at: String,
    /// The subject that made it, or `system`.
    #[schema(example = "user:alice")]
    pub author: String,
    /// Why, as its author gave it.
    #[schema(example = "researchers may query conditional data")]
    pub reason: String,
    /// Rules it added.
    #[schema(example = 1)]
    pub added: i64,
    /// Rules it removed.
    #[schema(example = 0)]
    pub removed: i64,
    /// Rules in force after it.
    #[schema(example = 21)]
    pub rule_count: i64,
}

pub(super) type RevisionRow = (i64, String, String, String, String, String, i64);

pub(super) fn info_of(row: &RevisionRow) -> RevisionInfo {
    let count = |text: &str| text.lines().filter(|l| !l.trim().is_empty()).count() as i64;
    RevisionInfo {
        number: row.0,
        created_at: row.1.clone(),
        author: row.2.clone(),
        reason: row.3.clone(),
        added: count(&row.4),
        removed: count(&row.5),
        rule_count: row.6,
    }
}

fn revision_columns() -> (
    policy_revisions::number,
    policy_revisions::created_at,
    policy_revisions::author,
    policy_revisions::reason,
    policy_revisions::added,
    policy_revisions::removed,
    policy_revisions::rule_count,
) {
    (
        policy_revisions::number,
        policy_revisions::created_at,
        policy_revisions::author,
        policy_revisions::reason,
        policy_revisions::added,
        policy_revisions::removed,
        policy_revisions::rule_count,
    )
}

/// Revisions, newest first, and how many there are.
pub fn revisions(
    conn: &mut AnyConnection,
    limit: i64,
    offset: i64,
) -> Result<(Vec<RevisionInfo>, i64)> {
    let rows: Vec<RevisionRow> = policy_revisions::table
        .order(policy_revisions::number.desc())
        .limit(limit)
        .offset(offset)
        .select(revision_columns())
        .load(conn)?;
    let total: i64 = policy_revisions::table.count().get_result(conn)?;
    Ok((rows.iter().map(info_of).collect(), total))
}

/// Revision `number` and the full rule set in force right after it.
pub fn revision(conn: &mut AnyConnection, number: i64) -> Result<(RevisionInfo, Vec<Rule>)> {
    let rows: Vec<RevisionRow> = policy_revisions::table
        .filter(policy_revisions::number.le(number))
        .order(policy_revisions::number.asc())
        .select(revision_columns())
        .load(conn)?;
    let Some(last) = rows.last().filter(|r| r.0 == number) else {
        return Err(Error::not_found(format!(
            "there is no policy revision {number}; GET /v1/admin/policy/revisions lists them"
        )));
    };
    let mut rules: Vec<Rule> = Vec::new();
    for row in &rows {
        let change = Change {
            add: parse_csv(&row.4).map_err(stored_rule_broken)?,
            remove: parse_csv(&row.5).map_err(stored_rule_broken)?,
        };
        rules = change.applied_to(&rules);
    }
    Ok((info_of(last), rules))
}
