use super::*;
use crate::policy::{Known, PolicyError, validate};

fn p(sub: &str, obj: &str, act: &str) -> Rule {
    Rule::Allow {
        sub: sub.into(),
        obj: obj.into(),
        act: act.into(),
    }
}

fn known() -> Known {
    Known::new(["flights", "airports", "weather"], ["us-dot-bts", "noaa"]).with_role("researcher")
}

fn invalid_field(err: PolicyError) -> (&'static str, String, Vec<String>) {
    match err {
        PolicyError::InvalidField {
            field,
            reason,
            choices,
            ..
        } => (field, reason, choices),
        other => panic!("expected InvalidField, got {other:?}"),
    }
}

#[test]
fn every_rule_kind_round_trips_through_csv() {
    let rules = [
        p("anonymous", "tier:open", "data:query"),
        Rule::Deny {
            sub: "user:bob".into(),
            obj: "dataset:flights".into(),
            act: "*".into(),
        },
        Rule::Role {
            member: "registered".into(),
            role: "anonymous".into(),
        },
        Rule::Group {
            dataset: "dataset:flights".into(),
            group: "org:us-dot-bts".into(),
        },
    ];
    for rule in rules {
        let line = rule.to_csv_line();
        assert_eq!(Rule::parse_csv_line(&line), Ok(rule.clone()), "{line}");
    }
    assert_eq!(
        p("anonymous", "tier:open", "data:query").to_csv_line(),
        "p, anonymous, tier:open, data:query, allow"
    );
}

#[test]
fn rules_round_trip_through_json_with_a_kind_tag() {
    let rule = p("anonymous", "tier:open", "data:query");
    let json = serde_json::to_string(&rule).unwrap();
    assert_eq!(
        json,
        r#"{"kind":"allow","sub":"anonymous","obj":"tier:open","act":"data:query"}"#
    );
    assert_eq!(serde_json::from_str::<Rule>(&json).unwrap(), rule);
    let group = r#"{"kind":"group","dataset":"dataset:flights","group":"tier:open"}"#;
    assert!(matches!(
        serde_json::from_str::<Rule>(group),
        Ok(Rule::Group { .. })
    ));
    let extra = r#"{"kind":"role","member":"user:a","role":"role:admin","eft":"deny"}"#;
    assert!(serde_json::from_str::<Rule>(extra).is_err());
}

#[test]
fn malformed_lines_are_refused_with_the_reason() {
    let cases = [
        (
            "p, anonymous, tier:open, data:query",
            "5 comma-separated fields",
        ),
        (
            "p, anonymous, tier:open, data:query, maybe",
            "not allow or deny",
        ),
        ("g3, a, b", "not one of p, g, g2"),
        ("g, registered", "3 comma-separated fields"),
    ];
    for (line, want) in cases {
        match Rule::parse_csv_line(line) {
            Err(PolicyError::Parse { reason, .. }) => assert!(reason.contains(want), "{reason}"),
            other => panic!("{line}: {other:?}"),
        }
    }
}

#[test]
fn empty_padded_control_and_overlong_values_are_refused() {
    let long = "x".repeat(201);
    let bad = [
        "",
        "anon ymous",
        "user:a\u{0}",
        "user:a\tb",
        "user:\u{200B}bob",
        "user:\"bob",
        "user:a#b",
        "user:a,b",
        long.as_str(),
    ];
    for value in bad {
        let err = p(value, "tier:open", "data:query")
            .check_syntax()
            .unwrap_err();
        assert_eq!(invalid_field(err).0, "sub", "{value:?}");
    }
    assert!(
        p(&"x".repeat(200), "tier:open", "data:query")
            .check_syntax()
            .is_ok()
    );
    assert!(Rule::parse_csv_line("p, anonymous, , data:query, allow").is_err());
}

#[test]
fn unknown_action_names_the_field_and_the_closest_action_first() {
    let err = validate(&p("anonymous", "tier:open", "data:qeury"), &known()).unwrap_err();
    let text = err.to_string();
    let (field, reason, choices) = invalid_field(err);
    assert_eq!((field, reason.as_str()), ("act", "unknown action"));
    assert_eq!(choices.first().map(String::as_str), Some("data:query"));
    assert!(text.contains("invalid act 'data:qeury'"), "{text}");
}

#[test]
fn misspelt_dataset_suggests_the_real_one() {
    let err = validate(&p("anonymous", "dataset:fligths", "data:query"), &known()).unwrap_err();
    let (field, reason, choices) = invalid_field(err);
    assert_eq!((field, reason.as_str()), ("obj", "unknown dataset"));
    assert_eq!(choices.first().map(String::as_str), Some("dataset:flights"));

    let group = Rule::Group {
        dataset: "dataset:flights".into(),
        group: "tier:secret".into(),
    };
    let (field, reason, _) = invalid_field(validate(&group, &known()).unwrap_err());
    assert_eq!((field, reason.as_str()), ("group", "unknown tier"));
}

#[test]
fn malformed_objects_subjects_and_roles_name_their_field() {
    let k = known();
    let cases = [
        (
            p("anonymous", "datset:flights", "data:query"),
            "obj",
            "not an object",
        ),
        (
            p("anonymous", "org:nasa", "data:query"),
            "obj",
            "unknown organisation",
        ),
        (
            p("alice", "tier:open", "data:query"),
            "sub",
            "not an identity",
        ),
        (
            p("role:reseacher", "tier:open", "data:query"),
            "sub",
            "unknown role",
        ),
        (
            Rule::Role {
                member: "user:bob".into(),
                role: "user:alice".into(),
            },
            "role",
            "only roles can be inherited",
        ),
        (
            Rule::Role {
                member: "role:admin".into(),
                role: "role:admin".into(),
            },
            "role",
            "a role cannot be a member of itself",
        ),
        (
            Rule::Group {
                dataset: "tier:open".into(),
                group: "tier:open".into(),
            },
            "dataset",
            "not a dataset",
        ),
    ];
    for (rule, want_field, want_reason) in cases {
        let (field, reason, _) = invalid_field(validate(&rule, &k).unwrap_err());
        assert_eq!(
            (field, reason.as_str()),
            (want_field, want_reason),
            "{rule:?}"
        );
    }
    let (_, _, choices) = invalid_field(validate(&p("role:reseacher", "*", "*"), &k).unwrap_err());
    assert_eq!(choices.first().map(String::as_str), Some("role:researcher"));
}

#[test]
fn choices_stay_short_with_thousands_of_datasets() {
    let many = Known::new((0..10_000).map(|i| format!("ds-{i}")), ["noaa"]);
    let err = validate(&p("anonymous", "dataset:ds-1234x", "*"), &many).unwrap_err();
    let (_, _, choices) = invalid_field(err);
    assert_eq!(choices.len(), 20);
    assert_eq!(choices.first().map(String::as_str), Some("dataset:ds-1234"));
}

#[test]
fn the_shipped_policy_file_parses_and_validates() {
    let rules = parse_csv(include_str!("../../policies/policy.csv")).unwrap();
    let k = Known::new(Vec::<String>::new(), ["us-dot-bts"]);
    for rule in &rules {
        validate(rule, &k).unwrap();
    }
    for rule in org_rules("us-dot-bts") {
        assert!(
            rules.contains(&rule),
            "policy.csv lacks {}",
            rule.to_csv_line()
        );
    }
}

#[test]
fn parse_csv_reports_the_line_number() {
    let err = parse_csv("# header\n\np, anonymous, tier:open, data:query, allow\np, x\n");
    match err {
        Err(PolicyError::Parse { line, .. }) => assert!(line.starts_with("line 4:"), "{line}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn non_ascii_values_parse_and_long_ones_fail_without_panicking() {
    let rule = Rule::parse_csv_line("p, user:张三, dataset:数据, data:query, deny").unwrap();
    assert_eq!(Rule::parse_csv_line(&rule.to_csv_line()), Ok(rule));
    let long = format!("p, user:{}, *, *, allow", "数".repeat(100));
    let err = Rule::parse_csv_line(&long).unwrap_err();
    assert!(err.to_string().contains("longer than 200 bytes"));
    let err = validate(&p("role:研究", "*", "*"), &known()).unwrap_err();
    assert!(err.to_string().contains("role:研究"));
}

#[test]
fn identities_keep_users_and_roles_apart() {
    assert_eq!(principal_identities(None, &[]), ["anonymous"]);
    assert_eq!(
        principal_identities(Some("admin"), &["admin"]),
        ["user:admin", "role:admin", "registered", "anonymous"]
    );
}
