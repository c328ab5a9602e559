//! Settings: defaults, then an optional `kaifang.toml`, then `KAIFANG_*`
//! environment variables, validated once at start. Secrets are wrapped so
//! they never reach a log or a debug print.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::auth::jwt_config::JwtSettings;
use crate::error::{Error, Result};
use crate::fair_use::RoleLimitSettings;

mod env;
mod validate;

/// A secret value that prints (and serializes) as `[redacted]`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

/// What a secret prints as.
pub const REDACTED: &str = "[redacted]";

/// Serializes a secret kept as a plain string as `[redacted]`.
pub fn redact<S: serde::Serializer>(
    value: &Option<String>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match value {
        Some(_) => s.serialize_str(REDACTED),
        None => s.serialize_none(),
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Every setting of the gateway. Each one is documented in the README.
/// Serializing it (`kaifang config check`) redacts every secret.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server listens on.
    pub bind: String,
    /// Where the database lives: a SQLite file path (or `sqlite://PATH`), or
    /// a PostgreSQL URL (`postgres://user@host:5432/db`).
    pub database_url: String,
    /// Connections in the database pool.
    pub pool_size: u32,
    /// Memory for results of page statements, in MiB (0: none kept).
    pub result_cache_mb: u64,
    /// Bearer token that allows publishing over HTTP; publishing is off without it.
    pub admin_token: Option<Secret>,
    /// Largest accepted upload body, in bytes.
    pub max_upload_bytes: u64,
    /// Rows per page when the caller gives no `limit`.
    pub default_limit: u32,
    /// Largest `limit` a caller may ask for.
    pub max_limit: u32,
    /// Name of this instance's audit chain; each instance sharing a database needs its own.
    pub instance_id: String,
    /// File holding the Ed25519 key that signs audit checkpoints (created if missing).
    /// Default: `audit/signing.key` beside the database file.
    pub audit_key_file: Option<PathBuf>,
    /// Append-only file outside the database that receives every checkpoint.
    /// Default: `audit/checkpoints.log` beside the database file.
    pub audit_checkpoint_log: Option<PathBuf>,
    /// SQLite durability of audit commits: `full` (survives power loss) or `normal`.
    pub audit_synchronous: String,
    /// Records between two checkpoints.
    pub audit_checkpoint_every: i64,
    /// Seconds between two checkpoints when records arrive slowly.
    pub audit_checkpoint_secs: u64,
    /// Requests a second each caller may make (0: no limit).
    pub rate_limit_per_second: f64,
    /// Requests a caller may make at once before the rate applies.
    pub rate_limit_burst: u32,
    /// Rows of data each caller may receive per UTC day (0: no quota).
    pub daily_row_quota: u64,
    /// Bytes of data each caller may receive per UTC day (0: no quota).
    pub daily_byte_quota: u64,
    /// Limits of roles that have their own (`[role_limits.researcher]`); a limit left out
    /// is the default's. `anonymous` and `registered` name every anonymous and every
    /// signed-in caller.
    pub role_limits: std::collections::BTreeMap<String, RoleLimitSettings>,
    /// Seconds requests in flight get to finish after SIGTERM or SIGINT.
    pub shutdown_timeout_secs: u64,
    /// Log lines as readable text (`text`) or one JSON object a line (`json`).
    pub log_format: String,
    /// Largest total of header fields, credentials aside, in bytes; 431 above.
    pub max_header_bytes: usize,
    /// Seconds a client has to send the request head after connecting (0: no limit).
    pub request_head_timeout_secs: u64,
    /// Seconds an idle keep-alive connection stays open (0: close after each response).
    pub keep_alive_secs: u64,
    /// Origins browsers may call the API from (`https://portal.example.gov`); none: no CORS.
    pub cors_allowed_origins: Vec<String>,
    /// How bearer JWTs are verified (the `[jwt]` table); off when no key is set.
    pub jwt: JwtSettings,
    /// The file these settings were read from, read again on SIGHUP; not a setting.
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".to_string(),
            database_url: "var/kaifang.db".to_string(),
            pool_size: 8,
            result_cache_mb: 16,
            admin_token: None,
            max_upload_bytes: 1024 * 1024 * 1024,
            default_limit: 100,
            max_limit: 10_000,
            instance_id: "main".to_string(),
            audit_key_file: None,
            audit_checkpoint_log: None,
            audit_synchronous: "full".to_string(),
            audit_checkpoint_every: 1000,
            audit_checkpoint_secs: 60,
            rate_limit_per_second: 0.0,
            rate_limit_burst: 100,
            daily_row_quota: 0,
            daily_byte_quota: 0,
            role_limits: std::collections::BTreeMap::new(),
            shutdown_timeout_secs: 30,
            log_format: "text".to_string(),
            max_header_bytes: 16 * 1024,
            request_head_timeout_secs: 5,
            keep_alive_secs: 5,
            cors_allowed_origins: Vec::new(),
            jwt: JwtSettings::default(),
            config_file: None,
        }
    }
}

/// Largest result cache a setting may ask for: 64 GiB, far past any page
/// working set, and a guard against a unit mistake.
const MAX_RESULT_CACHE_MB: u64 = 64 * 1024;

impl Settings {
    /// Loads settings: `file` if given (it must exist), else `kaifang.toml`
    /// in the working directory if present; then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings> {
        let default = PathBuf::from("kaifang.toml");
        let file = match file {
            Some(path) => Some(path.to_path_buf()),
            None => default.exists().then_some(default),
        };
        let mut settings = match &file {
            Some(path) => Self::from_file(path)?,
            None => Settings::default(),
        };
        settings.config_file = file;
        settings.apply_env(|k| std::env::var(k).ok())?;
        settings.validate()?;
        Ok(settings)
    }

    fn from_file(path: &Path) -> Result<Settings> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::bad_request(format!("cannot read config file {}: {e}", path.display()))
        })?;
        toml::from_str(&text)
            .map_err(|e| Error::bad_request(format!("config file {}: {e}", path.display())))
    }

    /// The folder of the database file, where audit key and log default to.
    fn data_dir(&self) -> PathBuf {
        // A PostgreSQL database has no folder on this machine: the files go
        // beside the working directory, as with a bare SQLite file name.
        if self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://")
        {
            return PathBuf::from(".");
        }
        let path = self
            .database_url
            .strip_prefix("sqlite://")
            .or_else(|| self.database_url.strip_prefix("sqlite:"))
            .unwrap_or(&self.database_url);
        Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    pub fn audit_key_path(&self) -> PathBuf {
        self.audit_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir().join("audit").join("signing.key"))
    }

    /// The result cache's capacity in bytes.
    pub fn result_cache_bytes(&self) -> usize {
        usize::try_from(self.result_cache_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }

    pub fn audit_log_path(&self) -> PathBuf {
        self.audit_checkpoint_log
            .clone()
            .unwrap_or_else(|| self.data_dir().join("audit").join("checkpoints.log"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_defaults() {
        let mut s = Settings::default();
        s.apply_env(|k| match k {
            "KAIFANG_MAX_LIMIT" => Some("50".into()),
            "KAIFANG_DEFAULT_LIMIT" => Some("20".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.max_limit, 50);
        assert_eq!(s.default_limit, 20);
        s.validate().unwrap();
    }

    #[test]
    fn bad_numbers_are_named() {
        let mut s = Settings::default();
        let e = s
            .apply_env(|k| (k == "KAIFANG_POOL_SIZE").then(|| "many".to_string()))
            .unwrap_err();
        assert!(e.detail().contains("KAIFANG_POOL_SIZE"));
    }

    #[test]
    fn the_result_cache_is_sized_in_mib_and_bounded() {
        let mut s = Settings::default();
        s.apply_env(|k| (k == "KAIFANG_RESULT_CACHE_MB").then(|| "3".to_string()))
            .unwrap();
        assert_eq!(s.result_cache_bytes(), 3 * 1024 * 1024);
        s.validate().unwrap();
        s.result_cache_mb = 0;
        s.validate().unwrap();
        s.result_cache_mb = MAX_RESULT_CACHE_MB + 1;
        let e = s.validate().unwrap_err();
        assert!(e.detail().contains("result_cache_mb"), "{}", e.detail());
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("supersecretvalue123");
        assert_eq!(format!("{s:?}"), "[redacted]");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Settings>("bnid = 'x'").is_err());
    }
}
