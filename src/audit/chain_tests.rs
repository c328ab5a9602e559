//! Tests of the hash chain, and the record builder the other audit tests
//! share. Must never weaken the golden test: a changed golden means every
//! stored chain breaks.

use super::*;

/// A plain `request` record, unsealed, that differs by `i`.
pub(crate) fn sample_record(i: i64) -> AuditRecord {
    AuditRecord {
        chain: String::new(),
        seq: 0,
        time: format!("2026-11-28T14:03:{:02}.000000Z", i % 60),
        kind: "request".to_string(),
        request_id: format!("req-{i}"),
        subject: "anonymous".to_string(),
        roles: vec![],
        auth_method: "anonymous".to_string(),
        key_id: None,
        client_addr: Some("192.0.2.7".to_string()),
        method: "GET".to_string(),
        route: Some("/v1/datasets/{slug}/rows".to_string()),
        path: "/v1/datasets/nyc-flights-2013/rows".to_string(),
        dataset: Some("nyc-flights-2013".to_string()),
        action: Some("data:query".to_string()),
        decision: Some("allow".to_string()),
        rule: Some("public-read".to_string()),
        status: 200,
        rows: Some(i),
        bytes: Some(100 * i),
        duration_us: 1500,
        user_agent: Some("curl/8.5".to_string()),
        query: None,
        complete: None,
        prev_hash: String::new(),
        hash: String::new(),
    }
}

/// `n` records sealed onto a new chain `chain`.
pub(crate) fn sealed_chain(chain: &str, n: i64) -> Vec<AuditRecord> {
    let mut head = ChainHead {
        chain: chain.to_string(),
        seq: 0,
        hash: GENESIS.to_string(),
    };
    (1..=n)
        .map(|i| {
            let mut r = sample_record(i);
            seal(&mut head, &mut r);
            r
        })
        .collect()
}

fn golden_record() -> AuditRecord {
    AuditRecord {
        chain: "7f3c9a1e".to_string(),
        seq: 1042,
        time: "2026-11-28T14:03:11.402117Z".to_string(),
        kind: "export_end".to_string(),
        request_id: "01J\"x\\y".to_string(),
        subject: "user:ana".to_string(),
        roles: vec!["analyst".to_string(), "reader".to_string()],
        auth_method: "jwt".to_string(),
        key_id: None,
        client_addr: Some("2001:db8::1".to_string()),
        method: "GET".to_string(),
        route: None,
        path: "/v1/datasets/straßen/rows".to_string(),
        dataset: Some("straßen".to_string()),
        action: Some("data:export".to_string()),
        decision: Some("allow".to_string()),
        rule: Some("tier/open".to_string()),
        status: 200,
        rows: Some(-1),
        bytes: None,
        duration_us: 0,
        user_agent: Some("a\tb\n\u{1}\u{7f}".to_string()),
        query: Some(r#"{"select":["a"]}"#.to_string()),
        complete: Some(false),
        prev_hash: "ignored by canonical bytes".to_string(),
        hash: "ignored too".to_string(),
    }
}

#[test]
fn canonical_bytes_of_a_fixed_record_never_change() {
    let expected = concat!(
        r#"{"chain":"7f3c9a1e","seq":1042,"time":"2026-11-28T14:03:11.402117Z","#,
        r#""kind":"export_end","request_id":"01J\"x\\y","subject":"user:ana","#,
        r#""roles":["analyst","reader"],"auth_method":"jwt","key_id":null,"#,
        r#""client_addr":"2001:db8::1","method":"GET","route":null,"#,
        r#""path":"/v1/datasets/straßen/rows","dataset":"straßen","#,
        r#""action":"data:export","decision":"allow","rule":"tier/open","#,
        r#""status":200,"rows":-1,"bytes":null,"duration_us":0,"#,
        r#""user_agent":"a\tb\n\u0001"#,
        "\u{7f}",
        r#"","query":"{\"select\":[\"a\"]}","complete":false}"#,
    );
    let bytes = canonical_bytes(&golden_record());
    assert_eq!(String::from_utf8(bytes).unwrap(), expected);
}

#[test]
fn hash_of_a_fixed_record_never_changes() {
    // Computed independently: Python hashlib.sha256(bytes.fromhex(prev) + canonical).
    let prev = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    assert_eq!(
        compute_hash(prev, &golden_record()),
        "1f5f65a8bc5e75f75175e3c0caaf7c1e8dec59db74e0686ee58c1ab086f863b0"
    );
}

#[test]
fn canonical_bytes_are_valid_json_of_every_field_but_the_hashes() {
    let r = golden_record();
    let parsed: serde_json::Value = serde_json::from_slice(&canonical_bytes(&r)).unwrap();
    let mut full = serde_json::to_value(&r).unwrap();
    let obj = full.as_object_mut().unwrap();
    obj.remove("prev_hash");
    obj.remove("hash");
    assert_eq!(parsed, full);
}

#[test]
fn strings_are_escaped_exactly_as_serde_json_escapes_them() {
    let all_controls: String = (0u8..0x20).map(char::from).collect();
    for s in [
        "",
        "plain",
        "\"\\/",
        "ünï©ødé 🦀",
        "\u{7f}\u{80}\u{2028}",
        "ab\"cd\\ef\u{1}gh\ni",
        "\"starts and ends\n",
        &all_controls,
    ] {
        let mut out = Vec::new();
        write_json_str(&mut out, s);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(s).unwrap()
        );
    }
}

#[test]
fn seal_links_each_record_to_the_one_before() {
    let records = sealed_chain("c1", 3);
    let mut prev = GENESIS.to_string();
    for (i, r) in (1..).zip(&records) {
        assert_eq!(r.chain, "c1");
        assert_eq!(r.seq, i);
        assert_eq!(r.prev_hash, prev);
        assert_eq!(r.hash, compute_hash(&r.prev_hash, r));
        assert_eq!(r.hash.len(), 64);
        prev = r.hash.clone();
    }
}

#[test]
fn seal_advances_the_head_to_the_new_record() {
    let mut head = ChainHead {
        chain: "c1".to_string(),
        seq: 41,
        hash: "ab".repeat(32),
    };
    let mut r = sample_record(1);
    seal(&mut head, &mut r);
    assert_eq!(
        (r.seq, r.prev_hash.as_str()),
        (42, "ab".repeat(32).as_str())
    );
    assert_eq!((head.seq, &head.hash), (42, &r.hash));
}

#[test]
fn every_field_but_the_hashes_changes_the_hash() {
    let base = sealed_chain("c1", 1).remove(0);
    let h = |r: &AuditRecord| compute_hash(&r.prev_hash, r);
    let mut changed: Vec<AuditRecord> = Vec::new();
    let mut push = |f: &dyn Fn(&mut AuditRecord)| {
        let mut r = base.clone();
        f(&mut r);
        changed.push(r);
    };
    push(&|r| r.seq += 1);
    push(&|r| r.roles.push("admin".to_string()));
    push(&|r| r.key_id = Some(String::new()));
    push(&|r| r.status = 403);
    push(&|r| r.rows = None);
    push(&|r| r.complete = Some(true));
    push(&|r| r.query = Some("null".to_string()));
    for r in &changed {
        assert_ne!(h(r), base.hash);
    }
    let mut same = base.clone();
    same.hash = "anything".to_string();
    assert_eq!(h(&same), base.hash);
}

#[test]
fn a_prev_hash_that_is_not_hex_hashes_without_panicking() {
    let r = sample_record(1);
    let odd = compute_hash("xyz", &r);
    let short = compute_hash("abcd", &r);
    assert_eq!(odd.len(), 64);
    assert_ne!(short, compute_hash(GENESIS, &r));
}

#[test]
fn hex_round_trips_and_rejects_non_hex() {
    let bytes: Vec<u8> = (0..=255).collect();
    assert_eq!(from_hex(&to_hex(&bytes)).unwrap(), bytes);
    assert_eq!(from_hex("ABcd").unwrap(), vec![0xab, 0xcd]);
    assert!(from_hex("abc").is_none());
    assert!(from_hex("zz").is_none());
    assert!(from_hex("é0").is_none());
}
