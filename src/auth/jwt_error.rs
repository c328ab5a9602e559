use std::fmt;

/// Everything that can go wrong while configuring JWT keys or verifying a token.
///
/// Token errors never carry token content: the caller may log `Display` and put
/// `description()` into a `WWW-Authenticate` header without sanitising either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// A `[jwt]` setting is wrong; `setting` is the key as written in the TOML.
    Config {
        setting: &'static str,
        reason: String,
    },
    /// A key file or JWKS document could not be used.
    Key {
        source: String,
        reason: String,
    },
    /// The JWKS URL could not be fetched; the operator sees `reason`, the client only
    /// learns that keys are unavailable (a server-side fault, not the token's).
    KeysUnavailable {
        reason: String,
    },
    /// Signing failed (CLI and tests only).
    Signing,
    TooLarge,
    Malformed,
    AlgorithmNotAllowed,
    UnknownKey,
    KeyMismatch,
    BadSignature,
    Expired,
    NotYetValid,
    IssuedInFuture,
    MissingClaim(&'static str),
    InvalidClaim(&'static str),
    WrongIssuer,
    WrongAudience,
}

impl JwtError {
    pub(crate) fn config(setting: &'static str, reason: impl Into<String>) -> Self {
        JwtError::Config {
            setting,
            reason: reason.into(),
        }
    }

    pub(crate) fn key(source: impl Into<String>, reason: impl Into<String>) -> Self {
        JwtError::Key {
            source: source.into(),
            reason: reason.into(),
        }
    }

    /// A short, fixed text for `error_description`: no quotes, no backslashes and no
    /// token or key content, so it is safe inside a quoted header parameter.
    pub fn description(&self) -> &'static str {
        match self {
            JwtError::Config { .. } | JwtError::Key { .. } => "authentication is misconfigured",
            JwtError::KeysUnavailable { .. } => "signing keys unavailable",
            JwtError::Signing => "token signing failed",
            JwtError::TooLarge => "token too large",
            JwtError::Malformed => "malformed token",
            JwtError::AlgorithmNotAllowed => "algorithm not allowed",
            JwtError::UnknownKey => "unknown signing key",
            JwtError::KeyMismatch => "key type does not match algorithm",
            JwtError::BadSignature => "invalid signature",
            JwtError::Expired => "token expired",
            JwtError::NotYetValid => "token not yet valid",
            JwtError::IssuedInFuture => "token issued in the future",
            JwtError::MissingClaim(c) => missing_claim(c),
            JwtError::InvalidClaim(c) => invalid_claim(c),
            JwtError::WrongIssuer => "issuer not accepted",
            JwtError::WrongAudience => "audience not accepted",
        }
    }

    /// True when the token itself is at fault (answer 401); false for faults of the
    /// server's configuration or its identity provider (answer 500/503).
    pub fn is_token_error(&self) -> bool {
        !matches!(
            self,
            JwtError::Config { .. }
                | JwtError::Key { .. }
                | JwtError::KeysUnavailable { .. }
                | JwtError::Signing
        )
    }
}

// Claim names are matched to literals so that description() stays 'static and can
// never echo anything that came from outside.
fn missing_claim(claim: &str) -> &'static str {
    match claim {
        "exp" => "missing exp claim",
        "iss" => "missing iss claim",
        "aud" => "missing aud claim",
        "sub" => "missing sub claim",
        "nbf" => "missing nbf claim",
        _ => "missing claim",
    }
}

fn invalid_claim(claim: &str) -> &'static str {
    match claim {
        "exp" => "invalid exp claim",
        "nbf" => "invalid nbf claim",
        "iat" => "invalid iat claim",
        "iss" => "invalid iss claim",
        "aud" => "invalid aud claim",
        "sub" => "invalid sub claim",
        "roles" => "invalid roles claim",
        "org" => "invalid org claim",
        _ => "invalid claim",
    }
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwtError::Config { setting, reason } => write!(f, "jwt.{setting}: {reason}"),
            JwtError::Key { source, reason } => write!(f, "{source}: {reason}"),
            JwtError::KeysUnavailable { reason } => {
                write!(f, "signing keys unavailable: {reason}")
            }
            other => f.write_str(other.description()),
        }
    }
}

impl std::error::Error for JwtError {}

/// Maps jsonwebtoken's errors onto ours; only the kinds reachable after our own header
/// and key checks matter, everything else is a token that does not parse.
pub(crate) fn from_jsonwebtoken(err: &jsonwebtoken::errors::Error) -> JwtError {
    use jsonwebtoken::errors::ErrorKind as K;
    match err.kind() {
        K::InvalidSignature => JwtError::BadSignature,
        K::ExpiredSignature => JwtError::Expired,
        K::ImmatureSignature => JwtError::NotYetValid,
        K::InvalidIssuer => JwtError::WrongIssuer,
        K::InvalidAudience => JwtError::WrongAudience,
        K::InvalidAlgorithm | K::InvalidAlgorithmName | K::MissingAlgorithm => {
            JwtError::AlgorithmNotAllowed
        }
        K::InvalidKeyFormat | K::InvalidEcdsaKey | K::InvalidEddsaKey | K::InvalidRsaKey(_) => {
            JwtError::KeyMismatch
        }
        K::MissingRequiredClaim(c) => JwtError::MissingClaim(static_claim(c)),
        K::InvalidClaimFormat(c) => JwtError::InvalidClaim(static_claim(c)),
        K::InvalidSubject => JwtError::InvalidClaim("sub"),
        _ => JwtError::Malformed,
    }
}

fn static_claim(claim: &str) -> &'static str {
    match claim {
        "exp" => "exp",
        "nbf" => "nbf",
        "iss" => "iss",
        "aud" => "aud",
        "sub" => "sub",
        _ => "claim",
    }
}
