//! Limits set by an administrator, kept in the settings table so they
//! survive a restart and reach every instance on the database. Every
//! change also raises a version number kept beside them, in the same
//! transaction: an instance polls that one small row and reads the limits
//! only when it moved, and a version tells an older read from a newer one.

use diesel::Connection;
use serde::{Deserialize, Serialize};

use super::Limits;
use crate::db::{self, AnyConnection};
use crate::error::{Error, Result};

const KEY: &str = "fair_use_limits";
const VERSION_KEY: &str = "fair_use_limits_version";

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

/// The version of the stored limits: 0 until an administrator first changes them.
pub fn stored_version(conn: &mut AnyConnection) -> Result<i64> {
    db::counter(conn, VERSION_KEY)
}

/// The version of the stored limits and the limits, read in that order: the
/// limits are then at least that version's, and a newer version read later
/// reads them again.
pub fn load_versioned(conn: &mut AnyConnection) -> Result<(i64, Option<StoredLimits>)> {
    let version = stored_version(conn)?;
    Ok((version, load_stored(conn)?))
}

/// Raises the version and returns it. The first statement of every change:
/// its row lock makes concurrent changes on PostgreSQL take turns, so each
/// gets its own version and the last to commit has the highest.
fn next_version(conn: &mut AnyConnection) -> Result<i64> {
    db::raise_counter(conn, VERSION_KEY)
}

/// Stores `stored` (`None`: forgets the stored limits, so the configuration's apply);
/// returns the version it made.
pub fn store_limits(conn: &mut AnyConnection, stored: Option<&StoredLimits>) -> Result<i64> {
    conn.transaction::<_, Error, _>(|conn| {
        let version = next_version(conn)?;
        match stored {
            Some(s) => {
                let text = serde_json::to_string(s)
                    .map_err(|e| Error::internal("writing the limits", e))?;
                db::put_setting(conn, KEY, &text)?;
            }
            None => {
                db::delete_setting(conn, KEY)?;
            }
        }
        Ok(version)
    })
}

/// Forgets the stored limits, so the configuration's apply; returns the version it
/// made. 409 when none are stored.
pub fn reset_limits(conn: &mut AnyConnection) -> Result<i64> {
    conn.transaction::<_, Error, _>(|conn| {
        let version = next_version(conn)?;
        // Failing here rolls the version back too: nothing changed.
        if !db::delete_setting(conn, KEY)? {
            return Err(Error::conflict(
                "no limits were set through the API; the configuration's are in force already",
            ));
        }
        Ok(version)
    })
}

/// Checks `limits` and `reason`, stores them as set by `by` and returns what was stored
/// and its version; the caller puts them in force.
pub fn set_limits(
    conn: &mut AnyConnection,
    limits: Limits,
    by: &str,
    reason: &str,
) -> Result<(StoredLimits, i64)> {
    limits.validate()?;
    let reason = check_reason(reason)?;
    let stored = StoredLimits {
        limits,
        updated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        updated_by: by.to_string(),
        reason,
    };
    let version = store_limits(conn, Some(&stored))?;
    Ok((stored, version))
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
