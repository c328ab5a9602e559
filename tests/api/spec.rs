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
    let areas: Vec<&serde_json::Value> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["name"])
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            // Ids are handler names, `<verb>_<resource>`: generated clients name methods after them.
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(
                id.contains('_') && id.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{method} {path}: operation id '{id}'"
            );
            assert!(
                ids.insert(id),
                "{method} {path}: operation id '{id}' used twice"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path}"
            );
            for tag in op["tags"].as_array().unwrap() {
                assert!(
                    areas.contains(&tag),
                    "{method} {path}: undeclared tag {tag}"
                );
            }
            // Security is stated per operation; `{}` among the options means anonymous too.
            assert!(
                op["security"].as_array().is_some_and(|s| !s.is_empty()),
                "{method} {path} declares no security"
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

fn reference(schema: &serde_json::Value) -> Option<&str> {
    schema.get("$ref").and_then(|r| r.as_str())
}

fn has_example(schema: &serde_json::Value) -> bool {
    schema.get("example").is_some() || schema.get("examples").is_some()
}

/// The component a property stands for when it is only a reference: `$ref` itself, an
/// array of it, or `oneOf` it and null (an `Option`). utoipa cannot put an example beside a
/// `$ref`; such a property's example is its component's, which is checked on its own.
fn referenced(schema: &serde_json::Value) -> Option<&str> {
    if let Some(target) = reference(schema) {
        return Some(target);
    }
    if let Some(target) = schema.get("items").and_then(reference) {
        return Some(target);
    }
    match schema
        .get("oneOf")
        .and_then(|m| m.as_array())
        .map(Vec::as_slice)
    {
        Some([a, b]) if b["type"] == "null" => reference(a),
        Some([a, b]) if a["type"] == "null" => reference(b),
        _ => None,
    }
}

/// Every property of `schema` (and of its inline `allOf`/`oneOf`/`anyOf` members and
/// nested objects) that lacks a description or an example, as `where: what`.
fn undocumented_properties(at: &str, schema: &serde_json::Value, out: &mut Vec<String>) {
    for key in ["allOf", "oneOf", "anyOf"] {
        for member in schema[key].as_array().into_iter().flatten() {
            undocumented_properties(at, member, out);
        }
    }
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        let at = format!("{at}.{name}");
        if property.get("description").is_none() {
            out.push(format!("{at}: no description"));
        }
        if !has_example(property) && referenced(property).is_none() {
            out.push(format!("{at}: no example"));
        }
        undocumented_properties(&at, property, out);
    }
}

#[test]
fn every_schema_field_and_parameter_has_a_description_and_an_example() {
    let doc: serde_json::Value =
        serde_json::from_str(&kaifang::api::openapi().to_pretty_json().unwrap()).unwrap();
    let mut missing = Vec::new();
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        undocumented_properties(name, schema, &mut missing);
        // A component without fields (an enum, a scalar) is itself a leaf.
        let composite = ["properties", "allOf", "oneOf", "anyOf"]
            .iter()
            .any(|key| schema.get(*key).is_some());
        if !composite {
            if schema.get("description").is_none() {
                missing.push(format!("{name}: no description"));
            }
            if !has_example(schema) {
                missing.push(format!("{name}: no example"));
            }
        }
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for param in op["parameters"].as_array().into_iter().flatten() {
                let at = format!(
                    "{method} {path} {} parameter {}",
                    param["in"], param["name"]
                );
                if param.get("description").is_none() {
                    missing.push(format!("{at}: no description"));
                }
                if !has_example(param) && !has_example(&param["schema"]) {
                    missing.push(format!("{at}: no example"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} fields and parameters lack a description (a `///` line) or an example \
         (`#[schema(example = ..)]`, `#[param(example = ..)]`):\n{}",
        missing.len(),
        missing.join("\n")
    );
}
