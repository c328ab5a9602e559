use jsonwebtoken::Algorithm;
use serde_json::json;

use super::*;
use crate::auth::jwt_test_support::*;

fn verifier(settings: &JwtSettings) -> JwtVerifier {
    JwtVerifier::new(settings).unwrap()
}

#[tokio::test]
async fn hs256_happy_path_fills_claims() {
    let settings = JwtSettings {
        issuers: vec!["kaifang".into()],
        ..hs_settings()
    };
    let exp = now() + 300;
    let token = sign_hs256(
        SECRET.as_bytes(),
        &claims(
            json!({ "iss": "kaifang", "exp": exp, "roles": ["reader"], "org": "city",
            "departement": "2A", "level": 3, "ok": true, "nested": {"a": 1}, "bad name": "x" }),
        ),
    )
    .unwrap();
    let got = verifier(&settings).verify(&token).await.unwrap();
    assert_eq!(
        got,
        Claims {
            subject: "alice".into(),
            roles: vec!["reader".into()],
            org: Some("city".into()),
            key_id: None,
            issuer: Some("kaifang".into()),
            expires_at: exp,
            attributes: [
                ("departement".to_string(), "2A".to_string()),
                ("level".to_string(), "3".to_string()),
                ("ok".to_string(), "true".to_string()),
            ]
            .into(),
        }
    );
}

#[tokio::test]
async fn rs256_es256_eddsa_happy_paths_with_pem_keys() {
    let v = verifier(&pem_settings());
    assert_eq!(
        v.allowed_algorithms(),
        &[Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA]
    );
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        let got = v.verify(&sign(alg, None, &claims(json!({})))).await;
        assert_eq!(got.unwrap().subject, "alice", "{alg:?}");
    }
}

#[tokio::test]
async fn pkcs1_rsa_pem_and_ps256_when_listed() {
    let settings = JwtSettings {
        public_keys: vec![key_path("rsa_public_pkcs1.pem")],
        algorithms: vec!["PS256".into()],
        ..JwtSettings::default()
    };
    let v = verifier(&settings);
    assert!(
        v.verify(&sign(Algorithm::PS256, None, &claims(json!({}))))
            .await
            .is_ok()
    );
    let rs = v
        .verify(&sign(Algorithm::RS256, None, &claims(json!({}))))
        .await;
    assert_eq!(rs.unwrap_err(), JwtError::AlgorithmNotAllowed);
}

#[tokio::test]
async fn jwks_file_keys_are_picked_by_kid() {
    let settings = JwtSettings {
        jwks_file: Some(key_path("jwks.json")),
        ..JwtSettings::default()
    };
    let v = verifier(&settings);
    for (alg, kid) in [
        (Algorithm::RS256, "rsa-1"),
        (Algorithm::ES256, "ec-1"),
        (Algorithm::EdDSA, "ed-1"),
    ] {
        let got = v
            .verify(&sign(alg, Some(kid), &claims(json!({}))))
            .await
            .unwrap();
        assert_eq!(got.key_id.as_deref(), Some(kid));
    }
}

#[tokio::test]
async fn roles_from_keycloak_realm_access() {
    let settings = JwtSettings {
        roles_claim: "realm_access.roles".into(),
        ..hs_settings()
    };
    let body = claims(json!({
        "realm_access": { "roles": ["offline_access", "data:reader", "default-roles-city"] },
        "roles": ["ignored"]
    }));
    let token = sign_hs256(SECRET.as_bytes(), &body).unwrap();
    let got = verifier(&settings).verify(&token).await.unwrap();
    assert_eq!(
        got.roles,
        ["offline_access", "data:reader", "default-roles-city"]
    );
}

#[tokio::test]
async fn roles_single_string_absent_or_malformed() {
    let v = verifier(&hs_settings());
    let verify = |extra| {
        let token = sign_hs256(SECRET.as_bytes(), &claims(extra)).unwrap();
        let v = &v;
        async move { v.verify(&token).await }
    };
    assert_eq!(
        verify(json!({ "roles": "admin" })).await.unwrap().roles,
        ["admin"]
    );
    assert!(verify(json!({})).await.unwrap().roles.is_empty());
    let bad_role = JwtError::InvalidClaim("roles");
    for roles in [
        json!(["ok", "has space"]),
        json!(["a\"b"]),
        json!(["x".repeat(101)]),
        json!([""]),
        json!([1, 2]),
        json!({ "admin": true }),
        json!(42),
    ] {
        assert_eq!(
            verify(json!({ "roles": roles })).await.unwrap_err(),
            bad_role
        );
    }
    assert!(verify(json!({ "roles": ["x".repeat(100)] })).await.is_ok());
}

#[tokio::test]
async fn org_claim_path_and_type() {
    let settings = JwtSettings {
        org_claim: "tenant.id".into(),
        ..hs_settings()
    };
    let v = verifier(&settings);
    let token = sign_hs256(
        SECRET.as_bytes(),
        &claims(json!({ "tenant": { "id": "t1" } })),
    );
    assert_eq!(
        v.verify(&token.unwrap()).await.unwrap().org.as_deref(),
        Some("t1")
    );
    let token = sign_hs256(SECRET.as_bytes(), &claims(json!({ "tenant": { "id": 7 } })));
    assert_eq!(
        v.verify(&token.unwrap()).await.unwrap_err(),
        JwtError::InvalidClaim("org")
    );
}

#[tokio::test]
async fn subject_rules() {
    let v = verifier(&hs_settings());
    let check = |sub: serde_json::Value| {
        let token = sign_hs256(SECRET.as_bytes(), &claims(json!({ "sub": sub }))).unwrap();
        let v = &v;
        async move { v.verify(&token).await }
    };
    assert!(check(json!("x".repeat(200))).await.is_ok());
    for bad in [
        json!(""),
        json!("x".repeat(201)),
        json!("a\nb"),
        json!("a\u{7f}"),
        json!(12),
    ] {
        assert_eq!(check(bad).await.unwrap_err(), JwtError::InvalidClaim("sub"));
    }
    let token = sign_hs256(SECRET.as_bytes(), &claims(json!({ "sub": null }))).unwrap();
    assert_eq!(
        v.verify(&token).await.unwrap_err(),
        JwtError::MissingClaim("sub")
    );
}

#[tokio::test]
async fn expired_within_leeway_and_nbf_within_leeway_are_accepted() {
    let v = verifier(&hs_settings());
    let body = claims(json!({ "exp": now() - 10, "nbf": now() + 10, "iat": now() + 10 }));
    assert!(
        v.verify(&sign_hs256(SECRET.as_bytes(), &body).unwrap())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn audience_string_or_list_and_unconfigured_audience() {
    let settings = JwtSettings {
        audience: vec!["kaifang".into()],
        ..hs_settings()
    };
    let v = verifier(&settings);
    for aud in [json!("kaifang"), json!(["account", "kaifang"])] {
        let token = sign_hs256(SECRET.as_bytes(), &claims(json!({ "aud": aud }))).unwrap();
        assert!(v.verify(&token).await.is_ok());
    }
    // Keycloak always sends aud; with none configured it must not be refused.
    let token = sign_hs256(SECRET.as_bytes(), &claims(json!({ "aud": "account" }))).unwrap();
    assert!(verifier(&hs_settings()).verify(&token).await.is_ok());
}

#[test]
fn sign_hs256_refuses_empty_secret_and_non_object_claims() {
    let err = sign_hs256(b"", &claims(json!({}))).unwrap_err();
    assert!(err.to_string().contains("jwt.hs256_secret"));
    assert_eq!(
        sign_hs256(SECRET.as_bytes(), &json!([1])).unwrap_err(),
        JwtError::Signing
    );
}

#[test]
fn descriptions_are_header_safe() {
    let all = [
        JwtError::config("x", "a \"quoted\" \\ reason"),
        JwtError::key("file", "why"),
        JwtError::KeysUnavailable {
            reason: "down".into(),
        },
        JwtError::Signing,
        JwtError::TooLarge,
        JwtError::Malformed,
        JwtError::AlgorithmNotAllowed,
        JwtError::UnknownKey,
        JwtError::KeyMismatch,
        JwtError::BadSignature,
        JwtError::Expired,
        JwtError::NotYetValid,
        JwtError::IssuedInFuture,
        JwtError::MissingClaim("iss"),
        JwtError::InvalidClaim("roles"),
        JwtError::WrongIssuer,
        JwtError::WrongAudience,
    ];
    for err in all {
        let d = err.description();
        assert!(!d.is_empty() && d.len() < 60, "{d}");
        assert!(d.bytes().all(|b| b.is_ascii_graphic() || b == b' '), "{d}");
        assert!(!d.contains('"') && !d.contains('\\'), "{d}");
    }
    assert!(
        !JwtError::KeysUnavailable {
            reason: String::new()
        }
        .is_token_error()
    );
    assert!(JwtError::Expired.is_token_error());
}
