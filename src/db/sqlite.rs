//! Opening a SQLite connection with the pragmas Kaifang relies on.

use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

/// Opens `path` with a busy timeout, WAL and foreign keys. The busy timeout
/// goes first: r2d2 opens its connections at once, and switching to WAL
/// needs a lock that would otherwise fail with "database is locked".
/// `durable` asks for `synchronous = FULL`: each commit is on disk before it
/// returns, so it survives power loss, not only a crash of the process.
pub fn connect(path: &Path, durable: bool) -> Result<SqliteConnection, diesel::r2d2::Error> {
    let url = path.to_string_lossy();
    let mut conn =
        SqliteConnection::establish(&url).map_err(diesel::r2d2::Error::ConnectionError)?;
    conn.batch_execute(
        "PRAGMA busy_timeout = 10000;
         PRAGMA journal_mode = WAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )
    .map_err(diesel::r2d2::Error::QueryError)?;
    conn.batch_execute(if durable {
        // The durable connection is the audit writer's. Its commits must not
        // also copy the WAL back into the database file (SQLite's automatic
        // checkpoint runs inside the commit that crosses the threshold, and
        // every request in that batch would wait for it); `checkpoint_wal`
        // does that work on a thread of its own.
        "PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;"
    } else {
        "PRAGMA synchronous = NORMAL;"
    })
    .map_err(diesel::r2d2::Error::QueryError)?;
    Ok(conn)
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Starts a thread that, on a connection of its own, checkpoints the WAL of
/// `path` twice a second without blocking readers or writers (PASSIVE), so
/// the WAL stays small while the audit writer never checkpoints in a commit.
pub fn spawn_checkpointer(path: &Path) -> std::io::Result<()> {
    let path = path.to_path_buf();
    std::thread::Builder::new()
        .name("wal-checkpoint".to_string())
        .spawn(move || {
            let mut conn = match connect(&path, false) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "the WAL checkpointer could not open the database");
                    return;
                }
            };
            // Ends with the database file (a test's temporary folder removed).
            while path.exists() {
                std::thread::sleep(CHECKPOINT_EVERY);
                if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                    tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
                }
            }
        })
        .map(drop)
}
