//! Decisions: answers "may these identities do this action to this object" with Casbin's
//! enforcer (built in `engine_build`), and names the rule that decided. It never changes an enforcer once
//! built (Casbin's `load_policy` clears before loading, so a reload in place briefly denies
//! everything); a rule change builds a new `Engine` and `SharedEngine` swaps it in whole.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use casbin::{CoreApi, Enforcer};
use serde::Serialize;

use super::memo::{self, DecisionMemo};
use super::rules::Rule;

/// The answer to one request. `rule` is the CSV line that decided it, when one did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    pub rule: Option<String>,
    pub reason: String,
}

impl Decision {
    fn deny(rule: Option<&Rule>, reason: impl Into<String>) -> Decision {
        Decision {
            allowed: false,
            rule: rule.map(Rule::to_csv_line),
            reason: reason.into(),
        }
    }
}

/// What the admin "check" endpoint shows: the decision, the identities and objects after
/// following `g`/`g2` links, and every rule that matched, allows and denies alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub decision: Decision,
    pub identities: Vec<String>,
    pub objects: Vec<String>,
    pub matched: Vec<Rule>,
}

/// One immutable rule set and the Casbin enforcer built from it.
pub struct Engine {
    enforcer: Enforcer,
    /// The same `p` rules split by action, when the matcher allows it.
    by_action: Option<actions::ActionEnforcers>,
    rules: Vec<Rule>,
    /// Positions in `rules` of the allow/deny rules, by subject, to name the deciding rule.
    grants_by_sub: HashMap<String, Vec<usize>>,
    /// Names with an outgoing `g`/`g2` link. Casbin's role manager scans every node when
    /// asked about any other name, so only these are worth asking about.
    linked: HashSet<String>,
    /// Rule subjects and objects some link points at: the only names expansion can reach.
    sub_targets: Vec<String>,
    obj_targets: Vec<String>,
    /// Every `role:…` a link points at, rules or not: a role may matter
    /// beyond the rules (its own rate limits).
    role_targets: Vec<String>,
    /// Decisions already made; see `memo`.
    pub(super) memo: DecisionMemo,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("rules", &self.rules.len())
            .finish()
    }
}

impl Engine {
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// May a caller holding `identities` (see `principal_identities`) do `action` to
    /// `object`? `groups_of_object` adds groups the rule set may not link yet, such as the
    /// owning org of a dataset being published. Allowed when some identity is allowed and
    /// none denied; anything else, including an engine failure, is a deny. A repeat of a
    /// request this engine decided before is answered from its memo.
    pub fn decide(
        &self,
        identities: &[String],
        object: &str,
        groups_of_object: &[String],
        action: &str,
    ) -> Decision {
        let key = memo::key(identities, object, groups_of_object, action);
        if let Some(decision) = self.memo.get(&key) {
            return decision;
        }
        let decision = self
            .explain(identities, object, groups_of_object, action)
            .decision;
        self.memo.put(key, &decision);
        decision
    }

    /// `decide`, plus the expanded identities and objects and every matching rule.
    pub fn explain(
        &self,
        identities: &[String],
        object: &str,
        groups_of_object: &[String],
        action: &str,
    ) -> Explanation {
        let fail = |reason: String| Explanation {
            decision: Decision::deny(None, reason),
            identities: Vec::new(),
            objects: Vec::new(),
            matched: Vec::new(),
        };
        // Casbin with no `p` rules evaluates the matcher once with every rule field empty
        // and counts a match as an allow, so empty request fields must never reach it.
        if object.is_empty() || action.is_empty() {
            return fail("empty object or action".to_owned());
        }
        let start_objects: Vec<String> = std::iter::once(object.to_owned())
            .chain(groups_of_object.iter().cloned())
            .collect();
        let run = catch_unwind(AssertUnwindSafe(|| {
            let ids = self.expand(identities, &self.sub_targets);
            let objs = self.expand(&start_objects, &self.obj_targets);
            let verdict = match &self.by_action {
                None => self.enforcer.enforce((&ids, &objs, action)),
                Some(split) => split
                    .get(action)
                    .map_or(Ok(false), |e| e.enforce((&ids, &objs, action))),
            };
            (ids, objs, verdict)
        }));
        let (identities, objects, allowed) = match run {
            Ok((ids, objs, Ok(allowed))) => (ids, objs, allowed),
            Ok((_, _, Err(e))) => return fail(format!("policy engine error: {e}")),
            Err(panic) => {
                return fail(format!("policy engine panicked: {}", panic_text(&*panic)));
            }
        };
        let matched = self.matching_rules(&identities, &objects, action);
        let deny = matched.iter().find(|r| matches!(r, Rule::Deny { .. }));
        let allow = matched.iter().find(|r| matches!(r, Rule::Allow { .. }));
        let decision = match (allowed, deny, allow) {
            (true, None, Some(rule)) => Decision {
                allowed: true,
                rule: Some(rule.to_csv_line()),
                reason: "allowed by rule".to_owned(),
            },
            (false, Some(rule), _) => Decision::deny(Some(rule), "denied by rule"),
            (false, None, None) => Decision::deny(None, "no rule matched; denied by default"),
            // Only a model.conf whose matcher differs from this engine's reading gets here.
            _ => Decision::deny(
                None,
                format!("model and rule attribution disagree (casbin allowed: {allowed})"),
            ),
        };
        Explanation {
            decision,
            identities,
            objects,
            matched,
        }
    }

    /// The objects `identities` are allowed and denied `action` on by some rule (`*`,
    /// `tier:…`, `org:…`, `dataset:…`), with datasets linked to such a group by a `g2`
    /// rule added as `dataset:…`. A dataset is allowed exactly when it or one of its
    /// groups is in the first list and none is in the second, which lets a listing turn
    /// the policy into one SQL filter instead of a decision per dataset.
    pub fn reach(&self, identities: &[String], action: &str) -> (Vec<String>, Vec<String>) {
        let ids = self.expand(identities, &self.sub_targets);
        let (mut allowed, mut denied) = (Vec::new(), Vec::new());
        for rule in ids
            .iter()
            .filter_map(|id| self.grants_by_sub.get(id))
            .flatten()
        {
            match self.rules.get(*rule) {
                Some(Rule::Allow { obj, act, .. }) if act == action || act == "*" => {
                    allowed.push(obj.clone());
                }
                Some(Rule::Deny { obj, act, .. }) if act == action || act == "*" => {
                    denied.push(obj.clone());
                }
                _ => {}
            }
        }
        for rule in &self.rules {
            if let Rule::Group { dataset, group } = rule {
                if allowed.contains(group) {
                    allowed.push(dataset.clone());
                }
                if denied.contains(group) {
                    denied.push(dataset.clone());
                }
            }
        }
        (allowed, denied)
    }

    /// The role names (without `role:`) a caller holding `identities` has: its own
    /// `role:…` identities and every role its identities reach through `g` links, as
    /// decisions see them.
    pub fn roles_held(&self, identities: &[String]) -> Vec<String> {
        let mut held: Vec<String> = Vec::new();
        for name in identities.iter().filter_map(|i| i.strip_prefix("role:")) {
            if !held.iter().any(|h| h == name) {
                held.push(name.to_owned());
            }
        }
        let linked: Vec<&String> = identities
            .iter()
            .filter(|n| self.linked.contains(*n))
            .collect();
        if linked.is_empty() || self.role_targets.is_empty() {
            return held;
        }
        let rm = self.enforcer.get_role_manager();
        let rm = rm.read();
        for target in &self.role_targets {
            let Some(name) = target.strip_prefix("role:") else {
                continue;
            };
            if !held.iter().any(|h| h == name)
                && linked.iter().any(|n| rm.has_link(n, target, None))
            {
                held.push(name.to_owned());
            }
        }
        held
    }

    /// The start names plus every target reachable from them through Casbin's role graph.
    fn expand(&self, start: &[String], targets: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(start.len() + targets.len());
        for name in start.iter().filter(|n| !n.is_empty()) {
            if !out.contains(name) {
                out.push(name.clone());
            }
        }
        let linked: Vec<&String> = out.iter().filter(|n| self.linked.contains(*n)).collect();
        if linked.is_empty() {
            return out;
        }
        let rm = self.enforcer.get_role_manager();
        let rm = rm.read();
        let reached: Vec<String> = targets
            .iter()
            .filter(|t| !out.contains(t) && linked.iter().any(|n| rm.has_link(n, t, None)))
            .cloned()
            .collect();
        out.extend(reached);
        out
    }

    /// The allow/deny rules the matcher in `policies/model.conf` selects, in rule order.
    fn matching_rules(&self, ids: &[String], objs: &[String], action: &str) -> Vec<Rule> {
        let mut hits: Vec<usize> = ids
            .iter()
            .filter_map(|id| self.grants_by_sub.get(id))
            .flatten()
            .copied()
            .collect();
        hits.sort_unstable();
        hits.dedup();
        hits.into_iter()
            .filter_map(|i| self.rules.get(i))
            .filter(|r| match r {
                Rule::Allow { obj, act, .. } | Rule::Deny { obj, act, .. } => {
                    (act == action || act == "*") && (obj == "*" || objs.contains(obj))
                }
                Rule::Role { .. } | Rule::Group { .. } => false,
            })
            .cloned()
            .collect()
    }
}

fn panic_text(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

#[path = "engine_build.rs"]
mod build;

#[path = "engine_actions.rs"]
mod actions;

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
