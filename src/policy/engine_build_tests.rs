use crate::policy::test_support::{MODEL, default_rules, ids};
use crate::policy::{Engine, SharedEngine};

#[tokio::test]
async fn the_decision_comes_from_casbin_not_from_the_attribution() {
    let never = MODEL.replace("m = (p.act", "m = false && (p.act");
    let engine = Engine::build(&never, &default_rules()).await.unwrap();
    let d = engine.decide(&ids(None, &[]), "dataset:flights", &[], "data:query");
    assert!(!d.allowed);
    assert_eq!(d.rule, None);
    let always = MODEL.replace("m = (p.act", "m = true || (p.act");
    let engine = Engine::build(&always, &default_rules()).await.unwrap();
    let d = engine.decide(&ids(None, &[]), "dataset:restricted-ds", &[], "data:query");
    assert!(
        !d.allowed,
        "attribution found no allow, so this fails closed: {d:?}"
    );
    assert!(d.reason.contains("disagree"), "{}", d.reason);
}

#[tokio::test]
async fn a_panic_inside_casbin_becomes_a_deny() {
    let broken = MODEL.replace(
        "e = some(where (p.eft == allow)) && !some(where (p.eft == deny))",
        "e = some(where (p.eft == allow)) || maybe",
    );
    let err = Engine::build(&broken, &default_rules()).await.unwrap_err();
    assert!(err.to_string().contains("trial decision panicked"), "{err}");

    let engine = Engine::build_untried(&broken, &default_rules())
        .await
        .unwrap();
    let d = engine.decide(&ids(None, &[]), "dataset:flights", &[], "data:query");
    assert!(!d.allowed);
    assert_eq!(d.rule, None);
    assert!(d.reason.contains("unsupported effect"), "{}", d.reason);
}

#[tokio::test]
async fn a_model_declaring_fields_in_another_order_is_refused() {
    let swapped = MODEL.replace("r = sub, obj, act", "r = sub, act, obj");
    let err = Engine::build(&swapped, &[]).await.unwrap_err();
    assert!(err.to_string().contains("'r' must be declared"), "{err}");
    let no_g2 = MODEL.replace("g2 = _, _", "");
    assert!(Engine::build(&no_g2, &[]).await.is_err());
    assert!(Engine::build("not a model", &[]).await.is_err());
}

#[tokio::test]
async fn duplicate_rules_do_not_drop_their_batch() {
    let mut rules = default_rules();
    rules.extend(default_rules());
    let engine = Engine::build(MODEL, &rules).await.unwrap();
    assert_eq!(engine.rules().len(), default_rules().len());
    assert!(
        engine
            .decide(&ids(None, &[]), "dataset:flights", &[], "data:query")
            .allowed
    );
}

#[test]
fn engines_can_be_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Engine>();
    send_sync::<SharedEngine>();
}

#[tokio::test]
async fn splitting_the_rules_by_action_changes_no_decision() {
    use crate::policy::ACTIONS;
    use crate::policy::rules::Rule;
    let mut rules = default_rules();
    // A deny for every action, and rules for an action the defaults do not name.
    rules.push(Rule::Deny {
        sub: "user:mallory".to_owned(),
        obj: "*".to_owned(),
        act: "*".to_owned(),
    });
    rules.push(Rule::Allow {
        sub: "user:mallory".to_owned(),
        obj: "dataset:open-ds".to_owned(),
        act: "data:query".to_owned(),
    });
    let split = Engine::build(MODEL, &rules).await.unwrap();
    assert!(split.by_action.is_some(), "the shipped matcher is split");
    // The same matcher, written so that it is not split.
    let whole_model = MODEL.replace("m = (p.act", "m = true && (p.act");
    let whole = Engine::build(&whole_model, &rules).await.unwrap();
    assert!(whole.by_action.is_none());

    let callers = [
        ids(None, &[]),
        ids(Some("carol"), &[]),
        ids(Some("pat"), &["publisher:us-dot-bts"]),
        ids(Some("rita"), &["reviewer:us-dot-bts"]),
        ids(Some("aud"), &["auditor"]),
        ids(Some("ada"), &["admin"]),
        ids(Some("mallory"), &["admin"]),
    ];
    let mut allowed = 0;
    for object in [
        "dataset:open-ds",
        "dataset:conditional-ds",
        "dataset:restricted-ds",
        "metrics",
        "audit",
    ] {
        for identities in &callers {
            for action in ACTIONS.iter().copied().chain(["no:such-action"]) {
                let a = split.decide(identities, object, &[], action);
                let b = whole.decide(identities, object, &[], action);
                assert_eq!(a, b, "{identities:?} {action} {object}");
                allowed += usize::from(a.allowed);
            }
        }
    }
    assert!(
        allowed > 20,
        "the grid holds allows as well as denies: {allowed}"
    );
}
