//! Settings: defaults, then an optional `kaifang.toml`, then `KAIFANG_*`
//! environment variables, validated once at start. Secrets are wrapped so
//! they never reach a log or a debug print.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::auth::jwt_config::JwtSettings;
use crate::error::{Error, Result};
use crate::fair_use::RoleLimitSettings;

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

    /// Applies `KAIFANG_*` variables (and `DATABASE_URL`) read through `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<()> {
        fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T> {
            v.trim().parse().map_err(|_| {
                Error::bad_request(format!("{name} must be a whole number, got '{v}'"))
            })
        }
        if let Some(v) = get("KAIFANG_BIND") {
            self.bind = v;
        }
        if let Some(v) = get("DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = get("KAIFANG_DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = get("KAIFANG_POOL_SIZE") {
            self.pool_size = num("KAIFANG_POOL_SIZE", v)?;
        }
        if let Some(v) = get("KAIFANG_RESULT_CACHE_MB") {
            self.result_cache_mb = num("KAIFANG_RESULT_CACHE_MB", v)?;
        }
        if let Some(v) = get("KAIFANG_ADMIN_TOKEN") {
            self.admin_token = Some(Secret(v));
        }
        if let Some(v) = get("KAIFANG_MAX_UPLOAD_BYTES") {
            self.max_upload_bytes = num("KAIFANG_MAX_UPLOAD_BYTES", v)?;
        }
        if let Some(v) = get("KAIFANG_DEFAULT_LIMIT") {
            self.default_limit = num("KAIFANG_DEFAULT_LIMIT", v)?;
        }
        if let Some(v) = get("KAIFANG_MAX_LIMIT") {
            self.max_limit = num("KAIFANG_MAX_LIMIT", v)?;
        }
        if let Some(v) = get("KAIFANG_INSTANCE_ID") {
            self.instance_id = v;
        }
        if let Some(v) = get("KAIFANG_AUDIT_KEY_FILE") {
            self.audit_key_file = Some(PathBuf::from(v));
        }
        if let Some(v) = get("KAIFANG_AUDIT_CHECKPOINT_LOG") {
            self.audit_checkpoint_log = Some(PathBuf::from(v));
        }
        if let Some(v) = get("KAIFANG_AUDIT_SYNCHRONOUS") {
            self.audit_synchronous = v;
        }
        if let Some(v) = get("KAIFANG_AUDIT_CHECKPOINT_EVERY") {
            self.audit_checkpoint_every = num("KAIFANG_AUDIT_CHECKPOINT_EVERY", v)?;
        }
        if let Some(v) = get("KAIFANG_RATE_LIMIT_PER_SECOND") {
            self.rate_limit_per_second = num("KAIFANG_RATE_LIMIT_PER_SECOND", v)?;
        }
        if let Some(v) = get("KAIFANG_SHUTDOWN_TIMEOUT_SECS") {
            self.shutdown_timeout_secs = num("KAIFANG_SHUTDOWN_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = get("KAIFANG_RATE_LIMIT_BURST") {
            self.rate_limit_burst = num("KAIFANG_RATE_LIMIT_BURST", v)?;
        }
        if let Some(v) = get("KAIFANG_DAILY_ROW_QUOTA") {
            self.daily_row_quota = num("KAIFANG_DAILY_ROW_QUOTA", v)?;
        }
        if let Some(v) = get("KAIFANG_DAILY_BYTE_QUOTA") {
            self.daily_byte_quota = num("KAIFANG_DAILY_BYTE_QUOTA", v)?;
        }
        if let Some(v) = get("KAIFANG_AUDIT_CHECKPOINT_SECS") {
            self.audit_checkpoint_secs = num("KAIFANG_AUDIT_CHECKPOINT_SECS", v)?;
        }
        if let Some(v) = get("KAIFANG_LOG_FORMAT") {
            self.log_format = v;
        }
        if let Some(v) = get("KAIFANG_MAX_HEADER_BYTES") {
            self.max_header_bytes = num("KAIFANG_MAX_HEADER_BYTES", v)?;
        }
        if let Some(v) = get("KAIFANG_REQUEST_HEAD_TIMEOUT_SECS") {
            self.request_head_timeout_secs = num("KAIFANG_REQUEST_HEAD_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = get("KAIFANG_KEEP_ALIVE_SECS") {
            self.keep_alive_secs = num("KAIFANG_KEEP_ALIVE_SECS", v)?;
        }
        if let Some(v) = get("KAIFANG_CORS_ALLOWED_ORIGINS") {
            self.cors_allowed_origins = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
        }
        self.apply_jwt_env(&get, num::<u64>)
    }

    fn apply_jwt_env(
        &mut self,
        get: &impl Fn(&str) -> Option<String>,
        num: fn(&str, String) -> Result<u64>,
    ) -> Result<()> {
        fn list(v: &str) -> Vec<String> {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        }
        let jwt = &mut self.jwt;
        if let Some(v) = get("KAIFANG_JWT_HS256_SECRET") {
            jwt.hs256_secret = Some(v);
        }
        if let Some(v) = get("KAIFANG_JWT_PUBLIC_KEYS") {
            jwt.public_keys = list(&v).into_iter().map(PathBuf::from).collect();
        }
        if let Some(v) = get("KAIFANG_JWT_JWKS_FILE") {
            jwt.jwks_file = Some(PathBuf::from(v));
        }
        if let Some(v) = get("KAIFANG_JWT_JWKS_URL") {
            jwt.jwks_url = Some(v);
        }
        if let Some(v) = get("KAIFANG_JWT_ISSUERS") {
            jwt.issuers = list(&v);
        }
        if let Some(v) = get("KAIFANG_JWT_AUDIENCE") {
            jwt.audience = list(&v);
        }
        if let Some(v) = get("KAIFANG_JWT_ALGORITHMS") {
            jwt.algorithms = list(&v);
        }
        if let Some(v) = get("KAIFANG_JWT_LEEWAY_SECS") {
            jwt.leeway_secs = num("KAIFANG_JWT_LEEWAY_SECS", v)?;
        }
        if let Some(v) = get("KAIFANG_JWT_ROLES_CLAIM") {
            jwt.roles_claim = v;
        }
        if let Some(v) = get("KAIFANG_JWT_ORG_CLAIM") {
            jwt.org_claim = v;
        }
        if let Some(v) = get("KAIFANG_JWT_MAX_TOKEN_BYTES") {
            let n = num("KAIFANG_JWT_MAX_TOKEN_BYTES", v)?;
            jwt.max_token_bytes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        Ok(())
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

    pub fn validate(&self) -> Result<()> {
        if !matches!(self.audit_synchronous.as_str(), "full" | "normal") {
            return Err(Error::bad_request(format!(
                "audit_synchronous must be 'full' or 'normal', not '{}'",
                self.audit_synchronous
            )));
        }
        let id_ok = (1..=64).contains(&self.instance_id.len())
            && self
                .instance_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(Error::bad_request(
                "instance_id must be 1 to 64 letters, digits, '-' or '_'",
            ));
        }
        if self.jwt.enabled() {
            self.jwt
                .validate()
                .map_err(|e| Error::bad_request(e.to_string()))?;
        }
        if !(self.rate_limit_per_second >= 0.0 && self.rate_limit_per_second.is_finite()) {
            return Err(Error::bad_request(
                "rate_limit_per_second must be a number of at least 0 (0 turns limits off)",
            ));
        }
        if self.rate_limit_burst < 1 {
            return Err(Error::bad_request("rate_limit_burst must be at least 1"));
        }
        crate::fair_use::limits_from_settings(self)
            .validate()
            .map_err(|e| Error::bad_request(format!("limits: {}", e.detail())))?;
        if self.audit_checkpoint_every < 1 || self.audit_checkpoint_secs < 1 {
            return Err(Error::bad_request(
                "audit_checkpoint_every and audit_checkpoint_secs must be at least 1",
            ));
        }
        if self.pool_size == 0 {
            return Err(Error::bad_request("pool_size must be at least 1"));
        }
        if self.result_cache_mb > MAX_RESULT_CACHE_MB {
            return Err(Error::bad_request(format!(
                "result_cache_mb must be at most {MAX_RESULT_CACHE_MB} (0 keeps no results)"
            )));
        }
        if self.max_limit == 0 || self.default_limit == 0 || self.default_limit > self.max_limit {
            return Err(Error::bad_request(format!(
                "default_limit ({}) must be between 1 and max_limit ({})",
                self.default_limit, self.max_limit
            )));
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(Error::bad_request(format!(
                "log_format must be 'text' or 'json', not '{}'",
                self.log_format
            )));
        }
        if !(1024..=65536).contains(&self.max_header_bytes) {
            return Err(Error::bad_request(
                "max_header_bytes must be between 1024 and 65536",
            ));
        }
        for origin in &self.cors_allowed_origins {
            check_origin(origin)?;
        }
        if let Some(token) = &self.admin_token
            && token.expose().len() < 16
        {
            return Err(Error::bad_request(
                "admin_token must be at least 16 characters long",
            ));
        }
        Ok(())
    }
}

/// An origin as browsers send it: `scheme://host[:port]`, nothing after.
fn check_origin(origin: &str) -> Result<()> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let ok = rest.is_some_and(|host| {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
    });
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "cors_allowed_origins: '{origin}' is not an origin; write scheme://host[:port] \
             without a path or trailing slash, e.g. https://portal.example.gov ('*' is not accepted)"
        )))
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
