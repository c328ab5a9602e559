//! `kaifang token`: signs a JWT with the configured HS256 secret, for
//! scripts, tests and the demo; real deployments take tokens from their
//! identity provider.

use serde_json::{Map, Value, json};

use crate::auth::jwt::sign_hs256;
use crate::auth::jwt_config::JwtSettings;
use crate::error::{Error, Result};

/// Parses a lifetime such as `90s`, `30m`, `1h` or `7d`.
pub fn parse_ttl(text: &str) -> Result<i64> {
    let text = text.trim();
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = digits.parse().map_err(|_| bad_ttl(text))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad_ttl(text)),
    };
    match n.checked_mul(scale) {
        Some(secs) if secs > 0 && secs <= 366 * 86_400 => Ok(secs),
        _ => Err(bad_ttl(text)),
    }
}

fn bad_ttl(text: &str) -> Error {
    Error::bad_request(format!(
        "--ttl must be a lifetime such as 90s, 30m, 1h or 7d (at most a year), not '{text}'"
    ))
}

/// Puts `value` at the dotted `path` of `claims` (`realm_access.roles`).
fn put(claims: &mut Map<String, Value>, path: &str, value: Value) {
    let mut parts = path.split('.').peekable();
    let mut here = claims;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            here.insert(part.to_string(), value);
            return;
        }
        let next = here
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        match next.as_object_mut() {
            Some(map) => here = map,
            None => return,
        }
    }
}

/// Claims a `--claim` may not set: they have a meaning of their own, and a
/// second spelling of them would contradict the flags that set them.
const RESERVED: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// Parses `NAME=VALUE`: an attribute claim that row filters read as
/// `:principal.NAME`. Names follow the verifier's rule for kept attributes.
pub fn parse_claim(text: &str) -> Result<(String, String)> {
    let (name, value) = text.split_once('=').ok_or_else(|| {
        Error::bad_request(format!(
            "--claim must be NAME=VALUE (for example departement=75), not '{text}'"
        ))
    })?;
    let name = name.trim();
    if name.is_empty()
        || name.len() > 64
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(Error::bad_request(format!(
            "--claim name '{name}' must be 1 to 64 letters, digits or '_'"
        )));
    }
    if RESERVED.contains(&name) {
        return Err(Error::bad_request(format!(
            "--claim cannot set '{name}': use --sub and --ttl, or the configured issuer and audience"
        )));
    }
    Ok((name.to_string(), value.to_string()))
}

/// What a token says about its holder.
pub struct TokenSpec<'a> {
    pub subject: &'a str,
    pub roles: &'a [String],
    pub org: Option<&'a str>,
    /// Attribute claims (`--claim`), put at the top level of the payload.
    pub claims: &'a [(String, String)],
    pub ttl_secs: i64,
}

/// A token for `subject` with `roles` (and `org`), valid `ttl_secs` from now.
pub fn sign(
    jwt: &JwtSettings,
    subject: &str,
    roles: &[String],
    org: Option<&str>,
    ttl_secs: i64,
) -> Result<String> {
    sign_spec(
        jwt,
        &TokenSpec {
            subject,
            roles,
            org,
            claims: &[],
            ttl_secs,
        },
    )
}

/// A token for `spec.subject` with its roles, organisation and attributes,
/// valid `spec.ttl_secs` from now.
pub fn sign_spec(jwt: &JwtSettings, spec: &TokenSpec<'_>) -> Result<String> {
    let TokenSpec {
        subject,
        roles,
        org,
        claims: extra,
        ttl_secs,
    } = *spec;
    let secret = jwt.hs256_secret.as_deref().ok_or_else(|| {
        Error::bad_request(
            "signing needs jwt.hs256_secret (or KAIFANG_JWT_HS256_SECRET) in the configuration",
        )
    })?;
    let now = chrono::Utc::now().timestamp();
    let mut claims = Map::new();
    for (name, value) in extra {
        claims.insert(name.clone(), json!(value));
    }
    claims.insert("sub".into(), json!(subject));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + ttl_secs));
    if let Some(iss) = jwt.issuers.first() {
        claims.insert("iss".into(), json!(iss));
    }
    if let Some(aud) = jwt.audience.first() {
        claims.insert("aud".into(), json!(aud));
    }
    put(&mut claims, &jwt.roles_claim, json!(roles));
    if let Some(org) = org {
        put(&mut claims, &jwt.org_claim, json!(org));
    }
    sign_hs256(secret.as_bytes(), &Value::Object(claims))
        .map_err(|e| Error::bad_request(format!("cannot sign the token: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes() {
        assert_eq!(parse_ttl("90s").unwrap(), 90);
        assert_eq!(parse_ttl("30m").unwrap(), 1800);
        assert_eq!(parse_ttl("1h").unwrap(), 3600);
        assert_eq!(parse_ttl("7d").unwrap(), 604_800);
        assert_eq!(parse_ttl("120").unwrap(), 120);
        for bad in ["", "h", "0s", "-1h", "1y", "400d", "1.5h"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn signed_tokens_verify_with_nested_role_claims() {
        let jwt = JwtSettings {
            hs256_secret: Some("0123456789abcdef0123456789abcdef".into()),
            roles_claim: "realm_access.roles".into(),
            issuers: vec!["https://id.example".into()],
            ..JwtSettings::default()
        };
        let token = sign(&jwt, "alice", &["researcher".into()], Some("ons"), 60).unwrap();
        let verifier = crate::auth::jwt::JwtVerifier::new(&jwt).unwrap();
        let claims = verifier.verify(&token).await.unwrap();
        assert_eq!(claims.subject, "alice");
        assert_eq!(claims.roles, ["researcher"]);
        assert_eq!(claims.org.as_deref(), Some("ons"));
    }

    #[tokio::test]
    async fn attribute_claims_reach_the_principal() {
        let jwt = JwtSettings {
            hs256_secret: Some("0123456789abcdef0123456789abcdef".into()),
            ..JwtSettings::default()
        };
        let claims = [parse_claim("departement=75").unwrap()];
        let spec = TokenSpec {
            subject: "bob",
            roles: &[],
            org: None,
            claims: &claims,
            ttl_secs: 60,
        };
        let token = sign_spec(&jwt, &spec).unwrap();
        let verifier = crate::auth::jwt::JwtVerifier::new(&jwt).unwrap();
        let verified = verifier.verify(&token).await.unwrap();
        assert_eq!(verified.subject, "bob");
        assert_eq!(
            verified.attributes.get("departement").map(String::as_str),
            Some("75")
        );
    }

    #[test]
    fn claims_are_name_value_and_cannot_override_registered_ones() {
        assert_eq!(
            parse_claim("state=NY").unwrap(),
            ("state".to_string(), "NY".to_string())
        );
        assert_eq!(parse_claim("note=a=b").unwrap().1, "a=b");
        for bad in ["state", "=x", "sub=eve", "exp=1", "a-b=1", "é=1"] {
            assert!(parse_claim(bad).is_err(), "{bad}");
        }
    }
}
