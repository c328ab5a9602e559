//! What every handler can reach: the pool, the cursor key, the limits and
//! what verifying the audit log needs.

use std::path::PathBuf;

use crate::data::cursor::CursorKey;
use crate::data::plan::Limits;
use crate::db::Db;

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
}
