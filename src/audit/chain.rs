//! The hash chain: the canonical bytes of a record, the hash that links it
//! to its predecessor, and sealing a record onto a chain's head. Pure
//! functions only; this file must never touch the database, the clock or a
//! key, and its byte format must never change (it would invalidate every
//! stored chain).
//!
//! # Canonical bytes (format version 1)
//!
//! `canonical_bytes` writes a record as one line of compact JSON (no
//! whitespace, no trailing newline), UTF-8, with exactly these keys in
//! exactly this order — the field order of [`AuditRecord`] without
//! `prev_hash` (hashed separately, as raw bytes) and `hash`:
//!
//! `chain, seq, time, kind, request_id, subject, roles, auth_method, key_id,
//! client_addr, method, route, path, dataset, action, decision, rule,
//! status, rows, bytes, duration_us, user_agent, query, complete`
//!
//! - integers in decimal, `-` for negatives, no leading zeros or `+`;
//! - booleans `true`/`false`; `None` is `null` (the key is always present);
//! - `roles` is an array of strings in stored order, `[]` when empty;
//! - strings are quoted and escaped as JSON (and `serde_json`) does: `"` as
//!   `\"`, `\` as `\\`, U+0008/09/0A/0C/0D as `\b \t \n \f \r`, every other
//!   character below U+0020 as `\u00xx` (lowercase hex); everything else,
//!   including `/`, U+007F and non-ASCII, is copied as its UTF-8 bytes.
//!
//! The writer is hand-written, not serde-derived, so a change to serde, to
//! attributes on `AuditRecord` or to `serde_json` can never change the
//! bytes. A golden test pins the output.
//!
//! # The hash
//!
//! `hash = hex(SHA-256(P ‖ canonical_bytes(record)))`, lowercase hex, where
//! `P` is the 32 bytes that `prev_hash` (64 hex digits, [`GENESIS`] for the
//! first record) decodes to.

use std::io::Write;

use sha2::{Digest, Sha256};

use crate::audit::record::AuditRecord;

/// The `prev_hash` of a chain's first record: 32 zero bytes, in hex.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where a chain stands: the last sealed record's seq and hash (seq 0 and
/// [`GENESIS`] for a new chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub chain: String,
    pub seq: i64,
    pub hash: String,
}

/// The stable serialization of `r` that its hash covers (see the module
/// doc for the exact format).
pub fn canonical_bytes(r: &AuditRecord) -> Vec<u8> {
    let mut j = CanonicalJson::new();
    j.str("chain", &r.chain);
    j.int("seq", r.seq);
    j.str("time", &r.time);
    j.str("kind", &r.kind);
    j.str("request_id", &r.request_id);
    j.str("subject", &r.subject);
    j.str_list("roles", &r.roles);
    j.str("auth_method", &r.auth_method);
    j.opt_str("key_id", r.key_id.as_deref());
    j.opt_str("client_addr", r.client_addr.as_deref());
    j.str("method", &r.method);
    j.opt_str("route", r.route.as_deref());
    j.str("path", &r.path);
    j.opt_str("dataset", r.dataset.as_deref());
    j.opt_str("action", r.action.as_deref());
    j.opt_str("decision", r.decision.as_deref());
    j.opt_str("rule", r.rule.as_deref());
    j.int("status", i64::from(r.status));
    j.opt_int("rows", r.rows);
    j.opt_int("bytes", r.bytes);
    j.int("duration_us", r.duration_us);
    j.opt_str("user_agent", r.user_agent.as_deref());
    j.opt_str("query", r.query.as_deref());
    j.opt_bool("complete", r.complete);
    j.finish()
}

/// `hex(SHA-256(prev ‖ canonical_bytes(r)))`. A `prev_hash_hex` that is not
/// 64 hex digits is hashed as its ASCII bytes, so a damaged record yields a
/// hash mismatch for the verifier to report instead of an error or panic.
pub fn compute_hash(prev_hash_hex: &str, r: &AuditRecord) -> String {
    let mut h = Sha256::new();
    match from_hex(prev_hash_hex).filter(|b| b.len() == 32) {
        Some(raw) => h.update(&raw),
        None => h.update(prev_hash_hex.as_bytes()),
    }
    h.update(canonical_bytes(r));
    to_hex(&h.finalize())
}

/// Puts `r` at the end of the chain: fills in its chain, seq, prev_hash and
/// hash, then moves `head` to it.
pub fn seal(head: &mut ChainHead, r: &mut AuditRecord) {
    r.chain = head.chain.clone();
    r.seq = head.seq + 1;
    r.prev_hash = head.hash.clone();
    r.hash = compute_hash(&r.prev_hash, r);
    head.seq = r.seq;
    head.hash = r.hash.clone();
}

/// Lowercase hex of `bytes`.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    // By table, not `write!("{:02x}")`: this runs for every audit record.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// The bytes `hex` spells (either case), or `None` if it is not hex.
pub(crate) fn from_hex(hex: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = hex.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => Some((nibble(*hi)? << 4) | nibble(*lo)?),
            _ => None,
        })
        .collect()
}

/// A writer for one flat JSON object with keys in call order, used for the
/// byte formats that are hashed or signed (here and in `checkpoint`).
pub(crate) struct CanonicalJson {
    out: Vec<u8>,
}

impl CanonicalJson {
    pub(crate) fn new() -> Self {
        let mut out = Vec::with_capacity(1024);
        out.push(b'{');
        CanonicalJson { out }
    }

    fn key(&mut self, key: &str) {
        if self.out.len() > 1 {
            self.out.push(b',');
        }
        write_json_str(&mut self.out, key);
        self.out.push(b':');
    }

    pub(crate) fn str(&mut self, key: &str, v: &str) {
        self.key(key);
        write_json_str(&mut self.out, v);
    }

    pub(crate) fn opt_str(&mut self, key: &str, v: Option<&str>) {
        match v {
            Some(v) => self.str(key, v),
            None => self.null(key),
        }
    }

    pub(crate) fn int(&mut self, key: &str, v: i64) {
        self.key(key);
        // Writing into a Vec cannot fail.
        let _ = write!(self.out, "{v}");
    }

    pub(crate) fn opt_int(&mut self, key: &str, v: Option<i64>) {
        match v {
            Some(v) => self.int(key, v),
            None => self.null(key),
        }
    }

    pub(crate) fn opt_bool(&mut self, key: &str, v: Option<bool>) {
        self.key(key);
        let text: &[u8] = match v {
            Some(true) => b"true",
            Some(false) => b"false",
            None => b"null",
        };
        self.out.extend_from_slice(text);
    }

    pub(crate) fn str_list(&mut self, key: &str, items: &[String]) {
        self.key(key);
        self.out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_json_str(&mut self.out, item);
        }
        self.out.push(b']');
    }

    fn null(&mut self, key: &str) {
        self.key(key);
        self.out.extend_from_slice(b"null");
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.out.push(b'}');
        self.out
    }
}

/// Writes `s` as a JSON string with the escapes listed in the module doc
/// (the same ones `serde_json` emits, frozen here).
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let mut rest = s.as_bytes();
    // Runs of bytes that need no escape are found by table and copied whole:
    // every record is serialized once when sealed and again for each
    // verification. Multi-byte UTF-8 sequences never contain bytes below
    // 0x80, so an escape never splits a character.
    while let Some(at) = rest.iter().position(|&b| ESCAPED[usize::from(b)]) {
        let (plain, tail) = rest.split_at(at);
        out.extend_from_slice(plain);
        let Some((&b, tail)) = tail.split_first() else {
            break;
        };
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
        }
        rest = tail;
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// The bytes `write_json_str` escapes: control characters, `"` and `\`.
const ESCAPED: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

#[cfg(test)]
#[path = "chain_tests.rs"]
pub(crate) mod tests;
