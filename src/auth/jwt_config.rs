use std::fmt;
use std::path::PathBuf;

use jsonwebtoken::{Algorithm, AlgorithmFamily};
use serde::{Deserialize, Serialize};

use super::jwt_error::JwtError;

/// The `[jwt]` section of the configuration file.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwtSettings {
    /// Shared secret for HS256 tokens (at least 32 bytes, RFC 7518 §3.2); serialized
    /// redacted.
    #[serde(serialize_with = "crate::config::redact")]
    pub hs256_secret: Option<String>,
    /// PEM public keys (RSA, EC P-256 or Ed25519; the kind is detected).
    pub public_keys: Vec<PathBuf>,
    pub jwks_file: Option<PathBuf>,
    /// https only; plain http is accepted for 127.0.0.1/localhost so tests need no TLS.
    pub jwks_url: Option<String>,
    pub issuers: Vec<String>,
    pub audience: Vec<String>,
    pub leeway_secs: u64,
    /// Accepted `alg` values; empty means those matching the configured keys.
    pub algorithms: Vec<String>,
    /// Dotted path into the claims, e.g. `realm_access.roles` for Keycloak.
    pub roles_claim: String,
    pub org_claim: String,
    pub max_token_bytes: usize,
}

pub const DEFAULT_LEEWAY_SECS: u64 = 30;
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8192;
const MAX_LEEWAY_SECS: u64 = 300;
const MIN_SECRET_BYTES: usize = 32;
const TOKEN_BYTES_RANGE: std::ops::RangeInclusive<usize> = 256..=65536;

impl Default for JwtSettings {
    fn default() -> Self {
        JwtSettings {
            hs256_secret: None,
            public_keys: Vec::new(),
            jwks_file: None,
            jwks_url: None,
            issuers: Vec::new(),
            audience: Vec::new(),
            leeway_secs: DEFAULT_LEEWAY_SECS,
            algorithms: Vec::new(),
            roles_claim: "roles".into(),
            org_claim: "org".into(),
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
        }
    }
}

// Hand-written so the secret never reaches a log line through `{:?}`.
impl fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtSettings")
            .field(
                "hs256_secret",
                &self.hs256_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("public_keys", &self.public_keys)
            .field("jwks_file", &self.jwks_file)
            .field("jwks_url", &self.jwks_url)
            .field("issuers", &self.issuers)
            .field("audience", &self.audience)
            .field("leeway_secs", &self.leeway_secs)
            .field("algorithms", &self.algorithms)
            .field("roles_claim", &self.roles_claim)
            .field("org_claim", &self.org_claim)
            .field("max_token_bytes", &self.max_token_bytes)
            .finish()
    }
}

impl JwtSettings {
    /// Whether any verification key is configured (JWTs are refused otherwise).
    pub fn enabled(&self) -> bool {
        self.hs256_secret.is_some()
            || !self.public_keys.is_empty()
            || self.jwks_file.is_some()
            || self.jwks_url.is_some()
    }

    /// Checks everything that can be checked without reading files or the network.
    pub fn validate(&self) -> Result<(), JwtError> {
        if let Some(secret) = &self.hs256_secret {
            if secret.trim().is_empty() {
                return Err(JwtError::config("hs256_secret", "must not be empty"));
            }
            if secret.len() < MIN_SECRET_BYTES {
                return Err(JwtError::config(
                    "hs256_secret",
                    "must be at least 32 bytes",
                ));
            }
        }
        let has_jwks = self.jwks_file.is_some() || self.jwks_url.is_some();
        if self.hs256_secret.is_none() && self.public_keys.is_empty() && !has_jwks {
            return Err(JwtError::config(
                "hs256_secret",
                "no key configured: set hs256_secret, public_keys, jwks_file or jwks_url",
            ));
        }
        if self.jwks_file.is_some() && self.jwks_url.is_some() {
            return Err(JwtError::config(
                "jwks_url",
                "set either jwks_file or jwks_url, not both",
            ));
        }
        if let Some(url) = &self.jwks_url {
            check_jwks_url(url)?;
        }
        check_names("issuers", &self.issuers)?;
        check_names("audience", &self.audience)?;
        if self.leeway_secs > MAX_LEEWAY_SECS {
            return Err(JwtError::config("leeway_secs", "must be at most 300"));
        }
        claim_path("roles_claim", &self.roles_claim)?;
        claim_path("org_claim", &self.org_claim)?;
        if !TOKEN_BYTES_RANGE.contains(&self.max_token_bytes) {
            return Err(JwtError::config(
                "max_token_bytes",
                "must be between 256 and 65536",
            ));
        }
        for name in &self.algorithms {
            let alg = parse_algorithm(name)?;
            if alg.family() == AlgorithmFamily::Hmac && self.hs256_secret.is_none() {
                return Err(JwtError::config(
                    "algorithms",
                    "HS256 needs hs256_secret; HMAC is never verified with RSA, EC or Ed keys",
                ));
            }
        }
        Ok(())
    }

    /// The accepted algorithms: the configured list, or by default one per configured
    /// key kind. `pem_families` are the kinds found in `public_keys`.
    pub(crate) fn allowed_algorithms(
        &self,
        pem_families: &[AlgorithmFamily],
    ) -> Result<Vec<Algorithm>, JwtError> {
        let mut out = Vec::new();
        if !self.algorithms.is_empty() {
            for name in &self.algorithms {
                push_unique(&mut out, parse_algorithm(name)?);
            }
            return Ok(out);
        }
        if self.hs256_secret.is_some() {
            out.push(Algorithm::HS256);
        }
        for family in pem_families {
            push_unique(&mut out, default_for(*family));
        }
        // A JWKS's key kinds are known only after fetching it, so allow the usual one
        // for each kind; a token's alg must still match the family of the key it names.
        if self.jwks_file.is_some() || self.jwks_url.is_some() {
            for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
                push_unique(&mut out, alg);
            }
        }
        Ok(out)
    }
}

fn push_unique(out: &mut Vec<Algorithm>, alg: Algorithm) {
    if !out.contains(&alg) {
        out.push(alg);
    }
}

fn default_for(family: AlgorithmFamily) -> Algorithm {
    match family {
        AlgorithmFamily::Hmac => Algorithm::HS256,
        AlgorithmFamily::Rsa => Algorithm::RS256,
        AlgorithmFamily::Ec => Algorithm::ES256,
        AlgorithmFamily::Ed => Algorithm::EdDSA,
    }
}

/// Only what the key loaders support: HS384/512 would need a differently named secret,
/// ES384 a P-384 key, and `none` is never a signature.
pub(crate) fn parse_algorithm(name: &str) -> Result<Algorithm, JwtError> {
    match name {
        "HS256" => Ok(Algorithm::HS256),
        "RS256" => Ok(Algorithm::RS256),
        "RS384" => Ok(Algorithm::RS384),
        "RS512" => Ok(Algorithm::RS512),
        "PS256" => Ok(Algorithm::PS256),
        "PS384" => Ok(Algorithm::PS384),
        "PS512" => Ok(Algorithm::PS512),
        "ES256" => Ok(Algorithm::ES256),
        "EdDSA" => Ok(Algorithm::EdDSA),
        n if n.eq_ignore_ascii_case("none") => {
            Err(JwtError::config("algorithms", "'none' is never allowed"))
        }
        _ => Err(JwtError::config(
            "algorithms",
            "unsupported algorithm; use HS256, RS256, RS384, RS512, PS256, PS384, PS512, \
             ES256 or EdDSA",
        )),
    }
}

fn check_names(setting: &'static str, names: &[String]) -> Result<(), JwtError> {
    if names.iter().any(|n| n.trim().is_empty()) {
        return Err(JwtError::config(setting, "entries must not be empty"));
    }
    Ok(())
}

pub(crate) fn claim_path(setting: &'static str, path: &str) -> Result<Vec<String>, JwtError> {
    let parts: Vec<String> = path.split('.').map(str::to_owned).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(JwtError::config(
            setting,
            "must be a dotted claim path like realm_access.roles",
        ));
    }
    Ok(parts)
}

fn check_jwks_url(url: &str) -> Result<(), JwtError> {
    let parsed =
        reqwest::Url::parse(url).map_err(|_| JwtError::config("jwks_url", "not a valid URL"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(JwtError::config("jwks_url", "must not contain credentials"));
    }
    let local = matches!(
        parsed.host_str(),
        Some("127.0.0.1") | Some("localhost") | Some("[::1]")
    );
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if local => Ok(()),
        "http" => Err(JwtError::config(
            "jwks_url",
            "must use https (http only for localhost)",
        )),
        _ => Err(JwtError::config("jwks_url", "must be an https URL")),
    }
}

#[cfg(test)]
#[path = "jwt_config_tests.rs"]
mod tests;
