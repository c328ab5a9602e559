//! Tests of checkpoint signing, the key file and the checkpoint log. Must
//! never weaken the golden signed-bytes test.

use super::*;

/// RFC 8032 section 7.1, test 1: a seed with a known public key.
const RFC8032_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const RFC8032_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

fn rfc_key() -> CheckpointKey {
    CheckpointKey::from_seed(from_hex(RFC8032_SEED).unwrap().try_into().unwrap())
}

fn checkpoint(seq: i64) -> Checkpoint {
    Checkpoint {
        chain: "c1".to_string(),
        seq,
        head_hash: "ab".repeat(32),
        count: seq,
        time: "2026-11-28T14:03:11.402117Z".to_string(),
        prev_signature: String::new(),
        signature: String::new(),
    }
}

#[test]
fn from_seed_gives_the_rfc8032_public_key() {
    assert_eq!(rfc_key().public_key_hex(), RFC8032_PUBLIC);
}

#[test]
fn signed_bytes_of_a_fixed_checkpoint_never_change() {
    let mut cp = checkpoint(10);
    cp.prev_signature = "9f".to_string();
    cp.signature = "not covered".to_string();
    let expected = format!(
        "kaifang audit checkpoint v1\n{{\"chain\":\"c1\",\"seq\":10,\"head_hash\":\"{}\",\
         \"count\":10,\"time\":\"2026-11-28T14:03:11.402117Z\",\"prev_signature\":\"9f\"}}",
        "ab".repeat(32)
    );
    assert_eq!(String::from_utf8(signed_bytes(&cp)).unwrap(), expected);
}

#[test]
fn a_signed_checkpoint_verifies_with_the_public_key() {
    let key = rfc_key();
    let mut cp = checkpoint(10);
    key.sign(&mut cp);
    assert_eq!(cp.signature.len(), 128);
    assert!(verify_signature(&key.public_key_hex(), &cp));
}

#[test]
fn changing_any_signed_field_invalidates_the_signature() {
    let key = rfc_key();
    let mut cp = checkpoint(10);
    key.sign(&mut cp);
    let edits: [fn(&mut Checkpoint); 6] = [
        |c| c.chain.push('x'),
        |c| c.seq += 1,
        |c| c.head_hash = "cd".repeat(32),
        |c| c.count -= 1,
        |c| c.time.push('x'),
        |c| c.prev_signature = "00".to_string(),
    ];
    for edit in edits {
        let mut changed = cp.clone();
        edit(&mut changed);
        assert!(!verify_signature(&key.public_key_hex(), &changed));
    }
}

#[test]
fn another_key_or_malformed_input_does_not_verify() {
    let mut cp = checkpoint(10);
    rfc_key().sign(&mut cp);
    let other = CheckpointKey::from_seed([7; 32]);
    assert!(!verify_signature(&other.public_key_hex(), &cp));
    assert!(!verify_signature("not hex", &cp));
    assert!(!verify_signature(&RFC8032_PUBLIC[..62], &cp));
    let mut bad = cp.clone();
    bad.signature.truncate(126);
    assert!(!verify_signature(RFC8032_PUBLIC, &bad));
    bad.signature = "zz".repeat(64);
    assert!(!verify_signature(RFC8032_PUBLIC, &bad));
}

#[test]
fn debug_of_a_key_shows_the_public_key_but_not_the_seed() {
    let shown = format!("{:?}", rfc_key());
    assert!(shown.contains(RFC8032_PUBLIC));
    assert!(!shown.contains(RFC8032_SEED));
    assert!(!shown.contains("157")); // first seed byte in decimal
}

#[test]
fn key_file_is_created_once_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys/checkpoint.key");
    let created = CheckpointKey::load_or_create(&path).unwrap();
    let loaded = CheckpointKey::load_or_create(&path).unwrap();
    assert_eq!(created.public_key_hex(), loaded.public_key_hex());
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.trim().len(), 64);
    let mut cp = checkpoint(1);
    created.sign(&mut cp);
    assert!(verify_signature(&loaded.public_key_hex(), &cp));
}

#[cfg(unix)]
#[test]
fn key_file_is_created_with_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.key");
    CheckpointKey::load_or_create(&path).unwrap();
    let mode = fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_key_file_written_by_hand_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.key");
    fs::write(&path, format!("  {}\n", RFC8032_SEED.to_uppercase())).unwrap();
    let key = CheckpointKey::load_or_create(&path).unwrap();
    assert_eq!(key.public_key_hex(), RFC8032_PUBLIC);
}

#[test]
fn a_malformed_key_file_is_an_error_that_does_not_echo_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.key");
    fs::write(&path, "secretsecret").unwrap();
    let err = CheckpointKey::load_or_create(&path).unwrap_err();
    assert!(err.contains("checkpoint.key"), "{err}");
    assert!(!err.contains("secretsecret"), "{err}");
    // The bad file is left alone for the operator, not replaced.
    assert_eq!(fs::read_to_string(&path).unwrap(), "secretsecret");
}

#[test]
fn log_lines_round_trip_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.jsonl");
    let key = rfc_key();
    let mut written = Vec::new();
    for seq in [10, 20, 30] {
        let mut cp = checkpoint(seq);
        key.sign(&mut cp);
        append_to_log(&path, &cp).unwrap();
        written.push(cp);
    }
    assert_eq!(read_log(&path).unwrap(), written);
    assert_eq!(fs::read_to_string(&path).unwrap().lines().count(), 3);
}

#[test]
fn a_missing_log_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    assert!(read_log(&dir.path().join("none.jsonl")).unwrap().is_empty());
}

#[test]
fn a_malformed_log_line_is_an_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.jsonl");
    append_to_log(&path, &checkpoint(10)).unwrap();
    let mut text = fs::read_to_string(&path).unwrap();
    text.push_str("\n{\"chain\":\"c1\"}\n");
    fs::write(&path, text).unwrap();
    let err = read_log(&path).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("line 3"), "{err}");
}

#[test]
fn an_append_after_a_torn_line_starts_a_new_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.jsonl");
    fs::write(&path, "{\"chain\":\"c1\",\"se").unwrap();
    append_to_log(&path, &checkpoint(10)).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        serde_json::from_str::<Checkpoint>(lines[1]).unwrap(),
        checkpoint(10)
    );
    // The torn line is skipped, so a gateway restarted after the crash reads its log.
    assert_eq!(read_log(&path).unwrap(), vec![checkpoint(10)]);
}

#[test]
fn a_torn_last_line_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.jsonl");
    append_to_log(&path, &checkpoint(10)).unwrap();
    let mut text = fs::read_to_string(&path).unwrap();
    let whole = serde_json::to_string(&checkpoint(20)).unwrap();
    text.push_str(&whole[..whole.len() / 2]);
    fs::write(&path, text).unwrap();
    assert_eq!(read_log(&path).unwrap(), vec![checkpoint(10)]);
}
