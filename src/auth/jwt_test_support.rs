//! Fixtures shared by the JWT test modules: the committed keys under tests/keys,
//! token builders and a tiny JWKS server on 127.0.0.1.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::jwks::Clock;
use super::jwt_config::JwtSettings;

pub const SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";

pub fn key_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/keys")
        .join(name)
}

pub fn key_bytes(name: &str) -> Vec<u8> {
    std::fs::read(key_path(name)).unwrap()
}

pub fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

/// Valid claims for a minute from now; `extra` overrides or adds fields (null removes).
pub fn claims(extra: Value) -> Value {
    let mut base = json!({ "sub": "alice", "iat": now(), "exp": now() + 300 });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

pub fn encoding_key(alg: Algorithm) -> EncodingKey {
    match alg {
        Algorithm::HS256 => EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
        Algorithm::RS256 | Algorithm::PS256 => {
            EncodingKey::from_rsa_der(&key_bytes("rsa_private_pkcs1.der"))
        }
        Algorithm::ES256 => EncodingKey::from_ec_der(&key_bytes("ec_private_pkcs8.der")),
        Algorithm::EdDSA => EncodingKey::from_ed_der(&key_bytes("ed25519_private_pkcs8.der")),
        other => panic!("no test key for {other:?}"),
    }
}

pub fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &encoding_key(alg)).unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token from raw parts, for shapes jsonwebtoken would never produce.
pub fn raw_token(header: &str, payload: &str, signature: &str) -> String {
    format!(
        "{}.{}.{}",
        b64(header.as_bytes()),
        b64(payload.as_bytes()),
        signature
    )
}

/// An HMAC-signed token over arbitrary header and payload bytes.
pub fn hmac_token(secret: &[u8], header: &str, payload: &str) -> String {
    let message = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let key = EncodingKey::from_secret(secret).unwrap();
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).unwrap();
    format!("{message}.{sig}")
}

pub fn hs_settings() -> JwtSettings {
    JwtSettings {
        hs256_secret: Some(SECRET.into()),
        ..JwtSettings::default()
    }
}

pub fn pem_settings() -> JwtSettings {
    JwtSettings {
        public_keys: vec![
            key_path("rsa_public.pem"),
            key_path("ec_public.pem"),
            key_path("ed25519_public.pem"),
        ],
        ..JwtSettings::default()
    }
}

pub fn jwks_json() -> String {
    String::from_utf8(key_bytes("jwks.json")).unwrap()
}

/// A JWKS containing only the keys whose kid is listed.
pub fn jwks_subset(kids: &[&str]) -> String {
    let all: Value = serde_json::from_str(&jwks_json()).unwrap();
    let keys: Vec<Value> = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| kids.contains(&k["kid"].as_str().unwrap()))
        .cloned()
        .collect();
    json!({ "keys": keys }).to_string()
}

/// A clock that only moves when told to.
#[derive(Clone)]
pub struct TestClock {
    start: Instant,
    offset_secs: Arc<AtomicU64>,
}

impl TestClock {
    pub fn new() -> Self {
        TestClock {
            start: Instant::now(),
            offset_secs: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn advance(&self, secs: u64) {
        self.offset_secs.fetch_add(secs, Ordering::SeqCst);
    }

    pub fn clock(&self) -> Clock {
        let this = self.clone();
        Arc::new(move || this.start + Duration::from_secs(this.offset_secs.load(Ordering::SeqCst)))
    }
}

/// Serves `body` as JSON to every request and counts the requests.
pub struct JwksServer {
    pub url: String,
    pub fetches: Arc<AtomicUsize>,
    pub body: Arc<Mutex<String>>,
}

impl JwksServer {
    pub async fn start(body: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let fetches = Arc::new(AtomicUsize::new(0));
        let body = Arc::new(Mutex::new(body));
        let (count, served) = (Arc::clone(&fetches), Arc::clone(&body));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                let body = served.lock().unwrap().clone();
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        JwksServer { url, fetches, body }
    }

    pub fn count(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    pub fn serve(&self, body: String) {
        *self.body.lock().unwrap() = body;
    }
}
