//! The policy gate of the admin areas (the audit log, API keys): the same
//! Casbin engine that decides dataset requests, asked about a system
//! object, with its decision noted for the audit.

use crate::audit::Note;
use crate::auth::Principal;
use crate::error::{Error, Result};
use crate::policy::{self, Engine};

/// Lets through callers the policy allows `action` on `object` (`audit`,
/// `policy`); `doing` names the act in the refusal.
pub fn require(
    engine: &Engine,
    principal: &Principal,
    note: &Note,
    object: &str,
    action: &str,
    doing: &str,
) -> Result<()> {
    let decision = engine.decide(&policy::identities(principal), object, &[], action);
    note.update(|d| {
        d.action = Some(action.to_string());
        d.decision = Some(if decision.allowed { "allow" } else { "deny" }.to_string());
        d.rule = decision.rule.clone();
    });
    match principal {
        _ if decision.allowed => Ok(()),
        Principal::Anonymous => Err(Error::unauthorized(format!(
            "{doing} needs credentials; send Authorization: Bearer <token>"
        ))),
        _ => Err(Error::forbidden(format!(
            "{doing} is not allowed to you; ask an administrator for the role that grants it"
        ))),
    }
}
