//! Several gateway instances on one database: a policy edit made through
//! one is enforced by all within a second, each audits on its own chain and
//! one verification checks them all, and an import through one is seen by
//! all. Runs on both backends; the setting is PostgreSQL.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{DatasetBuilder, TestApp, spawn_app_with};
use kaifang::auth::jwt::sign_hs256;
use kaifang::catalog::Tier;

const SECRET: &str = "instances-secret-0123456789abcdef0123";

fn token(sub: &str, roles: &[&str]) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": sub, "roles": roles, "iat": now, "exp": now + 600});
    sign_hs256(SECRET.as_bytes(), &claims).unwrap()
}

async fn rows_status(app: &TestApp, slug: &str, bearer: &str) -> u16 {
    app.client
        .get(app.url(&format!("/v1/datasets/{slug}/rows")))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn two_instances() -> (TestApp, TestApp) {
    let a = spawn_app_with(|s| {
        s.instance_id = "a".to_string();
        s.jwt.hs256_secret = Some(SECRET.to_string());
    })
    .await;
    let b = a
        .spawn_instance("b", |s| s.jwt.hs256_secret = Some(SECRET.to_string()))
        .await;
    (a, b)
}

#[tokio::test]
async fn a_policy_edit_through_one_instance_is_enforced_by_the_other_within_a_second() {
    let (a, b) = two_instances().await;
    DatasetBuilder::new("shared-cond")
        .tier(Tier::Conditional)
        .organization("us-dot-bts")
        .with_csv(&a, "x,y\n1,one\n2,two\n")
        .await;
    let rita = token("rita", &["researcher"]);
    assert_eq!(rows_status(&a, "shared-cond", &rita).await, 403);
    assert_eq!(rows_status(&b, "shared-cond", &rita).await, 403);

    let rule = json!({"kind": "allow", "sub": "role:researcher", "obj": "tier:conditional", "act": "data:query"});
    let res = a
        .admin(a.client.post(a.url("/v1/admin/policy/rules")))
        .json(&json!({"rules": [rule], "reason": "study", "new_roles": ["researcher"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let edited = Instant::now();
    assert_eq!(rows_status(&a, "shared-cond", &rita).await, 200);
    loop {
        if rows_status(&b, "shared-cond", &rita).await == 200 {
            break;
        }
        assert!(
            edited.elapsed() < Duration::from_millis(1000),
            "the other instance still refuses after a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn each_instance_audits_on_its_own_chain_and_verify_checks_both() {
    let (a, b) = two_instances().await;
    for _ in 0..5 {
        a.get("/v1/datasets").await;
        b.get("/v1/datasets").await;
    }
    let res = b
        .admin(b.client.get(b.url("/v1/admin/audit/verify")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["ok"], json!(true), "{report}");
    let text = report.to_string();
    assert!(text.contains("\"a\"") && text.contains("\"b\""), "{report}");

    // And the command line checks every chain of the shared database.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kaifang"))
        .args(["audit", "verify"])
        .env("KAIFANG_DATABASE_URL", &a.database_url)
        .env("KAIFANG_LOG", "warn")
        .env_remove("KAIFANG_CONFIG")
        .current_dir(a.db_path.parent().unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("OK"), "{stdout}");
}

#[tokio::test]
async fn an_import_through_one_instance_is_seen_whole_by_the_other() {
    let (a, b) = two_instances().await;
    let slug = DatasetBuilder::new("shared-open")
        .with_csv(&a, "n,label\n1,a\n2,b\n3,c\n")
        .await;
    let body = b.rows_json(&slug, &[("count", "exact")]).await;
    assert_eq!(body["total"], json!(3), "{body}");

    // A replacement: the other instance sees the old rows or the new ones,
    // never a mix, and the new ones once the upload has answered.
    let mut csv = String::from("n,label\n");
    for i in 0..5000 {
        csv.push_str(&format!("{i},new\n"));
    }
    let upload = a.upload(&slug, csv, "text/csv");
    let reader = async {
        for _ in 0..40 {
            let body = b
                .rows_json(&slug, &[("count", "exact"), ("limit", "1")])
                .await;
            let total = body["total"].as_i64().unwrap();
            assert!(total == 3 || total == 5000, "half an import: {body}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let (res, ()) = tokio::join!(upload, reader);
    assert_eq!(res.status(), StatusCode::CREATED);
    let body = b
        .rows_json(&slug, &[("count", "exact"), ("limit", "1")])
        .await;
    assert_eq!(body["total"], json!(5000), "{body}");
    assert_eq!(body["data"][0]["label"], json!("new"), "{body}");
}
