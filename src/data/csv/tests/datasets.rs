//! Scans of the shared government datasets, checking row counts and the
//! column types PROVENANCE.md lists. The data lives in `../shared/datasets`
//! beside the repository (or `KAIFANG_SHARED_DATASETS`); a missing file
//! fails the test rather than skipping it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::*;

fn dataset(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("KAIFANG_SHARED_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets"));
    let path = dir.join(name);
    assert!(path.exists(), "missing test data {}", path.display());
    Some(path)
}

/// Scans `name` and checks its rows and every column's type, given in
/// PROVENANCE.md's words (string = text, number = real, datetime =
/// timestamp).
fn check(name: &str, rows: u64, expected: &[(&str, &str)]) -> Option<Scan> {
    let path = dataset(name)?;
    let s = scan(&path, &mut |_| {}).unwrap();
    assert_eq!(s.rows, rows, "{name}");
    let got: Vec<(&str, &str)> = s
        .columns
        .iter()
        .map(|c| {
            let ty = match c.ty {
                ColumnType::Text => "string",
                ColumnType::Real => "number",
                ColumnType::Timestamp => "datetime",
                other => other.as_str(),
            };
            (c.name.as_str(), ty)
        })
        .collect();
    assert_eq!(got, expected, "{name}");
    Some(s)
}

#[test]
fn flights_scan_and_convert_with_timing() {
    let expected = [
        ("year", "integer"),
        ("month", "integer"),
        ("day", "integer"),
        ("dep_time", "integer"),
        ("sched_dep_time", "integer"),
        ("dep_delay", "integer"),
        ("arr_time", "integer"),
        ("sched_arr_time", "integer"),
        ("arr_delay", "integer"),
        ("carrier", "string"),
        ("flight", "integer"),
        ("tailnum", "string"),
        ("origin", "string"),
        ("dest", "string"),
        ("air_time", "integer"),
        ("distance", "integer"),
        ("hour", "integer"),
        ("minute", "integer"),
        ("time_hour", "datetime"),
    ];
    let started = Instant::now();
    let Some(s) = check("bts_nyc_flights_2013.csv.gz", 336_776, &expected) else {
        return;
    };
    let scanned = started.elapsed();
    assert_eq!(
        s.sha256,
        "1b4b7602118b605e0c3f215a5800d7c984fa6efd9f4178c8f9db09f53b4d39cf"
    );
    let path = dataset("bts_nyc_flights_2013.csv.gz").unwrap();
    let started = Instant::now();
    let mut n = 0u64;
    let mut first = None;
    for row in rows(&path, &s.columns).unwrap() {
        let row = row.unwrap();
        if first.is_none() {
            first = Some(row);
        }
        n += 1;
    }
    let converted = started.elapsed();
    assert_eq!(n, 336_776);
    let first = first.unwrap();
    assert_eq!(first[5], Value::Int(2));
    assert_eq!(first[18], text("2013-01-01T10:00:00Z"));
    eprintln!(
        "flights: scan {:.2?} ({:.0} rows/s), rows {:.2?} ({:.0} rows/s); indexed {:?}",
        scanned,
        n as f64 / scanned.as_secs_f64(),
        converted,
        n as f64 / converted.as_secs_f64(),
        s.indexed
    );
}

#[test]
fn weather_types() {
    let expected = [
        ("origin", "string"),
        ("year", "integer"),
        ("month", "integer"),
        ("day", "integer"),
        ("hour", "integer"),
        ("temp", "number"),
        ("dewp", "number"),
        ("humid", "number"),
        ("wind_dir", "integer"),
        ("wind_speed", "number"),
        ("wind_gust", "number"),
        ("precip", "number"),
        ("pressure", "number"),
        ("visib", "number"),
        ("time_hour", "datetime"),
    ];
    if let Some(s) = check("asos_nyc_airport_weather_2013.csv", 26_115, &expected) {
        assert_eq!(
            s.sha256,
            "ed14cef59e096eb3a873e98fd6d1a3af8853f08a1e800fecd90050de74a6c0ab"
        );
    }
}

#[test]
fn planes_types() {
    let expected = [
        ("tailnum", "string"),
        ("year", "integer"),
        ("type", "string"),
        ("manufacturer", "string"),
        ("model", "string"),
        ("engines", "integer"),
        ("seats", "integer"),
        ("speed", "integer"),
        ("engine", "string"),
    ];
    check("faa_registry_planes_nyc2013.csv", 3_322, &expected);
}

#[test]
fn census_types() {
    let expected = [
        ("id", "integer"),
        ("income", "integer"),
        ("employment", "string"),
        ("hrs_work", "integer"),
        ("race", "string"),
        ("age", "integer"),
        ("gender", "string"),
        ("citizen", "string"),
        ("time_to_work", "integer"),
        ("lang", "string"),
        ("married", "string"),
        ("edu", "string"),
        ("disability", "string"),
        ("birth_qrtr", "string"),
    ];
    check("us_census_acs2012_sample.csv", 2_000, &expected);
}

#[test]
fn communes_keep_codes_as_text_and_accents_byte_identical() {
    // `siren` and `commune` are fixed-width digit codes (9 and 5 digits),
    // which inference keeps as text, as PROVENANCE.md types them.
    let expected = [
        ("code", "string"),
        ("nom", "string"),
        ("type", "string"),
        ("zone", "string"),
        ("region", "string"),
        ("departement", "string"),
        ("arrondissement", "string"),
        ("siren", "string"),
        ("codesPostaux", "string"),
        ("population", "integer"),
        ("typeLiaison", "integer"),
        ("rangChefLieu", "integer"),
        ("chefLieu", "string"),
        ("commune", "string"),
        ("anciensCodes", "string"),
    ];
    let Some(s) = check("fr_insee_communes_2026.csv", 37_590, &expected) else {
        return;
    };
    let path = dataset("fr_insee_communes_2026.csv").unwrap();
    let first = rows(&path, &s.columns).unwrap().next().unwrap().unwrap();
    assert_eq!(first[0], text("01001"));
    // Compared as bytes: the accent must survive without normalisation.
    let name = "L'Abergement-Cl\u{e9}menciat";
    assert_eq!(first[1], text(name));
    let Value::Text(got) = &first[1] else {
        unreachable!()
    };
    assert_eq!(got.as_bytes(), b"L'Abergement-Cl\xc3\xa9menciat");
}
