//! How far limits reach: limits an admin sets through one instance reach the
//! others on the database within a second; roles the policy assigns choose
//! a caller's limits as its token's roles do; and a page of rows never takes
//! a caller past its daily byte quota, as an export never does.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{SECRET, csv, get, header, json_ok, put_limits, token};
use crate::helpers::{ADMIN_TOKEN, DatasetBuilder, TestApp, assert_problem, spawn_app_with};
use kaifang::fair_use::RoleLimitSettings;

/// The `RateLimit-Policy` header of an anonymous `GET /v1/datasets`, if any.
async fn anonymous_policy(app: &TestApp) -> (StatusCode, Option<String>) {
    let res = app.get("/v1/datasets").await;
    let policy = res
        .headers()
        .get("ratelimit-policy")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (res.status(), policy)
}

/// Asks until `done` holds, and returns how long that took; fails past `within`.
async fn until<F, Fut>(within: Duration, what: &str, mut done: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if done().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// PostgreSQL only, by nature: a SQLite file has one instance, so there is
/// no other instance to reach. On SQLite the test returns at once.
#[tokio::test]
async fn on_postgres_limits_set_through_one_instance_are_in_force_on_another_within_a_second() {
    if !crate::helpers::on_postgres() {
        return;
    }
    let adjust = |s: &mut kaifang::config::Settings| s.jwt.hs256_secret = Some(SECRET.to_string());
    let a = spawn_app_with(|s| {
        s.instance_id = "a".to_string();
        adjust(s);
    })
    .await;
    let b = a.spawn_instance("b", adjust).await;
    // No limits configured: B states none.
    assert_eq!(anonymous_policy(&b).await, (StatusCode::OK, None));

    let lower = json!({
        "limits": {
            "default": {"rate_per_second": 0.0, "burst": 1, "daily_rows": null, "daily_bytes": null},
            "roles": {"anonymous": {"rate_per_second": 0.01, "burst": 2, "daily_rows": null, "daily_bytes": null}}
        },
        "reason": "slow anonymous scrapers down everywhere"
    });
    json_ok(put_limits(&a, ADMIN_TOKEN, &lower).await).await;
    // A 250 ms poll plus the reload: within a second, with slack for a busy machine.
    let on_b = &b;
    let took = until(
        Duration::from_secs(2),
        "B enforcing A's limits",
        move || async move {
            anonymous_policy(on_b).await.1.as_deref() == Some("\"anonymous\";q=2;w=200")
        },
    )
    .await;
    eprintln!("B enforced the limits set through A after {took:?}");
    // B enforces them: the burst of 2 runs out (one or both went to the poll above).
    let mut refused = None;
    for _ in 0..3 {
        let res = b.get("/v1/datasets").await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(res);
            break;
        }
    }
    let refused = refused.expect("B refuses past the anonymous burst");
    assert!(refused.headers().contains_key("retry-after"));
    assert_problem(refused, 429).await;
    let view = json_ok(get(&b, "/v1/admin/limits", Some(ADMIN_TOKEN)).await).await;
    assert_eq!(view["source"], "admin");
    assert_eq!(view["reason"], "slow anonymous scrapers down everywhere");

    // Deleting them through A puts the configuration's back on B.
    let res = a
        .client
        .delete(a.url("/v1/admin/limits"))
        .query(&[("reason", "scrapers gone")])
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    json_ok(res).await;
    let took = until(
        Duration::from_secs(2),
        "B back on the configured limits",
        move || async move { anonymous_policy(on_b).await == (StatusCode::OK, None) },
    )
    .await;
    eprintln!("B dropped the limits deleted through A after {took:?}");
    let view = json_ok(get(&b, "/v1/admin/limits", Some(ADMIN_TOKEN)).await).await;
    assert_eq!(view["source"], "config");
    // A second delete has nothing to delete, on either instance.
    let again = b
        .client
        .delete(b.url("/v1/admin/limits"))
        .query(&[("reason", "twice")])
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_problem(again, 409).await;
}

#[tokio::test]
async fn a_role_assigned_through_the_policy_gives_its_limits() {
    let app = spawn_app_with(|s| {
        s.jwt.hs256_secret = Some(SECRET.to_string());
        s.rate_limit_per_second = 0.01;
        s.rate_limit_burst = 2;
        // The operator's rate refills faster than the test can ask: only its burst shows.
        for (role, rate, burst) in [("operator", 100_000.0, 20), ("admin", 0.0, 1)] {
            s.role_limits.insert(
                role.to_string(),
                RoleLimitSettings {
                    rate_per_second: Some(rate),
                    burst: Some(burst),
                    ..RoleLimitSettings::default()
                },
            );
        }
    })
    .await;
    let olga = token("olga", &[], None);
    let policy = |res: &reqwest::Response| header(res, "ratelimit-policy");
    let res = get(&app, "/v1/datasets", Some(&olga)).await;
    assert_eq!(policy(&res), "\"default\";q=2;w=200");

    let assign = |roles: Value| {
        app.admin(app.client.put(app.url("/v1/admin/principals/olga/roles")))
            .json(&json!({"roles": roles, "reason": "runs the nightly checks"}))
            .send()
    };
    json_ok(assign(json!(["operator"])).await.unwrap()).await;
    // From the next request her token, which names no role, gets the operator's limits.
    for _ in 0..5 {
        let res = get(&app, "/v1/datasets", Some(&olga)).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(policy(&res), "\"operator\";q=20;w=1");
    }
    let usage = json_ok(get(&app, "/v1/me/usage", Some(&olga)).await).await;
    assert_eq!(usage["policy"], "operator");
    assert_eq!(usage["limits"]["burst"], 20);

    // Taken away, the default is back.
    json_ok(assign(json!([])).await.unwrap()).await;
    let res = get(&app, "/v1/datasets", Some(&olga)).await;
    assert_eq!(policy(&res), "\"default\";q=2;w=200");
}

/// Pages `slug` as `bearer` (anonymous when `None`) in `format`, following
/// cursors until refused; returns the bytes and rows of each page, and the refusal.
async fn page_until_refused(
    app: &TestApp,
    slug: &str,
    bearer: Option<&str>,
    format: &str,
) -> (Vec<(u64, usize)>, reqwest::Response) {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    let mut next_id = 0;
    loop {
        let mut req = app
            .client
            .get(app.url(&format!("/v1/datasets/{slug}/rows")))
            .query(&[("limit", "7"), ("format", format), ("order", "id")]);
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c.as_str())]);
        }
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        if res.status() != StatusCode::OK {
            return (pages, res);
        }
        cursor = res
            .headers()
            .get("x-next-cursor")
            .map(|v| v.to_str().unwrap().to_string());
        let body = res.text().await.unwrap();
        let ids: Vec<u64> = if format == "json" {
            let page: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(page["next_cursor"].as_str(), cursor.as_deref());
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_u64().unwrap())
                .collect()
        } else {
            body.lines()
                .skip(1)
                .map(|l| l.split(',').next().unwrap().parse().unwrap())
                .collect()
        };
        // A cut page still says more follow, and the next starts where it stopped.
        assert!(cursor.is_some(), "400 rows: every page has a next one");
        assert_eq!(
            ids,
            (next_id..next_id + ids.len() as u64).collect::<Vec<_>>()
        );
        next_id += ids.len() as u64;
        pages.push((body.len() as u64, ids.len()));
        assert!(pages.len() < 100, "the quota never ran out");
    }
}

#[tokio::test]
async fn a_byte_quota_cuts_pages_to_the_bytes_left_and_never_passes_it() {
    const QUOTA: u64 = 1500;
    let app = spawn_app_with(|s| {
        s.jwt.hs256_secret = Some(SECRET.to_string());
        s.daily_byte_quota = QUOTA;
    })
    .await;
    let slug = DatasetBuilder::new("towns").with_csv(&app, csv(400)).await;
    let rita = token("rita", &[], None);
    for (bearer, format) in [(None, "json"), (Some(rita.as_str()), "csv")] {
        let (pages, refused) = page_until_refused(&app, &slug, bearer, format).await;
        let sent: u64 = pages.iter().map(|(bytes, _)| bytes).sum();
        assert!(
            sent <= QUOTA,
            "{format}: {sent} bytes passed the quota of {QUOTA}"
        );
        assert!(
            pages.iter().any(|(_, rows)| *rows < 7),
            "{format}: the last page is cut to the rows that fit: {pages:?}"
        );
        let usage = json_ok(get(&app, "/v1/me/usage", bearer).await).await;
        assert_eq!(
            usage["bytes"], sent,
            "{format}: what left is what is counted"
        );
        assert_eq!(usage["bytes_remaining"], QUOTA - sent);
        assert_eq!(usage["rows"], pages.iter().map(|(_, r)| r).sum::<usize>());

        // Not a row fits in what is left: 429 until the day ends.
        let retry: u64 = header(&refused, "retry-after").parse().unwrap();
        assert!((1..=86_400).contains(&retry), "Retry-After {retry}");
        let resets = chrono::DateTime::parse_from_rfc3339(usage["resets_at"].as_str().unwrap())
            .unwrap()
            .timestamp();
        let now = app.clock.now() as i64;
        assert!(
            (resets - now - retry as i64).abs() <= 1,
            "Retry-After {retry} is not the day's end {resets} from {now}"
        );
        let problem = assert_problem(refused, 429).await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("{QUOTA} bytes")), "{detail}");
    }

    // The next day a page fits again.
    let usage = json_ok(app.get("/v1/me/usage").await).await;
    let day_end = chrono::DateTime::parse_from_rfc3339(usage["resets_at"].as_str().unwrap())
        .unwrap()
        .timestamp();
    app.clock.advance((day_end as f64 - app.clock.now()) + 1.0);
    let page = app.rows_json(&slug, &[("limit", "7")]).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 7);
}
