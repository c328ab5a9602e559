//! The Casbin adapter over the database: Casbin loads the rules through it, and any rule
//! change Casbin asks of it is stored as one policy revision (see `store`).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;
use casbin::error::AdapterError;
use casbin::{Adapter, Filter, Model};

use super::rules::Rule;
use super::store::{self, Author, Change};
use crate::db::Db;
use crate::error::{Error, Kind};

/// Reads and writes the rules of one database. `loaded_revision` tells the owner which
/// revision the last load saw, so an engine knows how current it is.
pub struct DbAdapter {
    db: Db,
    author: Author,
    loaded_revision: Arc<AtomicI64>,
    filtered: bool,
}

impl DbAdapter {
    /// Writes made through this adapter are credited to `author`.
    pub fn new(db: Db, author: Author) -> DbAdapter {
        DbAdapter {
            db,
            author,
            loaded_revision: Arc::new(AtomicI64::new(0)),
            filtered: false,
        }
    }

    /// Shared with the adapter: the revision number its last load read.
    pub fn loaded_revision(&self) -> Arc<AtomicI64> {
        Arc::clone(&self.loaded_revision)
    }

    async fn change(&self, change: Change) -> casbin::Result<bool> {
        let author = self.author.clone();
        match self
            .db
            .run(move |conn| store::apply(conn, &change, &author))
            .await
        {
            Ok(_) => Ok(true),
            // Casbin's contract: adding a present rule or removing an absent one is `false`.
            Err(e) if matches!(e.kind(), Kind::Conflict | Kind::NotFound) => Ok(false),
            Err(e) => Err(adapter_error(e)),
        }
    }

    async fn load_into(
        &mut self,
        m: &mut dyn Model,
        filter: Option<Filter<'_>>,
    ) -> casbin::Result<()> {
        let (revision, rules) = self.db.run(store::snapshot).await.map_err(adapter_error)?;
        self.filtered = false;
        for rule in rules {
            let values = rule.values();
            let sec = if rule.ptype() == "p" { "p" } else { "g" };
            let wanted = match &filter {
                Some(f) => matches_filter(if sec == "p" { &f.p } else { &f.g }, &values),
                None => true,
            };
            if wanted {
                m.add_policy(sec, rule.ptype(), values);
            } else {
                self.filtered = true;
            }
        }
        self.loaded_revision.store(revision, Ordering::SeqCst);
        Ok(())
    }
}

fn matches_filter(filter: &[&str], values: &[String]) -> bool {
    filter
        .iter()
        .zip(values)
        .all(|(want, have)| want.is_empty() || *want == have)
}

fn adapter_error(e: Error) -> casbin::Error {
    casbin::Error::AdapterError(AdapterError(Box::new(e)))
}

fn to_rule(ptype: &str, values: &[String]) -> casbin::Result<Rule> {
    Rule::from_values(ptype, values)
        .map_err(|e| casbin::Error::AdapterError(AdapterError(Box::new(e))))
}

fn to_rules(ptype: &str, rows: &[Vec<String>]) -> casbin::Result<Vec<Rule>> {
    rows.iter().map(|v| to_rule(ptype, v)).collect()
}

/// Every rule `m` holds, allow/deny lines first, then `g`, then `g2`.
pub(crate) fn rules_of_model(m: &dyn Model) -> Result<Vec<Rule>, super::PolicyError> {
    let mut rules = Vec::new();
    for (sec, ptype) in [("p", "p"), ("g", "g"), ("g", "g2")] {
        for values in m.get_policy(sec, ptype) {
            rules.push(Rule::from_values(ptype, &values)?);
        }
    }
    Ok(rules)
}

#[async_trait]
impl Adapter for DbAdapter {
    async fn load_policy(&mut self, m: &mut dyn Model) -> casbin::Result<()> {
        self.load_into(m, None).await
    }

    async fn load_filtered_policy<'a>(
        &mut self,
        m: &mut dyn Model,
        f: Filter<'a>,
    ) -> casbin::Result<()> {
        self.load_into(m, Some(f)).await
    }

    async fn save_policy(&mut self, m: &mut dyn Model) -> casbin::Result<()> {
        let rules = rules_of_model(m)
            .map_err(|e| casbin::Error::AdapterError(AdapterError(Box::new(e))))?;
        let author = self.author.clone();
        self.db
            .run(move |conn| store::replace_all(conn, &rules, &author))
            .await
            .map(drop)
            .map_err(adapter_error)
    }

    async fn clear_policy(&mut self) -> casbin::Result<()> {
        let author = self.author.clone();
        self.db
            .run(move |conn| store::replace_all(conn, &[], &author))
            .await
            .map(drop)
            .map_err(adapter_error)
    }

    fn is_filtered(&self) -> bool {
        self.filtered
    }

    async fn add_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> casbin::Result<bool> {
        let add = vec![to_rule(ptype, &rule)?];
        self.change(Change {
            add,
            remove: vec![],
        })
        .await
    }

    async fn add_policies(
        &mut self,
        _sec: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        let add = to_rules(ptype, &rules)?;
        self.change(Change {
            add,
            remove: vec![],
        })
        .await
    }

    async fn remove_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> casbin::Result<bool> {
        let remove = vec![to_rule(ptype, &rule)?];
        self.change(Change {
            add: vec![],
            remove,
        })
        .await
    }

    async fn remove_policies(
        &mut self,
        _sec: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        let remove = to_rules(ptype, &rules)?;
        self.change(Change {
            add: vec![],
            remove,
        })
        .await
    }

    async fn remove_filtered_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        field_index: usize,
        field_values: Vec<String>,
    ) -> casbin::Result<bool> {
        let current = self
            .db
            .run(store::current_rules)
            .await
            .map_err(adapter_error)?;
        let remove: Vec<Rule> = current
            .into_iter()
            .filter(|r| r.ptype() == ptype)
            .filter(|r| {
                let values = r.values();
                field_values
                    .iter()
                    .enumerate()
                    .all(|(i, want)| want.is_empty() || values.get(field_index + i) == Some(want))
            })
            .collect();
        if remove.is_empty() {
            return Ok(false);
        }
        self.change(Change {
            add: vec![],
            remove,
        })
        .await
    }
}

#[cfg(test)]
#[path = "adapter_tests.rs"]
mod tests;
