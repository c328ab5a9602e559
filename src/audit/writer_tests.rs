use std::time::{Duration, Instant};

use super::*;
use crate::audit::chain::tests::sample_record;
use crate::db::Db;

/// The WAL checkpoint sequence number in a SQLite WAL file's header: it goes
/// up by one each time the WAL starts over from its first frame.
fn wal_restarts(wal: &std::path::Path) -> u32 {
    let header = std::fs::read(wal).unwrap();
    u32::from_be_bytes(header[12..16].try_into().unwrap())
}

fn start_writer(dir: &std::path::Path) -> (Db, AuditWriter) {
    let path = dir.join("k.db");
    let db = Db::connect(path.to_str().unwrap(), 2).unwrap();
    db.migrate().unwrap();
    let writer = AuditWriter::start(
        db.dedicated(true).unwrap(),
        WriterConfig {
            chain: "main".to_string(),
            key: CheckpointKey::from_seed([7; 32]),
            checkpoint_log: dir.join("checkpoints.jsonl"),
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(60),
            reconnect: None,
        },
    )
    .unwrap();
    (db, writer)
}

/// A value of the writer's metrics, as Prometheus would read it.
fn metric(writer: &AuditWriter, name: &str) -> f64 {
    let mut out = String::new();
    writer.stats().render(&mut out);
    out.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap()
}

/// Records sent while a batch forms join it: with requests arriving together, batches
/// hold many records, every append is answered only after its commit, and the chain
/// verifies whole with every record in the order it was sealed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_gathered_while_a_batch_forms_are_committed_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (db, writer) = start_writer(dir.path());
    let waves = 8u64;
    for wave in 0..waves {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..64 {
            let w = writer.clone();
            tasks.spawn(async move {
                // Spread over about two lingers, so that most arrive while a batch
                // is already open.
                tokio::time::sleep(Duration::from_micros(i * 30)).await;
                w.append(sample_record((wave * 64 + i) as i64)).await
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap().unwrap();
        }
    }
    let records = 64 * waves;
    let batches = metric(&writer, "kaifang_audit_batch_records_count");
    assert_eq!(
        metric(&writer, "kaifang_audit_batch_records_sum"),
        records as f64
    );
    assert!(
        batches < records as f64 / 4.0,
        "{batches} commits for {records} records: batches did not gather"
    );
    writer.flush().await.unwrap();
    let mut conn = db.dedicated(false).unwrap();
    let stored = crate::audit::store::chain_records(&mut conn, "main", 0, 10_000).unwrap();
    let seqs: Vec<i64> = stored.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=records as i64).collect::<Vec<_>>());
    let key = CheckpointKey::from_seed([7; 32]).public_key_hex();
    let report =
        crate::audit::check::verify_log(&mut conn, &key, &dir.path().join("checkpoints.jsonl"))
            .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

/// A log written without a pause never lets a checkpoint on another thread
/// finish first, so only the writer can start its WAL over, and it does, every
/// `WAL_CHECKPOINT_AFTER`: the WAL is reused instead of growing by every
/// commit. Nothing else checkpoints here (the server's checkpointer thread is
/// not running).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_stream_of_records_starts_the_wal_over() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, writer) = start_writer(dir.path());
    // One record a commit, each awaited: every commit adds at least one page.
    let until = Instant::now() + WAL_CHECKPOINT_AFTER * 4;
    let mut commits = 0u64;
    while Instant::now() < until {
        writer.append(sample_record(0)).await.unwrap();
        commits += 1;
    }
    let wal = dir.path().join("k.audit.db-wal");
    let size = std::fs::metadata(&wal).unwrap().len();
    // Started over at least once a window but the last: without the
    // writer's checkpoints, never.
    assert!(
        wal_restarts(&wal) >= 2,
        "the WAL never started over: {size} bytes after {commits} commits"
    );
}
