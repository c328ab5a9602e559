//! The admin gate of routes that the tier policy does not cover
//! (publishing, the audit log), with its decision noted for the audit.

use crate::audit::Note;
use crate::auth::Principal;
use crate::error::{Error, Result};

/// Lets administrators through; `doing` names the act in the refusal.
pub fn require_admin(principal: &Principal, note: &Note, doing: &str) -> Result<()> {
    let allowed = principal.is_admin();
    note.update(|d| {
        d.decision = Some(if allowed { "allow" } else { "deny" }.to_string());
        d.rule = Some("role:admin".to_string());
    });
    match principal {
        _ if allowed => Ok(()),
        Principal::Anonymous => Err(Error::unauthorized(format!(
            "{doing} needs credentials; send Authorization: Bearer <token> of an administrator"
        ))),
        _ => Err(Error::forbidden(format!(
            "{doing} is for administrators; your token does not carry the admin role"
        ))),
    }
}
