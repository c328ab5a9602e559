//! Parsed names of the catalog: dataset and organisation slugs and the
//! openness tier. Everything behind the API takes these, never raw strings.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Error, Result};

fn check_slug(what: &str, s: &str) -> Result<()> {
    let ok_len = (1..=64).contains(&s.len());
    let ok_chars = s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    let ok_start = s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    if ok_len && ok_chars && ok_start {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "invalid {what} '{}': use 1 to 64 lowercase letters, digits, '-' or '_', starting with a letter or digit",
            s.chars().take(80).collect::<String>()
        )))
    }
}

/// The URL name of a dataset, e.g. `nyc-flights-2013`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DatasetSlug(String);

impl DatasetSlug {
    pub fn parse(s: &str) -> Result<DatasetSlug> {
        check_slug("dataset slug", s)?;
        Ok(DatasetSlug(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DatasetSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The URL name of an organisation, e.g. `us-dot-bts`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrgSlug(String);

impl OrgSlug {
    pub fn parse(s: &str) -> Result<OrgSlug> {
        check_slug("organization slug", s)?;
        Ok(OrgSlug(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Openness tier of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(example = "open")]
pub enum Tier {
    /// Anyone, anonymous included, may read metadata, query and export.
    Open,
    /// Metadata is public; data needs an approved access request or a role the policy names.
    Conditional,
    /// Invisible to everyone the policy does not name.
    Restricted,
}

impl Tier {
    pub fn parse(s: &str) -> Result<Tier> {
        match s {
            "open" => Ok(Tier::Open),
            "conditional" => Ok(Tier::Conditional),
            "restricted" => Ok(Tier::Restricted),
            other => Err(Error::bad_request(format!(
                "unknown tier '{}'; tiers are: open, conditional, restricted",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Open => "open",
            Tier::Conditional => "conditional",
            Tier::Restricted => "restricted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_checked() {
        assert!(DatasetSlug::parse("nyc-flights_2013").is_ok());
        for bad in ["", "-x", "Upper", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(DatasetSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tiers_round_trip() {
        for t in [Tier::Open, Tier::Conditional, Tier::Restricted] {
            assert_eq!(Tier::parse(t.as_str()).unwrap(), t);
        }
        assert!(Tier::parse("secret").is_err());
    }
}
