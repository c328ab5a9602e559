//! The checks every rule edit passes before it is stored: a reason, a bounded size, and
//! rules that name only what exists (or roles the edit declares as new).

use super::error::PolicyError;
use super::rules::{Rule, check_field};
use super::store::Change;
use super::validate::{Known, validate};

/// Most rules one request may add or remove; bigger changes go through
/// `kaifang policy import`.
pub const MAX_RULES_PER_EDIT: usize = 1_000;

/// Longest reason kept with a revision, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// The reason, trimmed; refused when empty or too long.
pub fn check_reason(reason: &str) -> Result<String, PolicyError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(PolicyError::InvalidField {
            field: "reason",
            value: reason.chars().take(40).collect(),
            reason: format!(
                "say why in 1 to {MAX_REASON_CHARS} characters; it is kept with the revision"
            ),
            choices: Vec::new(),
        });
    }
    Ok(reason.to_owned())
}

/// Adds `new_roles` (names without `role:`) to `known` after checking their spelling.
pub fn declare_roles(mut known: Known, new_roles: &[String]) -> Result<Known, PolicyError> {
    for role in new_roles {
        check_field("new_roles", role)?;
        if role.starts_with("role:") {
            return Err(PolicyError::InvalidField {
                field: "new_roles",
                value: role.clone(),
                reason: "name the role without the 'role:' prefix".to_owned(),
                choices: vec![role.trim_start_matches("role:").to_owned()],
            });
        }
        known = known.with_role(role.clone());
    }
    Ok(known)
}

/// Refuses an edit that is empty, too big, or adds a rule naming something unknown.
/// Removed rules are only checked for form: a rule naming a dataset that is gone must
/// still be removable.
pub fn check_change(change: &Change, known: &Known) -> Result<(), PolicyError> {
    let size = change.add.len() + change.remove.len();
    if size == 0 || size > MAX_RULES_PER_EDIT {
        return Err(PolicyError::InvalidField {
            field: "rules",
            value: size.to_string(),
            reason: format!(
                "send 1 to {MAX_RULES_PER_EDIT} rules; use `kaifang policy import` for more"
            ),
            choices: Vec::new(),
        });
    }
    for rule in &change.add {
        validate(rule, known)?;
    }
    for rule in &change.remove {
        rule.check_syntax()?;
    }
    Ok(())
}

/// The rule set after `rules` are checked as a whole file: every line well formed and
/// naming what exists, except roles, which a file may introduce.
pub fn check_rule_file(rules: &[Rule], known: Known) -> Result<(), PolicyError> {
    let mut known = known;
    for rule in rules {
        for (_, value) in rule.named_fields() {
            if let Some(role) = value.strip_prefix("role:") {
                known = known.with_role(role);
            }
        }
    }
    rules.iter().try_for_each(|r| validate(r, &known))
}
