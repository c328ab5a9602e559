//! One Casbin enforcer per action, each holding only the `p` rules for that
//! action or for `*`. Casbin evaluates the matcher once per `p` rule, and
//! that evaluation (a Rhai expression) is most of a decision's time; a rule
//! for another action can never match when the matcher opens with
//! `(p.act == r.act || p.act == "*") &&`, so leaving it out changes no
//! decision and makes each one evaluate a few rules instead of all of them.
//!
//! The split is made only for such a matcher, and only when the rest of it
//! calls no `g` function: these enforcers hold no role links (the engine
//! expands identities and objects before asking). Any other model is
//! decided by the one enforcer holding every rule.

use std::collections::{HashMap, HashSet};

use casbin::{Adapter, CoreApi, DefaultModel, Enforcer, MemoryAdapter, Model};

use crate::policy::error::PolicyError;
use crate::policy::rules::Rule;

/// The matcher's opening conjunct, as Casbin stores it (`p.` written `p_`), without spaces.
const ACTION_TEST: &str = "(p_act==r_act||p_act==\"*\")&&";

/// The enforcers by action, and the one for actions no rule names.
pub(super) struct ActionEnforcers {
    by_action: HashMap<String, Enforcer>,
    /// Holds only the `*` rules; `None` when there are none.
    any_action: Option<Enforcer>,
}

impl ActionEnforcers {
    /// The split for `model`'s matcher, or `None` when it cannot be split.
    pub(super) async fn build(
        model_text: &str,
        model: &dyn Model,
        rules: &[Rule],
    ) -> Result<Option<ActionEnforcers>, PolicyError> {
        let matcher = model
            .get_model()
            .get("m")
            .and_then(|m| m.get("m"))
            .map(|a| a.value.as_str())
            .unwrap_or_default();
        if !splits_by_action(matcher) {
            return Ok(None);
        }
        let actions: HashSet<&str> = rules
            .iter()
            .filter_map(|r| match r {
                Rule::Allow { act, .. } | Rule::Deny { act, .. } if act != "*" => {
                    Some(act.as_str())
                }
                _ => None,
            })
            .collect();
        let mut by_action = HashMap::with_capacity(actions.len());
        for action in actions {
            let enforcer = enforcer_for(model_text, rules, |act| act == action || act == "*")
                .await?
                .ok_or_else(|| PolicyError::Build(format!("no rule for '{action}'")))?;
            by_action.insert(action.to_owned(), enforcer);
        }
        let any_action = enforcer_for(model_text, rules, |act| act == "*").await?;
        Ok(Some(ActionEnforcers {
            by_action,
            any_action,
        }))
    }

    /// The enforcer that decides `action`; `None` when no rule can match it.
    pub(super) fn get(&self, action: &str) -> Option<&Enforcer> {
        self.by_action.get(action).or(self.any_action.as_ref())
    }
}

/// Whether `matcher` is `ACTION_TEST` and-ed with the rest at the top level,
/// with no `||` outside parentheses after it (which would bind looser than
/// the `&&`) and no role function.
fn splits_by_action(matcher: &str) -> bool {
    let compact: String = matcher.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(rest) = compact.strip_prefix(ACTION_TEST) else {
        return false;
    };
    if rest.contains("g(") || rest.contains("g2(") {
        return false;
    }
    let mut depth = 0i32;
    let bytes = rest.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'|' if depth == 0 && bytes.get(i + 1) == Some(&b'|') => return false,
            _ => {}
        }
    }
    depth == 0
}

/// An enforcer over the `p` rules whose action passes `keep`; `None` when
/// there is none (Casbin with no rule would evaluate its matcher once with
/// empty fields, so an empty enforcer is never asked).
async fn enforcer_for(
    model_text: &str,
    rules: &[Rule],
    keep: impl Fn(&str) -> bool,
) -> Result<Option<Enforcer>, PolicyError> {
    let batch: Vec<Vec<String>> = rules
        .iter()
        .filter(|r| match r {
            Rule::Allow { act, .. } | Rule::Deny { act, .. } => keep(act),
            Rule::Role { .. } | Rule::Group { .. } => false,
        })
        .map(Rule::values)
        .collect();
    if batch.is_empty() {
        return Ok(None);
    }
    let mut adapter = MemoryAdapter::default();
    adapter
        .add_policies("p", "p", batch)
        .await
        .map_err(|e| PolicyError::Build(e.to_string()))?;
    let model = DefaultModel::from_str(model_text)
        .await
        .map_err(|e| PolicyError::Model(e.to_string()))?;
    let enforcer = Enforcer::new(model, adapter)
        .await
        .map_err(|e| PolicyError::Build(e.to_string()))?;
    Ok(Some(enforcer))
}

#[cfg(test)]
mod tests {
    use super::splits_by_action;

    #[test]
    fn only_a_matcher_that_tests_the_action_first_and_with_and_is_split() {
        let shipped = r#"(p_act == r_act || p_act == "*") && (p_obj == "*" || p_obj in r_obj) && p_sub in r_sub"#;
        assert!(splits_by_action(shipped));
        for other in [
            r#"true || (p_act == r_act || p_act == "*") && p_sub in r_sub"#,
            r#"false && (p_act == r_act || p_act == "*") && p_sub in r_sub"#,
            r#"(p_act == r_act || p_act == "*") && p_sub in r_sub || p_obj == "*""#,
            r#"(p_act == r_act || p_act == "*") && g(r_sub, p_sub)"#,
            r#"(p_act == r_act) && p_sub in r_sub"#,
            r#"(p_act == r_act || p_act == "*") && (p_sub in r_sub"#,
        ] {
            assert!(!splits_by_action(other), "{other}");
        }
    }
}
