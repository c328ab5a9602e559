//! Retention: moving a closed, checkpointed range of each chain out of the
//! database into a file, and verifying such a file later. The only way a
//! record ever leaves the database.
//!
//! # Archive file
//!
//! NDJSON. For each chain, first its checkpoints from the one that closed
//! the previous archive (if any) through the one that closes this range,
//! one per line as `{"checkpoint": {...}}`; then its records in seq order,
//! one per line as `{"record": {...}}` (serde field names).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::checkpoint::{Checkpoint, read_log};
use super::record::AuditRecord;
use super::store;
use super::verify::{Report, Verifier};
use crate::db::AnyConnection;
use crate::error::{Error, Result};

const PAGE: i64 = 2000;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    Checkpoint(Checkpoint),
    Record(Box<AuditRecord>),
}

/// What one chain gave up to an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    pub chain: String,
    pub from_seq: i64,
    pub through_seq: i64,
    pub records: i64,
}

fn io_error(path: &Path, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
    Error::internal(format!("writing the audit archive {}", path.display()), e)
}

/// Moves, per chain, the records up to its last checkpoint made before
/// `before` (RFC 3339) into a new file at `to`. The file is complete and
/// synced before any record is removed.
pub fn archive(conn: &mut AnyConnection, before: &str, to: &Path) -> Result<Vec<Archived>> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(|e| {
            Error::bad_request(format!(
                "cannot create the archive file {}: {e} (an archive never overwrites a file)",
                to.display()
            ))
        })?;
    let mut out = BufWriter::new(file);
    let mut plan = Vec::new();
    for chain in store::chains(conn)? {
        let checkpoints = store::checkpoints(conn, &chain)?;
        let Some(close) = checkpoints
            .iter()
            .filter(|c| c.time.as_str() < before)
            .max_by_key(|c| c.seq)
        else {
            continue;
        };
        let first = store::chain_records(conn, &chain, 0, 1)?;
        let Some(from_seq) = first.first().map(|r| r.seq).filter(|s| *s <= close.seq) else {
            continue;
        };
        for cp in checkpoints
            .iter()
            .filter(|c| c.seq >= from_seq - 1 && c.seq <= close.seq)
        {
            write_line(&mut out, to, &Line::Checkpoint(cp.clone()))?;
        }
        let mut after = from_seq - 1;
        let mut records = 0;
        while after < close.seq {
            let page = store::chain_records(conn, &chain, after, PAGE)?;
            if page.is_empty() {
                break;
            }
            for r in page {
                if r.seq > close.seq {
                    break;
                }
                after = r.seq;
                records += 1;
                write_line(&mut out, to, &Line::Record(Box::new(r)))?;
            }
        }
        plan.push(Archived {
            chain,
            from_seq,
            through_seq: close.seq,
            records,
        });
    }
    let file = out.into_inner().map_err(|e| io_error(to, e.into_error()))?;
    file.sync_all().map_err(|e| io_error(to, e))?;
    for a in &plan {
        store::delete_through(conn, &a.chain, a.through_seq)?;
    }
    Ok(plan)
}

fn write_line(out: &mut BufWriter<File>, to: &Path, line: &Line) -> Result<()> {
    serde_json::to_writer(&mut *out, line).map_err(|e| io_error(to, e))?;
    out.write_all(b"\n").map_err(|e| io_error(to, e))
}

/// One chain's part of an archive file, being verified.
struct Open {
    chain: String,
    checkpoints: Vec<Checkpoint>,
    verifier: Option<Verifier>,
}

/// Verifies an archive file against its own checkpoints and the external
/// checkpoint log.
pub fn verify_archive(path: &Path, public_key_hex: &str, log_path: &Path) -> Result<Report> {
    let file = File::open(path).map_err(|e| {
        Error::bad_request(format!("cannot open the archive {}: {e}", path.display()))
    })?;
    let log = read_log(log_path).map_err(|e| {
        Error::internal(
            format!("reading the checkpoint log {}", log_path.display()),
            e,
        )
    })?;
    let mut report = Report::default();
    let mut open: Option<Open> = None;
    for (n, line) in (1..).zip(BufReader::new(file).lines()) {
        let line = line.map_err(|e| {
            Error::bad_request(format!("cannot read the archive {}: {e}", path.display()))
        })?;
        let line: Line = serde_json::from_str(&line).map_err(|e| {
            Error::bad_request(format!(
                "{} line {n} is not an archive line: {e}",
                path.display()
            ))
        })?;
        // A chain's part starts with its checkpoints, then its records.
        let (chain, starts) = match &line {
            Line::Checkpoint(cp) => (
                &cp.chain,
                open.as_ref()
                    .is_none_or(|o| o.chain != cp.chain || o.verifier.is_some()),
            ),
            Line::Record(r) => (&r.chain, open.as_ref().is_none_or(|o| o.chain != r.chain)),
        };
        if starts {
            let chain = chain.clone();
            if let Some(done) = open.take() {
                finish(done, &log, public_key_hex, &mut report);
            }
            open = Some(Open {
                chain,
                checkpoints: Vec::new(),
                verifier: None,
            });
        }
        let Some(o) = open.as_mut() else { continue };
        match line {
            Line::Checkpoint(cp) => o.checkpoints.push(cp),
            Line::Record(r) => {
                let v = o.verifier.get_or_insert_with(|| {
                    let start = o.checkpoints.iter().find(|c| c.seq == r.seq - 1);
                    match start {
                        Some(cp) if r.seq > 1 => {
                            Verifier::new_from(&o.chain, r.seq, &cp.head_hash, &o.checkpoints)
                        }
                        _ if r.seq > 1 => {
                            Verifier::new_from(&o.chain, r.seq, &r.prev_hash, &o.checkpoints)
                        }
                        _ => Verifier::new(&o.chain, &o.checkpoints),
                    }
                });
                v.push(&r);
            }
        }
    }
    if let Some(done) = open.take() {
        finish(done, &log, public_key_hex, &mut report);
    }
    Ok(report)
}

fn finish(open: Open, log: &[Checkpoint], public_key_hex: &str, report: &mut Report) {
    let through = open.checkpoints.iter().map(|c| c.seq).max().unwrap_or(0);
    let from = open.checkpoints.iter().map(|c| c.seq).min().unwrap_or(0);
    // The log goes on past the archive; only its part covering the range counts.
    let log: Vec<Checkpoint> = log
        .iter()
        .filter(|c| c.chain == open.chain && c.seq >= from && c.seq <= through)
        .cloned()
        .collect();
    let verifier = open
        .verifier
        .unwrap_or_else(|| Verifier::new(&open.chain, &open.checkpoints));
    report.add(verifier.finish(&open.checkpoints, &log, public_key_hex));
}
