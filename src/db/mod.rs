//! The database room: a connection pool over SQLite (embedded default) or
//! PostgreSQL (`postgres://…`), the embedded migrations, the diesel schema and the
//! instance-wide settings table. It knows nothing of datasets or HTTP.

mod migrations;
mod postgres;
pub mod schema;
mod settings;
mod sqlite;

pub use sqlite::audit_path;

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::error::{Error, Result};

pub use settings::{
    counter, delete_setting, get_or_init_setting, get_setting, put_setting, raise_counter,
};

/// Treats a unique violation as success: the row another writer inserted
/// first is as good as ours. (The portable spelling of ON CONFLICT DO
/// NOTHING, which diesel's multi-backend connection cannot express.)
pub fn ignore_duplicate(result: diesel::QueryResult<usize>) -> Result<()> {
    use diesel::result::{DatabaseErrorKind, Error as D};
    match result {
        Ok(_) | Err(D::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Runs `f` in a transaction that holds the write lock from its first
/// statement. A SQLite transaction that reads before it writes fails at
/// once with "database is locked" when another connection committed in
/// between (the busy timeout does not apply to that upgrade); a no-op write
/// first makes it wait its turn instead.
pub fn write_transaction<T>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<T>,
) -> Result<T> {
    conn.transaction(|conn| {
        match conn {
            AnyConnection::Sqlite(c) => c
                .batch_execute("UPDATE settings SET value = value WHERE 0")
                .map_err(|e| Error::internal("taking the write lock", e))?,
            // PostgreSQL locks rows, not the database; callers were written
            // for SQLite's one-writer-at-a-time (read a maximum, insert the
            // next number), so one transaction-scoped advisory lock keeps
            // that guarantee across every instance sharing the database.
            AnyConnection::Postgres(c) => c
                .batch_execute(postgres::WRITE_LOCK_SQL)
                .map_err(|e| Error::internal("taking the write lock", e))?,
        }
        f(conn)
    })
}

/// Which SQL engine a pool talks to; the query compiler picks its dialect from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One connection, whatever the backend. Rooms that need backend-specific
/// SQL match on it in one place per function.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

impl AnyConnection {
    pub fn backend(&self) -> Backend {
        match self {
            AnyConnection::Sqlite(_) => Backend::Sqlite,
            AnyConnection::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Copies what the audit log's commits appended to its SQLite WAL back into
/// the log's file, so that the WAL starts over (see
/// `sqlite::checkpoint_audit_wal`); PostgreSQL needs nothing.
pub fn checkpoint_audit_wal(conn: &mut AnyConnection) -> Result<()> {
    match conn {
        AnyConnection::Sqlite(c) => sqlite::checkpoint_audit_wal(c)?,
        AnyConnection::Postgres(_) => {}
    }
    Ok(())
}

/// Where the database is, parsed from the configured URL.
#[derive(Debug, Clone)]
pub enum DbUrl {
    Sqlite(PathBuf),
    /// A libpq connection URL, passed on as given.
    Postgres(String),
}

impl DbUrl {
    pub fn parse(url: &str) -> Result<DbUrl> {
        let url = url.trim();
        if url.is_empty() {
            return Err(Error::bad_request("database_url is empty"));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DbUrl::Postgres(url.to_string()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        Ok(DbUrl::Sqlite(PathBuf::from(path)))
    }
}

/// The r2d2 manager: picks the backend from the URL so that a connection
/// failure reaches the user with its real cause (diesel's derived
/// `MultiConnection::establish` tries each backend and drops the errors).
#[derive(Debug)]
pub struct Manager {
    url: DbUrl,
}

impl r2d2::ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, Self::Error> {
        match &self.url {
            DbUrl::Sqlite(path) => sqlite::connect(path, false).map(AnyConnection::Sqlite),
            DbUrl::Postgres(url) => postgres::connect(url, false).map(AnyConnection::Postgres),
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut AnyConnection) -> bool {
        false
    }
}

pub type PooledConn = r2d2::PooledConnection<Manager>;

/// Whether a pooled connection is tried (`SELECT 1`) each time it is taken.
/// A PostgreSQL server can go away and drop its connections, which the try
/// finds and replaces; a SQLite file connection cannot break that way, and
/// the try parsed and ran a statement for every query.
fn checks_on_check_out(backend: Backend) -> bool {
    backend == Backend::Postgres
}

/// The shared pool. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    url: DbUrl,
}

impl Db {
    /// Opens the pool (creating a SQLite file's folder) and checks one connection.
    pub fn connect(url: &str, size: u32) -> Result<Db> {
        let url = DbUrl::parse(url)?;
        let backend = match &url {
            DbUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        Error::internal(format!("creating database folder {}", dir.display()), e)
                    })?;
                }
                // One connection first: it switches new files to WAL. The pool
                // opens its connections at once, and of several switching the
                // same new file, those that lose the race fail ("database is
                // locked", logged as an error) and are opened again.
                sqlite::connect(path, false)
                    .map_err(|e| Error::unavailable(format!("cannot open the database: {e}")))?;
                Backend::Sqlite
            }
            DbUrl::Postgres(_) => Backend::Postgres,
        };
        // A SQLite connection only waits for a busy file; a PostgreSQL one
        // waits for a server that may be gone, and a request should then be
        // answered 503 quickly rather than hang.
        let wait = match backend {
            Backend::Sqlite => std::time::Duration::from_secs(10),
            Backend::Postgres => postgres::POOL_WAIT,
        };
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .connection_timeout(wait)
            .test_on_check_out(checks_on_check_out(backend))
            .build(Manager { url: url.clone() })
            .map_err(|e| Error::unavailable(format!("cannot open the database: {e}")))?;
        Ok(Db { pool, backend, url })
    }

    /// A second pool on the same database, of up to `size` connections
    /// opened as needed, for work that runs while a connection of this pool
    /// is held (such as counting a request's rows from inside its query):
    /// drawing both from one pool would let busy requests wait on each other
    /// until the pool's timeout.
    pub fn companion(&self, size: u32) -> Result<Db> {
        let wait = match self.backend {
            Backend::Sqlite => std::time::Duration::from_secs(10),
            Backend::Postgres => postgres::POOL_WAIT,
        };
        let pool = r2d2::Pool::builder()
            .max_size(size.max(1))
            .min_idle(Some(1))
            .connection_timeout(wait)
            .test_on_check_out(checks_on_check_out(self.backend))
            .build(Manager {
                url: self.url.clone(),
            })
            .map_err(|e| Error::unavailable(format!("cannot open the database: {e}")))?;
        Ok(Db {
            pool,
            backend: self.backend,
            url: self.url.clone(),
        })
    }

    /// A connection of its own, outside the pool, for a long-lived worker
    /// such as the audit writer; `durable` makes every commit reach the disk
    /// before it returns (SQLite `synchronous = FULL`).
    pub fn dedicated(&self, durable: bool) -> Result<AnyConnection> {
        match &self.url {
            DbUrl::Sqlite(path) => sqlite::connect(path, durable)
                .map(AnyConnection::Sqlite)
                .map_err(|e| Error::unavailable(format!("cannot open the database: {e}"))),
            DbUrl::Postgres(url) => postgres::connect(url, durable)
                .map(AnyConnection::Postgres)
                .map_err(|e| Error::unavailable(format!("cannot open the database: {e}"))),
        }
    }

    /// Starts the background work the backend needs while the gateway runs:
    /// on SQLite, the thread that checkpoints the WAL.
    pub fn start_maintenance(&self) -> Result<()> {
        match &self.url {
            DbUrl::Sqlite(path) => sqlite::spawn_checkpointer(path)
                .map_err(|e| Error::internal("starting the WAL checkpointer", e)),
            // The server does its own checkpoints and vacuuming.
            DbUrl::Postgres(_) => Ok(()),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection for blocking work; call from a blocking thread.
    pub fn get(&self) -> Result<PooledConn> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` with a connection on tokio's blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await?
    }

    /// Connections open in the pool and how many of them are idle.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }
}
