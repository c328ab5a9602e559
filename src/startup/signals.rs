//! What signals do to a running gateway: SIGHUP reloads what can change
//! without a restart, SIGTERM and SIGINT stop it.

use actix_web::web;

use super::jwt_verifier;
use crate::auth::Authenticator;
use crate::config::Settings;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::fair_use::{self as fair_use, FairUse};

/// What SIGHUP reloads: the settings that can change under a running gateway. The
/// limits (from the configuration, and those an admin stored, which win), the JWT
/// keys and their checks (`[jwt]`: keys, JWKS, issuers, audience, leeway, claims) and
/// the admin token. Everything else (address, database, pool, audit, HTTP limits)
/// needs a restart; so does turning JWTs or the admin token on or off, since whether
/// publishing over HTTP is possible is decided at start.
#[derive(Clone)]
pub struct Reloader {
    pub(super) fair: std::sync::Arc<FairUse>,
    pub(super) auth: web::Data<Authenticator>,
    pub(super) db: Db,
    pub(super) file: Option<std::path::PathBuf>,
    pub(super) jwt_enabled: bool,
    pub(super) admin_token_set: bool,
}

impl Reloader {
    /// Reads the configuration file and the environment again and puts what can change
    /// in force; on any error nothing changes.
    pub async fn reload(&self) -> Result<()> {
        let settings = Settings::load(self.file.as_deref())?;
        if settings.jwt.enabled() != self.jwt_enabled {
            return Err(Error::bad_request(
                "turning JWT verification on or off needs a restart; nothing was reloaded",
            ));
        }
        if settings.admin_token.is_some() != self.admin_token_set {
            return Err(Error::bad_request(
                "setting or removing admin_token needs a restart; nothing was reloaded",
            ));
        }
        let jwt = jwt_verifier(&settings)?;
        let (version, stored) = self.db.run(fair_use::load_versioned).await?;
        self.fair
            .set_config(fair_use::limits_from_settings(&settings));
        self.fair.set_admin(version, stored.map(|s| s.limits));
        self.auth.replace(settings.admin_token.clone(), jwt);
        Ok(())
    }
}

/// Reloads on every SIGHUP until the process ends.
pub(super) fn spawn_reload_on_hangup(reloader: Reloader) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "no SIGHUP handler; reloading by signal is off");
                return;
            }
        };
        while hangup.recv().await.is_some() {
            match reloader.reload().await {
                Ok(()) => tracing::info!("SIGHUP: reloaded the limits, JWT keys and admin token"),
                Err(e) => {
                    tracing::error!(error = %e, "SIGHUP: reload failed; the old settings stay in force")
                }
            }
        }
    });
    #[cfg(not(unix))]
    drop(reloader);
}

/// True on SIGTERM or SIGINT; false when no handler could be installed.
pub(super) async fn wait_for_stop_signal() -> bool {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => true,
                    _ = int.recv() => true,
                }
            }
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.is_ok()
    }
}
