//! The default policy over real endpoints: each tier × each kind of caller
//! × each action gives the documented status; restricted data is a 404,
//! never a 403, for whoever may not see it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{DatasetBuilder, TestApp, spawn_app_with};
use kaifang::catalog::Tier;

const SECRET: &str = "policy-test-secret-0123456789abcdef0";

fn token(sub: &str, roles: &[&str], org: Option<&str>) -> String {
    crate::helpers::sign_token(SECRET, sub, roles, org)
}

async fn status(app: &TestApp, method: &str, path: &str, bearer: Option<&str>) -> u16 {
    let mut req = match method {
        "PUT" => app
            .client
            .put(app.url(path))
            .header("content-type", "text/csv")
            .body("a,b\n9,z\n"),
        _ => app.client.get(app.url(path)),
    };
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let code = res.status().as_u16();
    let _ = res.bytes().await;
    code
}

#[tokio::test]
async fn each_tier_role_and_action_gets_the_documented_status() {
    let app = spawn_app_with(|s| s.jwt.hs256_secret = Some(SECRET.to_string())).await;
    for (slug, tier) in [
        ("t-open", Tier::Open),
        ("t-cond", Tier::Conditional),
        ("t-restr", Tier::Restricted),
    ] {
        DatasetBuilder::new(slug)
            .tier(tier)
            .organization("us-dot-bts")
            .with_csv(&app, "a,b\n1,x\n")
            .await;
    }
    let registered = token("reg", &[], None);
    let own = token("pub", &["publisher"], Some("us-dot-bts"));
    let other = token("pub2", &["publisher"], Some("noaa"));
    let admin = token("root", &["admin"], None);
    let callers: [(&str, Option<&str>); 5] = [
        ("anonymous", None),
        ("registered", Some(&registered)),
        ("own publisher", Some(&own)),
        ("other publisher", Some(&other)),
        ("admin", Some(&admin)),
    ];
    // Expected statuses for [metadata, rows, export, upload] per caller.
    let expect = |caller: &str, tier: &str| -> [u16; 4] {
        match (caller, tier) {
            ("own publisher" | "admin", _) => [200, 200, 200, 201],
            ("anonymous", "t-open") => [200, 200, 200, 401],
            ("anonymous", "t-cond") => [200, 403, 403, 401],
            // Uploading needs credentials before any dataset is looked up, so the 401
            // says nothing about whether the dataset exists.
            ("anonymous", _) => [404, 404, 404, 401],
            (_, "t-open") => [200, 200, 200, 403],
            (_, "t-cond") => [200, 403, 403, 403],
            _ => [404, 404, 404, 404],
        }
    };
    let mut failures = Vec::new();
    for (caller, bearer) in callers {
        for slug in ["t-open", "t-cond", "t-restr"] {
            let got = [
                status(&app, "GET", &format!("/v1/datasets/{slug}"), bearer).await,
                status(&app, "GET", &format!("/v1/datasets/{slug}/rows"), bearer).await,
                status(&app, "GET", &format!("/v1/datasets/{slug}/export"), bearer).await,
                status(&app, "PUT", &format!("/v1/datasets/{slug}/data"), bearer).await,
            ];
            let want = expect(caller, slug);
            if got != want {
                failures.push(format!("{caller} on {slug}: got {got:?}, want {want:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Listings and counts never reveal a restricted dataset to those who may not see it.
    for (caller, bearer) in [
        ("anonymous", None),
        ("registered", Some(registered.as_str())),
    ] {
        let mut req = app.client.get(app.url("/v1/datasets?q=t"));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let list: Value = req.send().await.unwrap().json().await.unwrap();
        let text = list.to_string();
        assert!(!text.contains("t-restr"), "{caller}: {text}");
        assert_eq!(list["total"], json!(2), "{caller}: {text}");
    }
    let list: Value = app
        .client
        .get(app.url("/v1/datasets"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], json!(3));

    // A publisher creates datasets for its own organisation only.
    let create = |org: &str, slug: &str| json!({"slug": slug, "title": slug, "organization": org, "tier": "open"});
    let res = app
        .client
        .post(app.url("/v1/datasets"))
        .bearer_auth(&own)
        .json(&create("us-dot-bts", "mine-new"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .client
        .post(app.url("/v1/datasets"))
        .bearer_auth(&own)
        .json(&create("noaa", "not-mine"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A new organisation's publisher may publish there once it exists.
    let res = app
        .client
        .post(app.url("/v1/datasets"))
        .bearer_auth(&admin)
        .json(&create("noaa", "noaa-one"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(
        status(&app, "PUT", "/v1/datasets/noaa-one/data", Some(&other)).await,
        201
    );
}

#[test]
fn the_shipped_policy_tests_pass_and_a_wrong_expectation_fails() {
    let run = |dir: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kaifang"))
            .args(["policy", "test"])
            .arg(dir)
            .env_remove("KAIFANG_CONFIG")
            .output()
            .unwrap()
    };
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/tests");
    let out = run(&shipped);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("policy cases passed"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("wrong.csv"),
        "-, , secrets, restricted, us-census, catalog:read, allow\n",
    )
    .unwrap();
    let out = run(dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("wrong.csv line 1") && text.contains("expected allow, got deny"),
        "{text}"
    );
}
