//! Decisions one rule set has already made, by request. An `Engine` never
//! changes once built, so the same identities, object, groups and action
//! always get the same decision from it; remembering it saves the Casbin
//! evaluation (its matcher runs through a script interpreter) on every
//! repeat. A rule change builds a new engine with an empty memo.

use std::collections::HashMap;
use std::sync::Mutex;

use super::engine::Decision;

/// Requests remembered at most; the memo starts over when it is full.
const MAX_ENTRIES: usize = 65_536;

#[derive(Default)]
pub struct DecisionMemo {
    entries: Mutex<HashMap<String, Decision>>,
}

/// One key per request: each part with its length, so that no two
/// different requests spell the same key whatever their names hold.
pub fn key(identities: &[String], object: &str, groups: &[String], action: &str) -> String {
    let mut key = String::with_capacity(
        identities
            .iter()
            .chain(groups)
            .map(|s| s.len() + 8)
            .sum::<usize>()
            + object.len()
            + action.len()
            + 24,
    );
    let mut part = |s: &str| {
        key.push_str(&s.len().to_string());
        key.push(':');
        key.push_str(s);
    };
    part(action);
    part(object);
    part(&groups.len().to_string());
    for g in groups {
        part(g);
    }
    for i in identities {
        part(i);
    }
    key
}

impl DecisionMemo {
    pub fn get(&self, key: &str) -> Option<Decision> {
        self.entries.lock().ok()?.get(key).cloned()
    }

    pub fn put(&self, key: String, decision: &Decision) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, decision.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn different_requests_never_share_a_key() {
        let a = key(&ids(&["user:a", "role:b"]), "dataset:x", &[], "data:query");
        let b = key(&ids(&["user:a:role:b"]), "dataset:x", &[], "data:query");
        let c = key(
            &ids(&["user:a"]),
            "dataset:x",
            &ids(&["role:b"]),
            "data:query",
        );
        let d = key(&ids(&["user:a", "role:b"]), "dataset:x", &[], "data:export");
        assert!(a != b && a != c && b != c && a != d);
        assert_eq!(
            a,
            key(&ids(&["user:a", "role:b"]), "dataset:x", &[], "data:query")
        );
    }

    #[test]
    fn a_full_memo_starts_over() {
        let memo = DecisionMemo::default();
        let decision = Decision {
            allowed: true,
            rule: None,
            reason: "test".into(),
        };
        for i in 0..MAX_ENTRIES {
            memo.put(i.to_string(), &decision);
        }
        assert!(memo.get("0").is_some());
        memo.put("one more".into(), &decision);
        assert!(memo.get("0").is_none());
        assert!(memo.get("one more").is_some());
    }
}
