//! What every handler can reach: the pool, the cursor key, the limits and
//! what verifying the audit log needs.

use std::path::PathBuf;

use crate::data::cursor::CursorKey;
use crate::data::plan::Limits;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::policy::{self, SharedEngine};

/// Shared state of the HTTP layer, built once at start.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub cursor_key: CursorKey,
    pub limits: Limits,
    pub max_upload_bytes: u64,
    pub publishing_enabled: bool,
    /// Ed25519 public key of the audit checkpoints, hex.
    pub audit_public_key: String,
    /// The checkpoint log file outside the database.
    pub audit_log_path: PathBuf,
    /// The policy engine every decision asks.
    pub policy: std::sync::Arc<SharedEngine>,
}

impl AppState {
    /// Rebuilds the policy engine from the shipped rules and those of every
    /// organisation, and swaps it in; on failure the old engine stays.
    pub async fn refresh_policy(&self) -> Result<()> {
        let rules = load_rules(&self.db).await?;
        self.policy
            .rebuild(policy::MODEL, &rules)
            .await
            .map_err(|e| Error::internal("rebuilding the policy", e.to_string()))
    }
}

/// The rules the engine is built from.
pub async fn load_rules(db: &Db) -> Result<Vec<policy::Rule>> {
    let orgs = db.run(crate::catalog::organization_slugs).await?;
    policy::starting_rules(&orgs)
        .map_err(|e| Error::internal("reading the shipped policy", e.to_string()))
}
