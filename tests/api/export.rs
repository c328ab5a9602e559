//! The streamed export: what it sends for each format, that an export
//! re-imports to exactly the rows it came from, that select, filter and
//! order apply, gzip, and how it refuses.

// Helpers outside the test functions panic on purpose too: a failed
// expectation is a failed test.
#![allow(clippy::expect_used)]

use std::io::Read;

use kaifang::catalog::Tier;
use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::helpers::{DatasetBuilder, TestApp, assert_problem, shared_dataset, spawn_app};

async fn json_of(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.expect("body");
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}

async fn metadata(app: &TestApp, slug: &str) -> Value {
    let (status, body) = json_of(app.get(&format!("/v1/datasets/{slug}")).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// An export's headers and body, asserting 200.
async fn export_ok(app: &TestApp, slug: &str, params: &[(&str, &str)]) -> (HeaderMap, Vec<u8>) {
    let res = app.export(slug, params).await;
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.bytes().await.expect("body").to_vec();
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    (headers, body)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Every row of the current version, following `next_cursor`.
async fn all_rows(app: &TestApp, slug: &str) -> Vec<Map<String, Value>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut params = vec![("limit", "10000")];
        if let Some(c) = &cursor {
            params.push(("cursor", c.as_str()));
        }
        let page = app.rows_json(slug, &params).await;
        for row in page["data"].as_array().expect("data") {
            out.push(row.as_object().expect("row object").clone());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

fn current_table(app: &TestApp, slug: &str) -> String {
    let rows = app.sqlite().query(&format!(
        "SELECT v.table_name FROM datasets d JOIN dataset_versions v ON v.id = d.current_version_id WHERE d.slug = '{slug}'"
    ));
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows[0].clone()
}

/// Asserts that `copy` holds exactly the rows of `original`: the same
/// columns and types in the metadata, the same rows through the API, and,
/// read by an independent engine, the same stored values bit for bit.
async fn assert_same_rows(app: &TestApp, original: &str, copy: &str) {
    let a = metadata(app, original).await;
    let b = metadata(app, copy).await;
    assert_eq!(a["columns"], b["columns"], "column names and types");
    assert_eq!(a["row_count"], b["row_count"]);

    let rows_a = all_rows(app, original).await;
    let rows_b = all_rows(app, copy).await;
    assert_eq!(rows_a.len(), rows_b.len());
    for (i, (x, y)) in rows_a.iter().zip(&rows_b).enumerate() {
        assert_eq!(x, y, "row {}", i + 1);
    }

    let (ta, tb) = (current_table(app, original), current_table(app, copy));
    let names: Vec<String> = a["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().expect("name").replace('"', "\"\""))
        .collect();
    let db = app.sqlite();
    let differs: Vec<String> = names
        .iter()
        .map(|n| {
            let (x, y) = (format!("a.\"{n}\""), format!("b.\"{n}\""));
            // On PostgreSQL the values' text is compared too: it is the
            // shortest that reads back to the same double, so -0 and 0 differ.
            let text = if db.is_postgres() {
                format!(" OR {x}::text IS DISTINCT FROM {y}::text")
            } else {
                String::new()
            };
            format!(
                "{x} IS DISTINCT FROM {y} OR {} != {}{text}",
                db.type_of(&x),
                db.type_of(&y)
            )
        })
        .collect();
    let sql = format!(
        "SELECT (SELECT count(*) FROM \"{ta}\"), (SELECT count(*) FROM \"{tb}\"), \
         count(*) FROM \"{ta}\" a JOIN \"{tb}\" b ON a.__row = b.__row WHERE {}",
        differs.join(" OR ")
    );
    let got = db.query(&sql);
    let n = a["row_count"].as_i64().expect("row_count");
    assert_eq!(got, vec![format!("{n}|{n}|0")], "rows differing in storage");
}

/// The fields of one NDJSON line in order, each as its raw JSON text with
/// strings decoded. Numbers stay text: serde_json without `float_roundtrip`
/// may parse a 17-digit real to a neighbouring double, which would make the
/// test, not the gateway, lose precision.
fn ndjson_fields(line: &str) -> Vec<(String, Option<String>)> {
    fn string_end(s: &str) -> usize {
        let mut escaped = false;
        for (i, c) in s.char_indices().skip(1) {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => return i + 1,
                _ => {}
            }
        }
        panic!("unterminated string in {s}")
    }
    let mut rest = line
        .strip_prefix('{')
        .and_then(|l| l.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not an object: {line}"));
    let mut out = Vec::new();
    while !rest.is_empty() {
        let end = string_end(rest);
        let key: String = serde_json::from_str(&rest[..end]).expect("key");
        rest = rest[end..].strip_prefix(':').expect("colon");
        let (value, after) = if rest.starts_with('"') {
            let end = string_end(rest);
            let v: String = serde_json::from_str(&rest[..end]).expect("string value");
            (Some(v), &rest[end..])
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            let raw = &rest[..end];
            (
                if raw == "null" {
                    None
                } else {
                    Some(raw.to_string())
                },
                &rest[end..],
            )
        };
        out.push((key, value));
        rest = after.strip_prefix(',').unwrap_or(after);
    }
    out
}

/// The NDJSON `body` as CSV with the columns of `meta`, written with the
/// csv crate: null as an empty field, everything else as its JSON text.
fn ndjson_to_csv(meta: &Value, body: &[u8]) -> Vec<u8> {
    let names: Vec<String> = meta["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_string())
        .collect();
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&names).expect("header");
    let text = std::str::from_utf8(body).expect("utf-8");
    for line in text.lines() {
        // The line is valid JSON as a whole, too.
        serde_json::from_str::<Map<String, Value>>(line).expect("ndjson line");
        let fields = ndjson_fields(line);
        let keys: Vec<&String> = fields.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, names.iter().collect::<Vec<_>>(), "{line}");
        let values: Vec<String> = fields
            .into_iter()
            .map(|(_, v)| v.unwrap_or_default())
            .collect();
        out.write_record(&values).expect("record");
    }
    out.into_inner().expect("csv bytes")
}

/// A file that exercises every type and the text that CSV makes hard.
const TRICKY: &str = "id,label,\"prix, €\",flag,day,at,code,\"say \"\"x\"\"\"\n\
1,\"Dupont, Jean\",1.5,true,2013-01-01,2013-01-01T10:00:00+02:00,01001,plain\n\
2,\"say \"\"hi\"\" twice\",-0.25,false,2024-02-29,2013-06-30 23:59:59,2A004,\"a\"\"b\"\n\
3,\"line one\nline two\",,,,,,\n\
4,\"crlf\r\ninside\",100000,TRUE,1999-12-31,2013-01-01T00:00:00Z,0,x\n\
5,  padded  ,0.1,False,2000-01-01,2000-01-01T00:00:00-12:00,007,\"\"\n\
6,Élodie Ünal – ñandú 漢字 🚀,10.357019999999999,true,2013-01-02,2013-01-02T00:00:00Z,99999999999999999999,\"tab\there\"\n\
7,5'10\" tall,1.7976931348623157e308,false,2013-01-03,2013-01-03T00:00:00Z,12,\",\"\n\
8,\"\"\"quoted start\",5e-324,,2013-01-04,2013-01-04T00:00:00Z,x,\" \"\n\
9,null,-0.0,true,2013-01-05,2013-01-05T00:00:00Z,NULL,\"\r\"\n\
10,1e5,0.30000000000000004,false,2013-01-06,2013-01-06T00:00:00Z,-0,\"semi;colon\"\n";

async fn publish_tricky(app: &TestApp, slug: &str) {
    DatasetBuilder::new(slug).with_csv(app, TRICKY).await;
    let meta = metadata(app, slug).await;
    assert_eq!(
        meta["columns"],
        json!([
            {"name": "id", "type": "integer"},
            {"name": "label", "type": "text"},
            {"name": "prix, €", "type": "real"},
            {"name": "flag", "type": "boolean"},
            {"name": "day", "type": "date"},
            {"name": "at", "type": "timestamp"},
            {"name": "code", "type": "text"},
            {"name": "say \"x\"", "type": "text"}
        ])
    );
    assert_eq!(meta["row_count"], json!(10));
}

#[tokio::test]
async fn csv_export_of_the_weather_file_reimports_to_identical_rows() {
    let app = spawn_app().await;
    let path = shared_dataset("asos_nyc_airport_weather_2013.csv");
    DatasetBuilder::new("weather").with_file(&app, &path).await;
    let (_, body) = export_ok(&app, "weather", &[]).await;
    DatasetBuilder::new("weather-copy")
        .with_csv(&app, body.clone())
        .await;
    assert_same_rows(&app, "weather", "weather-copy").await;
    // Exporting the copy gives the same bytes again.
    let (_, again) = export_ok(&app, "weather-copy", &[]).await;
    assert!(again == body, "the second export differs from the first");
}

#[tokio::test]
async fn ndjson_export_of_the_aircraft_registry_reimports_to_identical_rows() {
    let app = spawn_app().await;
    let path = shared_dataset("faa_registry_planes_nyc2013.csv");
    DatasetBuilder::new("planes").with_file(&app, &path).await;
    let (_, body) = export_ok(&app, "planes", &[("format", "ndjson")]).await;
    let csv = ndjson_to_csv(&metadata(&app, "planes").await, &body);
    DatasetBuilder::new("planes-copy").with_csv(&app, csv).await;
    assert_same_rows(&app, "planes", "planes-copy").await;
}

#[tokio::test]
async fn tricky_text_numbers_and_nulls_survive_a_csv_export_and_reimport() {
    let app = spawn_app().await;
    publish_tricky(&app, "tricky").await;
    let (_, body) = export_ok(&app, "tricky", &[("format", "csv")]).await;
    DatasetBuilder::new("tricky-copy")
        .with_csv(&app, body.clone())
        .await;
    assert_same_rows(&app, "tricky", "tricky-copy").await;
    let rows = all_rows(&app, "tricky-copy").await;
    let labels: Vec<&Value> = rows.iter().map(|r| &r["label"]).collect();
    assert_eq!(
        labels,
        [
            "Dupont, Jean",
            "say \"hi\" twice",
            "line one\nline two",
            "crlf\r\ninside",
            "  padded  ",
            "Élodie Ünal – ñandú 漢字 🚀",
            "5'10\" tall",
            "\"quoted start",
            "null",
            "1e5",
        ]
        .map(|s| json!(s))
        .iter()
        .collect::<Vec<_>>()
    );
    assert_eq!(rows[2]["prix, €"], Value::Null);
    assert_eq!(rows[2]["flag"], Value::Null);
    assert_eq!(rows[0]["at"], json!("2013-01-01T08:00:00Z"));
    // Reals keep every digit in JSON (checked on the text, not through
    // serde_json's float parser).
    let page = app
        .get_rows("tricky-copy", &[("select", "\"prix, €\"")])
        .await
        .text()
        .await
        .expect("body");
    for real in [
        "10.357019999999999",
        "0.30000000000000004",
        "1.7976931348623157e+308",
        "-0.25",
    ] {
        assert!(page.contains(&format!(":{real}}}")), "{real} in {page}");
    }
}

#[tokio::test]
async fn tricky_text_numbers_and_nulls_survive_an_ndjson_export_and_reimport() {
    let app = spawn_app().await;
    publish_tricky(&app, "tricky").await;
    let (_, body) = export_ok(&app, "tricky", &[("format", "ndjson")]).await;
    let csv = ndjson_to_csv(&metadata(&app, "tricky").await, &body);
    DatasetBuilder::new("tricky-copy").with_csv(&app, csv).await;
    assert_same_rows(&app, "tricky", "tricky-copy").await;
}

#[tokio::test]
async fn export_headers_name_the_format_and_an_attachment_filename() {
    let app = spawn_app().await;
    publish_tricky(&app, "tricky").await;
    let rows = all_rows(&app, "tricky").await;

    let (h, csv_body) = export_ok(&app, "tricky", &[]).await;
    assert_eq!(header(&h, "content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        header(&h, "content-disposition"),
        Some("attachment; filename=\"tricky.csv\"")
    );
    let text = String::from_utf8(csv_body).expect("utf-8");
    assert!(
        text.starts_with("id,label,\"prix, €\",flag,day,at,code,\"say \"\"x\"\"\"\n"),
        "{text}"
    );
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(reader.records().count(), rows.len());

    let (h, nd) = export_ok(&app, "tricky", &[("format", "ndjson")]).await;
    assert_eq!(header(&h, "content-type"), Some("application/x-ndjson"));
    assert_eq!(
        header(&h, "content-disposition"),
        Some("attachment; filename=\"tricky.ndjson\"")
    );
    let lines: Vec<Map<String, Value>> = std::str::from_utf8(&nd)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .collect();
    assert_eq!(lines, rows);

    let (h, js) = export_ok(&app, "tricky", &[("format", "json")]).await;
    assert_eq!(header(&h, "content-type"), Some("application/json"));
    assert_eq!(
        header(&h, "content-disposition"),
        Some("attachment; filename=\"tricky.json\"")
    );
    let array: Vec<Map<String, Value>> = serde_json::from_slice(&js).expect("a JSON array");
    assert_eq!(array, rows);
}

#[tokio::test]
async fn accept_header_chooses_the_export_format_when_format_is_absent() {
    let app = spawn_app().await;
    DatasetBuilder::new("small")
        .with_csv(&app, "a,b\n1,x\n2,y\n")
        .await;
    let cases = [
        ("text/csv", "text/csv; charset=utf-8", "a,b\n1,x\n2,y\n"),
        (
            "application/x-ndjson",
            "application/x-ndjson",
            "{\"a\":1,\"b\":\"x\"}\n{\"a\":2,\"b\":\"y\"}\n",
        ),
        (
            "application/json",
            "application/json",
            "[{\"a\":1,\"b\":\"x\"},{\"a\":2,\"b\":\"y\"}]",
        ),
        ("*/*", "text/csv; charset=utf-8", "a,b\n1,x\n2,y\n"),
    ];
    for (accept, content_type, body) in cases {
        let res = app
            .client
            .get(app.url("/v1/datasets/small/export"))
            .header("accept", accept)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), StatusCode::OK, "{accept}");
        assert_eq!(
            header(res.headers(), "content-type"),
            Some(content_type),
            "{accept}"
        );
        assert_eq!(res.text().await.expect("body"), body, "{accept}");
    }
}

#[tokio::test]
async fn gzip_export_decompresses_to_the_same_bytes() {
    let app = spawn_app().await;
    let path = shared_dataset("asos_nyc_airport_weather_2013.csv");
    DatasetBuilder::new("weather").with_file(&app, &path).await;
    for format in ["csv", "ndjson"] {
        let (plain_headers, plain) = export_ok(&app, "weather", &[("format", format)]).await;
        assert_eq!(header(&plain_headers, "content-encoding"), None);
        let res = app
            .client
            .get(app.url("/v1/datasets/weather/export"))
            .query(&[("format", format)])
            .header("accept-encoding", "gzip")
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), StatusCode::OK);
        let h = res.headers().clone();
        assert_eq!(header(&h, "content-encoding"), Some("gzip"), "{format}");
        assert_eq!(
            header(&h, "content-disposition"),
            header(&plain_headers, "content-disposition")
        );
        let compressed = res.bytes().await.expect("body");
        assert!(compressed.len() < plain.len() / 3, "{format}");
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&compressed[..])
            .read_to_end(&mut unpacked)
            .expect("valid gzip");
        assert!(unpacked == plain, "{format}: gunzipped export differs");
    }
}

#[tokio::test]
async fn select_filter_and_order_apply_to_the_export() {
    let app = spawn_app().await;
    let path = shared_dataset("faa_registry_planes_nyc2013.csv");
    DatasetBuilder::new("planes").with_file(&app, &path).await;

    // The expected answer, computed from the file itself.
    let mut reader = csv::Reader::from_path(&path).expect("csv");
    let head = reader.headers().expect("header").clone();
    let col = |name: &str| head.iter().position(|h| h == name).expect("column");
    let (tail, seats, maker) = (col("tailnum"), col("seats"), col("manufacturer"));
    let mut want: Vec<(i64, String)> = reader
        .records()
        .map(|r| r.expect("record"))
        .filter(|r| &r[maker] == "BOEING")
        .map(|r| (r[seats].parse::<i64>().expect("seats"), r[tail].to_string()))
        .filter(|(s, _)| *s >= 300)
        .collect();
    want.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert!(want.len() > 5, "{want:?}");

    let params = [
        ("select", "tailnum,seats"),
        ("filter", "manufacturer = 'BOEING' and seats >= 300"),
        ("order", "-seats,tailnum"),
    ];
    let (_, body) = export_ok(&app, "planes", &params).await;
    let mut expected = String::from("tailnum,seats\n");
    for (s, t) in &want {
        expected.push_str(&format!("{t},{s}\n"));
    }
    assert_eq!(String::from_utf8(body).expect("utf-8"), expected);

    let mut json_params = params.to_vec();
    json_params.push(("format", "json"));
    let (_, js) = export_ok(&app, "planes", &json_params).await;
    let array: Value = serde_json::from_slice(&js).expect("json");
    let expected: Vec<Value> = want
        .iter()
        .map(|(s, t)| json!({"tailnum": t, "seats": s}))
        .collect();
    assert_eq!(array, json!(expected));

    // A filter matching nothing still answers in the format.
    let none = [("filter", "seats < 0"), ("select", "tailnum")];
    let (_, body) = export_ok(&app, "planes", &none).await;
    assert_eq!(body, b"tailnum\n");
    let (_, body) = export_ok(&app, "planes", &[none[0], ("format", "json")]).await;
    assert_eq!(body, b"[]");
    let (_, body) = export_ok(&app, "planes", &[none[0], ("format", "ndjson")]).await;
    assert_eq!(body, b"");
}

#[tokio::test]
async fn export_of_the_full_flights_file_returns_every_row_as_published() {
    let app = spawn_app().await;
    let path = shared_dataset("bts_nyc_flights_2013.csv.gz");
    DatasetBuilder::new("flights").with_file(&app, &path).await;
    let mut source = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).expect("open"))
        .read_to_string(&mut source)
        .expect("gunzip");

    let (_, body) = export_ok(&app, "flights", &[]).await;
    let text = String::from_utf8(body).expect("utf-8");
    assert_eq!(text.lines().count(), 336_776 + 1, "header plus every row");
    // The file has nothing to normalise, so the export is the file itself.
    if text != source {
        let (i, (got, want)) = text
            .lines()
            .zip(source.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .expect("a differing line");
        panic!("line {} differs:\n got  {got}\n want {want}", i + 1);
    }

    let jfk = source
        .lines()
        .filter(|l| l.split(',').nth(12) == Some("JFK"))
        .count();
    let (_, body) = export_ok(
        &app,
        "flights",
        &[
            ("filter", "origin = 'JFK'"),
            ("format", "ndjson"),
            ("select", "flight"),
        ],
    )
    .await;
    assert_eq!(body.iter().filter(|b| **b == b'\n').count(), jfk);
}

#[tokio::test]
async fn export_of_a_conditional_dataset_is_403() {
    let app = spawn_app().await;
    DatasetBuilder::new("health")
        .tier(Tier::Conditional)
        .with_csv(&app, "a\n1\n")
        .await;
    for format in ["csv", "json", "ndjson"] {
        let problem = assert_problem(app.export("health", &[("format", format)]).await, 403).await;
        assert!(
            problem["detail"]
                .as_str()
                .expect("detail")
                .contains("approved access request"),
            "{problem}"
        );
    }
}

#[tokio::test]
async fn export_with_an_unknown_format_is_400() {
    let app = spawn_app().await;
    DatasetBuilder::new("small").with_csv(&app, "a\n1\n").await;
    for format in ["xml", "parquet", ""] {
        let problem = assert_problem(app.export("small", &[("format", format)]).await, 400).await;
        let detail = problem["detail"].as_str().expect("detail");
        assert!(
            detail.contains("csv") && detail.contains("ndjson"),
            "{detail}"
        );
    }
}

#[tokio::test]
async fn export_asked_as_image_png_without_format_is_406() {
    let app = spawn_app().await;
    DatasetBuilder::new("small").with_csv(&app, "a\n1\n").await;
    let res = app
        .client
        .get(app.url("/v1/datasets/small/export"))
        .header("accept", "image/png")
        .send()
        .await
        .expect("request");
    let problem = assert_problem(res, 406).await;
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("format="),
        "{problem}"
    );
    // An explicit format wins over Accept.
    let res = app
        .client
        .get(app.url("/v1/datasets/small/export?format=csv"))
        .header("accept", "image/png")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.expect("body"), "a\n1\n");
}

#[tokio::test]
async fn export_with_an_unknown_column_or_a_bad_filter_is_400_before_any_row() {
    let app = spawn_app().await;
    DatasetBuilder::new("small")
        .with_csv(&app, "a,b\n1,x\n")
        .await;
    let problem = assert_problem(app.export("small", &[("select", "a,nope")]).await, 400).await;
    let detail = problem["detail"].as_str().expect("detail");
    assert!(
        detail.contains("nope") && detail.contains("a, b"),
        "{detail}"
    );
    let problem = assert_problem(app.export("small", &[("filter", "a = ")]).await, 400).await;
    assert!(problem["detail"].as_str().is_some());
    let problem = assert_problem(app.export("small", &[("order", "zz")]).await, 400).await;
    assert!(problem["detail"].as_str().expect("detail").contains("zz"));
    let problem = assert_problem(app.export("small", &[("cursor", "abc")]).await, 400).await;
    assert!(problem["detail"].as_str().is_some());
}
