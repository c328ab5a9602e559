use jsonwebtoken::Algorithm;

use super::*;
use crate::auth::jwt::JwtVerifier;
use crate::auth::jwt_test_support::*;

#[derive(serde::Deserialize)]
struct File {
    jwt: JwtSettings,
}

fn from_toml(text: &str) -> Result<JwtSettings, toml::de::Error> {
    toml::from_str::<File>(text).map(|f| f.jwt)
}

fn setting_of(err: JwtError) -> &'static str {
    match err {
        JwtError::Config { setting, .. } => setting,
        other => panic!("not a config error: {other:?}"),
    }
}

#[test]
fn defaults_from_a_minimal_section() {
    let s = from_toml("[jwt]\njwks_url = \"https://idp.example/certs\"\n").unwrap();
    assert_eq!(s.leeway_secs, 30);
    assert_eq!(s.max_token_bytes, 8192);
    assert_eq!(s.roles_claim, "roles");
    assert_eq!(s.org_claim, "org");
    assert!(s.issuers.is_empty() && s.audience.is_empty() && s.algorithms.is_empty());
    s.validate().unwrap();
    let algs = s.allowed_algorithms(&[]).unwrap();
    assert_eq!(algs, [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA]);
}

#[test]
fn keycloak_style_section() {
    let s = from_toml(
        r#"[jwt]
        jwks_url = "https://sso.example/realms/city/protocol/openid-connect/certs"
        issuers = ["https://sso.example/realms/city"]
        audience = ["kaifang"]
        roles_claim = "realm_access.roles"
        algorithms = ["RS256", "PS256"]
        leeway_secs = 10
        "#,
    )
    .unwrap();
    s.validate().unwrap();
    assert_eq!(
        s.allowed_algorithms(&[]).unwrap(),
        [Algorithm::RS256, Algorithm::PS256]
    );
}

#[test]
fn unknown_settings_are_refused() {
    assert!(from_toml("[jwt]\nhs256_secert = \"x\"\n").is_err());
}

#[test]
fn invalid_settings_name_the_setting() {
    let secret = || Some(SECRET.to_string());
    let cases: Vec<(JwtSettings, &str)> = vec![
        (JwtSettings::default(), "hs256_secret"),
        (
            JwtSettings {
                hs256_secret: Some(String::new()),
                ..Default::default()
            },
            "hs256_secret",
        ),
        (
            JwtSettings {
                hs256_secret: Some("   ".into()),
                ..Default::default()
            },
            "hs256_secret",
        ),
        (
            JwtSettings {
                hs256_secret: Some("short".into()),
                ..Default::default()
            },
            "hs256_secret",
        ),
        (
            JwtSettings {
                algorithms: vec!["none".into()],
                ..hs_settings()
            },
            "algorithms",
        ),
        (
            JwtSettings {
                algorithms: vec!["NONE".into()],
                ..hs_settings()
            },
            "algorithms",
        ),
        (
            JwtSettings {
                algorithms: vec!["HS512".into()],
                ..hs_settings()
            },
            "algorithms",
        ),
        (
            JwtSettings {
                algorithms: vec!["ES384".into()],
                ..hs_settings()
            },
            "algorithms",
        ),
        (
            JwtSettings {
                algorithms: vec!["HS256".into()],
                ..pem_settings()
            },
            "algorithms",
        ),
        (
            JwtSettings {
                issuers: vec![" ".into()],
                ..hs_settings()
            },
            "issuers",
        ),
        (
            JwtSettings {
                audience: vec![String::new()],
                ..hs_settings()
            },
            "audience",
        ),
        (
            JwtSettings {
                leeway_secs: 301,
                ..hs_settings()
            },
            "leeway_secs",
        ),
        (
            JwtSettings {
                roles_claim: "realm_access..roles".into(),
                ..hs_settings()
            },
            "roles_claim",
        ),
        (
            JwtSettings {
                org_claim: String::new(),
                ..hs_settings()
            },
            "org_claim",
        ),
        (
            JwtSettings {
                max_token_bytes: 0,
                ..hs_settings()
            },
            "max_token_bytes",
        ),
        (
            JwtSettings {
                max_token_bytes: 1 << 20,
                ..hs_settings()
            },
            "max_token_bytes",
        ),
        (
            JwtSettings {
                jwks_file: Some(key_path("jwks.json")),
                jwks_url: Some("https://idp.example/certs".into()),
                hs256_secret: secret(),
                ..Default::default()
            },
            "jwks_url",
        ),
    ];
    for (settings, setting) in cases {
        let err = settings.validate().unwrap_err();
        assert!(
            err.to_string().starts_with(&format!("jwt.{setting}: ")),
            "{err}"
        );
        assert_eq!(setting_of(err), setting);
    }
}

#[test]
fn jwks_url_must_be_https_except_on_loopback() {
    let check = |url: &str| {
        JwtSettings {
            jwks_url: Some(url.into()),
            ..Default::default()
        }
        .validate()
    };
    for ok in [
        "https://idp.example/certs",
        "http://127.0.0.1:8080/jwks",
        "http://localhost/jwks",
        "http://[::1]:9/jwks",
    ] {
        assert!(check(ok).is_ok(), "{ok}");
    }
    for bad in [
        "http://idp.example/certs",
        "http://127.0.0.1.evil.example/jwks",
        "http://localhost.evil.example/jwks",
        "file:///etc/passwd",
        "ftp://idp.example/certs",
        "https://user:pass@idp.example/certs",
        "not a url",
    ] {
        assert_eq!(setting_of(check(bad).unwrap_err()), "jwks_url", "{bad}");
    }
}

#[test]
fn default_algorithms_follow_the_configured_keys() {
    let v = JwtVerifier::new(&hs_settings()).unwrap();
    assert_eq!(v.allowed_algorithms(), &[Algorithm::HS256]);
    let ed_only = JwtSettings {
        public_keys: vec![key_path("ed25519_public.pem")],
        ..Default::default()
    };
    assert_eq!(
        JwtVerifier::new(&ed_only).unwrap().allowed_algorithms(),
        &[Algorithm::EdDSA]
    );
}

#[test]
fn debug_output_hides_the_secret() {
    let text = format!("{:?}", hs_settings());
    assert!(!text.contains(SECRET) && text.contains("[redacted]"));
}

#[test]
fn bad_key_files_are_refused_with_the_setting_and_path() {
    let dir = std::env::temp_dir().join(format!("scratch-jwt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let private = dir.join("private.pem");
    std::fs::write(
        &private,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let garbage = dir.join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let cases = [
        (key_path("p384_public.pem"), "P-256"),
        (private, "private key"),
        (garbage, "malformed"),
        (key_path("jwks.json"), "no PEM block"),
        (dir.join("missing.pem"), "cannot open"),
    ];
    for (path, why) in cases {
        let settings = JwtSettings {
            public_keys: vec![path.clone()],
            ..Default::default()
        };
        let err = JwtVerifier::new(&settings).err().unwrap().to_string();
        assert!(err.starts_with("jwt.public_keys: "), "{err}");
        assert!(
            err.contains(&path.display().to_string()) && err.contains(why),
            "{err}"
        );
    }
    let bad_jwks = JwtSettings {
        jwks_file: Some(key_path("rsa_public.pem")),
        ..Default::default()
    };
    let err = JwtVerifier::new(&bad_jwks).err().unwrap().to_string();
    assert!(err.starts_with("jwt.jwks_file: "), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
