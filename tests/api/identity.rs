//! Identity over HTTP: JWTs signed with the configured HS256 secret are
//! accepted with their subject and roles; every kind of bad token is a 401
//! with an RFC 6750 challenge, never a 500, and is audited.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kaifang::auth::jwt::sign_hs256;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{DatasetBuilder, TestApp, assert_problem, spawn_app_with};

const SECRET: &str = "identity-test-secret-0123456789abcdef";

async fn app() -> TestApp {
    spawn_app_with(|s| {
        s.jwt.hs256_secret = Some(SECRET.to_string());
        s.jwt.issuers = vec!["https://id.test".to_string()];
        s.jwt.audience = vec!["kaifang".to_string()];
    })
    .await
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(sub: &str, roles: &[&str]) -> Value {
    json!({
        "sub": sub, "roles": roles, "iss": "https://id.test", "aud": "kaifang",
        "iat": now(), "exp": now() + 600
    })
}

fn token(claims: &Value) -> String {
    sign_hs256(SECRET.as_bytes(), claims).unwrap()
}

async fn get(app: &TestApp, path: &str, bearer: &str, id: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(bearer)
        .header("x-request-id", id)
        .send()
        .await
        .unwrap()
}

async fn record(app: &TestApp, id: &str) -> Value {
    let mine: Vec<Value> = app
        .audit_records()
        .await
        .into_iter()
        .filter(|r| r["request_id"] == json!(id))
        .collect();
    assert_eq!(mine.len(), 1, "{id}: {mine:?}");
    mine[0].clone()
}

#[tokio::test]
async fn a_valid_token_is_the_caller_in_the_answer_and_the_audit_record() {
    let app = app().await;
    let slug = DatasetBuilder::new("open-data")
        .with_csv(&app, "a,b\n1,x\n2,y\n")
        .await;
    let alice = token(&claims("alice", &["researcher"]));
    let res = get(
        &app,
        &format!("/v1/datasets/{slug}/rows"),
        &alice,
        "id-alice",
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let r = record(&app, "id-alice").await;
    assert_eq!(r["subject"], json!("user:alice"));
    assert_eq!(r["roles"], json!(["researcher"]));
    assert_eq!(r["auth_method"], json!("jwt"));
    assert!(!r.to_string().contains(&alice));

    // The admin role may publish and read the audit log; others may not.
    let admin = token(&claims("root", &["admin"]));
    let res = get(&app, "/v1/admin/audit", &admin, "id-admin").await;
    assert_eq!(res.status(), StatusCode::OK);
    let p = assert_problem(get(&app, "/v1/admin/audit", &alice, "id-a2").await, 403).await;
    assert!(p["detail"].as_str().unwrap().contains("admin"), "{p}");
    let res = app
        .client
        .put(app.url(&format!("/v1/datasets/{slug}/data")))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body("a,b\n3,z\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .client
        .put(app.url(&format!("/v1/datasets/{slug}/data")))
        .bearer_auth(&alice)
        .header("content-type", "text/csv")
        .body("a,b\n4,w\n")
        .send()
        .await
        .unwrap();
    assert_problem(res, 403).await;
}

fn raw(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[tokio::test]
async fn every_bad_token_is_a_401_with_a_challenge_and_a_record() {
    let app = app().await;
    let good = claims("mallory", &["admin"]);
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        token(&c)
    };
    let without = |k: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(k);
        token(&c)
    };
    let valid = token(&good);
    let (head, body, _) = {
        let mut parts = valid.split('.');
        (
            parts.next().unwrap().to_string(),
            parts.next().unwrap().to_string(),
            (),
        )
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "alg-none",
            raw(&json!({"alg": "none", "typ": "JWT"}), &good, ""),
        ),
        ("hs-with-rsa-key", {
            let key = std::fs::read(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/keys/rsa_public.pem"),
            )
            .unwrap();
            sign_hs256(&key, &good).unwrap()
        }),
        ("expired", with("exp", json!(now() - 3600))),
        ("not-yet-valid", with("nbf", json!(now() + 3600))),
        ("issued-in-future", with("iat", json!(now() + 3600))),
        ("wrong-issuer", with("iss", json!("https://evil.test"))),
        ("no-issuer", without("iss")),
        ("wrong-audience", with("aud", json!("someone-else"))),
        ("no-audience", without("aud")),
        ("no-exp", without("exp")),
        (
            "bad-signature",
            format!("{head}.{body}.AAAA{}", "B".repeat(39)),
        ),
        (
            "kid-path",
            raw(
                &json!({"alg": "HS256", "typ": "JWT", "kid": "../../etc/passwd"}),
                &good,
                "sig",
            ),
        ),
        (
            "kid-sql",
            raw(
                &json!({"alg": "HS256", "typ": "JWT", "kid": "' OR 1=1 --"}),
                &good,
                "sig",
            ),
        ),
        ("huge", format!("{head}.{}.x", "A".repeat(100_000))),
        ("bad-base64", "@@@.###.$$$".to_string()),
        (
            "bad-json",
            format!("{}.{body}.x", URL_SAFE_NO_PAD.encode("{not json")),
        ),
        ("not-a-jwt", "just-some-opaque-string".to_string()),
    ];
    for (id, bad) in &cases {
        let res = get(&app, "/v1/datasets", bad, id).await;
        let challenge = res
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\", error_description=\""),
            "{id}: {challenge}"
        );
        assert!(!challenge.contains(bad.as_str()) || bad.len() < 8, "{id}");
        let p = assert_problem(res, 401).await;
        assert_eq!(
            p["type"],
            json!("urn:kaifang:problem:invalid-token"),
            "{id}"
        );
    }
    // A token in the query string is refused even when it is valid.
    let res = app
        .client
        .get(app.url("/v1/datasets"))
        .query(&[("access_token", valid.as_str())])
        .header("x-request-id", "in-url")
        .send()
        .await
        .unwrap();
    assert_problem(res, 401).await;

    for (id, _) in cases.iter().chain([("in-url", String::new())].iter()) {
        let r = record(&app, id).await;
        assert_eq!(r["status"], json!(401), "{id}");
        assert_eq!(r["subject"], json!("unauthenticated"), "{id}");
        assert_eq!(r["auth_method"], json!("none"), "{id}");
    }
    // The valid token still works.
    let res = get(&app, "/v1/admin/audit", &valid, "still-good").await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn kaifang_token_signs_what_the_gateway_accepts() {
    let app = app().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kaifang"))
        .args(["token", "--sub", "bob", "--role", "admin", "--ttl", "5m"])
        .env("KAIFANG_JWT_HS256_SECRET", SECRET)
        .env("KAIFANG_JWT_ISSUERS", "https://id.test")
        .env("KAIFANG_JWT_AUDIENCE", "kaifang")
        .env("KAIFANG_DATABASE_URL", &app.database_url)
        .env_remove("KAIFANG_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bob = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let res = get(&app, "/v1/admin/audit", &bob, "bob-1").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(record(&app, "bob-1").await["subject"], json!("user:bob"));
}

#[tokio::test]
async fn an_api_key_is_created_used_listed_without_secret_and_revoked() {
    let app = app().await;
    let slug = DatasetBuilder::new("keyed")
        .with_csv(&app, "a\n1\n2\n")
        .await;
    let res = app
        .admin(app.client.post(app.url("/v1/admin/api-keys")))
        .json(&json!({"owner": "nightly-etl", "roles": ["researcher"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    assert!(key.starts_with(&format!("kfk_{id}_")), "{created}");

    let use_key = |k: String, rid: &'static str| {
        let app = &app;
        let slug = slug.clone();
        async move {
            app.client
                .get(app.url(&format!("/v1/datasets/{slug}/rows")))
                .header("x-api-key", k)
                .header("x-request-id", rid)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(use_key(key.clone(), "key-1").await.status(), StatusCode::OK);
    let r = record(&app, "key-1").await;
    assert_eq!(r["subject"], json!("key:nightly-etl"));
    assert_eq!(r["auth_method"], json!("api_key"));
    assert_eq!(r["key_id"], json!(id));
    assert_eq!(r["roles"], json!(["researcher"]));

    // Listed without the secret, with its last use.
    let res = app
        .admin(app.client.get(app.url("/v1/admin/api-keys")))
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    assert!(!text.contains(&key[key.len() - 20..]), "{text}");
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list["total"], json!(1));
    assert_eq!(list["data"][0]["owner"], json!("nightly-etl"));
    assert!(list["data"][0]["last_used_at"].is_string(), "{list}");
    assert!(list["data"][0].get("key").is_none());
    // Stored hashed: the secret is nowhere in the database.
    let stored = app.sqlite().query("SELECT secret_hash FROM api_keys");
    assert!(!stored[0].contains(&key[key.len() - 20..]));

    // A wrong secret, a made-up key and both headers at once are refused.
    let wrong = format!("{}x", &key[..key.len() - 1]);
    assert_problem(use_key(wrong, "key-2").await, 401).await;
    assert_problem(use_key("kfk_000000000000_nope".into(), "key-3").await, 401).await;
    let res = app
        .client
        .get(app.url("/v1/datasets"))
        .header("x-api-key", &key)
        .bearer_auth(token(&claims("x", &[])))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401).await;

    // Not an administrator: may not manage keys.
    let res = app
        .client
        .get(app.url("/v1/admin/api-keys"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_problem(res, 403).await;

    // Revoked: refused from the next request on.
    let res = app
        .admin(
            app.client
                .delete(app.url(&format!("/v1/admin/api-keys/{id}"))),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let revoked: Value = res.json().await.unwrap();
    assert!(revoked["revoked_at"].is_string());
    assert_problem(use_key(key.clone(), "key-4").await, 401).await;
    let res = app
        .admin(
            app.client
                .delete(app.url("/v1/admin/api-keys/ffffffffffff")),
        )
        .send()
        .await
        .unwrap();
    assert_problem(res, 404).await;
}

#[tokio::test]
async fn an_expired_api_key_is_refused_and_a_past_expiry_cannot_be_set() {
    let app = app().await;
    let res = app
        .admin(app.client.post(app.url("/v1/admin/api-keys")))
        .json(&json!({"owner": "old", "expires_at": "2020-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    let p = assert_problem(res, 400).await;
    assert!(p["detail"].as_str().unwrap().contains("past"), "{p}");
    let res = app
        .admin(app.client.post(app.url("/v1/admin/api-keys")))
        .json(&json!({"owner": "soon", "expires_at": "2099-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    let created: Value = res.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    let ok = app
        .client
        .get(app.url("/v1/datasets"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    // Time passes (the expiry is moved into the past, as a clock would).
    app.sqlite()
        .execute("UPDATE api_keys SET expires_at = '2001-01-01T00:00:00Z';")
        .unwrap();
    let res = app
        .client
        .get(app.url("/v1/datasets"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    let p = assert_problem(res, 401).await;
    assert!(p["detail"].as_str().unwrap().contains("expired"), "{p}");
    for bad in [
        json!({"owner": ""}),
        json!({"owner": "a b"}),
        json!({"owner": "x", "roles": ["no spaces"]}),
    ] {
        let res = app
            .admin(app.client.post(app.url("/v1/admin/api-keys")))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_problem(res, 400).await;
    }
}

#[tokio::test]
async fn a_publisher_reads_only_the_audit_records_of_its_own_datasets() {
    let app = app().await;
    let mine = DatasetBuilder::new("ours")
        .organization("city-stats")
        .with_csv(&app, "a\n1\n")
        .await;
    let theirs = DatasetBuilder::new("theirs")
        .organization("other-agency")
        .with_csv(&app, "a\n2\n")
        .await;
    let reader = token(&claims("reader", &[]));
    for (slug, id) in [(&mine, "r-mine"), (&theirs, "r-theirs")] {
        let res = get(
            &app,
            &format!("/v1/datasets/{slug}/rows?select=a"),
            &reader,
            id,
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let mut publisher = claims("pub", &["publisher"]);
    publisher["org"] = json!("city-stats");
    let publisher = token(&publisher);
    let res = get(&app, "/v1/admin/audit?limit=1000", &publisher, "p-list").await;
    assert_eq!(res.status(), StatusCode::OK);
    let page: Value = res.json().await.unwrap();
    let seen: Vec<&Value> = page["data"].as_array().unwrap().iter().collect();
    assert!(
        seen.iter().any(|r| r["request_id"] == json!("r-mine")),
        "{page}"
    );
    assert!(seen.iter().all(|r| r["dataset"] == json!(mine)), "{page}");
    let mine_read = seen
        .iter()
        .find(|r| r["request_id"] == json!("r-mine"))
        .unwrap();
    assert_eq!(mine_read["subject"], json!("user:reader"));
    assert_eq!(mine_read["query"], json!(r#"{"select":["a"]}"#));
    assert_eq!(mine_read["rows"], json!(1));

    // The export is scoped the same way; verification is not theirs to run.
    let res = get(
        &app,
        "/v1/admin/audit/export?format=ndjson",
        &publisher,
        "p-export",
    )
    .await;
    let text = res.text().await.unwrap();
    assert!(
        !text.contains("r-theirs") && text.contains("r-mine"),
        "{text}"
    );
    assert_problem(
        get(&app, "/v1/admin/audit/verify", &publisher, "p-verify").await,
        403,
    )
    .await;

    // A publisher without an organisation, or anyone else, sees nothing.
    let orgless = token(&claims("pub2", &["publisher"]));
    assert_problem(get(&app, "/v1/admin/audit", &orgless, "p2").await, 403).await;
    // An auditor sees everything.
    let auditor = token(&claims("aud", &["auditor"]));
    let res = get(&app, "/v1/admin/audit?dataset=theirs", &auditor, "a-1").await;
    let page: Value = res.json().await.unwrap();
    assert!(!page["data"].as_array().unwrap().is_empty(), "{page}");
}
