use super::*;
use crate::policy::ACTIONS;
use crate::policy::test_support::{MODEL, engine, ids};

const READ: &[&str] = &["catalog:read", "data:query", "data:export"];
const PUBLISH: &[&str] = &[
    "catalog:read",
    "data:query",
    "data:export",
    "dataset:publish",
    "dataset:manage",
];

/// Actions the default policy allows on a dataset of each tier owned by us-dot-bts.
fn expected(who: &str, tier: &str) -> Vec<&'static str> {
    let mut allowed: Vec<&str> = match tier {
        "open" => READ.to_vec(),
        "conditional" => vec!["catalog:read"],
        _ => vec![],
    };
    if who != "anonymous" && tier == "conditional" {
        allowed.push("access:request");
    }
    match who {
        "publisher-own" => allowed.extend(PUBLISH),
        "reviewer-own" => allowed.extend(["catalog:read", "access:review"]),
        "admin" => allowed.extend(ACTIONS),
        _ => {}
    }
    allowed
}

#[tokio::test]
async fn default_policy_table_holds_for_every_tier_identity_and_action() {
    let engine = engine(&[]).await;
    let callers = [
        ("anonymous", ids(None, &[])),
        ("registered", ids(Some("carol"), &[])),
        ("publisher-own", ids(Some("pat"), &["publisher:us-dot-bts"])),
        ("publisher-other", ids(Some("otto"), &["publisher:noaa"])),
        ("reviewer-own", ids(Some("rita"), &["reviewer:us-dot-bts"])),
        ("auditor", ids(Some("aud"), &["auditor"])),
        ("admin", ids(Some("ada"), &["admin"])),
    ];
    let mut checked = 0;
    for tier in ["open", "conditional", "restricted"] {
        let object = format!("dataset:{tier}-ds");
        for (who, identities) in &callers {
            let allowed = expected(who, tier);
            for action in ACTIONS {
                let d = engine.decide(identities, &object, &[], action);
                let want = allowed.contains(&action);
                assert_eq!(d.allowed, want, "{who} {action} {object}: {d:?}");
                assert_eq!(d.rule.is_some(), want, "{who} {action} {object}: {d:?}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 3 * 7 * ACTIONS.len());
}

#[tokio::test]
async fn system_objects_belong_to_admin_and_auditor() {
    let engine = engine(&[]).await;
    let auditor = ids(Some("aud"), &["auditor"]);
    let admin = ids(Some("ada"), &["admin"]);
    let carol = ids(Some("carol"), &[]);
    assert!(engine.decide(&auditor, "audit", &[], "audit:read").allowed);
    assert!(
        !engine
            .decide(&auditor, "policy", &[], "policy:admin")
            .allowed
    );
    assert!(engine.decide(&admin, "policy", &[], "policy:admin").allowed);
    assert!(!engine.decide(&carol, "audit", &[], "audit:read").allowed);
    let operator = ids(Some("ops"), &["operator"]);
    assert!(
        engine
            .decide(&operator, "metrics", &[], "metrics:read")
            .allowed
    );
    assert!(
        engine
            .decide(&admin, "metrics", &[], "metrics:read")
            .allowed
    );
    assert!(!engine.decide(&operator, "audit", &[], "audit:read").allowed);
    assert!(
        !engine
            .decide(&auditor, "metrics", &[], "metrics:read")
            .allowed
    );
    assert!(
        !engine
            .decide(&carol, "metrics", &[], "metrics:read")
            .allowed
    );
}

#[tokio::test]
async fn the_deciding_rule_is_reported_as_its_csv_line() {
    let engine = engine(&[]).await;
    let d = engine.decide(&ids(None, &[]), "dataset:flights", &[], "data:query");
    assert_eq!(
        d,
        Decision {
            allowed: true,
            rule: Some("p, anonymous, tier:open, data:query, allow".to_owned()),
            reason: "allowed by rule".to_owned(),
        }
    );
    let d = engine.decide(&ids(None, &[]), "dataset:restricted-ds", &[], "data:query");
    assert_eq!((d.allowed, d.rule), (false, None));
    assert_eq!(d.reason, "no rule matched; denied by default");
}

#[tokio::test]
async fn a_deny_for_one_identity_beats_the_anonymous_allow() {
    let deny = "p, user:bob, dataset:flights, data:query, deny";
    let engine = engine(&[deny]).await;
    let d = engine.decide(&ids(Some("bob"), &[]), "dataset:flights", &[], "data:query");
    assert_eq!((d.allowed, d.rule.as_deref()), (false, Some(deny)));
    assert!(
        engine
            .decide(
                &ids(Some("carol"), &[]),
                "dataset:flights",
                &[],
                "data:query"
            )
            .allowed
    );
    assert!(
        engine
            .decide(
                &ids(Some("bob"), &[]),
                "dataset:flights",
                &[],
                "data:export"
            )
            .allowed
    );
    // Deny overrides even the admin wildcard.
    let bob_admin = ids(Some("bob"), &["admin"]);
    assert!(
        !engine
            .decide(&bob_admin, "dataset:flights", &[], "data:query")
            .allowed
    );
}

#[tokio::test]
async fn roles_are_inherited_through_two_levels_of_g_links() {
    let engine = engine(&[
        "g, user:dana, role:senior",
        "g, role:senior, role:analyst",
        "g, role:analyst, registered",
        "p, role:analyst, tier:restricted, catalog:read, allow",
    ])
    .await;
    let dana = vec!["user:dana".to_owned()];
    let d = engine.decide(&dana, "dataset:restricted-ds", &[], "catalog:read");
    assert_eq!(
        d.rule.as_deref(),
        Some("p, role:analyst, tier:restricted, catalog:read, allow")
    );
    // Three hops: dana -> senior -> analyst -> registered -> anonymous.
    assert!(
        engine
            .decide(&dana, "dataset:open-ds", &[], "data:export")
            .allowed
    );
    assert!(
        engine
            .decide(&dana, "dataset:conditional-ds", &[], "access:request")
            .allowed
    );
    let senior = vec!["role:senior".to_owned()];
    assert!(
        engine
            .decide(&senior, "dataset:restricted-ds", &[], "catalog:read")
            .allowed
    );
    assert!(
        !engine
            .decide(&senior, "dataset:restricted-ds", &[], "data:query")
            .allowed
    );
}

#[tokio::test]
async fn explain_lists_every_matching_allow_and_deny() {
    let engine = engine(&["p, role:admin, tier:open, data:export, deny"]).await;
    let e = engine.explain(
        &ids(Some("ada"), &["admin"]),
        "dataset:flights",
        &[],
        "data:export",
    );
    let matched: Vec<String> = e.matched.iter().map(Rule::to_csv_line).collect();
    assert_eq!(
        matched,
        [
            "p, anonymous, tier:open, data:export, allow",
            "p, role:admin, *, *, allow",
            "p, role:admin, tier:open, data:export, deny",
        ]
    );
    assert!(!e.decision.allowed);
    assert_eq!(
        e.decision.rule.as_deref(),
        Some("p, role:admin, tier:open, data:export, deny")
    );
    assert!(e.objects.contains(&"tier:open".to_owned()));
    assert!(e.identities.contains(&"anonymous".to_owned()));
}

#[tokio::test]
async fn identities_and_objects_match_whole_names_only() {
    let engine = engine(&[]).await;
    let near = [
        "anonymou".to_owned(),
        "anonymous:x".to_owned(),
        "Anonymous".to_owned(),
    ];
    assert!(
        !engine
            .decide(&near, "dataset:flights", &[], "data:query")
            .allowed
    );
    let anon = ids(None, &[]);
    assert!(
        !engine
            .decide(&anon, "dataset:flight", &[], "data:query")
            .allowed
    );
    assert!(
        !engine
            .decide(&anon, "dataset:flights", &[], "data:quer")
            .allowed
    );
    assert!(!engine.decide(&anon, "tier:ope", &[], "data:query").allowed);
}

#[tokio::test]
async fn caller_supplied_groups_cover_a_dataset_not_linked_yet() {
    let engine = engine(&[]).await;
    let pat = ids(Some("pat"), &["publisher:us-dot-bts"]);
    let org = ["org:us-dot-bts".to_owned()];
    assert!(
        !engine
            .decide(&pat, "dataset:new", &[], "dataset:publish")
            .allowed
    );
    assert!(
        engine
            .decide(&pat, "dataset:new", &org, "dataset:publish")
            .allowed
    );
}

#[tokio::test]
async fn non_ascii_and_empty_input_is_denied_without_panicking() {
    let engine = engine(&["p, user:张三, dataset:数据, data:query, allow"]).await;
    let zhang = ids(Some("张三"), &["研究员"]);
    assert!(
        engine
            .decide(&zhang, "dataset:数据", &[], "data:query")
            .allowed
    );
    assert!(
        !engine
            .decide(&zhang, "dataset:数据x", &["tier:ö".into()], "data:query")
            .allowed
    );
    assert!(!engine.decide(&["😀".to_owned()], "é", &[], "ü").allowed);
    assert!(!engine.decide(&[], "", &[], "").allowed);
    // With no `p` rules Casbin would otherwise match empty fields against empty fields.
    let empty = Engine::build(MODEL, &[]).await.unwrap();
    assert!(!empty.decide(&[String::new()], "", &[], "").allowed);
    assert!(
        !empty
            .decide(&ids(None, &[]), "dataset:flights", &[], "data:query")
            .allowed
    );
}

#[tokio::test]
async fn roles_held_are_the_token_roles_plus_those_links_reach() {
    let engine = engine(&[
        "g, user:ann, role:bulk",
        "g, role:bulk, role:reader",
        "g, role:auditor, role:operator",
    ])
    .await;
    // `bulk` and `reader` name no rule: they still count as held.
    let held = engine.roles_held(&ids(Some("ann"), &["viewer"]));
    assert_eq!(held, ["viewer", "bulk", "reader"]);
    assert_eq!(
        engine.roles_held(&ids(Some("aud"), &["auditor"])),
        ["auditor", "operator"]
    );
    assert!(engine.roles_held(&ids(None, &[])).is_empty());
    assert!(engine.roles_held(&ids(Some("bob"), &[])).is_empty());
}
