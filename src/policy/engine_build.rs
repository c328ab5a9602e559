//! Turning model text and a rule list into an `Engine`: a fresh Casbin enforcer every time,
//! plus the indexes that let a decision name its rule. Refuses models whose field order the
//! engine would misread, and models that only fail on their first decision.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use casbin::{Adapter, CoreApi, DefaultModel, Enforcer, MemoryAdapter, Model};

use crate::policy::adapter::{DbAdapter, rules_of_model};
use crate::policy::memo::DecisionMemo;

use super::actions::ActionEnforcers;
use super::{Engine, panic_text};
use crate::policy::error::PolicyError;
use crate::policy::rules::Rule;

impl Engine {
    /// Builds a fresh enforcer. Duplicate rules are dropped first: Casbin's MemoryAdapter
    /// refuses a whole batch, silently, when one rule in it is already present.
    pub async fn build(model_text: &str, rules: &[Rule]) -> Result<Engine, PolicyError> {
        let engine = Self::build_untried(model_text, rules).await?;
        engine.try_model()?;
        Ok(engine)
    }

    /// Builds an engine from the rules the database holds, read through `adapter`.
    pub async fn load(model_text: &str, adapter: DbAdapter) -> Result<Engine, PolicyError> {
        let engine = Self::from_adapter(model_text, adapter).await?;
        engine.try_model()?;
        Ok(engine)
    }

    pub(crate) async fn build_untried(
        model_text: &str,
        rules: &[Rule],
    ) -> Result<Engine, PolicyError> {
        let mut seen = HashSet::new();
        let rules: Vec<Rule> = rules.iter().filter(|r| seen.insert(*r)).cloned().collect();
        for rule in &rules {
            rule.check_syntax()?;
        }
        let mut adapter = MemoryAdapter::default();
        for (sec, ptype) in [("p", "p"), ("g", "g"), ("g", "g2")] {
            let batch: Vec<Vec<String>> = rules
                .iter()
                .filter(|r| r.ptype() == ptype)
                .map(Rule::values)
                .collect();
            if !batch.is_empty() {
                adapter
                    .add_policies(sec, ptype, batch)
                    .await
                    .map_err(|e| PolicyError::Build(e.to_string()))?;
            }
        }
        Self::from_adapter(model_text, adapter).await
    }

    /// A fresh enforcer over whatever `adapter` loads; the engine's rule list is read back
    /// from the enforcer's model, so attribution sees exactly what Casbin decides on.
    async fn from_adapter<A: Adapter + 'static>(
        model_text: &str,
        adapter: A,
    ) -> Result<Engine, PolicyError> {
        let model = DefaultModel::from_str(model_text)
            .await
            .map_err(|e| PolicyError::Model(e.to_string()))?;
        check_model_shape(&model)?;
        let enforcer = Enforcer::new(model, adapter)
            .await
            .map_err(|e| PolicyError::Build(e.to_string()))?;
        let rules = rules_of_model(enforcer.get_model())?;
        let by_action = ActionEnforcers::build(model_text, enforcer.get_model(), &rules).await?;

        let mut grants_by_sub: HashMap<String, Vec<usize>> = HashMap::new();
        let mut linked = HashSet::new();
        let mut targets = HashSet::new();
        for (i, rule) in rules.iter().enumerate() {
            match rule {
                Rule::Allow { sub, .. } | Rule::Deny { sub, .. } => {
                    grants_by_sub.entry(sub.clone()).or_default().push(i);
                }
                Rule::Role {
                    member: from,
                    role: to,
                }
                | Rule::Group {
                    dataset: from,
                    group: to,
                } => {
                    linked.insert(from.clone());
                    targets.insert(to.clone());
                }
            }
        }
        // g and g2 share one role graph in casbin-rs, so both feed both target lists.
        let mut sub_targets: Vec<String> = grants_by_sub
            .keys()
            .filter(|s| targets.contains(*s))
            .cloned()
            .collect();
        let mut obj_targets: Vec<String> = rules
            .iter()
            .filter_map(|r| match r {
                Rule::Allow { obj, .. } | Rule::Deny { obj, .. } if targets.contains(obj) => {
                    Some(obj.clone())
                }
                _ => None,
            })
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut role_targets: Vec<String> = targets
            .iter()
            .filter(|t| t.starts_with("role:"))
            .cloned()
            .collect();
        sub_targets.sort();
        obj_targets.sort();
        role_targets.sort();
        Ok(Engine {
            enforcer,
            by_action,
            rules,
            grants_by_sub,
            linked,
            sub_targets,
            obj_targets,
            role_targets,
            memo: DecisionMemo::default(),
        })
    }

    /// One trial decision, because Casbin accepts some broken models and only fails (or
    /// panics, for an unsupported effect) on the first enforce.
    fn try_model(&self) -> Result<(), PolicyError> {
        let trial = vec!["anonymous".to_owned()];
        match catch_unwind(AssertUnwindSafe(|| {
            self.enforcer.enforce((&trial, &trial, "catalog:read"))
        })) {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(PolicyError::Model(e.to_string())),
            Err(panic) => Err(PolicyError::Model(format!(
                "trial decision panicked: {}",
                panic_text(&*panic)
            ))),
        }
    }
}

/// The engine reads request and rule fields by position, so the model must declare them in
/// the order `Rule::values` and `explain` use.
fn check_model_shape(model: &DefaultModel) -> Result<(), PolicyError> {
    let want = [
        ("r", "r", "sub,obj,act"),
        ("p", "p", "sub,obj,act,eft"),
        ("g", "g", "_,_"),
        ("g", "g2", "_,_"),
    ];
    for (sec, key, expected) in want {
        let found = model.get_model().get(sec).and_then(|m| m.get(key));
        let found = found.map(|a| a.value.replace(' ', ""));
        if found.as_deref() != Some(expected) {
            return Err(PolicyError::Model(format!(
                "'{key}' must be declared as `{key} = {}`, found {}",
                expected.replace(',', ", "),
                found.map_or("nothing".to_owned(), |f| format!("`{f}`"))
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "engine_build_tests.rs"]
mod tests;
