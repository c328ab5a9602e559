//! Querying rows: every filter operator, precedence, literals of every type,
//! order, select, cursor paging, exact counts, aggregates and the CSV and
//! NDJSON formats, each answer checked against what the `sqlite3` shell
//! computes on the same version table.

// Helpers outside the test functions panic on purpose too: a failed
// expectation is a failed test.
#![allow(clippy::expect_used)]

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    DatasetBuilder, TestApp, assert_problem, demo_file, shared_dataset, spawn_app,
};

const FLIGHTS_20K: &str = "bts_nyc_flights_2013_first20000.csv";

/// Columns compared row by row: enough to tell every flight apart and to
/// cover every column type of the flights file.
const FLIGHT_COLS: &str =
    "year,month,day,dep_time,dep_delay,arr_delay,carrier,flight,tailnum,origin,dest,time_hour";

/// The 20,000-row flights demo file as dataset `flights`.
async fn flights(app: &TestApp) -> String {
    DatasetBuilder::new("flights")
        .with_file(app, &demo_file(FLIGHTS_20K))
        .await
}

/// A small file with a column of every type, nulls, quotes and accents.
const TYPED_CSV: &str = "\
id,name,active,born,seen_at,score,code
1,Alice,true,2013-01-15,2013-01-15T08:00:00Z,1.5,A1
2,bob,FALSE,2013-06-01,2013-06-01T00:00:00Z,-2.25,
3,O'Hare,true,,2013-06-01T12:30:00+02:00,0.5,B2
4,Zoë,,2012-12-31,,10,b2
5,\"Smith, J\",false,2013-06-02,2013-06-02 00:00:00,,C_3
6,carol,true,2014-02-28,2013-12-31T23:59:59Z,3,c%3
7,ALICIA,false,2013-06-01,2013-06-01T10:30:00Z,1,a1
";
const TYPED_COLS: &str = "id,name,active,born,seen_at,score,code";

async fn typed(app: &TestApp) -> String {
    DatasetBuilder::new("typed").with_csv(app, TYPED_CSV).await
}

/// The table holding the current version of `slug`.
fn current_table(app: &TestApp, slug: &str) -> String {
    let rows = app.sqlite().query(&format!(
        "SELECT v.table_name FROM datasets d JOIN dataset_versions v \
         ON v.id = d.current_version_id WHERE d.slug = '{slug}'"
    ));
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows[0].clone()
}

/// A JSON value as the sqlite3 shell prints the stored value.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One row object as a `|`-separated line of `cols`, asserting it holds
/// exactly those keys.
fn line(row: &Value, cols: &[&str]) -> String {
    let obj = row.as_object().expect("row object");
    assert_eq!(
        obj.len(),
        cols.len(),
        "row has other keys than {cols:?}: {row}"
    );
    cols.iter()
        .map(|c| cell(obj.get(*c).unwrap_or_else(|| panic!("no {c} in {row}"))))
        .collect::<Vec<_>>()
        .join("|")
}

/// Every row `GET …/rows` returns for `params`, following `next_cursor`
/// with pages of `limit`, each as a line of `cols`. Checks that every page
/// but the last is full and that the last has `next_cursor: null`.
async fn api_rows(
    app: &TestApp,
    slug: &str,
    params: &[(&str, &str)],
    cols: &str,
    limit: usize,
) -> Vec<String> {
    let names: Vec<&str> = cols.split(',').collect();
    let limit_text = limit.to_string();
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        assert!(
            out.len() <= 400_000,
            "the walk does not end: {} rows",
            out.len()
        );
        let mut p: Vec<(&str, &str)> = params.to_vec();
        p.push(("select", cols));
        p.push(("limit", &limit_text));
        if let Some(c) = &cursor {
            p.push(("cursor", c));
        }
        let page = app.rows_json(slug, &p).await;
        let data = page["data"].as_array().expect("data");
        out.extend(data.iter().map(|r| line(r, &names)));
        match page["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(data.len(), limit, "a page before the last is full");
                assert_ne!(cursor.as_deref(), Some(c), "the cursor did not advance");
                cursor = Some(c.to_string());
            }
            None => {
                assert!(page["next_cursor"].is_null(), "{}", page["next_cursor"]);
                return out;
            }
        }
    }
}

/// Every row `POST …/query` returns for `body`, following its cursors.
async fn posted_rows(app: &TestApp, slug: &str, body: &Value, cols: &str) -> Vec<String> {
    let names: Vec<&str> = cols.split(',').collect();
    let mut body = body.clone();
    body["select"] = json!(names);
    let mut out = Vec::new();
    loop {
        let res = app.query(slug, &body).await;
        let status = res.status();
        let page: Value = res.json().await.expect("json");
        assert_eq!(status, StatusCode::OK, "{page}");
        out.extend(
            page["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|r| line(r, &names)),
        );
        match page["next_cursor"].as_str() {
            Some(c) => body["cursor"] = json!(c),
            None => return out,
        }
    }
}

/// The rows sqlite3 selects with `where_sql`, in row order.
fn sql_rows(app: &TestApp, table: &str, cols: &str, where_sql: &str) -> Vec<String> {
    let db = app.sqlite();
    db.query(&format!(
        "SELECT {} FROM \"{table}\" WHERE {where_sql} ORDER BY __row",
        db.cells(table, cols)
    ))
}

fn sql_count(app: &TestApp, table: &str, where_sql: &str) -> i64 {
    let out = app.sqlite().query(&format!(
        "SELECT COUNT(*) FROM \"{table}\" WHERE {where_sql}"
    ));
    out[0].parse().expect("count")
}

/// Asserts two row lists are equal, naming the first difference rather
/// than printing thousands of rows.
fn assert_same_rows(got: &[String], want: &[String], what: &str) {
    if got == want {
        return;
    }
    let i = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    panic!(
        "{what}: the API returned {} rows, sqlite3 {}; first difference at row {i}: API {:?}, sqlite3 {:?}",
        got.len(),
        want.len(),
        got.get(i),
        want.get(i)
    );
}

/// Runs each `(filter, equivalent SQL)` case through the API and sqlite3
/// and compares the rows; returns how many rows each case matched.
async fn check_filters(
    app: &TestApp,
    slug: &str,
    cols: &str,
    cases: &[(&str, &str)],
) -> Vec<usize> {
    let table = current_table(app, slug);
    let mut sizes = Vec::new();
    for (filter, sql) in cases {
        let want = sql_rows(app, &table, cols, sql);
        let got = api_rows(app, slug, &[("filter", filter)], cols, 10_000).await;
        assert_same_rows(&got, &want, &format!("filter {filter:?} (SQL {sql})"));
        sizes.push(want.len());
    }
    sizes
}

/// Every case must match some rows and leave some out, or it tests little.
fn assert_selective(sizes: &[usize], total: usize, cases: &[(&str, &str)]) {
    for (n, (filter, _)) in sizes.iter().zip(cases) {
        assert!(
            *n > 0 && *n < total,
            "filter {filter:?} matched {n} of {total} rows; pick a more telling case"
        );
    }
}

#[tokio::test]
async fn every_comparison_operator_returns_exactly_the_rows_sqlite_selects() {
    let app = spawn_app().await;
    let slug = flights(&app).await;
    let cases = [
        ("carrier = 'UA'", "carrier = 'UA'"),
        ("carrier == 'AA'", "carrier = 'AA'"),
        ("dep_delay = 0", "dep_delay = 0"),
        ("carrier != 'UA'", "carrier <> 'UA'"),
        ("dep_delay <> 0", "dep_delay <> 0"),
        ("tailnum != 'N14228'", "tailnum <> 'N14228'"),
        ("dep_delay < -5", "dep_delay < -5"),
        ("dep_delay <= -5", "dep_delay <= -5"),
        ("dep_delay > 120", "dep_delay > 120"),
        ("dep_delay >= 120", "dep_delay >= 120"),
        ("dep_delay > 2.5", "dep_delay > 2.5"),
        ("dep_delay<=-1.5", "dep_delay <= -1.5"),
        ("dest < 'BOS'", "dest < 'BOS'"),
        ("dest >= 'SFO'", "dest >= 'SFO'"),
        ("\"flight\" = 1545", "flight = 1545"),
    ];
    let sizes = check_filters(&app, &slug, FLIGHT_COLS, &cases).await;
    assert_selective(&sizes, 20_000, &cases);
}

#[tokio::test]
async fn in_not_in_like_not_like_and_null_tests_return_exactly_the_rows_sqlite_selects() {
    let app = spawn_app().await;
    let slug = flights(&app).await;
    let cases = [
        ("origin in ('JFK', 'LGA')", "origin IN ('JFK', 'LGA')"),
        (
            "flight in (1545, 1714, 1141)",
            "flight IN (1545, 1714, 1141)",
        ),
        (
            "origin not in ('JFK', 'LGA')",
            "origin NOT IN ('JFK', 'LGA')",
        ),
        // Null tailnums match neither `in` nor `not in`, as in SQL.
        (
            "tailnum not in ('N14228', 'N24211')",
            "tailnum NOT IN ('N14228', 'N24211')",
        ),
        (
            "dep_delay NOT IN (0, -1, -2)",
            "dep_delay NOT IN (0, -1, -2)",
        ),
        // Case-insensitive: a lowercase pattern finds uppercase codes.
        ("dest like 's%'", "substr(dest, 1, 1) = 'S'"),
        (
            "dest LIKE 'S_A'",
            "length(dest) = 3 AND substr(dest, 1, 1) = 'S' AND substr(dest, 3, 1) = 'A'",
        ),
        (
            "tailnum like '%JB'",
            "substr(tailnum, length(tailnum) - 1) = 'JB'",
        ),
        (
            "tailnum not like '%a%'",
            "replace(upper(tailnum), 'A', '') = upper(tailnum)",
        ),
        ("dep_delay is null", "dep_delay IS NULL"),
        ("tailnum IS NULL", "tailnum IS NULL"),
        ("dep_delay is not null", "dep_delay IS NOT NULL"),
        ("arr_delay is not null", "arr_delay IS NOT NULL"),
    ];
    let sizes = check_filters(&app, &slug, FLIGHT_COLS, &cases).await;
    assert_selective(&sizes, 20_000, &cases);
}

#[tokio::test]
async fn and_or_not_and_parentheses_follow_sql_precedence() {
    let app = spawn_app().await;
    let slug = flights(&app).await;
    let cases = [
        (
            "carrier = 'UA' or carrier = 'AA' and dep_delay > 60",
            "carrier = 'UA' OR (carrier = 'AA' AND dep_delay > 60)",
        ),
        (
            "(carrier = 'UA' or carrier = 'AA') and dep_delay > 60",
            "(carrier = 'UA' OR carrier = 'AA') AND dep_delay > 60",
        ),
        (
            "dep_delay > 60 and carrier = 'UA' or origin = 'LGA' and dest = 'ATL'",
            "(dep_delay > 60 AND carrier = 'UA') OR (origin = 'LGA' AND dest = 'ATL')",
        ),
        (
            "not carrier = 'UA' and origin = 'JFK'",
            "(NOT carrier = 'UA') AND origin = 'JFK'",
        ),
        (
            "not (carrier = 'UA' and origin = 'EWR')",
            "NOT (carrier = 'UA' AND origin = 'EWR')",
        ),
        // `not` of an unknown (null) comparison stays unknown, as in SQL.
        ("not dep_delay > 0", "NOT (dep_delay > 0)"),
        ("not not dep_delay > 0", "NOT (NOT (dep_delay > 0))"),
        (
            "((origin = 'JFK')) AND (dest = 'LAX' OR dest = 'SFO') aNd NOT (dep_delay < 0)",
            "origin = 'JFK' AND (dest = 'LAX' OR dest = 'SFO') AND NOT (dep_delay < 0)",
        ),
        (
            "day = 1 and (hour < 7 or hour >= 22) or day = 2 and minute = 0",
            "(day = 1 AND (hour < 7 OR hour >= 22)) OR (day = 2 AND minute = 0)",
        ),
    ];
    let sizes = check_filters(&app, &slug, FLIGHT_COLS, &cases).await;
    assert_selective(&sizes, 20_000, &cases);
}

#[tokio::test]
async fn string_number_date_timestamp_and_boolean_literals_compare_like_sqlite() {
    let app = spawn_app().await;
    let slug = typed(&app).await;
    let meta = app.get(&format!("/v1/datasets/{slug}")).await;
    assert_eq!(meta.status(), StatusCode::OK);
    let meta: Value = meta.json().await.expect("json");
    let types: Vec<&str> = meta["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        types,
        [
            "integer",
            "text",
            "boolean",
            "date",
            "timestamp",
            "real",
            "text"
        ]
    );
    let cases = [
        ("name = 'O''Hare'", "name = 'O''Hare'"),
        ("name = 'Smith, J'", "name = 'Smith, J'"),
        ("name = 'Zoë'", "name = 'Zoë'"),
        ("name like 'ali%'", "substr(lower(name), 1, 3) = 'ali'"),
        ("code like 'c_3'", "code IN ('C_3', 'c%3')"),
        ("code = 'b2'", "code = 'b2'"),
        ("code is null", "code IS NULL"),
        ("id in (1, 3, 5)", "id IN (1, 3, 5)"),
        ("id > 2 and id <= 5", "id > 2 AND id <= 5"),
        ("score > 1", "score > 1.0"),
        ("score <= -2.25", "score <= -2.25"),
        ("score in (0.5, 10)", "score IN (0.5, 10.0)"),
        ("score < 1e1", "score < 10.0"),
        ("score is null", "score IS NULL"),
        // TRUE and FALSE are 1 and 0 in SQLite, booleans in PostgreSQL.
        ("active = true", "active = TRUE"),
        ("active = FALSE", "active = FALSE"),
        ("active != true", "active <> TRUE"),
        ("active is null", "active IS NULL"),
        ("born >= '2013-06-01'", "born >= '2013-06-01'"),
        ("born < '2013-01-01'", "born < '2013-01-01'"),
        ("born = '2013-06-01'", "born = '2013-06-01'"),
        (
            "born in ('2012-12-31', '2014-02-28')",
            "born IN ('2012-12-31', '2014-02-28')",
        ),
        // A date against a timestamp column means midnight UTC.
        (
            "seen_at >= '2013-06-01'",
            "seen_at >= '2013-06-01T00:00:00Z'",
        ),
        // Offsets are converted to UTC, as the stored values were.
        (
            "seen_at = '2013-06-01T12:30:00+02:00'",
            "seen_at = '2013-06-01T10:30:00Z'",
        ),
        (
            "seen_at = '2013-06-02 00:00:00'",
            "seen_at = '2013-06-02T00:00:00Z'",
        ),
        (
            "seen_at < '2013-06-01T10:30:00Z'",
            "seen_at < '2013-06-01T10:30:00Z'",
        ),
    ];
    let sizes = check_filters(&app, &slug, TYPED_COLS, &cases).await;
    assert_selective(&sizes, 7, &cases);

    // And on the flights file: a timestamp window and text in quotes.
    let flights = flights(&app).await;
    let cases = [
        (
            "time_hour >= '2013-01-10' and time_hour < '2013-01-11T00:00:00Z'",
            "time_hour >= '2013-01-10T00:00:00Z' AND time_hour < '2013-01-11T00:00:00Z'",
        ),
        (
            "time_hour = '2013-01-01T05:00:00-05:00'",
            "time_hour = '2013-01-01T10:00:00Z'",
        ),
    ];
    let sizes = check_filters(&app, &flights, FLIGHT_COLS, &cases).await;
    assert_selective(&sizes, 20_000, &cases);
}

#[tokio::test]
async fn json_filter_tree_selects_the_same_rows_as_sqlite() {
    let app = spawn_app().await;
    let slug = flights(&app).await;
    let table = current_table(&app, &slug);
    let cases = [
        (
            json!({"op": "and", "args": [
                {"op": "eq", "column": "carrier", "value": "UA"},
                {"op": "gt", "column": "dep_delay", "value": 30}
            ]}),
            "carrier = 'UA' AND dep_delay > 30",
        ),
        (
            json!({"op": "or", "args": [
                {"op": "le", "column": "dep_delay", "value": -10},
                {"op": "ge", "column": "dep_delay", "value": 200.5},
                {"op": "is_null", "column": "dep_delay"}
            ]}),
            "dep_delay <= -10 OR dep_delay >= 200.5 OR dep_delay IS NULL",
        ),
        (
            json!({"op": "not", "arg": {"op": "in", "column": "origin", "values": ["JFK", "LGA"]}}),
            "NOT (origin IN ('JFK', 'LGA'))",
        ),
        (
            json!({"op": "and", "args": [
                {"op": "like", "column": "dest", "pattern": "s%"},
                {"op": "ne", "column": "carrier", "value": "UA"},
                {"op": "lt", "column": "time_hour", "value": "2013-01-05"},
                {"op": "is_not_null", "column": "tailnum"}
            ]}),
            "substr(dest, 1, 1) = 'S' AND carrier <> 'UA' \
             AND time_hour < '2013-01-05T00:00:00Z' AND tailnum IS NOT NULL",
        ),
    ];
    for (filter, sql) in &cases {
        let body = json!({"filter": filter, "limit": 10000});
        let got = posted_rows(&app, &slug, &body, FLIGHT_COLS).await;
        let want = sql_rows(&app, &table, FLIGHT_COLS, sql);
        assert!(!want.is_empty() && want.len() < 20_000, "{sql}");
        assert_same_rows(&got, &want, &format!("JSON filter {filter}"));
    }

    // Typed order items, with the same cursor walk as the query string.
    let body = json!({
        "filter": {"op": "eq", "column": "origin", "value": "LGA"},
        "order": [{"column": "dep_delay", "direction": "desc"}, {"column": "flight"}],
        "limit": 1000
    });
    let got = posted_rows(&app, &slug, &body, FLIGHT_COLS).await;
    let db = app.sqlite();
    let want = db.query(&format!(
        "SELECT {} FROM \"{table}\" WHERE origin = 'LGA' \
         ORDER BY dep_delay DESC NULLS LAST, flight ASC, __row",
        db.cells(&table, FLIGHT_COLS)
    ));
    assert!(want.len() > 1000, "more than one page");
    assert_same_rows(&got, &want, "POST with order and cursor");
}

#[tokio::test]
async fn count_exact_equals_the_sqlite_count_of_the_same_filter() {
    let app = spawn_app().await;
    let slug = flights(&app).await;
    let table = current_table(&app, &slug);
    for (filter, sql) in [
        ("", "1 = 1"),
        (
            "carrier = 'UA' and dep_delay > 30",
            "carrier = 'UA' AND dep_delay > 30",
        ),
        ("dep_delay is null", "dep_delay IS NULL"),
        (
            "dest like 'S%' or origin = 'EWR'",
            "dest LIKE 'S%' OR origin = 'EWR'",
        ),
        ("carrier = 'nobody'", "carrier = 'nobody'"),
    ] {
        let want = sql_count(&app, &table, sql);
        let res = app
            .get_rows(
                &slug,
                &[("filter", filter), ("count", "exact"), ("limit", "5")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let header = res
            .headers()
            .get("x-total-count")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let page: Value = res.json().await.expect("json");
        assert_eq!(page["total"], json!(want), "filter {filter:?}");
        assert_eq!(
            header,
            Some(want.to_string()),
            "X-Total-Count for {filter:?}"
        );
        let shown = page["data"].as_array().expect("data").len() as i64;
        assert_eq!(shown, want.min(5), "{page}");
    }
    // Without count the total is null.
    let page = app.rows_json(&slug, &[("limit", "1")]).await;
    assert!(page["total"].is_null(), "{page}");
    // And the JSON form's `count: true` counts rows too.
    let res = app
        .query(
            &slug,
            &json!({"filter": {"op": "eq", "column": "origin", "value": "JFK"}, "count": true, "limit": 1}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page: Value = res.json().await.expect("json");
    assert_eq!(
        page["total"],
        json!(sql_count(&app, &table, "origin = 'JFK'"))
    );
}

#[tokio::test]
async fn order_on_several_columns_matches_sqlite_with_nulls_first_ascending_and_last_descending() {
    let app = spawn_app().await;
    let slug = flights(&app).await;
    let table = current_table(&app, &slug);
    let filter = "origin = 'EWR'";
    for (order, sql) in [
        (
            "-dep_delay,carrier",
            "dep_delay DESC NULLS LAST, carrier ASC NULLS FIRST",
        ),
        (
            "dep_delay,-tailnum",
            "dep_delay ASC NULLS FIRST, tailnum DESC NULLS LAST",
        ),
        (
            "carrier desc, tailnum ASC, arr_delay",
            "carrier DESC NULLS LAST, tailnum ASC NULLS FIRST, arr_delay ASC NULLS FIRST",
        ),
        ("time_hour desc", "time_hour DESC NULLS LAST"),
    ] {
        let db = app.sqlite();
        let want = db.query(&format!(
            "SELECT {} FROM \"{table}\" WHERE {filter} ORDER BY {sql}, __row",
            db.cells(&table, FLIGHT_COLS)
        ));
        let got = api_rows(
            &app,
            &slug,
            &[("filter", filter), ("order", order)],
            FLIGHT_COLS,
            5_000,
        )
        .await;
        assert_same_rows(&got, &want, &format!("order={order}"));
    }

    // Spelled out: nulls come first ascending and last descending.
    let asc = app
        .rows_json(
            &slug,
            &[
                ("order", "dep_delay"),
                ("select", "dep_delay"),
                ("limit", "10000"),
            ],
        )
        .await;
    let asc = asc["data"].as_array().expect("data").clone();
    let nulls = sql_count(&app, &table, "dep_delay IS NULL") as usize;
    assert!(nulls > 0);
    assert!(asc[..nulls].iter().all(|r| r["dep_delay"].is_null()));
    assert!(asc[nulls]["dep_delay"].is_i64(), "{}", asc[nulls]);
    let desc = api_rows(&app, &slug, &[("order", "-dep_delay")], "dep_delay", 10_000).await;
    assert_eq!(desc.len(), 20_000);
    assert!(desc[20_000 - nulls..].iter().all(String::is_empty));
    assert!(!desc[20_000 - nulls - 1].is_empty());
    let max = app
        .sqlite()
        .query(&format!("SELECT max(dep_delay) FROM \"{table}\""));
    assert_eq!(desc[0], max[0]);
}

#[tokio::test]
async fn small_pages_walk_ties_and_nulls_in_the_sort_keys_without_gaps_or_repeats() {
    let app = spawn_app().await;
    let slug = flights(&app).await;
    let table = current_table(&app, &slug);
    // Many equal and null keys, so page breaks fall inside runs of ties.
    let filter = "day <= 3 and (dep_delay is null or dep_delay < 5 or tailnum is null)";
    let where_sql = "day <= 3 AND (dep_delay IS NULL OR dep_delay < 5 OR tailnum IS NULL)";
    for (order, sql) in [
        (
            "dep_delay,-tailnum",
            "dep_delay ASC NULLS FIRST, tailnum DESC NULLS LAST",
        ),
        (
            "-dep_delay,tailnum",
            "dep_delay DESC NULLS LAST, tailnum ASC NULLS FIRST",
        ),
        ("-origin", "origin DESC"),
    ] {
        let db = app.sqlite();
        let want = db.query(&format!(
            "SELECT {} FROM \"{table}\" WHERE {where_sql} ORDER BY {sql}, __row",
            db.cells(&table, FLIGHT_COLS)
        ));
        assert!(want.len() > 1000, "{}", want.len());
        let got = api_rows(
            &app,
            &slug,
            &[("filter", filter), ("order", order)],
            FLIGHT_COLS,
            97,
        )
        .await;
        assert_same_rows(&got, &want, &format!("order={order} in pages of 97"));
    }
}

#[tokio::test]
async fn select_returns_only_the_named_columns_in_the_order_given() {
    let app = spawn_app().await;
    let slug = flights(&app).await;
    let table = current_table(&app, &slug);

    let res = app
        .get_rows(&slug, &[("select", "dest, carrier,flight"), ("limit", "3")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.expect("body");
    let page: Value = serde_json::from_str(&text).expect("json");
    let data = page["data"].as_array().expect("data");
    assert_eq!(data.len(), 3);
    // Key order is only visible in the raw text.
    assert!(
        text.starts_with(r#"{"data":[{"dest":"IAH","carrier":"UA","flight":1545},"#),
        "{text}"
    );
    let want = app.sqlite().query(&format!(
        "SELECT dest, carrier, flight FROM \"{table}\" ORDER BY __row LIMIT 3"
    ));
    let got: Vec<String> = data
        .iter()
        .map(|r| line(r, &["dest", "carrier", "flight"]))
        .collect();
    assert_eq!(got, want);

    // Without select: every column, in file order.
    let res = app
        .get_rows(&slug, &[("limit", "1"), ("format", "csv")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let csv = res.text().await.expect("body");
    let header = csv.lines().next().expect("header");
    let file = std::fs::read_to_string(demo_file(FLIGHTS_20K)).expect("demo file");
    assert_eq!(header, file.lines().next().expect("file header"));
    assert_eq!(csv.lines().nth(1), file.lines().nth(1));

    // A CSV header follows the select order too.
    let res = app
        .get_rows(
            &slug,
            &[
                ("select", "time_hour,tailnum,year"),
                ("limit", "2"),
                ("format", "csv"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let csv = res.text().await.expect("body");
    assert_eq!(
        csv,
        "time_hour,tailnum,year\n2013-01-01T10:00:00Z,N14228,2013\n2013-01-01T10:00:00Z,N24211,2013\n"
    );
}

/// The whole flights file (336,776 rows) walked in pages of 10,000: once
/// in file order, once ordered and filtered; every row exactly once.
#[tokio::test]
async fn cursor_walk_over_the_full_flights_file_loses_and_repeats_no_row() {
    let app = spawn_app().await;
    let slug = DatasetBuilder::new("flights-full")
        .with_file(&app, &shared_dataset("bts_nyc_flights_2013.csv.gz"))
        .await;
    let table = current_table(&app, &slug);
    let cols = "month,day,sched_dep_time,dep_delay,carrier,flight,tailnum,origin";

    let want = sql_rows(&app, &table, cols, "1 = 1");
    assert_eq!(want.len(), 336_776);
    let got = api_rows(&app, &slug, &[], cols, 10_000).await;
    assert_same_rows(&got, &want, "default order");

    let filter = "origin != 'LGA' and (dep_delay is null or dep_delay >= 0)";
    let where_sql = "origin <> 'LGA' AND (dep_delay IS NULL OR dep_delay >= 0)";
    let db = app.sqlite();
    let want = db.query(&format!(
        "SELECT {} FROM \"{table}\" WHERE {where_sql} \
         ORDER BY dep_delay DESC NULLS LAST, carrier ASC NULLS FIRST, __row",
        db.cells(&table, cols)
    ));
    let count = sql_count(&app, &table, where_sql);
    assert_eq!(want.len() as i64, count);
    assert!(count > 100_000, "{count}");
    let got = api_rows(
        &app,
        &slug,
        &[("filter", filter), ("order", "-dep_delay,carrier")],
        cols,
        10_000,
    )
    .await;
    assert_same_rows(&got, &want, "order=-dep_delay,carrier with a filter");

    // The last page says so, and count=exact agrees with sqlite3.
    let page = app
        .rows_json(
            &slug,
            &[("filter", filter), ("count", "exact"), ("limit", "1")],
        )
        .await;
    assert_eq!(page["total"], json!(count));
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Aggregate rows as sqlite3 prints them, to compare with API rows.
fn agg_line(row: &Value, cols: &[&str]) -> Vec<String> {
    cols.iter().map(|c| cell(&row[*c])).collect()
}

/// Compares API aggregate rows with sqlite3's, numbers within rounding.
fn assert_same_aggregates(got: &[Value], want: &[String], cols: &[&str], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: number of rows");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(
            g.as_object().expect("object").len(),
            cols.len(),
            "{what}: {g}"
        );
        let w: Vec<&str> = w.split('|').collect();
        for ((c, gv), wv) in cols.iter().zip(agg_line(g, cols)).zip(w) {
            let same = gv == wv
                || match (gv.parse::<f64>(), wv.parse::<f64>()) {
                    (Ok(a), Ok(b)) => close(a, b),
                    _ => false,
                };
            assert!(
                same,
                "{what}: {c} is {gv} in the API, {wv} in sqlite3 ({g})"
            );
        }
    }
}

async fn post_ok(app: &TestApp, slug: &str, body: &Value) -> Value {
    let res = app.query(slug, body).await;
    let status = res.status();
    let page: Value = res.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{body} -> {page}");
    page
}

#[tokio::test]
async fn aggregates_over_all_matching_rows_equal_what_sqlite_computes() {
    let app = spawn_app().await;
    let slug = flights(&app).await;
    let table = current_table(&app, &slug);
    let page = post_ok(
        &app,
        &slug,
        &json!({
            "filter": {"op": "eq", "column": "carrier", "value": "UA"},
            "aggregates": [
                {"function": "count"},
                {"function": "count", "column": "dep_delay"},
                {"function": "sum", "column": "dep_delay"},
                {"function": "avg", "column": "dep_delay", "as": "x"},
                {"function": "min", "column": "dep_delay"},
                {"function": "max", "column": "arr_delay"},
                {"function": "min", "column": "tailnum"},
                {"function": "max", "column": "time_hour"}
            ]
        }),
    )
    .await;
    let cols = [
        "count",
        "count_dep_delay",
        "sum_dep_delay",
        "x",
        "min_dep_delay",
        "max_arr_delay",
        "min_tailnum",
        "max_time_hour",
    ];
    let db = app.sqlite();
    let want = db.query(&format!(
        "SELECT COUNT(*), COUNT(dep_delay), SUM(dep_delay), AVG(dep_delay), MIN(dep_delay), \
         MAX(arr_delay), MIN(tailnum), {} FROM \"{table}\" WHERE carrier = 'UA'",
        db.cell("MAX(time_hour)", "timestamp")
    ));
    let data = page["data"].as_array().expect("data");
    assert_same_aggregates(data, &want, &cols, "UA aggregates");
    assert!(page["next_cursor"].is_null(), "{page}");
    // Types: counts and integer sums are integers, the average is not.
    assert!(data[0]["count"].is_i64() && data[0]["sum_dep_delay"].is_i64());
    assert!(data[0]["x"].is_f64(), "{}", data[0]);
    assert!(num(&data[0]["x"]) > 0.0);

    // Over no rows: count 0 and null for the rest, as in SQL.
    let page = post_ok(
        &app,
        &slug,
        &json!({
            "filter": {"op": "eq", "column": "carrier", "value": "nobody"},
            "aggregates": [{"function": "count"}, {"function": "sum", "column": "dep_delay"}]
        }),
    )
    .await;
    assert_eq!(page["data"], json!([{"count": 0, "sum_dep_delay": null}]));
}

#[tokio::test]
async fn aggregates_per_group_equal_sqlite_and_can_be_ordered_by_an_alias() {
    let app = spawn_app().await;
    let slug = flights(&app).await;
    let table = current_table(&app, &slug);
    let aggregates = json!([
        {"function": "count", "as": "n"},
        {"function": "sum", "column": "dep_delay"},
        {"function": "avg", "column": "dep_delay", "as": "avg_delay"},
        {"function": "min", "column": "dep_delay"},
        {"function": "max", "column": "dep_delay"}
    ]);
    let cols = [
        "carrier",
        "n",
        "sum_dep_delay",
        "avg_delay",
        "min_dep_delay",
        "max_dep_delay",
    ];
    let select = "COUNT(*), SUM(dep_delay), AVG(dep_delay), MIN(dep_delay), MAX(dep_delay)";

    // Groups come in group order when no order is given.
    let page = post_ok(
        &app,
        &slug,
        &json!({"group_by": ["carrier"], "aggregates": aggregates}),
    )
    .await;
    let want = app.sqlite().query(&format!(
        "SELECT carrier, {select} FROM \"{table}\" GROUP BY carrier ORDER BY carrier"
    ));
    assert_same_aggregates(
        page["data"].as_array().expect("data"),
        &want,
        &cols,
        "by carrier",
    );

    // Ordered by an alias, descending, with a filter and a limit.
    let page = post_ok(
        &app,
        &slug,
        &json!({
            "filter": {"op": "ne", "column": "origin", "value": "LGA"},
            "group_by": ["carrier"],
            "aggregates": aggregates,
            "order": [{"column": "avg_delay", "direction": "desc"}],
            "limit": 5
        }),
    )
    .await;
    let want = app.sqlite().query(&format!(
        "SELECT carrier, {select} FROM \"{table}\" WHERE origin <> 'LGA' \
         GROUP BY carrier ORDER BY AVG(dep_delay) DESC NULLS LAST, carrier LIMIT 5"
    ));
    assert_same_aggregates(
        page["data"].as_array().expect("data"),
        &want,
        &cols,
        "by carrier ordered by avg_delay desc",
    );

    // Two group columns, one with nulls, ordered by the count ascending.
    let page = post_ok(
        &app,
        &slug,
        &json!({
            "filter": {"op": "eq", "column": "carrier", "value": "MQ"},
            "group_by": ["origin", "tailnum"],
            "aggregates": [{"function": "count"}, {"function": "max", "column": "dest"}],
            "order": [{"column": "count"}, {"column": "tailnum", "direction": "desc"}],
            "limit": 10000
        }),
    )
    .await;
    let want = app.sqlite().query(&format!(
        "SELECT origin, tailnum, COUNT(*), MAX(dest) FROM \"{table}\" WHERE carrier = 'MQ' \
         GROUP BY origin, tailnum \
         ORDER BY COUNT(*), tailnum DESC NULLS LAST, origin, tailnum"
    ));
    assert!(want.len() > 100, "{}", want.len());
    assert_same_aggregates(
        page["data"].as_array().expect("data"),
        &want,
        &["origin", "tailnum", "count", "max_dest"],
        "by origin and tailnum",
    );
}

#[tokio::test]
async fn count_on_a_grouped_query_gives_the_number_of_groups() {
    let app = spawn_app().await;
    let slug = flights(&app).await;
    let table = current_table(&app, &slug);
    for (filter, sql) in [
        (json!(null), "1 = 1"),
        (
            json!({"op": "gt", "column": "dep_delay", "value": 60}),
            "dep_delay > 60",
        ),
    ] {
        let mut body = json!({"group_by": ["dest"], "count": true, "limit": 3});
        if !filter.is_null() {
            body["filter"] = filter.clone();
        }
        let res = app.query(&slug, &body).await;
        assert_eq!(res.status(), StatusCode::OK);
        let total = res
            .headers()
            .get("x-total-count")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let page: Value = res.json().await.expect("json");
        let want = app.sqlite().query(&format!(
            "SELECT COUNT(DISTINCT dest) FROM \"{table}\" WHERE {sql}"
        ));
        assert_eq!(
            page["total"],
            json!(want[0].parse::<i64>().expect("n")),
            "{sql}"
        );
        assert_eq!(total.as_deref(), Some(want[0].as_str()));
        // The page holds the first three groups with their row counts.
        let first = app.sqlite().query(&format!(
            "SELECT dest, COUNT(*) FROM \"{table}\" WHERE {sql} GROUP BY dest ORDER BY dest LIMIT 3"
        ));
        assert_same_aggregates(
            page["data"].as_array().expect("data"),
            &first,
            &["dest", "count"],
            sql,
        );
    }
}

#[tokio::test]
async fn csv_pages_have_a_header_the_rows_and_x_next_cursor_while_more_rows_follow() {
    let app = spawn_app().await;
    let slug = typed(&app).await;
    let table = current_table(&app, &slug);
    let cols = "id,name,active,born,score,code";

    // format=csv, three pages of three, two and nothing more.
    let mut cursor: Option<String> = None;
    let mut lines: Vec<String> = Vec::new();
    let mut pages = 0;
    loop {
        let mut p = vec![("select", cols), ("format", "csv"), ("limit", "3")];
        if let Some(c) = &cursor {
            p.push(("cursor", c));
        }
        let res = app.get_rows(&slug, &p).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()["content-type"].to_str().expect("ct"),
            "text/csv; charset=utf-8"
        );
        let next = res
            .headers()
            .get("x-next-cursor")
            .map(|v| v.to_str().expect("ascii").to_string());
        let body = res.text().await.expect("body");
        let mut it = body.lines();
        assert_eq!(it.next(), Some(cols), "{body}");
        lines.extend(it.map(str::to_string));
        pages += 1;
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        lines,
        [
            "1,Alice,true,2013-01-15,1.5,A1",
            "2,bob,false,2013-06-01,-2.25,",
            "3,O'Hare,true,,0.5,B2",
            "4,Zoë,,2012-12-31,10.0,b2",
            "5,\"Smith, J\",false,2013-06-02,,C_3",
            "6,carol,true,2014-02-28,3.0,c%3",
            "7,ALICIA,false,2013-06-01,1.0,a1",
        ]
    );
    let stored = sql_rows(&app, &table, "id,score", "1 = 1");
    assert_eq!(stored[3], "4|10.0");

    // Accept: text/csv picks CSV too; the last page has no X-Next-Cursor.
    let res = app
        .client
        .get(app.url(&format!("/v1/datasets/{slug}/rows")))
        .query(&[("select", "id,name"), ("filter", "id >= 6")])
        .header("accept", "text/csv")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("x-next-cursor").is_none());
    assert_eq!(
        res.text().await.expect("body"),
        "id,name\n6,carol\n7,ALICIA\n"
    );
}

#[tokio::test]
async fn ndjson_pages_hold_one_json_object_per_line_by_format_or_accept() {
    let app = spawn_app().await;
    let slug = flights(&app).await;
    let table = current_table(&app, &slug);
    let want = app.sqlite().query(&format!(
        "SELECT carrier, flight, dep_delay FROM \"{table}\" WHERE dep_delay > 100 ORDER BY __row LIMIT 50"
    ));
    let params = [
        ("select", "carrier,flight,dep_delay"),
        ("filter", "dep_delay > 100"),
        ("limit", "50"),
    ];
    let by_format = {
        let mut p = params.to_vec();
        p.push(("format", "ndjson"));
        app.get_rows(&slug, &p).await
    };
    let by_accept = app
        .client
        .get(app.url(&format!("/v1/datasets/{slug}/rows")))
        .query(&params)
        .header("accept", "application/x-ndjson")
        .send()
        .await
        .expect("request");
    for res in [by_format, by_accept] {
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()["content-type"].to_str().expect("ct"),
            "application/x-ndjson"
        );
        assert!(res.headers().get("x-next-cursor").is_some());
        let body = res.text().await.expect("body");
        assert!(body.ends_with('\n'));
        let got: Vec<String> = body
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("one object per line");
                line(&v, &["carrier", "flight", "dep_delay"])
            })
            .collect();
        assert_same_rows(&got, &want, "ndjson");
    }
}

#[tokio::test]
async fn a_cursor_from_before_a_reupload_answers_409_data_changed() {
    let app = spawn_app().await;
    let slug = DatasetBuilder::new("small")
        .with_csv(&app, "id,name\n1,a\n2,b\n3,c\n")
        .await;
    let page = app.rows_json(&slug, &[("limit", "2")]).await;
    assert_eq!(
        page["data"],
        json!([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    );
    let cursor = page["next_cursor"].as_str().expect("cursor").to_string();

    let res = app
        .upload(&slug, "id,name\n1,x\n2,y\n3,z\n4,w\n", "text/csv")
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let res = app
        .get_rows(&slug, &[("limit", "2"), ("cursor", &cursor)])
        .await;
    let problem = assert_problem(res, 409).await;
    let detail = problem["detail"].as_str().expect("detail");
    assert!(detail.contains("changed"), "{detail}");
    assert!(detail.contains("version 2"), "{detail}");
    assert!(detail.contains("without cursor"), "{detail}");

    // Starting again works and sees the new rows.
    let page = app.rows_json(&slug, &[("limit", "2")]).await;
    assert_eq!(
        page["data"],
        json!([{"id": 1, "name": "x"}, {"id": 2, "name": "y"}])
    );
}

#[tokio::test]
async fn a_cursor_sent_with_another_filter_or_order_answers_400() {
    let app = spawn_app().await;
    let slug = flights(&app).await;
    let page = app
        .rows_json(
            &slug,
            &[
                ("filter", "carrier = 'UA'"),
                ("order", "flight"),
                ("limit", "10"),
            ],
        )
        .await;
    let cursor = page["next_cursor"].as_str().expect("cursor").to_string();
    for params in [
        vec![("filter", "carrier = 'AA'"), ("order", "flight")],
        vec![("order", "flight")],
        vec![("filter", "carrier = 'UA'"), ("order", "-flight")],
        vec![("filter", "carrier = 'UA'")],
    ] {
        let mut p = params.clone();
        p.push(("limit", "10"));
        p.push(("cursor", &cursor));
        let problem = assert_problem(app.get_rows(&slug, &p).await, 400).await;
        let detail = problem["detail"].as_str().expect("detail");
        assert!(
            detail.contains("cursor") && detail.contains("filter"),
            "{params:?}: {detail}"
        );
    }
    // The same filter and order, spelled differently, still continue.
    let next = app
        .rows_json(
            &slug,
            &[
                ("filter", "carrier='UA'"),
                ("order", "flight asc"),
                ("limit", "10"),
                ("cursor", &cursor),
            ],
        )
        .await;
    assert_eq!(next["data"].as_array().expect("data").len(), 10);
    // Another limit is fine too: the cursor does not depend on it.
    let next = app
        .rows_json(
            &slug,
            &[
                ("filter", "carrier = 'UA'"),
                ("order", "flight"),
                ("limit", "3"),
                ("cursor", &cursor),
            ],
        )
        .await;
    assert_eq!(next["data"].as_array().expect("data").len(), 3);
}

/// The SQL `ORDER BY` terms for an `order` parameter of plain names.
fn order_sql(order: &str) -> String {
    order
        .split(',')
        .map(|k| match k.strip_prefix('-') {
            Some(c) => format!("{c} DESC NULLS LAST"),
            None => format!("{k} ASC NULLS FIRST"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test]
async fn tiny_pages_walk_every_column_type_in_both_directions() {
    let app = spawn_app().await;
    let slug = typed(&app).await;
    let table = current_table(&app, &slug);
    for order in [
        "active",
        "-active",
        "born",
        "-born",
        "seen_at",
        "-seen_at",
        "score",
        "-score",
        "name",
        "-code",
        "id",
        "-id",
        "active,-score",
        "-born,code",
        "-active,seen_at,-name",
    ] {
        let db = app.sqlite();
        let want = db.query(&format!(
            "SELECT {} FROM \"{table}\" ORDER BY {}, __row",
            db.cells(&table, TYPED_COLS),
            order_sql(order)
        ));
        assert_eq!(want.len(), 7);
        for limit in [1, 2, 3] {
            let got = api_rows(&app, &slug, &[("order", order)], TYPED_COLS, limit).await;
            assert_same_rows(&got, &want, &format!("order={order} in pages of {limit}"));
        }
    }
}

const ODD_NAMES_CSV: &str = "\
région,my col,\"x,y\",in,\"a\"\"b\",Name
Île-de-France,1,a,true,1,p
Bretagne,2,b,false,2,q
Corse,,c,,3,
Occitanie,2,\"a\",true,4,r
";

#[tokio::test]
async fn quoted_column_names_with_spaces_accents_commas_quotes_and_keywords_work_everywhere() {
    let app = spawn_app().await;
    let slug = DatasetBuilder::new("odd")
        .with_csv(&app, ODD_NAMES_CSV)
        .await;
    let keys = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|r| r["région"].as_str().unwrap_or("").to_string())
            .collect()
    };
    for (filter, want) in [
        ("\"région\" = 'Corse'", vec!["Corse"]),
        ("\"my col\" is null", vec!["Corse"]),
        (
            "\"my col\" = 2 and \"x,y\" in ('a', 'c')",
            vec!["Occitanie"],
        ),
        ("\"in\" = true", vec!["Île-de-France", "Occitanie"]),
        ("\"a\"\"b\" >= 2 and not \"in\" = false", vec!["Occitanie"]),
        ("\"Name\" like 'Q'", vec!["Bretagne"]),
    ] {
        let page = app
            .rows_json(&slug, &[("filter", filter), ("select", "région")])
            .await;
        assert_eq!(keys(&page), want, "filter {filter}");
    }
    let page = app
        .rows_json(
            &slug,
            &[("order", "-\"my col\",\"x,y\" desc"), ("select", "région")],
        )
        .await;
    assert_eq!(
        keys(&page),
        ["Bretagne", "Occitanie", "Île-de-France", "Corse"]
    );
    let res = app
        .get_rows(
            &slug,
            &[
                ("select", "\"a\"\"b\",\"x,y\",région,in"),
                ("filter", "\"a\"\"b\" = 1"),
                ("format", "csv"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.text().await.expect("body"),
        "\"a\"\"b\",\"x,y\",région,in\n1,a,Île-de-France,true\n"
    );
    let res = app
        .query(
            &slug,
            &json!({"select": ["a\"b", "x,y"], "filter": {"op": "eq", "column": "my col", "value": 1}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page: Value = res.json().await.expect("json");
    assert_eq!(page["data"], json!([{"a\"b": 1, "x,y": "a"}]));
}

#[tokio::test]
async fn grouped_queries_answer_in_csv_and_the_default_page_is_100_rows() {
    let app = spawn_app().await;
    let slug = flights(&app).await;
    let table = current_table(&app, &slug);
    let res = app
        .client
        .post(app.url(&format!("/v1/datasets/{slug}/query?format=csv")))
        .json(&json!({
            "group_by": ["origin"],
            "aggregates": [{"function": "count", "as": "flights"}, {"function": "max", "column": "dep_delay"}]
        }))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.expect("body");
    let want = app.sqlite().query(&format!(
        "SELECT origin || ',' || COUNT(*) || ',' || MAX(dep_delay) FROM \"{table}\" GROUP BY origin ORDER BY origin"
    ));
    assert_eq!(
        body,
        format!("origin,flights,max_dep_delay\n{}\n", want.join("\n"))
    );

    let page = app.rows_json(&slug, &[]).await;
    assert_eq!(page["data"].as_array().expect("data").len(), 100);
    assert!(page["next_cursor"].is_string());
}

#[tokio::test]
async fn real_values_keep_every_digit_in_json_csv_and_cursor_walks() {
    let app = spawn_app().await;
    // Python's shortest round-trip spellings, as in the weather file.
    let values = [
        "10.357019999999999",
        "10.35702",
        "0.30000000000000004",
        "0.3",
        "10.357019999999999",
        "1e-7",
        "-2.5",
        "12.658579999999999",
    ];
    let csv = format!("id,v\n{}\n", {
        let rows: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{},{v}", i + 1))
            .collect();
        rows.join("\n")
    });
    let slug = DatasetBuilder::new("reals").with_csv(&app, csv).await;
    let exact: Vec<f64> = values.iter().map(|v| v.parse().expect("f64")).collect();

    // Read from the raw text: serde_json's default float parsing may be
    // one unit in the last place off, Rust's `str::parse` is exact.
    let res = app.get_rows(&slug, &[("select", "v")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.expect("body");
    let got: Vec<f64> = body
        .split(r#"{"v":"#)
        .skip(1)
        .map(|s| s.split('}').next().expect("value").parse().expect("f64"))
        .collect();
    assert_eq!(got, exact, "JSON values are the stored doubles: {body}");

    let res = app
        .get_rows(&slug, &[("select", "v"), ("format", "csv")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.expect("body");
    let got: Vec<f64> = body
        .lines()
        .skip(1)
        .map(|l| l.parse().expect("f64"))
        .collect();
    assert_eq!(got, exact, "CSV values are the stored doubles: {body}");

    // Filters compare with the exact value.
    let page = app
        .rows_json(
            &slug,
            &[("select", "id"), ("filter", "v = 10.357019999999999")],
        )
        .await;
    assert_eq!(page["data"], json!([{"id": 1}, {"id": 5}]));

    // Pages of one, ordered by v both ways: every row once.
    let table = current_table(&app, &slug);
    for order in ["v", "-v"] {
        let want = app.sqlite().query(&format!(
            "SELECT id FROM \"{table}\" ORDER BY {}, __row",
            order_sql(order)
        ));
        let got = api_rows(&app, &slug, &[("order", order)], "id", 1).await;
        assert_same_rows(&got, &want, &format!("order={order} in pages of 1"));
    }
}

#[tokio::test]
async fn a_sum_beyond_64_bits_is_not_a_server_error() {
    let app = spawn_app().await;
    let slug = DatasetBuilder::new("big")
        .with_csv(&app, "g,n\na,9223372036854775807\na,1\nb,5\n")
        .await;
    let res = app
        .query(
            &slug,
            &json!({"group_by": ["g"], "aggregates": [{"function": "sum", "column": "n"}]}),
        )
        .await;
    let status = res.status();
    let body = res.text().await.expect("body");
    // Either an answer or a client error that says why; never a 500.
    assert!(
        status == StatusCode::OK || status.is_client_error(),
        "{status}: {body}"
    );
    if status.is_client_error() {
        assert!(
            body.contains("overflow") || body.contains("too large"),
            "{body}"
        );
    } else {
        let page: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(page["data"][1], json!({"g": "b", "sum_n": 5}), "{page}");
        let a = num(&page["data"][0]["sum_n"]);
        assert!(close(a, 9_223_372_036_854_775_808.0), "{page}");
    }
}
