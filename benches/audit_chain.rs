//! Cost of appending to the audit hash chain, per record: the canonical bytes, the SHA-256
//! over them and the previous hash, and `seal` (both plus moving the head). The audit writer
//! runs `seal` once per request on its one thread, so its inverse bounds the records/s the
//! writer could seal even with free commits. The commit itself (the fsync) is measured by
//! `examples/audit_ceiling.rs`, run by `bench/run.sh`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kaifang::audit::AuditRecord;
use kaifang::audit::chain::{ChainHead, GENESIS, canonical_bytes, compute_hash, seal};

/// A record as a 100-row page request with a JWT leaves it, before sealing.
fn page_record() -> AuditRecord {
    AuditRecord {
        chain: "main".to_owned(),
        seq: 1,
        time: "2026-11-29T06:10:00.123456Z".to_owned(),
        kind: "request".to_owned(),
        request_id: "5b1c7a0e9f3d4c2a8e6b1d0f7a9c3e51".to_owned(),
        subject: "user:bench-user".to_owned(),
        roles: vec!["researcher".to_owned()],
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
        user_agent: Some("wrk".to_owned()),
        query: Some(r#"{"filter":"carrier = 'UA'","limit":100}"#.to_owned()),
        complete: None,
        prev_hash: GENESIS.to_owned(),
        hash: String::new(),
    }
}

fn bench_chain(c: &mut Criterion) {
    let record = page_record();
    let mut group = c.benchmark_group("audit_chain");
    group.throughput(Throughput::Elements(1));
    group.bench_function("canonical_bytes", |b| {
        b.iter(|| black_box(canonical_bytes(black_box(&record))))
    });
    group.bench_function("compute_hash", |b| {
        b.iter(|| black_box(compute_hash(GENESIS, black_box(&record))))
    });
    group.bench_function("seal", |b| {
        let mut head = ChainHead {
            chain: "main".to_owned(),
            seq: 0,
            hash: GENESIS.to_owned(),
        };
        b.iter(|| {
            let mut r = record.clone();
            seal(&mut head, &mut r);
            black_box(r)
        })
    });
    // What `seal` adds to the clone it needs, for reading the line above.
    group.bench_function("clone_record", |b| {
        b.iter(|| black_box(black_box(&record).clone()))
    });
    group.finish();
}

criterion_group!(benches, bench_chain);
criterion_main!(benches);
