//! The limits the spec states are the ones the handlers enforce: a client that
//! validates against the spec is refused nothing it was told it may send.

use serde_json::Value;

fn field(doc: &Value, schema: &str, name: &str) -> Value {
    doc["components"]["schemas"][schema]["properties"][name].clone()
}

fn number(v: &Value, key: &str) -> Option<u64> {
    v[key].as_f64().map(|f| f as u64)
}

#[test]
fn the_spec_states_the_limits_the_handlers_enforce() {
    let doc = serde_json::to_value(super::openapi()).expect("the spec serializes");
    let days = u64::try_from(crate::access::MAX_DURATION_DAYS).expect("positive");
    for schema in ["NewAccessRequest", "Approval"] {
        let d = field(&doc, schema, "duration_days");
        assert_eq!(
            (number(&d, "minimum"), number(&d, "maximum")),
            (Some(1), Some(days)),
            "{schema}.duration_days: {d}"
        );
    }
    let purpose = field(&doc, "NewAccessRequest", "purpose");
    assert_eq!(
        (number(&purpose, "minLength"), number(&purpose, "maxLength")),
        (Some(10), Some(2000)),
        "{purpose}"
    );
    assert_eq!(
        number(&field(&doc, "Approval", "row_quota"), "minimum"),
        Some(1)
    );
    let reason = field(&doc, "Reason", "reason");
    assert_eq!(
        (number(&reason, "minLength"), number(&reason, "maxLength")),
        (Some(1), Some(2000)),
        "{reason}"
    );

    let per_edit = crate::policy::edits::MAX_RULES_PER_EDIT as u64;
    let rules = field(&doc, "RuleEdit", "rules");
    assert_eq!(
        (number(&rules, "minItems"), number(&rules, "maxItems")),
        (Some(1), Some(per_edit)),
        "{rules}"
    );
    let longest = crate::policy::edits::MAX_REASON_CHARS as u64;
    for schema in ["RuleEdit", "SetRoles", "RestoreRequest"] {
        let r = field(&doc, schema, "reason");
        assert_eq!(
            (number(&r, "minLength"), number(&r, "maxLength")),
            (Some(1), Some(longest)),
            "{schema}.reason: {r}"
        );
    }
    let roles = field(&doc, "ColumnRulesEdit", "rules");
    assert_eq!(
        number(&roles, "maxItems"),
        Some(crate::masks::rules::MAX_RULES as u64),
        "{roles}"
    );
}
