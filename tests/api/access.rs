//! Conditional open data over real HTTP: an access request, its review, the grant it
//! creates, and the grant's end by revocation or expiry, each step on the audit log.

use serde_json::{Value, json};

use crate::helpers::{DatasetBuilder, TestApp, assert_problem, spawn_app_with};
use kaifang::catalog::Tier;

const SECRET: &str = "access-test-secret-0123456789abcdef0";

fn token(sub: &str, roles: &[&str], org: Option<&str>) -> String {
    crate::helpers::sign_token(SECRET, sub, roles, org)
}

async fn app() -> TestApp {
    let app = spawn_app_with(|s| s.jwt.hs256_secret = Some(SECRET.to_string())).await;
    let data = "age,income,city\n34,52000,Lyon\n51,61000,Paris\n19,12000,Lyon\n";
    for (slug, tier) in [
        ("census", Tier::Conditional),
        ("open-one", Tier::Open),
        ("secret-one", Tier::Restricted),
    ] {
        DatasetBuilder::new(slug)
            .tier(tier)
            .organization("stats-office")
            .with_csv(&app, data)
            .await;
    }
    app
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = match method {
        "POST" => app.client.post(app.url(path)),
        _ => app.client.get(app.url(path)),
    };
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

async fn ok(res: reqwest::Response, status: u16) -> Value {
    let code = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(code, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn ask(purpose: &str) -> Value {
    json!({"purpose": purpose, "duration_days": 30, "accept_terms": true, "columns": ["age", "city"]})
}

async fn rows(app: &TestApp, bearer: &str) -> reqwest::Response {
    call(app, "GET", "/v1/datasets/census/rows", Some(bearer), None).await
}

#[tokio::test]
async fn a_request_approved_by_the_owning_reviewer_opens_the_data_until_revoked() {
    let app = app().await;
    let rita = token("rita", &[], None);
    let reviewer = token("rev", &["reviewer"], Some("stats-office"));
    let stranger = token("rev2", &["reviewer"], Some("other-office"));

    let refused = assert_problem(rows(&app, &rita).await, 403).await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("/access-requests"),
        "{refused}"
    );

    let path = "/v1/datasets/census/access-requests";
    let purpose = "Commuting patterns for the regional plan";
    assert_problem(
        call(&app, "POST", path, None, Some(ask(purpose))).await,
        401,
    )
    .await;
    for (bad, named) in [
        (
            json!({"purpose": purpose, "duration_days": 30, "accept_terms": false}),
            "accept_terms",
        ),
        (
            json!({"purpose": "short", "duration_days": 30, "accept_terms": true}),
            "purpose",
        ),
        (
            json!({"purpose": purpose, "duration_days": 0, "accept_terms": true}),
            "duration_days",
        ),
        (
            json!({"purpose": purpose, "duration_days": 30, "accept_terms": true, "columns": ["incom"]}),
            "'incom'",
        ),
    ] {
        let p = assert_problem(call(&app, "POST", path, Some(&rita), Some(bad)).await, 400).await;
        assert!(
            p["detail"].as_str().unwrap().contains(named),
            "{named}: {p}"
        );
    }
    assert_problem(
        call(
            &app,
            "POST",
            "/v1/datasets/open-one/access-requests",
            Some(&rita),
            Some(ask(purpose)),
        )
        .await,
        409,
    )
    .await;
    assert_problem(
        call(
            &app,
            "POST",
            "/v1/datasets/secret-one/access-requests",
            Some(&rita),
            Some(ask(purpose)),
        )
        .await,
        404,
    )
    .await;

    let filed = ok(
        call(&app, "POST", path, Some(&rita), Some(ask(purpose))).await,
        201,
    )
    .await;
    assert_eq!(filed["status"], "pending");
    assert_eq!(filed["subject"], "user:rita");
    let id = filed["id"].as_str().unwrap().to_owned();
    assert_problem(
        call(&app, "POST", path, Some(&rita), Some(ask(purpose))).await,
        409,
    )
    .await;
    let mine = ok(
        call(&app, "GET", "/v1/me/access-requests", Some(&rita), None).await,
        200,
    )
    .await;
    assert_eq!(mine["total"], 1);

    // Another organisation's reviewer neither sees nor decides it.
    let theirs = ok(
        call(
            &app,
            "GET",
            "/v1/access-requests?status=pending",
            Some(&stranger),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(theirs["total"], 0);
    let approve = format!("/v1/access-requests/{id}/approve");
    assert_problem(
        call(&app, "POST", &approve, Some(&stranger), Some(json!({}))).await,
        403,
    )
    .await;
    assert_problem(
        call(&app, "POST", &approve, Some(&rita), Some(json!({}))).await,
        403,
    )
    .await;

    let pending = ok(
        call(
            &app,
            "GET",
            "/v1/access-requests?status=pending",
            Some(&reviewer),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(pending["data"][0]["id"], id.as_str());
    // A grant narrows a request; it never widens it.
    let wider = json!({"columns": ["age", "income"]});
    assert_problem(
        call(&app, "POST", &approve, Some(&reviewer), Some(wider)).await,
        400,
    )
    .await;
    let longer = json!({"duration_days": 60});
    assert_problem(
        call(&app, "POST", &approve, Some(&reviewer), Some(longer)).await,
        400,
    )
    .await;
    let bad_filter = json!({"row_filter": "town = 'Lyon'"});
    assert_problem(
        call(&app, "POST", &approve, Some(&reviewer), Some(bad_filter)).await,
        400,
    )
    .await;
    let approved = ok(
        call(
            &app,
            "POST",
            &approve,
            Some(&reviewer),
            Some(json!({"columns": ["age"], "duration_days": 7, "note": "age only"})),
        )
        .await,
        200,
    )
    .await;
    let grant = approved["grant"]["id"].as_str().unwrap().to_owned();
    assert_eq!(approved["request"]["status"], "approved");
    assert_eq!(approved["grant"]["columns"], json!(["age"]));
    assert_problem(
        call(&app, "POST", &approve, Some(&reviewer), Some(json!({}))).await,
        409,
    )
    .await;

    // In force from the next request, for query and export, and only for what it names.
    let page = ok(rows(&app, &rita).await, 200).await;
    let keys: Vec<&String> = page["data"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["age"], "{page}");
    let export = call(
        &app,
        "GET",
        "/v1/datasets/census/export?format=csv",
        Some(&rita),
        None,
    )
    .await;
    assert_eq!(export.status(), 200);
    let _ = export.bytes().await;
    let listed = ok(
        call(
            &app,
            "GET",
            "/v1/grants?dataset=census",
            Some(&reviewer),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(listed["total"], 1);
    let own = ok(
        call(&app, "GET", "/v1/me/grants", Some(&rita), None).await,
        200,
    )
    .await;
    assert_eq!(own["data"][0]["id"], grant.as_str());

    let revoke = format!("/v1/grants/{grant}/revoke");
    assert_problem(
        call(
            &app,
            "POST",
            &revoke,
            Some(&stranger),
            Some(json!({"reason": "x"})),
        )
        .await,
        403,
    )
    .await;
    ok(
        call(
            &app,
            "POST",
            &revoke,
            Some(&reviewer),
            Some(json!({"reason": "study ended"})),
        )
        .await,
        200,
    )
    .await;
    let p = assert_problem(rows(&app, &rita).await, 403).await;
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("revoked")
            && detail.contains("study ended")
            && detail.contains("/access-requests"),
        "{detail}"
    );
    assert_problem(
        call(
            &app,
            "POST",
            &revoke,
            Some(&reviewer),
            Some(json!({"reason": "again"})),
        )
        .await,
        409,
    )
    .await;

    // Every step is on the audit log, the grant's own steps with its id.
    let records = app.audit_records().await;
    let with_grant: Vec<(&str, i64)> = records
        .iter()
        .filter(|r| r["rule"].as_str() == Some(&format!("grant:{grant}")))
        .map(|r| (r["path"].as_str().unwrap(), r["status"].as_i64().unwrap()))
        .collect();
    let statuses: Vec<i64> = with_grant.iter().map(|r| r.1).collect();
    let paths: Vec<&str> = with_grant.iter().map(|r| r.0).collect();
    // The approval, the read, the export (its start and completion records), the
    // revocation, and the read refused after it.
    assert_eq!(statuses, [200, 200, 200, 200, 200, 403], "{with_grant:?}");
    assert_eq!(paths[1], "/v1/datasets/census/rows");
    assert_eq!(paths[2], "/v1/datasets/census/export");
    assert!(paths[4].ends_with("/revoke"));
    let filed_record = records
        .iter()
        .find(|r| r["path"] == path && r["status"] == 201)
        .unwrap();
    assert_eq!(filed_record["action"], "access:request");
    assert_eq!(filed_record["subject"], "user:rita");
}

#[tokio::test]
async fn an_expired_grant_refuses_and_says_how_to_renew_and_a_deny_rule_beats_a_grant() {
    let app = app().await;
    let rita = token("rita", &[], None);
    let admin = token("root", &["admin"], None);
    let filed = ok(
        call(
            &app,
            "POST",
            "/v1/datasets/census/access-requests",
            Some(&rita),
            Some(ask("Labour market study, wave 2")),
        )
        .await,
        201,
    )
    .await;
    let id = filed["id"].as_str().unwrap();
    // Admins may review too.
    let approved = ok(
        call(
            &app,
            "POST",
            &format!("/v1/access-requests/{id}/approve"),
            Some(&admin),
            Some(json!({})),
        )
        .await,
        200,
    )
    .await;
    let grant = approved["grant"]["id"].as_str().unwrap().to_owned();
    assert_eq!(rows(&app, &rita).await.status(), 200);

    let deny = json!({"rules": [{"kind": "deny", "sub": "user:rita", "obj": "dataset:census", "act": "data:query"}], "reason": "misuse"});
    ok(
        app.admin(
            app.client
                .post(app.url("/v1/admin/policy/rules"))
                .json(&deny),
        )
        .send()
        .await
        .unwrap(),
        201,
    )
    .await;
    assert_eq!(rows(&app, &rita).await.status(), 403);
    ok(
        app.admin(
            app.client
                .delete(app.url("/v1/admin/policy/rules"))
                .json(&deny),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(rows(&app, &rita).await.status(), 200);

    app.sqlite()
        .execute(&format!(
            "UPDATE grants SET expires_at = '2000-01-01T00:00:00Z' WHERE id = '{grant}'"
        ))
        .unwrap();
    let p = assert_problem(rows(&app, &rita).await, 403).await;
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("expired at 2000-01-01")
            && detail.contains("POST /v1/datasets/census/access-requests"),
        "{detail}"
    );

    // A new request can be filed, and a pending one withdrawn; someone else's cannot.
    let again = ok(
        call(
            &app,
            "POST",
            "/v1/datasets/census/access-requests",
            Some(&rita),
            Some(ask("Labour market study, wave 3")),
        )
        .await,
        201,
    )
    .await;
    let again = again["id"].as_str().unwrap();
    let withdraw = format!("/v1/me/access-requests/{again}/withdraw");
    assert_problem(
        call(
            &app,
            "POST",
            &withdraw,
            Some(&token("eve", &[], None)),
            None,
        )
        .await,
        404,
    )
    .await;
    let gone = ok(call(&app, "POST", &withdraw, Some(&rita), None).await, 200).await;
    assert_eq!(gone["status"], "withdrawn");
    assert_problem(call(&app, "POST", &withdraw, Some(&rita), None).await, 409).await;

    let third = ok(
        call(
            &app,
            "POST",
            "/v1/datasets/census/access-requests",
            Some(&rita),
            Some(ask("Labour market study, wave 4")),
        )
        .await,
        201,
    )
    .await;
    let reject = format!(
        "/v1/access-requests/{}/reject",
        third["id"].as_str().unwrap()
    );
    assert_problem(
        call(
            &app,
            "POST",
            &reject,
            Some(&admin),
            Some(json!({"reason": " "})),
        )
        .await,
        400,
    )
    .await;
    let rejected = ok(
        call(
            &app,
            "POST",
            &reject,
            Some(&admin),
            Some(json!({"reason": "purpose unclear"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["decision_note"], "purpose unclear");
}

#[tokio::test]
async fn explain_and_simulate_show_the_grant_and_the_masks_a_decision_carries() {
    let app = spawn_app_with(|s| s.jwt.hs256_secret = Some(SECRET.to_string())).await;
    DatasetBuilder::new("census")
        .tier(Tier::Conditional)
        .organization("stats-office")
        .sensitive(&["income"])
        .with_csv(&app, "age,income,city\n34,52000,Lyon\n51,61000,Paris\n")
        .await;
    let rita = token("rita", &[], None);
    let check =
        |subject: &str| json!({"subject": subject, "dataset": "census", "action": "data:query"});
    let explain = |body: Value| {
        app.admin(
            app.client
                .post(app.url("/v1/admin/policy/check"))
                .json(&body),
        )
        .send()
    };

    let before = ok(explain(check("rita")).await.unwrap(), 200).await;
    assert_eq!(before["allowed"], false, "{before}");
    assert_eq!(before["grant"], Value::Null);
    assert_eq!(before["carries"]["columns"], json!({"income": "mask"}));

    let filed = ok(
        call(
            &app,
            "POST",
            "/v1/datasets/census/access-requests",
            Some(&rita),
            Some(ask("Commuting patterns for the regional plan")),
        )
        .await,
        201,
    )
    .await;
    let id = filed["id"].as_str().unwrap();
    let approved = ok(
        app.admin(
            app.client
                .post(app.url(&format!("/v1/access-requests/{id}/approve")))
                .json(&json!({"row_filter": "city = 'Lyon'"})),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    let grant = approved["grant"]["id"].as_str().unwrap();

    let after = ok(explain(check("rita")).await.unwrap(), 200).await;
    assert_eq!(after["allowed"], true, "{after}");
    assert_eq!(after["rule"], format!("grant:{grant}"));
    assert_eq!(after["grant"]["id"], grant);
    // The grant names age and city only: income is hidden, not merely masked.
    assert_eq!(after["carries"]["columns"], json!({"income": "hide"}));
    assert_eq!(after["carries"]["grant_row_filter"], "city = 'Lyon'");
    // And the real request agrees with the explanation.
    let real = ok(rows(&app, &rita).await, 200).await;
    assert_eq!(real["data"].as_array().unwrap().len(), 1, "{real}");
    assert!(real["data"][0].get("income").is_none(), "{real}");

    // Someone else holds no grant: still refused, nothing carried from rita's.
    let other = ok(explain(check("sam")).await.unwrap(), 200).await;
    assert_eq!(other["allowed"], false);
    assert_eq!(other["grant"], Value::Null);

    let simulated = ok(
        app.admin(
            app.client
                .post(app.url("/v1/admin/policy/simulate"))
                .json(&json!({
                    "add": [{"kind": "allow", "sub": "role:researcher", "obj": "tier:conditional", "act": "data:query"}],
                    "new_roles": ["researcher"]
                })),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    let opened = simulated["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["caller"] == "role:researcher" && c["object"] == "dataset:census")
        .unwrap_or_else(|| panic!("{simulated}"));
    assert_eq!(opened["after"], true);
    assert_eq!(opened["carries"]["columns"], json!({"income": "mask"}));
    assert_eq!(opened["carries"]["row_filters"], json!([]));
}
