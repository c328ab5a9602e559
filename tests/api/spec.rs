//! The committed OpenAPI document is the one the code generates, and the
//! server serves it.

use crate::helpers::spawn_app;

const REGENERATE: &str = "cargo run -- openapi > openapi/openapi.json";

#[test]
fn committed_spec_matches_the_code() {
    let generated = kaifang::api::openapi()
        .to_pretty_json()
        .expect("render spec");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "openapi/openapi.json is out of date; regenerate it with `{REGENERATE}` and commit it"
    );
}

#[test]
fn every_operation_has_an_id_a_tag_and_problem_errors() {
    let doc: serde_json::Value =
        serde_json::from_str(&kaifang::api::openapi().to_pretty_json().unwrap()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 6);
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["operationId"].is_string(), "{method} {path}");
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path}"
            );
            for (status, resp) in op["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        resp["content"]["application/problem+json"].is_object(),
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn the_server_serves_the_spec_and_the_docs_page() {
    let app = spawn_app().await;
    let res = app.get("/openapi.json").await;
    assert_eq!(res.status(), 200);
    let served: serde_json::Value = res.json().await.unwrap();
    let generated: serde_json::Value =
        serde_json::from_str(&kaifang::api::openapi().to_pretty_json().unwrap()).unwrap();
    assert_eq!(served, generated);
    let page = app.get("/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    // The page's assets come from the binary, not from a CDN.
    assert!(!html.contains("https://"), "docs page loads remote assets");
    let js = app.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(js.status(), 200);
}

fn refs<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v.as_str()) {
                    ("$ref", Some(target)) => out.push(target),
                    _ => refs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves_and_errors_point_at_the_problem_shape() {
    let doc: serde_json::Value =
        serde_json::from_str(&kaifang::api::openapi().to_pretty_json().unwrap()).unwrap();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {target}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{target} does not exist"
        );
    }
    // Two types named Problem once collided and every error pointed at the wrong one.
    let problem = &doc["components"]["schemas"]["Problem"]["properties"];
    for field in ["type", "title", "status", "detail"] {
        assert!(
            problem[field].is_object(),
            "Problem lacks {field}: {problem}"
        );
    }
}
