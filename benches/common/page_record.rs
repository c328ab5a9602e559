//! The audit record of a 100-row page request with a JWT, before sealing: what
//! `benches/audit_chain.rs` seals and `examples/audit_ceiling.rs` commits.

use kaifang::audit::AuditRecord;

/// The record of page request number `i`, stamped `time`, unsealed (no chain, no hashes).
pub fn page_record(i: u64, time: String) -> AuditRecord {
    AuditRecord {
        chain: String::new(),
        seq: 0,
        time,
        kind: "request".to_owned(),
        request_id: format!("bench-{i:016x}"),
        subject: "user:bench-user".to_owned(),
        roles: vec!["researcher".to_owned()],
        auth_method: "jwt".to_owned(),
        key_id: None,
        client_addr: Some("127.0.0.1".to_owned()),
        method: "GET".to_owned(),
        route: Some("/v1/datasets/{slug}/rows".to_owned()),
        path: "/v1/datasets/flights/rows".to_owned(),
        dataset: Some("flights".to_owned()),
        action: Some("data:query".to_owned()),
        decision: Some("allow".to_owned()),
        rule: Some("anonymous, tier:open, data:query".to_owned()),
        status: 200,
        rows: Some(100),
        bytes: Some(39_000),
        duration_us: 2_000,
        user_agent: Some("wrk".to_owned()),
        query: Some(r#"{"filter":"carrier = 'UA'","limit":100}"#.to_owned()),
        complete: None,
        prev_hash: String::new(),
        hash: String::new(),
    }
}
