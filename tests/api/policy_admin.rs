//! Admin policy edits over real HTTP: rules, role assignments, revisions and restore,
//! check and simulate, and the export/import commands, each against the decisions the
//! real endpoints then make.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{DatasetBuilder, TestApp, assert_problem, spawn_app_with};
use kaifang::auth::jwt::sign_hs256;
use kaifang::catalog::Tier;

const SECRET: &str = "policy-admin-secret-0123456789abcdef";

fn token(sub: &str, roles: &[&str]) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": sub, "roles": roles, "iat": now, "exp": now + 600});
    sign_hs256(SECRET.as_bytes(), &claims).unwrap()
}

async fn app_with_data() -> TestApp {
    let app = spawn_app_with(|s| s.jwt.hs256_secret = Some(SECRET.to_string())).await;
    for (slug, tier) in [
        ("p-open", Tier::Open),
        ("p-cond", Tier::Conditional),
        ("p-restr", Tier::Restricted),
    ] {
        DatasetBuilder::new(slug)
            .tier(tier)
            .organization("us-dot-bts")
            .with_csv(&app, "a,b\n1,x\n")
            .await;
    }
    app
}

async fn send(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> reqwest::Response {
    let req = match method {
        "POST" => app.client.post(app.url(path)),
        "PUT" => app.client.put(app.url(path)),
        "DELETE" => app.client.delete(app.url(path)),
        _ => app.client.get(app.url(path)),
    };
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    app.admin(req).send().await.unwrap()
}

async fn json_of(res: reqwest::Response, status: u16) -> Value {
    let code = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(code, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn rows_status(app: &TestApp, slug: &str, bearer: &str) -> u16 {
    let res = app
        .client
        .get(app.url(&format!("/v1/datasets/{slug}/rows")))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    res.status().as_u16()
}

fn researcher_rule() -> Value {
    json!({"kind": "allow", "sub": "role:researcher", "obj": "tier:conditional", "act": "data:query"})
}

#[tokio::test]
async fn an_added_rule_is_enforced_on_the_next_request_and_its_removal_too() {
    let app = app_with_data().await;
    let rita = token("rita", &["researcher"]);
    assert_eq!(rows_status(&app, "p-cond", &rita).await, 403);

    let body =
        json!({"rules": [researcher_rule()], "reason": "study", "new_roles": ["researcher"]});
    let rev = json_of(
        send(&app, "POST", "/v1/admin/policy/rules", Some(body.clone())).await,
        201,
    )
    .await;
    assert_eq!(rev["added"], 1);
    assert_eq!(rows_status(&app, "p-cond", &rita).await, 200);
    // Restricted data stays invisible: the new rule names only the conditional tier.
    assert_eq!(rows_status(&app, "p-restr", &rita).await, 404);

    let again = send(&app, "POST", "/v1/admin/policy/rules", Some(body.clone())).await;
    assert_problem(again, 409).await;

    let listed = json_of(
        send(
            &app,
            "GET",
            "/v1/admin/policy/rules?naming=role:researcher",
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["revision"], rev["number"]);

    let removed = json_of(
        send(&app, "DELETE", "/v1/admin/policy/rules", Some(body.clone())).await,
        200,
    )
    .await;
    assert_eq!(removed["removed"], 1);
    assert_eq!(rows_status(&app, "p-cond", &rita).await, 403);
    let gone = send(&app, "DELETE", "/v1/admin/policy/rules", Some(body)).await;
    assert_problem(gone, 404).await;
}

#[tokio::test]
async fn a_typo_is_a_400_that_names_it_and_changes_nothing() {
    let app = app_with_data().await;
    let before = json_of(
        send(&app, "GET", "/v1/admin/policy/revisions", None).await,
        200,
    )
    .await;
    let cases = [
        (
            json!({"kind": "allow", "sub": "anonymous", "obj": "tier:conditonal", "act": "data:query"}),
            "tier:conditional",
        ),
        (
            json!({"kind": "allow", "sub": "role:reseacher", "obj": "tier:open", "act": "data:query"}),
            "role:reseacher",
        ),
        (
            json!({"kind": "allow", "sub": "anonymous", "obj": "dataset:p-opne", "act": "data:query"}),
            "dataset:p-open",
        ),
        (
            json!({"kind": "allow", "sub": "anonymous", "obj": "tier:open", "act": "data:qeury"}),
            "data:query",
        ),
        (
            json!({"kind": "role", "member": "user:bob", "role": "role:admni"}),
            "role:admin",
        ),
        (
            json!({"kind": "allow", "sub": "anonymous", "obj": "tier:open", "act": "data query"}),
            "act",
        ),
    ];
    for (rule, named) in cases {
        let body = json!({"rules": [researcher_rule(), rule], "reason": "typo", "new_roles": ["researcher"]});
        let res = send(&app, "POST", "/v1/admin/policy/rules", Some(body)).await;
        let problem = assert_problem(res, 400).await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(named), "{named} not in: {detail}");
    }
    let no_reason =
        json!({"rules": [researcher_rule()], "reason": " ", "new_roles": ["researcher"]});
    assert_problem(
        send(&app, "POST", "/v1/admin/policy/rules", Some(no_reason)).await,
        400,
    )
    .await;
    let unknown_field = json!({"rules": [{"kind": "allow", "sub": "anonymous", "obj": "tier:open", "act": "data:query", "x": 1}], "reason": "r"});
    assert_problem(
        send(&app, "POST", "/v1/admin/policy/rules", Some(unknown_field)).await,
        400,
    )
    .await;
    let after = json_of(
        send(&app, "GET", "/v1/admin/policy/revisions", None).await,
        200,
    )
    .await;
    assert_eq!(before["total"], after["total"]);
    assert_eq!(
        rows_status(&app, "p-cond", &token("rita", &["researcher"])).await,
        403
    );
}

#[tokio::test]
async fn assigned_roles_are_held_from_the_next_request() {
    let app = app_with_data().await;
    let alice = token("alice", &[]);
    let audit = |t: String| {
        let app = &app;
        async move {
            let res = app
                .client
                .get(app.url("/v1/admin/audit"))
                .bearer_auth(t)
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        }
    };
    assert_eq!(audit(alice.clone()).await, 403);
    let none = json_of(
        send(&app, "GET", "/v1/admin/principals/alice/roles", None).await,
        200,
    )
    .await;
    assert_eq!(none["roles"], json!([]));

    let set = json!({"roles": ["auditor"], "reason": "joins the audit team"});
    let now = json_of(
        send(
            &app,
            "PUT",
            "/v1/admin/principals/alice/roles",
            Some(set.clone()),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(now["roles"], json!(["auditor"]));
    assert_eq!(audit(alice.clone()).await, 200);
    assert_problem(
        send(&app, "PUT", "/v1/admin/principals/alice/roles", Some(set)).await,
        409,
    )
    .await;

    let typo = json!({"roles": ["audtor"], "reason": "typo"});
    let problem = assert_problem(
        send(&app, "PUT", "/v1/admin/principals/alice/roles", Some(typo)).await,
        400,
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("role:auditor"),
        "{problem}"
    );

    let clear = json!({"roles": [], "reason": "left"});
    json_of(
        send(&app, "PUT", "/v1/admin/principals/alice/roles", Some(clear)).await,
        200,
    )
    .await;
    assert_eq!(audit(alice).await, 403);
}

#[tokio::test]
async fn only_policy_administrators_reach_the_policy_api() {
    let app = app_with_data().await;
    let paths = [
        ("GET", "/v1/admin/policy/rules"),
        ("GET", "/v1/admin/policy/revisions"),
        ("GET", "/v1/admin/policy/revisions/1"),
        ("GET", "/v1/admin/principals/alice/roles"),
    ];
    for (method, path) in paths {
        let anon = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(anon.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let auditor = app
            .client
            .get(app.url(path))
            .bearer_auth(token("aud", &["auditor"]))
            .send()
            .await
            .unwrap();
        assert_eq!(auditor.status(), StatusCode::FORBIDDEN, "{method} {path}");
        let admin = app
            .client
            .get(app.url(path))
            .bearer_auth(token("root", &["admin"]))
            .send()
            .await
            .unwrap();
        assert_eq!(admin.status(), StatusCode::OK, "{method} {path}");
    }
    assert_problem(
        send(&app, "GET", "/v1/admin/policy/revisions/999", None).await,
        404,
    )
    .await;
    assert_problem(
        send(&app, "GET", "/v1/admin/policy/revisions/abc", None).await,
        400,
    )
    .await;
}

/// Who the matrix asks about, as check-request callers, keyed by simulate's labels.
fn matrix_callers() -> Vec<(&'static str, Value)> {
    vec![
        ("anonymous", json!({})),
        ("registered", json!({"subject": "probe"})),
        (
            "role:researcher",
            json!({"subject": "probe", "roles": ["researcher"]}),
        ),
        (
            "role:auditor",
            json!({"subject": "probe", "roles": ["auditor"]}),
        ),
        ("user:rita", json!({"subject": "rita"})),
    ]
}

const ACTIONS: [&str; 9] = [
    "catalog:read",
    "data:query",
    "data:export",
    "dataset:publish",
    "dataset:manage",
    "access:request",
    "access:review",
    "policy:admin",
    "audit:read",
];

/// Every (caller, object, action) the matrix allows, asked through the check endpoint.
async fn decisions(app: &TestApp) -> Vec<(String, String, String, bool)> {
    let mut out = Vec::new();
    for (label, who) in matrix_callers() {
        for (field, target) in [
            ("dataset", "p-open"),
            ("dataset", "p-cond"),
            ("dataset", "p-restr"),
            ("object", "audit"),
            ("object", "policy"),
        ] {
            for action in ACTIONS {
                let mut body = who.clone();
                body[field] = json!(target);
                body["action"] = json!(action);
                let res = json_of(
                    send(app, "POST", "/v1/admin/policy/check", Some(body)).await,
                    200,
                )
                .await;
                let object = if field == "dataset" {
                    format!("dataset:{target}")
                } else {
                    target.to_owned()
                };
                out.push((
                    label.to_owned(),
                    object,
                    action.to_owned(),
                    res["allowed"].as_bool().unwrap(),
                ));
            }
        }
    }
    out
}

#[tokio::test]
async fn simulate_reports_exactly_the_decisions_that_then_change_and_restore_brings_them_back() {
    let app = app_with_data().await;
    let rev = json_of(
        send(&app, "GET", "/v1/admin/policy/revisions", None).await,
        200,
    )
    .await;
    let start = rev["data"][0]["number"].as_i64().unwrap();
    let before = decisions(&app).await;

    let add = json!([
        researcher_rule(),
        {"kind": "role", "member": "user:rita", "role": "role:researcher"},
        {"kind": "deny", "sub": "anonymous", "obj": "dataset:p-open", "act": "data:export"},
    ]);
    let remove =
        json!([{"kind": "allow", "sub": "role:auditor", "obj": "audit", "act": "audit:read"}]);
    let simulated = json_of(
        send(
            &app,
            "POST",
            "/v1/admin/policy/simulate",
            Some(json!({"add": add, "remove": remove, "new_roles": ["researcher"]})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(simulated["revision"], start);
    // Nothing was applied.
    assert_eq!(decisions(&app).await, before);

    json_of(
        send(
            &app,
            "POST",
            "/v1/admin/policy/rules",
            Some(json!({"rules": add, "reason": "r", "new_roles": ["researcher"]})),
        )
        .await,
        201,
    )
    .await;
    json_of(
        send(
            &app,
            "DELETE",
            "/v1/admin/policy/rules",
            Some(json!({"rules": remove, "reason": "r"})),
        )
        .await,
        200,
    )
    .await;
    let after = decisions(&app).await;
    let mut observed: Vec<(String, String, String)> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b.3 != a.3)
        .map(|(b, _)| (b.0.clone(), b.1.clone(), b.2.clone()))
        .collect();
    let labels: Vec<&str> = matrix_callers().iter().map(|c| c.0).collect();
    let mut predicted: Vec<(String, String, String)> = simulated["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| labels.contains(&c["caller"].as_str().unwrap()))
        .map(|c| {
            (
                c["caller"].as_str().unwrap().to_owned(),
                c["object"].as_str().unwrap().to_owned(),
                c["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    observed.sort();
    predicted.sort();
    assert!(!observed.is_empty());
    assert_eq!(observed, predicted);
    // And the real endpoints agree with the check endpoint.
    assert_eq!(rows_status(&app, "p-cond", &token("rita", &[])).await, 200);
    // Denied to anonymous callers, who are asked to sign in.
    let export = app
        .client
        .get(app.url("/v1/datasets/p-open/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), StatusCode::UNAUTHORIZED);

    let restored = json_of(
        send(
            &app,
            "POST",
            &format!("/v1/admin/policy/revisions/{start}/restore"),
            Some(json!({"reason": "undo"})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(restored["number"], start + 3);
    assert_eq!(decisions(&app).await, before);
    let at_start = json_of(
        send(
            &app,
            "GET",
            &format!("/v1/admin/policy/revisions/{start}"),
            None,
        )
        .await,
        200,
    )
    .await;
    let now = json_of(
        send(&app, "GET", "/v1/admin/policy/rules?limit=500", None).await,
        200,
    )
    .await;
    let mut a: Vec<String> = at_start["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::to_string)
        .collect();
    let mut b: Vec<String> = now["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::to_string)
        .collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[tokio::test]
async fn check_names_the_deciding_rule() {
    let app = app_with_data().await;
    let res = json_of(
        send(
            &app,
            "POST",
            "/v1/admin/policy/check",
            Some(json!({"subject": "pat", "roles": ["publisher"], "attributes": {"org": "us-dot-bts"}, "dataset": "p-restr", "action": "data:export"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(res["allowed"], true);
    assert_eq!(
        res["rule"],
        "p, role:publisher:us-dot-bts, org:us-dot-bts, data:export, allow"
    );
    assert!(
        res["objects"]
            .as_array()
            .unwrap()
            .contains(&json!("tier:restricted"))
    );
    let anon = json_of(
        send(
            &app,
            "POST",
            "/v1/admin/policy/check",
            Some(json!({"dataset": "p-restr", "action": "catalog:read"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(anon["allowed"], false);
    assert_eq!(anon["reason"], "no rule matched; denied by default");
    for bad in [
        json!({"dataset": "nope", "action": "catalog:read"}),
        json!({"dataset": "p-open", "action": "catalog:raed"}),
        json!({"action": "catalog:read"}),
        json!({"object": "datasets", "action": "catalog:read"}),
    ] {
        let res = send(&app, "POST", "/v1/admin/policy/check", Some(bad.clone())).await;
        assert!(matches!(res.status().as_u16(), 400 | 404), "{bad}");
        assert_problem(res, if bad["dataset"] == "nope" { 404 } else { 400 }).await;
    }
}

fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_kaifang"))
        .args(args)
        .env_remove("KAIFANG_CONFIG")
        .env("KAIFANG_DATABASE_URL", &app.database_url)
        .output()
        .unwrap()
}

#[tokio::test]
async fn export_then_import_round_trips_and_a_running_gateway_enforces_the_import() {
    let app = app_with_data().await;
    let out = cli(&app, &["policy", "export"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported = String::from_utf8(out.stdout).unwrap();
    assert!(
        exported.contains("p, anonymous, tier:open, data:query, allow"),
        "{exported}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.csv");
    let edited = exported.replace("p, anonymous, tier:open, data:query, allow\n", "");
    std::fs::write(&file, &edited).unwrap();
    let out = cli(
        &app,
        &[
            "policy",
            "import",
            file.to_str().unwrap(),
            "--reason",
            "close open data",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 removed"));

    // The gateway polls the stored revision each second.
    let mut status = 0;
    for _ in 0..40 {
        status = app
            .client
            .get(app.url("/v1/datasets/p-open/rows"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == 401 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 401, "anonymous callers lost open data");
    let again = cli(&app, &["policy", "export"]);
    let reexported = String::from_utf8(again.stdout).unwrap();
    let body = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(body(&reexported), body(&edited));

    std::fs::write(&file, "p, anonymous, tier:open, data:qeury, allow\n").unwrap();
    let bad = cli(
        &app,
        &[
            "policy",
            "import",
            file.to_str().unwrap(),
            "--reason",
            "typo",
        ],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("data:query"));
    let unchanged = cli(&app, &["policy", "export"]);
    assert_eq!(
        body(&String::from_utf8(unchanged.stdout).unwrap()),
        body(&edited)
    );
}

async fn listed(app: &TestApp, path: &str, bearer: Option<&str>) -> (Vec<String>, i64) {
    let mut req = app.client.get(app.url(path));
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let body = json_of(req.send().await.unwrap(), 200).await;
    let slugs = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{}={}",
                d["slug"].as_str().unwrap(),
                d.get("datasets").map_or(String::new(), Value::to_string)
            )
        })
        .collect();
    (slugs, body["total"].as_i64().unwrap())
}

#[tokio::test]
async fn listings_follow_the_rules_exactly_own_restricted_data_and_denials_included() {
    let app = app_with_data().await;
    DatasetBuilder::new("n-restr")
        .tier(Tier::Restricted)
        .organization("noaa")
        .with_csv(&app, "a\n1\n")
        .await;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": "pat", "roles": ["publisher"], "org": "us-dot-bts", "iat": now, "exp": now + 600});
    let publisher = sign_hs256(SECRET.as_bytes(), &claims).unwrap();
    let (own, total) = listed(&app, "/v1/datasets", Some(&publisher)).await;
    assert_eq!(own, ["p-cond=", "p-open=", "p-restr="]);
    assert_eq!(total, 3);
    let (orgs, _) = listed(&app, "/v1/organizations", Some(&publisher)).await;
    assert_eq!(orgs, ["us-dot-bts=3"]);

    let (anon, total) = listed(&app, "/v1/datasets", None).await;
    assert_eq!(
        (anon, total),
        (vec!["p-cond=".to_owned(), "p-open=".to_owned()], 2)
    );
    let deny = json!({"rules": [{"kind": "deny", "sub": "anonymous", "obj": "dataset:p-cond", "act": "catalog:read"}], "reason": "withdrawn"});
    json_of(
        send(&app, "POST", "/v1/admin/policy/rules", Some(deny)).await,
        201,
    )
    .await;
    let (anon, total) = listed(&app, "/v1/datasets", None).await;
    assert_eq!((anon, total), (vec!["p-open=".to_owned()], 1));
    let (orgs, _) = listed(&app, "/v1/organizations", None).await;
    assert_eq!(orgs, ["us-dot-bts=1"]);
    // The denial holds for every signed-in caller too (registered inherits anonymous).
    let (reg, _) = listed(&app, "/v1/datasets?q=p", Some(&token("reg", &[]))).await;
    assert_eq!(reg, ["p-open="]);
    // Every caller holds `anonymous`, and a deny beats every allow: admins too.
    let (all, total) = listed(&app, "/v1/datasets", Some(&token("root", &["admin"]))).await;
    assert_eq!(
        (all, total),
        (
            vec!["n-restr=".to_owned(), "p-open=".into(), "p-restr=".into()],
            3
        )
    );
}
