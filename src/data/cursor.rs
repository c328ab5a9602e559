//! Keyset cursors: the sort-key values of the last row of a page, with the
//! version they belong to and a fingerprint of the query, signed with the
//! instance key so that an altered cursor is refused rather than obeyed.
//! A cursor is opaque to callers: base64url(payload) "." base64url(mac).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// Longest cursor accepted, far above any real one.
const MAX_CURSOR_LEN: usize = 8192;

/// The key that signs cursors, shared by every instance of a deployment.
#[derive(Clone)]
pub struct CursorKey(Vec<u8>);

impl CursorKey {
    pub fn new(bytes: Vec<u8>) -> CursorKey {
        CursorKey(bytes)
    }

    fn mac(&self) -> Result<HmacSha256> {
        HmacSha256::new_from_slice(&self.0)
            .map_err(|e| Error::internal("cursor key", e.to_string()))
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey([redacted])")
    }
}

/// What a cursor says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CursorPayload {
    /// Dataset id the page came from.
    pub d: i64,
    /// Version id the page came from.
    pub v: i64,
    /// Fingerprint of the filter and order the page was made with.
    pub q: String,
    /// Sort-key values of the last row, the row number last.
    pub k: Vec<serde_json::Value>,
}

/// A short hash of the parts of a query that a cursor depends on.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

pub fn encode(key: &CursorKey, payload: &CursorPayload) -> Result<String> {
    let json = serde_json::to_vec(payload).map_err(|e| Error::internal("encoding a cursor", e))?;
    let mut mac = key.mac()?;
    mac.update(&json);
    let tag = mac.finalize().into_bytes();
    Ok(format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&json),
        URL_SAFE_NO_PAD.encode(tag.get(..16).unwrap_or(&tag))
    ))
}

fn invalid() -> Error {
    Error::bad_request(
        "the cursor is invalid or was altered; pass next_cursor exactly as received, or start again without cursor",
    )
}

/// Checks the signature (in constant time) and returns the payload.
pub fn decode(key: &CursorKey, cursor: &str) -> Result<CursorPayload> {
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(invalid());
    }
    let (body, tag) = cursor.split_once('.').ok_or_else(invalid)?;
    let json = URL_SAFE_NO_PAD.decode(body).map_err(|_| invalid())?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
    // A short tag would be easy to guess: only the full 16 bytes count.
    if tag.len() != 16 {
        return Err(invalid());
    }
    let mut mac = key.mac()?;
    mac.update(&json);
    mac.verify_truncated_left(&tag).map_err(|_| invalid())?;
    serde_json::from_slice(&json).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CursorKey {
        CursorKey::new(b"0123456789abcdef0123456789abcdef".to_vec())
    }

    #[test]
    fn round_trip() {
        let p = CursorPayload {
            d: 7,
            v: 3,
            q: fingerprint(&["carrier = 'UA'", "dep_delay"]),
            k: vec![serde_json::json!(12), serde_json::json!(99)],
        };
        let c = encode(&key(), &p).unwrap();
        assert_eq!(decode(&key(), &c).unwrap(), p);
    }

    #[test]
    fn tampering_is_refused() {
        let p = CursorPayload {
            d: 7,
            v: 1,
            q: "x".into(),
            k: vec![serde_json::json!(100)],
        };
        let c = encode(&key(), &p).unwrap();
        let forged = CursorPayload {
            k: vec![serde_json::json!(5)],
            ..p
        };
        let forged_body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let tag = c.split_once('.').unwrap().1;
        assert!(decode(&key(), &format!("{forged_body}.{tag}")).is_err());
        assert!(decode(&key(), "garbage").is_err());
        assert!(decode(&key(), "a.b").is_err());
        assert!(decode(&key(), &c[..c.len() - 2]).is_err());
        let other = CursorKey::new(b"another key of thirty-two bytes!".to_vec());
        assert!(decode(&other, &c).is_err());
    }

    #[test]
    fn fingerprints_separate_parts() {
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
    }
}
