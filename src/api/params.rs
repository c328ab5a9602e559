//! Query-string numbers that name themselves when they are wrong: the
//! default decoder answers "invalid digit found in string", which does not
//! say which parameter to change.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

fn whole<'de, D: Deserializer<'de>>(d: D, name: &str) -> Result<Option<u32>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    text.trim().parse::<u32>().map(Some).map_err(|_| {
        let shown: String = text.chars().take(40).collect();
        D::Error::custom(format!(
            "{name} must be a whole number such as {name}=100, not '{shown}'"
        ))
    })
}

pub fn limit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    whole(d, "limit")
}

pub fn status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    whole(d, "status")
}

pub fn offset<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    whole(d, "offset")
}
