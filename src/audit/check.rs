//! Verifying the stored log: every chain in the database, streamed page by
//! page through a [`Verifier`], against the checkpoints in the database and
//! in the external log file. Shared by `kaifang audit verify` and
//! `GET /v1/admin/audit/verify`.

use std::path::Path;

use super::checkpoint::{Checkpoint, read_log};
use super::store;
use super::verify::{Problem, ProblemKind, Report, Verifier};
use crate::db::AnyConnection;
use crate::error::{Error, Result};

/// Records read per page while verifying.
const PAGE: i64 = 2000;

/// Verifies every chain of the log.
pub fn verify_log(
    conn: &mut AnyConnection,
    public_key_hex: &str,
    log_path: &Path,
) -> Result<Report> {
    let log = read_log(log_path).map_err(|e| {
        Error::internal(
            format!("reading the audit checkpoint log {}", log_path.display()),
            e,
        )
    })?;
    let mut chains = store::chains(conn)?;
    for cp in &log {
        if !chains.contains(&cp.chain) {
            chains.push(cp.chain.clone());
        }
    }
    chains.sort();
    let mut report = Report::default();
    for chain in chains {
        let db = store::checkpoints(conn, &chain)?;
        report.add(verify_chain(conn, &chain, &db, &log, public_key_hex)?);
    }
    Ok(report)
}

fn verify_chain(
    conn: &mut AnyConnection,
    chain: &str,
    db: &[Checkpoint],
    log: &[Checkpoint],
    public_key_hex: &str,
) -> Result<(super::verify::ChainReport, Vec<Problem>)> {
    let mut known: Vec<Checkpoint> = db.iter().chain(log).cloned().collect();
    known.retain(|c| c.chain == chain);
    let mut page = store::chain_records(conn, chain, 0, PAGE)?;
    let mut archive_gap = None;
    let mut verifier = match page.first() {
        Some(first) if first.seq > 1 => {
            // Records before `first` were archived: resume from the
            // checkpoint that closed the archive.
            let start = first.seq - 1;
            match known.iter().find(|c| c.seq == start) {
                Some(cp) => Verifier::new_from(chain, first.seq, &cp.head_hash, &known),
                None => {
                    archive_gap = Some(Problem {
                        chain: chain.to_string(),
                        seq: Some(1),
                        kind: ProblemKind::MissingRecord,
                        detail: format!(
                            "records 1 to {start} are missing and no checkpoint at {start} closes an archive there"
                        ),
                    });
                    Verifier::new_from(chain, first.seq, &first.prev_hash, &known)
                }
            }
        }
        _ => Verifier::new(chain, &known),
    };
    while !page.is_empty() {
        for record in &page {
            verifier.push(record);
        }
        let last = page.last().map_or(0, |r| r.seq);
        page = store::chain_records(conn, chain, last, PAGE)?;
    }
    let (summary, mut problems) = verifier.finish(db, log, public_key_hex);
    if let Some(p) = archive_gap {
        problems.insert(0, p);
    }
    Ok((summary, problems))
}
