//! Cost of turning a `filter=` text into SQL: parsing (`parse_filter`) and compiling against
//! the flights columns (`write_filter`), for the filter the load benchmark pages with and
//! for larger ones. Both run once per rows request, before any database work.

// A benchmark whose fixtures cannot be built should stop loudly, not limp on.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kaifang::data::query::{parse_filter, write_filter};
use kaifang::data::sql::{Dialect, SqlBuilder};
use kaifang::data::types::{Column, ColumnType};

/// The flights columns with the types the import infers for them.
fn flights_columns() -> Vec<Column> {
    use ColumnType::{Integer, Text, Timestamp};
    [
        ("year", Integer),
        ("month", Integer),
        ("day", Integer),
        ("dep_time", Integer),
        ("sched_dep_time", Integer),
        ("dep_delay", Integer),
        ("arr_time", Integer),
        ("sched_arr_time", Integer),
        ("arr_delay", Integer),
        ("carrier", Text),
        ("flight", Integer),
        ("tailnum", Text),
        ("origin", Text),
        ("dest", Text),
        ("air_time", Integer),
        ("distance", Integer),
        ("hour", Integer),
        ("minute", Integer),
        ("time_hour", Timestamp),
    ]
    .into_iter()
    .map(|(name, ty)| Column {
        name: name.to_owned(),
        ty,
    })
    .collect()
}

fn filters() -> Vec<(&'static str, String)> {
    let dests: Vec<String> = (0..100).map(|i| format!("'D{i:02}'")).collect();
    vec![
        ("one_eq", "carrier = 'UA'".to_owned()),
        (
            "five_terms",
            "carrier = 'UA' and dep_delay > 30 and (origin = 'JFK' or origin = 'EWR') \
             and not (tailnum is null) and time_hour >= '2013-06-01'"
                .to_owned(),
        ),
        (
            "in_100",
            format!("carrier in ('UA', 'AA') and dest in ({})", dests.join(", ")),
        ),
    ]
}

fn bench_query(c: &mut Criterion) {
    let columns = flights_columns();
    let mut parse = c.benchmark_group("parse_filter");
    for (name, text) in filters() {
        parse.throughput(Throughput::Bytes(text.len() as u64));
        parse.bench_with_input(BenchmarkId::from_parameter(name), &text, |b, text| {
            b.iter(|| black_box(parse_filter(black_box(text)).expect("parses")));
        });
    }
    parse.finish();

    let mut compile = c.benchmark_group("write_filter");
    for (name, text) in filters() {
        let expr = parse_filter(&text).expect("parses");
        compile.bench_with_input(BenchmarkId::from_parameter(name), &expr, |b, expr| {
            b.iter(|| {
                let mut out = SqlBuilder::new(Dialect::Sqlite);
                write_filter(black_box(expr), &columns, &mut out).expect("compiles");
                black_box(out)
            });
        });
    }
    compile.finish();

    let mut both = c.benchmark_group("parse_and_write");
    for (name, text) in filters() {
        both.bench_with_input(BenchmarkId::from_parameter(name), &text, |b, text| {
            b.iter(|| {
                let expr = parse_filter(black_box(text)).expect("parses");
                let mut out = SqlBuilder::new(Dialect::Sqlite);
                write_filter(&expr, &columns, &mut out).expect("compiles");
                black_box(out)
            });
        });
    }
    both.finish();
}

criterion_group!(benches, bench_query);
criterion_main!(benches);
