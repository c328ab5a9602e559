//! Public-key loading shared by PEM files and JWKS documents.
//!
//! jsonwebtoken's own PEM parsing sits behind its `use_pem` feature, which the project
//! builds without; its DER constructors accept anything and fail only at verification
//! (or, for a short Ed25519 key, panic on a slice index). So keys are parsed here and
//! checked once, at load time, and only well-formed keys reach jsonwebtoken.

use std::io::Read;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

use super::jwt_error::JwtError;

/// A verification key with what is known about it.
#[derive(Clone, Debug)]
pub struct VerifyKey {
    pub kid: Option<String>,
    pub family: AlgorithmFamily,
    /// The only algorithm this key may be used with, when its JWK says so.
    pub alg: Option<Algorithm>,
    pub key: DecodingKey,
}

impl VerifyKey {
    pub fn accepts(&self, alg: Algorithm) -> bool {
        alg.family() == self.family && self.alg.is_none_or(|only| only == alg)
    }
}

/// 2048 bits is the floor of RFC 7518 §3.3; 4096 is the ceiling of the `rsa` crate's
/// verifier, so a larger key would load and then never verify.
const RSA_MIN_BYTES: usize = 256;
const RSA_MAX_BYTES: usize = 512;
const PEM_MAX_BYTES: u64 = 64 * 1024;

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

pub fn rsa_key(n: &[u8], e: &[u8]) -> Result<DecodingKey, String> {
    let n = strip_leading_zeros(n);
    let e = strip_leading_zeros(e);
    if !(RSA_MIN_BYTES..=RSA_MAX_BYTES).contains(&n.len()) {
        return Err(format!(
            "RSA modulus of {} bits; 2048 to 4096 are accepted",
            n.len() * 8
        ));
    }
    // Public exponents above 32 bits are not used in practice and slow verification.
    if e.is_empty() || e.len() > 4 || e[e.len() - 1] & 1 == 0 {
        return Err("RSA exponent is not a small odd number".into());
    }
    Ok(DecodingKey::from_rsa_raw_components(n, e))
}

pub fn ec_p256_key(x: &[u8], y: &[u8]) -> Result<DecodingKey, String> {
    if x.len() != 32 || y.len() != 32 {
        return Err("EC P-256 coordinates must be 32 bytes each".into());
    }
    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    checked(
        DecodingKey::from_ec_der(&point),
        Algorithm::ES256,
        "EC P-256 point",
    )
}

pub fn ed25519_key(x: &[u8]) -> Result<DecodingKey, String> {
    if x.len() != 32 {
        return Err("Ed25519 key must be 32 bytes".into());
    }
    checked(
        DecodingKey::from_ed_der(x),
        Algorithm::EdDSA,
        "Ed25519 point",
    )
}

/// EC and Ed verifiers parse the point when they are built, so verifying a dummy
/// signature tells a bad point (error) from a good one (merely `false`).
fn checked(key: DecodingKey, alg: Algorithm, what: &str) -> Result<DecodingKey, String> {
    match jsonwebtoken::crypto::verify("AA", b"probe", &key, alg) {
        Ok(_) => Ok(key),
        Err(_) => Err(format!("{what} is not a valid public key")),
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// Reads a public key PEM file (SPKI `PUBLIC KEY` or PKCS#1 `RSA PUBLIC KEY`) and detects
/// whether it is RSA, EC P-256 or Ed25519.
pub fn load_pem_file(path: &Path) -> Result<VerifyKey, JwtError> {
    let source = format!("jwt.public_keys: {}", path.display());
    let bytes = read_capped(path, PEM_MAX_BYTES).map_err(|e| JwtError::key(&source, e))?;
    parse_pem(&bytes).map_err(|e| JwtError::key(&source, e))
}

/// Reads at most `cap` bytes, so a misconfigured path (a device, a huge file) cannot
/// exhaust memory at startup.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > cap {
        return Err(format!("larger than {cap} bytes"));
    }
    Ok(bytes)
}

pub fn parse_pem(bytes: &[u8]) -> Result<VerifyKey, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not a PEM text file".to_string())?;
    let begin = text.find("-----BEGIN ").ok_or("no PEM block found")?;
    let rest = &text[begin + 11..];
    let label_end = rest.find("-----").ok_or("malformed PEM header")?;
    let label = &rest[..label_end];
    let body_start = label_end + 5;
    let end_marker = format!("-----END {label}-----");
    let body_end = rest.find(&end_marker).ok_or("PEM end line missing")?;
    let body: String = rest
        .get(body_start..body_end)
        .ok_or("malformed PEM block")?
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = STANDARD
        .decode(body)
        .map_err(|_| "PEM body is not valid base64".to_string())?;
    let (family, key) = match label {
        "PUBLIC KEY" => parse_spki(&der)?,
        "RSA PUBLIC KEY" => (AlgorithmFamily::Rsa, parse_pkcs1_rsa(&der)?),
        l if l.contains("PRIVATE KEY") => {
            return Err("this is a private key; configure the public key only".into());
        }
        _ => return Err("unsupported PEM type; expected PUBLIC KEY".into()),
    };
    Ok(VerifyKey {
        kid: None,
        family,
        alg: None,
        key,
    })
}

fn parse_spki(der: &[u8]) -> Result<(AlgorithmFamily, DecodingKey), String> {
    let bad = || "malformed SubjectPublicKeyInfo".to_string();
    let mut outer = Der(der);
    let mut spki = Der(outer.take(0x30).ok_or_else(bad)?);
    let mut alg_id = Der(spki.take(0x30).ok_or_else(bad)?);
    let oid = alg_id.take(0x06).ok_or_else(bad)?;
    let bits = spki.take(0x03).ok_or_else(bad)?;
    // The BIT STRING starts with its count of unused bits, always 0 for keys.
    let public = match bits.split_first() {
        Some((0, rest)) => rest,
        _ => return Err(bad()),
    };
    match oid {
        OID_RSA => Ok((AlgorithmFamily::Rsa, parse_pkcs1_rsa(public)?)),
        OID_EC_PUBLIC_KEY => {
            if alg_id.take(0x06) != Some(OID_P256) {
                return Err("only the EC curve P-256 is supported".into());
            }
            let key = match public {
                [0x04, xy @ ..] if xy.len() == 64 => ec_p256_key(&xy[..32], &xy[32..])?,
                _ => return Err("EC key is not an uncompressed P-256 point".into()),
            };
            Ok((AlgorithmFamily::Ec, key))
        }
        OID_ED25519 => Ok((AlgorithmFamily::Ed, ed25519_key(public)?)),
        _ => Err("unsupported key type; expected RSA, EC P-256 or Ed25519".into()),
    }
}

fn parse_pkcs1_rsa(der: &[u8]) -> Result<DecodingKey, String> {
    let bad = || "malformed RSA public key".to_string();
    let mut outer = Der(der);
    let mut seq = Der(outer.take(0x30).ok_or_else(bad)?);
    let n = seq.take(0x02).ok_or_else(bad)?;
    let e = seq.take(0x02).ok_or_else(bad)?;
    rsa_key(n, e)
}

/// Just enough DER to walk a SubjectPublicKeyInfo: definite lengths only.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn take(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (&found, rest) = self.0.split_first()?;
        if found != tag {
            return None;
        }
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 3 || rest.len() < count {
                return None;
            }
            let (len_bytes, after) = rest.split_at(count);
            rest = after;
            len_bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        };
        if rest.len() < len {
            return None;
        }
        let (value, after) = rest.split_at(len);
        self.0 = after;
        Some(value)
    }
}
