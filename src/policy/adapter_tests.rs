use casbin::{CoreApi, DefaultModel, Enforcer, MgmtApi};

use super::*;
use crate::policy::test_support::{MODEL, ids, line};
use crate::policy::{Engine, store};

fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(dir.path().join("k.db").to_str().unwrap(), 2).unwrap();
    db.migrate().unwrap();
    (dir, db)
}

fn seeded(db: &Db, rules: &[Rule]) {
    let mut conn = db.get().unwrap();
    store::seed(&mut conn, rules, &Author::system("seed")).unwrap();
}

#[tokio::test]
async fn an_engine_loaded_through_the_adapter_decides_on_the_stored_rules() {
    let (_dir, db) = db();
    seeded(
        &db,
        &[
            line("p, anonymous, tier:open, data:query, allow"),
            line("p, role:auditor, audit, audit:read, allow"),
            line("g, user:bob, role:auditor"),
        ],
    );
    let adapter = DbAdapter::new(db.clone(), Author::system("test"));
    let revision = adapter.loaded_revision();
    let engine = Engine::load(MODEL, adapter).await.unwrap();
    assert_eq!(revision.load(Ordering::SeqCst), 1);
    assert_eq!(engine.rules().len(), 3);
    let bob = ids(Some("bob"), &[]);
    assert!(engine.decide(&bob, "audit", &[], "audit:read").allowed);
    assert!(
        !engine
            .decide(&ids(Some("eve"), &[]), "audit", &[], "audit:read")
            .allowed
    );
    let open = ["tier:open".to_owned()];
    assert!(
        engine
            .decide(&ids(None, &[]), "dataset:x", &open, "data:query")
            .allowed
    );
}

#[tokio::test]
async fn casbin_management_calls_become_revisions() {
    let (_dir, db) = db();
    seeded(&db, &[line("p, anonymous, tier:open, data:query, allow")]);
    let model = DefaultModel::from_str(MODEL).await.unwrap();
    let author = Author {
        subject: "user:root".into(),
        reason: "through casbin".into(),
    };
    let mut enforcer = Enforcer::new(model, DbAdapter::new(db.clone(), author))
        .await
        .unwrap();
    let added = enforcer
        .add_policy(vec![
            "role:auditor".into(),
            "audit".into(),
            "audit:read".into(),
            "allow".into(),
        ])
        .await
        .unwrap();
    assert!(added);
    let removed = enforcer
        .remove_policy(vec![
            "anonymous".into(),
            "tier:open".into(),
            "data:query".into(),
            "allow".into(),
        ])
        .await
        .unwrap();
    assert!(removed);
    let mut conn = db.get().unwrap();
    assert_eq!(
        store::current_rules(&mut conn).unwrap(),
        [line("p, role:auditor, audit, audit:read, allow")]
    );
    let (revisions, total) = store::revisions(&mut conn, 10, 0).unwrap();
    assert_eq!(total, 3);
    assert_eq!(revisions[0].author, "user:root");
    assert_eq!(revisions[0].reason, "through casbin");
}

#[tokio::test]
async fn a_filtered_load_reads_only_the_matching_rules() {
    let (_dir, db) = db();
    seeded(
        &db,
        &[
            line("p, anonymous, tier:open, data:query, allow"),
            line("p, role:auditor, audit, audit:read, allow"),
        ],
    );
    let mut model = DefaultModel::from_str(MODEL).await.unwrap();
    let mut adapter = DbAdapter::new(db.clone(), Author::system("t"));
    let filter = Filter {
        p: vec!["role:auditor"],
        g: vec![],
    };
    adapter
        .load_filtered_policy(&mut model, filter)
        .await
        .unwrap();
    assert!(adapter.is_filtered());
    assert_eq!(model.get_policy("p", "p").len(), 1);
}
