//! The checks settings pass once loaded, each naming the setting to change.

use super::{MAX_RESULT_CACHE_MB, Settings};
use crate::error::{Error, Result};

impl Settings {
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
