use super::*;
use crate::policy::test_support::{MODEL, default_rules, engine, ids, line};

#[tokio::test]
async fn a_swapped_in_rule_set_is_used_and_a_failed_build_keeps_the_old_one() {
    let shared = SharedEngine::new(engine(&[]).await);
    let anon = ids(None, &[]);
    assert!(
        shared
            .current()
            .decide(&anon, "dataset:flights", &[], "data:query")
            .allowed
    );

    let mut rules = default_rules();
    rules.push(line("p, anonymous, dataset:flights, data:query, deny"));
    let before = shared.current();
    shared.rebuild(MODEL, &rules).await.unwrap();
    assert!(
        !shared
            .current()
            .decide(&anon, "dataset:flights", &[], "data:query")
            .allowed
    );
    // A request that took the old engine before the swap finishes on the old rules.
    assert!(
        before
            .decide(&anon, "dataset:flights", &[], "data:query")
            .allowed
    );

    let bad = vec![Rule::Allow {
        sub: "anonymous".into(),
        obj: "dataset:flights".into(),
        act: "data query".into(),
    }];
    assert!(shared.rebuild(MODEL, &bad).await.is_err());
    assert!(shared.rebuild("[matchers]", &rules).await.is_err());
    assert_eq!(shared.current().rules().len(), rules.len());
    assert!(
        !shared
            .current()
            .decide(&anon, "dataset:flights", &[], "data:query")
            .allowed
    );
}
