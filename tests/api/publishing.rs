//! Publishing over HTTP: every shared open-data file imports with the row
//! counts and column types its provenance states, new versions replace old
//! ones atomically, a rejected file changes nothing, uploads are refused for
//! the right reasons, and the CSV dialect's corners keep their values.

// Helpers outside the test functions panic on purpose too: a failed
// expectation is a failed test.
#![allow(clippy::expect_used)]

use std::collections::HashMap;
use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::helpers::{
    ADMIN_TOKEN, DatasetBuilder, TestApp, assert_problem, shared_dataset, spawn_app, spawn_app_with,
};

/// What PROVENANCE.md says about one file.
struct Provenance {
    rows: u64,
    sha256: String,
    /// Column name, our type name, number of empty fields.
    columns: Vec<(String, String, u64)>,
}

fn number(s: &str) -> u64 {
    s.replace(',', "").trim().parse().expect("a number")
}

/// Reads the row count, SHA-256 and column types of `file` from
/// PROVENANCE.md, translating its type names into ours.
fn provenance(file: &str) -> Provenance {
    let text = std::fs::read_to_string(shared_dataset("PROVENANCE.md")).expect("provenance");
    let heading = format!("### `{file}` — ");
    let section = text
        .split("\n### ")
        .map(|s| format!("### {s}"))
        .find(|s| s.starts_with(&heading))
        .unwrap_or_else(|| panic!("no section for {file} in PROVENANCE.md"));
    let first = section.lines().next().expect("heading");
    let rows = number(
        first
            .trim_start_matches(heading.as_str())
            .split(" rows")
            .next()
            .expect("row count"),
    );
    let sha256 = section
        .lines()
        .find_map(|l| l.strip_prefix("- sha256: `"))
        .expect("sha256 line")
        .trim_end_matches('`')
        .to_string();
    let cols = section
        .lines()
        .find_map(|l| l.strip_prefix("- Columns: "))
        .expect("columns line");
    let parts: Vec<&str> = cols.split('`').collect();
    let mut columns = Vec::new();
    for pair in parts.get(1..).expect("columns").chunks(2) {
        let [name, rest] = pair else {
            panic!("odd columns line for {file}")
        };
        let rest = rest.trim().trim_end_matches(',');
        let ty = match rest.split_whitespace().next().expect("type") {
            "string" => "text",
            "number" => "real",
            "datetime" => "timestamp",
            "integer" => "integer",
            other => panic!("unknown provenance type {other}"),
        };
        let empty = rest
            .split_once('(')
            .and_then(|(_, n)| n.trim_end_matches(')').strip_suffix(" empty"))
            .map_or(0, number);
        columns.push((name.to_string(), ty.to_string(), empty));
    }
    Provenance {
        rows,
        sha256,
        columns,
    }
}

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

fn column_types(columns: &Value) -> Vec<(String, String)> {
    columns
        .as_array()
        .expect("columns array")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().expect("name").to_string(),
                c["type"].as_str().expect("type").to_string(),
            )
        })
        .collect()
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

/// The table behind the dataset's current version.
fn current_table(app: &TestApp, slug: &str) -> String {
    let rows = app.sqlite().query(&format!(
        "SELECT v.table_name FROM datasets d JOIN dataset_versions v ON v.id = d.current_version_id WHERE d.slug = '{slug}'"
    ));
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows[0].clone()
}

fn version_tables(app: &TestApp) -> Vec<String> {
    app.sqlite().table_names("ds\\_%")
}

/// Creates `slug`, uploads the shared `file` and checks the answer, the
/// metadata and the stored table against PROVENANCE.md.
async fn assert_imports_as_documented(app: &TestApp, file: &str, slug: &str) {
    let expected = provenance(file);
    let path = shared_dataset(file);
    let bytes = std::fs::read(&path).expect("read");
    let size = bytes.len() as i64;
    let content_type = if file.ends_with(".gz") {
        "application/gzip"
    } else {
        "text/csv"
    };
    DatasetBuilder::new(slug).create(app).await;
    let res = app
        .admin(
            app.client
                .put(app.url(&format!("/v1/datasets/{slug}/data?source_name={file}"))),
        )
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .expect("request");
    assert!(res.headers().get("location").is_some());
    let (status, published) = json_of(res).await;
    assert_eq!(status, StatusCode::CREATED, "{published}");

    let want_types: Vec<(String, String)> = expected
        .columns
        .iter()
        .map(|(n, t, _)| (n.clone(), t.clone()))
        .collect();
    assert_eq!(published["dataset"], json!(slug));
    assert_eq!(published["version"]["number"], json!(1));
    assert_eq!(published["version"]["row_count"], json!(expected.rows));
    assert_eq!(
        published["version"]["source_sha256"],
        json!(expected.sha256)
    );
    assert_eq!(published["version"]["source_bytes"], json!(size));
    assert_eq!(published["version"]["source_name"], json!(file));
    assert_eq!(published["version"]["imported_by"], json!("admin"));
    assert_eq!(column_types(&published["columns"]), want_types, "{file}");

    let meta = metadata(app, slug).await;
    assert_eq!(meta["row_count"], json!(expected.rows), "{file}");
    assert_eq!(meta["version"]["row_count"], json!(expected.rows));
    assert_eq!(meta["version"]["number"], json!(1));
    assert_eq!(meta["versions"].as_array().map(Vec::len), Some(1));
    assert_eq!(column_types(&meta["columns"]), want_types, "{file}");

    // The stored table, read by an independent engine: every row is there
    // and every empty field became NULL.
    let table = current_table(app, slug);
    let nulls: Vec<String> = expected
        .columns
        .iter()
        .map(|(n, _, _)| format!("count(*) FILTER (WHERE \"{n}\" IS NULL)"))
        .collect();
    let got = app.sqlite().query(&format!(
        "SELECT count(*), {} FROM \"{table}\"",
        nulls.join(", ")
    ));
    let mut want = vec![expected.rows.to_string()];
    want.extend(expected.columns.iter().map(|(_, _, e)| e.to_string()));
    assert_eq!(
        got,
        vec![want.join("|")],
        "{file}: row count, then NULLs per column"
    );
}

#[tokio::test]
async fn census_sample_imports_with_the_row_count_and_column_types_of_its_provenance() {
    let app = spawn_app().await;
    assert_imports_as_documented(&app, "us_census_acs2012_sample.csv", "acs-2012").await;
}

#[tokio::test]
async fn aircraft_registry_imports_with_the_row_count_and_column_types_of_its_provenance() {
    let app = spawn_app().await;
    assert_imports_as_documented(&app, "faa_registry_planes_nyc2013.csv", "planes").await;
}

#[tokio::test]
async fn communes_import_with_their_provenance_types_and_fixed_width_codes_as_text() {
    let app = spawn_app().await;
    assert_imports_as_documented(&app, "fr_insee_communes_2026.csv", "communes").await;
    let meta = metadata(&app, "communes").await;
    let types: HashMap<String, String> = column_types(&meta["columns"]).into_iter().collect();
    for code in [
        "code",
        "siren",
        "commune",
        "departement",
        "region",
        "codesPostaux",
    ] {
        assert_eq!(types[code], "text", "{code}");
    }
}

#[tokio::test]
async fn weather_observations_import_with_the_row_count_and_column_types_of_their_provenance() {
    let app = spawn_app().await;
    assert_imports_as_documented(&app, "asos_nyc_airport_weather_2013.csv", "weather").await;
}

#[tokio::test]
async fn full_gzipped_flights_file_imports_with_every_row_and_its_provenance_types() {
    let app = spawn_app().await;
    assert_imports_as_documented(&app, "bts_nyc_flights_2013.csv.gz", "flights").await;
    // Spot check one row through the API against the file's first line.
    let page = app
        .rows_json("flights", &[("limit", "1"), ("count", "exact")])
        .await;
    assert_eq!(page["total"], json!(336_776));
    assert_eq!(
        page["data"][0],
        json!({"year": 2013, "month": 1, "day": 1, "dep_time": 517, "sched_dep_time": 515,
               "dep_delay": 2, "arr_time": 830, "sched_arr_time": 819, "arr_delay": 11,
               "carrier": "UA", "flight": 1545, "tailnum": "N14228", "origin": "EWR",
               "dest": "IAH", "air_time": 227, "distance": 1400, "hour": 5, "minute": 15,
               "time_hour": "2013-01-01T10:00:00Z"})
    );
}

/// A text field as the API returns it: empty fields are null.
fn text_cell(s: &str) -> Value {
    if s.is_empty() { Value::Null } else { json!(s) }
}

#[tokio::test]
async fn commune_codes_accented_names_and_long_values_round_trip_byte_identical() {
    let app = spawn_app().await;
    let path = shared_dataset("fr_insee_communes_2026.csv");
    DatasetBuilder::new("communes").with_file(&app, &path).await;
    let text = std::fs::read_to_string(&path).expect("read");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    let names: Vec<&str> = header.split(',').collect();
    // No commune line needs quoting, so each is one physical line.
    let longest = |col: usize| {
        text.lines()
            .skip(1)
            .max_by_key(|l| l.split(',').nth(col).map_or(0, str::len))
            .and_then(|l| l.split(',').next())
            .expect("a line")
            .to_string()
    };
    let codes_postaux = names
        .iter()
        .position(|n| *n == "codesPostaux")
        .expect("col");
    let anciens = names
        .iter()
        .position(|n| *n == "anciensCodes")
        .expect("col");
    let mut codes = vec!["01001".to_string(), "2A004".to_string()];
    codes.push(longest(codes_postaux));
    codes.push(longest(anciens));
    assert!(codes.contains(&"75056".to_string()), "{codes:?}");

    for code in &codes {
        let filter = format!("code = '{code}'");
        let want: Vec<&str> = text
            .lines()
            .skip(1)
            .filter(|l| l.split(',').next() == Some(code.as_str()))
            .collect();
        assert!(!want.is_empty());

        // CSV rendering reproduces the file's lines byte for byte.
        let res = app
            .get_rows("communes", &[("filter", &filter), ("format", "csv")])
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let body = res.text().await.expect("body");
        let mut expected = format!("{header}\n");
        for l in &want {
            expected.push_str(l);
            expected.push('\n');
        }
        assert_eq!(body, expected, "{code}");

        // JSON keeps codes as strings, exactly.
        let page = app.rows_json("communes", &[("filter", &filter)]).await;
        let rows = page["data"].as_array().expect("data");
        assert_eq!(rows.len(), want.len());
        for (row, line) in rows.iter().zip(&want) {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(row["code"], json!(code));
            assert_eq!(row["nom"], json!(fields[1]));
            assert_eq!(row["departement"], json!(fields[5]));
            for (i, name) in names.iter().enumerate() {
                if [
                    "code",
                    "nom",
                    "departement",
                    "codesPostaux",
                    "anciensCodes",
                    "siren",
                ]
                .contains(name)
                {
                    assert_eq!(row[*name], text_cell(fields[i]), "{code} {name}");
                }
            }
        }
    }
    let first = app
        .rows_json("communes", &[("filter", "code = '01001'")])
        .await;
    assert_eq!(first["data"][0]["nom"], json!("L'Abergement-Clémenciat"));
    assert_eq!(first["data"][0]["siren"], json!("210100012"));
    assert_eq!(first["data"][0]["codesPostaux"], json!("01400"));
    assert_eq!(first["data"][0]["population"], json!(860));
    let ajaccio = app
        .rows_json("communes", &[("filter", "code = '2A004'")])
        .await;
    assert_eq!(ajaccio["data"][0]["nom"], json!("Ajaccio"));
    assert_eq!(ajaccio["data"][0]["departement"], json!("2A"));
}

#[tokio::test]
async fn second_upload_becomes_version_2_and_replaces_the_rows() {
    let app = spawn_app().await;
    let slug = DatasetBuilder::new("versions")
        .with_csv(&app, "id,label\n1,old-a\n2,old-b\n3,old-c\n")
        .await;
    let v1_table = current_table(&app, &slug);

    let res = app
        .upload(
            &slug,
            "id,label,score\n10,new-a,1.5\n20,new-b,2.5\n",
            "text/csv",
        )
        .await;
    let (status, published) = json_of(res).await;
    assert_eq!(status, StatusCode::CREATED, "{published}");
    assert_eq!(published["version"]["number"], json!(2));
    assert_eq!(published["version"]["row_count"], json!(2));

    let meta = metadata(&app, &slug).await;
    assert_eq!(meta["version"]["number"], json!(2));
    assert_eq!(meta["row_count"], json!(2));
    assert_eq!(
        column_types(&meta["columns"]),
        vec![
            ("id".to_string(), "integer".to_string()),
            ("label".to_string(), "text".to_string()),
            ("score".to_string(), "real".to_string()),
        ]
    );
    let versions = meta["versions"].as_array().expect("versions");
    let numbers: Vec<&Value> = versions.iter().map(|v| &v["number"]).collect();
    assert_eq!(numbers, vec![&json!(2), &json!(1)], "newest first");
    assert_eq!(versions[0]["row_count"], json!(2));
    assert_eq!(versions[1]["row_count"], json!(3));
    assert_ne!(versions[0]["source_sha256"], versions[1]["source_sha256"]);

    let rows = app.rows_json(&slug, &[]).await;
    assert_eq!(
        rows["data"],
        json!([{"id": 10, "label": "new-a", "score": 1.5}, {"id": 20, "label": "new-b", "score": 2.5}])
    );
    // The replaced version's rows are gone, not left behind on disk.
    let tables = version_tables(&app);
    assert_eq!(tables, vec![current_table(&app, &slug)]);
    assert!(!tables.contains(&v1_table));
}

#[tokio::test]
async fn readers_see_the_old_or_the_new_version_but_never_a_partial_one_during_an_upload() {
    let app = spawn_app().await;
    let slug = DatasetBuilder::new("atomic")
        .with_csv(&app, "id,label\n1,old\n2,old\n3,old\n")
        .await;
    const NEW_ROWS: u64 = 120_000;
    let mut big = String::from("id,label\n");
    for i in 1..=NEW_ROWS {
        big.push_str(&format!("{i},new\n"));
    }
    let upload = {
        let client = app.client.clone();
        let url = app.url(&format!("/v1/datasets/{slug}/data"));
        tokio::spawn(async move {
            client
                .put(url)
                .bearer_auth(ADMIN_TOKEN)
                .header("content-type", "text/csv")
                .body(big)
                .send()
                .await
                .expect("upload")
        })
    };
    let mut reads = 0;
    let mut saw_old = false;
    while !upload.is_finished() {
        let res = app
            .get_rows(
                &slug,
                &[("limit", "1"), ("count", "exact"), ("order", "-id")],
            )
            .await;
        if res.status() == StatusCode::CONFLICT {
            // The version switched between planning and reading: the
            // documented answer is to ask again, never a partial page.
            let problem = assert_problem(res, 409).await;
            assert!(
                problem["detail"]
                    .as_str()
                    .expect("detail")
                    .contains("send the request again"),
                "{problem}"
            );
            continue;
        }
        let (status, page) = json_of(res).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let total = page["total"].as_u64().expect("total");
        let label = page["data"][0]["label"].as_str().expect("label");
        match (total, label) {
            (3, "old") => saw_old = true,
            (NEW_ROWS, "new") => {}
            other => panic!("a reader saw a mix of versions: {other:?}"),
        }
        let meta = metadata(&app, &slug).await;
        let count = meta["row_count"].as_u64().expect("row_count");
        assert!(count == 3 || count == NEW_ROWS, "{meta}");
        reads += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let res = upload.await.expect("join");
    let (status, body) = json_of(res).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(reads > 0 && saw_old, "reads {reads}");
    let page = app
        .rows_json(&slug, &[("count", "exact"), ("limit", "1")])
        .await;
    assert_eq!(page["total"], json!(NEW_ROWS));
    assert_eq!(metadata(&app, &slug).await["version"]["number"], json!(2));
}

#[tokio::test]
async fn failed_upload_names_the_line_and_leaves_the_previous_version_untouched() {
    let app = spawn_app().await;
    let slug = DatasetBuilder::new("stable")
        .with_csv(&app, "id,name,score\n1,a,1.5\n2,\"b, quoted\",2.5\n3,c,\n")
        .await;
    let before_meta = metadata(&app, &slug).await;
    let before_rows = all_rows(&app, &slug).await;
    let before_tables = version_tables(&app);
    assert_eq!(before_tables.len(), 1);

    let ragged = "id,name,score\n10,x,1\n11,y,2\n12,z,3\n13,w\n14,v,5\n";
    let problem = assert_problem(app.upload(&slug, ragged, "text/csv").await, 400).await;
    let detail = problem["detail"].as_str().expect("detail");
    assert!(detail.contains("line 5"), "{detail}");
    assert!(detail.contains("expected 3 fields"), "{detail}");

    assert_eq!(metadata(&app, &slug).await, before_meta);
    assert_eq!(all_rows(&app, &slug).await, before_rows);
    assert_eq!(version_tables(&app), before_tables, "no leftover table");

    // The failure used up nothing: the next good file is version 2.
    let res = app.upload(&slug, "id\n1\n", "text/csv").await;
    let (status, body) = json_of(res).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["version"]["number"], json!(2));
}

#[tokio::test]
async fn error_line_numbers_count_physical_lines_including_those_inside_quoted_fields() {
    let app = spawn_app().await;
    let slug = DatasetBuilder::new("lines").create(&app).await;
    // Lines 2-4 hold one record with a two-line break inside quotes; the
    // ragged record starts on physical line 6.
    let csv = "id,note\n1,\"one\ntwo\nthree\"\n2,ok\n3,bad,extra\n";
    let problem = assert_problem(app.upload(&slug, csv, "text/csv").await, 400).await;
    let detail = problem["detail"].as_str().expect("detail");
    assert!(detail.contains("line 6"), "{detail}");

    let bad_utf8: &[u8] = b"id,name\n1,ok\n2,caf\xe9\n";
    let problem = assert_problem(app.upload(&slug, bad_utf8.to_vec(), "text/csv").await, 400).await;
    let detail = problem["detail"].as_str().expect("detail");
    assert!(
        detail.contains("line 3") && detail.contains("'name'"),
        "{detail}"
    );
    assert!(detail.contains("UTF-8"), "{detail}");

    let meta = metadata(&app, &slug).await;
    assert_eq!(meta["version"], Value::Null);
    assert_eq!(meta["versions"], json!([]));
    assert_eq!(version_tables(&app), Vec::<String>::new());
}

#[tokio::test]
async fn truncated_gzip_upload_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let slug = DatasetBuilder::new("gz").with_csv(&app, "a,b\n1,2\n").await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, b"a,b\n").expect("gz");
    for i in 0..5000 {
        std::io::Write::write_all(&mut gz, format!("{i},{}\n", i * 7).as_bytes()).expect("gz");
    }
    let whole = gz.finish().expect("gz");
    let cut = whole[..whole.len() / 2].to_vec();
    let problem = assert_problem(app.upload(&slug, cut, "application/gzip").await, 400).await;
    assert!(
        problem["detail"].as_str().expect("detail").contains("gzip"),
        "{problem}"
    );
    assert_eq!(metadata(&app, &slug).await["version"]["number"], json!(1));
    assert_eq!(version_tables(&app).len(), 1);

    let res = app.upload(&slug, whole, "application/x-gzip").await;
    let (status, body) = json_of(res).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["version"]["row_count"], json!(5000));
}

#[tokio::test]
async fn upload_without_a_token_is_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let slug = DatasetBuilder::new("guarded").create(&app).await;
    let res = app
        .client
        .put(app.url(&format!("/v1/datasets/{slug}/data")))
        .header("content-type", "text/csv")
        .body("a\n1\n")
        .send()
        .await
        .expect("request");
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ascii").to_string());
    assert_eq!(challenge.as_deref(), Some("Bearer"));
    let problem = assert_problem(res, 401).await;
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("Bearer"),
        "{problem}"
    );
    assert_eq!(metadata(&app, &slug).await["version"], Value::Null);
}

#[tokio::test]
async fn upload_with_a_wrong_token_is_401() {
    let app = spawn_app().await;
    let slug = DatasetBuilder::new("guarded").create(&app).await;
    for token in ["wrong-token", &format!("{ADMIN_TOKEN}x"), &ADMIN_TOKEN[1..]] {
        let res = app
            .client
            .put(app.url(&format!("/v1/datasets/{slug}/data")))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body("a\n1\n")
            .send()
            .await
            .expect("request");
        assert!(res.headers().get("www-authenticate").is_some());
        let problem = assert_problem(res, 401).await;
        assert!(
            problem["detail"]
                .as_str()
                .expect("detail")
                .contains("not valid"),
            "{problem}"
        );
    }
    assert_eq!(metadata(&app, &slug).await["version"], Value::Null);
}

#[tokio::test]
async fn upload_with_a_non_csv_content_type_is_415() {
    let app = spawn_app().await;
    let slug = DatasetBuilder::new("typed").create(&app).await;
    for ct in ["application/json", "text/plain", "image/png"] {
        let problem = assert_problem(app.upload(&slug, "a\n1\n", ct).await, 415).await;
        assert!(
            problem["detail"]
                .as_str()
                .expect("detail")
                .contains("text/csv"),
            "{problem}"
        );
    }
    // Parameters after the media type are fine.
    let res = app.upload(&slug, "a\n1\n", "text/csv; charset=utf-8").await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn upload_over_the_size_limit_is_413_whether_declared_or_streamed() {
    let app = spawn_app_with(|s| s.max_upload_bytes = 1000).await;
    let slug = DatasetBuilder::new("small").create(&app).await;
    let mut csv = String::from("id,label\n");
    for i in 0..200 {
        csv.push_str(&format!("{i},row number {i}\n"));
    }
    assert!(csv.len() > 1000);

    let problem = assert_problem(app.upload(&slug, csv.clone(), "text/csv").await, 413).await;
    assert!(
        problem["detail"].as_str().expect("detail").contains("1000"),
        "{problem}"
    );

    // Without Content-Length the limit still holds while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        csv.as_bytes().chunks(300).map(|c| Ok(c.to_vec())).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    assert_problem(app.upload(&slug, body, "text/csv").await, 413).await;
    assert_eq!(metadata(&app, &slug).await["version"], Value::Null);

    // A file under the limit is accepted.
    let res = app.upload(&slug, "id\n1\n2\n", "text/csv").await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn uploads_and_creation_need_credentials_when_the_server_has_no_admin_token() {
    // No admin token and no JWT keys: nobody can sign in, so both guarded operations
    // answer 401 before anything else is looked at.
    let app = spawn_app_with(|s| s.admin_token = None).await;
    let res = app
        .client
        .post(app.url("/v1/datasets"))
        .json(&json!({"slug": "x", "title": "X", "organization": "o"}))
        .send()
        .await
        .expect("request");
    assert_problem(res, 401).await;
    let res = app
        .client
        .put(app.url("/v1/datasets/x/data"))
        .header("content-type", "text/csv")
        .body("a\n1\n")
        .send()
        .await
        .expect("request");
    assert_problem(res, 401).await;
    let (status, list) = json_of(app.get("/v1/datasets").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], json!(0));
}

#[tokio::test]
async fn upload_to_a_dataset_that_does_not_exist_is_404() {
    let app = spawn_app().await;
    let problem = assert_problem(app.upload("nowhere", "a\n1\n", "text/csv").await, 404).await;
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("nowhere"),
        "{problem}"
    );
}

async fn create_raw(app: &TestApp, body: &Value) -> Response {
    app.admin(app.client.post(app.url("/v1/datasets")))
        .json(body)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn creating_a_dataset_with_a_taken_slug_is_409() {
    let app = spawn_app().await;
    let body = json!({"slug": "taken", "title": "First", "organization": "org-a"});
    let res = create_raw(&app, &body).await;
    assert_eq!(
        res.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/v1/datasets/taken")
    );
    let (status, created) = json_of(res).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["slug"], json!("taken"));
    assert_eq!(created["tier"], json!("open"));

    let again = json!({"slug": "taken", "title": "Second", "organization": "org-b"});
    let problem = assert_problem(create_raw(&app, &again).await, 409).await;
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("taken"),
        "{problem}"
    );
    assert_eq!(metadata(&app, "taken").await["title"], json!("First"));
}

#[tokio::test]
async fn creating_a_dataset_with_an_invalid_slug_is_400() {
    let app = spawn_app().await;
    let long = "x".repeat(65);
    for slug in ["", "Upper", "a b", "-lead", "é", "a/b", long.as_str()] {
        let body = json!({"slug": slug, "title": "T", "organization": "org"});
        let problem = assert_problem(create_raw(&app, &body).await, 400).await;
        assert!(
            problem["detail"].as_str().expect("detail").contains("slug"),
            "{slug}: {problem}"
        );
    }
    let body = json!({"slug": "ok", "title": "T", "organization": "Bad Org"});
    assert_problem(create_raw(&app, &body).await, 400).await;
    let (_, list) = json_of(app.get("/v1/datasets").await).await;
    assert_eq!(list["total"], json!(0));
}

#[tokio::test]
async fn creating_a_dataset_with_an_unknown_tier_is_400() {
    let app = spawn_app().await;
    let body = json!({"slug": "tiered", "title": "T", "organization": "org", "tier": "secret"});
    let problem = assert_problem(create_raw(&app, &body).await, 400).await;
    let detail = problem["detail"].as_str().expect("detail");
    assert!(detail.contains("secret"), "{detail}");
    let problem = assert_problem(app.get("/v1/datasets/tiered").await, 404).await;
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("tiered")
    );
}

/// Uploads `csv` as a new dataset and returns its metadata and all rows.
async fn publish(
    app: &TestApp,
    slug: &str,
    csv: impl Into<reqwest::Body>,
) -> (Value, Vec<Map<String, Value>>) {
    DatasetBuilder::new(slug).with_csv(app, csv).await;
    (metadata(app, slug).await, all_rows(app, slug).await)
}

fn types(meta: &Value) -> Vec<String> {
    column_types(&meta["columns"])
        .into_iter()
        .map(|(_, t)| t)
        .collect()
}

fn column(rows: &[Map<String, Value>], name: &str) -> Vec<Value> {
    rows.iter().map(|r| r[name].clone()).collect()
}

#[tokio::test]
async fn text_with_backslashes_tabs_and_line_breaks_is_stored_as_sent() {
    // What a bulk loader's own escapes would mangle: PostgreSQL's COPY text
    // format reads `\N` as null, `\.` as the end and `\t` as a tab.
    let app = spawn_app().await;
    let texts = [
        "a\\b",
        "\\N",
        "\\.",
        "\\t and \\n",
        "tab\there",
        "line\nbreak",
        "cr\rhere",
        "ends with \\",
    ];
    let mut csv = String::from("id,t\n");
    for (i, t) in texts.iter().enumerate() {
        csv.push_str(&format!("{},\"{t}\"\n", i + 1));
    }
    let (meta, rows) = publish(&app, "escapes", csv).await;
    assert_eq!(types(&meta), vec!["integer", "text"]);
    assert_eq!(
        column(&rows, "t"),
        texts.iter().map(|t| json!(t)).collect::<Vec<_>>()
    );
    let table = current_table(&app, "escapes");
    let stored = app.sqlite().query(&format!(
        "SELECT count(*) FROM \"{table}\" WHERE replace(t, '\\', '') <> t OR replace(t, '\t', '') <> t"
    ));
    assert_eq!(stored, vec!["6"], "backslashes and tabs stored as such");
}

#[tokio::test]
async fn byte_order_mark_is_not_part_of_the_first_column_name() {
    let app = spawn_app().await;
    let (meta, rows) = publish(&app, "bom", "\u{feff}id,name\r\n1,Zoë\r\n2,Łódź\r\n").await;
    assert_eq!(
        column_types(&meta["columns"]),
        vec![
            ("id".to_string(), "integer".to_string()),
            ("name".to_string(), "text".to_string())
        ]
    );
    assert_eq!(column(&rows, "id"), vec![json!(1), json!(2)]);
    assert_eq!(column(&rows, "name"), vec![json!("Zoë"), json!("Łódź")]);
    let page = app
        .rows_json("bom", &[("select", "id"), ("filter", "id = 2")])
        .await;
    assert_eq!(page["data"], json!([{"id": 2}]));
}

#[tokio::test]
async fn quoted_fields_keep_their_commas_quotes_and_line_breaks() {
    let app = spawn_app().await;
    let csv = "id,text\n\
               1,\"Dupont, Jean\"\n\
               2,\"say \"\"hi\"\"\"\n\
               3,\"line one\nline two\"\n\
               4,\"crlf\r\ninside\"\n\
               5,5'10\" tall\n\
               6,  padded  \n";
    let (meta, rows) = publish(&app, "quoted", csv).await;
    assert_eq!(types(&meta), vec!["integer", "text"]);
    assert_eq!(meta["row_count"], json!(6));
    assert_eq!(
        column(&rows, "text"),
        vec![
            json!("Dupont, Jean"),
            json!("say \"hi\""),
            json!("line one\nline two"),
            json!("crlf\r\ninside"),
            json!("5'10\" tall"),
            json!("  padded  "),
        ]
    );
}

#[tokio::test]
async fn empty_fields_are_null_in_every_column_type() {
    let app = spawn_app().await;
    let csv = "n,x,flag,day,at,t\n\
               1,1.5,true,2013-01-01,2013-01-01T10:00:00Z,a\n\
               ,,,,,\n\
               3,,false,,,c\n";
    let (meta, rows) = publish(&app, "nulls", csv).await;
    assert_eq!(
        types(&meta),
        vec!["integer", "real", "boolean", "date", "timestamp", "text"]
    );
    assert_eq!(
        rows[1],
        json!({"n": null, "x": null, "flag": null, "day": null, "at": null, "t": null})
            .as_object()
            .expect("object")
            .clone()
    );
    assert_eq!(column(&rows, "n"), vec![json!(1), Value::Null, json!(3)]);
    let page = app
        .rows_json("nulls", &[("filter", "x is null"), ("count", "exact")])
        .await;
    assert_eq!(page["total"], json!(2));
    let table = current_table(&app, "nulls");
    let db = app.sqlite();
    let types: Vec<String> = ["n", "x", "flag", "day", "at", "t"]
        .iter()
        .map(|c| db.type_of(c))
        .collect();
    // What each engine stores the six types as: SQLite's storage classes,
    // PostgreSQL's column types.
    let stored = if db.is_postgres() {
        [
            "bigint|double precision|boolean|date|timestamp with time zone|text",
            "null|null|null|null|null|null",
            "bigint|null|boolean|null|null|text",
        ]
    } else {
        [
            "integer|real|integer|text|text|text",
            "null|null|null|null|null|null",
            "integer|null|integer|null|null|text",
        ]
    };
    assert_eq!(
        db.query(&format!(
            "SELECT {} FROM \"{table}\" ORDER BY __row",
            types.join(", ")
        )),
        stored
    );
}

#[tokio::test]
async fn true_and_false_in_any_case_make_a_boolean_column() {
    let app = spawn_app().await;
    let (meta, rows) = publish(
        &app,
        "flags",
        "id,flag,word\n1,true,yes\n2,FALSE,no\n3,True,yes\n4,,no\n",
    )
    .await;
    assert_eq!(types(&meta), vec!["integer", "boolean", "text"]);
    assert_eq!(
        column(&rows, "flag"),
        vec![json!(true), json!(false), json!(true), Value::Null]
    );
    let page = app
        .rows_json("flags", &[("filter", "flag = true"), ("select", "id")])
        .await;
    assert_eq!(page["data"], json!([{"id": 1}, {"id": 3}]));
}

#[tokio::test]
async fn iso_dates_make_a_date_column_and_impossible_dates_stay_text() {
    let app = spawn_app().await;
    let csv = "day,odd\n2013-01-01,2013-01-01\n2024-02-29,2013-02-30\n1999-12-31,\n";
    let (meta, rows) = publish(&app, "dates", csv).await;
    assert_eq!(types(&meta), vec!["date", "text"]);
    assert_eq!(
        column(&rows, "day"),
        vec![
            json!("2013-01-01"),
            json!("2024-02-29"),
            json!("1999-12-31")
        ]
    );
    assert_eq!(
        column(&rows, "odd"),
        vec![json!("2013-01-01"), json!("2013-02-30"), Value::Null]
    );
    let page = app
        .rows_json(
            "dates",
            &[("filter", "day >= '2013-01-01'"), ("select", "day")],
        )
        .await;
    assert_eq!(
        page["data"],
        json!([{"day": "2013-01-01"}, {"day": "2024-02-29"}])
    );
}

#[tokio::test]
async fn timestamps_with_offsets_are_normalised_to_utc() {
    let app = spawn_app().await;
    let csv = "id,at\n\
               1,2013-01-01T10:00:00+02:00\n\
               2,2013-01-01 10:00:00\n\
               3,2013-06-30T23:30:00-05:00\n\
               4,2013-01-01T10:00:00Z\n\
               5,2013-01-01T10:00:00.000Z\n";
    let (meta, rows) = publish(&app, "times", csv).await;
    assert_eq!(types(&meta), vec!["integer", "timestamp"]);
    assert_eq!(
        column(&rows, "at"),
        vec![
            json!("2013-01-01T08:00:00Z"),
            json!("2013-01-01T10:00:00Z"),
            json!("2013-07-01T04:30:00Z"),
            json!("2013-01-01T10:00:00Z"),
            json!("2013-01-01T10:00:00Z"),
        ]
    );
    let page = app
        .rows_json(
            "times",
            &[("filter", "at = '2013-01-01T08:00:00Z'"), ("select", "id")],
        )
        .await;
    assert_eq!(page["data"], json!([{"id": 1}]));
    assert!(
        meta["version"]["indexed"]
            .as_array()
            .expect("indexed")
            .contains(&json!("at")),
        "{meta}"
    );
}

#[tokio::test]
async fn digit_strings_too_long_for_i64_stay_text_and_i64_limits_stay_integers() {
    let app = spawn_app().await;
    let csv = "big,edge,lead\n\
               1234567890123456789012345,9223372036854775807,007\n\
               42,-9223372036854775808,12\n\
               9223372036854775808,0,5\n";
    let (meta, rows) = publish(&app, "digits", csv).await;
    assert_eq!(types(&meta), vec!["text", "integer", "text"]);
    assert_eq!(
        column(&rows, "big"),
        vec![
            json!("1234567890123456789012345"),
            json!("42"),
            json!("9223372036854775808")
        ]
    );
    assert_eq!(
        column(&rows, "edge"),
        vec![json!(i64::MAX), json!(i64::MIN), json!(0)]
    );
    assert_eq!(
        column(&rows, "lead"),
        vec![json!("007"), json!("12"), json!("5")]
    );
}

#[tokio::test]
async fn a_header_without_data_rows_is_refused_naming_line_1() {
    let app = spawn_app().await;
    let slug = DatasetBuilder::new("empty").create(&app).await;
    for (csv, needle) in [
        ("a,b\n", "no data rows"),
        ("", "empty"),
        ("a,A\n1,2\n", "same name"),
    ] {
        let problem = assert_problem(app.upload(&slug, csv, "text/csv").await, 400).await;
        let detail = problem["detail"].as_str().expect("detail");
        assert!(detail.contains(needle), "{csv:?}: {detail}");
    }
    assert_eq!(metadata(&app, &slug).await["versions"], json!([]));
}

#[tokio::test]
async fn concurrent_uploads_to_one_dataset_never_mix_their_rows() {
    let app = spawn_app().await;
    let slug = DatasetBuilder::new("raced")
        .with_csv(&app, "id,label\n1,first\n")
        .await;
    const ROWS: usize = 60_000;
    let file = |label: &str| {
        let mut csv = String::from("id,label\n");
        for i in 1..=ROWS {
            csv.push_str(&format!("{i},{label}\n"));
        }
        csv
    };
    let send = |body: String| {
        let client = app.client.clone();
        let url = app.url(&format!("/v1/datasets/{slug}/data"));
        tokio::spawn(async move {
            let res = client
                .put(url)
                .bearer_auth(ADMIN_TOKEN)
                .header("content-type", "text/csv")
                .body(body)
                .send()
                .await
                .expect("upload");
            let status = res.status();
            (status, res.text().await.expect("body"))
        })
    };
    let a = send(file("a"));
    let b = send(file("b"));
    let results = [a.await.expect("join"), b.await.expect("join")];
    for (status, body) in &results {
        assert!(
            *status == StatusCode::CREATED || *status == StatusCode::CONFLICT,
            "{status}: {body}"
        );
    }
    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert!(created >= 1, "{results:?}");

    let meta = metadata(&app, &slug).await;
    assert_eq!(meta["row_count"], json!(ROWS));
    assert_eq!(
        meta["versions"].as_array().map(Vec::len),
        Some(1 + created),
        "{meta}"
    );
    // The current version is still readable.
    let res = app
        .get_rows(&slug, &[("limit", "1"), ("count", "exact")])
        .await;
    let (status, page) = json_of(res).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "reading after concurrent uploads: {page}"
    );
    assert_eq!(page["total"], json!(ROWS));
    let table = current_table(&app, &slug);
    let groups = app.sqlite().query(&format!(
        "SELECT label, count(*) FROM \"{table}\" GROUP BY label"
    ));
    assert!(
        groups == vec![format!("a|{ROWS}")] || groups == vec![format!("b|{ROWS}")],
        "the current version mixes two uploads: {groups:?}"
    );
    assert_eq!(version_tables(&app), vec![table], "no leftover table");
}

#[tokio::test]
async fn records_may_end_with_lf_crlf_or_cr_and_blank_lines_are_skipped() {
    let app = spawn_app().await;
    let (meta, rows) = publish(&app, "endings", "id,name\r\n1,a\n2,b\r3,c\r\n\n\n4,d\n\n").await;
    assert_eq!(meta["row_count"], json!(4));
    assert_eq!(
        column(&rows, "name"),
        vec![json!("a"), json!("b"), json!("c"), json!("d")]
    );
    // Blank lines still count when an error names a line.
    let slug = DatasetBuilder::new("blank-lines").create(&app).await;
    let problem = assert_problem(
        app.upload(&slug, "id,name\n1,a\n\n\n2\n", "text/csv").await,
        400,
    )
    .await;
    let detail = problem["detail"].as_str().expect("detail");
    assert!(detail.contains("line 5"), "{detail}");
}

#[tokio::test]
async fn reserved_and_unsafe_column_names_are_refused_on_line_1() {
    let app = spawn_app().await;
    let slug = DatasetBuilder::new("names").create(&app).await;
    for (csv, needle) in [
        ("__row,b\n1,2\n", "reserved"),
        ("a,\n1,2\n", "no name"),
        ("a,\"b\nc\"\n1,2\n", "control character"),
    ] {
        let problem = assert_problem(app.upload(&slug, csv, "text/csv").await, 400).await;
        let detail = problem["detail"].as_str().expect("detail");
        assert!(
            detail.contains("line 1") && detail.contains(needle),
            "{csv:?}: {detail}"
        );
    }
    assert_eq!(version_tables(&app), Vec::<String>::new());
}
