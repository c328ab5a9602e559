//! Limits set by an administrator, kept in the settings table so they
//! survive a restart and reach every instance that loads them.

use serde::{Deserialize, Serialize};

use super::Limits;
use crate::db::{self, AnyConnection};
use crate::error::{Error, Result};

const KEY: &str = "fair_use_limits";

/// Limits an administrator set, with who set them, when and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredLimits {
    pub limits: Limits,
    pub updated_at: String,
    pub updated_by: String,
    pub reason: String,
}

/// The limits an administrator set, if any.
pub fn load_stored(conn: &mut AnyConnection) -> Result<Option<StoredLimits>> {
    db::get_setting(conn, KEY)?
        .map(|text| {
            serde_json::from_str(&text).map_err(|e| Error::internal("reading the stored limits", e))
        })
        .transpose()
}

/// Stores `stored` (`None`: forgets the stored limits, so the configuration's apply).
pub fn store_limits(conn: &mut AnyConnection, stored: Option<&StoredLimits>) -> Result<()> {
    match stored {
        Some(s) => {
            let text =
                serde_json::to_string(s).map_err(|e| Error::internal("writing the limits", e))?;
            db::put_setting(conn, KEY, &text)
        }
        None => db::delete_setting(conn, KEY).map(drop),
    }
}

/// Checks `limits` and `reason`, stores them as set by `by` and returns what was stored;
/// the caller puts them in force.
pub fn set_limits(
    conn: &mut AnyConnection,
    limits: Limits,
    by: &str,
    reason: &str,
) -> Result<StoredLimits> {
    limits.validate()?;
    let reason = check_reason(reason)?;
    let stored = StoredLimits {
        limits,
        updated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        updated_by: by.to_string(),
        reason,
    };
    store_limits(conn, Some(&stored))?;
    Ok(stored)
}

/// A reason of 1 to 2000 characters, trimmed.
pub fn check_reason(reason: &str) -> Result<String> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(Error::bad_request(
            "give a reason of 1 to 2000 characters; it goes into the audit log",
        ));
    }
    Ok(reason.to_string())
}
