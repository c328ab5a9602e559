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

/// A record as a 100-row page request with a JWT leaves it (fields before sealing).
fn page_record(i: u64) -> AuditRecord {
    AuditRecord {
        chain: String::new(),
        seq: 0,
        time: kaifang::audit::now(),
        kind: "request".to_owned(),
        request_id: format!("bench-{i:016x}"),
        subject: "user:bench-user".to_owned(),
        roles: vec![],
        auth_method: "jwt".to_owned(),
        key_id: None,
        client_addr: Some("127.0.0.1".to_owned()),
        method: "GET".to_owned(),
        route: Some("/v1/datasets/{slug}/rows".to_owned()),
        path: "/v1/datasets/flights/rows".to_owned(),
        dataset: Some("flights".to_owned()),
        action: Some("data:query".to_owned()),
        decision: Some("allow".to_owned()),
        rule: Some("anonymous, tier:open, data:query".to_owned()),
        status: 200,
        rows: Some(100),
        bytes: Some(39_000),
        duration_us: 2_000,
        user_agent: None,
        query: Some(r#"{"filter":"carrier = 'UA'","limit":100}"#.to_owned()),
        complete: None,
        prev_hash: String::new(),
        hash: String::new(),
    }
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
        conn.transaction::<_, Error, _>(|c| insert_records(c, &records))
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
