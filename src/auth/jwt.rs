//! Bearer-token verification.
//!
//! Order matters: size first (no work for oversized input), then the header alone (so
//! `alg` and `kid` are judged before any key is touched), then the key chosen by our
//! rules rather than the token's, then jsonwebtoken with an explicit `Validation`, then
//! the claims jsonwebtoken does not check.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::jwks::{Clock, JwksCache, system_clock};
pub use super::jwt_claims::Claims;
use super::jwt_claims::{ClaimRules, extract};
use super::jwt_config::{JwtSettings, claim_path, parse_algorithm};
pub use super::jwt_error::JwtError;
use super::jwt_error::from_jsonwebtoken;
use super::jwt_keys::{VerifyKey, load_pem_file};

/// Without a kid every key of the family must be tried; a bound keeps one token from
/// costing many signature checks.
const MAX_CANDIDATES: usize = 4;

pub struct JwtVerifier {
    hmac: Option<Arc<VerifyKey>>,
    pem_keys: Vec<Arc<VerifyKey>>,
    jwks: Option<JwksCache>,
    allowed: Vec<Algorithm>,
    issuers: Vec<String>,
    audience: Vec<String>,
    leeway: u64,
    roles_path: Vec<String>,
    org_path: Vec<String>,
    max_token_bytes: usize,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
    crit: Option<Value>,
}

impl JwtVerifier {
    /// Validates the settings and loads every key file; a JWKS URL is fetched lazily
    /// (call `refresh_jwks` at startup to find a wrong URL early).
    pub fn new(settings: &JwtSettings) -> Result<Self, JwtError> {
        Self::new_with_clock(settings, system_clock())
    }

    /// As `new`, with the clock that paces JWKS refreshes.
    pub fn new_with_clock(settings: &JwtSettings, clock: Clock) -> Result<Self, JwtError> {
        settings.validate()?;
        let hmac = match &settings.hs256_secret {
            Some(secret) => Some(Arc::new(VerifyKey {
                kid: None,
                family: AlgorithmFamily::Hmac,
                alg: Some(Algorithm::HS256),
                key: DecodingKey::from_secret(secret.as_bytes())
                    .map_err(|_| JwtError::config("hs256_secret", "must not be empty"))?,
            })),
            None => None,
        };
        let pem_keys = settings
            .public_keys
            .iter()
            .map(|path| load_pem_file(path).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let jwks = match (&settings.jwks_file, &settings.jwks_url) {
            (Some(path), _) => Some(JwksCache::from_file(path.clone())?),
            (None, Some(url)) => Some(JwksCache::from_url(url, clock)?),
            (None, None) => None,
        };
        let families: Vec<AlgorithmFamily> = pem_keys.iter().map(|k| k.family).collect();
        Ok(JwtVerifier {
            hmac,
            pem_keys,
            jwks,
            allowed: settings.allowed_algorithms(&families)?,
            issuers: settings.issuers.clone(),
            audience: settings.audience.clone(),
            leeway: settings.leeway_secs,
            roles_path: claim_path("roles_claim", &settings.roles_claim)?,
            org_path: claim_path("org_claim", &settings.org_claim)?,
            max_token_bytes: settings.max_token_bytes,
        })
    }

    pub fn allowed_algorithms(&self) -> &[Algorithm] {
        &self.allowed
    }

    /// Fetches the JWKS now if one is configured and the refresh interval allows it.
    pub async fn refresh_jwks(&self) -> Result<bool, JwtError> {
        match &self.jwks {
            Some(cache) => cache.refresh().await,
            None => Ok(false),
        }
    }

    pub async fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        if token.len() > self.max_token_bytes {
            return Err(JwtError::TooLarge);
        }
        let header = parse_header(token)?;
        let alg = parse_algorithm(&header.alg).map_err(|_| JwtError::AlgorithmNotAllowed)?;
        if !self.allowed.contains(&alg) {
            return Err(JwtError::AlgorithmNotAllowed);
        }
        let candidates = self.candidates(alg, header.kid.as_deref()).await?;
        let validation = self.validation(alg);
        let mut last = JwtError::UnknownKey;
        for candidate in candidates {
            match jsonwebtoken::decode::<Value>(token, &candidate.key, &validation) {
                Ok(data) => {
                    let rules = ClaimRules {
                        roles_path: &self.roles_path,
                        org_path: &self.org_path,
                        leeway: self.leeway,
                        now: jsonwebtoken::get_current_timestamp(),
                    };
                    return extract(&data.claims, &rules, header.kid);
                }
                Err(e) => match from_jsonwebtoken(&e) {
                    JwtError::BadSignature => last = JwtError::BadSignature,
                    other => return Err(other),
                },
            }
        }
        Err(last)
    }

    /// The keys a token may be checked against. Keys are matched to the algorithm's
    /// family before jsonwebtoken sees them, so an HS256 token can never be checked
    /// with (the bytes of) a public key.
    async fn candidates(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<Vec<Arc<VerifyKey>>, JwtError> {
        if alg.family() == AlgorithmFamily::Hmac {
            return self
                .hmac
                .clone()
                .map(|k| vec![k])
                .ok_or(JwtError::AlgorithmNotAllowed);
        }
        let from_pem = || -> Vec<Arc<VerifyKey>> {
            self.pem_keys
                .iter()
                .filter(|k| k.accepts(alg))
                .cloned()
                .collect()
        };
        let Some(jwks) = &self.jwks else {
            return non_empty(from_pem());
        };
        if let Some(kid) = kid {
            // The kid is only ever a map key here, whatever characters it holds.
            let found = match jwks.get(kid) {
                Some(key) => Some(key),
                None if jwks.is_remote() => {
                    jwks.refresh().await?;
                    jwks.get(kid)
                }
                None => None,
            };
            let key = found.ok_or(JwtError::UnknownKey)?;
            return if key.accepts(alg) {
                Ok(vec![key])
            } else {
                Err(JwtError::KeyMismatch)
            };
        }
        if jwks.is_remote() && jwks.is_empty() {
            jwks.refresh().await?;
        }
        let mut keys = from_pem();
        keys.extend(jwks.unnamed().into_iter().filter(|k| k.accepts(alg)));
        non_empty(keys)
    }

    /// Every field set on purpose: jsonwebtoken's defaults (60 s leeway, nbf unchecked,
    /// iss/aud checked only when present) are not ours.
    fn validation(&self, alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.leeway = self.leeway;
        validation.reject_tokens_expiring_in_less_than = 0;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        if !self.issuers.is_empty() {
            validation.set_issuer(&self.issuers);
            required.push("iss");
        }
        if self.audience.is_empty() {
            // With no audience configured jsonwebtoken refuses every token that has an
            // aud at all (Keycloak always sends one), so the check is off, not empty.
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.audience);
            validation.validate_aud = true;
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        validation
    }
}

fn non_empty(keys: Vec<Arc<VerifyKey>>) -> Result<Vec<Arc<VerifyKey>>, JwtError> {
    if keys.is_empty() || keys.len() > MAX_CANDIDATES {
        Err(JwtError::UnknownKey)
    } else {
        Ok(keys)
    }
}

/// Checks the three-part shape and reads only the header.
fn parse_header(token: &str) -> Result<RawHeader, JwtError> {
    let parts: Vec<&str> = token.split('.').collect();
    let well_formed = parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !well_formed {
        return Err(JwtError::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(parts[0])
        .map_err(|_| JwtError::Malformed)?;
    let header: RawHeader = serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)?;
    // No header extension is understood here, and RFC 7515 §4.1.11 says to refuse
    // tokens that make one critical. jku/x5u/jwk are ignored: keys come from config only.
    if header.crit.is_some() {
        return Err(JwtError::Malformed);
    }
    Ok(header)
}

/// Signs `claims` with HS256, for tests and the `kaifang token` command.
pub fn sign_hs256(secret: &[u8], claims: &Value) -> Result<String, JwtError> {
    if secret.is_empty() {
        return Err(JwtError::config("hs256_secret", "must not be empty"));
    }
    if !claims.is_object() {
        return Err(JwtError::Signing);
    }
    let key = EncodingKey::from_secret(secret).map_err(|_| JwtError::Signing)?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key)
        .map_err(|_| JwtError::Signing)
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "jwt_attack_tests.rs"]
mod attack_tests;
