use super::*;
use crate::db::Db;
use crate::policy::test_support::line;

fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(dir.path().join("k.db").to_str().unwrap(), 2).unwrap();
    db.migrate().unwrap();
    (dir, db)
}

fn admin(reason: &str) -> Author {
    Author {
        subject: "user:root".into(),
        reason: reason.into(),
    }
}

#[test]
fn seeding_happens_once_and_later_edits_survive_a_second_seed() {
    let (_dir, db) = db();
    let mut conn = db.get().unwrap();
    let start = vec![line("p, anonymous, tier:open, data:query, allow")];
    let first = seed(&mut conn, &start, &Author::system("initial")).unwrap();
    assert_eq!(first.map(|r| (r.number, r.added)), Some((1, 1)));
    let change = Change {
        add: vec![line("p, role:auditor, audit, audit:read, allow")],
        remove: start.clone(),
    };
    apply(&mut conn, &change, &admin("swap")).unwrap();
    assert_eq!(
        seed(&mut conn, &start, &Author::system("again")).unwrap(),
        None
    );
    assert_eq!(current_rules(&mut conn).unwrap(), change.add);
    assert_eq!(current_revision(&mut conn).unwrap(), Some(2));
}

#[test]
fn a_failed_change_applies_nothing_and_names_the_rule() {
    let (_dir, db) = db();
    let mut conn = db.get().unwrap();
    let present = line("p, anonymous, tier:open, data:query, allow");
    seed(
        &mut conn,
        std::slice::from_ref(&present),
        &Author::system("s"),
    )
    .unwrap();
    let new = line("p, anonymous, tier:open, data:export, allow");
    let dup = Change {
        add: vec![new.clone(), present.clone()],
        remove: vec![],
    };
    let err = apply(&mut conn, &dup, &admin("dup")).unwrap_err();
    assert_eq!(err.kind(), crate::error::Kind::Conflict);
    assert!(err.detail().contains("data:query"), "{}", err.detail());
    let absent = Change {
        add: vec![new],
        remove: vec![line("g, user:bob, role:admin")],
    };
    let err = apply(&mut conn, &absent, &admin("absent")).unwrap_err();
    assert_eq!(err.kind(), crate::error::Kind::NotFound);
    assert!(err.detail().contains("user:bob"), "{}", err.detail());
    assert_eq!(current_rules(&mut conn).unwrap(), vec![present]);
    assert_eq!(current_revision(&mut conn).unwrap(), Some(1));
}

#[test]
fn every_revision_replays_to_the_rules_in_force_after_it() {
    let (_dir, db) = db();
    let mut conn = db.get().unwrap();
    let a = line("p, anonymous, tier:open, data:query, allow");
    let b = line("g, user:bob, role:auditor");
    let c = line("p, role:auditor, audit, audit:read, deny");
    seed(&mut conn, std::slice::from_ref(&a), &Author::system("s")).unwrap();
    let mut expected = vec![vec![a.clone()]];
    for (add, remove) in [
        (vec![b.clone(), c.clone()], vec![]),
        (vec![], vec![a.clone()]),
    ] {
        apply(&mut conn, &Change { add, remove }, &admin("step")).unwrap();
        expected.push(current_rules(&mut conn).unwrap());
    }
    replace_all(&mut conn, &expected[0], &admin("restore 1")).unwrap();
    expected.push(expected[0].clone());
    for (n, rules) in expected.iter().enumerate() {
        let (info, at) = revision(&mut conn, n as i64 + 1).unwrap();
        assert_eq!(info.number, n as i64 + 1);
        let (mut got, mut want) = (at.clone(), rules.clone());
        got.sort_by_key(Rule::to_csv_line);
        want.sort_by_key(Rule::to_csv_line);
        assert_eq!(got, want, "revision {}", n + 1);
        assert_eq!(info.rule_count, rules.len() as i64);
    }
    let (list, total) = revisions(&mut conn, 2, 0).unwrap();
    assert_eq!(total, 4);
    assert_eq!(list.iter().map(|r| r.number).collect::<Vec<_>>(), [4, 3]);
    assert_eq!(
        (list[0].added, list[0].removed, &*list[0].reason),
        (1, 2, "restore 1")
    );
    assert_eq!(
        revision(&mut conn, 9).unwrap_err().kind(),
        crate::error::Kind::NotFound
    );
}

#[test]
fn roles_of_lists_the_g_links_of_a_user() {
    let (_dir, db) = db();
    let mut conn = db.get().unwrap();
    let rules = [
        line("g, user:bob, role:auditor"),
        line("g, user:bob, role:admin"),
        line("g, user:eve, role:admin"),
    ];
    seed(&mut conn, &rules, &Author::system("s")).unwrap();
    assert_eq!(roles_of(&mut conn, "bob").unwrap(), ["auditor", "admin"]);
    assert!(roles_of(&mut conn, "nobody").unwrap().is_empty());
}
