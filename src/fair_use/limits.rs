//! The limits in force: a default set and sets per role, and the rule that
//! picks a caller's limits from its roles — for each limit, the most
//! generous among the caller's roles that have an entry; `registered` (any
//! signed-in caller without such a role) and `anonymous` (no credentials)
//! may have entries too; everyone else has the default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Error, Result};

/// The pseudo-role of callers without credentials.
pub const ANONYMOUS: &str = "anonymous";
/// The pseudo-role every signed-in caller holds.
pub const REGISTERED: &str = "registered";

/// One set of limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"rate_per_second": 20.0, "burst": 100, "daily_rows": 1000000, "daily_bytes": 1000000000u64}))]
pub struct LimitSet {
    /// Requests a second each caller may make; 0 means no rate limit.
    #[schema(example = 20.0, minimum = 0)]
    pub rate_per_second: f64,
    /// Requests a caller may make at once before the rate applies (at least 1).
    #[schema(example = 100, minimum = 1)]
    pub burst: u32,
    /// Rows a caller may receive per UTC day from queries and exports; null means no quota.
    #[schema(example = 1000000, minimum = 1)]
    #[serde(default)]
    pub daily_rows: Option<u64>,
    /// Bytes of data a caller may receive per UTC day from queries and exports; null means
    /// no quota.
    #[schema(example = 1000000000u64, minimum = 1)]
    #[serde(default)]
    pub daily_bytes: Option<u64>,
}

impl LimitSet {
    /// Whether this set limits the request rate at all.
    pub fn rate_limited(&self) -> bool {
        self.rate_per_second > 0.0
    }

    fn validate(&self, name: &str) -> Result<()> {
        if !(self.rate_per_second >= 0.0 && self.rate_per_second.is_finite())
            || self.rate_per_second > 1_000_000.0
        {
            return Err(Error::bad_request(format!(
                "{name}: rate_per_second must be a number from 0 (no rate limit) to 1000000"
            )));
        }
        if self.burst < 1 || self.burst > 1_000_000 {
            return Err(Error::bad_request(format!(
                "{name}: burst must be between 1 and 1000000"
            )));
        }
        if self.daily_rows == Some(0) || self.daily_bytes == Some(0) {
            return Err(Error::bad_request(format!(
                "{name}: daily_rows and daily_bytes must be at least 1, or null for no quota"
            )));
        }
        Ok(())
    }
}

/// Every limit: the default and the sets of roles that have their own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"default": {"rate_per_second": 10.0, "burst": 100, "daily_rows": 1000000, "daily_bytes": null},
    "roles": {"researcher": {"rate_per_second": 50.0, "burst": 200, "daily_rows": null, "daily_bytes": null}}}))]
pub struct Limits {
    /// Limits of callers none of whose roles has an entry (and of anonymous callers,
    /// when `anonymous` has none).
    #[schema(example = json!({"rate_per_second": 10.0, "burst": 100, "daily_rows": 1000000, "daily_bytes": null}))]
    pub default: LimitSet,
    /// Limits per role name (`researcher`, `publisher`), and for the pseudo-roles
    /// `anonymous` (callers without credentials) and `registered` (every signed-in caller).
    #[serde(default)]
    #[schema(example = json!({"anonymous": {"rate_per_second": 5.0, "burst": 20, "daily_rows": 100000, "daily_bytes": null},
        "researcher": {"rate_per_second": 50.0, "burst": 200, "daily_rows": null, "daily_bytes": null}}))]
    pub roles: BTreeMap<String, LimitSet>,
}

/// The limits that apply to one caller, and the name of the entry its rate comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub limits: LimitSet,
    /// `default` or the role whose rate applies; named in the `RateLimit` headers.
    pub policy: String,
}

/// Most generous of two quotas: no quota beats any.
fn wider(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        _ => None,
    }
}

impl Limits {
    /// Checks every set and every role name; the error names what to change.
    pub fn validate(&self) -> Result<()> {
        self.default.validate("default")?;
        if self.roles.len() > 1000 {
            return Err(Error::bad_request("at most 1000 roles may have limits"));
        }
        for (role, set) in &self.roles {
            let ok = (1..=128).contains(&role.len())
                && role
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
            if !ok {
                return Err(Error::bad_request(format!(
                    "role name '{}' is invalid: use 1 to 128 letters, digits, '-', '_', '.' or ':'",
                    role.chars().take(130).collect::<String>()
                )));
            }
            set.validate(&format!("roles.{role}"))?;
        }
        Ok(())
    }

    /// The limits of a caller: `None` roles for an anonymous caller, else its roles.
    /// An anonymous caller has the `anonymous` entry, else the default. A signed-in caller
    /// has the most generous of each limit among its roles that have an entry; when none
    /// has, the `registered` entry, else the default.
    pub fn for_caller(&self, roles: Option<&[String]>) -> Applied {
        let entry = |name: &str| self.roles.get_key_value(name);
        let mut sets: Vec<(&String, &LimitSet)> = match roles {
            None => entry(ANONYMOUS).into_iter().collect(),
            Some(roles) => roles.iter().filter_map(|r| entry(r)).collect(),
        };
        if sets.is_empty() && roles.is_some() {
            sets.extend(entry(REGISTERED));
        }
        let mut sets = sets.into_iter();
        let Some((name, first)) = sets.next() else {
            return Applied {
                limits: self.default.clone(),
                policy: "default".to_string(),
            };
        };
        let mut out = Applied {
            limits: first.clone(),
            policy: name.clone(),
        };
        for (name, set) in sets {
            let l = &mut out.limits;
            let better_rate = l.rate_limited()
                && (!set.rate_limited() || set.rate_per_second > l.rate_per_second);
            if better_rate {
                l.rate_per_second = set.rate_per_second;
                out.policy = name.clone();
            }
            l.burst = l.burst.max(set.burst);
            l.daily_rows = wider(l.daily_rows, set.daily_rows);
            l.daily_bytes = wider(l.daily_bytes, set.daily_bytes);
        }
        out
    }
}

/// A role's limits as written in the configuration (`[role_limits.<role>]`); a
/// limit left out is the default's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleLimitSettings {
    /// Requests a second (0: no rate limit).
    pub rate_per_second: Option<f64>,
    /// Requests at once before the rate applies.
    pub burst: Option<u32>,
    /// Rows a day; 0 means no quota.
    pub daily_rows: Option<u64>,
    /// Bytes a day; 0 means no quota.
    pub daily_bytes: Option<u64>,
}

/// The limits the configuration sets: `rate_limit_per_second`, `rate_limit_burst`,
/// `daily_row_quota` and `daily_byte_quota` as the default, `[role_limits.<role>]` per role.
pub fn from_settings(s: &crate::config::Settings) -> Limits {
    let quota = |q: u64| (q > 0).then_some(q);
    let default = LimitSet {
        rate_per_second: s.rate_limit_per_second,
        burst: s.rate_limit_burst,
        daily_rows: quota(s.daily_row_quota),
        daily_bytes: quota(s.daily_byte_quota),
    };
    let roles = s
        .role_limits
        .iter()
        .map(|(role, r)| {
            let set = LimitSet {
                rate_per_second: r.rate_per_second.unwrap_or(default.rate_per_second),
                burst: r.burst.unwrap_or(default.burst),
                daily_rows: r.daily_rows.map_or(default.daily_rows, quota),
                daily_bytes: r.daily_bytes.map_or(default.daily_bytes, quota),
            };
            (role.clone(), set)
        })
        .collect();
    Limits { default, roles }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(rate: f64, burst: u32, rows: Option<u64>) -> LimitSet {
        LimitSet {
            rate_per_second: rate,
            burst,
            daily_rows: rows,
            daily_bytes: None,
        }
    }

    fn limits() -> Limits {
        let mut roles = BTreeMap::new();
        roles.insert("anonymous".to_string(), set(1.0, 5, Some(100)));
        roles.insert("researcher".to_string(), set(50.0, 10, Some(10_000)));
        roles.insert("bulk".to_string(), set(5.0, 500, None));
        Limits {
            default: set(10.0, 20, Some(1000)),
            roles,
        }
    }

    #[test]
    fn anonymous_callers_get_their_own_entry() {
        let a = limits().for_caller(None);
        assert_eq!(a.limits, set(1.0, 5, Some(100)));
        assert_eq!(a.policy, "anonymous");
    }

    #[test]
    fn signed_in_callers_without_a_listed_role_get_the_default() {
        let a = limits().for_caller(Some(&["viewer".to_string()]));
        assert_eq!(a.limits, set(10.0, 20, Some(1000)));
        assert_eq!(a.policy, "default");
    }

    #[test]
    fn several_roles_give_the_most_generous_of_each_limit() {
        let roles = ["researcher".to_string(), "bulk".to_string()];
        let a = limits().for_caller(Some(&roles));
        assert_eq!(a.limits, set(50.0, 500, None));
        assert_eq!(a.policy, "researcher");
    }

    #[test]
    fn a_role_entry_may_be_stricter_than_the_default() {
        let mut l = limits();
        l.default.daily_rows = None;
        let a = l.for_caller(Some(&["researcher".to_string(), "viewer".to_string()]));
        assert_eq!(a.limits.daily_rows, Some(10_000));
        l.roles
            .insert("registered".to_string(), set(2.0, 2, Some(7)));
        assert_eq!(l.for_caller(Some(&[])).policy, "registered");
        assert_eq!(l.for_caller(Some(&[])).limits.daily_rows, Some(7));
    }

    #[test]
    fn a_rate_of_zero_is_the_most_generous() {
        let mut l = limits();
        l.roles.insert("ops".to_string(), set(0.0, 1, Some(1)));
        let a = l.for_caller(Some(&["ops".to_string()]));
        assert!(!a.limits.rate_limited());
    }

    #[test]
    fn bad_limits_are_named() {
        let mut l = limits();
        l.roles.insert("x".to_string(), set(-1.0, 1, None));
        assert!(l.validate().unwrap_err().detail().contains("roles.x"));
        let mut l = limits();
        l.roles.insert("bad name".to_string(), set(1.0, 1, None));
        assert!(l.validate().unwrap_err().detail().contains("bad name"));
        let mut l = limits();
        l.default.burst = 0;
        assert!(l.validate().unwrap_err().detail().contains("burst"));
        assert!(limits().validate().is_ok());
    }
}
