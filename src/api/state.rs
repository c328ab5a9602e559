//! What every handler can reach: the pool, the cursor key and the limits.

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
}
