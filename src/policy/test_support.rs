//! Fixtures shared by the policy tests: the shipped model and rules plus sample datasets.

use crate::policy::{Engine, Rule, org_rules, parse_csv, principal_identities};

pub const MODEL: &str = include_str!("../../policies/model.conf");
pub const POLICY: &str = include_str!("../../policies/policy.csv");

/// The shipped rules, a second organisation, and one dataset per tier owned by us-dot-bts.
pub fn default_rules() -> Vec<Rule> {
    let mut rules = parse_csv(POLICY).unwrap();
    rules.extend(org_rules("noaa"));
    for tier in ["open", "conditional", "restricted"] {
        rules.extend(group(&format!("{tier}-ds"), &format!("tier:{tier}")));
        rules.extend(group(&format!("{tier}-ds"), "org:us-dot-bts"));
    }
    rules.extend(group("flights", "tier:open"));
    rules.extend(group("flights", "org:us-dot-bts"));
    rules
}

pub fn group(slug: &str, group: &str) -> Option<Rule> {
    Some(Rule::Group {
        dataset: format!("dataset:{slug}"),
        group: group.to_owned(),
    })
}

pub fn line(text: &str) -> Rule {
    Rule::parse_csv_line(text).unwrap()
}

pub fn ids(subject: Option<&str>, roles: &[&str]) -> Vec<String> {
    principal_identities(subject, roles)
}

pub async fn engine(extra: &[&str]) -> Engine {
    let mut rules = default_rules();
    rules.extend(extra.iter().map(|l| line(l)));
    Engine::build(MODEL, &rules).await.unwrap()
}
