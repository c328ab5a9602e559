//! Building the running gateway: open and migrate the database, load the
//! instance keys, bind the listener (port 0 in tests) and assemble the app.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::KeepAlive;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::api::{self, ApiDoc, state::AppState};
use crate::audit::checkpoint::CheckpointKey;
use crate::audit::{AuditWriter, WriterConfig};
use crate::auth::Authenticator;
use crate::auth::jwt::JwtVerifier;
use crate::catalog::CatalogCache;
use crate::config::Settings;
use crate::data::cursor::CursorKey;
use crate::data::mask::MaskKey;
use crate::data::plan::Limits;
use crate::data::result_cache::ResultCache;
use crate::db::{self, Backend, Db};
use crate::error::{Error, Result};
use crate::fair_use::{self as fair_use, Clock, CounterStore, FairUse, MemoryStore, SharedStore};
use crate::policy::{self, SharedEngine};

mod signals;

pub use signals::Reloader;
use signals::{spawn_reload_on_hangup, wait_for_stop_signal};

/// Opens the database, applies migrations and checks that the audit log is
/// there (on SQLite it has a file of its own).
pub fn open_database(settings: &Settings) -> Result<Db> {
    let db = Db::connect(&settings.database_url, settings.pool_size)?;
    let applied = db.migrate()?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied migrations");
    }
    db.check_audit_log()?;
    Ok(db)
}

fn cursor_key(db: &Db) -> Result<CursorKey> {
    let mut conn = db.get()?;
    let hex = db::get_or_init_setting(&mut conn, "cursor_key", || {
        let bytes: [u8; 32] = rand::random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    })?;
    Ok(CursorKey::new(hex.into_bytes()))
}

/// The key of hashed columns: 32 random bytes made at first start and kept
/// in the settings table, so hashes stay equal across restarts, instances
/// and datasets.
fn mask_key(db: &Db) -> Result<MaskKey> {
    let mut conn = db.get()?;
    let hex = db::get_or_init_setting(&mut conn, "mask_hash_key", || {
        let bytes: [u8; 32] = rand::random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    })?;
    let key = MaskKey::new(hex.into_bytes());
    if db.backend() == db::Backend::Postgres {
        // PostgreSQL's kf_hash reads the HMAC pads from settings (see the
        // column_rules migration); they follow from the key, so every
        // instance stores the same values.
        let (ipad, opad) = crate::data::mask::hmac_pads_hex(&key);
        db::get_or_init_setting(&mut conn, "mask_hash_ipad", || ipad)?;
        db::get_or_init_setting(&mut conn, "mask_hash_opad", || opad)?;
    }
    Ok(key)
}

/// Starts this instance's audit writer on a connection of its own.
fn start_audit(settings: &Settings, db: &Db) -> Result<(AuditWriter, String)> {
    let key_path = settings.audit_key_path();
    let key = CheckpointKey::load_or_create(&key_path)
        .map_err(|e| Error::internal("loading the audit checkpoint key", e))?;
    let public_key = key.public_key_hex();
    let conn = db.dedicated(settings.audit_synchronous == "full")?;
    let writer = AuditWriter::start(
        conn,
        WriterConfig {
            chain: settings.instance_id.clone(),
            key,
            checkpoint_log: settings.audit_log_path(),
            checkpoint_every: settings.audit_checkpoint_every,
            checkpoint_interval: std::time::Duration::from_secs(settings.audit_checkpoint_secs),
            reconnect: match db.backend() {
                db::Backend::Sqlite => None,
                db::Backend::Postgres => {
                    let db = db.clone();
                    let durable = settings.audit_synchronous == "full";
                    Some(Box::new(move || db.dedicated(durable)))
                }
            },
        },
    )?;
    Ok((writer, public_key))
}

/// How often an instance looks for rule and limit changes made elsewhere (another
/// instance, or `kaifang policy import`); a change through this instance is in force
/// at once. A quarter of a second, so that a change made elsewhere is in force
/// everywhere within one second even with the reload's own time; the poll is one
/// indexed lookup of the highest revision number and one of the limits' version.
const WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

/// Where fair-use counters live: in memory when one instance serves (a
/// SQLite file has one), in the database when several may (PostgreSQL), so
/// their limits hold across instances.
fn counter_store(db: &Db) -> Result<std::sync::Arc<dyn CounterStore>> {
    Ok(match db.backend() {
        Backend::Sqlite => std::sync::Arc::new(MemoryStore::new()),
        Backend::Postgres => {
            std::sync::Arc::new(SharedStore::new(db.companion(fair_use::SHARED_POOL_SIZE)?))
        }
    })
}

/// Follows the rules and the admin's limits that other instances change.
fn spawn_watch(policy: std::sync::Arc<SharedEngine>, fair: std::sync::Arc<FairUse>, db: Db) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(WATCH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = policy.reload(&db).await {
                tracing::warn!(error = %e, "reloading the policy failed; the old rules stay in force");
            }
            if let Err(e) = follow_limits(&fair, &db).await {
                tracing::warn!(error = %e, "reading the stored limits failed; the old limits stay in force");
            }
        }
    });
}

/// Puts the limits an admin stored through another instance in force, when their
/// version moved past the one in force here.
async fn follow_limits(fair: &FairUse, db: &Db) -> Result<()> {
    if db.run(fair_use::stored_version).await? <= fair.admin_version() {
        return Ok(());
    }
    let (version, stored) = db.run(fair_use::load_versioned).await?;
    if fair.set_admin(version, stored.map(|s| s.limits)) {
        tracing::info!(
            limits.version = version,
            "limits changed elsewhere are in force"
        );
    }
    Ok(())
}

async fn docs_redirect() -> actix_web::HttpResponse {
    actix_web::HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/docs/"))
        .finish()
}

/// A bound, not yet running gateway.
pub struct Application {
    port: u16,
    server: Server,
    audit: AuditWriter,
    reloader: Reloader,
}

impl Application {
    /// Builds the gateway on `settings.bind` (use port 0 for a free port).
    pub async fn build(settings: &Settings, db: Db) -> Result<Application> {
        Self::build_with_clock(settings, db, Clock::system()).await
    }

    /// `build`, with fair use counting days by `clock` (tests move it forward).
    pub async fn build_with_clock(
        settings: &Settings,
        db: Db,
        clock: Clock,
    ) -> Result<Application> {
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| Error::bad_request(format!("cannot listen on {}: {e}", settings.bind)))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::internal("reading the bound address", e))?
            .port();
        crate::data::collect_orphans(&db)?;
        db.start_maintenance()?;
        let (writer, audit_public_key) = start_audit(settings, &db)?;
        let keys_db = db.clone();
        let audit = writer.clone();
        let writer = web::Data::new(writer);
        let metrics = web::Data::new(crate::metrics::Metrics::new());
        let cors_origins = web::Data::new(api::cors::CorsOrigins(
            settings.cors_allowed_origins.clone(),
        ));
        let max_header = web::Data::new(api::limits::MaxHeaderBytes(settings.max_header_bytes));
        let (version, stored) = db.run(fair_use::load_versioned).await?;
        let fair = std::sync::Arc::new(FairUse::new(
            fair_use::limits_from_settings(settings),
            stored.map(|s| s.limits),
            version,
            counter_store(&db)?,
            clock,
        ));
        let fair_data = web::Data::from(std::sync::Arc::clone(&fair));
        db.run(policy::prepare_store).await?;
        let policy = std::sync::Arc::new(SharedEngine::load(&db).await?);
        spawn_watch(
            std::sync::Arc::clone(&policy),
            std::sync::Arc::clone(&fair),
            db.clone(),
        );
        let state = AppState {
            policy,
            audit_public_key,
            audit_log_path: settings.audit_log_path(),
            cursor_key: cursor_key(&db)?,
            mask_key: mask_key(&db)?,
            db,
            limits: Limits {
                default_limit: settings.default_limit,
                max_limit: settings.max_limit,
            },
            max_upload_bytes: settings.max_upload_bytes,
            publishing_enabled: settings.admin_token.is_some() || settings.jwt.enabled(),
            result_cache: std::sync::Arc::new(ResultCache::new(settings.result_cache_bytes())),
            catalog: std::sync::Arc::new(CatalogCache::new()),
        };
        let state = web::Data::new(state);
        let jwt = jwt_verifier(settings)?;
        let auth = web::Data::new(Authenticator::new(
            settings.admin_token.clone(),
            jwt,
            Some(keys_db.clone()),
        ));
        let reloader = Reloader {
            fair: std::sync::Arc::clone(&fair),
            auth: auth.clone(),
            db: keys_db,
            file: settings.config_file.clone(),
            jwt_enabled: settings.jwt.enabled(),
            admin_token_set: settings.admin_token.is_some(),
        };
        let doc = api::openapi();
        let server = HttpServer::new(move || {
            let (app, _) = App::new()
                .into_utoipa_app()
                .openapi(ApiDoc::openapi())
                .app_data(state.clone())
                .app_data(auth.clone())
                .app_data(writer.clone())
                .app_data(metrics.clone())
                .app_data(cors_origins.clone())
                .app_data(max_header.clone())
                .app_data(fair_data.clone())
                .configure(api::configure)
                .split_for_parts();
            app.service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", doc.clone()))
                .route("/docs", web::get().to(docs_redirect))
                .default_service(web::to(api::no_route))
                .wrap(Compress::default())
                .wrap(from_fn(api::cors::cors))
                .wrap(from_fn(api::limits::header_limit))
                .wrap(from_fn(api::middleware::pipeline))
                .wrap(from_fn(api::security_headers::security_headers))
        })
        .client_request_timeout(Duration::from_secs(settings.request_head_timeout_secs))
        .keep_alive(match settings.keep_alive_secs {
            0 => KeepAlive::Disabled,
            secs => KeepAlive::Timeout(Duration::from_secs(secs)),
        })
        .shutdown_timeout(settings.shutdown_timeout_secs)
        // Database work runs on each worker's blocking threads, and no more
        // of it can run at once than the pool has connections. Past that,
        // tokio's default (hundreds of threads) only adds threads that wait
        // for a connection: under load 50 of them, each woken in turn, with
        // their stacks and malloc arenas (wrk on the 100-row page: 10 % fewer
        // requests a second and 4 MiB more memory than with this cap).
        .worker_max_blocking_threads(settings.pool_size.max(1) as usize)
        // Stopping is ours (see `run_until_stopped`): actix would force-stop on SIGINT.
        .disable_signals()
        .listen(listener)
        .map_err(|e| Error::internal("starting the HTTP server", e))?
        .run();
        Ok(Application {
            port,
            server,
            audit,
            reloader,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server as SIGTERM would, for tests and embedders: `stop(true)`
    /// drains the requests in flight, then `run_until_stopped` flushes the audit.
    pub fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// What SIGHUP runs, for tests and embedders.
    pub fn reloader(&self) -> Reloader {
        self.reloader.clone()
    }

    /// Serves until SIGTERM or SIGINT, then stops gracefully: no new connections, requests
    /// in flight (streamed exports included) finish within `shutdown_timeout_secs`, and
    /// the audit writer commits and seals every record before this returns.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        spawn_reload_on_hangup(self.reloader.clone());
        tokio::spawn(async move {
            if wait_for_stop_signal().await {
                tracing::info!("stopping: finishing the requests in flight");
                handle.stop(true).await;
            }
        });
        self.server.await?;
        self.audit.flush().await.map_err(std::io::Error::other)?;
        tracing::info!("stopped; every audit record is committed and sealed");
        Ok(())
    }
}

/// The token verifier the settings ask for; `None` when JWT is off.
fn jwt_verifier(settings: &Settings) -> Result<Option<std::sync::Arc<JwtVerifier>>> {
    if !settings.jwt.enabled() {
        return Ok(None);
    }
    let verifier =
        JwtVerifier::new(&settings.jwt).map_err(|e| Error::bad_request(format!("jwt: {e}")))?;
    Ok(Some(std::sync::Arc::new(verifier)))
}
