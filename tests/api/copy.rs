//! `kaifang copy --to postgres://…`, end to end: a SQLite deployment filled
//! through the HTTP API (an open and a conditional dataset, a policy edit,
//! an API key, an approved access request, audited reads) is stopped and copied by the
//! real binary into a fresh PostgreSQL database; `audit verify` passes on
//! the copy, and a gateway started on it answers the same queries with the
//! same bodies, shows the same policy revisions and grant, and takes the key.
//!
//! The source is a SQLite deployment by nature, so this runs in the SQLite
//! pass of the suite (the PostgreSQL pass skips it), and it needs a
//! PostgreSQL server for the target: it runs whenever
//! `KAIFANG_TEST_POSTGRES_URL` is set, as `.ci/run` sets it for every
//! `cargo test`, and otherwise says on stderr that it was skipped.

use std::path::Path;
use std::process::{Command, Output};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, DatasetBuilder, TestApp, on_postgres, pg, shared_dataset};
use kaifang::catalog::Tier;

const SECRET: &str = "copy-test-secret-0123456789abcdef0123";

fn token(sub: &str, roles: &[&str], org: Option<&str>) -> String {
    crate::helpers::sign_token(SECRET, sub, roles, org)
}

/// The binary with `database_url` and the audit files of the deployment in `dir`.
fn kaifang(dir: &Path, database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kaifang"))
        .args(args)
        .env("KAIFANG_DATABASE_URL", database_url)
        .env("KAIFANG_AUDIT_KEY_FILE", dir.join("audit/signing.key"))
        .env(
            "KAIFANG_AUDIT_CHECKPOINT_LOG",
            dir.join("audit/checkpoints.log"),
        )
        .env("KAIFANG_LOG", "warn")
        .env_remove("KAIFANG_CONFIG")
        .current_dir(dir)
        .output()
        .unwrap()
}

fn succeeded(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> (StatusCode, String) {
    let mut req = app
        .client
        .request(method, app.url(path))
        .bearer_auth(bearer);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn json_of(app: &TestApp, path: &str, bearer: &str) -> Value {
    let (status, text) = send(app, reqwest::Method::GET, path, bearer, None).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The reads compared between the original and the copy: (caller, method,
/// path with query, body), each answered 200.
fn sample(rita: &str) -> Vec<(String, reqwest::Method, String, Option<Value>)> {
    use reqwest::Method;
    let anyone = String::new();
    vec![
        (
            anyone.clone(),
            Method::GET,
            "/v1/datasets/planes/rows?filter=manufacturer%20%3D%20%27EMBRAER%27%20and%20seats%20%3E%2050&order=tailnum&limit=25&count=exact".to_string(),
            None,
        ),
        (
            anyone.clone(),
            Method::GET,
            "/v1/datasets/planes/rows?select=tailnum,year,speed&filter=speed%20is%20not%20null&format=csv".to_string(),
            None,
        ),
        (
            anyone.clone(),
            Method::POST,
            "/v1/datasets/planes/query".to_string(),
            Some(json!({
                "group_by": ["manufacturer"],
                "aggregates": [
                    {"function": "count"},
                    {"function": "sum", "column": "seats"},
                    {"function": "min", "column": "year"},
                    {"function": "max", "column": "year"}
                ],
                "order": [{"column": "manufacturer"}],
                "limit": 100
            })),
        ),
        (
            anyone,
            Method::POST,
            "/v1/datasets/planes/query".to_string(),
            Some(json!({
                "filter": {"op": "eq", "column": "engine", "value": "Turbo-fan"},
                "aggregates": [{"function": "count"}]
            })),
        ),
        (
            rita.to_string(),
            Method::GET,
            "/v1/datasets/census/rows?filter=age%20%3E%3D%2060&order=id&limit=40".to_string(),
            None,
        ),
    ]
}

async fn answers(app: &TestApp, rita: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (caller, method, path, body) in sample(rita) {
        let mut req = app.client.request(method.clone(), app.url(&path));
        if !caller.is_empty() {
            req = req.bearer_auth(&caller);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{method} {path}: {text}");
        out.push(text);
    }
    out
}

#[tokio::test]
async fn copy_to_postgres_keeps_the_audit_chain_the_answers_the_policy_and_the_grants() {
    if on_postgres() {
        return;
    }
    if std::env::var_os("KAIFANG_TEST_POSTGRES_URL").is_none() {
        eprintln!("skipped: kaifang copy needs a PostgreSQL server; set KAIFANG_TEST_POSTGRES_URL");
        return;
    }
    let jwt = |s: &mut kaifang::config::Settings| s.jwt.hs256_secret = Some(SECRET.to_string());
    let source = crate::helpers::spawn_app_with(jwt).await;
    let dir = source.db_path.parent().unwrap().to_path_buf();

    // A deployment with some history: data, a policy edit, a grant, reads.
    DatasetBuilder::new("planes")
        .organization("faa")
        .with_file(&source, &shared_dataset("faa_registry_planes_nyc2013.csv"))
        .await;
    DatasetBuilder::new("census")
        .tier(Tier::Conditional)
        .organization("stats-office")
        .with_file(&source, &shared_dataset("us_census_acs2012_sample.csv"))
        .await;
    let rule = json!({"kind": "allow", "sub": "role:analyst", "obj": "tier:conditional", "act": "data:query"});
    let (status, text) = send(
        &source,
        reqwest::Method::POST,
        "/v1/admin/policy/rules",
        ADMIN_TOKEN,
        Some(json!({"rules": [rule], "reason": "analysts read conditional data", "new_roles": ["analyst"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let rita = token("rita", &[], None);
    let reviewer = token("rev", &["reviewer"], Some("stats-office"));
    let (status, text) = send(
        &source,
        reqwest::Method::POST,
        "/v1/datasets/census/access-requests",
        &rita,
        Some(
            json!({"purpose": "Age structure of the working population", "duration_days": 30,
            "accept_terms": true, "columns": ["id", "age", "income"]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let request: Value = serde_json::from_str(&text).unwrap();
    let id = request["id"].as_str().unwrap();
    let (status, text) = send(
        &source,
        reqwest::Method::POST,
        &format!("/v1/access-requests/{id}/approve"),
        &reviewer,
        Some(json!({"note": "fine"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let grant_id = serde_json::from_str::<Value>(&text).unwrap()["grant"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, text) = send(
        &source,
        reqwest::Method::POST,
        "/v1/admin/api-keys",
        ADMIN_TOKEN,
        Some(json!({"owner": "nightly-etl", "roles": ["analyst"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let api_key = serde_json::from_str::<Value>(&text).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let by_key = |app: &TestApp| {
        app.client
            .get(app.url("/v1/datasets/census/rows?order=id&limit=5"))
            .header("x-api-key", &api_key)
            .send()
    };
    let res = by_key(&source).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let key_rows = res.text().await.unwrap();
    let before = answers(&source, &rita).await;
    // The sample reads real rows: EMBRAER planes with a total, a CSV, groups,
    // a count, and the granted columns of the conditional dataset.
    let first: Value = serde_json::from_str(&before[0]).unwrap();
    assert!(first["total"].as_i64().unwrap() > 25, "{first}");
    assert_eq!(first["data"].as_array().unwrap().len(), 25);
    assert!(before[1].lines().count() > 10, "{}", before[1]);
    let census: Value = serde_json::from_str(&before[4]).unwrap();
    assert_eq!(census["data"].as_array().unwrap().len(), 40, "{census}");
    assert!(census["data"][0].get("gender").is_none(), "{census}");
    let revisions = json_of(&source, "/v1/admin/policy/revisions", ADMIN_TOKEN).await;
    let grants = json_of(&source, "/v1/grants", ADMIN_TOKEN).await;
    let records = source.audit_records().await.len();
    source.stop().await;

    // The copy, by the binary, into a fresh database.
    let target = pg::TestDatabase::create();
    let db_path = source.db_path.to_string_lossy().into_owned();
    let out = succeeded(&kaifang(&dir, &db_path, &["copy", "--to", &target.url]));
    assert!(out.contains("audit_records:"), "{out}");
    let out = succeeded(&kaifang(&dir, &target.url, &["audit", "verify"]));
    assert!(out.contains("OK"), "{out}");

    // A gateway on the copy, with the deployment's audit key and checkpoint log.
    let url = target.url.clone();
    let (key, log) = (
        dir.join("audit/signing.key"),
        dir.join("audit/checkpoints.log"),
    );
    let copy = crate::helpers::spawn_app_with(move |s| {
        jwt(s);
        s.database_url = url;
        s.audit_key_file = Some(key);
        s.audit_checkpoint_log = Some(log);
    })
    .await;
    let report = json_of(&copy, "/v1/admin/audit/verify", ADMIN_TOKEN).await;
    assert_eq!(report["ok"], json!(true), "{report}");
    assert!(copy.audit_records().await.len() > records);

    let after = answers(&copy, &rita).await;
    for (i, (want, got)) in before.iter().zip(&after).enumerate() {
        assert_eq!(got, want, "sample read {i} differs on the copy");
    }
    assert_eq!(
        json_of(&copy, "/v1/admin/policy/revisions", ADMIN_TOKEN).await,
        revisions
    );
    // The API key and the rule that lets its role read conditional data came along.
    let res = by_key(&copy).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), key_rows);
    let copied = json_of(&copy, "/v1/grants", ADMIN_TOKEN).await;
    assert_eq!(copied, grants);
    assert!(copied.to_string().contains(&grant_id), "{copied}");

    // The copy goes on: its chain grows and still verifies, by the binary too.
    copy.stop().await;
    let out = succeeded(&kaifang(&dir, &target.url, &["audit", "verify"]));
    assert!(out.contains("OK"), "{out}");
}
