//! Column masks and row filters over real HTTP: callers outside a dataset's
//! organisation see sensitive columns masked on every path (rows, query,
//! aggregates, exports, cursors, counts) while its publishers and admins see
//! them raw; hashes join across datasets; hidden columns vanish, metadata
//! included; probing a protected column is refused and leaves no value in
//! the audit log; row filters with principal attributes limit every answer.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{DatasetBuilder, TestApp, assert_problem, spawn_app_with};
use kaifang::auth::jwt::sign_hs256;

const SECRET: &str = "masks-test-secret-0123456789abcdef01";

const PEOPLE: &str = "\
id,name,income,born,citizen,state,tailnum,region
1,Alice,54321,1980-06-17,true,CA,N14228,north
2,Bob,-7,1975-01-02,false,NY,N24211,south
3,Zoë,,1990-12-31,,CA,N14228,north
4,Émile,123456,1985-03-04,true,TX,N619AA,south
";

const PLANES: &str = "\
tailnum,seats
N14228,149
N24211,55
N999ZZ,2
";

fn token(sub: &str, roles: &[&str], org: Option<&str>, extra: Value) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({"sub": sub, "roles": roles, "iat": now, "exp": now + 600});
    if let Some(org) = org {
        claims["org"] = json!(org);
    }
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    sign_hs256(SECRET.as_bytes(), &claims).unwrap()
}

struct Callers {
    registered: String,
    owner: String,
    other_publisher: String,
}

async fn app() -> (TestApp, Callers) {
    let app = spawn_app_with(|s| s.jwt.hs256_secret = Some(SECRET.to_string())).await;
    DatasetBuilder::new("people")
        .organization("census")
        .sensitive(&["name", "income", "born", "citizen", "tailnum"])
        .with_csv(&app, PEOPLE)
        .await;
    let callers = Callers {
        registered: token("reg", &[], None, json!({})),
        owner: token("pub", &["publisher"], Some("census"), json!({})),
        other_publisher: token("pub2", &["publisher"], Some("faa"), json!({})),
    };
    (app, callers)
}

async fn send(
    app: &TestApp,
    req: reqwest::RequestBuilder,
    bearer: Option<&str>,
) -> reqwest::Response {
    let req = match bearer {
        Some(b) => req.bearer_auth(b),
        None => req,
    };
    let _ = app;
    req.send().await.unwrap()
}

async fn rows(app: &TestApp, slug: &str, params: &[(&str, &str)], bearer: Option<&str>) -> Value {
    let req = app
        .client
        .get(app.url(&format!("/v1/datasets/{slug}/rows")))
        .query(params);
    let res = send(app, req, bearer).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn post(app: &TestApp, slug: &str, body: &Value, bearer: Option<&str>) -> reqwest::Response {
    let req = app
        .client
        .post(app.url(&format!("/v1/datasets/{slug}/query")))
        .json(body);
    send(app, req, bearer).await
}

async fn export(
    app: &TestApp,
    slug: &str,
    params: &[(&str, &str)],
    bearer: Option<&str>,
) -> String {
    let req = app
        .client
        .get(app.url(&format!("/v1/datasets/{slug}/export")))
        .query(params);
    let res = send(app, req, bearer).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    text
}

async fn set_rules(app: &TestApp, slug: &str, rules: Value) -> reqwest::Response {
    app.admin(
        app.client
            .put(app.url(&format!("/v1/admin/datasets/{slug}/column-rules"))),
    )
    .json(&json!({ "rules": rules }))
    .send()
    .await
    .unwrap()
}

async fn set_rules_ok(app: &TestApp, slug: &str, rules: Value) -> Value {
    let res = set_rules(app, slug, rules).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn first(page: &Value) -> &Value {
    &page["data"][0]
}

#[tokio::test]
async fn outsiders_see_sensitive_columns_masked_on_every_path_and_owners_and_admins_see_them_raw() {
    let (app, c) = app().await;
    let order = [("order", "id")];

    // Rows, for anonymous, registered and another organisation's publisher.
    for bearer in [
        None,
        Some(c.registered.as_str()),
        Some(c.other_publisher.as_str()),
    ] {
        let page = rows(
            &app,
            "people",
            &[("order", "id"), ("count", "exact")],
            bearer,
        )
        .await;
        let r = first(&page);
        assert_eq!(r["name"], json!("A***e"), "{page}");
        assert_eq!(r["income"], json!(50000));
        assert_eq!(r["born"], json!("1980-06-01"));
        assert_eq!(r["citizen"], Value::Null);
        assert_eq!(r["tailnum"], json!("N****8"));
        assert_eq!(r["state"], json!("CA"), "non-sensitive columns stay raw");
        assert_eq!(page["data"][1]["income"], json!(-10));
        assert_eq!(page["data"][2]["name"], json!("***"));
        assert_eq!(page["data"][2]["income"], Value::Null);
        assert_eq!(page["data"][3]["name"], json!("É***e"));
        assert_eq!(page["data"][3]["income"], json!(100000));
        assert_eq!(page["total"], json!(4), "counts are unchanged by masks");
    }
    // The owning organisation's publisher and an admin see raw values.
    let page = rows(&app, "people", &order, Some(&c.owner)).await;
    assert_eq!(first(&page)["name"], json!("Alice"));
    assert_eq!(first(&page)["income"], json!(54321));
    assert_eq!(first(&page)["citizen"], json!(true));
    let admin = app
        .admin(app.client.get(app.url("/v1/datasets/people/rows")))
        .query(&order)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(first(&admin)["born"], json!("1980-06-17"));

    // Typed query.
    let res = post(
        &app,
        "people",
        &json!({"select": ["id", "name", "income"], "order": [{"column": "id"}]}),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        first(&body),
        &json!({"id": 1, "name": "A***e", "income": 50000})
    );
    let res = post(
        &app,
        "people",
        &json!({"select": ["name"], "order": [{"column": "id"}]}),
        Some(&c.owner),
    )
    .await;
    assert_eq!(
        first(&res.json::<Value>().await.unwrap())["name"],
        json!("Alice")
    );

    // Aggregates: count of rows and grouping by raw columns work; over a masked column: 403.
    let res = post(&app, "people", &json!({"group_by": ["state"], "aggregates": [{"function": "count"}], "order": [{"column": "state"}]}), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(first(&body), &json!({"state": "CA", "count": 2}));
    for f in ["sum", "avg", "min", "max", "count"] {
        let res = post(
            &app,
            "people",
            &json!({"aggregates": [{"function": f, "column": "income"}]}),
            None,
        )
        .await;
        let p = assert_problem(res, 403).await;
        assert!(p["detail"].as_str().unwrap().contains("'income'"), "{p}");
    }
    let res = post(
        &app,
        "people",
        &json!({"aggregates": [{"function": "sum", "column": "income"}]}),
        Some(&c.owner),
    )
    .await;
    assert_eq!(
        first(&res.json::<Value>().await.unwrap())["sum_income"],
        json!(54321 - 7 + 123456)
    );

    // Exports.
    let csv = export(&app, "people", &[("format", "csv"), ("order", "id")], None).await;
    assert!(
        csv.starts_with("id,name,income,born,citizen,state,tailnum,region\n"),
        "{csv}"
    );
    assert!(
        csv.contains("1,A***e,50000,1980-06-01,,CA,N****8,north\n"),
        "{csv}"
    );
    for raw in ["Alice", "54321", "1980-06-17", "N14228", "Émile"] {
        assert!(!csv.contains(raw), "{raw} in {csv}");
    }
    let ndjson = export(
        &app,
        "people",
        &[("format", "ndjson"), ("order", "id")],
        Some(&c.registered),
    )
    .await;
    let lines: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["name"], json!("A***e"));
    assert!(
        !ndjson.contains("Alice") && !ndjson.contains("123456"),
        "{ndjson}"
    );
    let own_csv = export(&app, "people", &[("format", "csv")], Some(&c.owner)).await;
    assert!(
        own_csv.contains("Alice") && own_csv.contains("54321"),
        "{own_csv}"
    );

    // Cursors: page 2 is masked too, and no cursor carries a raw value.
    let p1 = rows(&app, "people", &[("order", "state"), ("limit", "2")], None).await;
    let cursor = p1["next_cursor"].as_str().unwrap().to_string();
    let payload = cursor.split('.').next().unwrap();
    let decoded = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    for raw in ["Alice", "54321", "Zo", "N14228"] {
        assert!(!decoded.contains(raw), "{decoded}");
    }
    let p2 = rows(
        &app,
        "people",
        &[("order", "state"), ("limit", "2"), ("cursor", &cursor)],
        None,
    )
    .await;
    let names: Vec<&Value> = p2["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["name"])
        .collect();
    assert_eq!(names, vec![&json!("***"), &json!("É***e")]);
    let res = app
        .get_rows("people", &[("order", "income"), ("limit", "2")])
        .await;
    assert_problem(res, 403).await;

    // The metadata says which columns the caller sees masked.
    let meta: Value = app.get("/v1/datasets/people").await.json().await.unwrap();
    assert_eq!(meta["masked_columns"]["income"], json!("mask"), "{meta}");
    assert!(meta["masked_columns"].get("state").is_none());
    let own: Value = send(
        &app,
        app.client.get(app.url("/v1/datasets/people")),
        Some(&c.owner),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(own["masked_columns"], json!({}));
}

#[tokio::test]
async fn hashed_values_are_equal_across_datasets_for_the_same_raw_value() {
    let (app, _) = app().await;
    DatasetBuilder::new("planes")
        .organization("faa")
        .sensitive(&["tailnum"])
        .with_csv(&app, PLANES)
        .await;
    for slug in ["people", "planes"] {
        set_rules_ok(
            &app,
            slug,
            json!([{"role": "anonymous", "columns": {"tailnum": "hash"}}]),
        )
        .await;
    }
    let people = rows(
        &app,
        "people",
        &[("order", "id"), ("select", "id,tailnum")],
        None,
    )
    .await;
    let planes = rows(&app, "planes", &[("select", "tailnum,seats")], None).await;
    let h = |v: &Value| v["tailnum"].as_str().unwrap().to_string();
    let p: Vec<String> = people["data"].as_array().unwrap().iter().map(h).collect();
    let q: Vec<String> = planes["data"].as_array().unwrap().iter().map(h).collect();
    assert_eq!(p[0].len(), 32);
    assert!(p[0].bytes().all(|b| b.is_ascii_hexdigit()), "{}", p[0]);
    assert_eq!(p[0], p[2], "same raw value, same hash");
    assert_eq!(p[0], q[0], "N14228 hashes alike in both datasets");
    assert_eq!(p[1], q[1], "N24211 too");
    assert_ne!(p[0], p[1]);
    assert!(!p.iter().chain(&q).any(|h| h.starts_with('N')));
    // Filtering or ordering by a hashed column is refused like a masked one.
    let res = app
        .get_rows("planes", &[("filter", "tailnum = 'N14228'")])
        .await;
    let body = assert_problem(res, 403).await;
    assert!(
        body["detail"].as_str().unwrap().contains("hashed"),
        "{body}"
    );
}

#[tokio::test]
async fn hidden_columns_are_absent_from_rows_exports_and_metadata() {
    let (app, c) = app().await;
    set_rules_ok(
        &app,
        "people",
        json!([{"role": "anonymous", "columns": {"income": "hide", "state": "hide"}}]),
    )
    .await;
    let page = rows(&app, "people", &[("order", "id")], None).await;
    let r = first(&page).as_object().unwrap();
    assert!(
        !r.contains_key("income") && !r.contains_key("state"),
        "{page}"
    );
    assert_eq!(r["name"], json!("A***e"));
    let csv = export(&app, "people", &[("format", "csv")], Some(&c.registered)).await;
    assert!(
        csv.starts_with("id,name,born,citizen,tailnum,region\n"),
        "{csv}"
    );
    let meta: Value = app.get("/v1/datasets/people").await.json().await.unwrap();
    let names: Vec<&str> = meta["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&"income") && !names.contains(&"state"),
        "{names:?}"
    );
    assert!(
        !meta["sensitive_columns"]
            .as_array()
            .unwrap()
            .contains(&json!("income"))
    );
    assert!(
        !meta["version"]["indexed"]
            .as_array()
            .unwrap()
            .contains(&json!("state")),
        "{meta}"
    );
    assert!(!meta.to_string().contains("\"income\""), "{meta}");
    // Naming a hidden column anywhere is refused.
    let res = app.get_rows("people", &[("select", "id,income")]).await;
    assert_problem(res, 403).await;
    let res = app.get_rows("people", &[("filter", "state = 'CA'")]).await;
    assert_problem(res, 403).await;
    let res = post(&app, "people", &json!({"group_by": ["state"]}), None).await;
    assert_problem(res, 403).await;
    // An unknown column's error does not list the hidden ones.
    let res = app.get_rows("people", &[("select", "nope")]).await;
    let body = assert_problem(res, 400).await;
    assert!(
        !body["detail"].as_str().unwrap().contains("income"),
        "{body}"
    );
    // The owner still sees them.
    let own = rows(&app, "people", &[("order", "id")], Some(&c.owner)).await;
    assert_eq!(first(&own)["income"], json!(54321));
    assert_eq!(first(&own)["state"], json!("CA"));
}

#[tokio::test]
async fn filtering_ordering_or_grouping_by_a_masked_column_is_403_and_the_audit_keeps_no_probed_value()
 {
    let (app, c) = app().await;
    let probes: Vec<reqwest::Response> = vec![
        app.get_rows("people", &[("filter", "income > 50000")])
            .await,
        app.get_rows(
            "people",
            &[
                (
                    "filter",
                    "state = 'CA' and (name like 'Ali%' or income in (54321, 123457))",
                ),
                ("count", "exact"),
            ],
        )
        .await,
        app.export("people", &[("filter", "born >= '1980-06-10'")])
            .await,
        post(
            &app,
            "people",
            &json!({"filter": {"op": "eq", "column": "income", "value": 77777}}),
            None,
        )
        .await,
        app.get_rows("people", &[("order", "-income")]).await,
        post(&app, "people", &json!({"group_by": ["citizen"]}), None).await,
    ];
    for res in probes {
        let body = assert_problem(res, 403).await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("for you"), "{detail}");
        assert!(
            ["'income'", "'name'", "'born'", "'citizen'"]
                .iter()
                .any(|c| detail.contains(c)),
            "{detail}"
        );
    }
    // The owner may filter by it; the audit keeps the owner's values.
    let own = rows(
        &app,
        "people",
        &[("filter", "income > 60000")],
        Some(&c.owner),
    )
    .await;
    assert_eq!(own["data"].as_array().unwrap().len(), 1);

    let records = app.audit_records().await;
    let refused: Vec<&Value> = records
        .iter()
        .filter(|r| r["status"] == json!(403) && r["dataset"] == json!("people"))
        .collect();
    assert_eq!(refused.len(), 6, "{refused:?}");
    for r in &refused {
        let q = r["query"].as_str().unwrap_or("");
        for probe in ["50000", "Ali%", "54321", "123457", "1980-06-10", "77777"] {
            assert!(!q.contains(probe), "{probe} in audit query {q}");
        }
    }
    let mixed = refused[1]["query"].as_str().unwrap();
    assert!(mixed.contains("'CA'") && mixed.contains("***"), "{mixed}");
    assert!(
        records.iter().any(|r| r["query"]
            .as_str()
            .is_some_and(|q| q.contains("income > 60000"))),
        "the owner's query is kept whole"
    );
}

#[tokio::test]
async fn a_row_filter_with_principal_attributes_limits_rows_counts_aggregates_and_exports() {
    let (app, c) = app().await;
    set_rules_ok(
        &app,
        "people",
        json!([
            {"role": "registered", "row_filter": "region = :principal.org"},
            {"role": "auditor", "row_filter": "state = :principal.departement"}
        ]),
    )
    .await;
    let north = token("n", &[], Some("north"), json!({}));
    let page = rows(
        &app,
        "people",
        &[("count", "exact"), ("order", "id")],
        Some(&north),
    )
    .await;
    let ids: Vec<&Value> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(ids, vec![&json!(1), &json!(3)]);
    assert_eq!(page["total"], json!(2));
    let res = post(
        &app,
        "people",
        &json!({"aggregates": [{"function": "count"}], "count": true}),
        Some(&north),
    )
    .await;
    assert_eq!(
        first(&res.json::<Value>().await.unwrap())["count"],
        json!(2)
    );
    let csv = export(
        &app,
        "people",
        &[("format", "csv"), ("select", "id")],
        Some(&north),
    )
    .await;
    assert_eq!(csv, "id\n1\n3\n");
    let nd = export(
        &app,
        "people",
        &[
            ("format", "ndjson"),
            ("select", "id"),
            ("filter", "state = 'TX'"),
        ],
        Some(&north),
    )
    .await;
    assert_eq!(nd, "", "the caller's filter is ANDed with the row filter");
    // A registered caller without the attribute sees no row at all.
    let page = rows(&app, "people", &[("count", "exact")], Some(&c.registered)).await;
    assert_eq!(page["total"], json!(0));
    assert_eq!(page["data"], json!([]));
    // Another claim of the token works the same way.
    let analyst = token("a", &["auditor"], None, json!({"departement": "TX"}));
    let page = rows(
        &app,
        "people",
        &[("count", "exact"), ("select", "id")],
        Some(&analyst),
    )
    .await;
    assert_eq!(page["data"], json!([{"id": 4}]));
    // Anonymous callers and the owner are not limited by the registered rule.
    assert_eq!(
        rows(&app, "people", &[("count", "exact")], None).await["total"],
        json!(4)
    );
    assert_eq!(
        rows(&app, "people", &[("count", "exact")], Some(&c.owner)).await["total"],
        json!(4)
    );
}

#[tokio::test]
async fn column_rules_are_admin_only_validated_and_read_back() {
    let (app, c) = app().await;
    let url = app.url("/v1/admin/datasets/people/column-rules");
    let res = send(&app, app.client.get(&url), None).await;
    assert_problem(res, 401).await;
    let res = send(&app, app.client.get(&url), Some(&c.owner)).await;
    assert_problem(res, 403).await;
    let res = send(
        &app,
        app.client.put(&url).json(&json!({"rules": []})),
        Some(&c.registered),
    )
    .await;
    assert_problem(res, 403).await;

    let bad = [
        (
            json!([{"role": "anonymous", "columns": {"incme": "hide"}}]),
            "'incme'",
            "income",
        ),
        (
            json!([{"role": "reseacher", "columns": {"income": "show"}}]),
            "'reseacher'",
            "registered",
        ),
        (
            json!([{"role": "anonymous", "row_filter": "regio = :principal.org"}]),
            "'regio'",
            "region",
        ),
        (
            json!([{"role": "anonymous", "row_filter": "income = 'x'"}]),
            "income",
            "whole number",
        ),
        (
            json!([{"role": "anonymous", "columns": {"state": "mask"}, "buckets": {"state": 5}}]),
            "bucket",
            "numeric",
        ),
    ];
    for (rules, named, choice) in bad {
        let body = assert_problem(set_rules(&app, "people", rules.clone()).await, 400).await;
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains(named) && detail.contains(choice),
            "{rules}: {detail}"
        );
    }
    let body = assert_problem(
        set_rules(
            &app,
            "people",
            json!([{"role": "anonymous", "columns": {"income": "blur"}}]),
        )
        .await,
        400,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("hide"), "{body}");
    assert_problem(set_rules(&app, "nothing-here", json!([])).await, 404).await;

    let rules = json!([
        {"role": "registered", "columns": {"income": "show"}, "row_filter": "region = :principal.org"},
        {"role": "anonymous", "columns": {"income": "mask", "name": "hash"}, "buckets": {"income": 1000}}
    ]);
    let put = set_rules_ok(&app, "people", rules).await;
    assert_eq!(
        put["rules"][0]["role"],
        json!("anonymous"),
        "sorted by role: {put}"
    );
    assert_eq!(put["updated_by"], json!("admin"));
    let got: Value = app
        .admin(app.client.get(&url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["rules"], put["rules"]);
    assert_eq!(
        got["sensitive_columns"],
        json!(["name", "income", "born", "citizen", "tailnum"])
    );
    // In force from the next request: the per-rule bucket applies.
    let page = rows(
        &app,
        "people",
        &[("order", "id"), ("select", "income")],
        None,
    )
    .await;
    assert_eq!(first(&page)["income"], json!(54000));
    // Registered callers hold `anonymous` too: the most revealing rule wins.
    let north = token("n", &[], Some("north"), json!({}));
    let page = rows(
        &app,
        "people",
        &[("order", "id"), ("select", "income")],
        Some(&north),
    )
    .await;
    assert_eq!(first(&page)["income"], json!(54321));
    // An empty list removes every rule.
    let cleared = set_rules_ok(&app, "people", json!([])).await;
    assert_eq!(cleared["rules"], json!([]));
}
