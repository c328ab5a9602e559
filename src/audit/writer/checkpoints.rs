//! The writer's checkpoints: signing the chain head every so many records
//! or seconds, storing it, and appending it to the log outside the database,
//! including the tail a crash left stored but not yet logged.

use std::time::Instant;

use super::super::checkpoint::{Checkpoint, append_to_log, read_log};
use super::super::store;
use super::{State, WriterConfig};
use crate::error::{Error, Result};

/// The checkpoints of this chain stored in the database after the last one
/// in the external log. A checkpoint is stored first and logged second, so
/// a crash (or a failed write) between the two leaves exactly such a tail;
/// logging it now, in order, completes what was interrupted. Only the tail
/// is repaired: a checkpoint missing from the middle of the log stays
/// missing, for verify to report.
pub(super) fn unlogged_tail(
    stored: &[Checkpoint],
    config: &WriterConfig,
) -> Result<Vec<Checkpoint>> {
    let logged = read_log(&config.checkpoint_log).map_err(|e| {
        Error::internal(
            format!(
                "reading the audit checkpoint log {}",
                config.checkpoint_log.display()
            ),
            e,
        )
    })?;
    let last_logged = logged
        .iter()
        .filter(|c| c.chain == config.chain)
        .map(|c| c.seq)
        .max()
        .unwrap_or(0);
    Ok(stored
        .iter()
        .filter(|c| c.seq > last_logged)
        .cloned()
        .collect())
}

impl State {
    pub(super) fn maybe_checkpoint(&mut self) {
        if !self.unlogged.is_empty() {
            self.log_pending();
        }
        let due_by_count = self.since_cp >= self.config.checkpoint_every;
        let due_by_time =
            self.since_cp > 0 && self.cp_at.elapsed() >= self.config.checkpoint_interval;
        if due_by_count || due_by_time {
            self.checkpoint();
        }
    }

    pub(super) fn checkpoint(&mut self) {
        let mut cp = Checkpoint {
            chain: self.head.chain.clone(),
            seq: self.head.seq,
            head_hash: self.head.hash.clone(),
            count: self.head.seq,
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            prev_signature: self
                .last_cp
                .as_ref()
                .map(|c| c.signature.clone())
                .unwrap_or_default(),
            signature: String::new(),
        };
        self.config.key.sign(&mut cp);
        if let Err(e) = store::insert_checkpoint(&mut self.conn, &cp) {
            tracing::error!(error = %e, "could not store an audit checkpoint");
            return;
        }
        self.unlogged.push(cp.clone());
        self.log_pending();
        self.since_cp = 0;
        self.cp_at = Instant::now();
        self.last_cp = Some(cp);
    }

    /// Appends the stored checkpoints the log still lacks, in order; on a
    /// failure the rest wait for the next checkpoint (or restart).
    pub(super) fn log_pending(&mut self) {
        while let Some(cp) = self.unlogged.first() {
            if let Err(e) = append_to_log(&self.config.checkpoint_log, cp) {
                tracing::error!(error = %e, path = %self.config.checkpoint_log.display(), "could not append to the audit checkpoint log; will retry");
                return;
            }
            self.unlogged.remove(0);
        }
    }
}
