use jsonwebtoken::{Algorithm, AlgorithmFamily};
use serde_json::json;

use super::*;
use crate::auth::jwt::JwtVerifier;
use crate::auth::jwt_config::JwtSettings;
use crate::auth::jwt_error::JwtError;
use crate::auth::jwt_test_support::*;

fn jwks_with(key: serde_json::Value) -> Vec<u8> {
    json!({ "keys": [key] }).to_string().into_bytes()
}

#[test]
fn parses_the_fixture_set() {
    let keys = parse_jwks(jwks_json().as_bytes()).unwrap();
    let kinds: Vec<_> = keys
        .iter()
        .map(|k| (k.kid.as_deref().unwrap(), k.family))
        .collect();
    assert_eq!(
        kinds,
        [
            ("rsa-1", AlgorithmFamily::Rsa),
            ("ec-1", AlgorithmFamily::Ec),
            ("ed-1", AlgorithmFamily::Ed)
        ]
    );
    assert_eq!(keys[0].alg, Some(Algorithm::RS256));
    assert!(keys[0].accepts(Algorithm::RS256) && !keys[0].accepts(Algorithm::PS256));
    assert!(keys[1].accepts(Algorithm::ES256) && !keys[1].accepts(Algorithm::RS256));
}

#[test]
fn skips_keys_that_are_not_for_signature_verification() {
    let fixture: serde_json::Value = serde_json::from_str(&jwks_json()).unwrap();
    let ec = fixture["keys"][1].clone();
    let mut skipped = vec![
        json!({ "kty": "oct", "kid": "h", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0" }),
        json!({ "kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA" }),
        json!({ "kty": "OKP", "kid": "x", "crv": "X25519", "x": ec["x"] }),
        // A 31-byte Ed25519 key would make jsonwebtoken panic on a slice index.
        json!({ "kty": "OKP", "kid": "short", "crv": "Ed25519", "x": b64(&[7u8; 31]) }),
        json!({ "kty": "RSA", "kid": "small", "n": b64(&[0xc5u8; 128]), "e": "AQAB" }),
        json!({ "kty": "EC", "kid": "off-curve", "crv": "P-256", "x": b64(&[1u8; 32]),
                "y": b64(&[2u8; 32]) }),
    ];
    for (field, value) in [
        ("use", json!("enc")),
        ("key_ops", json!(["encrypt"])),
        ("alg", json!("RS256")),
    ] {
        let mut key = ec.clone();
        key[field] = value;
        skipped.push(key);
    }
    for key in skipped {
        let err = parse_jwks(&jwks_with(key.clone())).unwrap_err();
        assert!(err.contains("no usable"), "{key}: {err}");
    }
    let mut padded = ec.clone();
    padded["x"] = json!(format!("{}=", ec["x"].as_str().unwrap()));
    assert_eq!(parse_jwks(&jwks_with(padded)).unwrap().len(), 1);
}

#[test]
fn refuses_non_jwks_documents_and_huge_sets() {
    assert!(parse_jwks(b"not json").is_err());
    assert!(parse_jwks(br#"{"keys":{}}"#).is_err());
    let fixture: serde_json::Value = serde_json::from_str(&jwks_json()).unwrap();
    let many: Vec<_> = (0..101).map(|_| fixture["keys"][1].clone()).collect();
    assert!(parse_jwks(json!({ "keys": many }).to_string().as_bytes()).is_err());
}

#[test]
fn duplicate_kid_keeps_the_first_key() {
    let fixture: serde_json::Value = serde_json::from_str(&jwks_json()).unwrap();
    let mut impostor = fixture["keys"][1].clone();
    impostor["kid"] = json!("rsa-1");
    let doc = json!({ "keys": [fixture["keys"][0], impostor] }).to_string();
    let set = KeySet::new(parse_jwks(doc.as_bytes()).unwrap());
    assert_eq!(set.by_kid["rsa-1"].family, AlgorithmFamily::Rsa);
}

fn url_settings(url: &str) -> JwtSettings {
    JwtSettings {
        jwks_url: Some(url.into()),
        ..JwtSettings::default()
    }
}

#[tokio::test]
async fn unknown_kid_refreshes_at_most_once_a_minute() {
    let server = JwksServer::start(jwks_subset(&["rsa-1"])).await;
    let clock = TestClock::new();
    let v = JwtVerifier::new_with_clock(&url_settings(&server.url), clock.clock()).unwrap();
    assert_eq!(server.count(), 0, "nothing is fetched before it is needed");

    let rsa = sign(Algorithm::RS256, Some("rsa-1"), &claims(json!({})));
    assert!(v.verify(&rsa).await.is_ok());
    assert_eq!(server.count(), 1);
    assert!(v.verify(&rsa).await.is_ok());
    assert_eq!(server.count(), 1, "a known kid is served from the cache");

    // The provider rotates in a new key, but we looked less than a minute ago.
    server.serve(jwks_json());
    let ec = sign(Algorithm::ES256, Some("ec-1"), &claims(json!({})));
    for _ in 0..5 {
        assert_eq!(v.verify(&ec).await.unwrap_err(), JwtError::UnknownKey);
    }
    clock.advance(59);
    assert_eq!(v.verify(&ec).await.unwrap_err(), JwtError::UnknownKey);
    assert_eq!(server.count(), 1);

    clock.advance(2);
    assert!(v.verify(&ec).await.is_ok());
    assert_eq!(server.count(), 2);

    let hostile = sign(
        Algorithm::RS256,
        Some("../../etc/passwd"),
        &claims(json!({})),
    );
    assert_eq!(v.verify(&hostile).await.unwrap_err(), JwtError::UnknownKey);
    assert_eq!(server.count(), 2);
    clock.advance(61);
    assert_eq!(v.verify(&hostile).await.unwrap_err(), JwtError::UnknownKey);
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn concurrent_misses_share_one_fetch() {
    let server = JwksServer::start(jwks_json()).await;
    let v = JwtVerifier::new_with_clock(&url_settings(&server.url), TestClock::new().clock());
    let v = std::sync::Arc::new(v.unwrap());
    let token = sign(Algorithm::EdDSA, Some("ed-1"), &claims(json!({})));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (v, token) = (v.clone(), token.clone());
            tokio::spawn(async move { v.verify(&token).await })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap().is_ok());
    }
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn failed_fetch_is_a_server_error_and_keeps_old_keys() {
    let server = JwksServer::start(jwks_subset(&["rsa-1"])).await;
    let clock = TestClock::new();
    let v = JwtVerifier::new_with_clock(&url_settings(&server.url), clock.clock()).unwrap();
    assert!(v.refresh_jwks().await.unwrap());
    server.serve("<html>oops</html>".into());
    clock.advance(61);
    let unknown = sign(Algorithm::RS256, Some("rsa-2"), &claims(json!({})));
    let err = v.verify(&unknown).await.unwrap_err();
    assert!(matches!(err, JwtError::KeysUnavailable { .. }) && !err.is_token_error());
    let known = sign(Algorithm::RS256, Some("rsa-1"), &claims(json!({})));
    assert!(v.verify(&known).await.is_ok());
}

#[tokio::test]
async fn oversized_jwks_response_is_refused() {
    let server = JwksServer::start(format!(
        "{{\"keys\":[],\"pad\":\"{}\"}}",
        "x".repeat(MAX_JWKS_BYTES)
    ))
    .await;
    let cache = JwksCache::from_url(&server.url, system_clock()).unwrap();
    let err = cache.refresh().await.unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
}

#[tokio::test]
async fn refresh_interval_is_configurable_and_file_source_reloads() {
    let cache = JwksCache::from_file(key_path("jwks.json")).unwrap();
    assert!(!cache.is_remote());
    assert_eq!(cache.len(), 3);
    assert!(
        !cache.refresh().await.unwrap(),
        "loading counts as the first attempt"
    );
    let cache = cache.with_min_interval(Duration::ZERO);
    assert!(cache.refresh().await.unwrap());
}

#[tokio::test]
async fn unreachable_url_times_out_as_keys_unavailable() {
    // Port 9 on loopback has no listener: connection refused, quickly.
    let cache = JwksCache::from_url("http://127.0.0.1:9/jwks", system_clock()).unwrap();
    let err = cache.refresh().await.unwrap_err();
    assert!(matches!(err, JwtError::KeysUnavailable { .. }));
}
