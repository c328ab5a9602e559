//! Checkpoints: signed statements of a chain's head, the Ed25519 key that
//! signs them, and the append-only log file outside the database that keeps
//! a second copy (so whoever can rewrite the database cannot also rewrite
//! the checkpoints). It must never print or log the secret key, and never
//! rewrite or truncate the log file.
//!
//! # Signed bytes (format version 1)
//!
//! A signature covers [`SIGNING_CONTEXT`] followed by one line of compact
//! JSON of every field but `signature`, in this order:
//!
//! `{"chain":…,"seq":…,"head_hash":…,"count":…,"time":…,"prev_signature":…}`
//!
//! with integers in decimal and strings escaped exactly as the record's
//! canonical bytes are (see `chain`). The signature is the 64-byte Ed25519
//! signature in lowercase hex; public keys are 32 bytes in lowercase hex.
//!
//! # Key file
//!
//! The 32-byte Ed25519 seed as 64 hex digits (a trailing newline is
//! allowed), created with mode 0600 on Unix.
//!
//! # Log file
//!
//! One checkpoint per line as JSON (serde field names), appended and
//! fsynced; chains may share a file.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};

use crate::audit::chain::{CanonicalJson, from_hex, to_hex};

/// Prefix of every signed message, so a checkpoint signature can never be
/// taken for a signature over anything else made with the same key.
pub const SIGNING_CONTEXT: &[u8] = b"kaifang audit checkpoint v1\n";

/// A signed statement that `chain` held `count` records up to `seq`, the
/// last of them with hash `head_hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Chain the checkpoint seals.
    pub chain: String,
    /// Seq of the last record sealed.
    pub seq: i64,
    /// Hash of the record at `seq`.
    pub head_hash: String,
    /// Records in the chain from seq 1 up to `seq` (archived ones included).
    pub count: i64,
    /// When it was made, RFC 3339 UTC.
    pub time: String,
    /// Signature of the chain's previous checkpoint; empty for the first.
    pub prev_signature: String,
    /// Ed25519 signature of the other fields (see the module doc), hex.
    pub signature: String,
}

/// The bytes a checkpoint's signature covers (see the module doc).
pub fn signed_bytes(cp: &Checkpoint) -> Vec<u8> {
    let mut j = CanonicalJson::new();
    j.str("chain", &cp.chain);
    j.int("seq", cp.seq);
    j.str("head_hash", &cp.head_hash);
    j.int("count", cp.count);
    j.str("time", &cp.time);
    j.str("prev_signature", &cp.prev_signature);
    let mut out = SIGNING_CONTEXT.to_vec();
    out.extend_from_slice(&j.finish());
    out
}

/// The key that signs checkpoints. Its `Debug` shows only the public key.
pub struct CheckpointKey {
    key: SigningKey,
}

impl fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointKey")
            .field("public_key", &self.public_key_hex())
            .finish_non_exhaustive()
    }
}

impl CheckpointKey {
    /// The key whose 32-byte seed is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> CheckpointKey {
        CheckpointKey {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// Reads the key stored at `path`, or creates one there (random seed,
    /// mode 0600 on Unix, parent directories as needed). Errors name the
    /// file but never its contents.
    pub fn load_or_create(path: &Path) -> Result<CheckpointKey, String> {
        match fs::read_to_string(path) {
            Ok(text) => parse_seed(&text)
                .map(CheckpointKey::from_seed)
                .ok_or_else(|| {
                    format!(
                        "checkpoint key file {}: expected a 32-byte seed as 64 hex digits",
                        path.display()
                    )
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => create_key_file(path),
            Err(e) => Err(format!(
                "reading checkpoint key file {}: {e}",
                path.display()
            )),
        }
    }

    /// The public key, 32 bytes in hex, for verifiers.
    pub fn public_key_hex(&self) -> String {
        to_hex(self.key.verifying_key().as_bytes())
    }

    /// Signs every field of `cp` but `signature` and stores the signature.
    pub fn sign(&self, cp: &mut Checkpoint) {
        let sig: Signature = self.key.sign(&signed_bytes(cp));
        cp.signature = to_hex(&sig.to_bytes());
    }
}

fn parse_seed(text: &str) -> Option<[u8; 32]> {
    from_hex(text.trim())?.try_into().ok()
}

fn create_key_file(path: &Path) -> Result<CheckpointKey, String> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut seed)
        .map_err(|e| format!("generating a checkpoint key: {e}"))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)
            .map_err(|e| format!("creating the directory of {}: {e}", path.display()))?;
    }
    let mut options = OpenOptions::new();
    // create_new: never overwrite a key another process wrote meanwhile.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Set at creation, so the seed is never readable by others even briefly.
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(f) => f,
        // Lost a race with another process creating it: use theirs.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return CheckpointKey::load_or_create(path);
        }
        Err(e) => {
            return Err(format!(
                "creating checkpoint key file {}: {e}",
                path.display()
            ));
        }
    };
    let written = file
        .write_all(format!("{}\n", to_hex(&seed)).as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        // A half-written key would fail every later start; remove it so the
        // next start creates a fresh one.
        let _ = fs::remove_file(path);
        return Err(format!(
            "writing checkpoint key file {}: {e}",
            path.display()
        ));
    }
    sync_parent(path);
    Ok(CheckpointKey::from_seed(seed))
}

/// Whether `cp.signature` is a valid signature of `cp` by `public_key_hex`.
/// Malformed keys or signatures are simply invalid.
pub fn verify_signature(public_key_hex: &str, cp: &Checkpoint) -> bool {
    let Some(key) = from_hex(public_key_hex)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
    else {
        return false;
    };
    let Some(sig) = from_hex(&cp.signature).and_then(|b| <[u8; 64]>::try_from(b).ok()) else {
        return false;
    };
    // verify_strict rejects malleable signatures and weak keys, so a
    // signature has exactly one accepted encoding.
    key.verify_strict(&signed_bytes(cp), &Signature::from_bytes(&sig))
        .is_ok()
}

/// Appends `cp` as one JSON line to the log at `path` (created if missing)
/// and fsyncs it before returning.
pub fn append_to_log(path: &Path, cp: &Checkpoint) -> io::Result<()> {
    let json = serde_json::to_string(cp).map_err(io::Error::other)?;
    let existed = path.exists();
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    let mut line = String::with_capacity(json.len() + 2);
    // A crash mid-append leaves a line without its newline; start on a new
    // line so this checkpoint is not glued to the torn one.
    if !ends_with_newline(&mut file)? {
        line.push('\n');
    }
    line.push_str(&json);
    line.push('\n');
    // One write on an O_APPEND file: concurrent writers do not interleave.
    file.write_all(line.as_bytes())?;
    file.sync_all()?;
    if !existed {
        sync_parent(path);
    }
    Ok(())
}

fn ends_with_newline(file: &mut File) -> io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last == *b"\n")
}

/// Every checkpoint in the log at `path`, in file order; a missing file is
/// an empty log. Blank lines are skipped, and so is a torn line (one cut
/// short by a crash mid-append: it does not parse and does not end in `}`),
/// because the writer appends that checkpoint again and verification finds
/// any checkpoint the log lacks. Any other line that is not a checkpoint is
/// an `InvalidData` error naming the file and line number.
pub fn read_log(path: &Path) -> io::Result<Vec<Checkpoint>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for (n, line) in (1..).zip(BufReader::new(file).lines()) {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(cp) => out.push(cp),
            Err(_) if !line.trim_end().ends_with('}') => {
                tracing::warn!(
                    file = %path.display(),
                    line = n,
                    "skipping a torn checkpoint log line left by an interrupted append"
                );
            }
            Err(e) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} line {n}: not a checkpoint: {e}", path.display()),
                ));
            }
        }
    }
    Ok(out)
}

/// Fsyncs the directory holding `path` so a newly created file survives a
/// crash. Best effort: some platforms cannot open a directory, and the
/// file's own data is already synced.
fn sync_parent(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
#[path = "checkpoint_tests.rs"]
mod tests;
