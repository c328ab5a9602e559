//! What every handler can reach: the pool, the cursor key, the limits and
//! what verifying the audit log needs.

use crate::catalog::CatalogCache;
use crate::data::result_cache::ResultCache;
use std::path::PathBuf;

use crate::data::cursor::CursorKey;
use crate::data::mask::MaskKey;
use crate::data::plan::Limits;
use crate::db::Db;
use crate::error::Result;
use crate::policy::{self, SharedEngine};

/// Shared state of the HTTP layer, built once at start.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub cursor_key: CursorKey,
    /// Keys the `hash` column treatment.
    pub mask_key: MaskKey,
    pub limits: Limits,
    pub max_upload_bytes: u64,
    pub publishing_enabled: bool,
    /// Ed25519 public key of the audit checkpoints, hex.
    pub audit_public_key: String,
    /// The checkpoint log file outside the database.
    pub audit_log_path: PathBuf,
    /// The policy engine every decision asks.
    pub policy: std::sync::Arc<SharedEngine>,
    /// Results of page statements, shared by every request.
    pub result_cache: std::sync::Arc<ResultCache>,
    /// The catalog entries reads of rows need, shared by every request.
    pub catalog: std::sync::Arc<CatalogCache>,
}

impl AppState {
    /// Adds the rules of organisations created since the last call and swaps in an engine
    /// built from the stored rules, so the next request is decided on them; on failure
    /// the old engine stays.
    pub async fn refresh_policy(&self) -> Result<()> {
        self.db.run(policy::store::seed_new_orgs).await?;
        self.policy.reload(&self.db).await.map(drop)
    }
}
