//! Who is calling: anonymous (no credentials), the holder of the configured
//! admin token, a user proved by a JWT verified against the configured
//! keys, or a program holding an API key. The request pipeline authenticates once and stores the outcome;
//! handlers extract the `Principal`. Tokens are compared in constant time
//! and never logged.

pub mod api_keys;
pub mod jwks;
pub mod jwt;
pub mod jwt_claims;
pub mod jwt_config;
pub mod jwt_error;
pub mod jwt_keys;
#[cfg(test)]
pub(crate) mod jwt_test_support;

use std::collections::BTreeMap;
use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use subtle::ConstantTimeEq;

use crate::config::Secret;
use crate::db::Db;
use crate::error::{Error, Kind, Result};
use api_keys::KeyHolder;
use jwt::JwtVerifier;

/// A caller proved by a JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The token's `sub`.
    pub subject: String,
    pub roles: Vec<String>,
    pub org: Option<String>,
    /// The `kid` of the key that signed the token, if it named one.
    pub key_id: Option<String>,
    /// The token's other kept claims (see `jwt_claims::Claims::attributes`).
    pub attributes: BTreeMap<String, String>,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    /// The holder of the configured admin token.
    Admin,
    User(User),
    /// A program holding an API key.
    ApiKey(KeyHolder),
}

impl Principal {
    /// The audit and log name of the caller: `anonymous`, `admin` or `user:<sub>`.
    pub fn subject(&self) -> String {
        match self {
            Principal::Anonymous => "anonymous".to_string(),
            Principal::Admin => "admin".to_string(),
            Principal::User(u) => format!("user:{}", u.subject),
            Principal::ApiKey(k) => format!("key:{}", k.owner),
        }
    }

    /// How the caller proved who it is, as the audit log names it.
    pub fn auth_method(&self) -> &'static str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::Admin => "admin_token",
            Principal::User(_) => "jwt",
            Principal::ApiKey(_) => "api_key",
        }
    }

    /// The roles the caller holds.
    pub fn roles(&self) -> Vec<String> {
        match self {
            Principal::Anonymous => Vec::new(),
            Principal::Admin => vec!["admin".to_string()],
            Principal::User(u) => u.roles.clone(),
            Principal::ApiKey(k) => k.roles.clone(),
        }
    }

    /// Id of the key behind the credentials, if any.
    pub fn key_id(&self) -> Option<String> {
        match self {
            Principal::User(u) => u.key_id.clone(),
            Principal::ApiKey(k) => Some(k.id.clone()),
            _ => None,
        }
    }

    /// The organisation the caller acts for, from its token.
    pub fn org(&self) -> Option<&str> {
        match self {
            Principal::User(u) => u.org.as_deref(),
            _ => None,
        }
    }

    /// Attributes row filters may name, from the token's claims; none for
    /// other kinds of caller.
    pub fn attributes(&self) -> BTreeMap<String, String> {
        match self {
            Principal::User(u) => u.attributes.clone(),
            _ => BTreeMap::new(),
        }
    }

    /// Whether the caller holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles().iter().any(|r| r == role)
    }
}

/// The admin token and JWT keys, replaced whole when the configuration is reloaded.
#[derive(Default)]
struct Credentials {
    admin_token: Option<Secret>,
    jwt: Option<Arc<JwtVerifier>>,
}

/// The credentials the gateway accepts; stored as app data.
#[derive(Clone, Default)]
pub struct Authenticator {
    creds: Arc<arc_swap::ArcSwap<Credentials>>,
    keys: Option<Db>,
}

fn invalid_token(description: &str) -> Error {
    Error::new(Kind::InvalidToken, description)
}

impl Authenticator {
    pub fn new(
        admin_token: Option<Secret>,
        jwt: Option<Arc<JwtVerifier>>,
        keys: Option<Db>,
    ) -> Self {
        Authenticator {
            creds: Arc::new(arc_swap::ArcSwap::from_pointee(Credentials {
                admin_token,
                jwt,
            })),
            keys,
        }
    }

    /// Puts a new admin token and JWT verifier in force from the next request on (a
    /// configuration reload); requests under way finish with the old ones.
    pub fn replace(&self, admin_token: Option<Secret>, jwt: Option<Arc<JwtVerifier>>) {
        self.creds.store(Arc::new(Credentials { admin_token, jwt }));
    }

    /// Authenticates from the `Authorization` and `X-API-Key` headers; at
    /// most one of them may be sent.
    pub async fn authenticate_request(
        &self,
        authorization: Option<&[u8]>,
        api_key: Option<&[u8]>,
    ) -> Result<Principal> {
        let Some(key) = api_key else {
            return self.authenticate(authorization).await;
        };
        if authorization.is_some() {
            return Err(Error::unauthorized(
                "send either Authorization or X-API-Key, not both",
            ));
        }
        let Some(db) = &self.keys else {
            return Err(Error::unauthorized("this server accepts no API keys"));
        };
        let key = String::from_utf8_lossy(key).into_owned();
        let holder = db
            .run(move |conn| api_keys::authenticate(conn, &key))
            .await?;
        Ok(Principal::ApiKey(holder))
    }

    /// Whether any credential can be accepted at all (publishing needs one).
    pub fn publishing_enabled(&self) -> bool {
        let creds = self.creds.load();
        creds.admin_token.is_some() || creds.jwt.is_some()
    }

    /// Reads the `Authorization` header: none means anonymous; anything
    /// else must be the admin token or a valid JWT.
    pub async fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Principal> {
        let Some(raw) = authorization else {
            return Ok(Principal::Anonymous);
        };
        let value = std::str::from_utf8(raw)
            .map_err(|_| Error::unauthorized("the Authorization header is not valid text"))?;
        let (scheme, token) = value.trim().split_once(' ').ok_or_else(|| {
            Error::unauthorized("the Authorization header must be 'Bearer <token>'")
        })?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Error::unauthorized(
                "only Bearer tokens are accepted in the Authorization header",
            ));
        }
        let token = token.trim();
        let creds = self.creds.load_full();
        if let Some(admin) = &creds.admin_token
            && bool::from(admin.expose().as_bytes().ct_eq(token.as_bytes()))
        {
            return Ok(Principal::Admin);
        }
        let Some(verifier) = &creds.jwt else {
            return Err(invalid_token(
                "the bearer token is not valid; send a valid token or no Authorization header",
            ));
        };
        match verifier.verify(token).await {
            Ok(claims) => Ok(Principal::User(User {
                subject: claims.subject,
                roles: claims.roles,
                org: claims.org,
                key_id: claims.key_id,
                attributes: claims.attributes,
            })),
            Err(e) if e.is_token_error() => Err(invalid_token(e.description())),
            Err(e) => {
                tracing::error!(error = %e, "token keys unavailable");
                Err(Error::unavailable(
                    "the keys that verify tokens cannot be loaded right now; try again shortly",
                ))
            }
        }
    }
}

/// What the pipeline found out about the caller, for the handlers.
#[derive(Debug, Clone)]
pub struct Authenticated(pub std::result::Result<Principal, (Kind, String)>);

impl Authenticated {
    pub fn from_result(r: Result<Principal>) -> Self {
        Authenticated(r.map_err(|e| (e.kind(), e.detail().to_string())))
    }
}

impl FromRequest for Principal {
    type Error = Error;
    type Future = Ready<Result<Principal>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let outcome = match req.extensions().get::<Authenticated>() {
            Some(Authenticated(Ok(p))) => Ok(p.clone()),
            Some(Authenticated(Err((kind, detail)))) => Err(Error::new(*kind, detail.clone())),
            // Only the pipeline authenticates; without it nobody is trusted.
            None => Err(Error::unauthorized("the request was not authenticated")),
        };
        ready(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Authenticator {
        Authenticator::new(
            Some(Secret::new("an-admin-token-of-some-length")),
            None,
            None,
        )
    }

    #[tokio::test]
    async fn no_header_is_anonymous() {
        assert_eq!(
            auth().authenticate(None).await.unwrap(),
            Principal::Anonymous
        );
    }

    #[tokio::test]
    async fn admin_token_is_admin() {
        let p = auth()
            .authenticate(Some(b"Bearer an-admin-token-of-some-length"))
            .await;
        assert_eq!(p.unwrap(), Principal::Admin);
    }

    #[tokio::test]
    async fn wrong_tokens_are_refused() {
        for h in [
            &b"Bearer nope"[..],
            b"Basic abc",
            b"Bearer",
            b"\xff\xfe",
            b"Bearer an-admin-token-of-some-lengt",
        ] {
            assert!(auth().authenticate(Some(h)).await.is_err());
        }
        assert!(
            Authenticator::new(None, None, None)
                .authenticate(Some(b"Bearer anything"))
                .await
                .is_err()
        );
    }
}
