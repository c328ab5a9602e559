//! The test harness: a real gateway on its own database and a free port,
//! reached over HTTP, with typed helpers for the requests tests repeat.
//!
//! The database is a fresh SQLite file, or, when `KAIFANG_TEST_BACKEND` is
//! `postgres`, a fresh database on the server at `KAIFANG_TEST_POSTGRES_URL`
//! that is dropped when the test ends. `.ci/run` runs the suite both ways.

use std::path::{Path, PathBuf};

use kaifang::catalog::Tier;
use kaifang::config::{Secret, Settings};
use kaifang::startup::{Application, open_database};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

pub struct TestApp {
    pub address: String,
    /// The clock fair use counts days by; tests move it forward.
    pub clock: kaifang::fair_use::Clock,
    pub client: reqwest::Client,
    /// The SQLite file (on PostgreSQL, a path in the test's folder that
    /// stays unused; its parent is the folder for the test's files).
    pub db_path: PathBuf,
    /// What `database_url` the gateway was given.
    pub database_url: String,
    /// The test's PostgreSQL database, dropped last.
    pub pg: Option<std::sync::Arc<pg::TestDatabase>>,
    server: actix_web::dev::ServerHandle,
    running: std::sync::Mutex<Option<tokio::task::JoinHandle<std::io::Result<()>>>>,
    _dir: tempfile::TempDir,
}

/// Whether this run's tests use PostgreSQL (`KAIFANG_TEST_BACKEND=postgres`).
pub fn on_postgres() -> bool {
    std::env::var("KAIFANG_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// A fresh, empty database for one test: a SQLite file in `dir`, or a new
/// PostgreSQL database.
pub fn fresh_database(dir: &Path) -> (String, Option<std::sync::Arc<pg::TestDatabase>>) {
    if on_postgres() {
        let db = pg::TestDatabase::create();
        (db.url.clone(), Some(std::sync::Arc::new(db)))
    } else {
        (dir.join("kaifang.db").to_string_lossy().into_owned(), None)
    }
}

/// A gateway with default settings and publishing enabled.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A gateway whose settings `adjust` may change first.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("kaifang.db");
    let (database_url, pg) = fresh_database(dir.path());
    let mut settings = Settings {
        bind: "127.0.0.1:0".to_string(),
        database_url: database_url.clone(),
        admin_token: Some(Secret::new(ADMIN_TOKEN)),
        ..Settings::default()
    };
    if pg.is_some() {
        // Where a SQLite deployment keeps them by default: beside the file.
        settings.audit_key_file = Some(dir.path().join("audit/signing.key"));
        settings.audit_checkpoint_log = Some(dir.path().join("audit/checkpoints.log"));
    }
    adjust(&mut settings);
    start(&settings, db_path, pg, dir).await
}

/// Starts a gateway with `settings` on a free port, owning `dir` (and the
/// PostgreSQL database `pg`, when there is one) until it is dropped.
async fn start(
    settings: &Settings,
    db_path: PathBuf,
    pg: Option<std::sync::Arc<pg::TestDatabase>>,
    dir: tempfile::TempDir,
) -> TestApp {
    let db = open_database(settings).expect("database");
    let clock = kaifang::fair_use::Clock::system();
    let app = Application::build_with_clock(settings, db, clock.clone())
        .await
        .expect("application");
    let address = format!("http://127.0.0.1:{}", app.port());
    let server = app.server_handle();
    let running = tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        clock,
        client: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client"),
        db_path,
        database_url: settings.database_url.clone(),
        pg,
        server,
        running: std::sync::Mutex::new(Some(running)),
        _dir: dir,
    }
}

impl TestApp {
    /// Stops the gateway as SIGTERM does and waits until its audit writer
    /// has committed and sealed every record.
    pub async fn stop(&self) {
        self.server.stop(true).await;
        let running = self.running.lock().expect("lock").take();
        if let Some(running) = running {
            running.await.expect("server task").expect("server stopped");
        }
    }

    /// Another gateway instance on this test's database, with its own
    /// audit chain `instance`, configured as `spawn_app_with` configured
    /// this one (after `adjust`). It shares the database; it is stopped with
    /// the test.
    pub async fn spawn_instance(
        &self,
        instance: &str,
        adjust: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings {
            bind: "127.0.0.1:0".to_string(),
            database_url: self.database_url.clone(),
            admin_token: Some(Secret::new(ADMIN_TOKEN)),
            instance_id: instance.to_string(),
            audit_key_file: Some(dir.path().join("audit/signing.key")),
            audit_checkpoint_log: Some(dir.path().join("audit/checkpoints.log")),
            ..Settings::default()
        };
        adjust(&mut settings);
        start(&settings, self.db_path.clone(), self.pg.clone(), dir).await
    }
}

/// A file of the shared open-data collection beside the repository.
pub fn shared_dataset(name: &str) -> PathBuf {
    let dir = std::env::var_os("KAIFANG_SHARED_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets"));
    let path = dir.join(name);
    assert!(path.exists(), "missing test data {}", path.display());
    path
}

/// A demo file shipped in the repository.
pub fn demo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("demo")
        .join(name)
}

/// Builds a dataset through the API: metadata, then optionally data.
pub struct DatasetBuilder {
    slug: String,
    tier: Tier,
    organization: String,
    tags: Vec<String>,
    title: String,
    sensitive: Vec<String>,
}

impl DatasetBuilder {
    pub fn new(slug: &str) -> Self {
        DatasetBuilder {
            slug: slug.to_string(),
            tier: Tier::Open,
            organization: "test-org".to_string(),
            tags: Vec::new(),
            title: format!("Dataset {slug}"),
            sensitive: Vec::new(),
        }
    }
    pub fn tier(mut self, tier: Tier) -> Self {
        self.tier = tier;
        self
    }
    pub fn organization(mut self, org: &str) -> Self {
        self.organization = org.to_string();
        self
    }
    pub fn tags(mut self, tags: &[&str]) -> Self {
        self.tags = tags.iter().map(|t| t.to_string()).collect();
        self
    }
    pub fn sensitive(mut self, columns: &[&str]) -> Self {
        self.sensitive = columns.iter().map(|c| c.to_string()).collect();
        self
    }
    pub fn title(mut self, title: &str) -> Self {
        self.title = title.to_string();
        self
    }

    /// Creates the dataset (metadata only) and checks it was created.
    pub async fn create(self, app: &TestApp) -> String {
        let res = app
            .admin(app.client.post(app.url("/v1/datasets")))
            .json(&json!({
                "slug": self.slug,
                "title": self.title,
                "organization": self.organization,
                "tier": self.tier,
                "tags": self.tags,
                "sensitive_columns": self.sensitive,
            }))
            .send()
            .await
            .expect("request");
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "{}",
            res.text().await.unwrap_or_default()
        );
        self.slug
    }

    /// Creates the dataset and uploads `csv` as its first version.
    pub async fn with_csv(self, app: &TestApp, csv: impl Into<reqwest::Body>) -> String {
        let slug = self.create(app).await;
        let res = app.upload(&slug, csv, "text/csv").await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "{}",
            res.text().await.unwrap_or_default()
        );
        slug
    }

    /// Creates the dataset and uploads the file at `path`.
    pub async fn with_file(self, app: &TestApp, path: &Path) -> String {
        let bytes = std::fs::read(path).expect("read test file");
        let gz = bytes.starts_with(&[0x1f, 0x8b]);
        let slug = self.create(app).await;
        let res = app
            .upload(
                &slug,
                bytes,
                if gz { "application/gzip" } else { "text/csv" },
            )
            .await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "{}",
            res.text().await.unwrap_or_default()
        );
        slug
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn admin(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.bearer_auth(ADMIN_TOKEN)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn upload(
        &self,
        slug: &str,
        body: impl Into<reqwest::Body>,
        content_type: &str,
    ) -> Response {
        self.admin(
            self.client
                .put(self.url(&format!("/v1/datasets/{slug}/data"))),
        )
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request")
    }

    pub async fn get_rows(&self, slug: &str, params: &[(&str, &str)]) -> Response {
        self.client
            .get(self.url(&format!("/v1/datasets/{slug}/rows")))
            .query(params)
            .send()
            .await
            .expect("request")
    }

    /// A page of rows as JSON, asserting success.
    pub async fn rows_json(&self, slug: &str, params: &[(&str, &str)]) -> Value {
        let res = self.get_rows(slug, params).await;
        let status = res.status();
        let body: Value = res.json().await.expect("json");
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub async fn query(&self, slug: &str, body: &Value) -> Response {
        self.client
            .post(self.url(&format!("/v1/datasets/{slug}/query")))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn export(&self, slug: &str, params: &[(&str, &str)]) -> Response {
        self.client
            .get(self.url(&format!("/v1/datasets/{slug}/export")))
            .query(params)
            .send()
            .await
            .expect("request")
    }

    /// Every record of the audit log, oldest first, read as an admin.
    pub async fn audit_records(&self) -> Vec<Value> {
        let res = self
            .admin(self.client.get(self.url("/v1/admin/audit/export")))
            .query(&[("format", "ndjson")])
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), StatusCode::OK);
        let text = res.text().await.expect("body");
        text.lines()
            .map(|l| serde_json::from_str(l).expect("a record"))
            .collect()
    }

    /// Runs SQL straight on the database, to compare against: through the
    /// `sqlite3` or the `psql` command, engines independent of the gateway.
    pub fn sqlite(&self) -> sqlite_cli::Db {
        match &self.pg {
            Some(pg) => sqlite_cli::Db::postgres(&pg.url),
            None => sqlite_cli::Db::open(&self.db_path),
        }
    }
}

/// Asserts a problem+json answer with `status` and returns its body.
pub async fn assert_problem(res: Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = res.text().await.expect("body");
    assert_eq!(got, status, "unexpected status; body: {body}");
    assert!(
        ct.starts_with("application/problem+json"),
        "content type {ct}; body: {body}"
    );
    let v: Value = serde_json::from_str(&body).expect("problem json");
    assert_eq!(v["status"], json!(status));
    assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
    assert!(v["instance"].as_str().is_some(), "{v}");
    v
}

/// Direct access to the database file through the `sqlite3` command line
/// tool, an engine independent of the gateway, for cross-checks.
pub mod sqlite_cli {
    use std::path::{Path, PathBuf};

    pub struct Db {
        path: PathBuf,
        /// Set when the database is PostgreSQL: then `psql` runs the SQL.
        pg_url: Option<String>,
    }

    impl Db {
        pub fn open(path: &Path) -> Db {
            Db {
                path: path.to_path_buf(),
                pg_url: None,
            }
        }

        pub fn postgres(url: &str) -> Db {
            Db {
                path: PathBuf::new(),
                pg_url: Some(url.to_string()),
            }
        }

        fn command(&self, sql: &str, read_only: bool) -> std::process::Command {
            match &self.pg_url {
                Some(url) => {
                    let mut c = std::process::Command::new("psql");
                    c.args(["-X", "-q", "-At", "-F", "|", "-v", "ON_ERROR_STOP=1"])
                        .arg(url)
                        .arg("-c")
                        .arg(sql);
                    c
                }
                None => {
                    let mut c = std::process::Command::new("sqlite3");
                    if read_only {
                        c.arg("-readonly");
                    }
                    // The audit log's file, attached as the gateway attaches it.
                    let audit = kaifang::db::audit_path(&self.path);
                    let audit = audit.to_string_lossy().replace('\'', "''");
                    c.arg("-cmd")
                        .arg(format!("ATTACH DATABASE '{audit}' AS audit"))
                        .arg(&self.path)
                        .arg(sql);
                    c
                }
            }
        }

        /// Runs `sql` with write access (to tamper with the audit log as an
        /// attacker with the file would); the error is sqlite3's message.
        pub fn execute(&self, sql: &str) -> Result<(), String> {
            let out = self
                .command(sql, false)
                .output()
                .expect("sqlite3/psql on PATH");
            if out.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&out.stderr).into_owned())
            }
        }

        /// Whether `psql` on PostgreSQL runs the SQL (else `sqlite3`).
        pub fn is_postgres(&self) -> bool {
            self.pg_url.is_some()
        }

        /// The names of the tables whose name is `LIKE pattern` (a backslash
        /// escapes `_` and `%`), sorted bytewise (PostgreSQL's collation would
        /// otherwise order them by locale).
        pub fn table_names(&self, pattern: &str) -> Vec<String> {
            let pattern = pattern.replace('\'', "''");
            let mut names = self.query(&if self.is_postgres() {
                format!(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() \
                     AND tablename LIKE '{pattern}' ESCAPE '\\'"
                )
            } else {
                format!(
                    "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name LIKE '{pattern}' ESCAPE '\\'"
                )
            });
            names.sort();
            names
        }

        /// Every object of the schema as `kind name` (tables, indexes,
        /// views, triggers; on PostgreSQL also sequences and functions),
        /// sorted: what a statement that changed the schema would change.
        pub fn schema_objects(&self) -> Vec<String> {
            let mut objects = self.query(if self.is_postgres() {
                "SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'i' THEN 'index' \
                 WHEN 'v' THEN 'view' WHEN 'm' THEN 'view' WHEN 'S' THEN 'sequence' \
                 ELSE 'relation ' || c.relkind::text END || ' ' || c.relname \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() \
                 UNION ALL SELECT 'trigger ' || t.tgname FROM pg_trigger t \
                 JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE NOT t.tgisinternal AND n.nspname = current_schema() \
                 UNION ALL SELECT 'function ' || p.proname FROM pg_proc p \
                 JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema()"
            } else {
                "SELECT type || ' ' || name FROM sqlite_master \
                 UNION ALL SELECT type || ' audit.' || name FROM audit.sqlite_master"
            });
            objects.sort();
            objects
        }

        /// SQL for the storage type of `expr`, `null` for a NULL: SQLite's
        /// `typeof` (`integer`, `real`, `text`), or PostgreSQL's column type
        /// (`bigint`, `double precision`, `boolean`, `date`,
        /// `timestamp with time zone`, `text`).
        pub fn type_of(&self, expr: &str) -> String {
            if self.is_postgres() {
                format!("(CASE WHEN {expr} IS NULL THEN 'null' ELSE pg_typeof({expr})::text END)")
            } else {
                format!("typeof({expr})")
            }
        }

        /// SQL printing `expr`, a value of the Kaifang column type `ty`
        /// (`boolean`, `real`, `date`, `timestamp`, …), as the sqlite3 shell
        /// prints what SQLite stores: booleans `1`/`0`, dates and timestamps
        /// in their canonical text, reals with a `.0` when they have no
        /// fraction. Only `psql` needs the conversion.
        pub fn cell(&self, expr: &str, ty: &str) -> String {
            if !self.is_postgres() {
                return expr.to_string();
            }
            match ty {
                "boolean" => format!("(CASE WHEN {expr} THEN 1 WHEN NOT {expr} THEN 0 END)"),
                "real" => format!(r"regexp_replace(({expr})::text, '^(-?[0-9]+)(e|$)', '\1.0\2')"),
                "date" => format!("to_char({expr}, 'YYYY-MM-DD')"),
                "timestamp" => format!(
                    "to_char(({expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                ),
                _ => expr.to_string(),
            }
        }

        /// A select list of the comma-separated columns `cols` of `table`,
        /// each printed by [`Db::cell`] for its stored type.
        pub fn cells(&self, table: &str, cols: &str) -> String {
            let names: Vec<&str> = cols.split(',').map(str::trim).collect();
            if !self.is_postgres() {
                return names.join(", ");
            }
            let types = self.query(&format!(
                "SELECT column_name || '|' || data_type FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = '{}'",
                table.replace('\'', "''")
            ));
            names
                .iter()
                .map(|n| {
                    let pg_type = types
                        .iter()
                        .find_map(|t| t.strip_prefix(&format!("{n}|")))
                        .unwrap_or_else(|| panic!("no column {n} in {table}: {types:?}"));
                    let ty = match pg_type {
                        "boolean" => "boolean",
                        "double precision" => "real",
                        "date" => "date",
                        "timestamp with time zone" => "timestamp",
                        _ => "",
                    };
                    self.cell(&format!("\"{}\"", n.replace('"', "\"\"")), ty)
                })
                .collect::<Vec<_>>()
                .join(", ")
        }

        /// Runs `sql` and returns its output lines (`|`-separated columns).
        pub fn query(&self, sql: &str) -> Vec<String> {
            let out = self
                .command(sql, true)
                .output()
                .expect("sqlite3/psql on PATH");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_string)
                .collect()
        }
    }
}

/// Fresh PostgreSQL databases for tests, on the server named by
/// `KAIFANG_TEST_POSTGRES_URL` (a URL of any database there, usually
/// `postgres://postgres@127.0.0.1:5432/postgres`).
pub mod pg {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection};

    pub struct TestDatabase {
        pub name: String,
        pub url: String,
        admin_url: String,
    }

    fn admin_url() -> String {
        std::env::var("KAIFANG_TEST_POSTGRES_URL").expect(
            "KAIFANG_TEST_BACKEND=postgres needs KAIFANG_TEST_POSTGRES_URL \
             (e.g. postgres://postgres@127.0.0.1:5432/postgres)",
        )
    }

    /// `url` with its database name replaced by `name`.
    pub fn with_database(url: &str, name: &str) -> String {
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (url, String::new()),
        };
        let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
        let base = match base[after_scheme..].find('/') {
            Some(i) => &base[..after_scheme + i],
            None => base,
        };
        format!("{base}/{name}{query}")
    }

    impl TestDatabase {
        pub fn create() -> TestDatabase {
            let admin_url = admin_url();
            let nonce: u64 = rand::random();
            let name = format!("kaifang_test_{nonce:016x}");
            let mut conn = PgConnection::establish(&admin_url)
                .unwrap_or_else(|e| panic!("PostgreSQL at KAIFANG_TEST_POSTGRES_URL: {e}"));
            conn.batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("create test database");
            TestDatabase {
                url: with_database(&admin_url, &name),
                name,
                admin_url,
            }
        }
    }

    impl Drop for TestDatabase {
        fn drop(&mut self) {
            // FORCE ends the gateway's connections, still open in the pool.
            if let Ok(mut conn) = PgConnection::establish(&self.admin_url) {
                let _ = conn.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ));
            }
        }
    }
}

/// A JWT signed with `secret` (HS256) for `sub`, holding `roles` and, for
/// organisation roles, `org`; valid for ten minutes.
pub fn sign_token(secret: &str, sub: &str, roles: &[&str], org: Option<&str>) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({"sub": sub, "roles": roles, "iat": now, "exp": now + 600});
    if let Some(org) = org {
        claims["org"] = json!(org);
    }
    kaifang::auth::jwt::sign_hs256(secret.as_bytes(), &claims).expect("signing a test token")
}
