//! One group commit: a batch's records sealed onto the chain in arrival order and
//! inserted in one transaction, then every waiting request answered with its outcome.
//! Under load the transaction stays open for the writer's linger and takes the
//! records that arrive meanwhile, a lot at a time, so that the inserts are done while
//! the batch forms and its end is little more than the sync, which is what the
//! waiting requests wait for.

use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use diesel::Connection;

use super::{Job, MAX_BATCH, Reply, State, WriterStats};
use crate::audit::chain::{ChainHead, seal};
use crate::audit::record::AuditRecord;
use crate::audit::store;
use crate::error::Error;

/// How often a forming batch takes the records that arrived: each take is one wake
/// of the writer and one insert, instead of one for every record.
const GATHER_STEP: Duration = Duration::from_micros(250);

/// Where a forming batch takes more records from, and until when.
pub(super) struct Gather<'a> {
    pub(super) rx: &'a Receiver<Job>,
    pub(super) until: Instant,
}

/// A committed batch: its records, and the flushes to answer once they are sealed.
pub(super) struct Committed {
    pub(super) records: usize,
    pub(super) flushes: Vec<Reply>,
}

/// Up to `room` jobs already waiting, without blocking.
pub(super) fn drain(rx: &Receiver<Job>, room: usize, stats: &WriterStats) -> Vec<Job> {
    let jobs: Vec<Job> = rx.try_iter().take(room).collect();
    let taken = i64::try_from(jobs.len()).unwrap_or(i64::MAX);
    stats.queued.fetch_sub(taken, Ordering::Relaxed);
    jobs
}

/// What a batch has taken so far: the chain head after its last record, and whom
/// to answer.
struct Taken {
    head: ChainHead,
    records: usize,
    replies: Vec<Reply>,
    flushes: Vec<Reply>,
    pings: Vec<Reply>,
}

impl Taken {
    /// Seals the records among `jobs` onto the chain, in order, keeping who waits.
    fn take(&mut self, jobs: Vec<Job>) -> Vec<AuditRecord> {
        let mut records = Vec::with_capacity(jobs.len());
        for job in jobs {
            match job {
                Job::Record(mut record, reply) => {
                    seal(&mut self.head, &mut record);
                    records.push(*record);
                    self.replies.extend(reply);
                }
                Job::Flush(reply) => self.flushes.push(reply),
                Job::Ping(reply) => self.pings.push(reply),
            }
        }
        self.records += records.len();
        records
    }
}

impl State {
    /// Commits the records of `batch`, and with `gather` those arriving until its end,
    /// then answers their requests and the batch's pings; returns its flush requests,
    /// to answer once the records are sealed.
    pub(super) fn commit(
        &mut self,
        batch: Vec<Job>,
        stats: &WriterStats,
        gather: Option<Gather<'_>>,
    ) -> Committed {
        let started = Instant::now();
        let mut taken = Taken {
            head: self.head.clone(),
            records: 0,
            replies: Vec::with_capacity(batch.len()),
            flushes: Vec::new(),
            pings: Vec::new(),
        };
        let first = taken.take(batch);
        if first.is_empty() {
            let last = if stats.failing.load(Ordering::SeqCst) {
                Err("no audit record could be committed since".to_string())
            } else {
                Ok(())
            };
            for reply in taken.pings {
                let _ = reply.send(last.clone());
            }
            return Committed {
                records: 0,
                flushes: taken.flushes,
            };
        }
        // The commit latency operators watch leaves out the time the batch waited
        // for more records.
        let mut waited = Duration::ZERO;
        let result = self.conn.transaction::<_, Error, _>(|c| {
            store::insert_records(c, first)?;
            let Some(gather) = gather else {
                return Ok(());
            };
            while taken.records < MAX_BATCH {
                let now = Instant::now();
                if now >= gather.until {
                    break;
                }
                let pause = (gather.until - now).min(GATHER_STEP);
                std::thread::sleep(pause);
                waited += pause;
                let jobs = drain(gather.rx, MAX_BATCH - taken.records, stats);
                store::insert_records(c, taken.take(jobs))?;
            }
            Ok(())
        });
        let outcome = match result {
            Ok(()) => {
                self.since_cp += i64::try_from(taken.records).unwrap_or(i64::MAX);
                self.head = taken.head;
                self.wal_since.get_or_insert_with(Instant::now);
                Ok(())
            }
            Err(e) => {
                self.recover();
                Err(e.to_string())
            }
        };
        stats.failing.store(outcome.is_err(), Ordering::SeqCst);
        stats
            .commit_seconds
            .observe_duration(started.elapsed().saturating_sub(waited));
        stats.batch_sizes.observe(taken.records as f64);
        for reply in taken.replies.into_iter().chain(taken.pings) {
            // A request that stopped waiting needs no answer.
            let _ = reply.send(outcome.clone());
        }
        Committed {
            records: taken.records,
            flushes: taken.flushes,
        }
    }
}
