//! JSON Web Key Sets: parsing, a kid-keyed cache, and a rate-limited refresh.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use jsonwebtoken::AlgorithmFamily;
use serde::Deserialize;

use super::jwt_config::parse_algorithm;
use super::jwt_error::JwtError;
use super::jwt_keys::{VerifyKey, ec_p256_key, ed25519_key, read_capped, rsa_key};

/// Monotonic time source; injectable so tests can step past the refresh interval.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Instant::now)
}

/// Unknown kids are attacker-chosen, so they may cost at most one fetch per interval.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;
const MAX_KEYS: usize = 100;
const MAX_KID_BYTES: usize = 256;

// JWK values are unpadded base64url (RFC 7515 §2), but some providers pad them anyway.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Deserialize)]
struct JwkSetDoc {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// Parses a JWKS document into signature-verification keys.
///
/// Keys for other uses or of unsupported kinds are skipped rather than fatal, because
/// identity providers publish encryption keys in the same set. Symmetric (`oct`) keys
/// are always skipped: a published HMAC secret would let anyone sign tokens.
pub fn parse_jwks(bytes: &[u8]) -> Result<Vec<VerifyKey>, String> {
    let doc: JwkSetDoc =
        serde_json::from_slice(bytes).map_err(|_| "not a JWKS document".to_string())?;
    if doc.keys.len() > MAX_KEYS {
        return Err(format!("more than {MAX_KEYS} keys"));
    }
    let keys: Vec<VerifyKey> = doc.keys.into_iter().filter_map(parse_jwk).collect();
    if keys.is_empty() {
        return Err("no usable signing key (RSA, EC P-256 or Ed25519)".into());
    }
    Ok(keys)
}

fn parse_jwk(value: serde_json::Value) -> Option<VerifyKey> {
    let raw: RawJwk = serde_json::from_value(value).ok()?;
    if raw.use_.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    if raw
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
    {
        return None;
    }
    if raw
        .kid
        .as_ref()
        .is_some_and(|k| k.is_empty() || k.len() > MAX_KID_BYTES)
    {
        return None;
    }
    let b64 = |v: &Option<String>| v.as_ref().and_then(|s| B64URL.decode(s).ok());
    let (family, key) = match (raw.kty.as_str(), raw.crv.as_deref()) {
        ("RSA", _) => (
            AlgorithmFamily::Rsa,
            rsa_key(&b64(&raw.n)?, &b64(&raw.e)?).ok()?,
        ),
        ("EC", Some("P-256")) => (
            AlgorithmFamily::Ec,
            ec_p256_key(&b64(&raw.x)?, &b64(&raw.y)?).ok()?,
        ),
        ("OKP", Some("Ed25519")) => (AlgorithmFamily::Ed, ed25519_key(&b64(&raw.x)?).ok()?),
        _ => return None,
    };
    let alg = match raw.alg.as_deref() {
        None => None,
        Some(name) => {
            let alg = parse_algorithm(name).ok()?;
            if alg.family() != family {
                return None;
            }
            Some(alg)
        }
    };
    Some(VerifyKey {
        kid: raw.kid,
        family,
        alg,
        key,
    })
}

#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, Arc<VerifyKey>>,
    unnamed: Vec<Arc<VerifyKey>>,
}

impl KeySet {
    fn new(keys: Vec<VerifyKey>) -> Self {
        let mut set = KeySet::default();
        for key in keys {
            match key.kid.clone() {
                // First wins: a later duplicate kid must not silently replace a key.
                Some(kid) => {
                    set.by_kid.entry(kid).or_insert_with(|| Arc::new(key));
                }
                None => set.unnamed.push(Arc::new(key)),
            }
        }
        set
    }
}

enum Source {
    File(PathBuf),
    Url {
        url: String,
        client: reqwest::Client,
    },
}

/// The current key set of one JWKS source.
pub struct JwksCache {
    source: Source,
    keys: RwLock<Arc<KeySet>>,
    /// Held across the fetch so that concurrent misses wait for one request.
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
    min_interval: Duration,
    clock: Clock,
}

impl JwksCache {
    /// Loads the file now: a broken file should stop startup, not the first request.
    pub fn from_file(path: PathBuf) -> Result<Self, JwtError> {
        let source = format!("jwt.jwks_file: {}", path.display());
        let bytes =
            read_capped(&path, MAX_JWKS_BYTES as u64).map_err(|e| JwtError::key(&source, e))?;
        let keys = parse_jwks(&bytes).map_err(|e| JwtError::key(&source, e))?;
        let clock = system_clock();
        let mut cache = Self::with_keys(Source::File(path), keys, Arc::clone(&clock));
        *cache.last_attempt.get_mut() = Some(clock());
        Ok(cache)
    }

    /// Starts empty; the first lookup (or an explicit `refresh`) fetches the set.
    pub fn from_url(url: &str, clock: Clock) -> Result<Self, JwtError> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            // A redirect could lead from https to http or to another host.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(url.starts_with("https://"))
            .build()
            .map_err(|e| JwtError::config("jwks_url", format!("HTTP client: {e}")))?;
        let source = Source::Url {
            url: url.to_owned(),
            client,
        };
        Ok(Self::with_keys(source, Vec::new(), clock))
    }

    fn with_keys(source: Source, keys: Vec<VerifyKey>, clock: Clock) -> Self {
        JwksCache {
            source,
            keys: RwLock::new(Arc::new(KeySet::new(keys))),
            last_attempt: tokio::sync::Mutex::new(None),
            min_interval: MIN_REFRESH_INTERVAL,
            clock,
        }
    }

    pub fn with_min_interval(mut self, interval: Duration) -> Self {
        self.min_interval = interval;
        self
    }

    pub fn is_remote(&self) -> bool {
        matches!(self.source, Source::Url { .. })
    }

    fn snapshot(&self) -> Arc<KeySet> {
        // A poisoned lock only means a writer panicked between two whole-Arc swaps,
        // so the value inside is still a complete key set.
        Arc::clone(&self.keys.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn get(&self, kid: &str) -> Option<Arc<VerifyKey>> {
        self.snapshot().by_kid.get(kid).cloned()
    }

    /// Keys without a kid, for tokens that name none.
    pub fn unnamed(&self) -> Vec<Arc<VerifyKey>> {
        self.snapshot().unnamed.clone()
    }

    pub fn len(&self) -> usize {
        let set = self.snapshot();
        set.by_kid.len() + set.unnamed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Re-reads the source unless the last attempt (failed or not) is younger than the
    /// minimum interval. Returns whether a fetch happened; on failure the old keys stay.
    pub async fn refresh(&self) -> Result<bool, JwtError> {
        let mut last = self.last_attempt.lock().await;
        let now = (self.clock)();
        if last.is_some_and(|t| now.saturating_duration_since(t) < self.min_interval) {
            return Ok(false);
        }
        *last = Some(now);
        let keys = self.fetch().await?;
        let mut slot = self.keys.write().unwrap_or_else(|e| e.into_inner());
        *slot = Arc::new(KeySet::new(keys));
        Ok(true)
    }

    async fn fetch(&self) -> Result<Vec<VerifyKey>, JwtError> {
        let bytes = match &self.source {
            Source::File(path) => read_capped(path, MAX_JWKS_BYTES as u64)
                .map_err(|reason| JwtError::KeysUnavailable { reason })?,
            Source::Url { url, client } => fetch_url(client, url)
                .await
                .map_err(|reason| JwtError::KeysUnavailable { reason })?,
        };
        parse_jwks(&bytes).map_err(|reason| JwtError::KeysUnavailable { reason })
    }
}

async fn fetch_url(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let mut response = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("JWKS request failed: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("JWKS request answered {}", response.status()));
    }
    let too_large = || format!("JWKS larger than {MAX_JWKS_BYTES} bytes");
    if response
        .content_length()
        .is_some_and(|len| len > MAX_JWKS_BYTES as u64)
    {
        return Err(too_large());
    }
    // Content-Length may be absent or wrong, so the cap is enforced while reading.
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("JWKS read failed: {e}"))?
    {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
#[path = "jwks_tests.rs"]
mod tests;
