//! Opening a SQLite connection with the pragmas Kaifang relies on, and the
//! audit log's own file attached beside the database.

use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;

/// The file holding the audit log of the SQLite database at `path`:
/// `var/kaifang.db` keeps it in `var/kaifang.audit.db`.
///
/// The log has a file of its own because, in WAL mode, a connection that
/// starts reading after another committed to the same file drops its whole
/// page cache. With the log inside the database, every group commit of the
/// audit writer (one every millisecond or two under load) emptied the cache
/// of every reader, which then read each page of data again from the file
/// (about a quarter of what the audit cost a request: bench/audit_cost.sh).
/// Commits to an attached file leave the data's cache alone.
pub fn audit_path(path: &Path) -> PathBuf {
    let ext = match path.extension() {
        Some(e) => format!("audit.{}", e.to_string_lossy()),
        None => "audit".to_string(),
    };
    path.with_extension(ext)
}

/// Opens `path` with a busy timeout, WAL and foreign keys, and attaches the
/// audit log's file as schema `audit`, where its tables live (the audit
/// tables' names are unique, so statements need not name the schema). The
/// busy timeout goes first: r2d2 opens its connections at once, and
/// switching to WAL needs a lock that would otherwise fail with "database
/// is locked". `durable` asks for `synchronous = FULL` on the audit log:
/// each commit is on disk before it returns, so it survives power loss, not
/// only a crash of the process.
pub fn connect(path: &Path, durable: bool) -> Result<SqliteConnection, diesel::r2d2::Error> {
    let url = path.to_string_lossy();
    let mut conn =
        SqliteConnection::establish(&url).map_err(diesel::r2d2::Error::ConnectionError)?;
    conn.batch_execute(
        "PRAGMA busy_timeout = 10000;
         PRAGMA journal_mode = WAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA synchronous = NORMAL;",
    )
    .map_err(diesel::r2d2::Error::QueryError)?;
    diesel::sql_query("ATTACH DATABASE ? AS audit")
        .bind::<Text, _>(audit_path(path).to_string_lossy())
        .execute(&mut conn)
        .map_err(diesel::r2d2::Error::QueryError)?;
    conn.batch_execute(if durable {
        // The durable connection is the audit writer's. Its commits must not
        // also copy the WAL back into the file (SQLite's automatic
        // checkpoint runs inside the commit that crosses the threshold, and
        // every request in that batch would wait for it); the writer calls
        // `checkpoint_audit_wal` between batches instead. A WAL that grew
        // during a burst is cut back to 16 MiB when it starts over.
        "PRAGMA audit.journal_mode = WAL;
         PRAGMA audit.synchronous = FULL;
         PRAGMA audit.journal_size_limit = 16777216;
         PRAGMA wal_autocheckpoint = 0;"
    } else {
        "PRAGMA audit.journal_mode = WAL;
         PRAGMA audit.synchronous = NORMAL;
         PRAGMA audit.journal_size_limit = 16777216;"
    })
    .map_err(diesel::r2d2::Error::QueryError)?;
    Ok(conn)
}

/// Whether the attached audit file holds the log's tables.
pub fn audit_log_present(conn: &mut SqliteConnection) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let c: Count = diesel::sql_query(
        "SELECT COUNT(*) AS n FROM audit.sqlite_master WHERE type = 'table' AND name = ?",
    )
    .bind::<Text, _>("audit_records")
    .get_result(conn)?;
    Ok(c.n > 0)
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Copies the audit log's WAL back into its file, on the audit writer's own
/// connection between two batches. Only there can it keep the WAL small: a
/// WAL starts over only when a write begins with every frame copied back,
/// and a checkpoint on another thread always runs while the writer appends
/// the next batch, so under a steady load it never finishes first and the
/// WAL grows without end (each commit then also allocates blocks and
/// rewrites the file's size, one more write before its sync returns).
pub fn checkpoint_audit_wal(conn: &mut SqliteConnection) -> QueryResult<()> {
    conn.batch_execute("PRAGMA audit.wal_checkpoint(PASSIVE);")
}

/// Starts a thread that, on a connection of its own, checkpoints the WAL of
/// `path` twice a second without blocking readers or writers (PASSIVE). The
/// audit log's WAL is the audit writer's to checkpoint (`checkpoint_audit_wal`).
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
                if let Err(e) = conn.batch_execute("PRAGMA main.wal_checkpoint(PASSIVE);") {
                    tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
                }
            }
        })
        .map(drop)
}
