//! What the audit writer counts for operators: batch sizes, commit
//! latency, queue depth, and whether it runs and its last commit succeeded.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use crate::metrics::{self, BATCH_BUCKETS, COMMIT_BUCKETS, Histogram};

/// What the writer counts for `/metrics` and `/readyz`.
#[derive(Debug)]
pub struct WriterStats {
    pub(super) batch_sizes: Histogram,
    pub(super) commit_seconds: Histogram,
    /// Jobs sent and not yet taken by the writer thread.
    pub(super) queued: AtomicI64,
    /// False once the writer thread has ended (or panicked).
    pub(super) running: AtomicBool,
    /// Whether the last commit failed.
    pub(super) failing: AtomicBool,
}

impl WriterStats {
    pub(super) fn new() -> WriterStats {
        WriterStats {
            batch_sizes: Histogram::new(&BATCH_BUCKETS),
            commit_seconds: Histogram::new(&COMMIT_BUCKETS),
            queued: AtomicI64::new(0),
            running: AtomicBool::new(true),
            failing: AtomicBool::new(false),
        }
    }

    /// Appends the writer's metrics in Prometheus text form.
    pub fn render(&self, out: &mut String) {
        let name = "kaifang_audit_batch_records";
        metrics::header(out, name, "histogram", "Audit records per group commit.");
        self.batch_sizes.render(out, name, "");
        let name = "kaifang_audit_commit_seconds";
        metrics::header(
            out,
            name,
            "histogram",
            "Time to seal and commit one batch of audit records.",
        );
        self.commit_seconds.render(out, name, "");
        let name = "kaifang_audit_queue_depth";
        metrics::header(
            out,
            name,
            "gauge",
            "Audit records (and pings) waiting for the writer.",
        );
        metrics::sample(out, name, "", self.queued.load(Ordering::Relaxed).max(0));
    }
}
