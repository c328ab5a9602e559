//! The audit writer: one thread that owns the chain head and a dedicated
//! connection, seals records in arrival order and commits them in batches
//! (group commit). Each request waits for the commit of its batch, so no
//! answer leaves before its record is durable, while one commit (one fsync)
//! serves every request that arrived during the previous one. It also
//! writes a signed checkpoint every `checkpoint_every` records or
//! `checkpoint_interval`, to the database and to a log file outside it.
//! It counts what operators watch (batch sizes, commit latency, queue
//! depth) and answers a liveness ping between batches.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use super::chain::{ChainHead, GENESIS};
use super::checkpoint::{Checkpoint, CheckpointKey};
use super::record::AuditRecord;
use super::store;
pub use super::writer_stats::WriterStats;
use crate::db::AnyConnection;
use crate::error::{Error, Result};
use checkpoints::unlogged_tail;

mod batch;
mod checkpoints;

use batch::{Gather, drain};

/// Most records sealed and committed in one transaction.
const MAX_BATCH: usize = 1024;
/// How long a batch waits for more records after its first, when the
/// previous batch showed that requests are arriving together.
const LINGER: Duration = Duration::from_micros(1000);
/// Requests waiting for the writer before new ones are refused (503).
const QUEUE: usize = 16 * 1024;
/// How long after a commit the log's WAL is copied back into its file.
const WAL_CHECKPOINT_AFTER: Duration = Duration::from_millis(500);

/// How the writer seals and checkpoints one chain.
pub struct WriterConfig {
    pub chain: String,
    pub key: CheckpointKey,
    pub checkpoint_log: PathBuf,
    pub checkpoint_every: i64,
    pub checkpoint_interval: Duration,
    /// Opens a fresh connection after a failed commit. Set on PostgreSQL,
    /// whose server can go away and come back (the old connection then
    /// stays broken); SQLite's file connection never needs it.
    pub reconnect: Option<Box<dyn Fn() -> Result<AnyConnection> + Send>>,
}

type Reply = tokio::sync::oneshot::Sender<std::result::Result<(), String>>;

enum Job {
    Record(Box<AuditRecord>, Option<Reply>),
    /// Answered once every job sent before it is committed and sealed by a checkpoint.
    Flush(Reply),
    /// Answered between batches with the outcome of the last commit.
    Ping(Reply),
}

/// Clears `running` when the writer thread ends, by return or by panic.
struct RunningGuard(Arc<WriterStats>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::SeqCst);
    }
}

/// A handle to the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct AuditWriter {
    tx: SyncSender<Job>,
    chain: String,
    stats: Arc<WriterStats>,
}

impl AuditWriter {
    /// Starts the writer on `conn`, continuing the chain where the
    /// database left it.
    pub fn start(mut conn: AnyConnection, config: WriterConfig) -> Result<AuditWriter> {
        let head = match store::chain_head(&mut conn, &config.chain)? {
            Some((seq, hash)) => ChainHead {
                chain: config.chain.clone(),
                seq,
                hash,
            },
            None => ChainHead {
                chain: config.chain.clone(),
                seq: 0,
                hash: GENESIS.to_string(),
            },
        };
        let mut stored = store::checkpoints(&mut conn, &config.chain)?;
        let unlogged = unlogged_tail(&stored, &config)?;
        let last_cp = stored.pop();
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let chain = config.chain.clone();
        let stats = Arc::new(WriterStats::new());
        let guard = RunningGuard(Arc::clone(&stats));
        std::thread::Builder::new()
            .name("audit-writer".to_string())
            .spawn(move || run(conn, config, head, last_cp, unlogged, rx, guard))
            .map_err(|e| Error::internal("starting the audit writer", e))?;
        Ok(AuditWriter { tx, chain, stats })
    }

    pub fn chain(&self) -> &str {
        &self.chain
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    fn send(&self, job: Job) -> Result<()> {
        self.tx.try_send(job).map_err(|_| unavailable())?;
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Whether the writer thread runs, answers within `timeout` and its last
    /// commit succeeded; the error says which of these failed.
    pub async fn ping(&self, timeout: Duration) -> std::result::Result<(), String> {
        if !self.stats.running.load(Ordering::SeqCst) {
            return Err("the audit writer has stopped".to_string());
        }
        let (reply, wait) = tokio::sync::oneshot::channel();
        self.send(Job::Ping(reply))
            .map_err(|_| "the audit writer's queue is full or closed".to_string())?;
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(cause))) => Err(format!("the last audit commit failed: {cause}")),
            Ok(Err(_)) => Err("the audit writer has stopped".to_string()),
            Err(_) => Err(format!(
                "the audit writer did not answer within {} ms",
                timeout.as_millis()
            )),
        }
    }

    /// Appends `record` and waits until it is committed.
    pub async fn append(&self, record: AuditRecord) -> Result<()> {
        let (reply, wait) = tokio::sync::oneshot::channel();
        self.send(Job::Record(Box::new(record), Some(reply)))?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(cause)) => {
                tracing::error!(error = %cause, "audit commit failed");
                Err(unavailable())
            }
            Err(_) => Err(unavailable()),
        }
    }

    /// Waits until every record sent before this call is committed and sealed by a
    /// checkpoint; at shutdown, after the last request has been answered.
    pub async fn flush(&self) -> Result<()> {
        let (reply, wait) = tokio::sync::oneshot::channel();
        self.send(Job::Flush(reply))?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(cause)) => Err(Error::internal("flushing the audit log", cause)),
            Err(_) => Err(unavailable()),
        }
    }

    /// Appends `record` without waiting (for requests whose client is gone).
    pub fn append_detached(&self, record: AuditRecord) {
        if self.send(Job::Record(Box::new(record), None)).is_err() {
            tracing::error!("audit writer unavailable; a record of an abandoned request was lost");
        }
    }
}

fn unavailable() -> Error {
    Error::unavailable(
        "the audit log cannot be written, so the request was not served; try again shortly",
    )
}

struct State {
    conn: AnyConnection,
    config: WriterConfig,
    head: ChainHead,
    last_cp: Option<Checkpoint>,
    /// Stored checkpoints not yet in the external log, oldest first.
    unlogged: Vec<Checkpoint>,
    since_cp: i64,
    cp_at: Instant,
    /// When the first commit since the last WAL checkpoint was made.
    wal_since: Option<Instant>,
}

fn run(
    conn: AnyConnection,
    config: WriterConfig,
    head: ChainHead,
    last_cp: Option<Checkpoint>,
    unlogged: Vec<Checkpoint>,
    rx: Receiver<Job>,
    running: RunningGuard,
) {
    let stats = Arc::clone(&running.0);
    let since_cp = head.seq - last_cp.as_ref().map_or(0, |c| c.seq);
    let mut state = State {
        conn,
        config,
        head,
        last_cp,
        unlogged,
        since_cp,
        cp_at: Instant::now(),
        wal_since: None,
    };
    state.log_pending();
    let mut busy = false;
    loop {
        let wait = match state.wal_since {
            Some(at) => WAL_CHECKPOINT_AFTER.saturating_sub(at.elapsed()),
            None => state.config.checkpoint_interval,
        };
        let first = match rx.recv_timeout(wait.min(state.config.checkpoint_interval)) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                state.maybe_checkpoint();
                state.maybe_checkpoint_wal();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        stats.queued.fetch_sub(1, Ordering::Relaxed);
        let mut batch = vec![first];
        batch.extend(drain(&rx, MAX_BATCH - 1, &stats));
        // Under load, more records arrive while a batch forms: the batch stays
        // open for LINGER and takes them as they come, inserting each lot at
        // once, so that fewer and larger commits are made (each writes its
        // pages and syncs once) and what is left at the end is little more
        // than the sync. A lone request is not kept waiting.
        let gather = busy.then(|| Gather {
            rx: &rx,
            until: Instant::now() + LINGER,
        });
        let committed = state.commit(batch, &stats, gather);
        busy = committed.records > 1;
        let flushes = committed.flushes;
        state.maybe_checkpoint();
        if !flushes.is_empty() {
            if state.since_cp > 0 {
                state.checkpoint();
            }
            let outcome = if state.since_cp == 0 && state.unlogged.is_empty() {
                Ok(())
            } else {
                Err("the last checkpoint could not be stored or logged".to_owned())
            };
            for reply in flushes {
                let _ = reply.send(outcome.clone());
            }
        }
        // After the batch is answered: its requests do not wait for this.
        state.maybe_checkpoint_wal();
    }
    // Every sender is gone: seal what was written so far.
    if state.since_cp > 0 {
        state.checkpoint();
    }
}

impl State {
    /// Copies the WAL back into the log's file once the oldest commit not yet
    /// copied is `WAL_CHECKPOINT_AFTER` old. A failure is retried at the next
    /// batch; the commits themselves are durable in the WAL meanwhile.
    fn maybe_checkpoint_wal(&mut self) {
        let Some(since) = self.wal_since else {
            return;
        };
        if since.elapsed() < WAL_CHECKPOINT_AFTER {
            return;
        }
        match crate::db::checkpoint_audit_wal(&mut self.conn) {
            Ok(()) => self.wal_since = None,
            Err(e) => {
                tracing::warn!(error = %e, "audit writer: WAL checkpoint failed; retrying");
                self.wal_since = Some(Instant::now());
            }
        }
    }

    /// After a failed commit, replaces the connection (when the backend
    /// can lose it) and re-reads the chain head: a commit whose answer was
    /// lost with the connection may have landed, and the chain must go on
    /// from what the database holds. Nothing is answered from here: the
    /// failed batch's requests were already told it failed.
    fn recover(&mut self) {
        let Some(reconnect) = &self.config.reconnect else {
            return;
        };
        match reconnect() {
            Ok(mut conn) => match store::chain_head(&mut conn, &self.config.chain) {
                Ok(head) => {
                    if let Some((seq, hash)) = head {
                        self.head.seq = seq;
                        self.head.hash = hash;
                    }
                    self.conn = conn;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "audit writer: re-reading the chain head failed")
                }
            },
            Err(e) => tracing::warn!(error = %e, "audit writer: the database is still unreachable"),
        }
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
