//! CSV import pass 1 per MB: `scan` (parse, validate, infer every column's type, count
//! distinct values for indexes) over the full flights file (29.5 MB, 336,776 rows), plain
//! and gzipped, and `infer_type` alone over the values of every column. Criterion reports
//! MB/s of uncompressed CSV (or of field bytes, for `infer_type`).
//!
//! Reads `bts_nyc_flights_2013.csv.gz` from `$KAIFANG_SHARED_DATASETS`, default
//! `../shared/datasets` beside the repository.

// A benchmark whose fixtures cannot be built should stop loudly, not limp on.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::io::Read;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kaifang::data::csv::{infer_type, scan};

const INFER_ROWS: usize = 100_000;

fn flights_gz() -> PathBuf {
    let dir = std::env::var_os("KAIFANG_SHARED_DATASETS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets"),
        PathBuf::from,
    );
    dir.join("bts_nyc_flights_2013.csv.gz")
}

fn bench_csv(c: &mut Criterion) {
    let gz = flights_gz();
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&gz).expect("the flights file"))
        .read_to_end(&mut plain)
        .expect("gunzip");
    let dir = tempfile::tempdir().expect("temp dir");
    let csv_path = dir.path().join("flights.csv");
    std::fs::write(&csv_path, &plain).expect("writing the plain CSV");

    let mut group = c.benchmark_group("csv");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(plain.len() as u64));
    group.bench_function("scan_plain_flights", |b| {
        b.iter(|| black_box(scan(&csv_path, &mut |_| {}).expect("scans")))
    });
    group.bench_function("scan_gzip_flights", |b| {
        b.iter(|| black_box(scan(&gz, &mut |_| {}).expect("scans")))
    });

    // Column-wise values of the first rows, as `infer_type` sees them.
    let mut reader = csv::Reader::from_reader(plain.as_slice());
    let width = reader.headers().expect("header").len();
    let mut columns: Vec<Vec<String>> = vec![Vec::with_capacity(INFER_ROWS); width];
    for record in reader.records().take(INFER_ROWS) {
        let record = record.expect("record");
        for (column, field) in columns.iter_mut().zip(record.iter()) {
            column.push(field.to_owned());
        }
    }
    let field_bytes: usize = columns.iter().flatten().map(String::len).sum();
    group.sample_size(20);
    group.throughput(Throughput::Bytes(field_bytes as u64));
    group.bench_function("infer_type_flights_100k_rows", |b| {
        b.iter(|| {
            for column in &columns {
                black_box(infer_type(column.iter().map(String::as_str)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_csv);
criterion_main!(benches);
