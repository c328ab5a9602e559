//! Query-string numbers that name themselves when they are wrong: the
//! default decoder answers "invalid digit found in string", which does not
//! say which parameter to change.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use utoipa::IntoParams;

/// Offset paging of a short listing (organisations, API keys).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// Items per page, 1 to 500 (default 50).
    #[param(example = 50, minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "limit")]
    pub limit: Option<u32>,
    /// Items to skip.
    #[param(example = 0)]
    #[serde(default, deserialize_with = "offset")]
    pub offset: Option<u32>,
}

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
    let status = whole(d, "status")?;
    if status.is_some_and(|s| !(100..=599).contains(&s)) {
        return Err(D::Error::custom(
            "status must be an HTTP status from 100 to 599, such as status=403",
        ));
    }
    Ok(status)
}

pub fn offset<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    whole(d, "offset")
}
