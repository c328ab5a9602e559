//! Cost of appending to the audit hash chain, per record: the canonical bytes, the SHA-256
//! over them and the previous hash, and `seal` (both plus moving the head). The audit writer
//! runs `seal` once per request on its one thread, so its inverse bounds the records/s the
//! writer could seal even with free commits. The commit itself (the fsync) is measured by
//! `examples/audit_ceiling.rs`, run by `bench/run.sh`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kaifang::audit::AuditRecord;
use kaifang::audit::chain::{ChainHead, GENESIS, canonical_bytes, compute_hash, seal};

#[path = "common/page_record.rs"]
mod common;

/// The sample page record as the first of chain `main`.
fn page_record() -> AuditRecord {
    let mut record = common::page_record(1, "2026-11-29T06:10:00.123456Z".to_owned());
    record.chain = "main".to_owned();
    record.seq = 1;
    record.prev_hash = GENESIS.to_owned();
    record
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
