use super::*;
use crate::policy::test_support::{MODEL, default_rules, line};

#[tokio::test]
async fn reports_exactly_the_decisions_a_change_flips() {
    let before_rules = default_rules();
    let mut after_rules = before_rules.clone();
    after_rules.push(line(
        "p, role:researcher, tier:conditional, data:query, allow",
    ));
    after_rules.push(line("g, user:rita, role:researcher"));
    let before = Engine::build(MODEL, &before_rules).await.unwrap();
    let after = Engine::build(MODEL, &after_rules).await.unwrap();
    let who = callers([before_rules.as_slice(), after_rules.as_slice()]);
    let mut targets = system_targets();
    targets.push(Target::dataset(
        "conditional-ds",
        "conditional",
        "us-dot-bts",
    ));
    targets.push(Target::dataset("open-ds", "open", "us-dot-bts"));
    let (found, compared) = changes(&before, &after, &who, &targets);
    assert_eq!(compared, who.len() * targets.len() * ACTIONS.len());
    let flipped: Vec<(&str, &str, &str)> = found
        .iter()
        .map(|c| (c.caller.as_str(), c.object.as_str(), c.action.as_str()))
        .collect();
    assert_eq!(
        flipped,
        [
            ("role:researcher", "dataset:conditional-ds", "data:query"),
            ("user:rita", "dataset:conditional-ds", "data:query"),
        ]
    );
    assert!(found.iter().all(|c| !c.before && c.after));
    assert_eq!(
        found[0].rule_after.as_deref(),
        Some("p, role:researcher, tier:conditional, data:query, allow")
    );
    let (none, _) = changes(&before, &before, &who, &targets);
    assert!(none.is_empty());
}
