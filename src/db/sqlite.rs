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
        "PRAGMA synchronous = FULL;"
    } else {
        "PRAGMA synchronous = NORMAL;"
    })
    .map_err(diesel::r2d2::Error::QueryError)?;
    Ok(conn)
}
