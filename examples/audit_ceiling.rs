//! The durable audit ceiling for `bench/run.sh`: how many audit records a second the audit
//! store can commit when every commit carries a batch of `BATCH` records, as the group-commit
//! writer does with `BATCH` connections each waiting for its record. It uses Kaifang's own
//! code and settings: a migrated SQLite file, the writer's dedicated connection (WAL,
//! `synchronous = FULL`, no automatic WAL checkpoint; the passive checkpointer thread runs as
//! in `serve`), `chain::seal` for each record and `store::insert_records` in one transaction
//! per batch. No HTTP, no queue, no linger: the rate a request path with audit on cannot beat.
//!
//!   cargo run --release --example audit_ceiling -- DB_FILE [BATCH, default 32] [SECONDS, default 10]
//!
//! Prints one line: `records/s batches/s p50_ms p99_ms` of the commit (seal included).

// A measuring tool: a database it cannot create should stop it loudly at start.
#![allow(clippy::expect_used)]

use std::time::{Duration, Instant};

use diesel::Connection;
use kaifang::audit::AuditRecord;
use kaifang::audit::chain::{ChainHead, GENESIS, seal};
use kaifang::audit::store::insert_records;
use kaifang::db::Db;
use kaifang::error::Error;

#[path = "../benches/common/page_record.rs"]
mod common;

/// Record `i` of a page request, stamped now.
fn page_record(i: u64) -> AuditRecord {
    common::page_record(i, kaifang::audit::now())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: audit_ceiling DB_FILE [BATCH] [SECONDS]");
    let batch: usize = args.next().map_or(32, |a| a.parse().expect("BATCH"));
    let seconds: u64 = args.next().map_or(10, |a| a.parse().expect("SECONDS"));

    let db = Db::connect(&path, 2).expect("opening the database");
    db.migrate().expect("migrating");
    db.start_maintenance()
        .expect("starting the WAL checkpointer");
    let mut conn = db.dedicated(true).expect("the durable connection");
    let mut head = ChainHead {
        chain: "ceiling".to_owned(),
        seq: 0,
        hash: GENESIS.to_owned(),
    };

    let mut commits: Vec<Duration> = Vec::new();
    let mut n = 0u64;
    let started = Instant::now();
    let until = Duration::from_secs(seconds);
    while started.elapsed() < until {
        let mut records: Vec<AuditRecord> = (0..batch)
            .map(|_| {
                n += 1;
                page_record(n)
            })
            .collect();
        let t = Instant::now();
        for r in &mut records {
            seal(&mut head, r);
        }
        conn.transaction::<_, Error, _>(|c| insert_records(c, records))
            .expect("committing a batch");
        commits.push(t.elapsed());
    }
    let elapsed = started.elapsed().as_secs_f64();
    commits.sort();
    let at = |q: f64| {
        commits
            .get(((commits.len() as f64 * q) as usize).min(commits.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "{:.0} {:.0} {:.2} {:.2}",
        n as f64 / elapsed,
        commits.len() as f64 / elapsed,
        at(0.50),
        at(0.99)
    );
}
