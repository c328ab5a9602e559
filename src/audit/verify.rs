//! Verifying the audit log: a streaming check of one chain's records (each
//! hash against its contents, each link against the record before, seqs
//! without gaps), then of its checkpoints (signatures, their prev_signature
//! chain, agreement with the records and between the database and the
//! external log). It reports, per kind of problem, the first place it found
//! it. It only reads what it is given: it must never query the database,
//! repair anything, or hold a whole chain in memory.

use std::collections::{BTreeMap, BTreeSet};

use crate::audit::chain::{GENESIS, compute_hash};
use crate::audit::checkpoint::{Checkpoint, verify_signature};
use crate::audit::record::AuditRecord;
pub use crate::audit::report::{ChainReport, Problem, ProblemKind, Report};
use ProblemKind::{
    BrokenLink, ChangedRecord, ForgedCheckpoint, MissingCheckpoint, MissingRecord, Truncated,
};

/// What the verifier saw at a checkpoint's seq while streaming.
#[derive(Default)]
struct Mark {
    seq: i64,
    /// Stored hash of the record at `seq`; `None` if that record is missing.
    hash: Option<String>,
    /// Records pushed up to and including `seq`.
    records_through: i64,
    /// No gap or out-of-order seq before `seq`, so the count can be checked.
    clean: bool,
}

/// Verifies one chain: [`push`](Verifier::push) its records in seq order,
/// then [`finish`](Verifier::finish). Memory grows with the number of
/// checkpoints, not of records.
pub struct Verifier {
    chain: String,
    first_seq: i64,
    start_hash: String,
    records: i64,
    /// Seq and stored hash of the last in-order record.
    last: Option<(i64, String)>,
    disordered: bool,
    /// One per checkpoint seq at or after `first_seq`, ascending.
    marks: Vec<Mark>,
    next_mark: usize,
    /// The first problem of each kind (lowest seq), and how many followed it.
    found: Vec<(Problem, u64)>,
}

impl Verifier {
    /// A verifier for `chain` from its first record (seq 1, prev_hash
    /// [`GENESIS`]). `checkpoints` are those whose head hash will be checked
    /// against the records: pass the database's, and the external log's too
    /// to check the ones the database lost.
    pub fn new(chain: &str, checkpoints: &[Checkpoint]) -> Verifier {
        Verifier::new_from(chain, 1, GENESIS, checkpoints)
    }

    /// A verifier for a chain whose records before `first_seq` were
    /// archived; `prev_hash` is the hash of record `first_seq - 1`, taken
    /// from the archive's closing checkpoint.
    pub fn new_from(
        chain: &str,
        first_seq: i64,
        prev_hash: &str,
        checkpoints: &[Checkpoint],
    ) -> Verifier {
        let seqs: BTreeSet<i64> = checkpoints
            .iter()
            .filter(|c| c.chain == chain && c.seq >= first_seq)
            .map(|c| c.seq)
            .collect();
        Verifier {
            chain: chain.to_string(),
            first_seq,
            start_hash: prev_hash.to_string(),
            records: 0,
            last: None,
            disordered: false,
            marks: seqs
                .into_iter()
                .map(|seq| Mark {
                    seq,
                    ..Mark::default()
                })
                .collect(),
            next_mark: 0,
            found: Vec::new(),
        }
    }

    /// Checks the next record of the chain; records must come in seq order.
    pub fn push(&mut self, r: &AuditRecord) {
        let seq = r.seq;
        if r.chain != self.chain {
            let other = &r.chain;
            let detail = format!("record {seq} of chain '{other}' was given here");
            self.flag(BrokenLink, seq, detail);
            return;
        }
        self.records += 1;
        if compute_hash(&r.prev_hash, r) != r.hash {
            let what = "stored hash does not match its contents (a field was changed)";
            let detail = format!("record {seq}: {what}");
            self.flag(ChangedRecord, seq, detail);
        }
        let expected = self
            .last
            .as_ref()
            .map_or(self.first_seq, |(s, _)| s.saturating_add(1));
        let after = match &self.last {
            Some((p, _)) => format!("record {seq} follows {p}"),
            None => format!("the chain starts at record {seq}"),
        };
        if seq < expected {
            self.disordered = true;
            let detail = format!("{after}: its seq is repeated or out of order");
            self.flag(BrokenLink, seq, detail);
            return;
        }
        if seq > expected {
            // The link is necessarily broken too; the gap is the finding.
            self.disordered = true;
            let missing = span(expected, seq - 1, "is missing", "are missing");
            let detail = format!("{after}: {missing}");
            self.flag(MissingRecord, expected, detail);
        } else if r.prev_hash != *self.last.as_ref().map_or(&self.start_hash, |l| &l.1) {
            let detail = match &self.last {
                Some((p, _)) => format!(
                    "record {seq}: prev_hash does not match record {p} (records reordered or removed)"
                ),
                None => format!("record {seq}: prev_hash is not the hash the chain starts from"),
            };
            self.flag(BrokenLink, seq, detail);
        }
        self.pass_marks(seq, &r.hash);
        self.last = Some((seq, r.hash.clone()));
    }

    /// Notes what the chain looked like at each checkpoint seq up to `seq`.
    fn pass_marks(&mut self, seq: i64, hash: &str) {
        while let Some(m) = self.marks.get_mut(self.next_mark).filter(|m| m.seq <= seq) {
            m.clean = !self.disordered;
            if m.seq == seq {
                m.hash = Some(hash.to_string());
                m.records_through = self.records;
            } else {
                m.records_through = self.records - 1;
            }
            self.next_mark += 1;
        }
    }

    /// Checks the checkpoints against the records and each other, and
    /// returns the chain's summary and problems. `db_checkpoints` and
    /// `log_checkpoints` may hold other chains' checkpoints too (ignored).
    pub fn finish(
        mut self,
        db_checkpoints: &[Checkpoint],
        log_checkpoints: &[Checkpoint],
        public_key_hex: &str,
    ) -> (ChainReport, Vec<Problem>) {
        let (head_seq, head_hash) = self
            .last
            .clone()
            .unwrap_or((self.first_seq.saturating_sub(1), self.start_hash.clone()));
        let db = of_chain(db_checkpoints, &self.chain);
        let log = of_chain(log_checkpoints, &self.chain);
        let db_by_seq: BTreeMap<i64, &Checkpoint> = db.iter().map(|c| (c.seq, *c)).collect();
        let log_seqs: BTreeSet<i64> = log.iter().map(|c| c.seq).collect();

        // Each distinct checkpoint once: the log's copy only where it differs.
        let log_only = log
            .iter()
            .filter(|l| db_by_seq.get(&l.seq).is_none_or(|d| d != *l));
        let mut forged = BTreeSet::new();
        let mut sealed_through = None;
        for cp in db.iter().chain(log_only) {
            if !verify_signature(public_key_hex, cp) {
                forged.insert(cp.signature.as_str());
                let what = "signature does not verify with the audit public key";
                let detail = format!("checkpoint at {}: {what}", cp.seq);
                self.flag(ForgedCheckpoint, cp.seq, detail);
            } else if cp.seq <= head_seq && self.matches_records(cp) {
                sealed_through = sealed_through.max(Some(cp.seq));
            }
        }

        self.check_links(&db, &log, "database", &forged);
        self.check_links(&log, &db, "external log", &forged);
        for l in &log {
            let s = l.seq;
            match db_by_seq.get(&s) {
                Some(d) if *d != *l => {
                    let what = "differs between the database and the external log";
                    let detail = format!("checkpoint at {s} {what}");
                    self.flag(ForgedCheckpoint, s, detail);
                }
                // Beyond the head: reported as truncation. Before the
                // archive's end: the archive may have taken it along.
                None if s <= head_seq && s >= self.first_seq.saturating_sub(1) => {
                    let what = "is in the external log but not in the database";
                    let detail = format!("checkpoint at {s} {what}");
                    self.flag(MissingCheckpoint, s, detail);
                }
                _ => {}
            }
        }
        for s in db.iter().map(|d| d.seq).filter(|s| !log_seqs.contains(s)) {
            let what = "is in the database but not in the external log";
            let detail = format!("checkpoint at {s} {what}");
            self.flag(MissingCheckpoint, s, detail);
        }
        // A validly signed checkpoint beyond the last record: the tail was cut off.
        let beyond = db
            .iter()
            .chain(&log)
            .filter(|c| !forged.contains(c.signature.as_str()));
        if let Some(s) = beyond.map(|c| c.seq).filter(|s| *s > head_seq).max() {
            let place = if log_seqs.contains(&s) {
                "external log's"
            } else {
                "database's"
            };
            let lost = span(head_seq.saturating_add(1), s, "was removed", "were removed");
            let detail = format!(
                "the {place} checkpoint at {s} covers records the database no longer has \
                 (it ends at {head_seq}): {lost}"
            );
            self.flag(Truncated, head_seq.saturating_add(1), detail);
        }

        let sealed = sealed_through
            .and_then(|s| self.mark(s))
            .map_or(0, |m| m.records_through);
        let report = ChainReport {
            chain: self.chain.clone(),
            records: self.records,
            sealed,
            unsealed: self.records - sealed,
            checkpoints: i64::try_from(db.len()).unwrap_or(i64::MAX),
            head_seq,
            head_hash,
        };
        (report, into_problems(self.found))
    }

    /// Keeps the first problem of each kind (lowest seq) and counts the rest.
    fn flag(&mut self, kind: ProblemKind, seq: i64, detail: String) {
        let chain = self.chain.clone();
        let problem = Problem {
            chain,
            seq: Some(seq),
            kind,
            detail,
        };
        match self.found.iter_mut().find(|(p, _)| p.kind == kind) {
            Some((first, more)) => {
                *more += 1;
                if problem.seq < first.seq {
                    *first = problem;
                }
            }
            None => self.found.push((problem, 0)),
        }
    }

    fn mark(&self, seq: i64) -> Option<&Mark> {
        let i = self.marks.binary_search_by_key(&seq, |m| m.seq).ok()?;
        self.marks.get(i)
    }

    /// Whether `cp` (validly signed, not beyond the head) agrees with the
    /// records; reports where it does not. A checkpoint at a missing record
    /// or one not given to `new` cannot be checked and does not seal.
    fn matches_records(&mut self, cp: &Checkpoint) -> bool {
        let s = cp.seq;
        if s < self.first_seq {
            // Only the archive's closing checkpoint can be checked here.
            if s == self.first_seq.saturating_sub(1) && cp.head_hash != self.start_hash {
                let what = "head_hash is not the hash the chain resumes from after the archive";
                let detail = format!("checkpoint at {s}: {what}");
                self.flag(ForgedCheckpoint, s, detail);
            }
            return false;
        }
        let base = self.first_seq.saturating_sub(1);
        let Some((hash, held, clean)) = self
            .mark(s)
            .and_then(|m| Some((m.hash.clone()?, base + m.records_through, m.clean)))
        else {
            return false;
        };
        if hash != cp.head_hash {
            let what = "(the record or the checkpoint was altered)";
            let detail = format!("checkpoint at {s}: head_hash does not match record {s} {what}");
            self.flag(ForgedCheckpoint, s, detail);
            return false;
        }
        // After a gap the count differs by construction; the gap is reported.
        if clean && held != cp.count {
            let claim = format!(
                "claims {} records through {s}, the chain holds {held}",
                cp.count
            );
            let detail = format!("checkpoint at {s}: {claim}");
            self.flag(ForgedCheckpoint, s, detail);
            return false;
        }
        true
    }

    /// Each checkpoint of `list` must name its predecessor's signature. A
    /// link to a forged checkpoint is not reported again.
    fn check_links(
        &mut self,
        list: &[&Checkpoint],
        other: &[&Checkpoint],
        place: &str,
        forged: &BTreeSet<&str>,
    ) {
        let mut prev: Option<&Checkpoint> = None;
        for cp in list {
            let s = cp.seq;
            let linked = match prev {
                Some(p) => {
                    cp.prev_signature == p.signature || forged.contains(p.signature.as_str())
                }
                // The earliest one kept: its predecessor may be in the other
                // copy, or gone with an archive.
                None => {
                    cp.prev_signature.is_empty()
                        || self.first_seq > 1
                        || other
                            .iter()
                            .any(|o| o.seq < s && o.signature == cp.prev_signature)
                }
            };
            if !linked {
                let at = format!("checkpoint at {s} in the {place}");
                let detail = match prev {
                    Some(p) => format!(
                        "{at}: prev_signature is not the signature of the one at {} \
                         (a checkpoint between them was removed, or this one inserted)",
                        p.seq
                    ),
                    None => format!("{at}: prev_signature names a checkpoint kept in neither copy"),
                };
                self.flag(MissingCheckpoint, s, detail);
            }
            prev = Some(cp);
        }
    }
}

/// `chain`'s checkpoints from `all`, by seq.
fn of_chain<'a>(all: &'a [Checkpoint], chain: &str) -> Vec<&'a Checkpoint> {
    let mut out: Vec<&Checkpoint> = all.iter().filter(|c| c.chain == chain).collect();
    out.sort_by_key(|c| c.seq);
    out
}

/// "record 7 is missing" or "records 7 to 9 are missing".
fn span(from: i64, to: i64, one: &str, many: &str) -> String {
    if from == to {
        format!("record {from} {one}")
    } else {
        format!("records {from} to {to} {many}")
    }
}

/// Problems ordered by seq, each saying how many more of its kind followed.
fn into_problems(mut found: Vec<(Problem, u64)>) -> Vec<Problem> {
    found.sort_by_key(|(p, _)| p.seq);
    found
        .into_iter()
        .map(|(mut p, more)| {
            if more > 0 {
                p.detail
                    .push_str(&format!(" (and {more} more of this kind after it)"));
            }
            p
        })
        .collect()
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
