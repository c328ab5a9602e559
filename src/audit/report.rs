//! What verifying the audit log reports: per chain a summary, and the
//! first place of each kind of damage found. Shared by the verifier, the
//! CLI and the HTTP answer.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The outcome of verifying the audit log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Report {
    /// One summary per chain verified.
    pub chains: Vec<ChainReport>,
    /// What was found wrong, the first occurrence of each kind per chain;
    /// empty when the log is intact.
    pub problems: Vec<Problem>,
}

impl Report {
    /// Whether no problem was found.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// Adds the outcome of one chain's [`Verifier::finish`].
    pub fn add(&mut self, (chain, problems): (ChainReport, Vec<Problem>)) {
        self.chains.push(chain);
        self.problems.extend(problems);
    }
}

/// Summary of one chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChainReport {
    /// The chain (one per gateway instance).
    #[schema(example = "main")]
    pub chain: String,
    /// Records of the chain found in the database (archived ones excluded).
    #[schema(example = 1250)]
    pub records: i64,
    /// Records up to the last checkpoint that checked out (valid signature,
    /// head hash and count matching the records).
    #[schema(example = 1200)]
    pub sealed: i64,
    /// Records after that checkpoint, not yet covered by one.
    #[schema(example = 50)]
    pub unsealed: i64,
    /// Checkpoints of the chain in the database.
    #[schema(example = 12)]
    pub checkpoints: i64,
    /// Seq of the chain's last record (the archive's last seq, or 0, when
    /// the database holds none).
    #[schema(example = 1250)]
    pub head_seq: i64,
    /// Hash of the chain's last record, hex.
    #[schema(example = "eb907f6d449e58977debfb87edf0ac0db896e425ef632446c5f8ac00d9b1b598")]
    pub head_hash: String,
}

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = AuditProblem)]
pub struct Problem {
    /// The chain it was found in.
    #[schema(example = "main")]
    pub chain: String,
    /// The first record (or checkpoint) seq concerned, if it concerns one.
    #[schema(example = 17)]
    pub seq: Option<i64>,
    /// What kind of damage it is.
    pub kind: ProblemKind,
    /// What broke, in words, naming the record or checkpoint and how many
    /// more of this kind followed.
    #[schema(example = "record 17: stored hash does not match its contents (a field was changed)")]
    pub detail: String,
}

/// Kinds of damage the verifier tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "changed_record")]
pub enum ProblemKind {
    /// A record's stored hash does not match its contents: a field was changed.
    ChangedRecord,
    /// A record's prev_hash is not the previous record's hash, or its seq is
    /// out of order: records were reordered, replaced or removed.
    BrokenLink,
    /// A gap in seq: records were deleted.
    MissingRecord,
    /// A checkpoint's signature is invalid, its head hash or count does not
    /// match the records, or the database and the external log disagree on it.
    ForgedCheckpoint,
    /// A checkpoint is in the external log but not in the database or the
    /// other way round, or the checkpoints' prev_signature chain is broken.
    MissingCheckpoint,
    /// A checkpoint covers records the database no longer has: the tail of
    /// the chain was cut off.
    Truncated,
}
