//! The rules in the database, which is their source of truth: the current rule set, and
//! every change to it as a numbered revision with author, time and reason. A change is
//! one write transaction: the rule rows and the revision that records them commit
//! together or not at all.

use std::collections::HashSet;

use diesel::prelude::*;

use super::error::PolicyError;
use super::rules::{Rule, org_rules};
use crate::db::schema::{datasets, organizations, policy_revisions, policy_rules};
use crate::db::{AnyConnection, write_transaction};
use crate::error::{Error, Result};
pub use revisions::{RevisionInfo, revision, revisions};
use revisions::{RevisionRow, info_of};

/// Who changes the rules and why; both are kept with the revision.
#[derive(Debug, Clone)]
pub struct Author {
    pub subject: String,
    pub reason: String,
}

impl Author {
    pub fn system(reason: impl Into<String>) -> Author {
        Author {
            subject: "system".to_owned(),
            reason: reason.into(),
        }
    }
}

/// Rules to add and rules to remove, applied together.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub add: Vec<Rule>,
    pub remove: Vec<Rule>,
}

impl Change {
    /// What turns `from` into `to`.
    pub fn between(from: &[Rule], to: &[Rule]) -> Change {
        let from_set: HashSet<&Rule> = from.iter().collect();
        let to_set: HashSet<&Rule> = to.iter().collect();
        Change {
            add: dedup(to.iter().filter(|r| !from_set.contains(r))),
            remove: dedup(from.iter().filter(|r| !to_set.contains(r))),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }

    /// `rules` with this change applied: removals first, additions appended in order.
    pub fn applied_to(&self, rules: &[Rule]) -> Vec<Rule> {
        let gone: HashSet<&Rule> = self.remove.iter().collect();
        let mut out: Vec<Rule> = rules
            .iter()
            .filter(|r| !gone.contains(r))
            .cloned()
            .collect();
        let mut present: HashSet<Rule> = out.iter().cloned().collect();
        for rule in &self.add {
            if present.insert(rule.clone()) {
                out.push(rule.clone());
            }
        }
        out
    }
}

fn dedup<'a>(rules: impl Iterator<Item = &'a Rule>) -> Vec<Rule> {
    let mut seen = HashSet::new();
    rules.filter(|r| seen.insert(*r)).cloned().collect()
}

/// The latest revision number, or `None` before the rules were first loaded.
pub fn current_revision(conn: &mut AnyConnection) -> Result<Option<i64>> {
    Ok(policy_revisions::table
        .select(diesel::dsl::max(policy_revisions::number))
        .first::<Option<i64>>(conn)?)
}

/// The rules in force, in the order they were added.
pub fn current_rules(conn: &mut AnyConnection) -> Result<Vec<Rule>> {
    let rows: Vec<(String, String, String, String, String)> = policy_rules::table
        .order(policy_rules::id.asc())
        .select((
            policy_rules::ptype,
            policy_rules::v0,
            policy_rules::v1,
            policy_rules::v2,
            policy_rules::v3,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(ptype, v0, v1, v2, v3)| {
            let values = [v0, v1, v2, v3];
            Rule::from_values(&ptype, &values).map_err(stored_rule_broken)
        })
        .collect()
}

/// The revision number and the rules in force, read together.
pub fn snapshot(conn: &mut AnyConnection) -> Result<(i64, Vec<Rule>)> {
    conn.transaction(|conn| {
        let revision = current_revision(conn)?.unwrap_or(0);
        Ok((revision, current_rules(conn)?))
    })
}

fn stored_rule_broken(e: PolicyError) -> Error {
    Error::internal("reading the stored policy", e.to_string())
}

/// Stores `rules` as revision 1 when the database holds no rules yet; later starts find a
/// revision and leave the rules alone, so edits made through the API survive restarts.
pub fn seed(
    conn: &mut AnyConnection,
    rules: &[Rule],
    author: &Author,
) -> Result<Option<RevisionInfo>> {
    write_transaction(conn, |conn| {
        if current_revision(conn)?.is_some() {
            return Ok(None);
        }
        let change = Change {
            add: rules.to_vec(),
            remove: Vec::new(),
        };
        apply_in(conn, &change, author).map(Some)
    })
}

/// Adds the publisher and reviewer rules of each organisation that has not had them yet,
/// as one revision, and marks those organisations.
pub fn seed_new_orgs(conn: &mut AnyConnection) -> Result<Option<RevisionInfo>> {
    write_transaction(conn, |conn| {
        let orgs: Vec<String> = organizations::table
            .filter(organizations::policy_seeded.eq(0))
            .order(organizations::slug.asc())
            .select(organizations::slug)
            .load(conn)?;
        if orgs.is_empty() {
            return Ok(None);
        }
        let current: HashSet<Rule> = current_rules(conn)?.into_iter().collect();
        let add: Vec<Rule> = orgs
            .iter()
            .flat_map(|o| org_rules(o))
            .filter(|r| !current.contains(r))
            .collect();
        diesel::update(organizations::table.filter(organizations::slug.eq_any(&orgs)))
            .set(organizations::policy_seeded.eq(1))
            .execute(conn)?;
        let author = Author::system(format!("rules of new organisation(s) {}", orgs.join(", ")));
        apply_in(
            conn,
            &Change {
                add,
                remove: Vec::new(),
            },
            &author,
        )
        .map(Some)
    })
}

/// Applies `change` as a new revision. Adding a rule already present is a 409 and removing
/// one that is absent a 404, each naming the rule, and nothing is applied.
pub fn apply(conn: &mut AnyConnection, change: &Change, author: &Author) -> Result<RevisionInfo> {
    write_transaction(conn, |conn| {
        let current: HashSet<Rule> = current_rules(conn)?.into_iter().collect();
        if let Some(rule) = change.add.iter().find(|r| current.contains(*r)) {
            return Err(Error::conflict(format!(
                "the rule `{}` is already in force; nothing was changed",
                rule.to_csv_line()
            )));
        }
        if let Some(rule) = change.remove.iter().find(|r| !current.contains(*r)) {
            return Err(Error::not_found(format!(
                "the rule `{}` is not in force, so it cannot be removed; nothing was changed",
                rule.to_csv_line()
            )));
        }
        apply_in(conn, change, author)
    })
}

/// Makes `rules` the rule set, as one revision holding the difference.
pub fn replace_all(
    conn: &mut AnyConnection,
    rules: &[Rule],
    author: &Author,
) -> Result<RevisionInfo> {
    write_transaction(conn, |conn| {
        let current = current_rules(conn)?;
        apply_in(conn, &Change::between(&current, rules), author)
    })
}

/// Writes the rows and the revision; the caller holds the write transaction and has
/// checked that additions are absent and removals present.
fn apply_in(conn: &mut AnyConnection, change: &Change, author: &Author) -> Result<RevisionInfo> {
    let change = Change {
        add: dedup(change.add.iter()),
        remove: dedup(change.remove.iter()),
    };
    for rule in &change.remove {
        let [v0, v1, v2, v3] = row_values(rule);
        diesel::delete(
            policy_rules::table
                .filter(policy_rules::ptype.eq(rule.ptype()))
                .filter(policy_rules::v0.eq(v0))
                .filter(policy_rules::v1.eq(v1))
                .filter(policy_rules::v2.eq(v2))
                .filter(policy_rules::v3.eq(v3)),
        )
        .execute(conn)?;
    }
    // One statement per row: diesel's multi-backend connection has no batch insert.
    for rule in &change.add {
        let [v0, v1, v2, v3] = row_values(rule);
        diesel::insert_into(policy_rules::table)
            .values((
                policy_rules::ptype.eq(rule.ptype()),
                policy_rules::v0.eq(v0),
                policy_rules::v1.eq(v1),
                policy_rules::v2.eq(v2),
                policy_rules::v3.eq(v3),
            ))
            .execute(conn)?;
    }
    let rule_count: i64 = policy_rules::table.count().get_result(conn)?;
    let number = current_revision(conn)?.unwrap_or(0) + 1;
    let lines = |rules: &[Rule]| {
        rules
            .iter()
            .map(Rule::to_csv_line)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let row: RevisionRow = (
        number,
        crate::catalog::now_text(),
        author.subject.clone(),
        author.reason.clone(),
        lines(&change.add),
        lines(&change.remove),
        rule_count,
    );
    diesel::insert_into(policy_revisions::table)
        .values((
            policy_revisions::number.eq(row.0),
            policy_revisions::created_at.eq(&row.1),
            policy_revisions::author.eq(&row.2),
            policy_revisions::reason.eq(&row.3),
            policy_revisions::added.eq(&row.4),
            policy_revisions::removed.eq(&row.5),
            policy_revisions::rule_count.eq(row.6),
        ))
        .execute(conn)?;
    Ok(info_of(&row))
}

fn row_values(rule: &Rule) -> [String; 4] {
    let mut values = rule.values().into_iter();
    std::array::from_fn(|_| values.next().unwrap_or_default())
}

/// The roles `user:<subject>` is assigned in the rules (`g` links), without the `role:`
/// prefix.
pub fn roles_of(conn: &mut AnyConnection, subject: &str) -> Result<Vec<String>> {
    let member = format!("user:{subject}");
    let roles: Vec<String> = policy_rules::table
        .filter(policy_rules::ptype.eq("g"))
        .filter(policy_rules::v0.eq(&member))
        .order(policy_rules::id.asc())
        .select(policy_rules::v1)
        .load(conn)?;
    Ok(roles
        .into_iter()
        .map(|r| r.strip_prefix("role:").map(str::to_owned).unwrap_or(r))
        .collect())
}

/// What rules may name in this deployment: its datasets, its organisations, and the roles
/// the rules already use.
pub fn known_names(conn: &mut AnyConnection) -> Result<super::Known> {
    let slugs: Vec<String> = datasets::table.select(datasets::slug).load(conn)?;
    let orgs: Vec<String> = organizations::table
        .select(organizations::slug)
        .load(conn)?;
    let mut known = super::Known::new(slugs, orgs);
    for rule in current_rules(conn)? {
        for (_, value) in rule.named_fields() {
            if let Some(role) = value.strip_prefix("role:") {
                known = known.with_role(role);
            }
        }
    }
    Ok(known)
}

mod revisions;

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
