//! What a read of rows needs from the catalog (the dataset, its current
//! version, its column rules) is kept in memory between requests and
//! dropped the moment the catalog's change counter moves: every catalog
//! change raises it in its own transaction, whichever instance or command
//! makes it, so the next request sees the change.

use reqwest::StatusCode;

use crate::helpers::{DatasetBuilder, assert_problem, spawn_app};

const PEOPLE: &str = "id,name\n1,Alice\n2,Bob\n";

#[tokio::test]
async fn a_kept_catalog_entry_serves_until_the_change_counter_moves() {
    let app = spawn_app().await;
    let slug = DatasetBuilder::new("people").with_csv(&app, PEOPLE).await;
    assert_eq!(app.get_rows(&slug, &[]).await.status(), StatusCode::OK);

    // Restricted behind the gateway's back, with no change recorded: the
    // entry in memory still answers, which shows that it is kept.
    app.sqlite()
        .execute("UPDATE datasets SET tier = 'restricted' WHERE slug = 'people'")
        .unwrap();
    assert_eq!(app.get_rows(&slug, &[]).await.status(), StatusCode::OK);

    // The same change recorded as the catalog records its own: the next
    // request reads the dataset again and hides it from an anonymous caller.
    app.sqlite()
        .execute(
            "UPDATE settings SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) \
             WHERE key = 'catalog_changes'",
        )
        .unwrap();
    assert_problem(app.get_rows(&slug, &[]).await, 404).await;
}
