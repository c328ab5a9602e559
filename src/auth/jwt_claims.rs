//! Turning a verified payload into `Claims`, with the checks jsonwebtoken does not do.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::jwt_error::JwtError;

/// What the gateway learns from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub subject: String,
    pub roles: Vec<String>,
    pub org: Option<String>,
    /// The `kid` of the header, when the token named its key.
    pub key_id: Option<String>,
    pub issuer: Option<String>,
    /// `exp`, seconds since the Unix epoch.
    pub expires_at: i64,
    /// Other top-level claims with a short text, whole-number or boolean
    /// value (e.g. `departement`), as text: what row filters may name as
    /// `:principal.<name>`. Registered claims and the roles and
    /// organisation claims are not repeated here.
    pub attributes: BTreeMap<String, String>,
}

const MAX_SUBJECT_BYTES: usize = 200;
const MAX_ORG_BYTES: usize = 200;
const MAX_ROLE_BYTES: usize = 100;
const MAX_ROLES: usize = 256;
const MAX_ATTRIBUTES: usize = 32;
const MAX_ATTRIBUTE_NAME: usize = 64;
const MAX_ATTRIBUTE_BYTES: usize = 200;
/// Claims with a meaning of their own, never kept as attributes.
const REGISTERED: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

pub(crate) struct ClaimRules<'a> {
    pub roles_path: &'a [String],
    pub org_path: &'a [String],
    pub leeway: u64,
    pub now: u64,
}

pub(crate) fn extract(
    payload: &Value,
    rules: &ClaimRules<'_>,
    key_id: Option<String>,
) -> Result<Claims, JwtError> {
    let map = payload.as_object().ok_or(JwtError::Malformed)?;
    // jsonwebtoken ignores iat; a token from the future means a broken or forged issuer.
    if let Some(iat) = map.get("iat") {
        let iat = numeric(iat).ok_or(JwtError::InvalidClaim("iat"))?;
        if iat > rules.now.saturating_add(rules.leeway) as i64 {
            return Err(JwtError::IssuedInFuture);
        }
    }
    let expires_at = map
        .get("exp")
        .and_then(numeric)
        .ok_or(JwtError::InvalidClaim("exp"))?;
    let subject = match map.get("sub") {
        None | Some(Value::Null) => return Err(JwtError::MissingClaim("sub")),
        Some(Value::String(s)) if is_clean_text(s, MAX_SUBJECT_BYTES) => s.clone(),
        Some(_) => return Err(JwtError::InvalidClaim("sub")),
    };
    let issuer = match map.get("iss") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        // RFC 7519 §4.1.1 makes iss one string; jsonwebtoken would also accept a list.
        Some(_) => return Err(JwtError::InvalidClaim("iss")),
    };
    let org = match lookup(map, rules.org_path) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if is_clean_text(s, MAX_ORG_BYTES) => Some(s.clone()),
        Some(_) => return Err(JwtError::InvalidClaim("org")),
    };
    let roles = roles(lookup(map, rules.roles_path))?;
    let attributes = attributes(map, rules);
    Ok(Claims {
        subject,
        roles,
        org,
        key_id,
        issuer,
        expires_at,
        attributes,
    })
}

/// The claims row filters may name. A claim that does not fit (an object,
/// a long text, a strange name) is skipped rather than refused: it only
/// means a row filter naming it admits no row.
fn attributes(map: &Map<String, Value>, rules: &ClaimRules<'_>) -> BTreeMap<String, String> {
    let skip = |name: &str| {
        REGISTERED.contains(&name)
            || rules.roles_path.first().is_some_and(|r| r == name)
            || rules.org_path.first().is_some_and(|o| o == name)
            || name.is_empty()
            || name.len() > MAX_ATTRIBUTE_NAME
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    map.iter()
        .filter(|(name, _)| !skip(name))
        .filter_map(|(name, v)| {
            let text = match v {
                Value::String(s) if is_clean_text(s, MAX_ATTRIBUTE_BYTES) => s.clone(),
                Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((name.clone(), text))
        })
        .take(MAX_ATTRIBUTES)
        .collect()
}

/// Follows a dotted path; a missing step, or a step through a non-object, is absence.
fn lookup<'a>(map: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut current = map.get(first)?;
    for segment in rest {
        current = current.as_object()?.get(segment)?;
    }
    Some(current)
}

fn roles(value: Option<&Value>) -> Result<Vec<String>, JwtError> {
    let invalid = JwtError::InvalidClaim("roles");
    let names: Vec<&str> = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) if items.len() <= MAX_ROLES => items
            .iter()
            .map(|v| v.as_str().ok_or(invalid.clone()))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid),
    };
    if !names.iter().all(|r| is_role(r)) {
        return Err(invalid);
    }
    Ok(names.into_iter().map(str::to_owned).collect())
}

/// Roles feed policy matching, so they are limited to characters with no meaning
/// to a matcher, a path or a log line.
fn is_role(role: &str) -> bool {
    !role.is_empty()
        && role.len() <= MAX_ROLE_BYTES
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

fn is_clean_text(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && !text.chars().any(char::is_control)
}

/// NumericDate (RFC 7519 §2): an integer or a float number of seconds.
fn numeric(value: &Value) -> Option<i64> {
    if let Some(i) = value.as_i64() {
        return Some(i);
    }
    let f = value.as_f64()?;
    if f.is_finite() && f.abs() < 9.0e15 {
        Some(f.round() as i64)
    } else {
        None
    }
}
