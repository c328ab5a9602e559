//! Tokens an attacker would send; each must be refused with the expected reason.

use jsonwebtoken::Algorithm;
use serde_json::json;

use super::*;
use crate::auth::jwt_test_support::*;

async fn refused(settings: &JwtSettings, token: &str) -> JwtError {
    JwtVerifier::new(settings)
        .unwrap()
        .verify(token)
        .await
        .unwrap_err()
}

fn hs(extra: serde_json::Value) -> String {
    sign_hs256(SECRET.as_bytes(), &claims(extra)).unwrap()
}

fn jwks_file_settings() -> JwtSettings {
    JwtSettings {
        jwks_file: Some(key_path("jwks.json")),
        ..JwtSettings::default()
    }
}

#[tokio::test]
async fn alg_none_is_refused_in_any_spelling() {
    let payload = claims(json!({})).to_string();
    for alg in ["none", "None", "NONE"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        let token = raw_token(&header, &payload, "AA");
        assert_eq!(
            refused(&hs_settings(), &token).await,
            JwtError::AlgorithmNotAllowed
        );
        // The classic form has an empty signature, which is not even a JWS.
        let unsigned = format!("{}.{}.", b64(header.as_bytes()), b64(payload.as_bytes()));
        assert_eq!(
            refused(&hs_settings(), &unsigned).await,
            JwtError::Malformed
        );
    }
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let pem = key_bytes("rsa_public.pem");
    let payload = claims(json!({})).to_string();
    let token = hmac_token(&pem, r#"{"alg":"HS256","typ":"JWT"}"#, &payload);
    assert_eq!(
        refused(&pem_settings(), &token).await,
        JwtError::AlgorithmNotAllowed
    );
    // Same with a kid naming the RSA key of a JWKS.
    let token = hmac_token(&pem, r#"{"alg":"HS256","kid":"rsa-1"}"#, &payload);
    assert_eq!(
        refused(&jwks_file_settings(), &token).await,
        JwtError::AlgorithmNotAllowed
    );
    // Even with HS256 allowed, HMAC is checked only with the configured secret.
    let both = JwtSettings {
        hs256_secret: Some(SECRET.into()),
        public_keys: vec![key_path("rsa_public.pem")],
        algorithms: vec!["HS256".into(), "RS256".into()],
        ..JwtSettings::default()
    };
    assert_eq!(refused(&both, &token).await, JwtError::BadSignature);
}

#[tokio::test]
async fn time_claims() {
    let s = hs_settings();
    assert_eq!(
        refused(&s, &hs(json!({ "exp": now() - 31 }))).await,
        JwtError::Expired
    );
    assert_eq!(
        refused(&s, &hs(json!({ "nbf": now() + 60 }))).await,
        JwtError::NotYetValid
    );
    assert_eq!(
        refused(&s, &hs(json!({ "iat": now() + 60 }))).await,
        JwtError::IssuedInFuture
    );
    assert_eq!(
        refused(&s, &hs(json!({ "exp": null }))).await,
        JwtError::MissingClaim("exp")
    );
    let bad_exp = refused(&s, &hs(json!({ "exp": "tomorrow" }))).await;
    assert_eq!(bad_exp, JwtError::MissingClaim("exp"));
    let bad_iat = refused(&s, &hs(json!({ "iat": "now" }))).await;
    assert_eq!(bad_iat, JwtError::InvalidClaim("iat"));
}

#[tokio::test]
async fn issuer_must_match_and_be_present_when_configured() {
    let s = JwtSettings {
        issuers: vec!["https://idp.example".into()],
        ..hs_settings()
    };
    assert_eq!(
        refused(&s, &hs(json!({ "iss": "https://evil" }))).await,
        JwtError::WrongIssuer
    );
    assert_eq!(
        refused(&s, &hs(json!({}))).await,
        JwtError::MissingClaim("iss")
    );
}

#[tokio::test]
async fn audience_must_match_and_be_present_when_configured() {
    let s = JwtSettings {
        audience: vec!["kaifang".into()],
        ..hs_settings()
    };
    assert_eq!(
        refused(&s, &hs(json!({ "aud": "other" }))).await,
        JwtError::WrongAudience
    );
    assert_eq!(
        refused(&s, &hs(json!({ "aud": ["a", "b"] }))).await,
        JwtError::WrongAudience
    );
    assert_eq!(
        refused(&s, &hs(json!({}))).await,
        JwtError::MissingClaim("aud")
    );
}

#[tokio::test]
async fn bad_signatures() {
    let other = sign_hs256(b"another-secret-another-secret-12345", &claims(json!({}))).unwrap();
    assert_eq!(
        refused(&hs_settings(), &other).await,
        JwtError::BadSignature
    );

    let token = sign(Algorithm::RS256, None, &claims(json!({})));
    let (message, sig) = token.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{message}.{flipped}{}", &sig[1..]);
    assert_eq!(
        refused(&pem_settings(), &tampered).await,
        JwtError::BadSignature
    );

    // A valid signature moved onto another payload.
    let (header, _) = message.split_once('.').unwrap();
    let forged_payload = b64(claims(json!({ "sub": "admin" })).to_string().as_bytes());
    let forged = format!("{header}.{forged_payload}.{sig}");
    assert_eq!(
        refused(&pem_settings(), &forged).await,
        JwtError::BadSignature
    );
}

#[tokio::test]
async fn unknown_and_hostile_kids_are_just_unknown() {
    let s = jwks_file_settings();
    for kid in ["nope", "../../etc/passwd", "' OR 1=1 --", "/dev/zero", ""] {
        let token = sign(Algorithm::RS256, Some(kid), &claims(json!({})));
        assert_eq!(refused(&s, &token).await, JwtError::UnknownKey, "{kid}");
    }
    // A known kid of another key type.
    let token = sign(Algorithm::RS256, Some("ec-1"), &claims(json!({})));
    assert_eq!(refused(&s, &token).await, JwtError::KeyMismatch);
    // No kid, and the JWKS has no kid-less key.
    let token = sign(Algorithm::RS256, None, &claims(json!({})));
    assert_eq!(refused(&s, &token).await, JwtError::UnknownKey);
}

#[tokio::test]
async fn algorithm_outside_the_allowed_list() {
    let s = JwtSettings {
        algorithms: vec!["RS256".into()],
        ..pem_settings()
    };
    let token = sign(Algorithm::ES256, None, &claims(json!({})));
    assert_eq!(refused(&s, &token).await, JwtError::AlgorithmNotAllowed);
    let token = raw_token(r#"{"alg":"HS384"}"#, "{}", "AA");
    assert_eq!(
        refused(&hs_settings(), &token).await,
        JwtError::AlgorithmNotAllowed
    );
}

#[tokio::test]
async fn oversized_token_is_refused_before_decoding() {
    // Not even valid base64: the size check must come first.
    let token = "!".repeat(100 * 1024);
    assert_eq!(refused(&hs_settings(), &token).await, JwtError::TooLarge);
    let padded = hs(json!({ "pad": "x".repeat(9000) }));
    assert_eq!(refused(&hs_settings(), &padded).await, JwtError::TooLarge);
}

#[tokio::test]
async fn malformed_structure_and_base64() {
    let good = hs(json!({}));
    let (h, rest) = good.split_once('.').unwrap();
    for token in [
        String::new(),
        "abc".into(),
        "a.b".into(),
        format!("{good}.extra"),
        format!("{h}=.{rest}"),
        format!("{h}!.{rest}"),
        format!(" {good}"),
        format!("{h}.{}", rest.replace('.', "..")),
    ] {
        assert_eq!(
            refused(&hs_settings(), &token).await,
            JwtError::Malformed,
            "{token}"
        );
    }
}

#[tokio::test]
async fn malformed_json_header_and_payload() {
    let s = hs_settings();
    let payload = claims(json!({})).to_string();
    for header in [
        r#"{"alg":"HS256""#,
        "not json",
        r#"{"typ":"JWT"}"#,
        r#"{"alg":256}"#,
    ] {
        let token = raw_token(header, &payload, "AA");
        assert_eq!(refused(&s, &token).await, JwtError::Malformed, "{header}");
    }
    let kid_not_string = raw_token(r#"{"alg":"HS256","kid":7}"#, &payload, "AA");
    assert_eq!(refused(&s, &kid_not_string).await, JwtError::Malformed);
    // Correctly signed, but the payload is not JSON / not an object.
    for bad in ["{\"sub\":", "[1,2]", "\"text\""] {
        let token = hmac_token(SECRET.as_bytes(), r#"{"alg":"HS256"}"#, bad);
        assert_eq!(refused(&s, &token).await, JwtError::Malformed, "{bad}");
    }
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    let header = r#"{"alg":"HS256","crit":["b64"],"b64":false}"#;
    let token = hmac_token(SECRET.as_bytes(), header, &claims(json!({})).to_string());
    assert_eq!(refused(&hs_settings(), &token).await, JwtError::Malformed);
}

#[tokio::test]
async fn jku_and_jwk_headers_are_ignored() {
    // An attacker-supplied key in the header must not be used: the token still has to
    // verify against a configured key.
    let header = r#"{"alg":"HS256","jku":"http://127.0.0.1:1/k","jwk":{"kty":"oct","k":"AA"}}"#;
    let forged = hmac_token(b"attacker-secret-attacker-secret-1", header, "{}");
    assert_eq!(
        refused(&hs_settings(), &forged).await,
        JwtError::BadSignature
    );
}
