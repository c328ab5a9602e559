//! Who is calling. Until identity by JWT and API keys arrives, a caller is
//! either anonymous or presents the configured admin token as a bearer
//! token. The token is compared in constant time and never logged.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use std::future::{Ready, ready};
use subtle::ConstantTimeEq;

use crate::config::Secret;
use crate::error::{Error, Result};

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    Admin,
}

impl Principal {
    /// The audit and log name of the caller.
    pub fn subject(&self) -> &'static str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::Admin => "admin",
        }
    }

    /// How the caller proved who it is, as the audit log names it.
    pub fn auth_method(&self) -> &'static str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::Admin => "admin_token",
        }
    }

    /// The roles the caller holds.
    pub fn roles(&self) -> Vec<String> {
        match self {
            Principal::Anonymous => Vec::new(),
            Principal::Admin => vec!["admin".to_string()],
        }
    }
}

/// The credentials the gateway accepts; stored as app data.
#[derive(Clone, Default)]
pub struct Authenticator {
    admin_token: Option<Secret>,
}

impl Authenticator {
    pub fn new(admin_token: Option<Secret>) -> Self {
        Authenticator { admin_token }
    }

    /// Whether any credential can be accepted at all (publishing needs one).
    pub fn publishing_enabled(&self) -> bool {
        self.admin_token.is_some()
    }

    /// Reads the `Authorization` header: none means anonymous; anything
    /// else must be a valid bearer token.
    pub fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Principal> {
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
        match &self.admin_token {
            Some(admin) if bool::from(admin.expose().as_bytes().ct_eq(token.as_bytes())) => {
                Ok(Principal::Admin)
            }
            _ => Err(Error::unauthorized(
                "the bearer token is not valid; send a valid token or no Authorization header",
            )),
        }
    }
}

impl FromRequest for Principal {
    type Error = Error;
    type Future = Ready<Result<Principal>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // The pipeline authenticated the request already when it could.
        if let Some(p) = req.extensions().get::<Principal>() {
            return ready(Ok(p.clone()));
        }
        let auth = req
            .app_data::<web::Data<Authenticator>>()
            .map(|a| a.get_ref().clone())
            .unwrap_or_default();
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .map(|h| h.as_bytes());
        ready(auth.authenticate(header))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Authenticator {
        Authenticator::new(Some(Secret::new("an-admin-token-of-some-length")))
    }

    #[test]
    fn no_header_is_anonymous() {
        assert_eq!(auth().authenticate(None).unwrap(), Principal::Anonymous);
    }

    #[test]
    fn admin_token_is_admin() {
        let p = auth().authenticate(Some(b"Bearer an-admin-token-of-some-length"));
        assert_eq!(p.unwrap(), Principal::Admin);
    }

    #[test]
    fn wrong_tokens_are_refused() {
        for h in [
            &b"Bearer nope"[..],
            b"Basic abc",
            b"Bearer",
            b"\xff\xfe",
            b"Bearer an-admin-token-of-some-lengt",
        ] {
            assert!(auth().authenticate(Some(h)).is_err());
        }
        assert!(
            Authenticator::new(None)
                .authenticate(Some(b"Bearer anything"))
                .is_err()
        );
    }
}
