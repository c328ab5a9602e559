//! The database room: a connection pool over SQLite (embedded default) or
//! PostgreSQL (`postgres://…`), the embedded migrations, the diesel schema and the
//! instance-wide settings table. It knows nothing of datasets or HTTP.

mod postgres;
pub mod schema;
mod settings;
mod sqlite;

pub use sqlite::audit_path;

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::{Error, Result};

pub use settings::{
    counter, delete_setting, get_or_init_setting, get_setting, put_setting, raise_counter,
};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

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

    /// Whether the database answers a query and its migrations are exactly
    /// those embedded in this binary; the error says which check failed.
    pub fn check_ready(&self) -> std::result::Result<(), (&'static str, String)> {
        let mut conn = self
            .get()
            .map_err(|e| ("database", format!("no connection: {}", e.detail())))?;
        conn.batch_execute("SELECT 1 FROM settings LIMIT 1")
            .map_err(|e| ("database", format!("a query failed: {e}")))?;
        // Names of the pending migrations (each backend has its own
        // migration type) and the versions applied.
        fn names<M: std::ops::Deref<Target = dyn diesel::migration::Migration<B>>, B>(
            pending: diesel::migration::Result<Vec<M>>,
        ) -> diesel::migration::Result<Vec<String>>
        where
            B: diesel::backend::Backend,
        {
            pending.map(|p| p.iter().map(|m| m.name().to_string()).collect())
        }
        let (pending, applied) = match &mut *conn {
            AnyConnection::Sqlite(c) => (
                names(c.pending_migrations(SQLITE_MIGRATIONS)),
                c.applied_migrations(),
            ),
            AnyConnection::Postgres(c) => (
                names(c.pending_migrations(POSTGRES_MIGRATIONS)),
                c.applied_migrations(),
            ),
        };
        let pending = pending.map_err(|e| ("migrations", e.to_string()))?;
        if let Some(m) = pending.first() {
            return Err((
                "migrations",
                format!(
                    "{} migration(s) pending, first {}; run `kaifang migrate`",
                    pending.len(),
                    m
                ),
            ));
        }
        let applied = applied.map_err(|e| ("migrations", e.to_string()))?;
        // Both trees carry the same names, so either lists the versions.
        let known: Vec<String> =
            diesel::migration::MigrationSource::<diesel::sqlite::Sqlite>::migrations(
                &SQLITE_MIGRATIONS,
            )
            .map_err(|e| ("migrations", e.to_string()))?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect();
        if let Some(unknown) = applied.iter().find(|v| !known.contains(&v.to_string())) {
            return Err((
                "migrations",
                format!(
                    "the database has migration {unknown}, which this binary does not know; it is newer than this build"
                ),
            ));
        }
        Ok(())
    }

    /// Fails when a SQLite database's audit log file lacks the log: the
    /// migrations that made the log have run, so the database was copied or
    /// restored without its log file. Starting would begin a new, empty log
    /// in its place and leave the loss to be found later.
    pub fn check_audit_log(&self) -> Result<()> {
        let DbUrl::Sqlite(path) = &self.url else {
            return Ok(());
        };
        let mut conn = self.get()?;
        let AnyConnection::Sqlite(c) = &mut *conn else {
            return Ok(());
        };
        if sqlite::audit_log_present(c)? {
            return Ok(());
        }
        Err(Error::unavailable(format!(
            "the audit log file {} does not hold the audit log of the database {}: it was \
             not copied or restored with the database; put it back beside the database \
             (back up and move the two files together)",
            audit_path(path).display(),
            path.display()
        )))
    }

    /// Applies pending migrations.
    pub fn migrate(&self) -> Result<Vec<String>> {
        let mut conn = self.get()?;
        let applied = match &mut *conn {
            AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
            AnyConnection::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        }
        .map_err(|e| Error::internal("running migrations", e.to_string()))?;
        Ok(applied.iter().map(|v| v.to_string()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::migration::MigrationSource;

    /// `check_ready` and the two backends' schemas rely on it.
    #[test]
    fn both_backends_have_the_same_migrations() {
        let sqlite: Vec<String> =
            MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
                .unwrap()
                .iter()
                .map(|m| m.name().to_string())
                .collect();
        let postgres: Vec<String> =
            MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS)
                .unwrap()
                .iter()
                .map(|m| m.name().to_string())
                .collect();
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, postgres);
    }

    /// A database made before the audit log had a file of its own keeps its
    /// records: the migration moves them, with the append-only triggers,
    /// into the attached file and leaves none in the database's.
    #[test]
    fn an_older_sqlite_database_has_its_audit_log_moved_to_the_log_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let mut conn = sqlite::connect(&path, false).unwrap();
        while conn
            .applied_migrations()
            .unwrap()
            .iter()
            .all(|v| v.to_string() != "20261129000001")
        {
            conn.run_next_migration(SQLITE_MIGRATIONS).unwrap();
        }
        conn.batch_execute(
            "INSERT INTO main.audit_records (chain, seq, time, kind, request_id, subject, roles,
                 auth_method, method, path, status, duration_us, prev_hash, hash)
             VALUES ('main', 1, '2026-11-28T00:00:00Z', 'request', 'r1', 'anonymous', '[]',
                 'anonymous', 'GET', '/v1/datasets', 200, 10, 'p', 'h');
             INSERT INTO main.audit_checkpoints
                 (chain, seq, head_hash, count, time, prev_signature, signature)
             VALUES ('main', 1, 'h', 1, '2026-11-28T00:00:01Z', '', 's');",
        )
        .unwrap();
        conn.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();

        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        let names = |conn: &mut SqliteConnection, sql: &str| -> Vec<String> {
            let rows: Vec<Name> = diesel::sql_query(sql).load(conn).unwrap();
            rows.into_iter().map(|n| n.name).collect()
        };
        let left = names(
            &mut conn,
            "SELECT name FROM main.sqlite_master WHERE name LIKE 'audit%'",
        );
        assert!(left.is_empty(), "{left:?}");
        let mut moved = names(
            &mut conn,
            "SELECT type || ' ' || name AS name FROM audit.sqlite_master",
        );
        moved.retain(|n| !n.starts_with("index sqlite_autoindex"));
        moved.sort();
        assert_eq!(
            moved,
            [
                "index audit_records_dataset",
                "index audit_records_time",
                "table audit_checkpoints",
                "table audit_records",
                "trigger audit_checkpoints_no_update",
                "trigger audit_records_no_delete",
                "trigger audit_records_no_update",
            ]
        );
        let hashes = names(
            &mut conn,
            "SELECT hash || ' ' || head_hash AS name FROM audit_records, audit_checkpoints",
        );
        assert_eq!(hashes, ["h h"]);
        let err = conn
            .batch_execute("UPDATE audit_records SET status = 500")
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        assert!(audit_path(&path).exists());
        assert_eq!(audit_path(&path), dir.path().join("k.audit.db"));
    }

    /// A database copied without its audit log file does not start on a
    /// new, empty log; the error names the missing file.
    #[test]
    fn a_sqlite_database_without_its_audit_log_file_does_not_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let url = path.to_string_lossy().into_owned();
        let db = Db::connect(&url, 2).unwrap();
        db.migrate().unwrap();
        db.check_audit_log().unwrap();
        drop(db);
        for suffix in ["", "-wal", "-shm"] {
            let mut file = audit_path(&path).into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
        let db = Db::connect(&url, 2).unwrap();
        assert!(db.migrate().unwrap().is_empty());
        let err = db.check_audit_log().unwrap_err();
        assert!(
            err.to_string()
                .contains(&*audit_path(&path).to_string_lossy()),
            "{err}"
        );
    }
}
