//! Page results kept in memory (`result_cache_mb`): a repeated page is read
//! from the database once, and an answer from memory is exactly the one the
//! database would give now — for a new version, for callers who see the
//! dataset masked or raw, and after its column rules change.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    DatasetBuilder, TestApp, assert_problem, sign_token, spawn_app, spawn_app_with,
};

const SECRET: &str = "result-cache-test-secret-0123456789ab";

const PEOPLE: &str = "id,name,region\n1,Alice,north\n2,Bob,south\n3,Chloé,north\n";

fn current_table(app: &TestApp, slug: &str) -> String {
    let rows = app.sqlite().query(&format!(
        "SELECT v.table_name FROM datasets d JOIN dataset_versions v ON v.id = d.current_version_id WHERE d.slug = '{slug}'"
    ));
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows[0].clone()
}

async fn page(app: &TestApp, slug: &str, params: &[(&str, &str)], bearer: Option<&str>) -> Value {
    let mut req = app
        .client
        .get(app.url(&format!("/v1/datasets/{slug}/rows")))
        .query(params);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn names(page: &Value) -> Vec<&str> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("(none)"))
        .collect()
}

#[tokio::test]
async fn a_repeated_page_is_answered_from_memory_and_without_the_cache_from_the_table() {
    let params = [("filter", "region = 'north'"), ("count", "exact")];
    for (cache_mb, served_from_memory) in [(16, true), (0, false)] {
        let app = spawn_app_with(|s| s.result_cache_mb = cache_mb).await;
        let slug = DatasetBuilder::new("people").with_csv(&app, PEOPLE).await;
        let first = page(&app, &slug, &params, None).await;
        assert_eq!(names(&first), ["Alice", "Chloé"]);
        assert_eq!(first["total"], json!(2));
        // Take the table away behind the gateway's back: only a page that is
        // not read from it again can still be answered.
        let table = current_table(&app, &slug);
        app.sqlite()
            .execute(&format!("DROP TABLE \"{table}\""))
            .unwrap();
        let res = app.get_rows(&slug, &params).await;
        if served_from_memory {
            assert_eq!(res.status(), StatusCode::OK, "cache {cache_mb} MiB");
            assert_eq!(res.json::<Value>().await.unwrap(), first);
        } else {
            assert_problem(res, 409).await;
        }
        // Another page of the same dataset is a statement never run: read
        // from the table, which is gone.
        let res = app.get_rows(&slug, &[("filter", "region = 'south'")]).await;
        assert_problem(res, 409).await;
    }
}

#[tokio::test]
async fn a_new_version_is_read_from_its_own_table_not_from_the_old_ones_results() {
    let app = spawn_app().await;
    let slug = DatasetBuilder::new("people").with_csv(&app, PEOPLE).await;
    let params = [("filter", "region = 'north'"), ("count", "exact")];
    let v1 = page(&app, &slug, &params, None).await;
    assert_eq!(names(&v1), ["Alice", "Chloé"]);

    // The same columns and types: only the table the statement reads changes.
    let res = app
        .upload(
            &slug,
            "id,name,region\n1,Dora,north\n2,Emil,north\n3,Farah,north\n",
            "text/csv",
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let v2 = page(&app, &slug, &params, None).await;
    assert_eq!(names(&v2), ["Dora", "Emil", "Farah"]);
    assert_eq!(v2["total"], json!(3));
}

#[tokio::test]
async fn callers_who_see_a_dataset_differently_never_get_each_others_kept_page() {
    let app = spawn_app_with(|s| s.jwt.hs256_secret = Some(SECRET.to_string())).await;
    let slug = DatasetBuilder::new("people")
        .organization("census")
        .sensitive(&["name"])
        .with_csv(&app, PEOPLE)
        .await;
    let owner = sign_token(SECRET, "pub", &["publisher"], Some("census"));
    let registered = sign_token(SECRET, "reg", &[], None);
    let params = [("order", "id")];

    // Each caller twice, interleaved, raw first so that a shared entry
    // would hand the raw names to the masked caller.
    for _ in 0..2 {
        let raw = page(&app, &slug, &params, Some(&owner)).await;
        assert_eq!(names(&raw), ["Alice", "Bob", "Chloé"]);
        let masked = page(&app, &slug, &params, Some(&registered)).await;
        assert_eq!(names(&masked), ["A***e", "***", "C***é"]);
        let anonymous = page(&app, &slug, &params, None).await;
        assert_eq!(anonymous, masked);
    }

    // A column rule changed at run time applies to the next page at once.
    let res = app
        .admin(
            app.client
                .put(app.url(&format!("/v1/admin/datasets/{slug}/column-rules"))),
        )
        .json(&json!({"rules": [
            {"role": "registered", "columns": {"name": "hide"}, "row_filter": "region = 'south'"}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let hidden = page(&app, &slug, &params, Some(&registered)).await;
    assert_eq!(hidden["data"], json!([{"id": 2, "region": "south"}]));
    let raw = page(&app, &slug, &params, Some(&owner)).await;
    assert_eq!(names(&raw), ["Alice", "Bob", "Chloé"]);
}
