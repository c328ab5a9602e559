//! API keys for programs: `kfk_<id>_<secret>`, sent as `X-API-Key`. The
//! secret is shown once and stored only as its SHA-256, compared in
//! constant time; a key has an owner, roles, an optional expiry and a last
//! use, and is revoked rather than deleted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use crate::db::AnyConnection;
use crate::db::schema::api_keys;
use crate::error::{Error, Result};

const PREFIX: &str = "kfk_";
/// Last use is written at most this often per key, so that reading with a
/// key does not turn every request into a database write.
const LAST_USE_GRANULARITY_SECS: i64 = 60;

/// A key as listed: everything but its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ApiKeyInfo {
    /// The key's id (also the part after `kfk_` of the key, and `key_id` in the audit log).
    #[schema(example = "f3ccfd85e0d1")]
    pub id: String,
    /// Who or what the key is for.
    #[schema(example = "nightly-etl")]
    pub owner: String,
    /// Roles the key carries.
    #[schema(example = json!(["researcher"]))]
    pub roles: Vec<String>,
    /// When it was created (RFC 3339, UTC).
    #[schema(example = "2026-11-29T06:24:22Z")]
    pub created_at: String,
    /// Subject of the administrator who created it.
    #[schema(example = "user:ci-admin")]
    pub created_by: String,
    /// When it stops working (RFC 3339); null for never.
    #[schema(example = "2027-01-01T00:00:00Z")]
    pub expires_at: Option<String>,
    /// When it was last used (RFC 3339, UTC); written at most once a minute, so up to a
    /// minute behind. Null if never used.
    #[schema(example = "2026-11-29T07:15:02Z")]
    pub last_used_at: Option<String>,
    /// When it was revoked; null while it is valid.
    #[schema(example = "2026-12-01T09:00:00Z")]
    pub revoked_at: Option<String>,
}

/// What an administrator asks for.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// Who or what the key is for: 1 to 100 letters, digits, `-`, `_`, `.`, `@`.
    #[schema(example = "nightly-etl")]
    pub owner: String,
    /// Roles the key carries (each 1 to 100 of `A-Z a-z 0-9 _ . : -`).
    #[serde(default)]
    #[schema(example = json!(["researcher"]))]
    pub roles: Vec<String>,
    /// Expiry (RFC 3339); omit for a key that does not expire.
    #[schema(example = "2027-01-01T00:00:00Z")]
    pub expires_at: Option<String>,
}

/// A new key, with the secret shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// The key to send as `X-API-Key`; it cannot be shown again.
    #[schema(example = "kfk_f3ccfd85e0d1_9cKMes41Bvj1ALWpowMAgSqNhPHesRQ7pihFEq5Z5Iw")]
    pub key: String,
    #[serde(flatten)]
    pub info: ApiKeyInfo,
}

/// The holder of a valid key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHolder {
    pub id: String,
    pub owner: String,
    pub roles: Vec<String>,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn info(
    (id, _, owner, roles, created_at, created_by, expires_at, last_used_at, revoked_at): Row,
) -> ApiKeyInfo {
    ApiKeyInfo {
        id,
        owner,
        roles: serde_json::from_str(&roles).unwrap_or_default(),
        created_at,
        created_by,
        expires_at,
        last_used_at,
        revoked_at,
    }
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn valid_name(s: &str, max: usize, extra: &[char]) -> bool {
    (1..=max).contains(&s.len())
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' || extra.contains(&c)
        })
}

fn utc(text: &str, what: &str) -> Result<String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .map_err(|_| {
            Error::bad_request(format!(
                "{what} must be an RFC 3339 time such as 2027-01-01T00:00:00Z"
            ))
        })
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Creates a key for `new`, by `created_by`.
pub fn create(
    conn: &mut AnyConnection,
    new: &NewApiKey,
    created_by: &str,
) -> Result<CreatedApiKey> {
    if !valid_name(&new.owner, 100, &['@']) {
        return Err(Error::bad_request(
            "owner must be 1 to 100 letters, digits, '-', '_', '.' or '@'",
        ));
    }
    if new.roles.len() > 50 || new.roles.iter().any(|r| !valid_name(r, 100, &[':'])) {
        return Err(Error::bad_request(
            "roles: at most 50, each 1 to 100 letters, digits, '-', '_', '.' or ':'",
        ));
    }
    let expires_at = new
        .expires_at
        .as_deref()
        .map(|t| utc(t, "expires_at"))
        .transpose()?;
    if expires_at.as_deref().is_some_and(|t| t <= now().as_str()) {
        return Err(Error::bad_request(
            "expires_at is in the past; give a future time",
        ));
    }
    let id_bytes: [u8; 6] = rand::random();
    let id: String = id_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let secret_bytes: [u8; 32] = rand::random();
    let secret = URL_SAFE_NO_PAD.encode(secret_bytes);
    let roles =
        serde_json::to_string(&new.roles).map_err(|e| Error::internal("encoding roles", e))?;
    let created_at = now();
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(&id),
            api_keys::secret_hash.eq(hash(&secret)),
            api_keys::owner.eq(&new.owner),
            api_keys::roles.eq(&roles),
            api_keys::created_at.eq(&created_at),
            api_keys::created_by.eq(created_by),
            api_keys::expires_at.eq(&expires_at),
        ))
        .execute(conn)?;
    Ok(CreatedApiKey {
        key: format!("{PREFIX}{id}_{secret}"),
        info: ApiKeyInfo {
            id,
            owner: new.owner.clone(),
            roles: new.roles.clone(),
            created_at,
            created_by: created_by.to_string(),
            expires_at,
            last_used_at: None,
            revoked_at: None,
        },
    })
}

/// A page of keys, newest first, and how many there are.
pub fn list(conn: &mut AnyConnection, limit: i64, offset: i64) -> Result<(Vec<ApiKeyInfo>, i64)> {
    let total: i64 = api_keys::table.count().get_result(conn)?;
    let rows: Vec<Row> = api_keys::table
        .order((api_keys::created_at.desc(), api_keys::id.asc()))
        .limit(limit)
        .offset(offset)
        .load(conn)?;
    Ok((rows.into_iter().map(info).collect(), total))
}

/// Revokes key `id`; revoking a revoked key changes nothing.
pub fn revoke(conn: &mut AnyConnection, id: &str) -> Result<ApiKeyInfo> {
    let not_found =
        || Error::not_found("no API key with that id; list them with GET /v1/admin/api-keys");
    let row: Row = api_keys::table
        .find(id)
        .first(conn)
        .optional()?
        .ok_or_else(not_found)?;
    if row.8.is_none() {
        diesel::update(api_keys::table.find(id))
            .set(api_keys::revoked_at.eq(Some(now())))
            .execute(conn)?;
    }
    let row: Row = api_keys::table.find(id).first(conn)?;
    Ok(info(row))
}

fn refused() -> Error {
    Error::unauthorized(
        "the API key is not valid: unknown, revoked or expired; ask an administrator for a new one",
    )
}

/// The holder of `presented`, if it is a valid, unrevoked, unexpired key.
pub fn authenticate(conn: &mut AnyConnection, presented: &str) -> Result<KeyHolder> {
    let rest = presented.trim().strip_prefix(PREFIX).ok_or_else(refused)?;
    let (id, secret) = rest.split_once('_').ok_or_else(refused)?;
    if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_hexdigit()) || secret.len() > 100 {
        return Err(refused());
    }
    let row: Option<Row> = api_keys::table.find(id).first(conn).optional()?;
    // Hash even when the id is unknown, so both answers take as long.
    let presented_hash = hash(secret);
    let Some(row) = row else {
        return Err(refused());
    };
    let matches = bool::from(presented_hash.as_bytes().ct_eq(row.1.as_bytes()));
    let now = now();
    if !matches || row.8.is_some() || row.6.as_deref().is_some_and(|e| e <= now.as_str()) {
        return Err(refused());
    }
    let stale = row.7.as_deref().is_none_or(|last| {
        chrono::DateTime::parse_from_rfc3339(last)
            .map(|t| chrono::Utc::now().timestamp() - t.timestamp() >= LAST_USE_GRANULARITY_SECS)
            .unwrap_or(true)
    });
    if stale {
        diesel::update(api_keys::table.find(id))
            .set(api_keys::last_used_at.eq(Some(now)))
            .execute(conn)?;
    }
    let key = info(row);
    Ok(KeyHolder {
        id: key.id,
        owner: key.owner,
        roles: key.roles,
    })
}
