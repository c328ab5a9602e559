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

/// A log written without a pause never lets a checkpoint on another thread
/// finish first, so only the writer can start its WAL over, and it does, every
/// `WAL_CHECKPOINT_AFTER`: the WAL is reused instead of growing by every
/// commit. Nothing else checkpoints here (the server's checkpointer thread is
/// not running).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_stream_of_records_starts_the_wal_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let db = Db::connect(path.to_str().unwrap(), 2).unwrap();
    db.migrate().unwrap();
    let writer = AuditWriter::start(
        db.dedicated(true).unwrap(),
        WriterConfig {
            chain: "main".to_string(),
            key: CheckpointKey::from_seed([7; 32]),
            checkpoint_log: dir.path().join("checkpoints.jsonl"),
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(60),
            reconnect: None,
        },
    )
    .unwrap();
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
