//! Settings from `KAIFANG_*` environment variables, over the file's and the defaults.

use std::path::PathBuf;

use super::{Secret, Settings};
use crate::error::{Error, Result};

impl Settings {
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
}
