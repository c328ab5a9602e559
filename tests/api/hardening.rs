//! Hardening over HTTP: security headers on every answer, strict CORS per
//! origin, a limit on the request head, and conditional GET on the catalog
//! listing and the organisation list.

use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_NONE_MATCH};

use crate::helpers::{DatasetBuilder, assert_problem, spawn_app, spawn_app_with};

const PORTAL: &str = "https://portal.example.gov";

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_authenticated_ones_no_store() {
    let app = spawn_app().await;
    for res in [
        app.get("/v1/datasets").await,
        app.get("/no/such/route").await,
        app.get("/healthz").await,
    ] {
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(
            h.get("cache-control").is_none(),
            "anonymous answers may be cached"
        );
    }
    let res = app
        .admin(app.client.get(app.url("/v1/datasets")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    // Also on a refusal of a bad token.
    let res = app
        .client
        .get(app.url("/v1/admin/audit"))
        .bearer_auth("not-a-valid-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    assert_problem(res, 401).await;
}

#[tokio::test]
async fn cors_answers_only_the_configured_origins() {
    let app = spawn_app_with(|s| s.cors_allowed_origins = vec![PORTAL.to_string()]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/v1/datasets"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .header("x-request-id", origin.trim_start_matches("https://"))
            .send()
    };
    let res = preflight(PORTAL).await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers()["access-control-allow-origin"], PORTAL);
    let methods = res.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(methods.contains("GET"), "{methods}");
    let headers = res.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(headers.contains("authorization"), "{headers}");
    let res = preflight("https://evil.example").await.unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert_problem(res, 403).await;

    let res = app
        .client
        .get(app.url("/v1/datasets"))
        .header("origin", PORTAL)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["access-control-allow-origin"], PORTAL);
    let exposed = res.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(exposed.contains("x-request-id"), "{exposed}");
    let res = app
        .client
        .get(app.url("/v1/datasets"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    // Both preflights are on the record.
    let records = app.audit_records().await;
    for (id, status) in [("portal.example.gov", 204), ("evil.example", 403)] {
        let r = records.iter().find(|r| r["request_id"] == id).unwrap();
        assert_eq!(r["status"], status, "{r}");
    }
}

#[tokio::test]
async fn without_configured_origins_no_cors_header_is_sent() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/v1/datasets"))
        .header("origin", PORTAL)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn a_request_head_over_the_limit_is_431_and_audited() {
    let app = spawn_app_with(|s| s.max_header_bytes = 2048).await;
    let res = app
        .client
        .get(app.url("/v1/datasets"))
        .header("x-padding", "a".repeat(3000))
        .header("x-request-id", "big-head")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let problem = assert_problem(res, 431).await;
    assert!(problem["detail"].as_str().unwrap().contains("2048"));
    let records = app.audit_records().await;
    let r = records
        .iter()
        .find(|r| r["request_id"] == "big-head")
        .unwrap();
    assert_eq!(r["status"], 431);
    let res = app
        .client
        .get(app.url("/v1/datasets"))
        .header("x-padding", "a".repeat(500))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_catalog_listing_and_organisations_answer_304_while_unchanged() {
    let app = spawn_app().await;
    DatasetBuilder::new("first").create(&app).await;
    for path in ["/v1/datasets?limit=10", "/v1/organizations"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::OK);
        let etag = res.headers()[ETAG].to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        let res = app
            .client
            .get(app.url(path))
            .header(IF_NONE_MATCH, &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(res.headers()[ETAG].to_str().unwrap(), etag);
        assert!(res.bytes().await.unwrap().is_empty());
        // A change to what the caller sees makes a new ETag.
        DatasetBuilder::new(&format!("more-{}", path.len()))
            .organization(&format!("org-{}", path.len()))
            .create(&app)
            .await;
        let res = app
            .client
            .get(app.url(path))
            .header(IF_NONE_MATCH, &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_ne!(res.headers()[ETAG].to_str().unwrap(), etag);
    }
    // The administrator sees other things than an anonymous caller: another ETag.
    let anonymous = app.get("/v1/datasets").await.headers()[ETAG].clone();
    DatasetBuilder::new("hidden")
        .tier(kaifang::catalog::Tier::Restricted)
        .create(&app)
        .await;
    let admin = app
        .admin(app.client.get(app.url("/v1/datasets")))
        .send()
        .await
        .unwrap();
    assert_ne!(admin.headers()[ETAG], anonymous);
}
