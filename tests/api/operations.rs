//! Operations over HTTP: liveness and readiness, and `/metrics` — read with
//! a small Prometheus text parser, its counters moving as requests are
//! made, and readable only with `metrics:read`.

use std::collections::HashMap;

use kaifang::auth::jwt::sign_hs256;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{DatasetBuilder, TestApp, assert_problem, spawn_app_with};

const SECRET: &str = "operations-test-secret-0123456789abcdef";

async fn app() -> TestApp {
    spawn_app_with(|s| s.jwt.hs256_secret = Some(SECRET.to_string())).await
}

fn token(sub: &str, roles: &[&str]) -> String {
    let now = chrono::Utc::now().timestamp();
    sign_hs256(
        SECRET.as_bytes(),
        &json!({"sub": sub, "roles": roles, "iat": now, "exp": now + 600}),
    )
    .unwrap()
}

/// One sample: metric name and its labels, in order.
type Series = (String, Vec<(String, String)>);

/// Parses Prometheus text format: `# ` lines are comments, every other
/// non-empty line is `name{label="value",…} number` or `name number`.
fn parse(text: &str) -> HashMap<Series, f64> {
    let mut out = HashMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), Vec::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("closing brace");
                (name.to_string(), parse_labels(body, line))
            }
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad name in {line}"
        );
        assert!(
            out.insert((name, labels), value).is_none(),
            "duplicate {line}"
        );
    }
    out
}

fn parse_labels(body: &str, line: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => panic!("{line}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label in {line}"),
            }
        };
        labels.push((key.to_string(), value));
        rest = after[end + 1..].trim_start_matches(',');
    }
    labels
}

fn get(m: &HashMap<Series, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let key = (
        name.to_string(),
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    m.get(&key).copied().unwrap_or(0.0)
}

async fn scrape(app: &TestApp, bearer: &str) -> HashMap<Series, f64> {
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    parse(&res.text().await.unwrap())
}

#[tokio::test]
async fn healthz_answers_ok_and_is_audited() {
    let app = app().await;
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "health-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"status": "ok"}));
    let records = app.audit_records().await;
    let mine: Vec<&Value> = records
        .iter()
        .filter(|r| r["request_id"] == "health-1")
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["route"], "/healthz");
    assert_eq!(mine[0]["status"], 200);
}

#[tokio::test]
async fn readyz_is_ready_when_every_check_passes() {
    let app = app().await;
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    for check in ["database", "migrations", "policy", "audit_writer"] {
        assert_eq!(body["checks"][check], "ok", "{body}");
    }
}

#[tokio::test]
async fn readyz_answers_503_naming_migrations_when_the_database_is_newer_than_the_binary() {
    let app = app().await;
    // What another, newer build would leave behind after migrating.
    app.sqlite()
        .execute("INSERT INTO __diesel_schema_migrations (version) VALUES ('99990101000000')")
        .unwrap();
    let problem = assert_problem(app.get("/readyz").await, 503).await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("'migrations'"), "{detail}");
    assert!(detail.contains("99990101000000"), "{detail}");
    // Liveness is unaffected.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn metrics_need_credentials_and_the_metrics_read_action() {
    let app = app().await;
    assert_problem(app.get("/metrics").await, 401).await;
    let carol = token("carol", &[]);
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&carol)
        .send()
        .await
        .unwrap();
    assert_problem(res, 403).await;
    let auditor = token("aud", &["auditor"]);
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&auditor)
        .header("x-request-id", "metrics-denied")
        .send()
        .await
        .unwrap();
    assert_problem(res, 403).await;
    // The operator role reads them; so does an admin (through `*`).
    scrape(&app, &token("ops", &["operator"])).await;
    scrape(&app, &token("ada", &["admin"])).await;
    let records = app.audit_records().await;
    let denied = records
        .iter()
        .find(|r| r["request_id"] == "metrics-denied")
        .unwrap();
    assert_eq!(denied["action"], "metrics:read");
    assert_eq!(denied["decision"], "deny");
}

#[tokio::test]
async fn metrics_counters_move_as_requests_are_made() {
    let app = app().await;
    let ops = token("ops", &["operator"]);
    let slug = DatasetBuilder::new("counted")
        .with_csv(&app, "city,n\nLyon,1\nNice,2\nParis,3\n")
        .await;
    let before = scrape(&app, &ops).await;
    for _ in 0..3 {
        assert_eq!(app.get("/v1/datasets").await.status(), StatusCode::OK);
    }
    assert_eq!(app.get("/no/such/path").await.status(), 404);
    app.rows_json(&slug, &[("limit", "2")]).await;
    let after = scrape(&app, &ops).await;

    let delta = |name: &str, labels: &[(&str, &str)]| {
        get(&after, name, labels) - get(&before, name, labels)
    };
    let listing = [("route", "/v1/datasets"), ("status", "200")];
    assert_eq!(delta("kaifang_http_requests_total", &listing), 3.0);
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert_eq!(delta("kaifang_http_requests_total", &unmatched), 1.0);
    let route = [("route", "/v1/datasets")];
    assert_eq!(
        delta("kaifang_http_request_duration_seconds_count", &route),
        3.0
    );
    let inf = [("route", "/v1/datasets"), ("le", "+Inf")];
    assert_eq!(
        delta("kaifang_http_request_duration_seconds_bucket", &inf),
        3.0
    );
    // Each listing and the page were decided (and the scrape itself).
    assert!(delta("kaifang_policy_decisions_total", &[("effect", "allow")]) >= 4.0);
    assert_eq!(delta("kaifang_rows_sent_total", &[("via", "query")]), 2.0);
    // The upload happened before the first scrape.
    assert_eq!(get(&before, "kaifang_rows_imported_total", &[]), 3.0);
    // The audit writer committed batches, each timed.
    let batches = get(&after, "kaifang_audit_batch_records_count", &[]);
    assert!(batches >= 1.0, "{batches}");
    assert_eq!(
        get(&after, "kaifang_audit_commit_seconds_count", &[]),
        batches
    );
    assert!(get(&after, "kaifang_audit_batch_records_sum", &[]) >= 7.0);
    assert!(after.contains_key(&("kaifang_audit_queue_depth".to_string(), vec![])));
    assert!(get(&after, "kaifang_db_pool_connections", &[("state", "idle")]) >= 1.0);
    assert_eq!(
        get(&after, "kaifang_rate_limited_total", &[]),
        0.0,
        "no limit configured"
    );
}

#[tokio::test]
async fn rate_limit_refusals_are_counted() {
    let app = spawn_app_with(|s| {
        s.jwt.hs256_secret = Some(SECRET.to_string());
        s.rate_limit_per_second = 0.01;
        s.rate_limit_burst = 2;
    })
    .await;
    for _ in 0..4 {
        app.get("/healthz").await;
    }
    let m = scrape(&app, &token("ops", &["operator"])).await;
    assert_eq!(get(&m, "kaifang_rate_limited_total", &[]), 2.0);
    let refused = [("route", "/healthz"), ("status", "429")];
    assert_eq!(get(&m, "kaifang_http_requests_total", &refused), 2.0);
}
