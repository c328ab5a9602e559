//! The schema's migrations, embedded for both backends: applying them, and
//! the readiness checks that the database's migrations are exactly this
//! binary's and that a SQLite database's audit log file came with it.

use diesel::connection::SimpleConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{AnyConnection, Db, DbUrl, audit_path, sqlite};
use crate::error::{Error, Result};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

impl Db {
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
    use diesel::prelude::*;

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
