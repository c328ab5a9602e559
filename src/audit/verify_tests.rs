//! Tests of the verifier: a sealed chain of 50 records with a signed
//! checkpoint every 10, damaged one way at a time. Must never assert less
//! than that each kind of damage is found at the right place.

use super::*;
use crate::audit::chain::tests::{sample_record, sealed_chain};
use crate::audit::checkpoint::CheckpointKey;

const CHAIN: &str = "c1";

fn key() -> CheckpointKey {
    CheckpointKey::from_seed([1; 32])
}

/// Signed checkpoints of `records` at every seq in `at`, linked by
/// prev_signature, as the writer makes them.
fn checkpoints(records: &[AuditRecord], at: &[i64]) -> Vec<Checkpoint> {
    let key = key();
    let mut prev = String::new();
    at.iter()
        .map(|&seq| {
            let head = records.iter().find(|r| r.seq == seq).unwrap();
            let mut cp = Checkpoint {
                chain: CHAIN.to_string(),
                seq,
                head_hash: head.hash.clone(),
                count: seq,
                time: format!("2026-11-28T15:00:{:02}.000000Z", seq % 60),
                prev_signature: prev.clone(),
                signature: String::new(),
            };
            key.sign(&mut cp);
            prev = cp.signature.clone();
            cp
        })
        .collect()
}

/// Re-signs `cps` in order with the real key, as an insider holding the
/// key could after editing them.
fn relink(cps: &mut [Checkpoint]) {
    let mut prev = String::new();
    for cp in cps {
        cp.prev_signature = prev;
        key().sign(cp);
        prev = cp.signature.clone();
    }
}

fn every_ten(records: &[AuditRecord]) -> Vec<Checkpoint> {
    checkpoints(records, &[10, 20, 30, 40, 50])
}

fn verify(
    records: &[AuditRecord],
    db: &[Checkpoint],
    log: &[Checkpoint],
) -> (ChainReport, Vec<Problem>) {
    let mut v = Verifier::new(CHAIN, db);
    for r in records {
        v.push(r);
    }
    v.finish(db, log, &key().public_key_hex())
}

fn kinds(problems: &[Problem]) -> Vec<ProblemKind> {
    problems.iter().map(|p| p.kind).collect()
}

fn first(problems: &[Problem], kind: ProblemKind) -> &Problem {
    problems
        .iter()
        .find(|p| p.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} in {problems:#?}"))
}

#[test]
fn an_intact_chain_with_checkpoints_every_ten_verifies() {
    let records = sealed_chain(CHAIN, 50);
    let cps = every_ten(&records);
    let (report, problems) = verify(&records, &cps, &cps);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(
        report,
        ChainReport {
            chain: CHAIN.to_string(),
            records: 50,
            sealed: 50,
            unsealed: 0,
            checkpoints: 5,
            head_seq: 50,
            head_hash: records[49].hash.clone(),
        }
    );
    let mut all = Report::default();
    all.add((report, problems));
    assert!(all.ok());
}

#[test]
fn a_changed_field_is_reported_at_its_record() {
    let mut records = sealed_chain(CHAIN, 50);
    let cps = every_ten(&records);
    records[16].status = 200 + 4;
    let (_, problems) = verify(&records, &cps, &cps);
    assert_eq!(kinds(&problems), [ProblemKind::ChangedRecord]);
    assert_eq!(problems[0].seq, Some(17));
    assert_eq!(
        problems[0].detail,
        "record 17: stored hash does not match its contents (a field was changed)"
    );
}

#[test]
fn a_deleted_record_is_reported_as_missing_by_seq() {
    let mut records = sealed_chain(CHAIN, 50);
    let cps = every_ten(&records);
    records.remove(19);
    let (report, problems) = verify(&records, &cps, &cps);
    assert_eq!(kinds(&problems), [ProblemKind::MissingRecord]);
    assert_eq!(problems[0].seq, Some(20));
    assert_eq!(
        problems[0].detail,
        "record 21 follows 19: record 20 is missing"
    );
    assert_eq!((report.records, report.sealed), (49, 49));
}

#[test]
fn swapped_and_renumbered_records_break_the_link() {
    let mut records = sealed_chain(CHAIN, 50);
    let cps = every_ten(&records);
    records.swap(29, 30);
    records[29].seq = 30;
    records[30].seq = 31;
    let (_, problems) = verify(&records, &cps, &cps);
    let link = first(&problems, ProblemKind::BrokenLink);
    assert_eq!(link.seq, Some(30));
    assert!(
        link.detail.starts_with(
            "record 30: prev_hash does not match record 29 (records reordered or removed)"
        ),
        "{}",
        link.detail
    );
    // Renumbering changes what the hash covers, so that shows too.
    assert_eq!(first(&problems, ProblemKind::ChangedRecord).seq, Some(30));
}

#[test]
fn reordering_with_recomputed_hashes_is_still_a_broken_link() {
    let mut records = sealed_chain(CHAIN, 50);
    let cps = every_ten(&records);
    records.swap(29, 30);
    for (i, seq) in [(29, 30), (30, 31)] {
        let r = &mut records[i];
        r.seq = seq;
        r.hash = compute_hash(&r.prev_hash, r);
    }
    let (_, problems) = verify(&records, &cps, &cps);
    assert!(
        !kinds(&problems).contains(&ProblemKind::ChangedRecord),
        "{problems:#?}"
    );
    assert_eq!(first(&problems, ProblemKind::BrokenLink).seq, Some(30));
    // The checkpoint at 30 names the original record 30.
    assert_eq!(
        first(&problems, ProblemKind::ForgedCheckpoint).seq,
        Some(30)
    );
}

#[test]
fn a_cut_off_tail_is_reported_when_the_log_has_a_later_checkpoint() {
    let mut records = sealed_chain(CHAIN, 50);
    let log = every_ten(&records);
    records.truncate(40);
    let db: Vec<Checkpoint> = log.iter().filter(|c| c.seq <= 40).cloned().collect();
    let (report, problems) = verify(&records, &db, &log);
    assert_eq!(kinds(&problems), [ProblemKind::Truncated]);
    assert_eq!(problems[0].seq, Some(41));
    assert!(
        problems[0].detail.contains("records 41 to 50 were removed"),
        "{}",
        problems[0].detail
    );
    assert_eq!(
        (report.head_seq, report.sealed, report.unsealed),
        (40, 40, 0)
    );
}

#[test]
fn a_checkpoint_re_signed_with_another_key_is_forged() {
    let records = sealed_chain(CHAIN, 50);
    let log = every_ten(&records);
    let mut db = log.clone();
    db[2].head_hash = records[34].hash.clone();
    CheckpointKey::from_seed([9; 32]).sign(&mut db[2]);
    let (_, problems) = verify(&records, &db, &log);
    assert_eq!(
        kinds(&problems),
        [ProblemKind::ForgedCheckpoint],
        "{problems:#?}"
    );
    assert_eq!(problems[0].seq, Some(30));
    assert!(
        problems[0].detail.contains("signature does not verify"),
        "{}",
        problems[0].detail
    );
}

#[test]
fn a_checkpoint_removed_from_the_database_but_in_the_log_is_missing() {
    let records = sealed_chain(CHAIN, 50);
    let log = every_ten(&records);
    let mut db = log.clone();
    db.remove(2);
    let (report, problems) = verify(&records, &db, &log);
    let missing = first(&problems, ProblemKind::MissingCheckpoint);
    assert_eq!(missing.seq, Some(30));
    assert!(
        missing
            .detail
            .starts_with("checkpoint at 30 is in the external log but not in the database")
    );
    assert_eq!(kinds(&problems), [ProblemKind::MissingCheckpoint]);
    assert_eq!(report.checkpoints, 4);
}

#[test]
fn a_checkpoint_missing_from_the_log_is_reported() {
    let records = sealed_chain(CHAIN, 50);
    let db = every_ten(&records);
    let mut log = db.clone();
    log.remove(1);
    let (_, problems) = verify(&records, &db, &log);
    let missing = first(&problems, ProblemKind::MissingCheckpoint);
    assert_eq!(missing.seq, Some(20));
    assert!(
        missing
            .detail
            .contains("in the database but not in the external log")
    );
}

#[test]
fn a_checkpoint_with_a_wrong_count_is_forged_even_if_signed() {
    let records = sealed_chain(CHAIN, 50);
    let mut cps = every_ten(&records);
    cps[0].count = 9;
    relink(&mut cps);
    let (report, problems) = verify(&records, &cps, &cps);
    assert_eq!(
        kinds(&problems),
        [ProblemKind::ForgedCheckpoint],
        "{problems:#?}"
    );
    assert!(problems[0].detail.contains("claims 9 records through 10"));
    assert_eq!(report.sealed, 50);
}

#[test]
fn records_after_the_last_checkpoint_are_unsealed() {
    let records = sealed_chain(CHAIN, 50);
    let cps = checkpoints(&records, &[10, 20, 30, 40]);
    let (report, problems) = verify(&records, &cps, &cps);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(
        (report.records, report.sealed, report.unsealed),
        (50, 40, 10)
    );
}

#[test]
fn a_chain_without_checkpoints_is_all_unsealed() {
    let records = sealed_chain(CHAIN, 5);
    let (report, problems) = verify(&records, &[], &[]);
    assert!(problems.is_empty());
    assert_eq!((report.sealed, report.unsealed, report.head_seq), (0, 5, 5));
}

#[test]
fn an_empty_chain_reports_the_genesis_head() {
    let (report, problems) = verify(&[], &[], &[]);
    assert!(problems.is_empty());
    assert_eq!((report.records, report.head_seq), (0, 0));
    assert_eq!(report.head_hash, GENESIS);
}

#[test]
fn a_chain_resumes_after_an_archived_range() {
    let mut records = sealed_chain(CHAIN, 50);
    let cps = every_ten(&records);
    let kept = records.split_off(20);
    let closing = &cps[1];
    let mut v = Verifier::new_from(CHAIN, closing.seq + 1, &closing.head_hash, &cps);
    for r in &kept {
        v.push(r);
    }
    let (report, problems) = v.finish(&cps, &cps, &key().public_key_hex());
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(
        (report.records, report.sealed, report.head_seq),
        (30, 30, 50)
    );
}

#[test]
fn resuming_from_the_wrong_hash_breaks_the_first_link() {
    let records = sealed_chain(CHAIN, 50);
    let cps = every_ten(&records);
    let mut v = Verifier::new_from(CHAIN, 21, GENESIS, &cps);
    for r in records.iter().skip(20) {
        v.push(r);
    }
    let (_, problems) = v.finish(&cps, &cps, &key().public_key_hex());
    assert_eq!(first(&problems, ProblemKind::BrokenLink).seq, Some(21));
    assert_eq!(
        first(&problems, ProblemKind::ForgedCheckpoint).seq,
        Some(20)
    );
}

#[test]
fn a_repeated_seq_is_a_broken_link() {
    let mut records = sealed_chain(CHAIN, 10);
    let extra = {
        let mut r = sample_record(99);
        r.chain = CHAIN.to_string();
        r.seq = 5;
        r.prev_hash = records[3].hash.clone();
        r.hash = compute_hash(&r.prev_hash, &r);
        r
    };
    records.insert(5, extra);
    let (_, problems) = verify(&records, &[], &[]);
    assert_eq!(kinds(&problems), [ProblemKind::BrokenLink]);
    assert_eq!(
        problems[0].detail,
        "record 5 follows 5: its seq is repeated or out of order"
    );
}

#[test]
fn only_the_first_problem_of_a_kind_is_detailed_and_the_rest_counted() {
    let mut records = sealed_chain(CHAIN, 50);
    for i in [16, 25, 44] {
        records[i].subject = "admin".to_string();
    }
    let (_, problems) = verify(&records, &[], &[]);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].seq, Some(17));
    assert!(
        problems[0]
            .detail
            .ends_with("(and 2 more of this kind after it)")
    );
}

#[test]
fn problems_serialize_with_snake_case_kinds() {
    let p = Problem {
        chain: CHAIN.to_string(),
        seq: Some(3),
        kind: ProblemKind::MissingCheckpoint,
        detail: "x".to_string(),
    };
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["kind"], "missing_checkpoint");
}
