//! The catalog as callers see it: the dataset listing with paging, filters
//! and search; what each tier shows to anonymous callers and to the admin;
//! a dataset's metadata; and the organisations with their dataset counts.

// Helpers outside the test functions panic on purpose too: a failed
// expectation is a failed test.
#![allow(clippy::expect_used)]

use kaifang::catalog::Tier;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{DatasetBuilder, TestApp, assert_problem, spawn_app};

async fn json_of(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.expect("body");
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}

/// GET `path` anonymously, asserting 200, and return the body.
async fn get_ok(app: &TestApp, path: &str) -> Value {
    let (status, body) = json_of(app.get(path).await).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// GET `path` as the admin, asserting 200, and return the body.
async fn admin_get_ok(app: &TestApp, path: &str) -> Value {
    let res = app
        .admin(app.client.get(app.url(path)))
        .send()
        .await
        .expect("request");
    let (status, body) = json_of(res).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

fn slugs(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|d| d["slug"].as_str().expect("slug").to_string())
        .collect()
}

/// Creates a dataset from a full metadata body, asserting 201.
async fn create(app: &TestApp, body: Value) -> Value {
    let res = app
        .admin(app.client.post(app.url("/v1/datasets")))
        .json(&body)
        .send()
        .await
        .expect("request");
    let (status, created) = json_of(res).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

/// A small catalog: five open datasets over two organisations, with tags,
/// titles and descriptions to search.
async fn seed(app: &TestApp) {
    create(
        app,
        json!({"slug": "nyc-flights", "title": "NYC Flights 2013", "organization": "us-dot-bts",
               "description": "On-time record of every departure from New York airports.",
               "tags": ["transport", "aviation"]}),
    )
    .await;
    create(
        app,
        json!({"slug": "nyc-weather", "title": "Airport weather", "organization": "noaa",
               "description": "Hourly observations at NYC stations.",
               "tags": ["weather", "climate"]}),
    )
    .await;
    create(
        app,
        json!({"slug": "planes", "title": "Aircraft registry", "organization": "us-dot-bts",
               "description": "Tail numbers and models.", "tags": ["aviation"]}),
    )
    .await;
    create(
        app,
        json!({"slug": "communes", "title": "Communes de France", "organization": "insee",
               "description": "Code officiel géographique.", "tags": ["geography"]}),
    )
    .await;
    create(
        app,
        json!({"slug": "census", "title": "ACS sample", "organization": "us-census",
               "description": "Income and employment of 2,000 respondents.",
               "tags": ["demography"]}),
    )
    .await;
}

#[tokio::test]
async fn listing_pages_with_limit_and_offset_and_reports_the_total() {
    let app = spawn_app().await;
    seed(&app).await;
    let all = get_ok(&app, "/v1/datasets").await;
    assert_eq!(
        slugs(&all),
        ["census", "communes", "nyc-flights", "nyc-weather", "planes"],
        "ordered by slug"
    );
    assert_eq!(all["total"], json!(5));
    assert_eq!(all["limit"], json!(50));
    assert_eq!(all["offset"], json!(0));

    let first = get_ok(&app, "/v1/datasets?limit=2").await;
    assert_eq!(slugs(&first), ["census", "communes"]);
    assert_eq!(first["total"], json!(5));
    let second = get_ok(&app, "/v1/datasets?limit=2&offset=2").await;
    assert_eq!(slugs(&second), ["nyc-flights", "nyc-weather"]);
    let last = get_ok(&app, "/v1/datasets?limit=2&offset=4").await;
    assert_eq!(slugs(&last), ["planes"]);
    assert_eq!(last["offset"], json!(4));
    let past = get_ok(&app, "/v1/datasets?limit=2&offset=10").await;
    assert_eq!(past["data"], json!([]));
    assert_eq!(past["total"], json!(5));

    for bad in ["limit=0", "limit=501", "limit=-1", "offset=x", "colour=red"] {
        let problem = assert_problem(app.get(&format!("/v1/datasets?{bad}")).await, 400).await;
        assert!(problem["detail"].as_str().is_some(), "{bad}");
    }
}

#[tokio::test]
async fn listing_filters_by_organization_tag_and_tier() {
    let app = spawn_app().await;
    seed(&app).await;
    DatasetBuilder::new("cond-data")
        .tier(Tier::Conditional)
        .organization("us-dot-bts")
        .tags(&["aviation"])
        .create(&app)
        .await;

    let bts = get_ok(&app, "/v1/datasets?organization=us-dot-bts").await;
    assert_eq!(slugs(&bts), ["cond-data", "nyc-flights", "planes"]);
    assert_eq!(bts["total"], json!(3));
    for d in bts["data"].as_array().expect("data") {
        assert_eq!(d["organization"], json!("us-dot-bts"));
    }

    let aviation = get_ok(&app, "/v1/datasets?tag=aviation").await;
    assert_eq!(slugs(&aviation), ["cond-data", "nyc-flights", "planes"]);
    let weather = get_ok(&app, "/v1/datasets?tag=weather").await;
    assert_eq!(slugs(&weather), ["nyc-weather"]);
    // A tag filter is exact, not a substring search.
    let partial = get_ok(&app, "/v1/datasets?tag=avia").await;
    assert_eq!(partial["total"], json!(0));

    let conditional = get_ok(&app, "/v1/datasets?tier=conditional").await;
    assert_eq!(slugs(&conditional), ["cond-data"]);
    assert_eq!(conditional["data"][0]["tier"], json!("conditional"));
    let open = get_ok(&app, "/v1/datasets?tier=open&organization=us-dot-bts").await;
    assert_eq!(slugs(&open), ["nyc-flights", "planes"]);
    let combined = get_ok(&app, "/v1/datasets?tag=aviation&organization=noaa").await;
    assert_eq!(combined["total"], json!(0));
    assert_eq!(combined["data"], json!([]));

    let nobody = get_ok(&app, "/v1/datasets?organization=nobody").await;
    assert_eq!(nobody["total"], json!(0));
    let problem = assert_problem(app.get("/v1/datasets?tier=secret").await, 400).await;
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("`open`, `conditional`, `restricted`"),
        "{problem}"
    );
}

#[tokio::test]
async fn search_matches_title_description_and_tags_ignoring_case_with_every_word_required() {
    let app = spawn_app().await;
    seed(&app).await;
    let search = |q: &'static str| {
        let app = &app;
        async move {
            let url = reqwest::Url::parse_with_params(&app.url("/v1/datasets"), &[("q", q)])
                .expect("url");
            let (status, body) = json_of(app.client.get(url).send().await.expect("req")).await;
            assert_eq!(status, StatusCode::OK, "{q}: {body}");
            assert_eq!(
                body["total"].as_u64().map(|t| t as usize),
                body["data"].as_array().map(Vec::len),
                "{q}"
            );
            slugs(&body)
        }
    };
    // Title, any case.
    assert_eq!(search("FLIGHTS").await, ["nyc-flights"]);
    assert_eq!(search("communes").await, ["communes"]);
    // Description.
    assert_eq!(search("tail numbers").await, ["planes"]);
    assert_eq!(search("EMPLOYMENT").await, ["census"]);
    // Tags.
    assert_eq!(search("Aviation").await, ["nyc-flights", "planes"]);
    assert_eq!(search("climate").await, ["nyc-weather"]);
    // Every word must match, each in any of the fields.
    assert_eq!(search("nyc").await, ["nyc-flights", "nyc-weather"]);
    assert_eq!(search("NYC weather").await, ["nyc-weather"]);
    assert_eq!(search("aviation registry").await, ["planes"]);
    assert_eq!(search("  hourly   stations ").await, ["nyc-weather"]);
    assert_eq!(search("flights weather").await, Vec::<String>::new());
    // LIKE wildcards are literal characters.
    assert_eq!(search("%").await, Vec::<String>::new());
    assert_eq!(search("_").await, Vec::<String>::new());
    assert_eq!(search("2,000").await, ["census"]);
    // Search combines with filters.
    let url = "/v1/datasets?q=aviation&organization=us-dot-bts&limit=1";
    let page = get_ok(&app, url).await;
    assert_eq!(slugs(&page), ["nyc-flights"]);
    assert_eq!(page["total"], json!(2));
}

#[tokio::test]
async fn search_ignores_the_case_of_accented_letters() {
    let app = spawn_app().await;
    create(
        &app,
        json!({"slug": "elections", "title": "Élections municipales", "organization": "interieur",
               "description": "Résultats par commune.", "tags": ["élections"]}),
    )
    .await;
    for q in [
        "élections",
        "ÉLECTIONS",
        "Élections",
        "RÉSULTATS",
        "résultats",
    ] {
        let url =
            reqwest::Url::parse_with_params(&app.url("/v1/datasets"), &[("q", q)]).expect("url");
        let (status, body) = json_of(app.client.get(url).send().await.expect("req")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(slugs(&body), ["elections"], "q={q}");
    }
}

/// Two open datasets and one restricted one, the latter alone in its
/// organisation and sharing a tag and a title word with an open one.
async fn seed_restricted(app: &TestApp) {
    DatasetBuilder::new("open-one")
        .organization("city")
        .tags(&["budget"])
        .title("City budget")
        .with_csv(app, "a\n1\n")
        .await;
    DatasetBuilder::new("open-two")
        .organization("secret-agency")
        .title("Public report")
        .create(app)
        .await;
    DatasetBuilder::new("hidden")
        .tier(Tier::Restricted)
        .organization("secret-agency")
        .tags(&["budget"])
        .title("City budget internals")
        .with_csv(app, "a\n42\n")
        .await;
}

#[tokio::test]
async fn restricted_datasets_never_appear_for_anonymous_callers() {
    let app = spawn_app().await;
    seed_restricted(&app).await;
    for path in [
        "/v1/datasets",
        "/v1/datasets?tier=restricted",
        "/v1/datasets?organization=secret-agency",
        "/v1/datasets?tag=budget",
        "/v1/datasets?q=budget",
        "/v1/datasets?q=internals",
        "/v1/datasets?limit=1&offset=2",
    ] {
        let list = get_ok(&app, path).await;
        assert!(
            !slugs(&list).contains(&"hidden".to_string()),
            "{path}: {list}"
        );
        let visible = match path {
            "/v1/datasets" => 2,
            "/v1/datasets?organization=secret-agency" => 1,
            "/v1/datasets?tag=budget" | "/v1/datasets?q=budget" => 1,
            "/v1/datasets?limit=1&offset=2" => 2,
            _ => 0,
        };
        assert_eq!(list["total"], json!(visible), "{path}: {list}");
    }
    let orgs = get_ok(&app, "/v1/organizations").await;
    let counts: Vec<(String, i64)> = orgs["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|o| {
            (
                o["slug"].as_str().expect("slug").to_string(),
                o["datasets"].as_i64().expect("count"),
            )
        })
        .collect();
    assert!(counts.contains(&("city".to_string(), 1)), "{orgs}");
    assert!(counts.contains(&("secret-agency".to_string(), 1)), "{orgs}");
}

#[tokio::test]
async fn anonymous_caller_gets_404_for_restricted_dataset_shaped_like_a_missing_one() {
    let app = spawn_app().await;
    seed_restricted(&app).await;
    let shape = |mut v: Value, slug: &str| {
        let obj = v.as_object_mut().expect("object");
        let instance = obj.remove("instance").expect("instance");
        assert!(instance.as_str().is_some_and(|s| !s.is_empty()));
        let detail = obj["detail"]
            .as_str()
            .expect("detail")
            .replace(slug, "SLUG");
        obj.insert("detail".into(), json!(detail));
        v
    };
    for suffix in ["", "/rows", "/export"] {
        let hidden = app.get(&format!("/v1/datasets/hidden{suffix}")).await;
        let hidden_ct = hidden.headers().get("content-type").cloned();
        let hidden = assert_problem(hidden, 404).await;
        let missing = app.get(&format!("/v1/datasets/hiddem{suffix}")).await;
        let missing_ct = missing.headers().get("content-type").cloned();
        let missing = assert_problem(missing, 404).await;
        assert_eq!(hidden_ct, missing_ct);
        assert_eq!(
            shape(hidden, "hidden"),
            shape(missing, "hiddem"),
            "{suffix}"
        );
    }
    let res = app.query("hidden", &json!({})).await;
    let problem = assert_problem(res, 404).await;
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("no dataset named 'hidden'"),
        "{problem}"
    );
}

#[tokio::test]
async fn admin_sees_restricted_datasets_in_lists_counts_and_reads() {
    let app = spawn_app().await;
    seed_restricted(&app).await;
    let list = admin_get_ok(&app, "/v1/datasets").await;
    assert_eq!(slugs(&list), ["hidden", "open-one", "open-two"]);
    assert_eq!(list["total"], json!(3));
    let searched = admin_get_ok(&app, "/v1/datasets?q=internals").await;
    assert_eq!(slugs(&searched), ["hidden"]);
    let tiered = admin_get_ok(&app, "/v1/datasets?tier=restricted").await;
    assert_eq!(tiered["data"][0]["tier"], json!("restricted"));

    let meta = admin_get_ok(&app, "/v1/datasets/hidden").await;
    assert_eq!(meta["tier"], json!("restricted"));
    assert_eq!(meta["row_count"], json!(1));
    let rows = admin_get_ok(&app, "/v1/datasets/hidden/rows").await;
    assert_eq!(rows["data"], json!([{"a": 42}]));

    let orgs = admin_get_ok(&app, "/v1/organizations").await;
    let agency = orgs["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|o| o["slug"] == json!("secret-agency"))
        .expect("agency")
        .clone();
    assert_eq!(agency["datasets"], json!(2));
}

#[tokio::test]
async fn conditional_dataset_shows_metadata_but_refuses_rows_and_export_saying_how_to_apply() {
    let app = spawn_app().await;
    DatasetBuilder::new("health")
        .tier(Tier::Conditional)
        .organization("ministry")
        .with_csv(&app, "region,cases\nnorth,12\nsouth,7\n")
        .await;

    let meta = get_ok(&app, "/v1/datasets/health").await;
    assert_eq!(meta["tier"], json!("conditional"));
    assert_eq!(meta["row_count"], json!(2));
    assert_eq!(
        meta["columns"],
        json!([{"name": "region", "type": "text"}, {"name": "cases", "type": "integer"}])
    );
    let list = get_ok(&app, "/v1/datasets").await;
    assert_eq!(slugs(&list), ["health"]);

    let responses = [
        app.get_rows("health", &[]).await,
        app.export("health", &[]).await,
        app.export("health", &[("format", "ndjson")]).await,
        app.query("health", &json!({"select": ["region"]})).await,
    ];
    for res in responses {
        let problem = assert_problem(res, 403).await;
        let detail = problem["detail"].as_str().expect("detail");
        assert!(detail.contains("access request"), "{detail}");
        assert!(detail.contains("/v1/datasets/health"), "{detail}");
        assert!(!detail.contains("north"), "{detail}");
    }
    // The admin reads the data.
    let rows = admin_get_ok(&app, "/v1/datasets/health/rows").await;
    assert_eq!(rows["data"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn dataset_metadata_shows_columns_types_row_count_versions_licence_and_tags() {
    let app = spawn_app().await;
    let created = create(
        &app,
        json!({"slug": "weather-small", "title": "  Weather sample ", "organization": "noaa",
               "description": "Three observations.", "licence": "CC0 1.0",
               "tags": ["weather", " climate ", "weather"], "tier": "open",
               "sensitive_columns": ["station"]}),
    )
    .await;
    assert_eq!(created["title"], json!("Weather sample"));
    assert_eq!(created["tags"], json!(["climate", "weather"]));
    assert_eq!(created["row_count"], Value::Null);
    assert_eq!(created["versions"], json!([]));

    let csv = "station,temp,calm,day,at\nEWR,39.02,true,2013-01-01,2013-01-01T06:00:00Z\n\
               JFK,,false,2013-01-02,2013-01-02T06:00:00Z\nLGA,-3.5,,2013-01-03,2013-01-03T06:00:00Z\n";
    let res = app.upload("weather-small", csv, "text/csv").await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let meta = get_ok(&app, "/v1/datasets/weather-small").await;
    assert_eq!(meta["slug"], json!("weather-small"));
    assert_eq!(meta["title"], json!("Weather sample"));
    assert_eq!(meta["description"], json!("Three observations."));
    assert_eq!(meta["organization"], json!("noaa"));
    assert_eq!(meta["licence"], json!("CC0 1.0"));
    assert_eq!(meta["tags"], json!(["climate", "weather"]));
    assert_eq!(meta["tier"], json!("open"));
    assert_eq!(meta["sensitive_columns"], json!(["station"]));
    assert_eq!(meta["row_count"], json!(3));
    assert_eq!(
        meta["columns"],
        json!([
            {"name": "station", "type": "text"},
            {"name": "temp", "type": "real"},
            {"name": "calm", "type": "boolean"},
            {"name": "day", "type": "date"},
            {"name": "at", "type": "timestamp"}
        ])
    );
    let version = &meta["version"];
    assert_eq!(version["number"], json!(1));
    assert_eq!(version["row_count"], json!(3));
    assert_eq!(version["source_bytes"], json!(csv.len()));
    assert_eq!(version["source_name"], json!("upload.csv"));
    assert_eq!(version["imported_by"], json!("admin"));
    assert_eq!(version["source_sha256"].as_str().map(str::len), Some(64));
    assert_eq!(version["indexed"], json!(["station", "calm", "day", "at"]));
    assert_eq!(meta["versions"], json!([version.clone()]));
    for time in [
        &meta["created_at"],
        &meta["updated_at"],
        &version["imported_at"],
    ] {
        let t = time.as_str().expect("time");
        assert!(t.len() == 20 && t.ends_with('Z'), "{t}");
    }
    // The listing shows the same summary.
    let list = get_ok(&app, "/v1/datasets").await;
    let summary = &list["data"][0];
    for key in [
        "slug",
        "title",
        "description",
        "organization",
        "licence",
        "tags",
        "tier",
        "row_count",
        "updated_at",
    ] {
        assert_eq!(summary[key], meta[key], "{key}");
    }
}

#[tokio::test]
async fn dataset_without_data_yet_answers_rows_query_and_export_with_409() {
    let app = spawn_app().await;
    DatasetBuilder::new("pending").create(&app).await;
    let meta = get_ok(&app, "/v1/datasets/pending").await;
    assert_eq!(meta["row_count"], Value::Null);
    assert_eq!(meta["version"], Value::Null);
    assert_eq!(meta["columns"], json!([]));
    assert_eq!(meta["versions"], json!([]));
    let responses = [
        app.get_rows("pending", &[]).await,
        app.export("pending", &[]).await,
        app.query("pending", &json!({})).await,
    ];
    for res in responses {
        let problem = assert_problem(res, 409).await;
        let detail = problem["detail"].as_str().expect("detail");
        assert!(detail.contains("no data yet"), "{detail}");
        assert!(detail.contains("PUT /v1/datasets/pending/data"), "{detail}");
    }
}

#[tokio::test]
async fn unknown_dataset_is_404_naming_the_listing() {
    let app = spawn_app().await;
    for path in ["/v1/datasets/nothing-here", "/v1/datasets/Not%20A%20Slug"] {
        let problem = assert_problem(app.get(path).await, 404).await;
        assert!(
            problem["detail"]
                .as_str()
                .expect("detail")
                .contains("GET /v1/datasets"),
            "{problem}"
        );
    }
}

#[tokio::test]
async fn organizations_are_listed_by_slug_with_their_dataset_counts() {
    let app = spawn_app().await;
    seed(&app).await;
    let orgs = get_ok(&app, "/v1/organizations").await;
    assert_eq!(orgs["total"], json!(4));
    assert_eq!(
        orgs["data"],
        json!([
            {"slug": "insee", "name": "insee", "description": "", "datasets": 1},
            {"slug": "noaa", "name": "noaa", "description": "", "datasets": 1},
            {"slug": "us-census", "name": "us-census", "description": "", "datasets": 1},
            {"slug": "us-dot-bts", "name": "us-dot-bts", "description": "", "datasets": 2},
        ])
    );
    let page = get_ok(&app, "/v1/organizations?limit=1&offset=3").await;
    assert_eq!(page["data"][0]["slug"], json!("us-dot-bts"));
    assert_eq!(page["total"], json!(4));
    assert_eq!(page["limit"], json!(1));
    assert_eq!(page["offset"], json!(3));
    assert_problem(app.get("/v1/organizations?limit=0").await, 400).await;

    // Counts follow what the caller may see.
    DatasetBuilder::new("closed")
        .tier(Tier::Conditional)
        .organization("noaa")
        .create(&app)
        .await;
    let orgs = get_ok(&app, "/v1/organizations").await;
    assert_eq!(orgs["data"][1]["datasets"], json!(2));
}
