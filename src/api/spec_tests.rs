//! The limits the spec states are the ones the handlers enforce: a client that
//! validates against the spec is refused nothing it was told it may send.

use serde_json::Value;

/// The lower and upper bound the spec gives `schema.field`, under the keywords of its
/// kind: `minimum`/`maximum`, `minLength`/`maxLength` or `minItems`/`maxItems`.
fn bounds(doc: &Value, schema: &str, field: &str, kind: &str) -> (Option<u64>, Option<u64>) {
    let f = &doc["components"]["schemas"][schema]["properties"][field];
    let get = |key: &str| f[key].as_f64().map(|v| v as u64);
    match kind {
        "value" => (get("minimum"), get("maximum")),
        "length" => (get("minLength"), get("maxLength")),
        _ => (get("minItems"), get("maxItems")),
    }
}

#[test]
fn the_spec_states_the_limits_the_handlers_enforce() {
    let doc = serde_json::to_value(super::openapi()).expect("the spec serializes");
    let days = u64::try_from(crate::access::MAX_DURATION_DAYS).ok();
    let per_edit = Some(crate::policy::edits::MAX_RULES_PER_EDIT as u64);
    let reason = Some(crate::policy::edits::MAX_REASON_CHARS as u64);
    let role_entries = Some(crate::masks::rules::MAX_RULES as u64);
    let expected = [
        (
            "NewAccessRequest",
            "duration_days",
            "value",
            (Some(1), days),
        ),
        ("Approval", "duration_days", "value", (Some(1), days)),
        (
            "NewAccessRequest",
            "purpose",
            "length",
            (Some(10), Some(2000)),
        ),
        ("Approval", "row_quota", "value", (Some(1), None)),
        ("Reason", "reason", "length", (Some(1), Some(2000))),
        ("RuleEdit", "rules", "items", (Some(1), per_edit)),
        ("RuleEdit", "reason", "length", (Some(1), reason)),
        ("SetRoles", "reason", "length", (Some(1), reason)),
        ("RestoreRequest", "reason", "length", (Some(1), reason)),
        ("ColumnRulesEdit", "rules", "items", (None, role_entries)),
    ];
    for (schema, field, kind, want) in expected {
        assert_eq!(
            bounds(&doc, schema, field, kind),
            want,
            "{schema}.{field} ({kind})"
        );
    }
}
