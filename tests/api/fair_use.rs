//! Fair use over real HTTP: request rates per caller and per role with the
//! IETF RateLimit headers, daily row and byte quotas used up by exports and
//! reset at the day's end (the test moves the server's clock), a grant's own
//! row quota, `/v1/me/usage`, limits changed by an admin through the API
//! (audited, in force at once, kept across a restart), and a reload on SIGHUP;
//! `reach` covers limits reaching other instances, assigned roles and pages.
//! On PostgreSQL, counters shared by several instances: a burst or a quota
//! spent through one is spent on all, and the database's bucket math is the
//! memory store's.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use kaifang::auth::jwt::sign_hs256;
use kaifang::catalog::Tier;
use kaifang::fair_use::RoleLimitSettings;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, DatasetBuilder, TestApp, assert_problem, spawn_app_with};

mod reach;

const SECRET: &str = "fair-use-test-secret-0123456789abcdef";

fn token(sub: &str, roles: &[&str], org: Option<&str>) -> String {
    crate::helpers::sign_token(SECRET, sub, roles, org)
}

/// `n` rows of `id,city`.
fn csv(n: usize) -> String {
    let mut s = String::from("id,city\n");
    for i in 0..n {
        s.push_str(&format!("{i},city-{}\n", i % 7));
    }
    s
}

fn header(res: &Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_string()
}

async fn get(app: &TestApp, path: &str, bearer: Option<&str>) -> Response {
    let mut req = app.client.get(app.url(path));
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

async fn json_ok(res: Response) -> Value {
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// Reads a body to its end or to the point where the server cut it off.
async fn body_until_cut(mut res: Response) -> (String, bool) {
    let mut body = Vec::new();
    loop {
        match res.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return (String::from_utf8(body).unwrap(), false),
            Err(_) => return (String::from_utf8(body).unwrap(), true),
        }
    }
}

#[tokio::test]
async fn a_burst_then_429_with_retry_after_and_ratelimit_headers() {
    let app = spawn_app_with(|s| {
        s.rate_limit_per_second = 0.5;
        s.rate_limit_burst = 3;
    })
    .await;
    for left in [2, 1, 0] {
        let res = app.get("/v1/datasets").await;
        assert_eq!(res.status(), StatusCode::OK);
        // A full burst of 3 refills in 6 s at 0.5/s.
        assert_eq!(header(&res, "ratelimit-policy"), "\"default\";q=3;w=6");
        let state = header(&res, "ratelimit");
        assert!(
            state.starts_with(&format!("\"default\";r={left};t=")),
            "{state}"
        );
    }
    let refused = app.get("/v1/datasets").await;
    let retry: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert_eq!(header(&refused, "ratelimit-policy"), "\"default\";q=3;w=6");
    assert!(header(&refused, "ratelimit").starts_with("\"default\";r=0;t="));
    let problem = assert_problem(refused, 429).await;
    assert!(problem["detail"].as_str().unwrap().contains("Retry-After"));
}

#[tokio::test]
async fn a_role_with_its_own_limit_gets_more_than_anonymous_callers() {
    let app = spawn_app_with(|s| {
        s.jwt.hs256_secret = Some(SECRET.to_string());
        s.rate_limit_per_second = 0.01;
        s.rate_limit_burst = 2;
        s.role_limits.insert(
            "researcher".to_string(),
            RoleLimitSettings {
                rate_per_second: Some(100.0),
                burst: Some(20),
                ..RoleLimitSettings::default()
            },
        );
    })
    .await;
    for _ in 0..2 {
        assert_eq!(app.get("/v1/datasets").await.status(), StatusCode::OK);
    }
    assert_problem(app.get("/v1/datasets").await, 429).await;

    // Several roles: the most generous limit applies, and its entry names the policy.
    let researcher = token("rita", &["viewer", "researcher"], None);
    for _ in 0..10 {
        let res = get(&app, "/v1/datasets", Some(&researcher)).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(header(&res, "ratelimit-policy"), "\"researcher\";q=20;w=1");
    }
    // A signed-in caller without a listed role has the default, in a bucket of its own.
    let plain = token("paul", &["viewer"], None);
    for _ in 0..2 {
        let res = get(&app, "/v1/datasets", Some(&plain)).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(header(&res, "ratelimit-policy"), "\"default\";q=2;w=200");
    }
    assert_problem(get(&app, "/v1/datasets", Some(&plain)).await, 429).await;
}

#[tokio::test]
async fn an_export_uses_up_the_daily_row_quota_until_the_day_ends() {
    let app = spawn_app_with(|s| s.daily_row_quota = 150).await;
    let slug = DatasetBuilder::new("towns").with_csv(&app, csv(400)).await;

    // The export stops at the quota: the rows within it leave, then the transfer is cut.
    let res = app.export(&slug, &[("format", "csv")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (body, cut) = body_until_cut(res).await;
    assert!(cut, "the transfer should end in an error, not look whole");
    assert_eq!(body.lines().count(), 151, "header and 150 rows");

    let usage = json_ok(app.get("/v1/me/usage").await).await;
    assert_eq!(usage["rows"], 150);
    assert_eq!(usage["rows_remaining"], 0);
    assert_eq!(usage["limits"]["daily_rows"], 150);
    assert!(usage["counted_as"].as_str().unwrap().starts_with("ip:"));
    let bytes = usage["bytes"].as_u64().unwrap();
    assert_eq!(
        bytes,
        body.len() as u64,
        "bytes counted are those that left"
    );

    // The audit log records what left, and that it was cut off.
    let records = app.audit_records().await;
    let end = records
        .iter()
        .rev()
        .find(|r| r["kind"] == "export_end")
        .expect("an export_end record");
    assert_eq!(end["rows"], 150);
    assert_eq!(end["complete"], false);

    // Used up: 429 saying when it resets, with Retry-After up to the end of the UTC day.
    let refused = app.get_rows(&slug, &[("limit", "5")]).await;
    let retry: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=86_400).contains(&retry));
    let problem = assert_problem(refused, 429).await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("150 rows") && detail.contains("resets at"),
        "{detail}"
    );
    assert_problem(app.export(&slug, &[]).await, 429).await;
    // Other routes are not data: they still answer.
    assert_eq!(app.get("/v1/datasets").await.status(), StatusCode::OK);

    // The next day the quota starts again.
    app.clock.advance(retry as f64 + 1.0);
    let page = app.rows_json(&slug, &[("limit", "5")]).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 5);
    let usage = json_ok(app.get("/v1/me/usage").await).await;
    assert_eq!(usage["rows"], 5);
    assert_eq!(usage["rows_remaining"], 145);
}

#[tokio::test]
async fn a_byte_quota_ends_an_export_at_the_bytes_allowed() {
    let app = spawn_app_with(|s| s.daily_byte_quota = 1000).await;
    let slug = DatasetBuilder::new("towns").with_csv(&app, csv(400)).await;
    let (body, cut) = body_until_cut(app.export(&slug, &[("format", "ndjson")]).await).await;
    assert!(cut);
    assert!(body.len() <= 1000 && body.len() > 900, "{}", body.len());
    assert!(body.ends_with('\n'), "only whole rows leave");
    let usage = json_ok(app.get("/v1/me/usage").await).await;
    assert_eq!(usage["bytes"], body.len());
    // Not a row fits in what is left: the next export is refused before it starts.
    let refused = app.export(&slug, &[("format", "ndjson")]).await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_problem(refused, 429).await;
    // Nor does a page of one row: a page never passes the quota either.
    let refused = app.get_rows(&slug, &[("limit", "1")]).await;
    assert!(refused.headers().contains_key("retry-after"));
    assert!(
        assert_problem(refused, 429).await["detail"]
            .as_str()
            .unwrap()
            .contains("1000 bytes")
    );
    let usage = json_ok(app.get("/v1/me/usage").await).await;
    assert_eq!(usage["bytes"], body.len(), "a refused page sends nothing");
}

#[tokio::test]
async fn usage_numbers_move_after_requests() {
    let app = spawn_app_with(|s| {
        s.jwt.hs256_secret = Some(SECRET.to_string());
        s.role_limits.insert(
            "researcher".to_string(),
            RoleLimitSettings {
                daily_rows: Some(1000),
                daily_bytes: Some(1_000_000),
                ..RoleLimitSettings::default()
            },
        );
    })
    .await;
    let slug = DatasetBuilder::new("towns").with_csv(&app, csv(50)).await;
    let rita = token("rita", &["researcher"], None);
    let before = json_ok(get(&app, "/v1/me/usage", Some(&rita)).await).await;
    assert_eq!(before["counted_as"], "user:rita");
    assert_eq!(before["policy"], "researcher");
    assert_eq!(before["rows"], 0);
    assert_eq!(before["bytes"], 0);
    assert_eq!(before["rows_remaining"], 1000);

    let res = get(
        &app,
        &format!("/v1/datasets/{slug}/rows?limit=7"),
        Some(&rita),
    )
    .await;
    let len = res.text().await.unwrap().len() as u64;
    let res = app
        .client
        .post(app.url(&format!("/v1/datasets/{slug}/query")))
        .bearer_auth(&rita)
        .json(&json!({"limit": 3}))
        .send()
        .await
        .unwrap();
    let len2 = res.text().await.unwrap().len() as u64;

    let after = json_ok(get(&app, "/v1/me/usage", Some(&rita)).await).await;
    assert_eq!(after["rows"], 10);
    assert_eq!(after["bytes"], len + len2);
    assert_eq!(after["rows_remaining"], 990);
    assert_eq!(after["bytes_remaining"], 1_000_000 - len - len2);
    // Anonymous callers are counted apart, by address, under the default (no quota).
    let anon = json_ok(app.get("/v1/me/usage").await).await;
    assert_eq!(anon["rows"], 0);
    assert_eq!(anon["rows_remaining"], Value::Null);
}

#[tokio::test]
async fn a_grants_row_quota_is_enforced() {
    let app = spawn_app_with(|s| s.jwt.hs256_secret = Some(SECRET.to_string())).await;
    DatasetBuilder::new("census")
        .tier(Tier::Conditional)
        .organization("stats-office")
        .with_csv(&app, csv(100))
        .await;
    let rita = token("rita", &[], None);
    let reviewer = token("rev", &["reviewer"], Some("stats-office"));
    let asked = app
        .client
        .post(app.url("/v1/datasets/census/access-requests"))
        .bearer_auth(&rita)
        .json(
            &json!({"purpose": "a study of town names", "duration_days": 30, "accept_terms": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::CREATED);
    let id = asked.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let approved = app
        .client
        .post(app.url(&format!("/v1/access-requests/{id}/approve")))
        .bearer_auth(&reviewer)
        .json(&json!({"row_quota": 30}))
        .send()
        .await
        .unwrap();
    let approved = json_ok(approved).await;
    let grant = approved["grant"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // The page is shortened to what is left of the grant's quota; the cursor goes on.
    let page = json_ok(get(&app, "/v1/datasets/census/rows?limit=20", Some(&rita)).await).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 20);
    let page = json_ok(get(&app, "/v1/datasets/census/rows?limit=20", Some(&rita)).await).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 10);
    assert!(page["next_cursor"].is_string());

    let usage = json_ok(get(&app, "/v1/me/usage", Some(&rita)).await).await;
    let grants = usage["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 1, "{usage}");
    assert_eq!(grants[0]["row_quota"], 30);
    assert_eq!(grants[0]["rows"], 30);
    assert_eq!(grants[0]["rows_remaining"], 0);
    assert_eq!(grants[0]["dataset"], "census");
    if !grant.is_empty() {
        assert_eq!(grants[0]["grant_id"], grant.as_str());
    }

    let refused = get(&app, "/v1/datasets/census/export", Some(&rita)).await;
    assert!(refused.headers().contains_key("retry-after"));
    let detail = assert_problem(refused, 429).await["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains("grant") && detail.contains("30 rows"),
        "{detail}"
    );
    // The caller's own open data is not held back by the grant's quota.
    DatasetBuilder::new("open-towns")
        .with_csv(&app, csv(5))
        .await;
    assert_eq!(
        get(&app, "/v1/datasets/open-towns/rows", Some(&rita))
            .await
            .status(),
        StatusCode::OK
    );
}

fn limits_body(rate: f64, burst: u32, reason: &str) -> Value {
    json!({
        "limits": {
            "default": {"rate_per_second": rate, "burst": burst, "daily_rows": null, "daily_bytes": null},
            "roles": {
                "researcher": {"rate_per_second": 0.0, "burst": 1, "daily_rows": 5000, "daily_bytes": null},
                "admin": {"rate_per_second": 0.0, "burst": 1, "daily_rows": null, "daily_bytes": null}
            }
        },
        "reason": reason
    })
}

async fn put_limits(app: &TestApp, bearer: &str, body: &Value) -> Response {
    app.client
        .put(app.url("/v1/admin/limits"))
        .bearer_auth(bearer)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_admin_changes_the_limits_through_the_api_audited_in_force_and_kept() {
    let app = spawn_app_with(|s| s.jwt.hs256_secret = Some(SECRET.to_string())).await;
    // No limits configured: no RateLimit headers.
    let res = app.get("/v1/datasets").await;
    assert!(!res.headers().contains_key("ratelimit"));
    let before = json_ok(get(&app, "/v1/admin/limits", Some(ADMIN_TOKEN)).await).await;
    assert_eq!(before["source"], "config");
    assert_eq!(before["limits"]["default"]["rate_per_second"], 0.0);

    // Only those the policy allows limits:admin; bad input is a 400 naming the fault.
    let user = token("mallory", &[], None);
    assert_problem(
        put_limits(&app, &user, &limits_body(0.01, 1, "mine")).await,
        403,
    )
    .await;
    assert_problem(
        app.client
            .put(app.url("/v1/admin/limits"))
            .json(&limits_body(0.01, 1, "x"))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    let bad = assert_problem(
        put_limits(&app, ADMIN_TOKEN, &limits_body(-1.0, 1, "oops")).await,
        400,
    )
    .await;
    assert!(bad["detail"].as_str().unwrap().contains("rate_per_second"));
    let bad = assert_problem(
        put_limits(&app, ADMIN_TOKEN, &limits_body(1.0, 0, "oops")).await,
        400,
    )
    .await;
    assert!(bad["detail"].as_str().unwrap().contains("burst"));
    assert_problem(
        put_limits(&app, ADMIN_TOKEN, &limits_body(1.0, 1, " ")).await,
        400,
    )
    .await;
    let mut unknown = limits_body(1.0, 1, "typo");
    unknown["limits"]["default"]["rate"] = json!(1);
    assert_problem(put_limits(&app, ADMIN_TOKEN, &unknown).await, 400).await;

    let set = json_ok(
        put_limits(
            &app,
            ADMIN_TOKEN,
            &limits_body(0.01, 1, "slow anonymous scrapers down"),
        )
        .await,
    )
    .await;
    assert_eq!(set["source"], "admin");
    assert_eq!(set["updated_by"], "admin");
    assert_eq!(set["reason"], "slow anonymous scrapers down");
    assert_eq!(set["limits"]["roles"]["researcher"]["daily_rows"], 5000);

    // In force from the next request.
    let first = app.get("/v1/organizations").await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(header(&first, "ratelimit-policy"), "\"default\";q=1;w=100");
    assert_problem(app.get("/v1/organizations").await, 429).await;
    // A researcher has no rate limit, and a quota.
    let rita = token("rita", &["researcher"], None);
    let usage = json_ok(get(&app, "/v1/me/usage", Some(&rita)).await).await;
    assert_eq!(usage["limits"]["daily_rows"], 5000);

    // The change is on the audit log: who, the action, the decision, the new limits and why.
    let records = app.audit_records().await;
    let put = records
        .iter()
        .find(|r| r["method"] == "PUT" && r["route"] == "/v1/admin/limits" && r["status"] == 200)
        .expect("the change's record");
    assert_eq!(put["subject"], "admin");
    assert_eq!(put["action"], "limits:admin");
    assert_eq!(put["decision"], "allow");
    let query = put["query"].as_str().unwrap();
    assert!(query.contains("slow anonymous scrapers down"), "{query}");
    assert!(query.contains("\"rate_per_second\":0.01"), "{query}");
    let refused = records
        .iter()
        .find(|r| r["method"] == "PUT" && r["status"] == 403)
        .expect("the refusal's record");
    assert_eq!(refused["decision"], "deny");

    // Kept across a restart: a new instance on the same database starts with them.
    // (Through `spawn_instance`, on either backend: the database's URL, not the path
    // a SQLite file would have, which on PostgreSQL made a fresh, empty database.)
    let again = app
        .spawn_instance("second", |s| s.jwt.hs256_secret = Some(SECRET.to_string()))
        .await;
    let view = json_ok(get(&again, "/v1/admin/limits", Some(ADMIN_TOKEN)).await).await;
    assert_eq!(view["source"], "admin");
    assert_eq!(view["limits"]["default"]["burst"], 1);

    // Deleting them brings the configuration's back.
    let reset = app
        .client
        .delete(app.url("/v1/admin/limits"))
        .bearer_auth(ADMIN_TOKEN)
        .query(&[("reason", "scrapers gone")])
        .send()
        .await
        .unwrap();
    let reset = json_ok(reset).await;
    assert_eq!(reset["source"], "config");
    let res = app.get("/v1/organizations").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!res.headers().contains_key("ratelimit"));
    let again = app
        .client
        .delete(app.url("/v1/admin/limits"))
        .bearer_auth(ADMIN_TOKEN)
        .query(&[("reason", "twice")])
        .send()
        .await
        .unwrap();
    assert_problem(again, 409).await;
}

/// A gateway in its own process, reading `config`.
struct Served {
    child: std::process::Child,
    port: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &std::path::Path, config: &std::path::Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kaifang"))
        .args(["serve", "--bind", "127.0.0.1:0", "--config"])
        .arg(config)
        .env("KAIFANG_DATABASE_URL", dir.join("kaifang.db"))
        .env("KAIFANG_LOG", "warn")
        .env_remove("KAIFANG_CONFIG")
        .env_remove("KAIFANG_RATE_LIMIT_PER_SECOND")
        .env_remove("KAIFANG_RATE_LIMIT_BURST")
        .env_remove("KAIFANG_JWT_HS256_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let port = loop {
        let line = lines.next().expect("server printed its address").unwrap();
        if let Some(rest) = line.strip_prefix("Kaifang is listening on http://127.0.0.1:") {
            break rest.trim().parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Served { child, port }
}

#[tokio::test]
async fn sighup_reloads_the_limits_and_the_jwt_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kaifang.toml");
    let old_secret = "first-secret-0123456789abcdef0123456789";
    let new_secret = "second-secret-0123456789abcdef012345678";
    let write = |rate: f64, burst: u32, secret: &str| {
        std::fs::write(
            &config,
            format!(
                "rate_limit_per_second = {rate}\nrate_limit_burst = {burst}\n\n[jwt]\nhs256_secret = \"{secret}\"\n"
            ),
        )
        .unwrap();
    };
    write(0.01, 1, old_secret);
    let server = serve(dir.path(), &config);
    let url = |p: &str| format!("http://127.0.0.1:{}{p}", server.port);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let now = chrono::Utc::now().timestamp();
    let signed = |secret: &str| {
        sign_hs256(
            secret.as_bytes(),
            &json!({"sub": "rita", "iat": now, "exp": now + 600}),
        )
        .unwrap()
    };
    let res = client.get(url("/healthz")).send().await.unwrap();
    assert_eq!(header(&res, "ratelimit-policy"), "\"default\";q=1;w=100");
    let res = client
        .get(url("/v1/datasets"))
        .bearer_auth(signed(old_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // A broken file changes nothing.
    std::fs::write(&config, "rate_limit_burst = 0\n").unwrap();
    let hup = |pid: u32| {
        assert!(
            Command::new("kill")
                .args(["-HUP", &pid.to_string()])
                .status()
                .unwrap()
                .success()
        );
    };
    hup(server.child.id());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let res = client.get(url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&res, "ratelimit-policy"), "\"default\";q=1;w=100");

    write(100.0, 50, new_secret);
    hup(server.child.id());
    let mut reloaded = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let res = client.get(url("/healthz")).send().await.unwrap();
        if res.status() == StatusCode::OK
            && header(&res, "ratelimit-policy") == "\"default\";q=50;w=1"
        {
            reloaded = true;
            break;
        }
    }
    assert!(reloaded, "the new limits were not in force after SIGHUP");
    // The new key verifies, the old one no longer does.
    let res = client
        .get(url("/v1/datasets"))
        .bearer_auth(signed(new_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = client
        .get(url("/v1/datasets"))
        .bearer_auth(signed(old_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// Settings of the two-instance test: anonymous callers get a burst of 3
/// (refilled once in 100 s), every caller 10 rows a day.
fn shared_limits(s: &mut kaifang::config::Settings) {
    s.jwt.hs256_secret = Some(SECRET.to_string());
    s.daily_row_quota = 10;
    s.role_limits.insert(
        "anonymous".to_string(),
        RoleLimitSettings {
            rate_per_second: Some(0.01),
            burst: Some(3),
            ..RoleLimitSettings::default()
        },
    );
}

/// PostgreSQL only, by nature: there several instances share one database
/// and so their counters; a SQLite file has one instance, which counts in
/// memory. On SQLite the test returns at once.
#[tokio::test]
async fn on_postgres_two_instances_share_the_burst_and_the_daily_row_quota() {
    if !crate::helpers::on_postgres() {
        return;
    }
    let a = spawn_app_with(|s| {
        s.instance_id = "a".to_string();
        shared_limits(s);
    })
    .await;
    let b = a.spawn_instance("b", shared_limits).await;
    let slug = DatasetBuilder::new("towns").with_csv(&a, csv(40)).await;

    // The anonymous burst spent through A is spent on B too.
    for left in [2, 1, 0] {
        let res = a.get("/v1/datasets").await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(header(&res, "ratelimit").starts_with(&format!("\"anonymous\";r={left};")));
    }
    let refused = b.get("/v1/datasets").await;
    let retry: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=100).contains(&retry), "Retry-After {retry}");
    assert_problem(refused, 429).await;
    assert_problem(a.get("/v1/datasets").await, 429).await;

    // Rows read through A count on B: B's page is cut to what is left, then B refuses.
    let rita = token("rita", &["viewer"], None);
    let rows = |app: &TestApp| {
        app.client
            .get(app.url(&format!("/v1/datasets/{slug}/rows")))
            .query(&[("limit", "6")])
            .bearer_auth(&rita)
            .send()
    };
    let page = json_ok(rows(&a).await.unwrap()).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 6);
    let page = json_ok(rows(&b).await.unwrap()).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 4, "{page}");
    let problem = assert_problem(rows(&b).await.unwrap(), 429).await;
    assert!(problem["detail"].as_str().unwrap().contains("10 rows"));
    assert_problem(rows(&a).await.unwrap(), 429).await;
    let usage = json_ok(get(&a, "/v1/me/usage", Some(&rita)).await).await;
    assert_eq!(usage["rows"], 10);
    assert_eq!(usage["rows_remaining"], 0);

    // The counters live in the database; two days on, A's next sweep drops
    // the old day's rows and the buckets that have refilled.
    let db = a.sqlite();
    assert_eq!(db.query("SELECT count(*) FROM fair_use_days"), ["1"]);
    a.clock.advance(2.0 * 86_400.0);
    assert_eq!(a.get("/v1/datasets").await.status(), StatusCode::OK);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while db.query("SELECT count(*) FROM fair_use_days") != ["0"] {
        assert!(
            std::time::Instant::now() < deadline,
            "old days were not dropped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        db.query("SELECT key FROM fair_use_buckets"),
        ["ip:127.0.0.1"],
        "only the bucket just used is kept"
    );
}

/// The PostgreSQL store against the one in memory: the same takes at the
/// same moments get the same answers, the same charges the same totals,
/// and two stores on one database racing from many threads give out
/// exactly one burst. PostgreSQL only (that is the store under test).
#[test]
fn on_postgres_the_shared_store_answers_as_the_memory_store() {
    use kaifang::fair_use::{CounterStore, MemoryStore, SharedStore, Usage};
    if !crate::helpers::on_postgres() {
        return;
    }
    let pg = crate::helpers::pg::TestDatabase::create();
    let db = kaifang::db::Db::connect(&pg.url, 2).unwrap();
    db.migrate().unwrap();
    let shared = SharedStore::new(db.companion(8).unwrap());
    let memory = MemoryStore::new();

    let t0 = 1_796_000_000.25;
    // (key, rate, burst, seconds after t0): bursts, refills by fractions,
    // a clock that steps back, a rate change, and a second caller.
    let takes: &[(&str, f64, u32, f64)] = &[
        ("a", 2.0, 3, 0.0),
        ("a", 2.0, 3, 0.0),
        ("a", 2.0, 3, 0.1),
        ("a", 2.0, 3, 0.2),
        ("a", 2.0, 3, 0.3),
        ("a", 2.0, 3, 0.55),
        ("a", 2.0, 3, 0.4),
        ("b", 0.3, 1, 0.4),
        ("b", 0.3, 1, 1.0),
        ("b", 0.3, 1, 3.7),
        ("a", 2.0, 3, 1.3),
        ("a", 0.5, 5, 9.0),
        ("a", 0.5, 5, 9.0),
        ("a", 0.5, 5, 9.0),
        ("a", 0.5, 5, 9.0),
        ("a", 0.5, 5, 9.0),
        ("a", 0.5, 5, 9.0),
        ("a", 0.5, 5, 11.999),
        ("a", 0.5, 5, 12.001),
        ("c", 1000.0, 1, 0.0),
        ("c", 1000.0, 1, 0.0005),
        ("c", 1000.0, 1, 0.0011),
    ];
    for (i, &(key, rate, burst, at)) in takes.iter().enumerate() {
        let now = t0 + at;
        let want = memory.take(key, rate, burst, now).unwrap();
        let got = shared.take(key, rate, burst, now).unwrap();
        assert_eq!(got, want, "take {i}: {key} at +{at}");
    }

    let sent = Usage {
        rows: 7,
        bytes: 3_000_000_123,
    };
    for day in [20_000, 20_000, 20_001] {
        assert_eq!(
            shared.add("k", day, sent).unwrap(),
            memory.add("k", day, sent).unwrap()
        );
    }
    // Only today is ever asked for (the memory store forgets a day once the
    // next one begins; the shared one keeps yesterday until a sweep).
    for (key, day) in [("k", 20_001), ("k", 19_999), ("nobody", 20_001)] {
        assert_eq!(
            shared.used(key, day).unwrap(),
            memory.used(key, day).unwrap()
        );
    }

    // Two instances' stores, many threads, one caller: one burst, no more.
    let other = SharedStore::new(db.companion(8).unwrap());
    let allowed = std::sync::atomic::AtomicU32::new(0);
    std::thread::scope(|scope| {
        for t in 0..8 {
            let store: &SharedStore = if t % 2 == 0 { &shared } else { &other };
            let allowed = &allowed;
            scope.spawn(move || {
                for _ in 0..10 {
                    if store.take("race", 0.000_001, 25, t0).unwrap().allowed {
                        allowed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(allowed.into_inner(), 25);
}
